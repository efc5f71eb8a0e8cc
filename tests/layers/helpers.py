"""Test helpers: random weights on a layer, and weights out as float64 arrays."""

import numpy as np


def randomize(layer, rng, scale=0.3):
    """Sets every weight of a built layer to fresh random values (biases too, never zeros)."""
    for w in layer.weights:
        w.assign(rng.normal(0.0, scale, size=tuple(w.shape)).astype(w.dtype))


def dense_weights(dense):
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in dense.get_weights())
    return kernel, bias


def mha_weights(mha):
    return {name: dense_weights(getattr(mha, name)) for name in ("wq", "wk", "wv", "wo")}


def norm_weights(norm):
    gamma, beta = (np.asarray(w, dtype=np.float64) for w in norm.get_weights())
    return gamma, beta


def f64(x):
    return np.asarray(x, dtype=np.float64)
