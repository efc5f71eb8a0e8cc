"""Float64 numpy versions of the course's building blocks, with switches that reproduce bugs.

The suites compute reference outputs with course_lib; these versions let a suite's hints
name the likely mistake when a submission's output matches a variant (the scale, the
softmax axis, the mask, the merge of the heads, norm order, residuals, epsilon...).
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
