"""Our gradebook export leaves written answers to formgrader, checked with real nbgrader.

nbgrader's Gradebook says which submissions need manual grading, and formgrader's own
listing (`NbGraderAPI.get_notebook_submissions`, what its submitted-notebooks API handler
returns) shows them, because the notebook is where formgrader looks (autograded/).
"""

import json
import shutil
from pathlib import Path

from autograder.demo_class import solved_notebook
from autograder.reports import gradebook

REPO = Path(__file__).resolve().parents[2]
A1 = "a1_attention"
RELEASED = REPO / "assignments" / A1 / f"{A1}.ipynb"
MANUAL = "manual_gpu_speed"
AUTO = 20.0


def _results(unanswered=()):
    tests = [{"name": "scaled_dot_product_attention: all", "score": 6.0, "max_score": 6.0}]
    for unit, points in (("causal_mask", 2), ("padding_mask", 2), ("SelfAttention", 7)):
        tests.append({"name": f"{unit}: all", "score": float(points), "max_score": float(points)})
    for unit in ("answer_scale", "answer_cost", "answer_masking"):
        tests.append({"name": unit, "score": 1.0, "max_score": 1.0})
    return {"score": AUTO, "tests": tests, "extra_data": {"manual_unanswered": list(unanswered)}}


def _course(tmp_path):
    """A course folder: release/, submitted/ (ann answered, bob left the answer as released)."""
    course = tmp_path / "course"
    (course / "release" / A1).mkdir(parents=True)
    shutil.copy(RELEASED, course / "release" / A1)
    solved = solved_notebook(REPO / "solutions" / A1 / f"{A1}.ipynb", RELEASED)
    for student, nb in (("ann", solved), ("bob", json.loads(RELEASED.read_text()))):
        folder = course / "submitted" / student / A1
        folder.mkdir(parents=True)
        (folder / f"{A1}.ipynb").write_text(json.dumps(nb))
    out = tmp_path / "out"
    for student, res in (("ann", _results()), ("bob", _results(unanswered=[MANUAL]))):
        (out / student).mkdir(parents=True)
        (out / student / "results.json").write_text(json.dumps(res))
    return course, out


def _formgrader_listing(course, db):
    """What formgrader's manual-grading page lists: {student: needs_manual_grade}."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(root=str(course), db_url=db)
    api = NbGraderAPI(coursedir=coursedir)
    listed = api.get_notebook_submissions(A1, A1)
    indices = api.get_notebook_submission_indices(A1, A1)
    assert {s["id"] for s in listed} == set(indices)
    return {s["student"]: s["needs_manual_grade"] for s in listed}, api


def test_formgrader_lists_written_answers_for_manual_grading(tmp_path):
    """Does nbgrader flag ann's written answer (not bob's blank one), formgrader list it,
    and a TA's grade survive our next export?"""
    from nbgrader.api import Gradebook

    course, out = _course(tmp_path)
    db = f"sqlite:///{course / 'gradebook.db'}"
    summary = gradebook.record(db, A1, course / "release" / A1 / f"{A1}.ipynb", out,
                               submitted=course / "submitted")  # fmt: skip
    assert summary.pending == 1 and summary.recorded == 2 * 7
    with Gradebook(db) as gb:
        cell = gb.find_grade_cell(MANUAL, A1, A1)
        assert cell.max_score == 3 and cell.cell_type == "markdown"
        assert MANUAL in {c.name for c in gb.find_notebook(A1, A1).solution_cells}
        ann = gb.find_submission_notebook(A1, A1, "ann")
        assert (
            ann.needs_manual_grade
            and not gb.find_submission_notebook(A1, A1, "bob").needs_manual_grade
        )
        assert gb.find_grade(MANUAL, A1, A1, "ann").auto_score is None
        assert gb.find_grade(MANUAL, A1, A1, "bob").auto_score == 0.0  # as nbgrader gives
        assert (ann.score, ann.max_score) == (AUTO, AUTO + 3)
    listing, api = _formgrader_listing(course, db)
    assert listing == {"ann": True, "bob": False}
    assert {n["name"]: n["needs_manual_grade"] for n in api.get_notebooks(A1)} == {A1: True}

    # A TA grades ann's answer in formgrader (what its GradeHandler does), then we export again.
    with Gradebook(db) as gb:
        grade = gb.find_grade(MANUAL, A1, A1, "ann")
        grade.manual_score, grade.needs_manual_grade = 2.5, False
        gb.db.commit()
    again = gradebook.record(db, A1, course / "release" / A1 / f"{A1}.ipynb", out,
                             submitted=course / "submitted")  # fmt: skip
    assert again.pending == 0
    assert _formgrader_listing(course, db)[0] == {"ann": False, "bob": False}
    assert gradebook.scores_in_gradebook(db, A1)["ann"] == (AUTO + 2.5, AUTO + 3)


def test_formgrader_lists_nothing_without_the_notebook_on_disk(tmp_path):
    """Without submitted/ (no autograded/ copy) formgrader's listing is empty: the copy matters."""
    course, out = _course(tmp_path)
    db = f"sqlite:///{course / 'gradebook.db'}"
    gradebook.record(db, A1, course / "release" / A1 / f"{A1}.ipynb", out)
    assert _formgrader_listing(course, db)[0] == {}
