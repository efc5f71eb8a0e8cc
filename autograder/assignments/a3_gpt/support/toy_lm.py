"""Sandbox support for the a3_gpt suite: a toy language model for the student's `generate`.

Shipped into the generate job as `grader_support.toy_lm` (see `Group.support`):

- `ToyLM`, a tiny causal language model built from the grader's random weights, handed to
  the student's `generate` with `obj(...)`. Its logits at position t depend on every token
  up to t and on t itself, and it refuses a context longer than `max_len`, so a `generate`
  that does not crop the context to the model's last `max_len` tokens fails or drifts.
- `toy_logits_np`, the same model in float64 NumPy: the parent recomputes greedy paths and
  the logits behind every sampled token with it.
(The reference `filter_logits` the job injects is shipped from course_lib/generation/sampling.py,
which holds no `generate`.)
"""

import keras
import numpy as np
from keras import ops


def toy_logits_np(token_ids, embedding, positions, kernel, bias):
    """Float64 logits `(B, T, vocab)` of the toy model: `tanh(mean_{s<=t} E[x_s] + E[x_t] + P[t]) W + b`."""
    ids = np.asarray(token_ids)
    length = ids.shape[1]
    if length > positions.shape[0]:
        raise ValueError(f"context of {length} tokens is longer than max_len={positions.shape[0]}")
    e = np.asarray(embedding, np.float64)[ids]  # (B, T, D)
    means = np.cumsum(e, axis=1) / np.arange(1, length + 1)[None, :, None]
    h = np.tanh(means + e + np.asarray(positions, np.float64)[:length][None])
    return h @ np.asarray(kernel, np.float64) + np.asarray(bias, np.float64)


class ToyLM(keras.Model):
    """A toy causal LM with fixed weights and a `max_len` context (see `toy_logits_np`).

    Args:
        embedding: `(vocab, D)`. positions: `(max_len, D)`. kernel: `(D, vocab)`. bias: `(vocab,)`.

    Call arguments:
        token_ids: int `(B, T)`, `T <= max_len`.

    Returns:
        Logits `(B, T, vocab)`, float32.
    """

    def __init__(self, embedding, positions, kernel, bias, **kwargs):
        super().__init__(**kwargs)
        self.table = np.asarray(embedding, np.float32)
        self.positions = np.asarray(positions, np.float32)
        self.kernel = np.asarray(kernel, np.float32)
        self.bias = np.asarray(bias, np.float32)
        self.max_len = int(self.positions.shape[0])
        self.vocab_size = int(self.kernel.shape[1])

    def call(self, token_ids, training=None):
        ids = ops.cast(token_ids, "int32")
        length = ids.shape[1]
        if length is not None and length > self.max_len:
            raise ValueError(
                f"The toy model got a context of {length} tokens, longer than its "
                f"max_len={self.max_len}: crop the context to the last model.max_len tokens."
            )
        e = ops.take(self.table, ids, axis=0)  # (B, T, D)
        steps = ops.cast(ops.arange(1, ops.shape(ids)[1] + 1), "float32")[None, :, None]
        means = ops.cumsum(e, axis=1) / steps
        h = ops.tanh(means + e + self.positions[None, : ops.shape(ids)[1]])
        return ops.matmul(h, self.kernel) + self.bias
