"""A simulated class for the demo: students' notebooks in nbgrader's submitted/ layout.

Per assignment: the reference (the released notebook with the solution's code in
its solution cells), an empty stub (the released notebook as is), one adversarial
submission, a few realistic bugs (taken from the grading catalogs in
tests/autograder: written out here for a1/a2, read from the catalog module
`tests/autograder/test_catalog_<a>.py` for later assignments, one bug per unit), and a
student whose folder holds no notebook.

Every notebook gets nbgrader's `timestamp.txt`; one student submits late.
"""

import copy
import importlib
import json
from pathlib import Path

TIMESTAMP = "2026-03-01 12:00:00.000000 UTC"
LATE_TIMESTAMP = "2026-03-03 09:30:00.000000 UTC"


def _sdpa(scale="ops.sqrt(d_k)", mask="where"):
    where = {
        "where": "ops.where(ops.cast(mask, 'bool'), logits, ops.full_like(logits, -1e9))",
        "inverted": "ops.where(ops.cast(mask, 'bool'), ops.full_like(logits, -1e9), logits)",
    }[mask]
    return (
        "def scaled_dot_product_attention(query, key, value, mask=None):\n"
        "    query, key, value = (ops.convert_to_tensor(t) for t in (query, key, value))\n"
        "    d_k = ops.cast(ops.shape(query)[-1], query.dtype)\n"
        f"    logits = ops.matmul(query, ops.swapaxes(key, -1, -2)) / ({scale})\n"
        "    if mask is not None:\n"
        f"        logits = {where}\n"
        "    weights = ops.softmax(logits, axis=-1)\n"
        "    return ops.matmul(weights, value), weights\n"
    )


# Cell replacements on the solved notebook: {student: {grade_id: new source}}.
A1_BUGS = {
    "bug_no_scale": {"scaled_dot_product_attention": _sdpa(scale="1.0")},
    "bug_mask_inverted": {"scaled_dot_product_attention": _sdpa(mask="inverted")},
    "bug_causal_diagonal_excluded": {
        "causal_mask": "def causal_mask(length):\n"
        "    return np.tril(np.ones((length, length), bool), k=-1)\n"
    },
    "bug_padding_true_at_pads": {
        "padding_mask": "def padding_mask(token_ids, pad_id=0):\n"
        "    return ops.equal(ops.convert_to_tensor(token_ids), pad_id)[:, None, :]\n"
    },
}

# Text edits of solution cells: {student: (grade_id, old, new)} (from tests/autograder/test_suite_a2.py).
A2_EDITS = {
    "bug_merge_no_transpose": (
        "merge_heads",
        "    x = ops.transpose(x, (0, 2, 1, 3))  # (B, T, H, Dh)\n    shape = ops.shape(x)\n"
        "    return ops.reshape(x, (shape[0], shape[1], shape[2] * shape[3]))",
        "    shape = ops.shape(x)\n    return ops.reshape(x, (shape[0], shape[2], shape[1] * shape[3]))",
    ),
    "bug_pre_norm": (
        "TransformerEncoderBlock",
        "        attended = self.attention(x, x, attention_mask=attention_mask, training=training)\n"
        "        x = self.norm1(x + self.drop1(attended, training=training))\n",
        "        h = self.norm1(x)\n"
        "        attended = self.attention(h, h, attention_mask=attention_mask, training=training)\n"
        "        x = x + self.drop1(attended, training=training)\n"
        "        x = x + self.drop2(self.ffn(self.norm2(x), training=training), training=training)\n"
        "        return x\n",
    ),
    "bug_concat_positions": (
        "positional_encoding",
        "    table[:, 0::2] = np.sin(angles)\n    table[:, 1::2] = np.cos(angles)\n",
        "    table = np.concatenate([np.sin(angles), np.cos(angles)], axis=-1)\n",
    ),
}

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


def replace_cells(nb, replacements):
    """A copy of notebook dict `nb` with the sources of cells `{grade_id: source}` replaced."""
    nb = copy.deepcopy(nb)
    todo = dict(replacements)
    for cell in nb["cells"]:
        gid = _grade_id(cell)
        if gid in todo:
            cell["source"] = todo.pop(gid)
            if cell["cell_type"] == "code":
                cell["outputs"] = []
    if todo:
        raise KeyError(f"no cell with grade_id {sorted(todo)}")
    return nb


def solved_notebook(solution_path, released_path):
    """The released notebook with the solution's code in its solution cells."""
    sources = {
        _grade_id(cell): cell["source"]
        for cell in _load(solution_path)["cells"]
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    return replace_cells(_load(released_path), sources)


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
    bugs = []
    if assignment == "a1_attention":
        bugs = [(name, replace_cells(solved, cells)) for name, cells in A1_BUGS.items()]
    elif assignment == "a2_transformer":
        bugs = [(name, edit_cell(solved, *edit)) for name, edit in A2_EDITS.items()]
    else:
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
    unit, then the second...). Empty when the catalog cannot be imported (a checkout
    without the test dependencies).
    """
    try:
        catalog = importlib.import_module(
            f"tests.autograder.test_catalog_{assignment.split('_')[0]}"
        )
    except ImportError:
        return []
    per_unit = {unit: [] for unit in units}
    for name, (cells, _phrases) in sorted(catalog.BUGS.items()):
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
