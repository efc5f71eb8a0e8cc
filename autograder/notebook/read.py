"""Read a submitted notebook without ever crashing the batch, and validate it.

`read_notebook` turns whatever a student uploaded into an nbformat 4 notebook
or raises `NotebookError` with a message meant for the student. `validate`
compares the graded cells with the released notebook and returns `Problem`s;
none of them stops grading: a missing solution cell costs that unit only.
Extraction of the code to run lives in `autograder.extract`.

Example:
    sub = read_notebook("submitted/alice/a1_attention/a1_attention.ipynb")
    rel = read_notebook("assignments/a1_attention/a1_attention.ipynb")
    for problem in validate(sub, rel):
        print(problem.message)
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_BYTES = 20 * 1024 * 1024  # above this, graded with a note to clear outputs next time
HARD_MAX_BYTES = 200 * 1024 * 1024  # above this, refused: parsing it would cost too much
ANSWER_PREFIX = "answer_"


class NotebookError(Exception):
    """A submission that cannot be read; `str(error)` is a message for the student."""


@dataclass
class Notebook:
    """A submission read by `read_notebook`: nbformat 4, outputs dropped.

    Attributes:
        path: where it was read from.
        nb: the nbformat `NotebookNode`; every cell has `source` (str) and `metadata`.
        notes: what was repaired while reading, for the student's feedback.
    """

    path: Path
    nb: nbformat.NotebookNode
    notes: list[str] = field(default_factory=list)

    @property
    def cells(self):
        return self.nb.cells


@dataclass
class Problem:
    """One finding of `validate`: `kind` is a stable key, `message` is for the student."""

    kind: str
    message: str
    grade_id: str | None = None


def nbgrader_meta(cell):
    """The cell's nbgrader metadata (an empty dict when absent or malformed)."""
    meta = cell.get("metadata")
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


def grade_id(cell):
    value = nbgrader_meta(cell).get("grade_id")
    return value if isinstance(value, str) and value else None


def is_solution(cell):
    return bool(nbgrader_meta(cell).get("solution"))


def is_grade(cell):
    return bool(nbgrader_meta(cell).get("grade"))


def is_locked(cell):
    return bool(nbgrader_meta(cell).get("locked"))


def _decode(data, notes):
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        notes.append(
            f"Your notebook contains bytes that are not valid UTF-8 (the first at byte "
            f"{error.start}); they were replaced by '\ufffd'. If a string or comment looks "
            "garbled, save the notebook again from Jupyter or Colab (File > Download .ipynb)."
        )
        return data.decode("utf-8", errors="replace")


def _upgrade(raw, notes):
    major = raw.get("nbformat")
    if not isinstance(major, int):
        if isinstance(raw.get("cells"), list):
            notes.append("The notebook had no 'nbformat' version; it was read as nbformat 4.")
            raw["nbformat"], raw["nbformat_minor"] = 4, 0
            return nbformat.from_dict(raw)
        raise NotebookError(
            "This file is JSON but not a Jupyter notebook (no 'nbformat' version, no 'cells'). "
            "Submit the .ipynb file you worked in."
        )
    notebook = nbformat.from_dict(raw)
    if major < 4:
        try:
            notebook = nbformat.convert(notebook, 4)
        except Exception as error:
            raise NotebookError(
                f"The notebook is in the old format nbformat {major} and could not be upgraded "
                f"({error}). Open it in a current Jupyter or Colab, save it, and resubmit."
            ) from error
        notes.append(f"The notebook was in the old format nbformat {major}; it was upgraded to 4.")
    elif major > 4:
        raise NotebookError(
            f"The notebook uses nbformat {major}, newer than this grader knows (4). "
            "Save it from Jupyter or Colab as a standard .ipynb and resubmit."
        )
    return notebook


def _normalise_cells(notebook, notes):
    """Keeps well-formed cells, joins list sources, drops outputs; returns the cell count dropped."""
    kept, dropped, stripped = [], 0, 0
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise NotebookError("The notebook has no list of cells. Submit the .ipynb you worked in.")
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            dropped += 1
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        cell["source"] = source if isinstance(source, str) else ""
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = {}
            stripped += 1
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        kept.append(nbformat.from_dict(cell))
    notebook["cells"] = kept
    if dropped:
        notes.append(f"{dropped} malformed cell(s) could not be read and were ignored.")
    if not isinstance(notebook.get("metadata"), dict):
        notebook["metadata"] = nbformat.NotebookNode()
    return stripped


def read_notebook(path, *, max_bytes=MAX_BYTES, hard_max_bytes=HARD_MAX_BYTES):
    """Reads a submitted notebook as nbformat 4, outputs dropped.

    Repairs what it can (non-UTF-8 bytes, nbformat 3, list sources, missing
    metadata, a file over `max_bytes`: graded anyway) and records each repair
    in `Notebook.notes`.

    Raises:
        NotebookError: the file is missing, over `hard_max_bytes`, not JSON or not a notebook.
    """
    path = Path(path)
    notes = []
    advice = (
        "usually because of large cell outputs (images, long prints). Clear all outputs "
        "(Edit > Clear All Outputs, or Kernel > Restart & Clear Output) and save before "
        "you submit"
    )
    try:
        size = path.stat().st_size
        if size > hard_max_bytes:
            raise NotebookError(
                f"{path.name} is {size / 2**20:.1f} MB, over the {hard_max_bytes / 2**20:.0f} MB "
                f"limit, {advice}; then resubmit."
            )
        if size > max_bytes:
            notes.append(
                f"{path.name} is {size / 2**20:.1f} MB, {advice}. It was graded with its outputs "
                "dropped (outputs are never graded)."
            )
        with path.open("rb") as handle:
            data = handle.read(hard_max_bytes + 1)
    except OSError as error:
        raise NotebookError(f"Could not read {path.name}: {error.strerror or error}.") from error
    text = _decode(data, notes)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(
            f"{path.name} is not valid notebook JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg}). It was probably edited in a text editor or truncated; download it "
            "again from Jupyter or Colab (File > Download .ipynb) and resubmit."
        ) from error
    if not isinstance(raw, dict):
        raise NotebookError(f"{path.name} is JSON but not a notebook. Submit your .ipynb file.")
    notebook = _upgrade(raw, notes)
    stripped = _normalise_cells(notebook, notes)
    if stripped or not any(nbgrader_meta(c) for c in notebook.cells):
        notes.append(
            "The notebook's cell metadata is missing (it was stripped by an editor or a tool), "
            "so graded cells were matched by the names they define. Next time, start from the "
            "released notebook and edit it in Jupyter or Colab."
        )
    return Notebook(path=path, nb=notebook, notes=notes)


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
