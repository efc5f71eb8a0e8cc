"""Builds the solution notebooks from their plain-text sources.

The instructor notebooks `solutions/<name>/<name>.ipynb` are generated from
`autograder/assignments/<name>/notebook.txt`, a readable cell-by-cell text format that
diffs well. Edit the text source, then run:

    .venv/bin/python tools/build_notebooks.py              # every source
    .venv/bin/python tools/build_notebooks.py a1_attention  # one notebook
    .venv/bin/python -m autograder release a1_attention     # then refresh assignments/

Source format: a line `# %% [KIND] key=value ...` starts a cell, where KIND is
`markdown`, `code` (a plain cell), `solution` (needs `grade_id`), `tests`
(needs `grade_id` and `points`; the cell is locked), `readonly` (a locked
code cell without points), or one of nbgrader's manually graded kinds (each needs
`grade_id` and `points`): `manual` (a markdown answer cell: `solution` and `grade`;
released as "YOUR ANSWER HERE"), `manual-code` (a code answer cell, e.g. one that
makes a plot; its `### BEGIN/END SOLUTION` region is released as the code stub) and
`task` (a locked markdown cell describing work done in the cells after it, graded as a
whole: nbgrader's `task: true`). Their metadata is nbgrader 0.9's, schema_version 3. `include=NAME` on a code cell puts the text of
`autograder/assignments/NAME.py` at the top of the cell (one copy of the self-check
helpers, `selfcheck`: `check("name")`, shared by every notebook). Leading and trailing
blank lines of a cell are dropped. `tests/autograder/test_release.py` checks the notebooks
are in sync.
"""

import re
import sys
from pathlib import Path

import nbformat

from autograder import settings as course

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from autograder.assignments import registry  # noqa: E402

INCLUDES = registry.ROOT
KINDS = "markdown|code|solution|tests|readonly|manual|manual-code|task"
HEADER = re.compile(rf"^# %% \[({KINDS})\](.*)$")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _nbgrader(grade, solution, locked, grade_id, points=None, task=False):
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
    }
    if points is not None:
        meta["points"] = points
    if task:
        meta["task"] = True
    return meta


# kind -> (cell type, grade, solution, locked, task) of nbgrader's manually graded cells
MANUAL_KINDS = {
    "manual": ("markdown", True, True, False, False),
    "manual-code": ("code", True, True, False, False),
    "task": ("markdown", False, False, True, True),
}


def _make_cell(kind, options, lines, index):
    source = "\n".join(lines).strip("\n")
    if "include" in options:
        included = (INCLUDES / f"{options['include']}.py").read_text(encoding="utf-8")
        source = (included.strip("\n") + "\n\n\n" + source).strip("\n")
    cell_id = options.get("grade_id", f"cell-{index:02d}")
    if kind in MANUAL_KINDS:
        cell_type, grade, solution, locked, task = MANUAL_KINDS[kind]
        new = nbformat.v4.new_markdown_cell if cell_type == "markdown" else nbformat.v4.new_code_cell
        cell = new(source, id=cell_id)
        points = int(options["points"])
        gid = options["grade_id"]
        cell.metadata["nbgrader"] = _nbgrader(grade, solution, locked, gid, points, task)
        return cell
    if kind == "markdown":
        return nbformat.v4.new_markdown_cell(source, id=cell_id)
    cell = nbformat.v4.new_code_cell(source, id=cell_id)
    if kind == "solution":
        cell.metadata["nbgrader"] = _nbgrader(False, True, False, options["grade_id"])
    elif kind == "tests":
        points = int(options["points"])
        cell.metadata["nbgrader"] = _nbgrader(True, False, True, options["grade_id"], points)
    elif kind == "readonly":
        cell.metadata["nbgrader"] = _nbgrader(False, False, True, cell_id)
    return cell


def parse_source(text):
    """Returns a notebook (nbformat 4.5) built from the text `text`."""
    cells, kind, options, lines = [], None, {}, []
    for line in text.splitlines():
        match = HEADER.match(line)
        if match:
            if kind is not None:
                cells.append(_make_cell(kind, options, lines, len(cells)))
            kind, lines = match.group(1), []
            options = dict(item.split("=", 1) for item in match.group(2).split())
        elif kind is not None:
            lines.append(line)
    if kind is not None:
        cells.append(_make_cell(kind, options, lines, len(cells)))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    nbformat.validate(notebook)
    return notebook


def notebook_for(name, settings=None):
    """The solution notebook of `name`, with the course's settings (course.toml) written in.

    `release` writes them too; having them in the source notebook as well means
    nbgrader's own `generate_assignment` releases the same setup cell.
    """
    notebook = parse_source(registry.notebook_source(name).read_text(encoding="utf-8"))
    settings = course.load_settings() if settings is None else settings
    return course.apply_settings(notebook, settings, f"assignments/{name}/{name}.ipynb")


def build(name, *, solutions_root=ROOT / "solutions"):
    """Writes `solutions_root/<name>/<name>.ipynb` from its text source; returns the path."""
    notebook = notebook_for(name)
    out = Path(solutions_root) / name / f"{name}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")
    return out


def main(argv):
    names = argv or registry.ASSIGNMENTS
    for name in names:
        print(f"wrote {build(name).relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
