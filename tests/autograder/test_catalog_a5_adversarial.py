"""The a1 adversarial catalog and the malformed-notebook catalog, graded on a5_vit.

The attacks and malformed notebooks that the a1/a2 grader resists must be resisted by a
later assignment's suite too, through the whole pipeline in ONE run (the `ATTACKS` catalog
of autograder/assignments/a5_vit/catalog/, audited):
- every a1 adversarial notebook, with its paths pointed at a5_vit, plus attacks aimed at
  a5's own units: each scores no more than the empty notebook;
- malformed notebooks (invalid JSON, nbformat 3, non-UTF-8 bytes, stripped metadata, a huge
  output, a duplicated or deleted graded cell, a syntax error): each gets a message, honest
  work in them keeps its points where the cell is still there (a 60 MB notebook is graded
  with its outputs dropped and told to clear them next time), and the batch goes on.
"""

import pytest

from autograder.assignments.a5_vit.catalog import ADVERSARIAL
from tests.autograder.catalog_tests import audited

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("audit_a5_vit_attacks")]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return audited("a5_vit", "attacks", tmp_path_factory)


def test_whole_class_graded_in_one_run(report):
    assert report.students == 2 + len(ADVERSARIAL) + len(report.malformed)
    assert report.honest == {"reference": report.max_score} and report.empty == 0.0


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_scores_no_more_than_empty(report, name):
    assert report.adversarial[name]["score"] <= report.empty, report.adversarial[name]


def test_malformed_notebooks_each_get_a_message(report):
    assert len(report.malformed) == 8
    assert all(item["named"] for item in report.malformed.values()), report.malformed


def test_malformed_notebooks_keep_the_points_of_intact_cells(report):
    scores = {name: item["score"] for name, item in report.malformed.items()}
    top = report.max_score
    for student in ("nbformat3", "non_utf8", "stripped_metadata", "duplicated_cell", "huge_output"):
        assert scores[student] == top, report.malformed
    for student in ("deleted_cell", "syntax_error"):  # only extract_patches (5 points) is lost
        assert scores[student] == top - 5, report.malformed
    assert scores["invalid_json"] == 0.0


def test_audit_finds_no_problem(report):
    assert report.problems == []
