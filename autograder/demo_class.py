"""A simulated class for the demo: students' notebooks in nbgrader's submitted/ layout.

Per assignment: the reference (the released notebook with the solution's code in
its solution cells), an empty stub (the released notebook as is), one adversarial
submission, four realistic bugs (from the assignment's grading catalog,
`autograder/assignments/<a>/catalog/`, spread over its units), and a student whose
folder holds no notebook.

Every notebook gets nbgrader's `timestamp.txt`; one student submits late.
"""

import copy
import json
from pathlib import Path

from autograder import catalog
from autograder.assignments.registry import get_catalog
from autograder.catalog import replace_cells

TIMESTAMP = "2026-03-01 12:00:00.000000 UTC"
LATE_TIMESTAMP = "2026-03-03 09:30:00.000000 UTC"


# Adversarial: fakes that try to fool the comparisons (built on the released notebook).
ADVERSARIAL = {
    "a1_attention": (
        "adv_always_equal",
        "scaled_dot_product_attention",
        "import numpy as np\n\n"
        "class _Liar:\n"
        "    def __eq__(self, other):\n"
        "        return True\n\n"
        "    def __array__(self, dtype=None, copy=None):\n"
        "        return np.zeros(1)\n\n"
        "class _LiarSet(set):\n"
        "    def __eq__(self, other):\n"
        "        return True\n\n"
        "def scaled_dot_product_attention(query, key, value, mask=None):\n"
        "    return _Liar(), _Liar()\n\n"
        "def causal_mask(length):\n"
        "    return _Liar()\n\n"
        "answer_scale = _LiarSet('ABCD')\n",
    ),
    "a2_transformer": (
        "adv_monkeypatch_numpy",
        "split_heads",
        "import numpy as np\n\n"
        "np.allclose = lambda *a, **k: True\n"
        "np.testing.assert_allclose = lambda *a, **k: None\n\n"
        "def split_heads(x, num_heads):\n"
        "    return np.zeros(1)\n\n"
        "def merge_heads(x):\n"
        "    return np.zeros(1)\n",
    ),
}

# For assignments without an entry above: the first unit calls the reference library through a
# computed import (the sandbox only lets a job import the reference modules it was given).
GENERIC_ADVERSARY = (
    "adv_computed_import",
    "import importlib\n\n"
    "def _reference(name):\n"
    "    for module in ('layers', 'models', 'generate', 'data.images', 'data'):\n"
    "        try:\n"
    "            return getattr(importlib.import_module('course' + '_lib.' + module), name)\n"
    "        except (ImportError, AttributeError):\n"
    "            continue\n"
    "    raise NameError(name)\n\n"
    "def {unit}(*args, **kwargs):\n"
    "    return _reference({unit!r})(*args, **kwargs)\n",
)

REFERENCE, STUB, MISSING, LATE = "ref_solution", "stub_empty", "no_notebook", "late_reference"
ADVERSARY = "adversary"
# The same students submit every assignment; `bug_<i>` makes the i-th bug of each catalog.
BUGGY = ("bug_1", "bug_2", "bug_3", "bug_4")


def _load(path):
    return json.loads(Path(path).read_text())


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def solved_notebook(solution_path, released_path):
    """The released notebook with the solution's code in its solution cells."""
    return catalog.solved_notebook(None, solution_path, released_path)


def edit_cell(nb, grade_id, old, new):
    """A copy of `nb` with `old` replaced by `new` in cell `grade_id` (which must contain it)."""
    nb = copy.deepcopy(nb)
    (cell,) = [c for c in nb["cells"] if _grade_id(c) == grade_id]
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    if old not in source:
        raise ValueError(f"cell {grade_id} does not contain the text to edit")
    cell["source"] = source.replace(old, new)
    return nb


def write_notebook(submitted, student, assignment, nb, timestamp=TIMESTAMP):
    folder = Path(submitted) / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{assignment}.ipynb"
    path.write_text(json.dumps(nb, indent=1))
    (folder / "timestamp.txt").write_text(timestamp + "\n")
    return path


def class_notebooks(assignment, solution_path, released_path):
    """`{student: (what the notebook is, notebook dict)}` for `assignment`.

    Without the student who has no notebook; a `bug_<i>` beyond the assignment's
    catalog submits nothing for it (graded zero, like a student who skipped it).
    """
    solved = solved_notebook(solution_path, released_path)
    released = _load(released_path)
    notebooks = {REFERENCE: ("the solution", solved), STUB: ("the released notebook", released)}
    bugs = [
        (name, replace_cells(solved, cells))
        for name, cells in catalog_bugs(assignment, _units(released))
    ]
    for student, (label, nb) in zip(BUGGY, bugs, strict=False):
        notebooks[student] = (label, nb)
    if assignment in ADVERSARIAL:
        label, grade_id, source = ADVERSARIAL[assignment]
        notebooks[ADVERSARY] = (label, replace_cells(released, {grade_id: source}))
    else:
        unit = _units(released)[0]
        label, source = GENERIC_ADVERSARY
        notebooks[ADVERSARY] = (label, replace_cells(released, {unit: source.format(unit=unit)}))
    return notebooks


def _units(nb):
    return [
        gid
        for cell in nb["cells"]
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution")
        and not (gid := _grade_id(cell)).startswith("answer_")
    ]


def catalog_bugs(assignment, units, count=4):
    """`[(bug name, {grade_id: source})]` from the grading catalog, spread over `units` in order.

    Takes bugs that edit one cell, round robin over the units (first the first bug of each
    unit, then the second...).
    """
    per_unit = {unit: [] for unit in units}
    for name, (cells, _phrases) in sorted(get_catalog(assignment).bugs.items()):
        if len(cells) == 1 and next(iter(cells)) in per_unit:
            per_unit[next(iter(cells))].append((name, cells))
    picked, depth = [], 0
    while len(picked) < count and any(len(bugs) > depth for bugs in per_unit.values()):
        picked += [bugs[depth] for bugs in per_unit.values() if len(bugs) > depth]
        depth += 1
    return picked[:count]


def build_class(submitted, assignment, solution_path, released_path, late=True):
    """Writes the class of `assignment` under `submitted/`; returns `{student: what it is}`."""
    written = {}
    for student, (label, nb) in class_notebooks(assignment, solution_path, released_path).items():
        write_notebook(submitted, student, assignment, nb)
        written[student] = label
    if late:
        nb = solved_notebook(solution_path, released_path)
        write_notebook(submitted, LATE, assignment, nb, LATE_TIMESTAMP)
        written[LATE] = "the solution"
    for student in (MISSING, *BUGGY):
        if student not in written:
            (Path(submitted) / student / assignment).mkdir(parents=True, exist_ok=True)
            written[student] = "no notebook"
    return written
