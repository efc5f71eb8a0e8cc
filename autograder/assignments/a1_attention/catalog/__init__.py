"""The grading catalog of a1_attention: bugs, alternatives and adversarial notebooks.

Read by the tests, the demo and `python -m autograder audit a1_attention`. Every entry is
its own student (`pack=False`): the adversarial ones are graded in the same batch as two
honest students, one first and one last, who must keep full marks.
"""

from autograder.assignments.a1_attention.catalog.adversarial import (
    ADVERSARIAL,
    BREACHES,
    FLAGGED,
    HONEST,
)
from autograder.assignments.a1_attention.catalog.adversarial_resources import RESOURCE_ATTACKS
from autograder.assignments.a1_attention.catalog.alternatives import ALTERNATIVES
from autograder.assignments.a1_attention.catalog.bugs import A1, BUGS, SDPA, VAGUE
from autograder.catalog import Catalog
from autograder.sandbox import Limits

ATTACKS = {**ADVERSARIAL, **RESOURCE_ATTACKS}  # name -> the source of the attention cell
CATALOG = Catalog(
    A1,
    BUGS,
    ALTERNATIVES,
    VAGUE,
    adversarial={name: {SDPA: cell} for name, cell in ATTACKS.items()},
    flagged=FLAGGED,
    breaches=BREACHES,
    limits=Limits(wall_seconds=12, cpu_seconds=12),
    pack=False,
    honest=HONEST,
)
