"""Grading catalogs: realistic bugs and correct alternatives of an assignment, as notebooks.

An assignment's `catalog/` declares a `Catalog`: `bugs` (`{name: (cells, {unit: phrase})}`,
each a set of solution cells `{grade_id: new source}` and the phrase the feedback of each
broken unit must contain), `alternatives` (`{name: cells}`, other correct solutions) and
`adversarial` entries (built on the released notebook: attacks that must score no more than
an empty submission). `write_class` writes them as one class in nbgrader's `submitted/`
layout (`<folder>/<student>/<assignment>/<assignment>.ipynb`), which `autograder.batch.grade`
reads; `python -m autograder audit` (autograder.audit) grades it and reports what each check
catches. The tests, the demo and `audit` all read the catalogs from here.
"""

import copy
import dataclasses
import json
import textwrap
from collections.abc import Callable
from pathlib import Path

from autograder.sandbox import Limits

REPO = Path(__file__).resolve().parents[1]


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


def solved_notebook(assignment, solution_path=None, released_path=None):
    """The released notebook with the solution's code in its solution cells.

    (The solution notebook itself differs from the released one in its test cells, which
    carry hidden tests: submitting it would read as edited read-only cells.) The paths
    default to the repository's solutions/ and assignments/.
    """
    solution_path = solution_path or notebook_path(assignment, "solution")
    released_path = released_path or notebook_path(assignment, "released")
    sources = {
        cell["metadata"]["nbgrader"]["grade_id"]: cell["source"]
        for cell in json.loads(Path(solution_path).read_text())["cells"]
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    return replace_cells(json.loads(Path(released_path).read_text()), sources)


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


def src(text):
    """A cell source written as an indented triple-quoted string: dedented, one final newline."""
    return textwrap.dedent(text).strip() + "\n"


def cell_editor(assignment):
    """`edit(unit, *pairs)` -> `{unit: the solution cell of unit with the (old, new) edits}`."""

    def edit(unit, *pairs):
        return {unit: edited(assignment, unit, *pairs)}

    return edit


HONEST = "reference"
EMPTY = "empty"


def pack(prefix, entries):
    """`{student: cells}` holding the entries `{name: cells}`, at most one entry per unit each.

    The suites grade each unit on its own (with the reference dependencies injected), so
    entries on different units share a student: fewer notebooks, the same sandbox jobs.
    Returns the students and `{entry name: student}`.
    """
    students, owner = [], {}
    for name, cells in entries.items():
        home = next((s for s in students if not set(s) & set(cells)), None)
        if home is None:
            home = {}
            students.append(home)
        home.update(cells)
        owner[name] = f"{prefix}_{students.index(home) + 1:02d}"
    return {f"{prefix}_{i + 1:02d}": cells for i, cells in enumerate(students)}, owner


@dataclasses.dataclass
class Catalog:
    """An assignment's catalog; see the module docstring.

    `vague` names bugs whose feedback is known not to name the symptom (`{name: reason}`);
    `flagged` adversarial entries the static scan must flag for review (`{name: construct}`);
    `breaches` adversarial entries known to beat the grader (`{name: reason}`); `limits`
    the sandbox limits of the catalog's run; `pack=False` grades every entry as its own student;
    `honest` names the students who submit the solution; `malformed(folder)` writes raw
    notebooks (invalid JSON, nbformat 3...) and returns `{student: phrase of its feedback}`.
    """

    assignment: str
    bugs: dict
    alternatives: dict
    vague: dict = dataclasses.field(default_factory=dict)
    adversarial: dict = dataclasses.field(default_factory=dict)
    flagged: dict = dataclasses.field(default_factory=dict)
    breaches: dict = dataclasses.field(default_factory=dict)
    limits: Limits | None = None
    pack: bool = True
    honest: tuple = (HONEST,)  # students who submit the solution (first and last of a batch)
    # writes raw notebooks into the class folder; returns {student: phrase of its feedback}
    malformed: Callable | None = None
    name: str = "catalog"  # one assignment may have several (each its own run, own limits)

    def students(self):
        """`{student: (kind, cells)}` and `{entry name: student}` of the whole class.

        The reference and the released stub come first; with `pack`, bugs (and alternatives)
        on different units share a student, since each unit is graded on its own.
        """
        bug_cells = {name: cells for name, (cells, _) in self.bugs.items()}
        if self.pack:
            bug_students, bug_owner = pack("bugs", bug_cells)
            alt_students, alt_owner = pack("alts", self.alternatives)
        else:
            bug_students, bug_owner = dict(bug_cells), {n: n for n in bug_cells}
            alt_students, alt_owner = dict(self.alternatives), {n: n for n in self.alternatives}
        students = {name: ("solution", {}) for name in self.honest}
        students[EMPTY] = ("released", {})
        students.update({s: ("solution", c) for s, c in bug_students.items()})
        students.update({s: ("solution", c) for s, c in alt_students.items()})
        students.update({n: ("released", c) for n, c in self.adversarial.items()})
        owner = {**bug_owner, **alt_owner, **{n: n for n in self.adversarial}}
        return students, owner


def write_class(catalog, folder):
    """Writes the catalog's class into `folder` (nbgrader's submitted/).

    Returns `(students, owner, malformed)`: `students()`'s two maps, and the malformed
    notebooks' `{student: phrase}`.
    """
    students, owner = catalog.students()
    for student, (kind, cells) in students.items():
        write_submission(folder, student, catalog.assignment, cells, kind=kind)
    malformed = catalog.malformed(folder) if catalog.malformed else {}
    return students, owner, malformed
