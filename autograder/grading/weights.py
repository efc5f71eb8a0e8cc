"""The grader's weights and masks, shared by the suites (not a suite: no `a<N>_` prefix).

Weights are random, never zeros (a missing bias or LayerNorm shift shows), stored as job
inputs with `add_weights` and copied by the sandbox into the contract's sublayers by path
("blocks.0.attention.wq", "ffn.dense1", "norm1", ...); `set_weights` copies the same arrays
into the course_lib reference built in the trusted parent. Each helper draws from `rng` in
a fixed order (kernel then bias; gamma then beta), so a suite's inputs depend only on its seed.
"""

import numpy as np


def to_np(x):
    return np.asarray(x)


def dense_weights(rng, d_in, d_out, scale=0.3):
    """Random Dense (kernel, bias), normal(0, scale)."""
    return (
        rng.normal(0, scale, size=(d_in, d_out)).astype("float32"),
        rng.normal(0, scale, size=(d_out,)).astype("float32"),
    )


def norm_weights(rng, width):
    """Random LayerNormalization (gamma, beta): gamma near 1, both normal with sd 0.3."""
    return (
        (1.0 + rng.normal(0, 0.3, size=width)).astype("float32"),
        rng.normal(0, 0.3, size=width).astype("float32"),
    )


def add_weights(inputs, prefix, weights):
    """Stores each weight list `{path: arrays}` as inputs named `<prefix>_<path>_<i>` (unique
    per prefix); returns `{path: [input names]}` for `construct`."""
    names = {}
    for path, arrays in weights.items():
        keys = [f"{prefix}_{path.replace('.', '_')}_{i}" for i in range(len(arrays))]
        inputs.update(zip(keys, arrays, strict=True))
        names[path] = keys
    return names


def walk(root, path):
    """The sublayer at a dotted path; a numeric part indexes a list ("blocks.0.attention")."""
    for part in path.split("."):
        root = root[int(part)] if part.isdigit() else getattr(root, part)
    return root


def set_weights(layer, weights):
    """Copies `{path: arrays}` into the sublayers of a built reference layer."""
    for path, arrays in weights.items():
        walk(layer, path).set_weights(list(arrays))


def key_mask(lengths, width):
    """A key padding mask (B, 1, width), True = may attend: the first `lengths[b]` keys."""
    return np.arange(width)[None, None, :] < np.asarray(lengths)[:, None, None]


def random_key_mask(rng, batch, width):
    """A key padding mask with random lengths in [2, width]; the first row is padded."""
    lengths = rng.integers(2, width + 1, size=batch)
    lengths[0] = width - 2
    return key_mask(lengths, width)
