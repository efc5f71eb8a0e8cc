"""`python -m autograder similarity` on a planted class of a1, a2 and a3.

The planted class (tests/autograder/planted.py): the reference, every correct alternative
of the catalog, a disguised copy of each (locals renamed, independent statements swapped,
comments and blank lines added) and two stub-only students. Per unit, a pair is a true
copy when both students' code for that unit comes from the same catalog entry. At the
chosen threshold the copies must all be found (recall 1.0) with few false alarms
(precision >= 0.9), the stubs must match nothing once the released code is excluded, and
the report must open in headless Chromium, self-contained, with the matches marked.
"""

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.similarity import compare, run
from tests.autograder.planted import STUB_A, STUB_B, write_planted_class
from tests.browser import PageLog, chromium_context

pytestmark = pytest.mark.slow
ASSIGNMENTS = ("a1_attention", "a2_transformer", "a3_gpt")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def planted(request, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"planted-{request.param}")
    origins, sources = write_planted_class(request.param, base / "submitted")
    result = run.check(request.param, base / "submitted", out=base / "report")
    return {"assignment": request.param, "origins": origins, "sources": sources,
            "result": result, "base": base}  # fmt: skip


def _scores(result):
    return {(p.unit, p.left, p.right): p.score for ps in result.pairs.values() for p in ps}


def test_precision_and_recall_at_the_threshold(planted):
    """Every pair of students, per unit: is each copy found, with few false alarms?"""
    scores, origins = _scores(planted["result"]), planted["origins"]
    units = sorted({u for o in origins.values() for u in o})
    tp = fp = fn = 0
    for unit in units:
        for left, right in itertools.combinations(sorted(origins), 2):
            same = origins[left][unit] == origins[right][unit]
            flagged = scores.get((unit, left, right), 0.0) > compare.THRESHOLD
            tp += same and flagged
            fp += flagged and not same
            fn += same and not flagged
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    print(f"\n{planted['assignment']}: precision {precision:.3f} recall {recall:.3f} "
          f"(tp {tp}, fp {fp}, fn {fn}, threshold {compare.THRESHOLD})")  # fmt: skip
    assert tp > 0 and recall == 1.0 and precision >= 0.9


def test_each_disguised_copy_scores_above_the_threshold_on_every_unit(planted):
    scores = _scores(planted["result"])
    for copy, source in planted["sources"].items():
        for unit in planted["origins"][copy]:
            key = (unit, *sorted((copy, source)))
            assert scores.get(key, 0.0) > compare.THRESHOLD, (key, scores.get(key))


def test_stub_only_students_match_nothing(planted):
    """The released stubs are excluded as boilerplate: two empty notebooks are not 'similar'."""
    students = {s for ps in planted["result"].pairs.values() for p in ps for s in (p.left, p.right)}
    assert STUB_A not in students and STUB_B not in students
    assert set(planted["origins"]) <= students


def test_report_and_json_agree_and_change_no_score(planted):
    summary = json.loads((planted["base"] / "report" / "similarity.json").read_text())
    flagged = sum(r["flagged"] for r in summary["pairs"])
    assert flagged == planted["result"].flagged > 0
    html = planted["result"].report.read_text()
    assert "<mark" in html and "http://" not in html and "https://" not in html
    assert not list(planted["base"].rglob("grades.csv"))  # flags for review, grades nothing


def test_cli_prints_the_report_and_the_count(tmp_path):
    origins, _ = write_planted_class("a1_attention", tmp_path / "submitted")
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "similarity", "a1_attention",
         str(tmp_path / "submitted"), "--out", str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert str(tmp_path / "out" / "similarity.html") in done.stdout
    assert "above the threshold" in done.stdout


def test_report_opens_in_chromium_self_contained(planted):
    if planted["assignment"] != ASSIGNMENTS[0]:
        pytest.skip("one browser check is enough")
    with chromium_context() as context:
        page = context.new_page()
        log = PageLog(page)
        page.goto(planted["result"].report.resolve().as_uri())
        page.wait_for_load_state("load")
        assert log.errors == [] and log.failed == [] and log.remote() == []
        assert page.locator("mark").count() > 0
        artifacts = REPO / "build" / "test-artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(artifacts / "similarity.png"), full_page=True)
