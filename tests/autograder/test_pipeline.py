"""The grading pipeline end to end on a1: outputs, scores, resume and bad input."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from autograder import batch, cli, pipeline
from autograder.submissions import SubmissionsError, find_submissions

REPO = Path(__file__).resolve().parents[2]
A1 = "a1_attention"


def _class(tmp_path):
    root = tmp_path / "submitted"
    for student, source in (("ref", "solutions"), ("stub", "assignments")):
        folder = root / student / A1
        folder.mkdir(parents=True)
        shutil.copy(REPO / source / A1 / f"{A1}.ipynb", folder)
    (root / "empty" / A1).mkdir(parents=True)
    (root / "broken" / A1).mkdir(parents=True)
    (root / "broken" / A1 / f"{A1}.ipynb").write_text("{not json")
    return root


def test_steps_are_declared_in_order():
    """Is the order of the grading steps the documented one?"""
    assert [s.__name__ for s in pipeline.PREPARE_STEPS] == [
        "read_step",
        "validate_step",
        "extract_step",
        "forbidden_step",
        "plan_step",
        "write_jobs_step",
    ]


def test_find_submissions_layouts_and_missing_folder(tmp_path):
    """Are both layouts found, a student without a notebook kept with a reason, and a missing folder explained?"""
    root = _class(tmp_path)
    subs = {s.student: s for s in find_submissions(root, A1, f"{A1}.ipynb")}
    assert set(subs) == {"ref", "stub", "empty", "broken"}
    assert subs["empty"].path is None and "expected a1_attention.ipynb" in subs["empty"].problem
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(REPO / "solutions" / A1 / f"{A1}.ipynb", flat / "dana.ipynb")
    assert [s.student for s in find_submissions(flat, A1, f"{A1}.ipynb")] == ["dana"]
    with pytest.raises(SubmissionsError, match="No submissions folder"):
        find_submissions(tmp_path / "nope", A1, f"{A1}.ipynb")


@pytest.mark.slow
def test_grade_a1_class_outputs_and_resume(tmp_path, capsys):
    """Reference 100%, stub 0, no notebook and unreadable 0 with reasons; Gradescope JSON; a rerun skips everyone."""
    root, out = _class(tmp_path), tmp_path / "out"
    rows = {r["student"]: r for r in batch.grade(A1, root, out, jobs=2, progress=False)}
    assert rows["ref"]["score"] == pytest.approx(20.0)
    assert (
        rows["stub"]["score"] == 0.0
        and rows["empty"]["score"] == 0.0
        and rows["broken"]["score"] == 0.0
    )
    assert rows["empty"]["status"] == "no notebook"
    assert (
        rows["broken"]["status"] == "unreadable"
        and "not valid notebook JSON" in rows["broken"]["notes"]
    )

    with open(out / "grades.csv") as handle:
        table = list(csv.DictReader(handle))
    assert [r["student"] for r in table] == ["broken", "empty", "ref", "stub"]
    assert {"student", "assignment", "score", "max_score"} <= set(table[0])

    results = json.loads((out / "stub" / "results.json").read_text())
    assert results["score"] == 0
    assert all({"name", "score", "max_score", "output"} <= set(t) for t in results["tests"])
    assert sum(t["max_score"] for t in results["tests"]) == pytest.approx(20.0)
    assert any("NotImplementedError" in t["output"] for t in results["tests"])
    assert "<table>" in (out / "ref" / "feedback.html").read_text()

    before = (out / "ref" / "results.json").stat().st_mtime_ns
    again = {r["student"]: r for r in batch.grade(A1, root, out, jobs=2, progress=False)}
    assert again == rows
    assert (out / "ref" / "results.json").stat().st_mtime_ns == before


def test_cli_reports_missing_submissions_folder(tmp_path, capsys):
    """Does `grade` on a missing folder exit 2 with one sentence saying what is expected?"""
    code = cli.main(["grade", A1, str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "Expected nbgrader's layout" in capsys.readouterr().err


def test_cli_validate_released_notebook(capsys):
    """Does `validate` accept the released notebook as it is?"""
    assert cli.main(["validate", str(REPO / "assignments" / A1 / f"{A1}.ipynb")]) == 0
    assert "OK" in capsys.readouterr().out
