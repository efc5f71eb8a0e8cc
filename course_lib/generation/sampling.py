"""Logit filtering (top-k, top-p) and sampling of the next token.

One concern a file, so the grader can ship this module alone into a sandbox job (it is the
reference `filter_logits` a3 gives students' `generate`) without `generate` itself.

Example:
>>> filter_logits(np.log([[0.5, 0.3, 0.2]]), top_p=0.7)  # keeps 0.5 and 0.3
>>> sample_next(np.log([[0.5, 0.3, 0.2]]), temperature=1.0, top_k=2, rng=0)
"""

import numpy as np
from keras import ops


def check_sampling(temperature=None, top_k=None, top_p=None):
    if temperature is not None and not temperature >= 0:
        raise ValueError(
            f"`temperature` must be >= 0 (0 is greedy). Received: temperature={temperature}"
        )
    if top_k is not None and (int(top_k) != top_k or top_k < 1):
        raise ValueError(f"`top_k` must be an integer >= 1 or None. Received: top_k={top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"`top_p` must be in (0, 1] or None. Received: top_p={top_p}")


def filter_logits(logits, top_k=None, top_p=None):
    """Sets the excluded entries of `logits` to `-inf` (top-k, then top-p / nucleus).

    `top_k` keeps the k largest logits of each row (ties at the k-th value are
    all kept). `top_p` keeps the smallest set of most likely tokens whose total
    probability reaches `p`; the most likely token is always kept, so the set
    is never empty.

    Args:
        logits: `(..., vocab)`.
        top_k: int >= 1 or None.
        top_p: float in (0, 1] or None.

    Returns:
        A tensor like `logits`.

    Example:
    >>> filter_logits(np.log([[0.5, 0.3, 0.2]]), top_p=0.7)  # keeps 0.5 and 0.3
    """
    check_sampling(top_k=top_k, top_p=top_p)
    logits = ops.convert_to_tensor(logits)
    neg_inf = ops.cast(float("-inf"), logits.dtype)
    vocab = logits.shape[-1]
    if top_k is not None and top_k < vocab:
        kth = ops.top_k(logits, int(top_k), sorted=True)[0][..., -1:]  # (..., 1)
        logits = ops.where(logits < kth, neg_inf, logits)
    if top_p is not None and top_p < 1.0:
        order = ops.argsort(-logits, axis=-1)  # most likely first
        sorted_logits = ops.take_along_axis(logits, order, axis=-1)
        probs = ops.softmax(sorted_logits, axis=-1)
        before = ops.cumsum(probs, axis=-1) - probs  # probability of the tokens before each
        keep_sorted = before < top_p  # the first token always has before == 0
        ranks = ops.argsort(order, axis=-1)  # back to vocabulary order
        keep = ops.take_along_axis(keep_sorted, ranks, axis=-1)
        logits = ops.where(keep, logits, neg_inf)
    return logits


def sample_next(logits, temperature=1.0, top_k=None, top_p=None, rng=None):
    """Picks the next token of each row: argmax when `temperature == 0`, else a sample.

    Args:
        logits: `(B, vocab)`, the scores of the next token.
        temperature: float >= 0; logits are divided by it before the softmax.
        top_k, top_p: see `filter_logits`.
        rng: a `numpy.random.Generator` or an int seed (None: fresh entropy).

    Returns:
        int32 numpy array `(B,)`.
    """
    check_sampling(temperature, top_k, top_p)
    if temperature == 0:
        return np.argmax(np.asarray(logits), axis=-1).astype("int32")
    filtered = np.asarray(filter_logits(logits, top_k, top_p), dtype=np.float64) / temperature
    filtered -= filtered.max(axis=-1, keepdims=True)
    probs = np.exp(filtered)
    cdf = np.cumsum(probs / probs.sum(axis=-1, keepdims=True), axis=-1)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    u = rng.random((cdf.shape[0], 1))
    picks = (cdf < u).sum(axis=-1)
    # Never past the last kept token (rounding in the cdf).
    last_kept = probs.shape[-1] - 1 - np.argmax(probs[:, ::-1] > 0, axis=-1)
    return np.minimum(picks, last_kept).astype("int32")
