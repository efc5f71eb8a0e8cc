"""The README's "tested with" table, from what `make test-platforms` ran (build/platforms/*.json).

    .venv/bin/python -m tests.platforms.table          # print the table of the last run
    .venv/bin/python -m tests.platforms.table --write  # and put it into README.md

The version columns are the tested matrix (test_tested_with checks the README has
exactly these); times and sizes are that run's measurements, on a fresh pip cache.
"""

import argparse
import json
import re
import sys

from tests.platforms import venvs

README = venvs.ROOT / "README.md"
BEGIN, END = "<!-- tested-with:begin -->", "<!-- tested-with:end -->"
# Platform -> what it ran; the order of the table.
PLATFORMS = {
    "colab-like-3.13": "Colab-like: TF/Keras/numpy preinstalled and kept; setup cell installs the wheel; a1, a3 notebooks; train CLI; a4 setup cell adds tensorflow-text",
    "newest-3.12": "the same checks, the newest stack (the lock)",
    "main-venv": "`make test`: the whole suite, in the .venv `make` built (CI)",
    "debian-3.11.2": "`make venv` (Debian 12's own Python); pip check; smoke tests",
    "make-3.10": "`make venv`; pip check; smoke tests",
    "make-3.12": "`make venv`; pip check; smoke tests",
    "make-3.13": "`make venv`; pip check; smoke tests",
    "oldest-3.10": "the fast suite (`-m 'not slow'`) on every lower bound: {fast_suite}",
}
MATRIX = ("python", "tensorflow", "keras", "numpy", "tensorflow_text")
HEADER = (
    "| platform | Python | TensorFlow | Keras | numpy | tensorflow-text | what ran | install (s) | download (MB) | venv (MB) |",
    "|---|---|---|---|---|---|---|---|---|---|",
)


def load_results():
    return {p.stem: json.loads(p.read_text()) for p in sorted(venvs.RESULTS.glob("*.json"))}


def _install(r):
    if "make_venv_seconds" in r:
        return str(r["make_venv_seconds"])
    if "preinstall_seconds" in r:
        return f"{r['preinstall_seconds']} + {r['course_lib_install_seconds']} (course-lib)"
    return str(r.get("install_seconds", "—"))


def _download(r):
    if "preinstall_download_mb" in r:
        return f"{r['preinstall_download_mb']} (preinstall)"
    return str(r.get("download_mb", "—"))


def row(name, r):
    ran = PLATFORMS[name].format(fast_suite=r.get("fast_suite", ""))
    cells = [
        name,
        *(str(r.get(k) or "—") for k in MATRIX),
        ran,
        _install(r),
        _download(r),
        str(r.get("venv_mb", "—")),
    ]
    return "| " + " | ".join(cells) + " |"


def render(results):
    missing = [name for name in PLATFORMS if name not in results]
    if missing:
        raise KeyError(f"no results for {missing}: run `make test-platforms` (all of it)")
    return "\n".join([*HEADER, *(row(name, results[name]) for name in PLATFORMS)])


def readme_table(text=None):
    text = README.read_text(encoding="utf-8") if text is None else text
    match = re.search(re.escape(BEGIN) + r"\n(.*?)\n?" + re.escape(END), text, re.DOTALL)
    if not match:
        raise ValueError(f"README.md has no {BEGIN} ... {END} block")
    return match.group(1)


def matrix(table):
    """`{platform: (python, tf, keras, numpy, tf-text)}` of a rendered table."""
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = tuple(cells[1 : 1 + len(MATRIX)])
    return rows


def write(table):
    text = README.read_text(encoding="utf-8")
    readme_table(text)  # the block must exist
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    README.write_text(text[:start] + "\n" + table + "\n" + text[end:], encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.platforms.table")
    parser.add_argument("--write", action="store_true", help="replace the table in README.md")
    args = parser.parse_args(argv)
    table = render(load_results())
    print(table)
    if args.write:
        write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
