"""The real nbgrader feedback loop on a1: generate_assignment, autograde, generate_feedback.

A student who reads nbgrader's feedback (not ours) must see their score and, for a bug,
the `FAIL <check>: message` line that the test cell's check() printed.
"""

import html
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from autograder.assignments.a1_attention.catalog.bugs import BUGS
from autograder.demo_class import replace_cells, solved_notebook, write_notebook
from tests.autograder.test_release import MANUAL, run_nbgrader
from tests.notebooks.outputs import check_solution_outputs

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
A1 = "a1_attention"
CORRECT, BUGGY = "alice", "bob"
WRITTEN = sum(MANUAL[A1].values())  # nbgrader's max counts the written answer, ungraded yet


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A temporary course after the real nbgrader commands (autograde, generate_feedback)."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / A1, course / "solutions" / A1)
    start = time.monotonic()
    run_nbgrader(course, "generate_assignment", A1)
    # Submissions start from nbgrader's own release (its cells carry nbgrader's checksums).
    released = course / "assignments" / A1 / f"{A1}.ipynb"
    solved = solved_notebook(course / "solutions" / A1 / f"{A1}.ipynb", released)
    write_notebook(course / "submitted", CORRECT, A1, solved)
    buggy = replace_cells(solved, BUGS["bug_no_scale"][0])  # logits not divided by sqrt(d_k)
    write_notebook(course / "submitted", BUGGY, A1, buggy)
    run_nbgrader(course, "autograde", A1, "--create")
    run_nbgrader(course, "generate_feedback", A1)
    print(
        f"\nnbgrader generate_assignment + autograde (2) + generate_feedback: "
        f"{time.monotonic() - start:.1f} s"
    )
    return course


@pytest.fixture(scope="module")
def feedback(course):
    """`{student: feedback HTML}` of nbgrader's generate_feedback."""
    pages = {}
    for student in (CORRECT, BUGGY):
        path = course / "feedback" / student / A1 / f"{A1}.html"
        assert path.is_file(), f"no feedback for {student}: {sorted(course.rglob('*.html'))}"
        pages[student] = path.read_text(encoding="utf-8")
    return pages


def test_solved_notebook_runs_clean_under_nbgrader(course):
    """What tests/notebooks checks of the other solutions, on nbgrader's executed copy."""
    executed = course / "autograded" / CORRECT / A1 / f"{A1}.ipynb"
    check_solution_outputs(nbformat.read(executed, as_version=4))


def _printed(page):
    """What the notebook's cells printed on stdout, as shown in the feedback page."""
    blocks = re.findall(r'class="[^"]*output_stdout[^"]*">\s*<pre>(.*?)</pre>', page, re.DOTALL)
    return html.unescape("".join(blocks))


def _score(page):
    """The notebook score line of nbgrader's feedback page, as (score, max_score)."""
    match = re.search(rf"{A1} \(Score: ([\d.]+) / ([\d.]+)\)", page)
    assert match, "no notebook score in the feedback page"
    return float(match.group(1)), float(match.group(2))


def test_correct_submission_feedback_shows_full_marks(feedback):
    """Does the solved notebook's feedback say 20 / 23 (all autograded points), every check ok?"""
    assert _score(feedback[CORRECT]) == (20.0, 20.0 + WRITTEN)
    printed = _printed(feedback[CORRECT])
    assert "FAIL" not in printed
    assert "  ok    masked keys get zero weight" in printed
    assert printed.count("Public tests passed.") == 4  # one per unit's test cell


def test_buggy_submission_feedback_shows_the_lost_points(feedback):
    """Does the missing 1/sqrt(d_k) cost its test cell and SelfAttention's (which uses it)?"""
    score, top = _score(feedback[BUGGY])
    assert top == 20.0 + WRITTEN and score < top
    assert score == 20.0 - 6 - 7  # nbgrader scores a failing test cell 0, whole
    assert re.search(r"Score: 0\.0 / 6\.0", feedback[BUGGY])


def test_buggy_submission_feedback_shows_the_fail_line(feedback):
    """Does check()'s `FAIL <check>: message` line reach the student through nbgrader?"""
    printed = _printed(feedback[BUGGY])
    assert "  ok    output and weights shapes" in printed
    assert "  FAIL  matches float64 reference: weights (is the scale 1/sqrt(d_k)?)" in printed
    assert "  FAIL  causal mask hides the future:" in printed  # SelfAttention uses the bug
    assert printed.count("Public tests passed.") == 2  # causal_mask and padding_mask
    assert "public checks of scaled_dot_product_attention failed" in html.unescape(feedback[BUGGY])
