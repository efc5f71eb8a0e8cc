"""The class report's aggregation (autograder.reports.class_report) on a hand-written class."""

import csv
import json
import re

import pytest

from autograder import cli
from autograder.reports import class_report, report_html
from autograder.reports.results import CSV_COLUMNS

ISOLATED = "namespaces+landlock+seccomp+uid"
MERGE = "merged heads without transposing back"
BUG = "Your output matches what you get when the mask is applied after the <softmax>."
MASK = f"The output: not within tolerance of the reference; max |difference| = 1.4 at index (0, 1). {BUG}"
MASK_2 = f"The weights differ from the reference: max |difference| = 0.9 at index (2, 0). {BUG}"
NO_NB = "No notebook found in submitted/dave/a2: expected a2.ipynb."
CHECKS = {  # name -> points; "custom check" names its unit in extra_data only
    "attn: no mask": 1.0,
    "attn: masked": 1.0,
    "heads: split": 1.0,
    "heads: merge": 1.0,
    "custom check": 1.0,
}


def _test(name, failed=(), outputs=None):
    test = {
        "name": name,
        "score": 0.0 if name in failed else CHECKS[name],
        "max_score": CHECKS[name],
        "status": "failed" if name in failed else "passed",
        "output": (outputs or {}).get(name, "Passed."),
    }
    if name == "custom check":
        test["extra_data"] = {"unit": "heads"}
    return test


def write_class(folder, assignment, students):
    """Writes FOLDER/grades.csv and FOLDER/<student>/results.json (and feedback.html)."""
    rows = []
    for student, spec in students.items():
        status = spec.get("status", "graded")
        if status == "graded":
            tests = [_test(n, spec.get("failed", ()), spec.get("outputs")) for n in CHECKS]
        else:  # as pipeline.zero_result: one zero test per unit, the reason as output
            tests = [{"name": u, "score": 0.0, "max_score": 2.5, "status": "failed", "output": NO_NB}
                     for u in ("attn", "heads")]  # fmt: skip
        score = sum(t["score"] for t in tests) - spec.get("penalty", 0.0)
        (folder / student).mkdir(parents=True)
        extra = {"assignment": assignment, "student": student, "status": status,
                 "flags": spec.get("flags", []), "isolation": spec.get("isolation", ISOLATED)}  # fmt: skip
        (folder / student / "results.json").write_text(
            json.dumps({"tests": tests, "extra_data": extra})
        )
        (folder / student / "feedback.html").write_text(f"<html><title>{student}</title></html>")
        rows.append({"student": student, "assignment": assignment, "score": f"{score:.2f}",
                     "max_score": "5.00", "percent": f"{100 * score / 5:.1f}",
                     "raw_score": f"{score + spec.get('penalty', 0.0):.2f}",
                     "late": spec.get("late", ""), "penalty": f"{spec.get('penalty', 0.0):.2f}",
                     "status": status, "isolation": extra["isolation"], "timestamp": "",
                     "notes": NO_NB if status != "graded" else ""})  # fmt: skip
    with (folder / "grades.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return folder


CLASS = {
    "alice": {},
    "bob": {
        "failed": ("attn: masked", "heads: merge"),
        "outputs": {"attn: masked": MASK, "heads: merge": MERGE},
        "late": "1 d 2 h",
        "penalty": 1.0,
    },
    "carol": {  # the same hint from two checks counts once
        "failed": ("heads: split", "heads: merge"),
        "outputs": {"heads: split": MERGE, "heads: merge": MERGE},
        "flags": ["eval"],
        "isolation": "unisolated",
    },
    "dave": {"status": "no notebook", "isolation": ""},
    "erin": {"failed": ("custom check",), "outputs": {"custom check": ""}},  # no hint text
    "frank": {"failed": ("attn: no mask",), "outputs": {"attn: no mask": MASK_2}},
}


@pytest.fixture
def a1(tmp_path):
    return write_class(tmp_path / "grades" / "a1", "a1", CLASS)


@pytest.fixture
def summary(a1):
    return class_report.summarize(class_report.load(a1))


def test_hints_count_each_student_once_most_frequent_first(summary):
    """Are hints the failed checks' outputs, without 'Passed.' or empty ones, with who got them?

    Two outputs naming the same likely bug with different numbers are one hint.
    """
    assert [(h.text, h.students, h.checks) for h in summary.hints] == [
        (BUG, ["bob", "frank"], ["attn: masked", "attn: no mask"]),
        (MERGE, ["bob", "carol"], ["heads: merge", "heads: split"]),
    ]
    assert summary.hints[0].example == min(MASK, MASK_2) and summary.hints[1].example == MERGE


def test_pass_rates_count_graded_students_per_check_and_unit(summary):
    """Does each check count the graded students who passed it, under the right unit?"""
    assert summary.graded == 5  # dave has no notebook
    rates = {u: {r.name: (r.passed, r.graded) for r in rs} for u, rs in summary.units.items()}
    assert list(rates) == ["attn", "heads"]
    assert rates["attn"]["attn: masked"] == (["alice", "carol", "erin", "frank"], 5)
    assert rates["attn"]["attn: no mask"] == (["alice", "bob", "carol", "erin"], 5)
    assert rates["heads"]["heads: merge"] == (["alice", "erin", "frank"], 5)
    assert rates["heads"]["custom check"] == (
        ["alice", "bob", "carol", "frank"],
        5,
    )  # extra_data.unit
    assert summary.unit_passed == {"attn": ["alice", "carol", "erin"], "heads": ["alice", "frank"]}


def test_late_flags_and_isolation(summary):
    """Late rows, submissions to review (flagged or not graded) and isolation counts."""
    assert [(r["student"], r["late"], r["penalty"], r["raw_score"]) for r in summary.late] == [
        ("bob", "1 d 2 h", 1.0, 3.0)
    ]
    assert [(r["student"], r["status"], r["flags"]) for r in summary.review] == [
        ("carol", "graded", ["eval"]),
        ("dave", "no notebook", []),
    ]
    assert summary.isolation == {ISOLATED: 4, "(not run)": 1, "unisolated": 1}
    assert summary.percents == [100.0, 40.0, 60.0, 0.0, 80.0, 80.0]


def test_term_table_is_student_by_assignment(tmp_path, summary):
    """A student missing from an assignment shows None there and counts 0 in the term mean."""
    a2 = write_class(
        tmp_path / "grades" / "a2", "a2", {"alice": {}, "bob": {"failed": ["attn: masked"]}}
    )
    second = class_report.summarize(class_report.load(a2))
    names, rows = class_report.term_table([summary, second])
    assert names == ["a1", "a2"]
    table = {r["student"]: (r["percents"], r["term"]) for r in rows}
    assert table["bob"] == ({"a1": 40.0, "a2": 80.0}, 60.0)
    assert table["carol"] == ({"a1": 60.0, "a2": None}, 30.0)
    assert set(table) == set(CLASS)
    with pytest.raises(class_report.ReportError, match="same assignment appears twice"):
        class_report.term_table([summary, summary])


def test_report_page_is_self_contained_escaped_and_links_feedback(a1, tmp_path):
    """One <img> per plot as a data: URI, hints escaped, links relative to the report."""
    out = tmp_path / "elsewhere" / "term.html"
    a2 = write_class(tmp_path / "grades" / "a2", "a2", {"alice": {}})
    page = report_html.build_report([a1, a2], out).read_text()
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 2 * (1 + 2) and all(
        s.startswith("data:image/png;base64,") for s in sources
    )
    assert "http" not in page.replace("http-equiv", "")
    assert "&lt;softmax&gt;" in page and "<softmax>" not in page
    links = re.findall(r'href="([^"#]*)"', page)
    assert "../grades/a1/bob/feedback.html" in links and len(links) == len(CLASS) + 1
    assert all((out.parent / link).is_file() for link in links)
    assert "2 of 5" in page and "Term summary" in page


def test_cli_writes_the_report_next_to_the_grades(a1, capsys):
    assert cli.main(["report", str(a1)]) == 0
    assert capsys.readouterr().out.strip() == str(a1 / "report.html")
    assert "<title>Class report: a1</title>" in (a1 / "report.html").read_text()


def test_missing_grades_csv_says_to_grade_first(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "No grades.csv" in err and "python -m autograder grade" in err
    assert list(tmp_path.iterdir()) == []


def test_unreadable_results_json_writes_nothing(a1, tmp_path, capsys):
    (a1 / "carol" / "results.json").write_text("{not json")
    out = tmp_path / "term.html"
    assert cli.main(["report", str(a1), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "carol/results.json" in err and "--force" in err
    assert not out.exists() and not (a1 / "report.html").exists()


def test_missing_results_json_and_several_dirs_without_out(a1, tmp_path, capsys):
    a2 = write_class(tmp_path / "a2", "a2", {"alice": {}})
    assert cli.main(["report", str(a1), str(a2)]) == 2
    assert "needs --out" in capsys.readouterr().err
    (a1 / "bob" / "results.json").unlink()
    with pytest.raises(class_report.ReportError, match="bob/results.json is missing"):
        class_report.load(a1)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "grades.csv").write_text("name,points\nx,1\n")
    with pytest.raises(class_report.ReportError, match="has no column student, score, max_score"):
        class_report.load(tmp_path / "bad")
