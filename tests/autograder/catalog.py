"""Builds submission notebooks for the grading catalogs: a notebook with some cells replaced.

A catalog entry is `{solution cell grade_id: new source}`. `write_submission` takes the
solution notebook (or the released one, for submissions that must not carry honest work),
replaces those cells' sources and writes `<folder>/<student>/<assignment>/<assignment>.ipynb`,
nbgrader's `submitted/` layout that `autograder.pipeline.grade` reads.
"""

import copy
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def notebook_path(assignment, kind="solution"):
    """The solution (`kind="solution"`) or released (`kind="released"`) notebook."""
    root = {"solution": REPO / "solutions", "released": REPO / "assignments"}[kind]
    return root / assignment / f"{assignment}.ipynb"


def load_notebook(assignment, kind="solution"):
    return json.loads(notebook_path(assignment, kind).read_text())


def replace_cells(nb, replacements):
    """A copy of the notebook dict `nb` with the sources of cells `{grade_id: source}` replaced."""
    nb = copy.deepcopy(nb)
    todo = dict(replacements)
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in todo:
            cell["source"] = todo.pop(gid)
            cell["outputs"] = [] if cell["cell_type"] == "code" else cell.get("outputs")
    if todo:
        raise KeyError(f"no cell with grade_id {sorted(todo)}")
    return nb


def solved_notebook(assignment):
    """The released notebook with the solution's code in its solution cells.

    (The solution notebook itself differs from the released one in its test cells, which
    carry hidden tests: submitting it would read as edited read-only cells.)
    """
    solution = load_notebook(assignment, "solution")
    sources = {
        cell["metadata"]["nbgrader"]["grade_id"]: cell["source"]
        for cell in solution["cells"]
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    return replace_cells(load_notebook(assignment, "released"), sources)


def write_submission(folder, student, assignment, replacements=None, kind="solution"):
    """Writes one student's notebook (solved or released, with `replacements`); returns its path.

    `kind="solution"`: the released notebook with the solution cells filled in;
    `kind="released"`: the notebook as students get it (every unit raises NotImplementedError).
    """
    base = solved_notebook(assignment) if kind == "solution" else load_notebook(assignment, kind)
    nb = replace_cells(base, replacements or {})
    path = Path(folder) / student / assignment / f"{assignment}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1))
    return path


def results(out, student):
    """The Gradescope results.json of one student, as a dict."""
    return json.loads((Path(out) / student / "results.json").read_text())


def feedback(res, unit=None):
    """All test outputs of a results dict (only the tests of `unit`, if given), and the general output."""
    outputs = [
        t["output"] for t in res["tests"] if unit is None or t["name"].startswith(unit + ":")
    ]
    return "\n".join([res.get("output", ""), *outputs])


def unit_scores(res):
    """`{unit: (score, max_score)}` summed over the tests of each unit."""
    scores = {}
    for t in res["tests"]:
        unit = t["name"].split(":")[0]
        got, top = scores.get(unit, (0.0, 0.0))
        scores[unit] = (got + t["score"], top + t["max_score"])
    return scores


def solution_source(assignment, grade_id):
    """The source of the solution cell `grade_id`, as one string."""
    for cell in load_notebook(assignment, "solution")["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            source = cell["source"]
            return source if isinstance(source, str) else "".join(source)
    raise KeyError(f"no cell with grade_id {grade_id!r}")


def edited(assignment, grade_id, *pairs):
    """The solution cell `grade_id` with each `(old, new)` text replaced (old must be there once)."""
    source = solution_source(assignment, grade_id)
    for old, new in pairs:
        if source.count(old) != 1:
            raise ValueError(f"{old!r} occurs {source.count(old)} times in cell {grade_id}")
        source = source.replace(old, new)
    return source


def grade_class(assignment, submissions, out, limits):
    """Grades a whole catalog class in one run; prints and returns its scores."""
    import time

    from autograder.pipeline import grade

    start = time.monotonic()
    rows = grade(assignment, submissions, out, jobs=2, progress=False, limits=limits)
    wall = time.monotonic() - start
    scores = {r["student"]: r["score"] for r in rows}
    maximum = rows[0]["max_score"]
    print(f"\nclass size {len(rows)}, wall {wall:.1f} s, {wall / len(rows):.2f} s per submission")
    for student, score in sorted(scores.items()):
        print(f"{student:40s} {score:6.2f} / {maximum:g}")
    return {"out": out, "scores": scores, "max": maximum, "wall": wall}
