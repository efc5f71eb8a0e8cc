"""The instructor's workflow end to end on a simulated class: `python -m autograder demo`.

    python -m autograder demo --out build/demo

1. release every assignment from solutions/ into OUT/course/release/;
2. build a class in nbgrader's OUT/course/submitted/<student>/<assignment>/ layout
   (reference, empty stub, an adversarial submission, buggy ones, a late one, and a
   student without a notebook; see autograder/demo_class.py);
3. grade every assignment with our grader (one sandbox zygote for all, progress bar)
   into OUT/course/grades/<assignment>/: grades.csv, <student>/results.json (Gradescope)
   and <student>/feedback.html;
4. record the scores in nbgrader's gradebook OUT/course/gradebook.db (`nbgrader export`
   and formgrader, run in OUT/course, see them);
5. build the Gradescope archive of the first assignment into OUT/gradescope/;
6. write the class report of each assignment (OUT/course/grades/<assignment>/report.html)
   and of the term (OUT/course/grades/report.html);
7. compare the first assignment's students per unit (autograder.similarity) into
   OUT/course/similarity/<assignment>/similarity.html;
8. print a summary table per assignment, every output path, and the time of each step.

OUT/course is the demo's own: it is deleted and rebuilt on every run, so earlier
results never mix with new ones. Nothing else under OUT is touched.
"""

import dataclasses
import shutil
import sys
import time
from pathlib import Path

from autograder import demo_class
from autograder.assignments.registry import ASSIGNMENTS
from autograder.batch import grade
from autograder.gradescope import build_archive
from autograder.notebook.manual import pending_text
from autograder.release import release_assignment
from autograder.reports import gradebook, report_html
from autograder.reports import results as reports
from autograder.reports.late import LatePolicy
from autograder.similarity import run as similarity

REPO = Path(__file__).resolve().parents[1]
DUEDATE = "2026-03-02 00:00:00.000000 UTC"  # the demo class's LATE student submits after it
# nbgrader's LateSubmissionPlugin.penalty_method: applied in the gradebook and in grades.csv.
LATE_PENALTY = "zero"


@dataclasses.dataclass
class DemoResult:
    out: Path
    course: Path
    rows: dict  # assignment -> grade rows
    labels: dict  # assignment -> {student: what the submission is}
    paths: dict  # what -> path
    seconds: dict  # step -> wall seconds
    table: str = ""
    flagged: int = 0  # similarity pairs above the threshold in the first assignment


def _timed(seconds, step, fn, *args, **kwargs):
    start = time.monotonic()
    try:
        return fn(*args, **kwargs)
    finally:
        seconds[step] = seconds.get(step, 0.0) + time.monotonic() - start


def run(
    out="build/demo",
    *,
    assignments=ASSIGNMENTS,
    jobs=2,
    isolation="auto",
    allow_unisolated=False,
    progress=True,
    gradescope=True,
    source_root=REPO / "solutions",
    stream=sys.stdout,
):
    """Runs the demo into `out`; returns a `DemoResult` (and prints its table to `stream`)."""
    start = time.monotonic()
    out = Path(out)
    course = out / "course"
    if course.exists():
        shutil.rmtree(course)  # ours: a fresh class every run
    release_root, submitted = course / "release", course / "submitted"
    seconds, rows, paths, labels = {}, {}, {}, {}
    db_path = course / "gradebook.db"
    db_url = f"sqlite:///{db_path.resolve()}"

    from autograder.sandbox import Zygote

    # TensorFlow starts in the zygote while the notebooks are released and the class built.
    zygote = _timed(
        seconds,
        "sandbox start",
        Zygote,
        jobs=jobs,
        isolation=isolation,
        allow_unisolated=allow_unisolated,
        wait=False,
    )
    try:
        for name in assignments:
            _timed(
                seconds,
                "release",
                release_assignment,
                name,
                source_root=source_root,
                release_root=release_root,
            )
            labels[name] = _timed(
                seconds,
                "build class",
                demo_class.build_class,
                submitted,
                name,
                Path(source_root) / name / f"{name}.ipynb",
                release_root / name / f"{name}.ipynb",
            )
        if _timed(seconds, "sandbox start", zygote.ready).warning:
            print(zygote.warning, file=sys.stderr)
        for name in assignments:
            rows[name] = _timed(
                seconds,
                f"grade {name}",
                grade,
                name,
                submitted,
                course / "grades" / name,
                jobs=jobs,
                isolation=isolation,
                progress=progress,
                source_root=source_root,
                release_root=release_root,
                zygote=zygote,
                late_policy=LatePolicy.parse(DUEDATE, LATE_PENALTY),
            )
    finally:
        zygote.close()

    for name in assignments:
        _timed(
            seconds,
            "gradebook",
            gradebook.record,
            db_url,
            name,
            release_root / name / f"{name}.ipynb",
            course / "grades" / name,
            submitted=submitted,
            duedate=DUEDATE,
            late_penalty=LATE_PENALTY,
        )
    paths["gradebook"] = db_path
    if gradescope:
        first = assignments[0]
        paths["gradescope"] = _timed(
            seconds,
            "gradescope archive",
            build_archive,
            first,
            out / "gradescope" / f"{first}.zip",
            source_root=source_root,
            release_root=release_root,
        )
    grades = course / "grades"
    for name in assignments:
        _timed(seconds, "class report", report_html.build_report, [grades / name])
    paths["report"] = _timed(
        seconds,
        "class report",
        report_html.build_report,
        [grades / name for name in assignments],
        grades / "report.html",
    )
    first = assignments[0]
    checked = _timed(
        seconds,
        "similarity",
        similarity.check,
        first,
        submitted,
        out=course / "similarity" / first,
        release_root=release_root,
    )
    paths["similarity"] = checked.report
    seconds["total"] = time.monotonic() - start
    result = DemoResult(out, course, rows, labels, paths, seconds, flagged=checked.flagged)
    result.table = summary(result)
    print(result.table, file=stream)
    return result


def _manual_line(rows, grades):
    """The demo's line on written answers left to a person (none when the assignment has none)."""
    pending = [r for r in rows if r.get("manual_pending")]
    if not pending:
        return []
    most = pending_text(max(r["manual_pending"] for r in pending))
    return [
        f"manual answers:  {len(pending)} students with {most} pending, graded by a person "
        f"(grades.csv manual_pending; {grades}/<student>/answers.html; formgrader)"
    ]


def summary(result):
    """The tables and paths printed at the end of the demo."""
    lines = []
    for name, rows in result.rows.items():
        grades = result.course / "grades" / name
        lines += ["", f"== {name}: {len(rows)} students =="]
        table = reports.summary_table(rows).splitlines()
        by_student = {r["student"]: r for r in rows}
        lines += table[:2]
        for line in table[2:]:
            student = line.split()[0]
            lines.append(f"{line}  ({result.labels[name].get(student, '?')})")
            row = by_student[student]
            if row["notes"] and row["score"] == 0 and not row.get("late"):
                lines.append(f"{'':4}reason: {by_student[student]['notes'][:100]}")
        lines += [
            f"grades.csv:      {grades / 'grades.csv'}  (late policy '{LATE_PENALTY}', "
            f"due {DUEDATE.split('.')[0]} UTC)",
            *_manual_line(rows, grades),
            f"Gradescope JSON: {grades}/<student>/results.json",
            f"feedback:        {grades}/<student>/feedback.html",
            f"class report:    {grades / 'report.html'}",
        ]
    lines += [
        "",
        f"submitted:       {result.course / 'submitted'}",
        f"released:        {result.course / 'release'}",
        f"nbgrader gradebook: {result.paths['gradebook']}  "
        f"(cd {result.course} && nbgrader export --CourseDirectory.db_url=sqlite:///gradebook.db)",
    ]
    if "gradescope" in result.paths:
        lines.append(f"Gradescope archive: {result.paths['gradescope']}")
    lines.append(f"term report:     {result.paths['report']}  (open it in a browser)")
    if "similarity" in result.paths:
        lines.append(
            f"similarity:      {result.paths['similarity']}  "
            f"({result.flagged} pair(s) above the threshold, for review)"
        )
    lines += ["", "time per step:"]
    lines += [f"  {step:<28} {sec:7.1f} s" for step, sec in result.seconds.items()]
    return "\n".join(lines)
