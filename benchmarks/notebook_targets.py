"""Runs every solution notebook in full (no quick mode) and records the training targets.

    .venv/bin/python -m benchmarks.notebook_targets                # every notebook with a target
    .venv/bin/python -m benchmarks.notebook_targets a5_vit a3_gpt  # some of them

Each notebook's training section ends with `course_lib.notebook.report_target`, which prints
one line `Target: <metric> = <value> (goal <op> <goal>) reached|missed in <N> s`. This runs
the notebook top to bottom in a real kernel (nbclient, COURSE_QUICK unset), reads that line
back, and writes a table (metric, value, goal, reached, training seconds, whole-notebook
seconds) with the command to `build/benchmarks/notebook_targets.md`, to be copied into
benchmarks/RESULTS.md. Run it on a quiet machine: the targets promise "<= 3 minutes on
2 cores". Exit status 1 if a target was missed or a notebook failed.
"""

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

import nbformat

from autograder.assignments import registry
from benchmarks.common import table
from course_lib.notebook import QUICK_ENV, TARGET_LINE

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "build" / "benchmarks" / "notebook_targets.md"
HEADERS = ("notebook", "metric", "value", "goal", "status", "training s", "notebook s")


def notebooks():
    """Solution notebooks whose source calls report_target, in course order."""
    return [
        name
        for name in registry.ASSIGNMENTS
        if "report_target(" in registry.notebook_source(name).read_text(encoding="utf-8")
    ]


def run_notebook(path, workdir):
    """Executes the notebook at `path` in full; returns (target lines, seconds, error)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=1200, resources={"metadata": {"path": str(workdir)}}
    )
    start = time.perf_counter()
    error = ""
    try:
        client.execute()
    except CellExecutionError as err:
        error = str(err).strip().splitlines()[-1][:200]
    seconds = time.perf_counter() - start
    text = "\n".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream"
    )
    return [m.groupdict() for m in TARGET_LINE.finditer(text)], seconds, error


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks (default: every one with a target)")
    parser.add_argument("--results", default=str(RESULTS), help="markdown file to write")
    args = parser.parse_args(argv)
    names = args.names or notebooks()
    os.environ.pop(QUICK_ENV, None)  # the kernels inherit the environment: full training
    rows, ok = [], True
    workdir = REPO / "build" / "benchmarks" / "notebook_runs"
    workdir.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = REPO / "solutions" / name / f"{name}.ipynb"
        targets, seconds, error = run_notebook(path, workdir)
        if error or not targets:
            ok = False
            rows.append(
                (name, "-", "-", "-", f"FAILED: {error or 'no Target line'}", "-", f"{seconds:.0f}")
            )
        for t in targets:
            ok &= t["status"] == "reached"
            rows.append(
                (
                    name,
                    t["metric"],
                    t["value"],
                    f"{t['op']} {t['goal']}",
                    t["status"],
                    t["seconds"],
                    f"{seconds:.0f}",
                )
            )
        print(table(rows[-max(1, len(targets)) :], HEADERS), flush=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        f"## Notebook training targets (issue 7)\n\n"
        f"Measured {stamp}, {os.cpu_count()} cores, full training (COURSE_QUICK unset), "
        f"every notebook top to bottom in a real kernel:\n\n"
        f"    {' '.join(['.venv/bin/python -m benchmarks.notebook_targets', *args.names])}\n\n"
        f"{table(rows, HEADERS)}\n"
    )
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(text)
    print(f"\n{text}\nwritten to {args.results}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
