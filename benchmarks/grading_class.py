"""The class of `benchmarks.grading`: one course in nbgrader's layout, every kind of submission.

Student i submits kind i mod (number of kinds): the reference, correct alternatives
(a2: edits of the solution), four bugs of the assignment's grading catalog, the released stub.
"""

import shutil
from pathlib import Path

from autograder import demo_class

REPO = Path(__file__).resolve().parents[1]

_MHA_OLD = "        _, weights = scaled_dot_product_attention(q, k, v, mask)  # (B, H, Tq, Tk)\n"
_MHA_NEW = (
    '        logits = ops.einsum("bhqd,bhkd->bhqk", q, k) / (q.shape[-1] ** 0.5)\n'
    "        if mask is not None:\n"
    "            logits = ops.where(mask, logits, ops.full_like(logits, -1e9))\n"
    "        weights = ops.softmax(logits, axis=-1)\n"
)
_SPLIT_OLD = (
    "    batch, length = ops.shape(x)[0], ops.shape(x)[1]\n"
    "    x = ops.reshape(x, (batch, length, num_heads, -1))  # (B, T, H, Dh)\n"
    "    return ops.transpose(x, (0, 2, 1, 3))  # (B, H, T, Dh)\n"
)
_SPLIT_NEW = (
    "    return ops.stack(ops.split(ops.convert_to_tensor(x), num_heads, axis=-1), axis=1)\n"
)
_MERGE_OLD = (
    "    x = ops.transpose(x, (0, 2, 1, 3))  # (B, T, H, Dh)\n"
    "    shape = ops.shape(x)\n"
    "    return ops.reshape(x, (shape[0], shape[1], shape[2] * shape[3]))\n"
)
_MERGE_NEW = (
    "    b, h, t, dh = ops.shape(x)\n"
    '    return ops.reshape(ops.einsum("bhtd->bthd", x), (b, t, h * dh))\n'
)
_PE_OLD = (
    "    table = np.empty((length, depth), dtype=np.float64)\n"
    "    table[:, 0::2] = np.sin(angles)\n"
    "    table[:, 1::2] = np.cos(angles)\n"
)
_PE_NEW = "    table = np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(length, depth)\n"

A2_ALTERNATIVES = {
    "alt_einsum_attention": [("MultiHeadAttention", _MHA_OLD, _MHA_NEW)],
    "alt_split_stack": [
        ("split_heads", _SPLIT_OLD, _SPLIT_NEW),
        ("merge_heads", _MERGE_OLD, _MERGE_NEW),
    ],
    "alt_stacked_positions": [("positional_encoding", _PE_OLD, _PE_NEW)],
}

CATEGORIES = ("reference", "alternative", "buggy", "stub")
FULL_MARKS = ("reference", "alternative")


def kinds(assignment, solved, released):
    """`[(kind, category, notebook dict)]`: one of each submission the class cycles through."""
    out = [("reference", "reference", solved)]
    if assignment == "a2_transformer":
        for name, edits in A2_ALTERNATIVES.items():
            nb = solved
            for edit in edits:
                nb = demo_class.edit_cell(nb, *edit)
            out.append((name, "alternative", nb))
    # Four bugs from the grading catalog, spread over the units (as in the demo class).
    for name, cells in demo_class.catalog_bugs(assignment, demo_class._units(released)):
        out.append((name, "buggy", demo_class.replace_cells(solved, cells)))
    out.append(("stub", "stub", released))
    return out


def build_course(course, students, assignment="a2_transformer", release_root=None):
    """Writes the course under `course`; returns `{student: (kind, category)}`.

    Student i submits kind i mod (number of kinds), so every kind is present from
    `len(kinds)` students on, and the reference always (student 0).
    """
    course = Path(course)
    release_root = Path(release_root or REPO / "assignments")
    course.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(
        REPO / "solutions" / assignment, course / "solutions" / assignment, dirs_exist_ok=True
    )
    name = f"{assignment}.ipynb"
    solution, released_path = (
        course / "solutions" / assignment / name,
        release_root / assignment / name,
    )
    solved = demo_class.solved_notebook(solution, released_path)
    cycle = kinds(assignment, solved, demo_class._load(released_path))
    labels = {}
    for i in range(students):
        kind, category, nb = cycle[i % len(cycle)]
        student = f"s{i:03d}_{kind}"
        demo_class.write_notebook(course / "submitted", student, assignment, nb)
        labels[student] = (kind, category)
    return labels
