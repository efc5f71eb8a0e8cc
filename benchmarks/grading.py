"""Our grader vs `nbgrader autograde` on the same class, side by side in one run.

    .venv/bin/python -m benchmarks.grading [--students 50] [--assignment a2_transformer] [--jobs 2]

1. builds a temporary course: our `nbgrader_config.py` (source=solutions, release=assignments,
   the TensorFlow stderr fix), `solutions/<a>` = our solution notebook, and N students in
   `submitted/<student>/<a>/<a>.ipynb`, cycling through the reference, correct alternatives,
   four bugs of the assignment's grading catalog and the released stub;
2. `nbgrader generate_assignment` and the students in the gradebook (not timed);
3. our `autograder.batch.grade` (timed wall, sandbox zygote start-up included), then
   `nbgrader autograde <a> --force` (timed wall): our grader first, nbgrader second;
4. reads nbgrader's scores from its gradebook, ours from the grade rows, and prints the
   times, the ratio nbgrader/ours (target >= 10) and the scores per kind of submission
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

from benchmarks.grading_class import CATEGORIES, FULL_MARKS, build_course

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "build" / "benchmarks" / "grading.md"  # copy the section into RESULTS.md
TARGET = 10.0


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


def _fmt(score):
    return "-" if score is None else f"{score[0]:g}/{score[1]:g}"


def compare(labels, graders):
    """Scores per kind and the full-marks check.

    Args:
        labels: `{student: (kind, category)}`.
        graders: `{grader name: {student: (score, max) or None}}`.

    Returns:
        `(per_kind, problems)`: `per_kind` = `{kind: (category, {grader: sorted distinct
        scores})}`; `problems` lists every student of a full-marks category that a grader
        did not give full marks (or did not grade).
    """
    per_kind, problems = {}, []
    for student, (kind, category) in labels.items():
        _, by_grader = per_kind.setdefault(kind, (category, {g: set() for g in graders}))
        for grader, scores in graders.items():
            score = scores.get(student)
            by_grader[grader].add(_fmt(score))
            full = score is not None and score[1] > 0 and abs(score[0] - score[1]) < 1e-6
            if category in FULL_MARKS and not full:
                problems.append(f"{grader} gave {student} ({kind}) {_fmt(score)}")
    per_kind = {
        kind: (category, {g: sorted(s) for g, s in by.items()})
        for kind, (category, by) in per_kind.items()
    }
    return per_kind, problems


def disagreements(labels, graders):
    """Students the graders score differently: `[(student, kind, {grader: score})]`."""
    out = []
    for student, (kind, _) in labels.items():
        seen = {g: _fmt(s.get(student)) for g, s in graders.items()}
        if len(set(seen.values())) > 1:
            out.append((student, kind, seen))
    return out


def report(assignment, labels, seconds, graders, command, jobs):
    """The markdown section: timing table, full-marks check, scores per kind."""
    from benchmarks.common import table

    n = len(labels)
    rows = [
        [name, f"{sec:.1f} s", f"{sec / n:.2f} s"]
        for name, sec in seconds.items()
        if sec is not None
    ]
    ours, theirs = seconds.get("ours"), seconds.get("nbgrader")
    ratio = None if not (ours and theirs) else theirs / ours
    counts = {c: sum(1 for _, cat in labels.values() if cat == c) for c in CATEGORIES}
    lines = [
        f"## Grading: our grader vs nbgrader autograde ({assignment}, {n} submissions)",
        "",
        f"Command: `{command}`",
        "",
        "Submissions: "
        + ", ".join(f"{counts[c]} {c}" for c in CATEGORIES)
        + f"; our grader with `jobs={jobs}` (zygote start-up included), then "
        "`nbgrader autograde --force` (one kernel per notebook, in sequence); "
        "`generate_assignment` not timed.",
        "",
        table(rows, ["grader", "wall", "per submission"]),
        "",
    ]
    if ratio is not None:
        verdict = "met" if ratio >= TARGET else "NOT met"
        lines.append(f"Ratio nbgrader / ours: **{ratio:.1f}x** (target >= {TARGET:g}: {verdict}).")
    else:
        lines.append("Ratio nbgrader / ours: not measured (nbgrader skipped).")
    per_kind, problems = compare(labels, graders)
    lines += ["", "Full marks to the reference and the correct alternatives: "]
    lines[-1] += "yes, from every grader." if not problems else "NO:"
    lines += [f"- {p}" for p in problems]
    names = list(graders)
    kind_rows = [
        [kind, category, *[", ".join(by[g]) for g in names]]
        for kind, (category, by) in per_kind.items()
    ]
    lines += ["", table(kind_rows, ["submission", "category", *names]), ""]
    if len(graders) > 1:
        differ = disagreements(labels, graders)
        kinds_differ = sorted({k for _, k, _ in differ})
        lines.append(
            "Scores that differ between graders: "
            + (", ".join(kinds_differ) if kinds_differ else "none")
            + " (hidden tests and our checks weigh bugs differently; expected on buggy ones)."
        )
    return "\n".join(lines), ratio, problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--assignment", default="a2_transformer")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip-nbgrader", action="store_true", help="only our grader")
    parser.add_argument("--course", help="keep the course here (default: a temp dir, removed)")
    parser.add_argument("--results", default=str(RESULTS), help="markdown file to write")
    args = parser.parse_args(argv)
    command = "python -m benchmarks.grading " + " ".join(
        [f"--students {args.students}", f"--assignment {args.assignment}", f"--jobs {args.jobs}"]
        + (["--skip-nbgrader"] if args.skip_nbgrader else [])
    )
    tmp = None if args.course else tempfile.mkdtemp(prefix="bench-grading-")
    course = Path(args.course or tmp)
    try:
        labels = build_course(course, args.students, args.assignment)
        print(f"course: {course} ({len(labels)} students)", file=sys.stderr, flush=True)
        log = open(course / "nbgrader.log", "w")  # noqa: SIM115 (closed below)
        try:
            if not args.skip_nbgrader:
                nbgrader(course, "generate_assignment", args.assignment, log=log)
                add_students(course, labels)
            seconds, graders = {}, {}
            seconds["ours"], graders["ours"] = run_ours(course, args.assignment, args.jobs)
            print(f"ours: {seconds['ours']:.1f} s", file=sys.stderr, flush=True)
            if not args.skip_nbgrader:
                seconds["nbgrader"] = nbgrader(course, "autograde", args.assignment, log=log)
                print(f"nbgrader: {seconds['nbgrader']:.1f} s", file=sys.stderr, flush=True)
                graders["nbgrader"] = nbgrader_scores(db_url(course), args.assignment, labels)
        finally:
            log.close()
        text, ratio, problems = report(
            args.assignment, labels, seconds, graders, command, args.jobs
        )
        load = os.getloadavg()
        text += (
            f"\n\nMeasured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, "
            f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (shared machine).\n"
        )
        print(text)
        Path(args.results).parent.mkdir(parents=True, exist_ok=True)
        Path(args.results).write_text(text)
        return ratio, problems
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
