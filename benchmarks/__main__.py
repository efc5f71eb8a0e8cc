"""Runs every benchmark and prints one table each: `make bench` or `python -m benchmarks`."""

import importlib
import sys

BENCHMARKS = ["attention", "generation", "data", "grading", "notebook_targets", "cost"]


def main():
    failed = []
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"benchmarks.{name}":
                print(f"\n## {name}: not written yet")
                continue
            raise
        print(f"\n## {name}\n")
        try:
            module.main([])
        except Exception as err:  # one broken benchmark must not hide the others
            failed.append(name)
            print(f"{name} failed: {err!r}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
