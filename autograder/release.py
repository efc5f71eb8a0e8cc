"""Release: turn an instructor notebook into the student notebook.

Same semantics as nbgrader's `ClearSolutions` and `ClearHiddenTests`, with
one addition for concept questions, and a deterministic output so that the
committed `assignments/` can be checked against `solutions/` byte for byte:

- in a cell, each region between `### BEGIN SOLUTION` and `### END SOLUTION`
  becomes `# YOUR CODE HERE` + `raise NotImplementedError()` at the marker's
  indentation (`YOUR ANSWER HERE` in a markdown cell);
- a solution cell whose `grade_id` starts with `answer_` (a multiple-choice
  question) gets the stub `answer_<id> = set()  # YOUR ANSWER HERE` instead,
  so the released notebook still runs;
- a solution cell without markers is replaced by the stub as a whole;
- regions between `### BEGIN HIDDEN TESTS` and `### END HIDDEN TESTS` are removed;
- outputs and execution counts are cleared; nbgrader metadata is kept;
- the course's settings (`course.toml`, `autograder/settings.py`) are written into the
  setup cell's `COURSE_LIB = "..."` line, with an "Open in Colab" link when a repo is set.

Example:
    python -m autograder release a1_attention
    # solutions/a1_attention/a1_attention.ipynb -> assignments/a1_attention/a1_attention.ipynb
"""

import copy
import re
from pathlib import Path

import nbformat

from autograder import settings as course

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN_TESTS = "### BEGIN HIDDEN TESTS"
END_HIDDEN_TESTS = "### END HIDDEN TESTS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
TEXT_STUB = ("YOUR ANSWER HERE",)
ANSWER_PREFIX = "answer_"


class ReleaseError(ValueError):
    """A source notebook that cannot be released (unbalanced markers, markers in a plain cell)."""


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _where(cell, index):
    return f"cell {index} ({_nbgrader(cell).get('grade_id') or 'no grade_id'})"


def _replace_regions(lines, begin, end, stub, where):
    """Returns `(new_lines, found)`: each begin..end region replaced by `stub` (indented)."""
    out, inside, found = [], False, False
    for line in lines:
        if begin in line:
            if inside:
                raise ReleaseError(f"{where}: nested '{begin}'")
            inside, found = True, True
            indent = re.match(r"\s*", line).group(0)
            out.extend(indent + stub_line for stub_line in stub)
        elif end in line:
            if not inside:
                raise ReleaseError(f"{where}: '{end}' without '{begin}'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ReleaseError(f"{where}: '{begin}' without '{end}'")
    return out, found


def answer_stub(grade_id):
    """The released source of a multiple-choice answer cell."""
    return f"{grade_id} = set()  # YOUR ANSWER HERE"


def release_cell(cell, index=0):
    """Returns the student version of one cell (a new object; `cell` is unchanged)."""
    cell = copy.deepcopy(cell)
    meta = _nbgrader(cell)
    where = _where(cell, index)
    lines = cell.source.split("\n")
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    grade_id = meta.get("grade_id", "")
    if meta.get("solution") and cell.cell_type == "code" and grade_id.startswith(ANSWER_PREFIX):
        lines, found = [answer_stub(grade_id)], True
    else:
        stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
        lines, found = _replace_regions(lines, BEGIN_SOLUTION, END_SOLUTION, stub, where)
        if found and not meta.get("solution"):
            raise ReleaseError(f"{where}: solution markers in a cell not marked as a solution cell")
        if meta.get("solution") and not found:
            lines, found = list(stub), True
    lines, hidden = _replace_regions(lines, BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS, (), where)
    if hidden and not meta.get("grade"):
        raise ReleaseError(f"{where}: hidden tests in a cell not marked as a grade cell")
    cell.source = "\n".join(lines).rstrip("\n")
    return cell


def release_notebook(notebook):
    """Returns the student version of an nbformat notebook (a new object)."""
    released = copy.deepcopy(notebook)
    released.cells = [release_cell(cell, i) for i, cell in enumerate(notebook.cells)]
    released.metadata.pop("celltoolbar", None)
    return released


def notebook_text(notebook):
    """The exact text `release_assignment` writes: nbformat's sorted-key JSON plus a newline."""
    return nbformat.writes(notebook) + "\n"


def release_assignment(name, *, source_root="solutions", release_root="assignments", settings=None):
    """Writes `release_root/<name>/<name>.ipynb` from `source_root/<name>/<name>.ipynb`.

    Args:
        name: the assignment, e.g. `"a1_attention"`.
        source_root: directory holding the instructor notebooks.
        release_root: directory the student notebooks are written to.
        settings: a `course.CourseSettings`; default: the repository's `course.toml`.

    Returns:
        The path written.
    """
    source = Path(source_root) / name / f"{name}.ipynb"
    if not source.is_file():
        raise FileNotFoundError(f"No source notebook {source}: is '{name}' an assignment?")
    notebook = nbformat.read(source, as_version=nbformat.NO_CONVERT)
    released = release_notebook(notebook)
    settings = course.load_settings() if settings is None else settings
    course.apply_settings(released, settings, f"assignments/{name}/{name}.ipynb")
    nbformat.validate(released)
    target = Path(release_root) / name / f"{name}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    text = notebook_text(released)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return target
