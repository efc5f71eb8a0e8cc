"""The grading catalog of a3_gpt: realistic bugs (bugs.py) and correct alternatives
(alternatives.py), read by the tests, the demo and `python -m autograder audit`."""

from autograder.assignments.a3_gpt.catalog.alternatives import ALTERNATIVES
from autograder.assignments.a3_gpt.catalog.bugs import BUGS, VAGUE
from autograder.assignments.a3_gpt.catalog.contract_bugs import CONTRACT_BUGS
from autograder.catalog import Catalog
from autograder.sandbox import Limits

CATALOG = Catalog(
    "a3_gpt",
    {**BUGS, **CONTRACT_BUGS},
    ALTERNATIVES,
    VAGUE,
    limits=Limits(wall_seconds=60, cpu_seconds=60),
)
