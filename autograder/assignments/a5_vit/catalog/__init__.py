"""The grading catalogs of a5_vit, read by the tests, the demo and `python -m autograder audit`.

- `CATALOG`: realistic bugs (bugs.py) and correct alternatives (alternatives.py);
- `ATTACKS`: a1's adversarial notebooks pointed at a5_vit, attacks on a5's own units, and
  malformed notebooks (adversarial.py), graded under tighter limits in a run of their own.
"""

from autograder.assignments.a5_vit.catalog.adversarial import ADVERSARIAL, PATCHES, write_malformed
from autograder.assignments.a5_vit.catalog.alternatives import ALTERNATIVES
from autograder.assignments.a5_vit.catalog.bugs import BUGS, VAGUE
from autograder.catalog import Catalog
from autograder.sandbox import Limits

CATALOG = Catalog(
    "a5_vit", BUGS, ALTERNATIVES, VAGUE, limits=Limits(wall_seconds=60, cpu_seconds=60)
)
ATTACKS = Catalog(
    "a5_vit",
    {},
    {},
    adversarial={name: {PATCHES: cell} for name, cell in ADVERSARIAL.items()},
    limits=Limits(wall_seconds=12, cpu_seconds=12),
    malformed=write_malformed,
    name="attacks",
)
CATALOGS = (CATALOG, ATTACKS)
