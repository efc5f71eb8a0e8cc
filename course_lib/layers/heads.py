"""Splitting the model width into attention heads and merging them back."""

from keras import ops


def split_heads(x, num_heads):
    """Splits the last axis into heads: `(B, T, D)` -> `(B, num_heads, T, D // num_heads)`."""
    if len(x.shape) != 3:
        raise ValueError(f"`x` must have shape (B, T, D). Received: x.shape={tuple(x.shape)}")
    depth = x.shape[-1]
    if depth is not None and depth % num_heads:
        raise ValueError(
            f"The last dimension must be divisible by `num_heads`. "
            f"Received: num_heads={num_heads}, x.shape={tuple(x.shape)}"
        )
    batch, length = ops.shape(x)[0], ops.shape(x)[1]
    x = ops.reshape(x, (batch, length, num_heads, depth // num_heads))  # (B, T, H, Dh)
    return ops.transpose(x, (0, 2, 1, 3))  # (B, H, T, Dh)


def merge_heads(x):
    """Inverse of `split_heads`: `(B, H, T, Dh)` -> `(B, T, H * Dh)`."""
    if len(x.shape) != 4:
        raise ValueError(f"`x` must have shape (B, H, T, Dh). Received: x.shape={tuple(x.shape)}")
    x = ops.transpose(x, (0, 2, 1, 3))  # (B, T, H, Dh)
    batch, length = ops.shape(x)[0], ops.shape(x)[1]
    return ops.reshape(x, (batch, length, x.shape[2] * x.shape[3]))
