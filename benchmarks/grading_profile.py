"""Where a submission's grading seconds go, per assignment: parent, sandbox, and the jail.

    .venv/bin/python -m benchmarks.grading_profile [--assignment a3_gpt|all] [--students 6]

For each assignment, on the catalog's first N students (reference, empty stub, bugs...):
1. the parent: TensorFlow's import, `Course.load`, the plan (hidden inputs and references,
   once per run) and each student's steps before the sandbox (read ... write jobs);
2. the sandbox: the zygote's start, then each job through the real zygote, one slot, so
   its wall time is its own (fork, isolation layers, the harness);
3. the jail: every job once more in a fresh process WITHOUT the sandbox, under cProfile
   (the Keras/TensorFlow entry points that cost most); so only trusted submissions are
   profiled (the reference, the stub, the catalog's bugs and alternatives), never the
   catalog's adversarial ones.

Writes the tables to `build/benchmarks/profile.md`.
"""

import argparse
import cProfile
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import table

OUT = Path(__file__).resolve().parents[1] / "build" / "benchmarks" / "profile.md"
WATCH = {  # cumulative entries worth naming: what they are
    "compute_output_spec": "Keras symbolic build (tracing call on KerasTensors)",
    "_exec_submission": "executing the submission's cells",
    "TFE_Py_FastPathExecute": "eager TensorFlow ops (kernels set up on first use)",
    "_construct": "construct calls (build, set the grader's weights)",
    "flush": "sealing and writing results after each call",
}


def _students(assignment, count, folder):
    """The first `count` trusted students of the catalog: never an adversarial one.

    The jail profile runs the harness WITHOUT the sandbox, so only our own code may run
    there: the reference, the stub, the catalog's bugs and alternatives.
    """
    from autograder.assignments.registry import get_catalogs
    from autograder.catalog import write_class
    from autograder.submissions import find_submissions

    (catalog,) = [c for c in get_catalogs(assignment) if c.name == "catalog"]
    write_class(catalog, folder)
    subs = find_submissions(folder, assignment, f"{assignment}.ipynb")
    return [s for s in subs if s.student not in catalog.adversarial][:count]


def _prepare(assignment, subs, work):
    """Runs the steps before the sandbox; `(course, contexts, {step: seconds}, seconds)`."""
    from autograder import pipeline
    from autograder.course import Course

    start = time.perf_counter()
    course = Course.load(assignment, secret=os.urandom(16))
    course.parts = 1
    load = time.perf_counter() - start
    steps = {s.__name__: 0.0 for s in pipeline.PREPARE_STEPS}
    contexts = []
    for sub in subs:
        result = pipeline.StudentResult(sub.student, assignment, max_score=course.max_score)
        ctx = pipeline.Context(assignment, sub.student, sub.path, course, work, result)
        for step in pipeline.PREPARE_STEPS:
            begin = time.perf_counter()
            step(ctx)
            steps[step.__name__] += time.perf_counter() - begin
            if ctx.done:
                break
        contexts.append(ctx)
    return course, contexts, steps, load


def _runs(ctx):
    runs = getattr(ctx, "runs", None)  # older engines: one job per group
    return runs or [(d, [g]) for g, d in ctx.job_dirs.items()]


def _in_fork(job_dir):
    """cProfile of the harness on a copy of `job_dir`, in a fresh process: pstats text.

    A fresh process, not a fork of this one: this one ran TensorFlow ops (the references),
    and a fork after that hangs.
    """
    copy = Path(tempfile.mkdtemp()) / "job"
    shutil.copytree(job_dir, copy)
    report = copy.parent / "profile.txt"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.grading_profile", "--jail", str(copy), str(report)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    text = report.read_text()
    shutil.rmtree(copy.parent, ignore_errors=True)
    return text


def _jail(job_dir, report):
    """The harness as in the jail, without its layers, under cProfile (`--jail`)."""
    from autograder.sandbox import harness

    r, w = os.pipe()
    os.write(w, os.urandom(32))
    os.close(w)
    os.dup2(r, 3)
    os.chdir(job_dir)
    profile = cProfile.Profile()
    profile.enable()
    harness.run_job(".", "out", 3)
    profile.disable()
    with open(report, "w") as f:
        pstats.Stats(profile, stream=f).sort_stats("cumulative").print_stats("|".join(WATCH))


def _watched(text):
    """`{what: seconds}` of the WATCH entries in a cumulative pstats text.

    A pstats row is `ncalls tottime percall cumtime percall where`; `where` ends with
    `(name)` for Python functions and with `name}` for built-ins.
    """
    found = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 6:
            continue
        for key, what in WATCH.items():
            if parts[-1].endswith((f"({key})", f".{key}}}")):
                found[what] = found.get(what, 0.0) + float(parts[3])
    return found


def profile(assignment, students):
    from autograder.sandbox import Zygote

    folder = Path(tempfile.mkdtemp(prefix="profile-"))
    work = folder / "work"
    work.mkdir()
    os.chmod(work, 0o711)
    try:
        subs = _students(assignment, students, folder / "submitted")
        course, contexts, steps, load = _prepare(assignment, subs, work)
        start = time.perf_counter()
        zygote = Zygote(jobs=1)
        zygote_start = time.perf_counter() - start
        walls, jail = [], {}
        try:
            for ctx in contexts:
                for job_dir, groups in _runs(ctx):
                    walls.append(("+".join(groups), zygote.run(job_dir).wall_seconds))
                    for what, sec in _watched(_in_fork(job_dir)).items():
                        jail[what] = jail.get(what, 0.0) + sec
        finally:
            zygote.close()
        n = len(contexts)
        jobs = sum(w for _, w in walls)
        costs = {
            "sandbox jobs (wall, one slot)": jobs,
            **{f"  in the jail: {k}": v for k, v in jail.items()},
            "zygote start (TensorFlow import, once)": zygote_start,
            "Course.load (once)": load,
            **{f"parent {k}": v for k, v in steps.items()},
        }
        rows = [[k, f"{v:.2f} s", f"{v / n:.3f} s"] for k, v in costs.items()]
        per_group = {}
        for name, wall in walls:
            per_group.setdefault(name, []).append(wall)
        group_rows = [
            [g, str(len(w)), f"{sum(w) / len(w):.2f} s"] for g, w in sorted(per_group.items())
        ]
        return "\n".join(
            [
                f"### {assignment}: {n} submissions, {len(walls)} jobs",
                "",
                table(rows, ["cost", "total", "per submission"]),
                "",
                table(group_rows, ["job (groups)", "jobs", "mean wall"]),
            ]
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv=None):
    from autograder.assignments.registry import ASSIGNMENTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="all", help="an assignment, or all")
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--results", default=str(OUT))
    parser.add_argument("--jail", nargs=2, help=argparse.SUPPRESS)  # internal: one job
    args = parser.parse_args(argv)
    if args.jail:
        return _jail(*args.jail)
    names = list(ASSIGNMENTS) if args.assignment == "all" else [args.assignment]
    start = time.perf_counter()
    import tensorflow  # noqa: F401  (its import is the parent's first cost)

    sections = [f"TensorFlow import in the parent: {time.perf_counter() - start:.1f} s", ""]
    for name in names:
        sections.append(profile(name, args.students))
        print(sections[-1], "\n", flush=True)
    command = "python -m benchmarks.grading_profile " + " ".join(argv or sys.argv[1:])
    text = f"## Grading profile\n\nCommand: `{command}`\n\n" + "\n\n".join(sections) + "\n"
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(text)
    return text


if __name__ == "__main__":
    main()
