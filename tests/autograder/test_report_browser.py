"""The class report and a student's feedback.html in a real browser (headless Chromium).

The demo grades a small real class (a1 and a2: the reference, a stub, an adversary, buggy,
late and missing submissions); the pages are opened from disk with file:// URLs and their
DOM is checked against grades.csv and results.json, read here independently of the
report's code. Full-page screenshots are kept in build/test-artifacts/ for a person to look at.
"""

import collections
import csv
import io
import json
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from autograder import demo, demo_class
from tests.browser import PageLog, chromium_context

pytestmark = pytest.mark.slow
A1, A2 = "a1_attention", "a2_transformer"
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("report-browser")
    result = demo.run(
        out, assignments=(A1, A2), progress=False, gradescope=False, stream=io.StringIO()
    )
    return result.course / "grades"


@pytest.fixture(scope="module")
def browser():
    with chromium_context() as context:
        yield context


def _open(context, path):
    page = context.new_page()
    log = PageLog(page)
    page.goto(Path(path).resolve().as_uri())
    page.wait_for_load_state("load")
    return page, log


def _clean(page, log):
    """No console error, no failed request, nothing fetched beyond file:// and data:."""
    assert log.errors == [] and log.failed == [] and log.remote() == []
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page overflows horizontally: {width}"
    broken = page.evaluate(
        "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt)"
    )
    assert broken == []


def _screenshot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _facts(folder):
    """What the page must show, from grades.csv and results.json."""
    rows = list(csv.DictReader((folder / "grades.csv").open()))
    results = {
        r["student"]: json.loads((folder / r["student"] / "results.json").read_text()) for r in rows
    }
    graded = [s for s, r in results.items() if r["extra_data"]["status"] == "graded"]
    checks = collections.defaultdict(lambda: [0, 0])
    hints = collections.defaultdict(set)
    for student in graded:
        for test in results[student]["tests"]:
            checks[test["name"]][1] += 1
            checks[test["name"]][0] += test["status"] == "passed"
            if test["status"] != "passed" and test["output"].strip() not in ("", "Passed."):
                hints[test["output"].strip()].add(student)
    review = [
        s
        for s, r in results.items()
        if r["extra_data"]["flags"] or r["extra_data"]["status"] != "graded"
    ]
    return {
        "students": len(rows),
        "graded": len(graded),
        "late": sum(bool(r["late"]) for r in rows),
        "review": sorted(review),
        "checks": {name: f"{p} / {n}" for name, (p, n) in checks.items()},
        "top hint": max(len(s) for s in hints.values()),
        "rows": {r["student"]: r for r in rows},
    }


def test_class_report_shows_the_counts_of_the_grades(graded, browser):
    """Do the numbers on the page equal grades.csv and results.json, with every plot loaded?"""
    facts = _facts(graded / A1)
    page, log = _open(browser, graded / A1 / "report.html")
    assert page.title() == f"Class report: {A1}"
    assert page.evaluate("document.querySelector('img.histogram').naturalWidth") > 0
    text = lambda sel: page.inner_text(sel).strip()
    assert int(text(".n-students")) == facts["students"] == len(demo_class.BUGGY) + 5
    assert int(text(".n-graded")) == facts["graded"]
    assert int(text(".n-late")) == facts["late"] == 1
    assert int(text(".n-review")) == len(facts["review"])
    shown = page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('tr[data-check]')]"
        ".map(r => [r.dataset.check, r.querySelector('td.passed').innerText.trim()]))"
    )
    assert shown == facts["checks"]
    top = page.inner_text("ol.hints li.hint .count")
    assert top == f"{facts['top hint']} of {facts['graded']}"
    review = page.inner_text("table.review")
    assert all(student in review for student in facts["review"])
    assert demo_class.LATE in page.inner_text("table.late")
    assert page.locator("img.unit-chart").count() == len({n.split(":")[0] for n in facts["checks"]})
    _clean(page, log)
    _screenshot(page, "report.png")


def test_every_feedback_link_resolves_and_opens(graded, browser):
    """Does each student's link lead to their feedback.html on disk, and does one open?"""
    page, log = _open(browser, graded / A1 / "report.html")
    hrefs = page.eval_on_selector_all("a.feedback", "links => links.map(a => a.href)")
    targets = [Path(unquote(urlparse(h).path)) for h in hrefs]
    assert sorted(t.parent.name for t in targets) == sorted(_facts(graded / A1)["rows"])
    assert all(t.is_file() and t.name == "feedback.html" for t in targets)
    with page.expect_navigation():
        page.click(f"a.feedback >> text={demo_class.LATE}")
    assert page.title() == f"{A1}: {demo_class.LATE}"
    assert log.errors == [] and log.failed == [] and log.remote() == []


def test_term_report_tabulates_every_assignment(graded, browser):
    """One row per student, one column per assignment, each cell the percent of grades.csv."""
    page, log = _open(browser, graded / "report.html")
    assert page.title() == "Term report: 2 assignments"
    cells = page.evaluate(
        "[...document.querySelectorAll('table.term tr')].slice(1)"
        ".map(r => [...r.cells].map(c => c.innerText.trim()))"
    )
    a1, a2 = _facts(graded / A1)["rows"], _facts(graded / A2)["rows"]
    assert [c[0] for c in cells] == sorted(a1)
    for student, p1, p2, term in cells:
        assert (p1, p2) == (a1[student]["percent"], a2[student]["percent"])
        assert float(term) == pytest.approx((float(p1) + float(p2)) / 2, abs=0.051)
    assert page.locator("img.histogram").count() == 2
    _clean(page, log)
    _screenshot(page, "term-report.png")


def test_feedback_page_groups_checks_by_unit_with_subtotals(graded, browser):
    """The student's page: a subtotal per unit equal to the sum of its checks in results.json."""
    student = demo_class.BUGGY[0]
    results = json.loads((graded / A1 / student / "results.json").read_text())
    expected = collections.defaultdict(lambda: [0.0, 0.0])
    for test in results["tests"]:
        unit = test.get("extra_data", {}).get("unit") or test["name"].split(":")[0].strip()
        expected[unit][0] += test["score"]
        expected[unit][1] += test["max_score"]
    page, log = _open(browser, graded / A1 / student / "feedback.html")
    assert page.title() == f"{A1}: {student}"
    rows = page.evaluate(
        "[...document.querySelector('table').rows].slice(1)"
        ".map(r => [r.cells[0].innerText.trim(), r.cells[2].innerText.trim()])"
    )
    assert rows == [[u, f"{s:.2f} / {m:.2f}"] for u, (s, m) in expected.items()]
    assert page.locator("h2").count() == len(expected)
    _clean(page, log)
    _screenshot(page, "feedback.png")
