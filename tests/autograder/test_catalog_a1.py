"""The a1_attention grading catalog, audited in ONE run: bugs, alternatives, attacks.

Besides what every catalog checks (tests/autograder/catalog_tests.py):
- ADVERSARIAL: submissions built on the released (empty) notebook that try to cheat or to
  break the grader. Each scores no more than the empty submission, and the honest students
  in the same batch (one first, one last) keep full marks.
- FLAGGED: attacks the static scan flags for instructor review.
"""

from pathlib import Path

import pytest

from autograder.assignments.a1_attention.catalog import ATTACKS, BREACHES, FLAGGED
from autograder.assignments.a1_attention.catalog.bugs import SA
from autograder.catalog import results
from tests.autograder.catalog_tests import CatalogTests

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("audit_a1_attention")]


class TestA1Catalog(CatalogTests):
    assignment = "a1_attention"
    max_score = 20.0

    @pytest.mark.parametrize(
        "attack",
        [
            pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=BREACHES[n]))
            if n in BREACHES
            else n
            for n in sorted(ATTACKS)
        ],
    )
    def test_adversarial_scores_no_more_than_empty(self, report, attack):
        assert report.adversarial[attack]["score"] <= report.empty, report.adversarial[attack]

    def test_adversarial_catalog_size_and_no_side_effects(self, report):
        """Are there at least 25 adversarial notebooks, none of which left a file behind on the host?"""
        assert len(report.adversarial) >= 25
        assert not Path("/tmp/pwned-by-student").exists()
        assert not Path("/work/main/fill.bin").exists() and not Path("/var/tmp/fill.bin").exists()

    def test_forbidden_api_reported_by_name(self, report):
        res = results(report.out, "adv_getattr_forbidden")
        assert "Forbidden APIs were called at run time" in res["output"], res["output"]
        assert "dot_product_attention" in res["output"]

    def test_no_bias_layer_reports_the_weight_shapes(self, report):
        """The construct error names the sublayer and both shapes, for every call of the layer."""
        res = results(report.out, "bug_sa_no_bias")
        for test in (t for t in res["tests"] if t["name"].startswith(SA + ":")):
            assert "Building the layer failed" in test["output"], test["output"]
            assert "weights for 'query_dense': the layer has shapes [(12, 8)]" in test["output"]
            assert "the grader gives [(12, 8), (8,)]" in test["output"]

    @pytest.mark.parametrize("attack", sorted(FLAGGED))
    def test_suspicious_code_flagged_for_review(self, report, attack):
        assert FLAGGED[attack] in report.adversarial[attack]["flags"]
        assert "Flagged for instructor review" in results(report.out, attack)["output"]

    def test_runaway_submissions_stopped_by_the_sandbox(self, report):
        # A cell that never ends is stopped on its own (the other cells still run); a fork
        # bomb's cell too, and (this host has a slot uid) its processes are killed before
        # the calls. (Whether the calls then finish within the wall limit depends on load.)
        loop = results(report.out, "adv_infinite_loop")["output"]
        assert "the cell (a loop that never ends at its top level?) exceeded its soft time" in loop
        bomb = results(report.out, "adv_fork_bomb")
        assert "exceeded its soft time limit" in bomb["output"], bomb["output"]
        assert "started and left running were stopped before grading" in bomb["output"]
        assert bomb["score"] == 0.0
