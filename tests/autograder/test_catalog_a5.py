"""The a5_vit grading catalog (autograder/assignments/a5_vit/catalog/), audited in one run."""

import pytest

from tests.autograder.catalog_tests import CatalogTests

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("audit_a5_vit")]


class TestA5Catalog(CatalogTests):
    assignment = "a5_vit"
    max_score = 21.0
    min_bugs = 15
    min_alternatives = 5
