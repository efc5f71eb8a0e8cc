"""Manually graded cells: the answers a person grades, which the autograder leaves pending.

nbgrader 0.9 has two kinds (cell metadata, schema_version 3):

- a manually graded answer: `grade: true, solution: true` (markdown, or code that e.g.
  makes a plot), released with nbgrader's placeholder ("YOUR ANSWER HERE" / the code stub);
- a task: `task: true, locked: true` (markdown), the work being the cells after it.

The grader never runs or scores them. Per submission it counts their points as pending
(`pending`): an answer cell still holding the released placeholder is "not answered" and
pending nothing, as nbgrader's `autograde` gives it 0 (its checksum is unchanged).

Example:
    released = read_notebook("assignments/a1_attention/a1_attention.ipynb")
    manual_points(released)  # {"manual_gpu_speed": 3.0}
"""

import dataclasses

from autograder.notebook.read import grade_id, is_manual, is_task, nbgrader_meta
from autograder.notebook.validate import match_graded_cells

__all__ = ["Pending", "is_manual", "is_task", "manual_points", "pending", "pending_text"]


def manual_points(notebook):
    """`{grade_id: points}` of the manually graded cells of `notebook`, in notebook order."""
    cells = notebook.cells if hasattr(notebook, "cells") else notebook["cells"]
    return {
        grade_id(c): float(nbgrader_meta(c).get("points") or 0)
        for c in cells
        if is_manual(c) and grade_id(c)
    }


def pending_text(points):
    """'3 points' / '1 point' (empty for none): the grades.csv `manual_pending` value."""
    if not points:
        return ""
    return f"{points:g} point" + ("" if points == 1 else "s")


@dataclasses.dataclass
class Pending:
    """What a person still has to grade in one submission."""

    points: float = 0.0  # of the answered manual cells (and every task)
    unanswered: list = dataclasses.field(default_factory=list)  # grade_ids left as released

    def note(self):
        """The line for results.json and feedback.html ('' when nothing is manual)."""
        parts = []
        if self.points:
            parts.append(
                f"manual: pending {pending_text(self.points)} (written answers and plots, "
                "graded by a person; not in the score above)"
            )
        if self.unanswered:
            parts.append(f"manual: not answered: {', '.join(self.unanswered)} (0 points)")
        return "\n".join(parts)


def _same(a, b):
    return a.strip() == b.strip()


def pending(submission, released):
    """The `Pending` points of `submission` (a `Notebook`) against the `released` one."""
    released_cells = released.cells if hasattr(released, "cells") else released["cells"]
    matches = match_graded_cells(submission, released)
    result = Pending()
    for cell in released_cells:
        if not is_manual(cell) or not grade_id(cell):
            continue
        gid, points = grade_id(cell), float(nbgrader_meta(cell).get("points") or 0)
        match = matches.get(gid)
        if is_task(cell):
            result.points += points
        elif match is None or _same(match.cell.source, cell.source):
            result.unanswered.append(gid)
        else:
            result.points += points
    return result
