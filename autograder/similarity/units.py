"""Each student's own code per unit, and each unit's boilerplate: what `compare` fingerprints.

A unit's code is what `autograder.notebook.extract` keeps of the student's solution cell
(imports, definitions, assignments; no bare expressions, no magics). Its boilerplate is the
released notebook's stub of that cell (signature, docstring, `raise NotImplementedError`)
and every other code cell the notebook gives (setup, demos, tests): text every student has,
which copydetect's `boilerplate` drops from the fingerprints. Multiple-choice cells
(`answer_*`) are not compared: a set of letters says nothing about who wrote it.

Example:
    code = collect("a1_attention", "submitted", release_root="assignments")
    code.by_unit["causal_mask"]["alice"]  # alice's causal_mask cell, as extracted
"""

import dataclasses
from pathlib import Path

from autograder.notebook.extract import extract
from autograder.notebook.read import (
    ANSWER_PREFIX,
    NotebookError,
    grade_id,
    is_solution,
    read_notebook,
)
from autograder.submissions import find_submissions

REPO = Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class ClassCode:
    """The code of a class of submissions, per unit.

    Attributes:
        assignment: the assignment's name.
        units: the compared units, in notebook order.
        by_unit: unit -> {student: the code of the student's cell for it}.
        boilerplate: unit -> the text every student was given (stub and notebook cells).
        skipped: student -> why the submission could not be read.
    """

    assignment: str
    units: tuple
    by_unit: dict
    boilerplate: dict
    skipped: dict = dataclasses.field(default_factory=dict)

    @property
    def students(self):
        return sorted({s for codes in self.by_unit.values() for s in codes})


def _text(cell):
    source = cell.source if hasattr(cell, "source") else cell["source"]
    return source if isinstance(source, str) else "".join(source)


def compared_units(released):
    """The grade_ids of the released notebook's solution cells, without `answer_*` cells."""
    return tuple(
        gid
        for cell in released.cells
        if is_solution(cell) and (gid := grade_id(cell)) and not gid.startswith(ANSWER_PREFIX)
    )


def boilerplate(released, unit):
    """The released stub of `unit` and every code cell that is not a solution cell."""
    stub = [_text(c) for c in released.cells if grade_id(c) == unit]
    given = [_text(c) for c in released.cells if c.cell_type == "code" and not is_solution(c)]
    return "\n\n".join(stub + given)


def collect(assignment, submitted, *, release_root=REPO / "assignments"):
    """Reads every submission of `assignment` under `submitted`; returns a `ClassCode`.

    `submitted` is nbgrader's submitted/ layout or a folder of `<student>.ipynb` files. A
    notebook that cannot be read is listed in `skipped`, not compared.
    """
    name = f"{assignment}.ipynb"
    released_path = Path(release_root) / assignment / name
    if not released_path.is_file():
        raise FileNotFoundError(
            f"No released notebook at {released_path}: run `python -m autograder release "
            f"{assignment}` first, or pass --release."
        )
    released = read_notebook(released_path)
    units = compared_units(released)
    by_unit = {unit: {} for unit in units}
    skipped = {}
    for sub in find_submissions(submitted, assignment, name):
        if sub.path is None:
            skipped[sub.student] = sub.problem
            continue
        try:
            chunks = extract(read_notebook(sub.path), released).chunks
        except NotebookError as err:
            skipped[sub.student] = str(err)
            continue
        for unit in units:
            by_unit[unit][sub.student] = chunks.get(unit, "")
    return ClassCode(
        assignment,
        units,
        by_unit,
        {unit: boilerplate(released, unit) for unit in units},
        skipped,
    )
