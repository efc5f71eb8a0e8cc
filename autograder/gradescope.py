"""A Gradescope autograder archive for one assignment, and the runner it calls.

    python -m autograder gradescope a1_attention --out build/gradescope/a1_attention.zip

Gradescope unzips the archive into /autograder/source, runs `setup.sh` once when
building the image, then `/autograder/run_autograder` for every submission, which
must leave /autograder/results/results.json. The archive holds:

    setup.sh           makes /autograder/venv with the image's Python (3.10 to 3.13; Ubuntu
                       22.04 has 3.10) and installs `requirements.txt` under `constraints.txt`
    run_autograder     runs `python -m autograder.gradescope run` with the archive on PYTHONPATH
    requirements.txt   course-lib's dependencies and its `grader` extra (pyproject.toml)
    constraints.txt    requirements.lock: the exact versions, for every Python of the range
    autograder/        the grader
    course_lib/        only the modules the suite imports (the reference the checks compare
                       with, e.g. `layers/` for a1/a2), found by importing the suite
    assignments/<a>/<a>.ipynb   the released notebook (graded cells, points)
    answers.json       the concept-question keys: the only part of the solution notebook shipped
    config.json        the archive's settings: when students see the hidden checks' results
                       (`hidden_visibility`), and whether grading may run unisolated

The root is configurable for local runs: `AUTOGRADER_ROOT` (default /autograder),
and `AUTOGRADER_PYTHON` picks the interpreter (default: the venv setup.sh made).
The student's code runs in the sandbox with the whole root hidden (on top of the
archive's own folder, which the sandbox always hides), so it cannot read the
grader, the reference or the answer keys. A Gradescope container has no CAP_SYS_ADMIN,
so the sandbox runs there on Landlock + seccomp with a per-slot uid, and `run` makes
the source folder root-only (0700) before any job starts.
"""

import argparse
import json
import os
import shutil
import stat
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat

from autograder import batch
from autograder.reports.results import write_atomic
from autograder.settings import tomllib

REPO = Path(__file__).resolve().parents[1]
IMAGE = Path(__file__).resolve().parent / "gradescope_image"  # setup.sh and run_autograder
DEFAULT_ROOT = "/autograder"
STUDENT = "student"
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
CONFIG = {"hidden_visibility": "after_due_date", "allow_unisolated": False}


# Building the archive -------------------------------------------------------------


def grading_requirements(pyproject=REPO / "pyproject.toml"):
    """What the grading image installs: course-lib's dependencies and its `grader` extra.

    The archive carries autograder/ and part of course_lib/ as source, so it installs
    their requirements (markers kept), not the package; the lock fixes every version.
    """
    project = tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["grader"]]


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
    hidden_visibility=CONFIG["hidden_visibility"],
    allow_unisolated=False,
):
    """Writes the Gradescope autograder zip for `assignment` to `out_zip`; returns its path.

    `hidden_visibility` is when students see each hidden check's result (Gradescope's
    per-test visibility; the default `after_due_date` stops them probing the hidden checks
    by resubmitting); the total score and the notes on the notebook stay visible.
    """
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(
            f"hidden_visibility must be one of {VISIBILITIES}. Received: {hidden_visibility!r}"
        )
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
        _add(zf, "setup.sh", (IMAGE / "setup.sh").read_text(), executable=True)
        run_autograder = (IMAGE / "run_autograder").read_text().replace("ASSIGNMENT", assignment)
        _add(zf, "run_autograder", run_autograder, executable=True)
        _add(zf, "requirements.txt", "\n".join(grading_requirements()) + "\n")
        _add(zf, "constraints.txt", Path(lock).read_text(encoding="utf-8"))
        _add(zf, "answers.json", json.dumps(answers, indent=1) + "\n")
        config = {"hidden_visibility": hidden_visibility, "allow_unisolated": allow_unisolated}
        _add(zf, "config.json", json.dumps(config, indent=1) + "\n")
        _add(zf, f"assignments/{assignment}/{name}", released.read_bytes())
        for path, rel in _grader_files(assignment):
            _add(zf, rel, path.read_bytes())
        for rel in reference_modules(assignment):
            _add(zf, rel, (REPO / rel).read_bytes())
    os.replace(tmp, out_zip)
    return out_zip


# Running inside Gradescope ---------------------------------------------------------


def _config(source):
    path = Path(source) / "config.json"
    return {**CONFIG, **(json.loads(path.read_text()) if path.exists() else {})}


def run(assignment, root=None, *, jobs=2, isolation="auto"):
    """Grades `root/submission/*.ipynb`; writes `root/results/results.json`; returns its dict.

    When the assignment has manually graded answers, results.json gives the autograded
    score, says "manual: pending N points" in its `output`, and `root/results/answers.html`
    is the student's page of written answers and plots (reports/answers.py).
    """
    root = Path(root or os.environ.get("AUTOGRADER_ROOT", DEFAULT_ROOT)).resolve()
    source = root / "source"
    config = _config(source)
    if os.geteuid() == 0:  # the uid barrier: no job uid may read the grader or the keys
        os.chmod(source, 0o700)
    work = Path(tempfile.mkdtemp(prefix="gradescope-"))
    os.chmod(work, 0o711)
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
            allow_unisolated=bool(config["allow_unisolated"]),
            progress=False,
            source_root=sources,
            release_root=source / "assignments",
            hide=[root],
        )
        results = json.loads((out / STUDENT / "results.json").read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for test in results["tests"]:
        test["visibility"] = config["hidden_visibility"]
    (root / "results").mkdir(parents=True, exist_ok=True)
    page = out / STUDENT / "answers.html"  # the manually graded answers, for a person
    if page.is_file():
        shutil.copyfile(page, root / "results" / "answers.html")
        results["extra_data"]["answers_page"] = "answers.html"
    write_atomic(root / "results" / "results.json", json.dumps(results, indent=1))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="grade the submission in ROOT (what run_autograder calls)")
    p.add_argument("assignment")
    p.add_argument("--root", default=None, help="default: $AUTOGRADER_ROOT or /autograder")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--isolation", choices=("auto", "landlock", "none"), default="auto")
    args = parser.parse_args(argv)
    from autograder.sandbox import IsolationRefused

    try:
        results = run(args.assignment, args.root, jobs=args.jobs, isolation=args.isolation)
    except IsolationRefused as err:  # no results.json: Gradescope shows the instructor an error
        print(f"error: {err}")
        return 2
    print(f"score: {results['score']} (sandbox: {results['extra_data']['isolation']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
