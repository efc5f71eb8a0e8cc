"""Real nbgrader on the later notebooks: generate_assignment, then autograde of the solution.

a3 (a given-layer import from course_lib, generation) and a6 (two logical CPU devices set
up in the kernel, image files, MirroredStrategy) are the ones that differ most from a1/a2.
Under nbgrader the training sections run in quick mode (nbgrader_config.py sets
COURSE_QUICK=1), since they are not graded.
"""

import shutil

import nbformat
import pytest

from tests.autograder.test_release import ROOT, run_nbgrader
from tests.notebooks.outputs import check_solution_outputs

LATER = [("a3_gpt", 37.0, 4.0), ("a6_scaling", 23.0, 8.0)]  # (name, autograded, manual points)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "points", "manual"), LATER)
def test_nbgrader_autograde_gives_the_later_solutions_full_marks(
    name, points, manual, tmp_path, monkeypatch
):
    """Full autograded marks; the written answers (and a6's plot cell, run) left for manual grading."""
    monkeypatch.delenv("COURSE_QUICK", raising=False)  # nbgrader_config.py must set it
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    shutil.copytree(ROOT / "solutions" / name, tmp_path / "solutions" / name)
    run_nbgrader(tmp_path, "generate_assignment", name)
    released = (tmp_path / "assignments" / name / f"{name}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in released and "HIDDEN TESTS" not in released
    submitted = tmp_path / "submitted" / "alice" / name
    submitted.mkdir(parents=True)
    nb = nbformat.read(tmp_path / "solutions" / name / f"{name}.ipynb", as_version=4)
    nbformat.write(nb, submitted / f"{name}.ipynb")
    run_nbgrader(tmp_path, "autograde", name, "--create")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(name, "alice")
        assert (submission.score, submission.max_score) == (points, points + manual)
        assert submission.needs_manual_grade
    graded = tmp_path / "autograded" / "alice" / name / f"{name}.ipynb"
    assert "not checked in quick mode" in graded.read_text()  # the training ran, as a smoke run
    # What tests/notebooks checks of the other solutions, on nbgrader's executed copy.
    check_solution_outputs(nbformat.read(graded, as_version=4))
