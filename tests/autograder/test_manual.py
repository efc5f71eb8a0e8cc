"""Manually graded answers: source format, release, pending points, outputs, answers page."""

import base64
import csv
import importlib.util
import json
import re
from pathlib import Path

import nbformat
import pytest

from autograder.notebook.extract import extract
from autograder.notebook.manual import manual_points, pending
from autograder.notebook.read import Notebook
from autograder.pipeline import StudentResult
from autograder.pipeline import TestResult as Check
from autograder.release import release_notebook
from autograder.reports import answers, results

ROOT = Path(__file__).resolve().parents[2]
SOURCE = """\
# %% [markdown]
**Q1.** Why is attention fast on GPUs?

# %% [manual] grade_id=manual_why points=3
### BEGIN SOLUTION
Big matrix products run in parallel.
### END SOLUTION

# %% [solution] grade_id=f
def f(x):
    ### BEGIN SOLUTION
    return x + 1
    ### END SOLUTION

# %% [tests] grade_id=test_f points=2
assert f(1) == 2

# %% [manual-code] grade_id=manual_plot points=2
import base64, IPython.display
### BEGIN SOLUTION
PNG = base64.b64decode("{png}")
IPython.display.display(IPython.display.Image(data=PNG, format="png"))
print("measured 12.5 ms per step")
### END SOLUTION

# %% [task] grade_id=task_explore points=1
**Task.** Explore the data in the cells below.

# %% [code]
print("explored <b>data</b>")
"""
# A 1x1 PNG, so the test needs no plotting library.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def _build():
    spec = importlib.util.spec_from_file_location("build_nb", ROOT / "tools/build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.parse_source(SOURCE.replace("{png}", PNG))


def _meta(nb, gid):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def test_manual_kinds_carry_nbgrader_09_metadata():
    """Do `manual`, `manual-code` and `task` cells get nbgrader's schema-3 metadata, accepted by nbgrader?"""
    from nbgrader.nbgraderformat.v3 import MetadataValidatorV3

    nb = _build()
    base = {"schema_version": 3, "locked": False, "grade": True, "solution": True}
    assert _meta(nb, "manual_why").metadata.nbgrader == {
        **base, "grade_id": "manual_why", "points": 3
    }  # fmt: skip
    assert _meta(nb, "manual_why").cell_type == "markdown"
    assert _meta(nb, "manual_plot").cell_type == "code"
    assert _meta(nb, "manual_plot").metadata.nbgrader["points"] == 2
    task = _meta(nb, "task_explore")
    assert task.cell_type == "markdown" and task.metadata.nbgrader == {
        "schema_version": 3, "grade_id": "task_explore", "points": 1,
        "grade": False, "solution": False, "locked": True, "task": True,
    }  # fmt: skip
    MetadataValidatorV3().validate_nb(nb)  # raises on a malformed nbgrader cell
    assert manual_points(nb) == {"manual_why": 3.0, "manual_plot": 2.0, "task_explore": 1.0}


def test_release_keeps_nbgrader_placeholders_in_manual_cells():
    """Is a written answer released as "YOUR ANSWER HERE" and a plot cell as the code stub?"""
    released = release_notebook(_build())
    assert _meta(released, "manual_why").source == "YOUR ANSWER HERE"
    plot = _meta(released, "manual_plot").source
    assert "raise NotImplementedError()" in plot and "12.5 ms" not in plot
    assert _meta(released, "task_explore").source.startswith("**Task.**")


def test_pending_counts_answered_cells_and_tasks_only():
    """Is an answer left as released 'not answered' (0 points, as nbgrader gives), others pending?"""
    solution = _build()
    released = Notebook(Path("n.ipynb"), release_notebook(solution))
    both = pending(Notebook(Path("s.ipynb"), solution), released)
    assert both.points == 6.0 and both.unanswered == []
    assert "manual: pending 6 points" in both.note()
    none = pending(Notebook(Path("s.ipynb"), release_notebook(solution)), released)
    assert none.points == 1.0 and none.unanswered == ["manual_why", "manual_plot"]
    assert "not answered: manual_why, manual_plot" in none.note()


def test_extraction_leaves_manual_code_cells_out():
    """Is a manually graded code cell (a plot) never run by the grader, the units still are?"""
    solution = _build()
    released = Notebook(Path("n.ipynb"), release_notebook(solution))
    code = extract(Notebook(Path("s.ipynb"), solution), released)
    assert code.units_present == {"f"}
    assert "PNG" not in code.source and "def f" in code.source


def _result():
    result = StudentResult("ann", "a1", max_score=2.0, manual_pending=3.0)
    result.manual_note = "manual: pending 3 points (written answers)"
    result.manual_unanswered = ["manual_plot"]
    result.tests = [Check("f: ok", 2.0, 2.0, "", unit="f")]
    return result


def test_outputs_say_manual_points_are_pending(tmp_path):
    """grades.csv: auto score of the auto max, `manual_pending`, `max_with_manual`; JSON and HTML say it."""
    row = {"student": "ann", "assignment": "a1", "score": 2.0, "max_score": 2.0}
    results.write_grades_csv(tmp_path, [{**row, "manual_pending": 3.0}], manual_max=5.0)
    (line,) = csv.DictReader((tmp_path / "grades.csv").open())
    assert (line["score"], line["max_score"], line["percent"]) == ("2.00", "2.00", "100.0")
    assert line["manual_pending"] == "3 points" and line["max_with_manual"] == "7.00"
    doc = results.gradescope_results(_result())
    assert doc["score"] == 2.0 and [t["max_score"] for t in doc["tests"]] == [2.0]
    assert doc["output"].startswith("manual: pending 3 points")
    assert doc["extra_data"]["manual_pending"] == 3.0
    assert doc["extra_data"]["manual_unanswered"] == ["manual_plot"]
    json.dumps(doc)
    page = results.feedback_html(_result())
    assert page.count("manual: pending 3 points") == 1


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The solution notebook run in a real kernel (outputs: the PNG, the printed lines)."""
    from nbclient import NotebookClient

    folder = tmp_path_factory.mktemp("executed")
    nb = _build()
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    path = folder / "n.ipynb"
    nbformat.write(nb, str(path))
    released = folder / "released.ipynb"
    nbformat.write(release_notebook(_build()), str(released))
    return path, released


def test_answers_page_holds_text_and_embedded_plot(executed, tmp_path):
    """Does the page hold each answer's text, the plot as a data: image and a task's work, escaped?"""
    path, released = executed
    page = answers.page_for(path, released, title="a1", student="ann")
    assert "Why is attention fast on GPUs?" in page  # the question
    assert "Big matrix products run in parallel." in page  # the written answer
    assert "measured 12.5 ms per step" in page  # the plot cell's printed output
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert images == [PNG]
    assert base64.b64decode(images[0]).startswith(b"\x89PNG")
    assert "explored &lt;b&gt;data&lt;/b&gt;" in page  # a task's work, escaped
    assert "<script" not in page and not re.search(r"(src|href)=\"https?:", page)
    assert "a1 &mdash; ann" in page and "6 points in all" in page


def test_answers_page_says_when_an_answer_is_missing(executed, tmp_path):
    path, released = executed
    nb = nbformat.read(str(path), as_version=4)
    nb.cells = [
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "manual_why"
    ]
    nbformat.write(nb, str(tmp_path / "s.ipynb"))
    page = answers.answers_page(tmp_path / "s.ipynb", released)
    assert "This answer cell is missing" in page and "12.5 ms" in page
