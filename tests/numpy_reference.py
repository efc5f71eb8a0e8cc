"""Float64 numpy references for the layers, written independently of course_lib.

Each function takes plain arrays (weights as `(kernel, bias)` pairs) and
follows the course contract's equations literally.
"""

import math

import numpy as np

NEG = -1e9


def softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def attention(q, k, v, mask=None):
    logits = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        logits = np.where(mask, logits, NEG)
    w = softmax(logits)
    return w @ v, w


def dense(x, kernel, bias):
    return x @ kernel + bias


def mha(query, value, weights, num_heads, mask=None, key=None):
    """weights: dict wq/wk/wv/wo -> (kernel, bias); mask broadcastable to (B, Tq, Tk)."""
    key = value if key is None else key
    b, tq, d = query.shape
    dh = d // num_heads

    def heads(x):
        return x.reshape(x.shape[0], x.shape[1], num_heads, dh).transpose(0, 2, 1, 3)

    q = heads(dense(query, *weights["wq"]))
    k = heads(dense(key, *weights["wk"]))
    v = heads(dense(value, *weights["wv"]))
    if mask is not None:
        mask = np.asarray(mask)
        mask = mask[:, None] if mask.ndim == 3 else mask
    out, w = attention(q, k, v, mask)
    out = out.transpose(0, 2, 1, 3).reshape(b, tq, d)
    return dense(out, *weights["wo"]), w


def layer_norm(x, gamma, beta, eps=1e-6):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


def gelu(x):
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def relu(x):
    return np.maximum(x, 0.0)


def ffn(x, w1, w2, activation=relu):
    return dense(activation(dense(x, *w1)), *w2)


def positional_encoding(length, depth):
    pe = np.zeros((length, depth))
    for p in range(length):
        for i in range(depth // 2):
            angle = p / 10000 ** (2 * i / depth)
            pe[p, 2 * i] = math.sin(angle)
            pe[p, 2 * i + 1] = math.cos(angle)
    return pe


def causal(t):
    return np.tril(np.ones((t, t), dtype=bool))
