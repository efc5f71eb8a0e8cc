"""Scaled dot-product attention, the core of every layer in this package."""

import math

from keras import ops


def large_negative_number(dtype):
    """The finite value masked logits are replaced with, safe for float16 too."""
    if str(dtype) in ("float16", "<dtype: 'float16'>"):
        return -3e4
    return -1e9


def check_mask(mask, logits_shape, name="mask"):
    """Raises ValueError if `mask` cannot broadcast to the attention logits.

    Broadcasting is checked from the right on the statically known dimensions,
    so a `(B, S)` key padding mask handed to `(B, Tq, Tk)` logits is caught
    unless `B == Tq` by chance; layers that see batched inputs therefore also
    require masks of rank >= 3 (see `MultiHeadAttention`).
    """
    mask_shape = tuple(mask.shape)
    if len(mask_shape) > len(logits_shape):
        raise ValueError(
            f"`{name}` has more dimensions than the attention logits. "
            f"Received: {name}.shape={mask_shape}, logits shape={tuple(logits_shape)}"
        )
    for m, s in zip(reversed(mask_shape), reversed(tuple(logits_shape)), strict=False):
        if m is not None and s is not None and m not in (1, s):
            raise ValueError(
                f"`{name}` of shape {mask_shape} cannot broadcast to the attention logits "
                f"of shape {tuple(logits_shape)} (..., Tq, Tk). Use a key padding mask of "
                "shape (B, 1, Tk), a causal mask of shape (Tq, Tk), or a full (B, Tq, Tk) mask."
            )


def masked_softmax(logits, mask=None):
    """Softmax over the last axis with masked logits set to a large negative value.

    The softmax is computed in float32 (mixed precision safe) and cast back.
    A row with no allowed key gets finite weights (uniform over its keys).
    """
    if mask is not None:
        check_mask(mask, logits.shape)
        mask = ops.cast(mask, "bool")
        logits = ops.where(
            mask, logits, ops.cast(large_negative_number(logits.dtype), logits.dtype)
        )
    weights = ops.softmax(ops.cast(logits, "float32"), axis=-1)
    return ops.cast(weights, logits.dtype)


def scaled_dot_product_attention(query, key, value, mask=None):
    """Computes `softmax(query @ key^T / sqrt(d_k)) @ value`.

    Leading dimensions (batch, heads, ...) are carried through unchanged.

    Args:
        query: tensor `(..., Tq, dk)`.
        key: tensor `(..., Tk, dk)`.
        value: tensor `(..., Tk, dv)`.
        mask: optional boolean tensor broadcastable to `(..., Tq, Tk)`,
            True where a query may attend to a key. A 2-D mask is read as
            `(Tq, Tk)`, for example `causal_mask(T)`; a key padding mask has
            shape `(B, 1, Tk)`. Masked logits become a large negative finite
            number, so fully masked rows stay finite.

    Returns:
        `(output, weights)`: output `(..., Tq, dv)` and attention weights
        `(..., Tq, Tk)` whose rows sum to 1.

    Example:
    >>> q = k = v = np.random.rand(2, 5, 8).astype("float32")
    >>> out, w = scaled_dot_product_attention(q, k, v, mask=causal_mask(5))
    >>> out.shape, w.shape
    ((2, 5, 8), (2, 5, 5))
    """
    query, key, value = (ops.convert_to_tensor(t) for t in (query, key, value))
    for name, t in (("query", query), ("key", key), ("value", value)):
        if len(t.shape) < 2:
            raise ValueError(
                f"`{name}` must have rank >= 2 (..., length, depth). "
                f"Received: {name}.shape={tuple(t.shape)}"
            )
    if (
        query.shape[-1] is not None
        and key.shape[-1] is not None
        and query.shape[-1] != key.shape[-1]
    ):
        raise ValueError(
            "`query` and `key` must have the same last dimension d_k. "
            f"Received: query.shape={tuple(query.shape)}, key.shape={tuple(key.shape)}"
        )
    if mask is not None:
        mask = ops.convert_to_tensor(mask)
    depth = query.shape[-1] if query.shape[-1] is not None else ops.shape(query)[-1]
    scale = (
        1.0 / math.sqrt(depth)
        if isinstance(depth, int)
        else ops.rsqrt(ops.cast(depth, query.dtype))
    )
    logits = ops.matmul(query, ops.swapaxes(key, -1, -2)) * ops.cast(
        scale, query.dtype
    )  # (..., Tq, Tk)
    weights = masked_softmax(logits, mask)
    return ops.matmul(weights, value), weights
