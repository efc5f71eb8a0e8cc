"""Validate a submission's graded cells against the released notebook.

`validate` returns `Problem`s; none of them stops grading: a missing solution cell
costs that unit only. `match_graded_cells` finds each released graded cell in a
submission, by grade_id or, when the metadata was stripped, by the names it defines.

Example:
    sub = read_notebook("submitted/alice/a1_attention/a1_attention.ipynb")
    rel = read_notebook("assignments/a1_attention/a1_attention.ipynb")
    for problem in validate(sub, rel):
        print(problem.message)
"""

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.notebook.read import (
    Notebook,
    grade_id,
    is_grade,
    is_locked,
    is_manual,
    is_solution,
    nbgrader_meta,
)


@dataclass
class Problem:
    """One finding of `validate`: `kind` is a stable key, `message` is for the student."""

    kind: str
    message: str
    grade_id: str | None = None


def _as_notebook(value):
    return value if isinstance(value, Notebook) else Notebook(Path("notebook.ipynb"), value)


def _normalised(source):
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


DEFINES = re.compile(r"^(?:def|class)\s+(\w+)|^(\w+)\s*=", re.MULTILINE)


def defined_names(source):
    """Names a cell defines at top level (`def`, `class`, `name =`), found without parsing."""
    return {a or b for a, b in DEFINES.findall(source)}


def _checksum_mismatch(cell):
    """True if the cell carries an nbgrader checksum that its content no longer matches."""
    checksum = nbgrader_meta(cell).get("checksum")
    if not checksum:
        return False
    try:
        from nbgrader.utils import compute_checksum

        return compute_checksum(cell) != checksum
    except Exception:
        return False


@dataclass
class Match:
    """Where a released graded cell was found in a submission, and how."""

    cell: nbformat.NotebookNode
    index: int
    how: str  # "grade_id", "names", "source" or "position"


def _is_graded(cell):
    return bool(grade_id(cell)) and (is_solution(cell) or is_grade(cell) or is_locked(cell))


def match_graded_cells(submission, released):
    """Finds each graded cell of `released` in `submission`; returns `{grade_id: Match}`.

    By grade_id first (the last cell wins when a grade_id is duplicated); when
    the metadata was stripped or the grade_id changed, a solution cell is
    matched by the names it defines (`def`, `class`, `name =`) and a read-only
    cell by its source; as a last resort, when the submission has no nbgrader
    metadata at all and as many cells as the released notebook, by position.
    """
    submission, released = _as_notebook(submission), _as_notebook(released)
    sub_cells = list(submission.cells)
    released_ids = {grade_id(c) for c in released.cells if _is_graded(c)}
    matches = {}
    for i, cell in enumerate(sub_cells):
        if grade_id(cell) in released_ids:
            matches[grade_id(cell)] = Match(cell, i, "grade_id")
    used = {i for i, c in enumerate(sub_cells) if grade_id(c) in released_ids}
    free = [i for i, c in enumerate(sub_cells) if i not in used and c.cell_type == "code"]
    no_metadata = not any(nbgrader_meta(c) for c in sub_cells)
    for position, cell in enumerate(released.cells):
        gid = grade_id(cell)
        if not _is_graded(cell) or gid in matches:
            continue
        found = None
        if is_solution(cell):
            names = defined_names(cell.source)
            found = next((i for i in free if names & defined_names(sub_cells[i].source)), None)
            how = "names"
        else:
            target = _normalised(cell.source)
            found = next((i for i in free if _normalised(sub_cells[i].source) == target), None)
            how = "source"
        if (
            found is None
            and no_metadata
            and len(sub_cells) == len(released.cells)
            and position in free
        ):
            found, how = position, "position"
        if found is not None:
            matches[gid] = Match(sub_cells[found], found, how)
            free.remove(found)
    return matches


def validate(submission, released, *, filename=None):
    """Checks the graded cells of `submission` against `released`.

    Args:
        submission: the student's `Notebook` (or nbformat notebook).
        released: the released `Notebook` the student started from.
        filename: the name the student's file had; defaults to `submission.path.name`.

    Returns:
        A list of `Problem`, empty when everything is in place.
    """
    submission, released = _as_notebook(submission), _as_notebook(released)
    problems = []
    expected_name = released.path.name
    filename = filename or submission.path.name
    if expected_name != "notebook.ipynb" and filename != expected_name:
        problems.append(
            Problem(
                "renamed_notebook",
                f"The notebook was submitted as {filename}; expected {expected_name}. It was "
                f"graded anyway; next time keep the name {expected_name}.",
            )
        )
    counts = {}
    for cell in submission.cells:
        if grade_id(cell):
            counts[grade_id(cell)] = counts.get(grade_id(cell), 0) + 1
    for gid, count in counts.items():
        if count > 1:
            problems.append(
                Problem(
                    "duplicate_grade_id",
                    f"{count} cells share the grade_id '{gid}' (a graded cell was copied). "
                    "The last one was graded; delete the copies.",
                    gid,
                )
            )
    if not any(nbgrader_meta(c) for c in submission.cells):
        problems.append(
            Problem(
                "stripped_metadata",
                "The notebook's cell metadata was stripped, so graded cells were matched by the "
                "names they define. Start from the released notebook and do not clear metadata.",
            )
        )
    matches = match_graded_cells(submission, released)
    for cell in released.cells:
        gid = grade_id(cell)
        if not _is_graded(cell):
            continue
        match = matches.get(gid)
        if match is None and is_manual(cell):
            if any(
                nbgrader_meta(c) for c in submission.cells
            ):  # else: not findable, a person reads it
                problems.append(_missing_manual(gid))
            continue
        if match is None:
            problems.append(_missing(gid, is_solution(cell)))
            continue
        if match.how == "names" and grade_id(match.cell):
            problems.append(
                Problem(
                    "grade_id_changed",
                    f"The answer cell for '{gid}' has a changed grade_id "
                    f"('{grade_id(match.cell)}'); it was matched by the names it defines. "
                    "Do not edit cell metadata.",
                    gid,
                )
            )
        if is_locked(cell) and not is_solution(cell):
            edited = _normalised(match.cell.source) != _normalised(cell.source)
            if edited or _checksum_mismatch(match.cell):
                problems.append(
                    Problem(
                        "locked_cell_edited",
                        f"The read-only cell '{gid}' was edited. Its original content is used "
                        "for grading; put your own experiments in new cells.",
                        gid,
                    )
                )
    return problems


def _missing_manual(gid):
    return Problem(
        "missing_cell",
        f"The written answer cell '{gid}' is missing from your notebook (deleted?); a person "
        "grades the written answers, and will find none for it.",
        gid,
    )


def _missing(gid, solution):
    if solution:
        message = (
            f"The answer cell '{gid}' is missing from your notebook (deleted?), so '{gid}' "
            "gets 0 points; the rest of the notebook is graded normally."
        )
    else:
        message = (
            f"The test cell '{gid}' was deleted. The grader runs its own tests, so this costs "
            "nothing here, but keep the test cells: they are your feedback."
        )
    return Problem("missing_cell", message, gid)
