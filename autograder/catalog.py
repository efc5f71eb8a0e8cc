"""Builds submission notebooks for the grading catalogs: a notebook with some cells replaced.

A catalog entry is `{solution cell grade_id: new source}`. `write_submission` takes the
solution notebook (or the released one, for submissions that must not carry honest work),
replaces those cells' sources and writes `<folder>/<student>/<assignment>/<assignment>.ipynb`,
nbgrader's `submitted/` layout that `autograder.pipeline.grade` reads.
`CatalogTests` holds the checks every catalog module makes on its class, graded in one run.
"""

import copy
import json
import textwrap
from pathlib import Path

import pytest

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


class CatalogTests:
    """The checks every grading catalog makes, over the whole class graded in ONE run.

    A catalog module subclasses it as `class Test...(CatalogTests)` and sets its data:
    `assignment`, `bugs` (`{name: (cells, {unit: phrase the feedback of that unit must
    contain})}`), `alternatives` (`{name: cells}`, each full marks), `vague` (`{bug name:
    reason}`: its feedback is known not to name the symptom, a strict xfail), `limits`,
    `max_score`, `min_bugs`, `min_alternatives`. The class-scoped `graded` fixture grades the
    reference, the released stub and every packed entry in one `grade_class` call; the tests
    on bugs and alternatives are parametrized by entry name, so a failure names the entry.
    """

    assignment = None
    bugs = {}
    alternatives = {}
    vague = {}
    limits = None
    max_score = None
    min_bugs = 15
    min_alternatives = 5

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        bug_cells = {name: cells for name, (cells, _) in cls.bugs.items()}
        cls.bug_students, cls.bug_owner = pack("bugs", bug_cells)
        cls.alt_students, cls.alt_owner = pack("alts", cls.alternatives)

    def pytest_generate_tests(self, metafunc):
        bugs = sorted(self.bugs)
        params = {
            "test_bug_loses_points_only_on_its_unit": bugs,
            "test_bug_feedback_names_the_symptom": [
                pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=self.vague[n]))
                if n in self.vague
                else n
                for n in bugs
            ],
            "test_alternative_full_marks": sorted(self.alternatives),
        }.get(metafunc.function.__name__)
        if params is not None:
            metafunc.parametrize("name", params)

    @pytest.fixture(scope="class")
    def graded(self, tmp_path_factory):
        subs = tmp_path_factory.mktemp("submissions")
        out = tmp_path_factory.mktemp("out")
        write_submission(subs, HONEST, self.assignment)
        write_submission(subs, EMPTY, self.assignment, kind="released")
        for student, cells in {**self.bug_students, **self.alt_students}.items():
            write_submission(subs, student, self.assignment, cells)
        return grade_class(self.assignment, subs, out, self.limits)

    def test_whole_class_graded_in_one_run(self, graded):
        assert len(graded["scores"]) == 2 + len(self.bug_students) + len(self.alt_students)
        assert graded["max"] == self.max_score
        assert len(self.bugs) >= self.min_bugs and len(self.alternatives) >= self.min_alternatives

    def test_packing_keeps_one_entry_per_unit(self):
        for owner, entries in (
            (self.bug_owner, {n: c for n, (c, _) in self.bugs.items()}),
            (self.alt_owner, self.alternatives),
        ):
            for student in set(owner.values()):
                units = [
                    u for name, cells in entries.items() if owner[name] == student for u in cells
                ]
                assert len(units) == len(set(units)), (student, units)

    def test_reference_full_marks_and_empty_zero(self, graded):
        assert graded["scores"][HONEST] == graded["max"], feedback(results(graded["out"], HONEST))
        assert graded["scores"][EMPTY] == 0.0, feedback(results(graded["out"], EMPTY))

    def test_bug_loses_points_only_on_its_unit(self, graded, name):
        student = self.bug_owner[name]
        res = results(graded["out"], student)
        per_unit = unit_scores(res)
        for unit in self.bugs[name][1]:
            got, top = per_unit[unit]
            assert got < top, f"{name}: {unit} kept all its points\n{feedback(res, unit)}"
        for unit, (got, top) in per_unit.items():
            if unit not in self.bug_students[student]:
                assert got == top, f"{name} ({student}): {unit} lost points\n{feedback(res, unit)}"

    def test_bug_feedback_names_the_symptom(self, graded, name):
        res = results(graded["out"], self.bug_owner[name])
        for unit, phrase in self.bugs[name][1].items():
            assert phrase in feedback(res, unit), (
                f"{name}: {phrase!r} not in\n{feedback(res, unit)}"
            )

    def test_alternative_full_marks(self, graded, name):
        res = results(graded["out"], self.alt_owner[name])
        per_unit = unit_scores(res)
        for unit in self.alternatives[name]:
            got, top = per_unit[unit]
            assert got == top, f"{name}: {unit}\n{feedback(res, unit)}"
        assert res["score"] == graded["max"], feedback(res)

    def test_catalog_is_not_flagged(self, graded):
        for name in [HONEST, *self.bug_students, *self.alt_students]:
            res = results(graded["out"], name)
            assert res["extra_data"]["flags"] == [], (name, res["output"])
