"""Float64 numpy versions of the a5_vit units, with switches that reproduce common student bugs.

The suite computes the reference outputs with course_lib; these variants only name the likely
mistake when a submission's output matches one of them.
"""

import numpy as np

COLUMN_MAJOR = (
    "the patches are in column-major order (down each column of patches first); the contract "
    "is row-major over the image, as tf.image.extract_patches"
)
CHANNEL_FIRST = (
    "each patch is flattened channel-first, (C, P, P), instead of in (row, col, channel) order"
)
TRANSPOSED = "each patch is transposed: flattened in (col, row, channel) order"
NO_TRANSPOSE = (
    "the image is reshaped straight to (B, N, P*P*C) without bringing the patch-grid axes "
    "together first: each 'patch' is a strip of pixel rows"
)
GRID_SWAPPED = (
    "the reshape swaps the numbers of patch rows and patch columns (H/P and W/P): with H != W "
    "the patches are cut from the wrong places"
)


def extract_patches_np(images, patch_size, bug=None):
    """Row-major patches in (row, col, channel) order; `bug` is one of the labels above."""
    x = np.asarray(images, np.float64)
    b, h, w, c = x.shape
    p = patch_size
    rows, cols = h // p, w // p
    if bug == NO_TRANSPOSE:
        return x.reshape(b, rows * cols, p * p * c)
    if bug == GRID_SWAPPED:
        grid = x.reshape(b, cols, p, rows, p, c).transpose(0, 1, 3, 2, 4, 5)
    else:
        grid = x.reshape(b, rows, p, cols, p, c).transpose(0, 1, 3, 2, 4, 5)  # (B, r, c, P, P, C)
    if bug == COLUMN_MAJOR:
        grid = grid.transpose(0, 2, 1, 3, 4, 5)
    if bug == CHANNEL_FIRST:
        grid = grid.transpose(0, 1, 2, 5, 3, 4)
    if bug == TRANSPOSED:
        grid = grid.transpose(0, 1, 2, 4, 3, 5)
    return grid.reshape(b, rows * cols, p * p * c)


def patch_hints(images, patch_size):
    """{label: array} of the buggy variants of extract_patches that differ from the contract."""
    want = extract_patches_np(images, patch_size)
    hints = {}
    for label in (COLUMN_MAJOR, CHANNEL_FIRST, TRANSPOSED, NO_TRANSPOSE, GRID_SWAPPED):
        variant = extract_patches_np(images, patch_size, label)
        if variant.shape != want.shape or not np.allclose(variant, want):
            hints[label] = variant
    return hints


CLS_AT_END = "the CLS token is appended at the end instead of put in front (index 0)"
NO_CLS_POSITION = (
    "the position embedding is not added to the CLS token (it is added to every token, "
    "CLS included)"
)
POSITIONS_SHIFTED = (
    "the patches get positions 0..N-1 and the CLS token none: the CLS token has position 0 and "
    "patch k position k + 1"
)
NO_POSITIONS = "the position embedding is not added"


def patch_embedding_np(patches, kernel, bias, cls, pos, bug=None):
    """[cls; patches @ kernel + bias] + pos in float64, or one of the bugs above."""
    tokens = np.asarray(patches, np.float64) @ kernel + bias  # (B, N, D)
    b, n, d = tokens.shape
    cls = np.broadcast_to(np.asarray(cls, np.float64).reshape(1, 1, d), (b, 1, d))
    pos = np.asarray(pos, np.float64).reshape(1, n + 1, d)
    if bug == CLS_AT_END:
        return np.concatenate([tokens, cls], axis=1) + pos
    if bug == NO_CLS_POSITION:
        return np.concatenate([cls, tokens + pos[:, 1:]], axis=1)
    if bug == POSITIONS_SHIFTED:
        return np.concatenate([cls, tokens + pos[:, :n]], axis=1)
    if bug == NO_POSITIONS:
        return np.concatenate([cls, tokens], axis=1)
    return np.concatenate([cls, tokens], axis=1) + pos


def patch_embedding_hints(patches, kernel, bias, cls, pos):
    return {
        label: patch_embedding_np(patches, kernel, bias, cls, pos, label)
        for label in (CLS_AT_END, NO_CLS_POSITION, POSITIONS_SHIFTED, NO_POSITIONS)
    }


MEAN_POOL = (
    "the logits come from the mean of all output tokens (mean pooling) instead of the CLS token"
)
MEAN_PATCHES = (
    "the logits come from the mean of the patch tokens (mean pooling) instead of the CLS token"
)
LAST_TOKEN = "the logits come from the last token instead of the CLS token (index 0)"
NO_FINAL_LN = "the final LayerNorm `ln` is not applied before the head"
LN_EPSILON = "the final LayerNorm uses Keras' default epsilon 1e-3 instead of 1e-6"


def layer_norm_np(x, gamma, beta, eps=1e-6):
    x = np.asarray(x, np.float64)
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def vit_head_hints(encoded, ln, head):
    """Variants of `head(ln(encoded)[:, 0])` from the blocks' output `encoded` (B, N + 1, D).

    `ln` is (gamma, beta), `head` is (kernel, bias).
    """
    gamma, beta = ln
    kernel, bias = head
    normed = layer_norm_np(encoded, gamma, beta)
    return {
        MEAN_POOL: normed.mean(axis=1) @ kernel + bias,
        MEAN_PATCHES: normed[:, 1:].mean(axis=1) @ kernel + bias,
        LAST_TOKEN: normed[:, -1] @ kernel + bias,
        NO_FINAL_LN: np.asarray(encoded, np.float64)[:, 0] @ kernel + bias,
        LN_EPSILON: layer_norm_np(encoded, gamma, beta, 1e-3)[:, 0] @ kernel + bias,
    }
