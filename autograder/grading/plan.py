"""The types a grading suite declares: sandbox groups, weighted checks, and their outcome.

A suite turns a secret random generator into a `Plan`:
- `Group`s, each one sandbox job: the calls to make on the student's code,
  their input arrays, and which reference modules to inject (a unit is tested
  with the reference implementations of its dependencies, so one bug costs
  points once);
- `Check`s, each a weighted test of one unit (a solution cell's grade_id) that
  turns the returned arrays into a `Verdict`.
The reference outputs are computed here, in the trusted parent, from course_lib.
"""

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from autograder.grading.compare import Verdict


@dataclasses.dataclass
class Group:
    """One sandbox job: calls on the submission, with reference modules injected."""

    name: str
    calls: list[dict]
    inputs: dict[str, np.ndarray]
    # Reference modules shipped into the job, as paths under course_lib/ ("layers/attention.py");
    # the modules they import are shipped too (autograder.grading.site).
    site_modules: tuple[str, ...] = ()
    inject: dict[str, str] = dataclasses.field(default_factory=dict)
    # Trusted helper files (an assignment's support/ folder, autograder/grading/shipped/),
    # shipped as the package `grader_support`: construct or call them with
    # "site:grader_support.<module>:<name>" (see autograder.grading.site.support_name).
    support: tuple[Path, ...] = ()
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
