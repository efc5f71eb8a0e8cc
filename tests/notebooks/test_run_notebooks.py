"""Every assignment notebook runs top to bottom in a real kernel (nbclient).

The kernels run with COURSE_QUICK=1: each notebook's training section shrinks to a
smoke run (benchmarks/notebook_targets.py runs them in full and records the targets).
"""

import sys
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager

from autograder.assignments.registry import ASSIGNMENTS
from autograder.notebook.manual import is_manual
from tests.autograder.test_nbgrader_feedback import A1
from tests.autograder.test_nbgrader_later import LATER
from tests.notebooks.outputs import check_solution_outputs, notebook_errors

ROOT = Path(__file__).resolve().parents[2]
NAMES = ASSIGNMENTS
QUICK_ENV = "COURSE_QUICK"
# Solutions executed by a real `nbgrader autograde` in tests/autograder (with the checks below).
RUN_BY_NBGRADER = (A1, *(name for name, _, _ in LATER))


@pytest.fixture(autouse=True)
def _quick_mode(monkeypatch):
    """The kernel inherits the environment: notebooks train in quick mode."""
    monkeypatch.setenv(QUICK_ENV, "1")


def _run(path, tmp_path, *, allow_errors):
    """Executes a copy of the notebook with the venv's python3 kernel; returns (nb, seconds)."""
    from nbclient import NotebookClient

    spec = KernelSpecManager().get_kernel_spec("python3")
    # "python" in the kernelspec argv is replaced by sys.executable: the venv's interpreter.
    assert spec.argv[0] in ("python", "python3", sys.executable), spec.argv
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=600,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in NAMES if n not in RUN_BY_NBGRADER])
def test_solution_notebook_passes_all_its_checks(name, tmp_path):
    """Does the instructor notebook, hidden tests included, run with no error and no stderr in tests?

    The solutions that a real `nbgrader autograde` runs elsewhere (RUN_BY_NBGRADER) get the
    same checks there, on nbgrader's executed copy: each notebook runs once per session.
    """
    nb, seconds = _run(ROOT / "solutions" / name / f"{name}.ipynb", tmp_path, allow_errors=False)
    check_solution_outputs(nb)
    print(f"{name}: {seconds:.1f} s")


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_released_notebook_fails_only_on_todos(name, tmp_path):
    """Does the student notebook run, every error being a NotImplementedError of a TODO?"""
    nb, seconds = _run(ROOT / "assignments" / name / f"{name}.ipynb", tmp_path, allow_errors=True)
    errors = notebook_errors(nb)
    assert errors, "the released notebook must not pass its tests without code"
    assert {out.ename for _, out in errors} == {"NotImplementedError"}, [
        (where, out.ename, out.evalue) for where, out in errors
    ]
    failing_tests = {where for where, _ in errors if str(where).startswith("test_")}
    nb_meta = nbformat.read(ROOT / "assignments" / name / f"{name}.ipynb", as_version=4)
    units = [
        c.metadata.nbgrader.grade_id
        for c in nb_meta.cells
        if c.metadata.get("nbgrader", {}).get("solution")
        and not is_manual(c)  # a written answer, graded by a person
        and not c.metadata.nbgrader.grade_id.startswith("answer_")
    ]
    assert failing_tests == {f"test_{unit}" for unit in units}
    print(f"{name}: {seconds:.1f} s")
