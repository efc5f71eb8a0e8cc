"""Record our grader's scores in nbgrader's gradebook, so `nbgrader export` and formgrader see them.

An alternative to `nbgrader autograde`: the assignment, its notebook, grade cells
(max_score = the points of each `test_<unit>` cell) and solution cells are read from
the released notebook; every student gets a submission whose grade cell `test_<unit>`
has `auto_score` = the sum of our test scores for `<unit>`. Scores come from our own
JSON (OUT/<student>/results.json), never from pickles.

Rules:
- a manual score given in formgrader is never touched (nbgrader's final score is the
  manual one when present);
- an auto score already in the gradebook that differs from ours is kept unless
  `force=True` (reported in the returned summary as `kept`);
- a unit without any test in the results is left without an auto score;
- a manually graded answer (nbgrader's grade+solution cell) or task cell is recorded as
  nbgrader's own cell and flagged `needs_manual_grade`, so formgrader lists it, unless
  the student left it as released (results.json's `manual_unanswered`): auto score 0, as
  `nbgrader autograde` gives; a manual score given in formgrader is never touched;
- formgrader lists a submission only if its notebook is in nbgrader's
  autograded/<student>/<assignment>/ folder: the submitted notebook is copied there
  (`autograded`, default: beside `submitted`), as `nbgrader autograde` would leave it
  (a notebook already there is replaced only with `force`);
- `timestamp.txt` in nbgrader's submitted/<student>/<assignment>/ becomes the
  submission's timestamp; with the assignment's due date, nbgrader's late policy
  (`LateSubmissionPlugin`, `late_penalty="none"` or `"zero"`) sets the penalty that
  `nbgrader export` subtracts, as `nbgrader autograde` would.

Example:
    python -m autograder grade a1_attention submitted/ --out build/grades/a1 \
        --gradebook sqlite:///gradebook.db
"""

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import warnings
from pathlib import Path

import nbformat

TEST_PREFIX = "test_"


@dataclasses.dataclass
class RecordSummary:
    students: int = 0
    recorded: int = 0  # grade cells whose auto score was written
    kept: list = dataclasses.field(default_factory=list)  # (student, cell) left as they were
    manual: int = 0  # grade cells with a manual score (untouched)
    late: list = dataclasses.field(default_factory=list)  # students late by nbgrader's timestamp
    pending: int = 0  # manually graded cells flagged needs_manual_grade for formgrader


def unit_scores(results):
    """`{unit: score}` from a Gradescope results dict; test names are `<unit>` or `<unit>: ...`."""
    scores = {}
    for test in results.get("tests", []):
        unit = (test.get("extra_data") or {}).get("unit") or test["name"].split(":")[0].strip()
        scores[unit] = scores.get(unit, 0.0) + float(test["score"])
    return scores


def load_results(out_dir):
    """`{student: results dict}` from OUT/<student>/results.json."""
    found = {}
    for path in sorted(Path(out_dir).glob("*/results.json")):
        found[path.parent.name] = json.loads(path.read_text())
    return found


def released_cells(released_notebook_path):
    """`(grade_cells, solution_cells, task_cells)` of a released notebook.

    grade_cells and task_cells: `{grade_id: {"max_score", "cell_type"}}`;
    solution_cells: `[grade_id]`.
    """
    nb = nbformat.read(str(released_notebook_path), as_version=4)
    grades, solutions, tasks = {}, [], {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id")
        if not gid:
            continue
        info = {"max_score": float(meta.get("points") or 0), "cell_type": cell.cell_type}
        if meta.get("task"):
            tasks[gid] = info
        elif meta.get("grade"):
            grades[gid] = info
        if meta.get("solution"):
            solutions.append(gid)
    return grades, solutions, tasks


def _manual_ids(released_notebook_path):
    from autograder.notebook.manual import manual_points

    return set(manual_points(nbformat.read(str(released_notebook_path), as_version=4)))


def _copy_for_formgrader(submitted, autograded, student, assignment, notebook, force):
    """Puts the student's notebook where formgrader looks for it (autograded/...).

    A notebook already there (e.g. `nbgrader autograde`'s) is kept unless `force`.
    """
    if submitted is None or autograded is None:
        return
    source = Path(submitted) / student / assignment / f"{notebook}.ipynb"
    target = Path(autograded) / student / assignment / f"{notebook}.ipynb"
    if source.is_file() and (force or not target.is_file()):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def _record_manual(gb, names, unanswered, notebook, assignment, student, summary):
    """Flags the manual cells for formgrader; an answer left as released gets 0, as nbgrader's."""
    for name in sorted(names):
        grade = gb.find_grade(name, notebook, assignment, student)
        if grade.manual_score is not None:
            continue  # graded by a person in formgrader
        if name in unanswered:
            grade.auto_score, grade.needs_manual_grade = 0.0, False
        else:
            grade.auto_score, grade.needs_manual_grade = None, True
            summary.pending += 1


@contextlib.contextmanager
def _open_gradebook(db_url, course_id):
    """nbgrader's Gradebook; it runs the `alembic` command, so our venv's bin/ goes on PATH."""
    from nbgrader.api import Gradebook

    old = os.environ.get("PATH", "")
    if shutil.which("alembic") is None:
        os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), old])
    try:
        with warnings.catch_warnings(), Gradebook(db_url, course_id=course_id) as gb:
            # nbgrader's add_submission trips SQLAlchemy's autoflush warnings (harmless).
            warnings.filterwarnings("ignore", message="Object of type <Submitted")
            yield gb
    finally:
        os.environ["PATH"] = old


def _timestamp(submitted, student, assignment):
    if submitted is None:
        return None
    path = Path(submitted) / student / assignment / "timestamp.txt"
    return path.read_text().strip() if path.is_file() else None


def record(
    db_url,
    assignment,
    released_notebook_path,
    results,
    *,
    submitted=None,
    force=False,
    duedate=None,
    late_penalty="none",
    course_id="default_course",
    extensions=None,
    autograded=None,
):
    """Writes our scores for `assignment` into the nbgrader gradebook at `db_url`.

    Args:
        db_url: SQLAlchemy URL, e.g. `"sqlite:///course/gradebook.db"`.
        assignment: the assignment name (nbgrader's assignment id).
        released_notebook_path: the released notebook; its stem is nbgrader's notebook id.
        results: our grading output folder (OUT/<student>/results.json), or
            `{student: results dict}`.
        submitted: nbgrader's submitted/ folder, to read each `timestamp.txt` (optional).
        force: replace auto scores already recorded that differ from ours.
        duedate: the assignment's due date (e.g. `"2026-03-02 00:00:00 UTC"`), so
            nbgrader reports late submissions; None keeps the recorded one.
        late_penalty: nbgrader's `LateSubmissionPlugin.penalty_method`, applied as
            `nbgrader autograde` does: `"none"` or `"zero"` (a late notebook scores 0).
        extensions: `{student: due date}` (timezone-aware datetimes, as
            `late.read_extensions` gives), recorded as nbgrader's extension of each
            student's submission (needs `duedate`); other students' extensions are kept.
        autograded: nbgrader's autograded/ folder, where each submitted notebook is copied
            for formgrader; default: `autograded` beside `submitted` (no copy without it).

    Returns:
        A `RecordSummary`.
    """
    from nbgrader.api import MissingEntry
    from nbgrader.plugins import LateSubmissionPlugin
    from nbgrader.utils import parse_utc

    plugin = LateSubmissionPlugin(penalty_method=late_penalty)

    if not isinstance(results, dict):
        results = load_results(results)
    notebook = Path(released_notebook_path).stem
    grade_cells, solution_cells, task_cells = released_cells(released_notebook_path)
    manual = _manual_ids(released_notebook_path)
    if autograded is None and submitted is not None:
        autograded = Path(submitted).parent / "autograded"
    summary = RecordSummary()
    with _open_gradebook(db_url, course_id) as gb:
        if duedate:
            gb.update_or_create_assignment(assignment, duedate=parse_utc(duedate))
        else:
            gb.update_or_create_assignment(assignment)
        gb.update_or_create_notebook(notebook, assignment)
        for name, info in grade_cells.items():
            gb.update_or_create_grade_cell(name, notebook, assignment, **info)
        for name in solution_cells:
            gb.update_or_create_solution_cell(name, notebook, assignment)
        for name, info in task_cells.items():
            gb.update_or_create_task_cell(name, notebook, assignment, **info)
        for student, res in sorted(results.items()):
            gb.update_or_create_student(student)
            stamp = _timestamp(submitted, student, assignment)
            try:
                submission = gb.find_submission(assignment, student)
                if stamp and (force or submission.timestamp is None):
                    gb.update_or_create_submission(assignment, student, timestamp=stamp)
            except MissingEntry:
                kwargs = {"timestamp": stamp} if stamp else {}
                gb.add_submission(assignment, student, **kwargs)
            if extensions and student in extensions:
                _grant_extension(gb, assignment, student, extensions[student], duedate)
            summary.students += 1
            scores = unit_scores(res)
            unanswered = set((res.get("extra_data") or {}).get("manual_unanswered") or ())
            _record_manual(gb, manual, unanswered, notebook, assignment, student, summary)
            _copy_for_formgrader(submitted, autograded, student, assignment, notebook, force)
            for name in grade_cells:
                unit = name[len(TEST_PREFIX) :] if name.startswith(TEST_PREFIX) else name
                if name in manual or unit not in scores:
                    continue  # no test of ours: left for manual grading
                grade = gb.find_grade(name, notebook, assignment, student)
                new = round(min(scores[unit], grade_cells[name]["max_score"]), 4)
                if grade.manual_score is not None:
                    summary.manual += 1
                if (
                    grade.auto_score is not None
                    and abs(grade.auto_score - new) > 1e-9
                    and not force
                ):
                    summary.kept.append((student, name))
                    continue
                grade.auto_score = new
                grade.needs_manual_grade = grade.manual_score is not None
                summary.recorded += 1
            gb.db.commit()
            _late_penalty(gb, plugin, assignment, notebook, student, summary)
    return summary


def _grant_extension(gb, assignment, student, due, duedate):
    from datetime import timezone

    from nbgrader.utils import parse_utc

    if not duedate:
        raise ValueError("Extensions need the assignment's due date (duedate).")
    extra = due.astimezone(timezone.utc).replace(tzinfo=None) - parse_utc(duedate)
    gb.grant_extension(assignment, student, minutes=extra.total_seconds() / 60)


def _late_penalty(gb, plugin, assignment, notebook, student, summary):
    """nbgrader's AssignLatePenalties: the plugin's penalty for a late submission, else none."""
    submission = gb.find_submission(assignment, student)
    nb = gb.find_submission_notebook(notebook, assignment, student)
    nb.late_submission_penalty = None
    seconds = submission.total_seconds_late
    if seconds > 0:
        summary.late.append(student)
        penalty = plugin.late_submission_penalty(student, nb.score, seconds)
        if penalty is not None:
            nb.late_submission_penalty = min(max(penalty, 0.0), nb.score)
    gb.db.commit()


def scores_in_gradebook(db_url, assignment, course_id="default_course"):
    """`{student: (score, max_score)}` as nbgrader computes them (manual score over auto)."""
    with _open_gradebook(db_url, course_id) as gb:
        return {
            sub.student.id: (float(sub.score), float(sub.max_score))
            for sub in gb.assignment_submissions(assignment)
        }
