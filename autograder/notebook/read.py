"""Read a submitted notebook without ever crashing the batch.

`read_notebook` turns whatever a student uploaded into an nbformat 4 notebook
or raises `NotebookError` with a message meant for the student. The next steps
are `autograder.notebook.validate` (the graded cells against the released
notebook), `extract` (the code to run) and `scan` (forbidden APIs).

Example:
    sub = read_notebook("submitted/alice/a1_attention/a1_attention.ipynb")
    print(sub.notes)  # what was repaired while reading
"""

import json
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


def is_task(cell):
    return bool(nbgrader_meta(cell).get("task"))


def is_manual(cell):
    """True for a cell a person grades: an answer (grade and solution) or a task."""
    return (is_grade(cell) and is_solution(cell)) or is_task(cell)


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
