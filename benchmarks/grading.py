"""Our grader vs `nbgrader autograde` on the same class, side by side in one run.

    .venv/bin/python -m benchmarks.grading [--students 50] [--assignment a2_transformer|all] [--jobs 2]

1. builds a temporary course: our `nbgrader_config.py` (source=solutions, release=assignments,
   the TensorFlow stderr fix), `solutions/<a>` = our solution notebook, and N students in
   `submitted/<student>/<a>/<a>.ipynb`, cycling through the reference, correct alternatives,
   four bugs of the assignment's grading catalog and the released stub;
2. `nbgrader generate_assignment` and the students in the gradebook (not timed);
3. our `autograder.batch.grade` (timed wall, sandbox zygote start-up included), then
   `nbgrader autograde <a> --force` (timed wall): our grader first, nbgrader second;
4. reads nbgrader's scores from its gradebook, ours from the grade rows, and prints the
   times, the ratio nbgrader/ours (target >= 20) and the scores per kind of submission
   (both must give full marks to the reference and to the correct alternatives; on the
   buggy ones the hidden tests and our checks may differ, which is expected);
5. writes the table and the command to `build/benchmarks/grading.md` (copied into benchmarks/RESULTS.md).

`--skip-nbgrader` runs only our side (for the smoke test).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.grading_class import build_course
from benchmarks.grading_report import report, summary

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "build" / "benchmarks" / "grading.md"  # copy the section into RESULTS.md


# Correct alternatives to the a2 reference: (grade_id, old text, new text) edits of the solved notebook.
def _env():
    bin_dir = str(Path(sys.executable).parent)
    return dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")


def db_url(course):
    return f"sqlite:///{Path(course).resolve() / 'gradebook.db'}"


def nbgrader(course, *args, log=None):
    """Runs `nbgrader ARGS --force` in `course`; returns its wall seconds."""
    command = [sys.executable, "-m", "nbgrader", *args, "--force"]
    command.append(f"--CourseDirectory.db_url={db_url(course)}")
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=course, env=_env(), stdout=log, stderr=subprocess.STDOUT, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}); see {log and log.name}")
    return seconds


def add_students(course, students):
    from nbgrader.api import Gradebook

    with Gradebook(db_url(course)) as gradebook:
        for student in students:
            gradebook.update_or_create_student(student)


def nbgrader_scores(url, assignment, students):
    """`{student: (score, max_score)}` from nbgrader's gradebook (None where not graded)."""
    from nbgrader.api import Gradebook, MissingEntry

    scores = {}
    with Gradebook(url) as gradebook:
        for student in students:
            try:
                sub = gradebook.find_submission(assignment, student)
            except MissingEntry:
                scores[student] = None
                continue
            scores[student] = (float(sub.score), float(sub.max_score))
    return scores


def our_scores(rows):
    """`{student: (score, max_score)}` from our grade rows."""
    return {r["student"]: (float(r["score"]), float(r["max_score"])) for r in rows}


def run_ours(course, assignment, jobs):
    from autograder.batch import grade

    start = time.perf_counter()
    rows = grade(
        assignment,
        Path(course) / "submitted",
        Path(course) / "ours",
        jobs=jobs,
        force=True,
        progress=False,
        source_root=Path(course) / "solutions",
        release_root=REPO / "assignments",
    )
    return time.perf_counter() - start, our_scores(rows)


def run_one(assignment, students, jobs, skip_nbgrader, course_dir=None):
    """Builds the class of `assignment` and grades it with both graders, ours first.

    Returns:
        `(text, ratio, problems, seconds, n)`: the markdown section, nbgrader/ours (None if
        skipped), the full-marks problems, `{grader: wall seconds}` and the class size.
    """
    command = "python -m benchmarks.grading " + " ".join(
        [f"--students {students}", f"--assignment {assignment}", f"--jobs {jobs}"]
        + (["--skip-nbgrader"] if skip_nbgrader else [])
    )
    tmp = None if course_dir else tempfile.mkdtemp(prefix="bench-grading-")
    course = Path(course_dir or tmp)
    try:
        labels = build_course(course, students, assignment)
        print(f"course: {course} ({len(labels)} students)", file=sys.stderr, flush=True)
        log = open(course / "nbgrader.log", "w")  # noqa: SIM115 (closed below)
        try:
            if not skip_nbgrader:
                nbgrader(course, "generate_assignment", assignment, log=log)
                add_students(course, labels)
            seconds, graders = {}, {}
            seconds["ours"], graders["ours"] = run_ours(course, assignment, jobs)
            print(f"{assignment} ours: {seconds['ours']:.1f} s", file=sys.stderr, flush=True)
            if not skip_nbgrader:
                seconds["nbgrader"] = nbgrader(course, "autograde", assignment, log=log)
                print(f"{assignment} nbgrader: {seconds['nbgrader']:.1f} s", file=sys.stderr)
                graders["nbgrader"] = nbgrader_scores(db_url(course), assignment, labels)
        finally:
            log.close()
        text, ratio, problems = report(assignment, labels, seconds, graders, command, jobs)
        return text, ratio, problems, seconds, len(labels)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--assignment", default="a2_transformer", help="an assignment, or all")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip-nbgrader", action="store_true", help="only our grader")
    parser.add_argument("--course", help="keep the course here (default: a temp dir, removed)")
    parser.add_argument("--results", default=str(RESULTS), help="markdown file to write")
    args = parser.parse_args(argv)
    if args.assignment == "all":
        from autograder.assignments.registry import ASSIGNMENTS

        names = list(ASSIGNMENTS)
    else:
        names = [args.assignment]
    sections, rows, worst = [], [], None
    for name in names:
        course = args.course and str(Path(args.course) / name)
        text, ratio, problems, seconds, n = run_one(
            name, args.students, args.jobs, args.skip_nbgrader, course
        )
        sections.append(text)
        rows.append((name, n, seconds, ratio, problems))
        worst = ratio if worst is None or (ratio is not None and ratio < worst) else worst
    command = "python -m benchmarks.grading " + " ".join(
        [f"--students {args.students}", f"--assignment {args.assignment}", f"--jobs {args.jobs}"]
        + (["--skip-nbgrader"] if args.skip_nbgrader else [])
    )
    text = "\n\n".join(([summary(rows, command)] if len(names) > 1 else []) + sections)
    load = os.getloadavg()
    text += (
        f"\n\nMeasured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.\n"
    )
    print(text)
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(text)
    return worst, [p for *_, problems in rows for p in problems]


if __name__ == "__main__":
    main()
