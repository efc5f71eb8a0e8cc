"""A Gradescope autograder archive for one assignment, and the runner it calls.

    python -m autograder gradescope a1_attention --out build/gradescope/a1_attention.zip

Gradescope unzips the archive into /autograder/source, runs `setup.sh` once when
building the image, then `/autograder/run_autograder` for every submission, which
must leave /autograder/results/results.json. The archive holds:

    setup.sh           installs Python 3.11 and `requirements.txt` into /autograder/venv
    run_autograder     runs `python -m autograder.gradescope run` with the archive on PYTHONPATH
    requirements.txt   the pins of requirements.lock that grading needs (and their dependencies)
    autograder/        the grader
    course_lib/        only the modules the suite imports (the reference the checks compare
                       with, e.g. `layers/` for a1/a2), found by importing the suite
    assignments/<a>/<a>.ipynb   the released notebook (graded cells, points)
    answers.json       the concept-question keys: the only part of the solution notebook shipped

The root is configurable for local runs: `AUTOGRADER_ROOT` (default /autograder),
and `AUTOGRADER_PYTHON` picks the interpreter (default: the venv setup.sh made).
The student's code runs in the sandbox with the whole root hidden (on top of the
archive's own folder, which the sandbox always hides), so it cannot read the
grader, the reference or the answer keys.
"""

import argparse
import importlib.metadata
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat

from autograder import batch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = "/autograder"
STUDENT = "student"
# What grading imports; requirements.txt pins these and their dependencies from the lock.
GRADING_REQUIREMENTS = ("tensorflow", "keras", "numpy", "nbformat", "nbgrader")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu).
set -euo pipefail
cd /autograder/source
if ! command -v python3.11 >/dev/null; then
    apt-get update
    apt-get install -y software-properties-common
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update
    apt-get install -y python3.11 python3.11-venv
fi
python3.11 -m venv /autograder/venv
/autograder/venv/bin/pip install --no-cache-dir --upgrade pip
/autograder/venv/bin/pip install --no-cache-dir -r requirements.txt
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission; it writes $ROOT/results/results.json.
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PY="${{AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}}"
cd "$ROOT/source"
export PYTHONPATH="$ROOT/source" TF_CPP_MIN_LOG_LEVEL=3 KERAS_BACKEND=tensorflow
exec "$PY" -m autograder.gradescope run {assignment} --root "$ROOT"
"""


# Building the archive -------------------------------------------------------------


def _dist_requires(name):
    try:
        reqs = importlib.metadata.requires(name) or []
    except importlib.metadata.PackageNotFoundError:
        return []
    names = []
    for req in reqs:
        if "extra ==" in req:
            continue
        names.append(re.split(r"[ ;<>=!~\[(]", req.strip(), maxsplit=1)[0])
    return names


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements(lock=REPO / "requirements.lock", roots=GRADING_REQUIREMENTS):
    """The lines of `lock` for `roots` and everything they depend on (as installed here).

    A dependency the lock does not pin is left out (e.g. a platform-only one);
    when nothing can be resolved the whole lock is returned.
    """
    pins = {}
    for line in Path(lock).read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            pins[_norm(line.split("==")[0].strip())] = line.strip()
    wanted, todo = set(), [_norm(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in wanted or name not in pins:
            continue
        wanted.add(name)
        todo += [_norm(n) for n in _dist_requires(name)]
    if not wanted:
        return sorted(pins.values())
    return sorted(pins[n] for n in wanted)


def answer_keys(solution_notebook):
    """`{answer_<id>: sorted letters}` from the solution notebook (no execution)."""
    from autograder.grading.checks import solution_answers

    nb = nbformat.read(str(solution_notebook), as_version=4)
    return {k: sorted(v) for k, v in sorted(solution_answers(nb).items())}


def answers_notebook(answers, folder, assignment):
    """Writes `folder/<assignment>/<assignment>.ipynb` holding only the answer cells; returns `folder`.

    `autograder.course.Course` reads the keys from a solution notebook: this one carries
    nothing else, so an archive or a run needs no solution code.
    """
    if not isinstance(answers, dict):
        answers = json.loads(Path(answers).read_text())
    nb = nbformat.v4.new_notebook()
    for unit, letters in sorted(answers.items()):
        cell = nbformat.v4.new_code_cell(f"{unit} = {set(letters)!r}\n")
        cell.metadata["nbgrader"] = {"grade_id": unit, "solution": True, "grade": False}
        nb.cells.append(cell)
    path = Path(folder) / assignment / f"{assignment}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return Path(folder)


def _grader_files(assignment):
    """The grader's files for `assignment`: the engine and that assignment's suite and
    support files (not its catalog, not the notebook source, no other assignment)."""
    root = REPO / "autograder"
    folders = root / "assignments"
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = path.relative_to(folders).parts if path.is_relative_to(folders) else ()
        if len(parts) > 1 and (parts[0] != assignment or parts[1] == "catalog"):
            continue  # another assignment's folder, or a catalog
        yield path, str(path.relative_to(REPO))


def reference_modules(assignment):
    """The course_lib files the suite of `assignment` imports (in a fresh interpreter)."""
    import subprocess

    probe = (
        "import importlib, json, sys\n"
        f"importlib.import_module('autograder.assignments.{assignment}.suite')\n"
        "print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items()\n"
        "    if n.partition('.')[0] == 'course_lib' and getattr(m, '__file__', None))))\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    files = json.loads(done.stdout.strip().splitlines()[-1])
    return [str(Path(f).resolve().relative_to(REPO)) for f in files]


def _add(zf, arcname, data, executable=False):
    info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def build_archive(
    assignment,
    out_zip,
    *,
    source_root=REPO / "solutions",
    release_root=REPO / "assignments",
    lock=REPO / "requirements.lock",
):
    """Writes the Gradescope autograder zip for `assignment` to `out_zip`; returns its path."""
    from autograder.assignments.registry import get_suite

    get_suite(assignment)  # a clear KeyError for an assignment without a suite
    name = f"{assignment}.ipynb"
    released = Path(release_root) / assignment / name
    if not released.is_file():
        raise FileNotFoundError(
            f"No released notebook {released}: run `python -m autograder release {assignment}` first."
        )
    answers = answer_keys(Path(source_root) / assignment / name)
    out_zip = Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_zip.with_name(out_zip.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        _add(zf, "setup.sh", SETUP_SH, executable=True)
        _add(zf, "run_autograder", RUN_AUTOGRADER.format(assignment=assignment), executable=True)
        _add(zf, "requirements.txt", "\n".join(pinned_requirements(lock)) + "\n")
        _add(zf, "answers.json", json.dumps(answers, indent=1) + "\n")
        _add(zf, f"assignments/{assignment}/{name}", released.read_bytes())
        for path, rel in _grader_files(assignment):
            _add(zf, rel, path.read_bytes())
        for rel in reference_modules(assignment):
            _add(zf, rel, (REPO / rel).read_bytes())
    os.replace(tmp, out_zip)
    return out_zip


# Running inside Gradescope ---------------------------------------------------------


def run(assignment, root=None, *, jobs=2, isolation="full"):
    """Grades `root/submission/*.ipynb`; writes `root/results/results.json`; returns its dict."""
    root = Path(root or os.environ.get("AUTOGRADER_ROOT", DEFAULT_ROOT)).resolve()
    source = root / "source"
    work = Path(tempfile.mkdtemp(prefix="gradescope-"))
    try:
        folder = work / "submitted" / STUDENT / assignment
        folder.mkdir(parents=True)
        for nb in sorted((root / "submission").glob("*.ipynb")):
            shutil.copy(nb, folder / nb.name)
        sources = answers_notebook(source / "answers.json", work / "answers", assignment)
        out = root / "results-tmp"
        batch.grade(
            assignment,
            work / "submitted",
            out,
            jobs=jobs,
            force=True,
            isolation=isolation,
            progress=False,
            source_root=sources,
            release_root=source / "assignments",
            hide=[root],
        )
        results = json.loads((out / STUDENT / "results.json").read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (root / "results").mkdir(parents=True, exist_ok=True)
    shutil.copy(out / STUDENT / "results.json", root / "results" / "results.json")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="grade the submission in ROOT (what run_autograder calls)")
    p.add_argument("assignment")
    p.add_argument("--root", default=None, help="default: $AUTOGRADER_ROOT or /autograder")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--isolation", choices=("full", "none"), default="full")
    args = parser.parse_args(argv)
    results = run(args.assignment, args.root, jobs=args.jobs, isolation=args.isolation)
    print(f"score: {results['score']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
