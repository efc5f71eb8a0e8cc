"""Hints of the a1_attention suite: float64 variants of the units with common bugs."""

import numpy as np

from autograder.grading.numpy_models import attention


def attention_hints(q, k, v, mask=None, index=0):
    """{label: array} of buggy variants of output (index 0) or weights (index 1)."""
    hints = {
        "the scores are not scaled by 1/sqrt(d_k)": attention(q, k, v, mask, scale="none"),
        "the scores are divided by d_k instead of sqrt(d_k)": attention(q, k, v, mask, scale="dk"),
        "the softmax is taken over the query axis instead of the key axis (axis=-1)": attention(
            q, k, v, mask, axis=-2
        ),
    }
    if np.asarray(v).shape[-1] != np.asarray(q).shape[-1]:
        hints["the scale uses the value depth d_v instead of the key depth d_k"] = attention(
            q, k, v, mask, scale="dv"
        )
    if mask is not None:
        hints["the mask is inverted (True must mean 'may attend')"] = attention(
            q, k, v, mask, mask_mode="inverted"
        )
        hints["the mask is applied after the softmax instead of to the logits before it"] = (
            attention(q, k, v, mask, mask_mode="after")
        )
        hints["the mask is ignored"] = attention(q, k, v, None)
    return {label: pair[index] for label, pair in hints.items()}


WRONG_ORDER = "(output, weights) are returned in the wrong order"


def returned_order_hint(other):
    """The hint for `.0` (or `.1`) when it holds what `.1` (or `.0`) should: `other` is that."""
    return {WRONG_ORDER: other}


def padding_hints(token_ids, pad_id):
    """{label: mask} of buggy padding masks `(B, 1, T)` for `pad_id`."""
    ids = np.asarray(token_ids)
    hints = {"True marks the pads instead of the real tokens": (ids == pad_id)[:, None, :]}
    if pad_id != 0:
        hints["pad_id is ignored (the mask uses 0)"] = (ids != 0)[:, None, :]
    return hints


def self_attention_hints(x, q, k, v, mask=None):
    """{label: output} of buggy self-attention heads; `q, k, v` the three projections of `x`."""
    hints = attention_hints(q, k, v, mask, index=0)
    d_model = np.asarray(x).shape[-1]
    if d_model != np.asarray(q).shape[-1]:
        hints[
            "the scores are scaled by 1/sqrt(d_model) of the input instead of 1/sqrt(key_dim)"
        ] = attention(q, k, v, mask, scale=d_model)[0]
    hints["the queries come from the wrong Dense layer (key_dense instead of query_dense)"] = (
        attention(k, k, v, mask)[0]
    )
    hints["queries, keys or values come from the wrong Dense layer"] = attention(k, q, v, mask)[0]
    return hints


def combined_mask_hints(q, k, v, pad, causal):
    """{label: output} of heads that drop one of two masks given together."""
    return {
        "use_causal_mask=True replaces the attention_mask instead of combining them "
        "(ops.logical_and)": attention(q, k, v, causal)[0],
        "the causal mask is dropped when an attention_mask is given": attention(q, k, v, pad)[0],
    }


def causal_hints(length):
    ones = np.ones((length, length), bool)
    return {
        "the diagonal is excluded (each position must attend to itself: use k=0)": np.tril(
            ones, -1
        ),
        "the upper triangle is kept instead of the lower one (future instead of past)": np.triu(
            ones
        ),
        "the mask is inverted (True must mean 'may attend')": ~np.tril(ones),
        "the diagonal is shifted by one (k=1 lets a position see the next token)": np.tril(ones, 1),
    }
