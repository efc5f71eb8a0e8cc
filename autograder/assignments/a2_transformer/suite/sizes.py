"""Sizes shared by the a2_transformer groups, and the multi-head attention hints."""

from autograder.assignments.a2_transformer.suite import hints as variants

D_MODEL, NUM_HEADS, FF_DIM = 16, 4, 32
MHA_NAMES = ("wq", "wk", "wv", "wo")


def mha_variants(*args, **kwargs):
    """variants.mha_hints, then the shared-projection hint (wq for queries, keys and values)."""
    return {
        **variants.mha_hints(*args, **kwargs),
        **variants.mha_shared_projection_hint(*args, **kwargs),
    }
