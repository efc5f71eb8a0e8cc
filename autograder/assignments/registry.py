"""Grading suites, one module per assignment: `plan(rng, answers) -> Plan`.

A suite is a module `autograder/suites/a<N>_<name>.py`; adding the file registers it.
"""

import importlib
import re
from pathlib import Path

SUITES = tuple(
    sorted(
        p.stem
        for p in Path(__file__).resolve().parent.glob("a*_*.py")
        if re.match(r"a\d+_", p.stem)
    )
)


def get_suite(assignment):
    """The suite module of `assignment`; a clear error lists the known ones."""
    if assignment not in SUITES:
        raise KeyError(
            f"No grading suite for {assignment!r}. Known assignments: {', '.join(SUITES)}"
        )
    return importlib.import_module(f"autograder.suites.{assignment}")
