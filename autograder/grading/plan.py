"""What a grading suite declares: sandbox groups, their calls and inputs, and weighted checks.

A suite turns a secret random generator into a `Plan`:
- `Group`s, each one sandbox job: the calls to make on the student's code,
  their input arrays, and which reference modules to inject (a unit is tested
  with the reference implementations of its dependencies, so one bug costs
  points once);
- `Check`s, each a weighted test of one unit (a solution cell's grade_id) that
  turns the returned arrays into a `Verdict`.
The reference outputs are computed here, in the trusted parent, from course_lib.
"""

import ast
import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from autograder.compare import Verdict, compare, compare_set, failed, passed

COURSE_LIB = Path(__file__).resolve().parents[2] / "course_lib"

FORBIDDEN = (
    "keras.layers.MultiHeadAttention",
    "keras.layers.Attention",
    "keras.ops.dot_product_attention",
    "tf.keras.layers.MultiHeadAttention",
)


@dataclasses.dataclass
class Group:
    """One sandbox job: calls on the submission, with reference modules injected."""

    name: str
    calls: list[dict]
    inputs: dict[str, np.ndarray]
    site_modules: tuple[str, ...] = ()  # paths under course_lib/, e.g. "layers/attention.py"
    inject: dict[str, str] = dataclasses.field(default_factory=dict)
    # Files of autograder/suites/support/ shipped as the package `grader_support` (toy models,
    # dataset builders, measurements): construct them with "site:grader_support.<module>:<name>".
    support: tuple[str, ...] = ()
    logical_cpus: int | None = None  # split the jail's CPU into this many logical devices
    limits: dict = dataclasses.field(default_factory=dict)  # overrides of the course's Limits


@dataclasses.dataclass
class Check:
    """One graded test of a unit; `weight` is relative among the unit's checks."""

    name: str
    unit: str
    evaluate: Callable[["Outcome"], Verdict]
    weight: float = 1.0


@dataclasses.dataclass
class Plan:
    groups: list[Group]
    checks: list[Check]


class Missing(Exception):
    """A result the check needs did not come back; the message says why."""


class Outcome:
    """The arrays and errors of every group of one submission, looked up by call id."""

    def __init__(self, arrays, errors, group_of, group_status, object_of=None):
        self.arrays = arrays
        self.errors = errors
        self.group_of = group_of  # call id -> group name
        self.group_status = group_status  # group name -> (status, detail)
        self.object_of = object_of or {}  # call id -> id of the construct call it uses

    def get(self, key):
        if key in self.arrays:
            return self.arrays[key]
        call_id, _, index = key.partition(".")
        if index and call_id in self.arrays:
            raise Missing("Expected a tuple of results, but a single array came back.")
        if not index and f"{call_id}.0" in self.arrays:
            raise Missing("Expected a single array, but a tuple came back.")
        raise Missing(self.why_missing(call_id))

    def why_missing(self, call_id):
        built_by = self.object_of.get(call_id)
        if built_by in self.errors:
            return "Building the layer failed, so it could not be called:\n" + clean_traceback(
                self.errors[built_by]
            )
        if call_id in self.errors:
            return "Your code raised an error:\n" + clean_traceback(self.errors[call_id])
        status, detail = self.group_status.get(self.group_of.get(call_id), ("missing", ""))
        if status != "ok":
            return f"The sandbox stopped before this test finished ({status}: {detail})."
        return "No result came back for this test."

    def error(self, call_id):
        return self.errors.get(call_id)


def clean_traceback(text):
    """The student's part of a sandbox traceback: harness frames dropped, the cause last."""
    lines, skip = [], False
    for line in text.splitlines():
        if line.startswith("  File ") and "autograder/sandbox" in line:
            skip = True
            continue
        if skip and line.startswith("    "):
            continue
        skip = False
        lines.append(line)
    last = lines[-1] if lines else ""
    if last.startswith("NotImplementedError"):
        return "Not implemented yet: the cell still raises NotImplementedError."
    return "\n".join(lines)


# Calls ----------------------------------------------------------------------


def arr(name):
    return {"array": name}


def obj(name):
    return {"object": name}


def function(call_id, name, *args, **kwargs):
    return {"id": call_id, "kind": "function", "name": name, "args": list(args), "kwargs": kwargs}


def construct(call_id, name, kwargs, build_args, weights):
    return {
        "id": call_id,
        "kind": "construct",
        "name": name,
        "kwargs": kwargs,
        "build": {"args": list(build_args), "kwargs": {}},
        "weights": weights,
    }


def call(call_id, object_id, *args, **kwargs):
    return {
        "id": call_id,
        "kind": "call",
        "object": object_id,
        "args": list(args),
        "kwargs": kwargs,
    }


def value(call_id, name):
    return {"id": call_id, "kind": "value", "name": name}


# Checks ---------------------------------------------------------------------


def close(key, expected, what, hints=None, atol=1e-4, rtol=1e-4):
    """A check function: the array at `key` matches `expected`."""

    def evaluate(outcome):
        try:
            actual = outcome.get(key)
        except Missing as err:
            return failed(str(err))
        return compare(actual, expected, what=what, hints=hints, atol=atol, rtol=rtol)

    return evaluate


def raises(call_id, error_name, must_mention=(), what="the call"):
    """A check function: the call raised `error_name` whose message mentions each of `must_mention`."""

    def evaluate(outcome):
        text = outcome.error(call_id)
        if text is None:
            return failed(f"Expected {what} to raise {error_name}, but it returned normally.")
        last = text.strip().splitlines()[-1] if text.strip() else ""
        if error_name not in last:
            return failed(f"Expected {what} to raise {error_name}; it raised: {last}")
        absent = [str(m) for m in must_mention if str(m) not in last]
        if absent:
            return failed(
                f"{error_name} raised, but its message should mention {', '.join(absent)}: {last}"
            )
        return passed()

    return evaluate


def all_of(*evaluators):
    def evaluate(outcome):
        for ev in evaluators:
            verdict = ev(outcome)
            if not verdict.passed:
                return verdict
        return passed()

    return evaluate


def answer_check(unit, letters):
    """The multiple-choice check for `answer_<id>` against the solution's set of letters."""
    return Check(
        f"{unit}: concept question",
        unit,
        lambda outcome: _answer(outcome, unit, letters),
    )


def _answer(outcome, unit, letters):
    try:
        codes = outcome.get(f"value_{unit}")
    except Missing as err:
        return failed(str(err))
    return compare_set(codes, letters, what=unit)


def solution_answers(solution_nb):
    """`{answer_<id>: set_of_letters}` read from the solution notebook's answer cells (no execution)."""
    answers = {}
    for cell in solution_nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if cell.cell_type != "code" or not grade_id.startswith("answer_"):
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == grade_id for t in node.targets
            ):
                answers[grade_id] = set(ast.literal_eval(node.value))
    return answers


# Reference modules for the sandbox ------------------------------------------------


def _relative_imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            yield node.module.replace(".", "/") + ".py"


SUPPORT = Path(__file__).resolve().parent / "support"


def group_site(group):
    """The site/ files of a group's job: its reference modules and its support files; or None."""
    files = site_files(group.site_modules) if group.site_modules else {}
    if group.support:
        files["grader_support/__init__.py"] = _empty_init()
        for name in group.support:
            files[f"grader_support/{name}"] = SUPPORT / name
    return files or None


def _empty_init():
    empty = Path(tempfile.gettempdir()) / "autograder-empty-init.py"
    empty.write_text("")
    return empty


def site_files(modules):
    """`{"course_lib/layers/x.py": path}` for `modules` and the sibling modules they import.

    Package `__init__` files are empty, so only these modules are importable in
    the sandbox: injecting `MultiHeadAttention` does not expose the reference
    `TransformerEncoderBlock` to the code it grades.
    """
    empty = _empty_init()
    files, todo = {}, list(modules)
    while todo:
        rel = todo.pop()
        if f"course_lib/{rel}" in files:
            continue
        path = COURSE_LIB / rel
        files[f"course_lib/{rel}"] = path
        package = Path(rel).parent
        todo += [str(package / dep) for dep in _relative_imports(path)]
        for parent in [package, *package.parents]:
            files.setdefault(f"course_lib/{parent}/__init__.py".replace("/./", "/"), empty)
    return files
