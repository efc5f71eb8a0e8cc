"""`python -m autograder demo` on a1: the class, every output, the table and the gradebook."""

import csv
import io
import json
import re
import zipfile

import pytest

from autograder import cli, demo, demo_class
from autograder.reports import gradebook

pytestmark = pytest.mark.slow
A1 = "a1_attention"


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    (out / "course" / "stale").mkdir(parents=True)  # a previous run's leftovers
    (out / "keep.txt").write_text("not the demo's")
    stream = io.StringIO()
    result = demo.run(out, assignments=(A1,), progress=False, stream=stream)
    return result, stream.getvalue()


def _csv(path):
    return {r["student"]: r for r in csv.DictReader(path.open())}


def test_demo_writes_every_output(ran):
    """Released notebook, the class in submitted/, grades.csv, per-student JSON and HTML, gradebook, archive."""
    result, _ = ran
    course = result.course
    assert not (course / "stale").exists() and (result.out / "keep.txt").exists()
    assert (course / "release" / A1 / f"{A1}.ipynb").is_file()
    students = set(result.labels[A1])
    assert {
        demo_class.REFERENCE,
        demo_class.STUB,
        demo_class.ADVERSARY,
        demo_class.MISSING,
    } <= students
    assert len(students & set(demo_class.BUGGY)) == 4
    assert not list((course / "submitted" / demo_class.MISSING / A1).iterdir())
    grades = course / "grades" / A1
    rows = _csv(grades / "grades.csv")
    assert set(rows) == students
    for student in students:
        res = json.loads((grades / student / "results.json").read_text())
        assert res["tests"] and "<html" in (grades / student / "feedback.html").read_text()
    assert (course / "gradebook.db").is_file()
    with zipfile.ZipFile(result.paths["gradescope"]) as zf:
        assert "run_autograder" in zf.namelist()


def test_demo_scores_make_sense(ran):
    """Reference full marks, stub and adversary zero, each bug loses some points, no notebook zero with a reason."""
    result, _ = ran
    rows = {r["student"]: r for r in result.rows[A1]}
    assert rows[demo_class.REFERENCE]["score"] == 20.0
    late = rows[demo_class.LATE]  # submitted after the due date, late policy "zero"
    assert (late["raw_score"], late["score"], late["penalty"]) == (20.0, 0.0, 20.0)
    assert late["late"] == "1 d 9 h 30 min"
    assert rows[demo_class.REFERENCE]["late"] == "" and rows[demo_class.REFERENCE]["penalty"] == 0
    assert rows[demo_class.STUB]["score"] == 0.0
    assert rows[demo_class.ADVERSARY]["score"] <= rows[demo_class.STUB]["score"]
    for student in demo_class.BUGGY:
        assert 0 < rows[student]["score"] < 20, student
    missing = rows[demo_class.MISSING]
    assert missing["score"] == 0 and missing["status"] == "no notebook"
    assert "No notebook found" in missing["notes"]


def test_demo_table_names_students_paths_and_times(ran):
    result, printed = ran
    assert printed.strip() == result.table.strip()
    for student, label in result.labels[A1].items():
        (line,) = [x for x in printed.splitlines() if x.startswith(student + " ")]
        assert label in line
    assert str(result.course / "grades" / A1 / "grades.csv") in printed
    assert str(result.course / "gradebook.db") in printed
    assert str(result.paths["gradescope"]) in printed
    assert "(late 1 d 9 h 30 min: -20.00)" in next(
        x for x in printed.splitlines() if x.startswith(demo_class.LATE)
    )
    assert "reason: No notebook found" in printed
    assert "manual answers:  " in printed and "3 points pending" in printed
    rows = _csv(result.course / "grades" / A1 / "grades.csv")
    assert rows[demo_class.REFERENCE]["manual_pending"] == "3 points"
    assert rows[demo_class.MISSING]["manual_pending"] == ""
    page = result.course / "grades" / A1 / demo_class.REFERENCE / "answers.html"
    assert "FlashAttention" in page.read_text()
    for step in ("release", "sandbox start", f"grade {A1}", "gradebook", "total"):
        assert step in result.seconds and step in printed
    print(f"\ndemo (a1 only): {result.seconds}")


def _block(page, tag, cls):
    """The inside of the first `<tag class="cls">` of `page`."""
    return re.search(rf'<{tag} class="{cls}">(.*?)</{tag}>', page, re.S).group(1)


def test_demo_builds_the_class_and_term_reports(ran):
    """Do the reports name the late student, the one without a notebook and the adversary's hints?"""
    result, printed = ran
    grades = result.course / "grades"
    term = result.paths["report"]
    assert term == grades / "report.html" and f"term report:     {term}" in printed
    assert f"class report:    {grades / A1 / 'report.html'}" in printed
    assert "class report" in result.seconds
    for page in ((grades / A1 / "report.html").read_text(), term.read_text()):
        late = _block(page, "table", "late")
        assert demo_class.LATE in late and "1 d 9 h 30 min" in late and "20.00" in late
        review = _block(page, "table", "review")
        assert demo_class.MISSING in review and "no notebook" in review
        assert demo_class.REFERENCE not in review
        assert demo_class.ADVERSARY in _block(page, "ol", "hints")
        students = _block(page, "table", "students")
        for student in result.labels[A1]:
            assert f'href="{student}/feedback.html"' in students or (
                f'href="{A1}/{student}/feedback.html"' in students
            )
    assert "<title>Class report: a1_attention</title>" in term.read_text()  # one assignment


def test_demo_gradebook_matches_grades_csv(ran):
    """Does nbgrader's gradebook hold our score for every student, with the late policy applied?"""
    from nbgrader.api import Gradebook

    result, _ = ran
    url = f"sqlite:///{result.course / 'gradebook.db'}"
    in_db = gradebook.scores_in_gradebook(url, A1)
    rows = _csv(result.course / "grades" / A1 / "grades.csv")
    assert set(in_db) == set(rows)
    for student, row in rows.items():  # nbgrader keeps the penalty apart from the score
        # nbgrader's max includes the written answer (3 points), as grades.csv's max_with_manual
        assert in_db[student] == (pytest.approx(float(row["raw_score"])), 23.0), student
        assert float(row["max_score"]) == 20.0 and float(row["max_with_manual"]) == 23.0
        assert float(row["score"]) == float(row["raw_score"]) - float(row["penalty"])
    with Gradebook(url) as gb:
        late = gb.find_submission_notebook(A1, A1, demo_class.LATE)
        on_time = gb.find_submission_notebook(A1, A1, demo_class.REFERENCE)
        assert late.late_submission_penalty == 20.0 and on_time.late_submission_penalty is None


def test_cli_grade_with_json_answers_into_a_gradebook(ran, tmp_path, capsys):
    """`grade --answers answers.json --gradebook URL` gives the same scores, recorded."""
    result, _ = ran
    answers = tmp_path / "answers.json"
    with zipfile.ZipFile(result.paths["gradescope"]) as zf:
        answers.write_bytes(zf.read("answers.json"))
    url = f"sqlite:///{tmp_path / 'gb.db'}"
    out = tmp_path / "out"
    argv = ["grade", A1, str(result.course / "submitted"), "--out", str(out), "--quiet"]
    argv += ["--due", demo.DUEDATE, "--late-policy", demo.LATE_PENALTY]  # as the demo grades
    assert cli.main([*argv, "--answers", str(answers), "--gradebook", url]) == 0
    ours = _csv(out / "grades.csv")
    demo_rows = _csv(result.course / "grades" / A1 / "grades.csv")
    assert {s: r["score"] for s, r in ours.items()} == {s: r["score"] for s, r in demo_rows.items()}
    # nbgrader's max counts the 3-point written answer, which no autograder fills in
    assert gradebook.scores_in_gradebook(url, A1)[demo_class.REFERENCE] == (20.0, 23.0)
    assert "scores recorded" in capsys.readouterr().out


@pytest.mark.parametrize("assignment", ["a3_gpt", "a4_translation", "a5_vit", "a6_scaling"])
def test_later_assignments_get_catalog_bugs_spread_over_their_units(assignment):
    released = json.loads(
        (demo.REPO / "assignments" / assignment / f"{assignment}.ipynb").read_text()
    )
    units = demo_class._units(released)
    bugs = demo_class.catalog_bugs(assignment, units)
    assert len(bugs) == len(demo_class.BUGGY)
    edited = [next(iter(cells)) for _name, cells in bugs]
    assert edited[: len(units)] == units[: len(edited)]  # one per unit first, in course order
