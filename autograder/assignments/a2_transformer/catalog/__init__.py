"""The grading catalog of a2_transformer: realistic bugs (bugs.py) and correct alternatives
(alternatives.py), read by the tests, the demo and `python -m autograder audit`."""

from autograder.assignments.a2_transformer.catalog.alternatives import ALTERNATIVES
from autograder.assignments.a2_transformer.catalog.bugs import BUGS, VAGUE
from autograder.catalog import Catalog
from autograder.sandbox import Limits

CATALOG = Catalog(
    "a2_transformer", BUGS, ALTERNATIVES, VAGUE, limits=Limits(wall_seconds=30, cpu_seconds=30)
)
