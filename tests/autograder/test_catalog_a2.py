"""The a2_transformer grading catalog (autograder/assignments/a2_transformer/catalog/), audited in one run."""

import numpy as np
import pytest

from autograder.assignments.a2_transformer import suite
from autograder.assignments.a2_transformer.suite.hints import SHARED_PROJECTION
from autograder.grading.numpy_models import mha_np
from tests.autograder.catalog_tests import CatalogTests

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("audit_a2_transformer")]


class TestA2Catalog(CatalogTests):
    assignment = "a2_transformer"
    max_score = 30.0
    min_bugs = 12
    min_alternatives = 4


def test_shared_projection_hint_wired_into_the_suite():
    """wq for queries, keys and values is named on every output check of the MHA unit."""
    _, expected = suite.build(np.random.default_rng(0), {})
    for key in ("mha_self", "mha_cross", "mha_causal", "mha_key", "mha_scores.0", "mha_drop0"):
        want, hints = expected[key]
        assert SHARED_PROJECTION in hints, key
        assert not np.allclose(hints[SHARED_PROJECTION], want, atol=1e-4), key
    # The scores do not see the values: there the keys-only hint names it, not a twin label.
    assert SHARED_PROJECTION not in expected["mha_scores.1"][1]
    # The variant is the shared projection: queries, keys and values all through wq.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 3, 4))
    eye = (np.eye(4), np.zeros(4))
    weights = {"wq": eye, "wk": (2 * np.eye(4), np.zeros(4)), "wv": eye, "wo": eye}
    shared = mha_np(x, x, weights, 2, key_proj="wq", value_proj="wq")[0]
    assert np.allclose(shared, mha_np(x, x, {**weights, "wk": eye}, 2)[0])
