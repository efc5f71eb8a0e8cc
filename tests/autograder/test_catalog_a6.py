"""The a6_scaling grading catalog (autograder/assignments/a6_scaling/catalog/), audited in one run."""

import pytest

from tests.autograder.catalog_tests import CatalogTests

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("audit_a6_scaling")]


class TestA6Catalog(CatalogTests):
    assignment = "a6_scaling"
    max_score = 23.0
    min_bugs = 15
    min_alternatives = 5
