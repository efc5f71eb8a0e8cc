"""The a3_gpt grading catalog (autograder/assignments/a3_gpt/catalog/), audited in one run."""

import pytest

from tests.autograder.catalog_tests import CatalogTests

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("audit_a3_gpt")]


class TestA3Catalog(CatalogTests):
    assignment = "a3_gpt"
    max_score = 37.0
    min_bugs = 15
    min_alternatives = 5
