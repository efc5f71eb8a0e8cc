"""Grading suites, one module per assignment: `plan(rng, answers) -> Plan`."""

import importlib

SUITES = ("a1_attention", "a2_transformer")


def get_suite(assignment):
    """The suite module of `assignment`; a clear error lists the known ones."""
    if assignment not in SUITES:
        raise KeyError(
            f"No grading suite for {assignment!r}. Known assignments: {', '.join(SUITES)}"
        )
    return importlib.import_module(f"autograder.suites.{assignment}")
