"""Float64 numpy versions of the units, with switches that reproduce common student bugs.

The suites compute the reference outputs with course_lib; these variants only
name the likely mistake when a submission's output matches one of them.
"""

import math

import numpy as np


def softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def attention(q, k, v, mask=None, scale="sqrt", axis=-1, mask_mode="before"):
    """Attention with switchable scale, softmax axis and mask handling; returns (out, weights).

    `scale` is "sqrt" (1/sqrt(d_k)), "none", "dk" (1/d_k), "dv" (1/sqrt(d_v)) or a number
    `n` (1/sqrt(n), e.g. the model width instead of the key size).
    """
    q, k, v = (np.asarray(t, np.float64) for t in (q, k, v))
    logits = q @ np.swapaxes(k, -1, -2)
    dk = q.shape[-1]
    if not isinstance(scale, str):
        logits = logits / math.sqrt(scale)
    else:
        logits = {
            "sqrt": logits / math.sqrt(dk),
            "none": logits,
            "dk": logits / dk,
            "dv": logits / math.sqrt(v.shape[-1]),
        }[scale]
    if mask is not None and mask_mode in ("before", "inverted", "add"):
        m = np.asarray(mask, bool)
        if mask_mode == "inverted":
            m = ~m
        logits = (
            logits + np.where(m, 0.0, -1e9) if mask_mode == "add" else np.where(m, logits, -1e9)
        )
    w = softmax(logits, axis=axis)
    if mask is not None and mask_mode == "after":
        w = w * np.asarray(mask, bool)
    if mask is not None and mask_mode == "after_renorm":
        w = w * np.asarray(mask, bool)
        w = w / w.sum(-1, keepdims=True)
    return w @ v, w


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


# a2_transformer: multi-head attention and the encoder block ---------------------------


def split_heads_np(x, num_heads):
    """`(B, T, D)` -> `(B, H, T, D // H)` in numpy."""
    b, t, d = x.shape
    return np.asarray(x).reshape(b, t, num_heads, d // num_heads).transpose(0, 2, 1, 3)


def merge_heads_np(x, transpose=True):
    """`(B, H, T, Dh)` -> `(B, T, H * Dh)`; `transpose=False` reproduces the reshape-only bug."""
    b, h, t, dh = x.shape
    x = np.asarray(x)
    return (x.transpose(0, 2, 1, 3) if transpose else x).reshape(b, t, h * dh)


def dense_np(x, kernel_bias, activation=None):
    kernel, bias = kernel_bias
    y = np.asarray(x, np.float64) @ np.asarray(kernel, np.float64) + np.asarray(bias, np.float64)
    if activation == "relu":
        return np.maximum(y, 0.0)
    if activation == "gelu":
        return 0.5 * y * (1.0 + np.vectorize(math.erf)(y / math.sqrt(2.0)))
    return y


def mha_np(
    query,
    value,
    weights,
    num_heads,
    key=None,
    mask=None,
    causal=False,
    *,
    merge_transpose=True,
    scale="dk",
    axis=-1,
    mask_mode="before",
    key_proj="wk",
    value_proj="wv",
    output_projection=True,
):
    """Multi-head attention in float64 with `weights[name] = (kernel, bias)`; returns (out, scores).

    The switches reproduce common bugs: `merge_transpose=False` (reshape-only merge),
    `scale` "dk" | "none" | "d_model", `axis` of the softmax, `mask_mode`
    "before" | "inverted" | "ignored", the projection used for keys/values, and
    a missing output projection.
    """
    key = value if key is None else key
    q = split_heads_np(dense_np(query, weights["wq"]), num_heads)
    k = split_heads_np(dense_np(key, weights[key_proj]), num_heads)
    v = split_heads_np(dense_np(value, weights[value_proj]), num_heads)
    logits = q @ np.swapaxes(k, -1, -2)
    d_model = q.shape[1] * q.shape[-1]
    logits = {
        "dk": logits / math.sqrt(q.shape[-1]),
        "none": logits,
        "d_model": logits / math.sqrt(d_model),
    }[scale]
    full = None
    if mask is not None and mask_mode != "ignored":
        m = np.asarray(mask, bool)
        full = m[:, None] if m.ndim == 3 else m
        if mask_mode == "inverted":
            full = ~full
    if causal and mask_mode != "ignored":
        tq, tk = logits.shape[-2:]
        c = np.tril(np.ones((tq, tk), bool))
        full = c if full is None else full & c
    if full is not None:
        logits = np.where(full, logits, -1e9)
    scores = softmax(logits, axis=axis)
    merged = merge_heads_np(scores @ v, transpose=merge_transpose)
    out = dense_np(merged, weights["wo"]) if output_projection else merged
    return out, scores


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


def layer_norm_np(x, gamma_beta, eps=1e-6):
    gamma, beta = (np.asarray(w, np.float64) for w in gamma_beta)
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def ffn_np(x, weights, activation="relu"):
    """`dense2(dense1(x))` with `weights["dense1"]`, `weights["dense2"]`."""
    return dense_np(dense_np(x, weights["dense1"], activation), weights["dense2"])


def encoder_block_np(
    x,
    weights,
    mask=None,
    norm_first=False,
    residual_attn=True,
    residual_ffn=True,
    eps=1e-6,
    num_heads=4,
    activation="relu",
):
    """The encoder block in float64; the switches reproduce common bugs.

    `weights` holds `wq`, `wk`, `wv`, `wo`, `dense1`, `dense2` as (kernel, bias)
    and `norm1`, `norm2` as (gamma, beta).
    """
    x = np.asarray(x, np.float64)
    h = layer_norm_np(x, weights["norm1"], eps) if norm_first else x
    attended = mha_np(h, h, weights, num_heads, mask=mask)[0]
    x = x + attended if residual_attn else attended
    if not norm_first:
        x = layer_norm_np(x, weights["norm1"], eps)
    h = layer_norm_np(x, weights["norm2"], eps) if norm_first else x
    fed = ffn_np(h, weights, activation)
    x = x + fed if residual_ffn else fed
    if not norm_first:
        x = layer_norm_np(x, weights["norm2"], eps)
    return x


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
