"""The a4_translation grading catalog (autograder/assignments/a4_translation/catalog/), audited in one run."""

import pytest

from tests.autograder.catalog_tests import CatalogTests

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("audit_a4_translation")]


class TestA4Catalog(CatalogTests):
    assignment = "a4_translation"
    max_score = 29.0
    min_bugs = 15
    min_alternatives = 5
