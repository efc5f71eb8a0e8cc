"""The grading catalog of a4_translation: realistic bugs (bugs.py) and correct alternatives
(alternatives.py), read by the tests, the demo and `python -m autograder audit`."""

from autograder.assignments.a4_translation.catalog.alternatives import ALTERNATIVES
from autograder.assignments.a4_translation.catalog.bugs import BUGS, VAGUE
from autograder.catalog import Catalog
from autograder.sandbox import Limits

CATALOG = Catalog(
    "a4_translation", BUGS, ALTERNATIVES, VAGUE, limits=Limits(wall_seconds=60, cpu_seconds=60)
)
