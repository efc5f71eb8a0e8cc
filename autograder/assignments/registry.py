"""The assignments the grader knows, in course order: an explicit list, never a glob.

An assignment owns one folder, `autograder/assignments/<name>/`:

    notebook.txt   the solution notebook as text (built into solutions/ by tools/build_notebooks.py)
    suite/         `plan(rng, answers) -> Plan`, and UNITS, FORBID, GIVEN_PACKAGES
    catalog/       `CATALOG`: realistic bugs and correct alternatives (read by the tests,
                   the demo and `python -m autograder audit`)
    support/       trusted files shipped into the jail as `grader_support` (optional)

To add one, create its folder and append its name here.
"""

import importlib
from pathlib import Path

ASSIGNMENTS = (
    "a1_attention",
    "a2_transformer",
    "a3_gpt",
    "a4_translation",
    "a5_vit",
    "a6_scaling",
)
ROOT = Path(__file__).resolve().parent


def _known(assignment):
    if assignment not in ASSIGNMENTS:
        raise KeyError(
            f"No assignment {assignment!r}. Known assignments: {', '.join(ASSIGNMENTS)} "
            "(add a new one to ASSIGNMENTS in autograder/assignments/registry.py)."
        )
    return assignment


def folder(assignment):
    """The folder that owns `assignment`."""
    return ROOT / _known(assignment)


def notebook_source(assignment):
    """The text source of the solution notebook."""
    return folder(assignment) / "notebook.txt"


def get_suite(assignment):
    """The grading suite module of `assignment`; a clear KeyError lists the known ones."""
    return importlib.import_module(f"autograder.assignments.{_known(assignment)}.suite")


def get_catalog(assignment):
    """The main `Catalog` of `assignment`: its bugs and correct alternatives."""
    return _catalog_module(assignment).CATALOG


def get_catalogs(assignment):
    """Every `Catalog` of `assignment` (the main one first), each graded in a run of its own."""
    module = _catalog_module(assignment)
    return getattr(module, "CATALOGS", (module.CATALOG,))


def _catalog_module(assignment):
    return importlib.import_module(f"autograder.assignments.{_known(assignment)}.catalog")
