"""Hints of the a2_transformer suite: float64 variants of the units with common bugs."""

import numpy as np

from autograder.grading.numpy_models import encoder_block_np, mha_np


def positional_hints(length, depth):
    pos = np.arange(length)[:, None]
    i = np.arange(depth // 2)[None]
    angles = pos / np.power(10000.0, 2 * i / depth)
    concat = np.concatenate([np.sin(angles), np.cos(angles)], axis=-1)
    swapped = np.empty((length, depth))
    swapped[:, 0::2], swapped[:, 1::2] = np.cos(angles), np.sin(angles)
    wrong_rate = np.empty((length, depth))
    angles_i = pos / np.power(10000.0, i / depth)
    wrong_rate[:, 0::2], wrong_rate[:, 1::2] = np.sin(angles_i), np.cos(angles_i)
    return {
        "sines and cosines are concatenated instead of interleaved (sin at even, cos at odd columns)": concat,
        "sine and cosine are swapped (sin belongs at even columns)": swapped,
        "the exponent uses i/d instead of 2i/d": wrong_rate,
    }


def mha_hints(query, value, weights, num_heads, key=None, mask=None, causal=False, index=0):
    """{label: array} of buggy multi-head attention outputs (index 0) or scores (index 1)."""
    args = (query, value, weights, num_heads, key, mask, causal)
    hints = {
        "the heads are merged with a reshape only, without transposing (B, H, T, Dh) back to "
        "(B, T, H, Dh) first": mha_np(*args, merge_transpose=False),
        "the scores are not scaled by 1/sqrt(d_k)": mha_np(*args, scale="none"),
        "the scores are scaled by 1/sqrt(d_model) instead of 1/sqrt(d_k), d_k = d_model // num_heads "
        "the size of one head": mha_np(*args, scale="d_model"),
        "the softmax is taken over the query axis instead of the key axis (axis=-1)": mha_np(
            *args, axis=-2
        ),
        "the keys are projected with wq instead of wk": mha_np(*args, key_proj="wq"),
        "the values are projected with wk instead of wv": mha_np(*args, value_proj="wk"),
        "the output projection wo is missing": mha_np(*args, output_projection=False),
    }
    if mask is not None:
        hints["the mask is inverted (True must mean 'may attend')"] = mha_np(
            *args, mask_mode="inverted"
        )
    if mask is not None or causal:
        hints["the mask is ignored"] = mha_np(*args, mask_mode="ignored")
    correct = mha_np(*args)[index]
    # A bug after the softmax (merge, wv, wo) leaves the scores right: no hint for it there.
    return {
        label: pair[index]
        for label, pair in hints.items()
        if not np.allclose(pair[index], correct, atol=1e-6)
    }


def encoder_block_hints(x, weights, mask=None, num_heads=4):
    """{label: array} of buggy encoder block outputs."""
    args = (x, weights, mask)
    hints = {
        "LayerNorm is applied before each sublayer (pre-norm) instead of after the residual "
        "sum (post-norm: x = norm(x + sublayer(x)))": encoder_block_np(
            *args, norm_first=True, num_heads=num_heads
        ),
        "the residual connection around the attention is missing": encoder_block_np(
            *args, residual_attn=False, num_heads=num_heads
        ),
        "the residual connection around the feed-forward network is missing": encoder_block_np(
            *args, residual_ffn=False, num_heads=num_heads
        ),
        "LayerNormalization uses its default epsilon 1e-3 instead of epsilon=1e-6": encoder_block_np(
            *args, eps=1e-3, num_heads=num_heads
        ),
    }
    if mask is not None:
        hints["the attention mask is not passed on to the attention layer"] = encoder_block_np(
            x, weights, None, num_heads=num_heads
        )
    return hints


SHARED_PROJECTION = (
    "the keys and values are projected with wq too (one projection shared by queries, keys "
    "and values) instead of their own wk and wv"
)


def mha_shared_projection_hint(
    query, value, weights, num_heads, key=None, mask=None, causal=False, index=0
):
    """{label: array} when wq projects the queries, keys and values (output or scores).

    Empty where it is indistinguishable from the right answer or from the keys-only hint
    of `mha_hints` (the scores do not see the values).
    """
    args = (query, value, weights, num_heads, key, mask, causal)
    shared = mha_np(*args, key_proj="wq", value_proj="wq")[index]
    for other in (mha_np(*args), mha_np(*args, key_proj="wq")):
        if np.allclose(shared, other[index], atol=1e-6):
            return {}
    return {SHARED_PROJECTION: shared}
