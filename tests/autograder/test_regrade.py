"""Regrades that follow a suite fix, `--student` / `--unit`, per-unit columns, and their report.

A real class of a1 graded in the real sandbox. The "suite fix": the first run grades
with a causal_mask check that wrongly fails everyone (the bug an instructor fixes); the
rerun with the real suite must regrade causal_mask only, on the same hidden inputs, and
print exactly the students whose causal_mask score moves.
"""

import csv
import io
import json

import pytest

from autograder import batch, catalog, regrade
from autograder.assignments.registry import get_catalog, get_suite
from autograder.grading.compare import Verdict

A = "a1_attention"
SDPA, CAUSAL = "scaled_dot_product_attention", "causal_mask"


@pytest.fixture(scope="module")
def zygote():
    from autograder.sandbox import Zygote

    z = Zygote(jobs=2, isolation="auto", allow_unisolated=True)
    yield z
    z.close()


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    root = tmp_path_factory.mktemp("regrade")
    bugs = get_catalog(A).bugs
    students = {
        "honest": ("solution", {}),
        "causal_bug": ("solution", bugs["bug_causal_triu"][0]),
        "sdpa_bug": ("solution", bugs["bug_no_scale"][0]),
        "stub": ("released", {}),
    }
    for student, (kind, cells) in students.items():
        catalog.write_submission(root / "submitted", student, A, cells, kind=kind)
    return root


def _grade(klass, zygote, **kwargs):
    out = io.StringIO()
    rows = batch.grade(
        A,
        klass / "submitted",
        klass / "grades",
        zygote=zygote,
        progress=False,
        stream=out,
        **kwargs,
    )
    return {r["student"]: r for r in rows}, out.getvalue()


def _log(klass):
    path = klass / "grades" / regrade.LOG_FILE
    return list(csv.DictReader(path.open())) if path.exists() else []


def _wrong_causal_check(monkeypatch):
    suite = get_suite(A)
    real = suite.plan

    def plan(rng, answers):
        result = real(rng, answers)
        for check in result.checks:
            if check.unit == CAUSAL:
                check.evaluate = lambda outcome: Verdict(0.0, "causal_mask: wrong (a broken check)")
        return result

    monkeypatch.setattr(suite, "plan", plan)


def test_a_suite_fix_regrades_exactly_the_affected_unit_and_students(klass, zygote, monkeypatch):
    with monkeypatch.context() as patch:
        _wrong_causal_check(patch)
        before, printed = _grade(klass, zygote)
    assert printed == ""  # a first grading is no regrade
    assert before["honest"]["units"][CAUSAL] == 0.0
    secret = json.loads((klass / "grades" / batch.STATE_FILE).read_text())["secret"]
    inputs_before = catalog.results(klass / "grades", "honest")

    after, printed = _grade(klass, zygote)  # the fixed (real) suite

    state = json.loads((klass / "grades" / batch.STATE_FILE).read_text())
    assert state["secret"] == secret  # the same hidden inputs
    log = _log(klass)
    assert {r["unit"] for r in log} == {CAUSAL}  # no other unit was regraded
    assert {r["student"] for r in log} == {"honest", "causal_bug", "sdpa_bug", "stub"}
    moved = {r["student"] for r in log if float(r["old"]) != float(r["new"])}
    assert moved == {"honest", "sdpa_bug"}  # the bug keeps 0, the stub raises NotImplementedError
    for student in moved:
        assert f"{student}  {CAUSAL}: 0.00 -> {after[student]['units'][CAUSAL]:.2f}" in printed
    assert "causal_bug  causal_mask" not in printed
    assert after["causal_bug"]["units"][CAUSAL] == 0.0
    for student, row in after.items():  # every other unit keeps its recorded score
        for unit, score in row["units"].items():
            if unit != CAUSAL:
                assert score == before[student]["units"][unit], (student, unit)
    assert after["sdpa_bug"]["units"][SDPA] < after["honest"]["units"][SDPA]
    recorded = catalog.results(klass / "grades", "honest")
    assert recorded["score"] == pytest.approx(after["honest"]["score"])
    assert [t["name"] for t in recorded["tests"]] == [t["name"] for t in inputs_before["tests"]]

    again, printed = _grade(klass, zygote)  # nothing changed: nothing regraded
    assert printed == "" and len(_log(klass)) == len(log)
    assert {s: r["score"] for s, r in again.items()} == {s: r["score"] for s, r in after.items()}


def test_student_and_unit_regrade_one_unit_of_one_student(klass, zygote):
    _grade(klass, zygote)
    logged = len(_log(klass))
    rows, printed = _grade(klass, zygote, students=["sdpa_bug"], units=[SDPA])
    new = _log(klass)[logged:]
    assert [(r["student"], r["unit"], r["reason"]) for r in new] == [
        ("sdpa_bug", SDPA, "asked for (--unit)")
    ]
    assert float(new[0]["old"]) == float(new[0]["new"]) == rows["sdpa_bug"]["units"][SDPA]
    assert "every regraded score is unchanged" in printed
    with open(klass / "grades" / "grades.csv") as handle:
        table = {r["student"]: r for r in csv.DictReader(handle)}
    assert float(table["sdpa_bug"][f"unit:{SDPA}"]) == pytest.approx(
        rows["sdpa_bug"]["units"][SDPA]
    )
    units = get_suite(A).UNITS
    assert all(f"unit:{u}" in table["honest"] for u in units)
    total = sum(float(v) for k, v in table["honest"].items() if k.startswith("unit:"))
    assert total == pytest.approx(float(table["honest"]["raw_score"]), abs=0.05)


def test_unknown_student_or_unit_is_refused_and_changes_nothing(klass, zygote):
    _grade(klass, zygote)
    before = (klass / "grades" / "grades.csv").read_text()
    with pytest.raises(ValueError, match="The units of this assignment"):
        _grade(klass, zygote, units=["no_such_unit"])
    with pytest.raises(ValueError, match="No submission for nobody"):
        _grade(klass, zygote, students=["nobody"])
    assert (klass / "grades" / "grades.csv").read_text() == before


def test_merge_keeps_recorded_units_in_the_new_order():
    T = regrade.TestResult
    old = [T("a: 1", 1, 2, "", "a"), T("b: 1", 0, 3, "", "b"), T("b: 2", 0, 3, "", "b")]
    new = [T("a: 1", 2, 2, "", "a"), T("b: 1", 3, 3, "", "b"), T("b: 2", 3, 3, "", "b")]
    assert [t.score for t in regrade.merge(new, old, {"a"})] == [2, 0, 0]
    assert [t.score for t in regrade.merge(new, old, {"b"})] == [1, 3, 3]
    assert regrade.unit_scores(regrade.merge(new, old, set())) == {"a": 1, "b": 0}
