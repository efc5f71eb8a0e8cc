"""One self-contained page of a student's manually graded answers, for a person to grade.

`answers_page` reads the submitted notebook *with its outputs* and lists, for each
manually graded cell of the released notebook (autograder.notebook.manual), the question
(the released markdown cell just before it), then the student's answer: the text of a
markdown answer, the code and outputs of a code answer (plots embedded as `data:` images),
and for a task the cells the student wrote after it, up to the next graded cell.
Everything the student wrote is escaped: the page runs no script and loads nothing, so it
can be opened, printed to PDF or uploaded as is (Gradescope's manually graded questions).

Example:
    page = page_for("submitted/alice/a6_scaling/a6_scaling.ipynb",
                    "assignments/a6_scaling/a6_scaling.ipynb", title="a6_scaling")
"""

import html

import nbformat

from autograder.notebook.manual import is_manual, is_task, manual_points, pending_text
from autograder.notebook.read import grade_id, is_grade, is_locked, is_solution, read_notebook
from autograder.notebook.validate import match_graded_cells

IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
TEXT_CAP = 20_000  # characters of one output shown

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2733;
       margin: 0 auto; padding: 1.5em 2em 3em; max-width: 60em; }
h1 { font-size: 1.5em; margin: 0 0 .3em; } h2 { font-size: 1.15em; margin: 1.8em 0 .3em; }
section { page-break-inside: avoid; }
.question { color: #4a5666; white-space: pre-wrap; border-left: 3px solid #d5dbe3;
            padding-left: .8em; }
.answer { white-space: pre-wrap; background: #f7f9fb; border: 1px solid #d5dbe3;
          border-radius: 6px; padding: .6em .8em; overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: .3em 0; font-size: .9em; }
img { max-width: 100%; display: block; margin: .4em 0; }
.missing { color: #a32626; font-weight: 600; }
"""


def _read_with_outputs(path):
    """The submission as nbformat 4 with outputs (None when it cannot be read as one)."""
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception:
        try:  # what the grader could repair (outputs dropped)
            return read_notebook(path).nb
        except Exception:
            return None


def _outputs_html(cell):
    parts = []
    for out in cell.get("outputs", []) or []:
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(f"<pre>{html.escape(str(out.get('text', ''))[:TEXT_CAP])}</pre>")
        elif kind == "error":
            error = f"{out.get('ename')}: {out.get('evalue')}"
            parts.append(f"<pre>{html.escape(error)}</pre>")
        elif kind in ("display_data", "execute_result"):
            data = out.get("data", {}) or {}
            image = next((t for t in IMAGE_TYPES if t in data), None)
            if image:
                parts.append(_image(image, data[image]))
            elif "text/plain" in data:
                text = data["text/plain"]
                text = "".join(text) if isinstance(text, list) else str(text)
                parts.append(f"<pre>{html.escape(text[:TEXT_CAP])}</pre>")
    return "\n".join(parts)


def _image(mime, payload):
    import base64

    payload = "".join(payload) if isinstance(payload, list) else str(payload)
    if mime == "image/svg+xml":  # an <img> never runs the SVG's scripts
        payload = base64.b64encode(payload.encode("utf-8")).decode("ascii")
    payload = "".join(payload.split())
    return f'<img alt="plot" src="data:{mime};base64,{html.escape(payload)}">'


def _cell_html(cell):
    source = html.escape(cell.get("source", ""))
    if cell.get("cell_type") == "markdown":
        return f'<div class="answer">{source}</div>'
    return f'<pre class="code">{source}</pre>\n{_outputs_html(cell)}'


def _is_graded(cell):
    return bool(grade_id(cell)) and (is_solution(cell) or is_grade(cell) or is_locked(cell))


def _task_cells(cells, index):
    """The cells after the task at `index`, up to the next graded cell."""
    after = []
    for cell in cells[index + 1 :]:
        if _is_graded(cell):
            break
        after.append(cell)
    return after


def answers_page(notebook_path, released, *, title="", student=""):
    """The HTML page of the manual answers in `notebook_path` (`released`: a `Notebook` or path)."""
    if not hasattr(released, "cells"):
        released = read_notebook(released)
    cells = list(released.cells)
    submission = _read_with_outputs(notebook_path)
    matches = match_graded_cells(submission, released) if submission is not None else {}
    points = manual_points(released)
    sections = []
    for i, cell in enumerate(cells):
        if not is_manual(cell) or not grade_id(cell):
            continue
        gid = grade_id(cell)
        before = cells[i - 1] if i and cells[i - 1].cell_type == "markdown" else None
        question = cell.source if is_task(cell) else (before.source if before else "")
        match = matches.get(gid)
        if match is None:
            body = '<p class="missing">This answer cell is missing from the notebook.</p>'
        elif is_task(cell):
            work = _task_cells(submission.cells, match.index)
            body = "\n".join(_cell_html(c) for c in work) or '<p class="missing">No work.</p>'
        else:
            body = _cell_html(match.cell)
        sections.append(
            f"<section><h2>{html.escape(gid)} <small>({pending_text(points[gid])})</small></h2>\n"
            f'<div class="question">{html.escape(question)}</div>\n{body}</section>'
        )
    heading = " &mdash; ".join(html.escape(t) for t in (title, student) if t)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{heading or "answers"}: written answers</title><style>{CSS}</style></head><body>
<h1>{heading}: written answers</h1>
<p>Graded by a person: {pending_text(sum(points.values()))} in all.</p>
{chr(10).join(sections)}
</body></html>
"""


def page_for(notebook_path, released, *, title="", student=""):
    """The answers page, or None when the assignment has no manually graded cells."""
    if not hasattr(released, "cells"):
        released = read_notebook(released)
    if not manual_points(released):
        return None
    return answers_page(notebook_path, released, title=title, student=student)
