"""Our scores in nbgrader's gradebook: unit scores per grade cell, manual grades kept, real export."""

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from autograder.reports import gradebook

REPO = Path(__file__).resolve().parents[2]
A1 = "a1_attention"
RELEASED = REPO / "assignments" / A1 / f"{A1}.ipynb"
UNITS = {  # unit -> points in the released a1 notebook
    "scaled_dot_product_attention": 6,
    "causal_mask": 2,
    "padding_mask": 2,
    "SelfAttention": 7,
    "answer_scale": 1,
    "answer_cost": 1,
    "answer_masking": 1,
}


def _results(fraction, skip=()):
    """A results.json-like dict: two tests per unit, each worth half the unit."""
    tests = []
    for unit, points in UNITS.items():
        if unit in skip:
            continue
        for part in ("a", "b"):
            tests.append(
                {
                    "name": f"{unit}: part {part}",
                    "score": points / 2 * fraction,
                    "max_score": points / 2,
                }
            )
    return {"score": sum(t["score"] for t in tests), "tests": tests}


def _write_out(out, results):
    for student, res in results.items():
        (out / student).mkdir(parents=True)
        (out / student / "results.json").write_text(json.dumps(res))


def test_unit_scores_sum_tests_of_a_unit():
    res = {
        "tests": [
            {"name": "a: x", "score": 1},
            {"name": "a: y", "score": 2},
            {"name": "b", "score": 0},
        ]
    }
    assert gradebook.unit_scores(res) == {"a": 3.0, "b": 0.0}


def test_record_writes_unit_scores_and_keeps_manual_grades(tmp_path):
    """Are grade cells, auto scores per unit, submissions and timestamps recorded; manual and differing grades kept?"""
    from nbgrader.api import Gradebook

    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    out = tmp_path / "out"
    _write_out(out, {"ann": _results(1.0), "bob": _results(0.5, skip=("answer_cost",))})
    submitted = tmp_path / "submitted"
    (submitted / "bob" / A1).mkdir(parents=True)
    (submitted / "bob" / A1 / "timestamp.txt").write_text("2026-01-02 03:04:05.000000 UTC")
    summary = gradebook.record(
        db,
        A1,
        RELEASED,
        out,
        submitted=submitted,
        duedate="2026-01-01 00:00:00 UTC",
        late_penalty="zero",
    )
    assert summary.students == 2 and summary.recorded == 7 + 6 and not summary.kept
    assert summary.late == ["bob"]
    scores = gradebook.scores_in_gradebook(db, A1)
    # nbgrader's max_score includes the 3 points of the written answer (manual_gpu_speed)
    assert scores["ann"] == (20.0, 23.0)
    assert scores["bob"] == (9.5, 23.0)  # answer_cost has no test: no auto score
    with Gradebook(db) as gb:
        cell = gb.find_grade_cell("test_SelfAttention", A1, A1)
        assert cell.max_score == 7
        assert {c.name for c in gb.find_notebook(A1, A1).solution_cells} >= set(UNITS)
        assert gb.find_grade("test_answer_cost", A1, A1, "bob").auto_score is None
        assert gb.find_submission(A1, "bob").timestamp.year == 2026
        assert gb.find_submission(A1, "bob").total_seconds_late > 0
        # nbgrader's 'zero' policy: the whole late score is the penalty; ann was on time
        assert gb.find_submission_notebook(A1, A1, "bob").late_submission_penalty == 9.5
        assert gb.find_submission_notebook(A1, A1, "ann").late_submission_penalty is None
        grade = gb.find_grade("test_causal_mask", A1, A1, "ann")
        grade.manual_score = 0.5  # a TA's manual grade
        gb.db.commit()

    # A regrade with different scores: nothing overwritten without force, manual grade kept.
    again = tmp_path / "again"
    _write_out(again, {"ann": _results(0.0)})
    summary = gradebook.record(db, A1, RELEASED, again)
    assert len(summary.kept) == 7 and summary.recorded == 0 and summary.manual == 1
    assert gradebook.scores_in_gradebook(db, A1)["ann"] == (18.5, 23.0)
    summary = gradebook.record(db, A1, RELEASED, again, force=True)
    assert summary.recorded == 7
    with Gradebook(db) as gb:
        grade = gb.find_grade("test_causal_mask", A1, A1, "ann")
        assert grade.manual_score == 0.5 and grade.auto_score == 0.0 and grade.needs_manual_grade
    assert gradebook.scores_in_gradebook(db, A1)["ann"] == (0.5, 23.0)


def test_extensions_become_nbgrader_extensions_and_move_the_late_penalty(tmp_path):
    """Is a student's later due date recorded as nbgrader's extension, so nbgrader's late
    policy spares them and not an equally late student without one?"""
    from datetime import datetime, timezone

    from nbgrader.api import Gradebook

    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    out = tmp_path / "out"
    _write_out(out, {"ann": _results(1.0), "bob": _results(1.0)})
    submitted = tmp_path / "submitted"
    for student in ("ann", "bob"):
        (submitted / student / A1).mkdir(parents=True)
        (submitted / student / A1 / "timestamp.txt").write_text("2026-01-02 03:04:05.000000 UTC")
    extensions = {"ann": datetime(2026, 1, 3, tzinfo=timezone.utc)}
    summary = gradebook.record(
        db, A1, RELEASED, out, submitted=submitted, duedate="2026-01-01 00:00:00 UTC",
        late_penalty="zero", extensions=extensions,
    )  # fmt: skip
    assert summary.late == ["bob"]
    with Gradebook(db) as gb:
        ann = gb.find_submission(A1, "ann")
        assert ann.extension.total_seconds() == 2 * 24 * 3600
        assert ann.duedate == datetime(2026, 1, 3) and ann.total_seconds_late == 0
        assert gb.find_submission(A1, "bob").extension is None
    assert gradebook.scores_in_gradebook(db, A1)["ann"] == (20.0, 23.0)


@pytest.mark.slow
def test_real_nbgrader_export_shows_our_scores(tmp_path):
    """Does the real `nbgrader export` CSV carry the scores we recorded?"""
    course = tmp_path / "course"
    (course / "release" / A1).mkdir(parents=True)
    shutil.copy(RELEASED, course / "release" / A1)
    db_path = course / "gradebook.db"
    out = tmp_path / "out"
    _write_out(out, {"ann": _results(1.0), "bob": _results(0.25)})
    gradebook.record(f"sqlite:///{db_path}", A1, course / "release" / A1 / f"{A1}.ipynb", out)
    env = dict(os.environ, PATH=f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}")
    proc = subprocess.run(
        [
            "nbgrader",
            "export",
            f"--CourseDirectory.root={course}",
            f"--CourseDirectory.db_url=sqlite:///{db_path}",
            f"--CsvExportPlugin.to={tmp_path / 'export.csv'}",
        ],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rows = {r["student_id"]: r for r in csv.DictReader((tmp_path / "export.csv").open())}
    assert float(rows["ann"]["score"]) == 20.0 and float(rows["ann"]["max_score"]) == 23.0
    assert float(rows["bob"]["score"]) == 5.0
    assert rows["bob"]["assignment"] == A1
