"""Translation: greedy and beam-search decoding with the decoder's key/value cache.

Both take a `course_lib.models.Seq2SeqTransformer` (its `encode`, `init_cache` and
`decode_step`), and return each row from `start_id` up to its first `end_id`.

Example:
>>> ids = greedy_decode(model, source_ids, start_id=1, end_id=2, max_len=20)
>>> ids, scores = beam_search(model, source_ids, 1, 2, 20, beam_size=4)
"""

import numpy as np
from keras import ops

from .compiled import COMPILED, maybe_compile


def _check_decode_args(model, source_ids, max_len):
    source_ids = np.asarray(source_ids)
    if source_ids.ndim != 2:
        raise ValueError(f"`source_ids` must have shape (B, S). Received: shape={source_ids.shape}")
    if not 1 <= max_len <= model.max_len:
        raise ValueError(
            f"`max_len` must be in [1, model.max_len={model.max_len}]. Received: max_len={max_len}"
        )
    return source_ids


def _seq2seq_fns(model):
    fns = COMPILED.setdefault(model, {})
    if "step" not in fns:

        def step(ids, context, context_mask, self_caches, cross_caches, index):
            logits, self_caches = model.decode_step(
                ids, context, context_mask, self_caches, cross_caches, index
            )
            return ops.log_softmax(logits[:, -1], axis=-1), self_caches

        if not model.built:
            model.build(((None, None), (None, None)))
        d, heads = model.d_model, model.num_heads
        layer_cache = [((None, 2, heads, None, d // heads),)] * len(model.decoder_blocks)
        fns["step"] = maybe_compile(
            step,
            ((None, None), "int32"),
            ((None, None, d), "float32"),
            ((None, 1, None), "bool"),
            layer_cache,
            layer_cache,
            ((), "int32"),
            jit_compile=True,
        )
    return fns


def greedy_decode(model, source_ids, start_id, end_id, max_len):
    """Translates by always taking the most likely next token (with the decoder cache).

    Args:
        model: a `Seq2SeqTransformer`.
        source_ids: int `(B, S)`, right-padded with `model.pad_id`.
        start_id, end_id: int, the target start and end tokens.
        max_len: int, the longest output, `start_id` included (<= `model.max_len`).

    Returns:
        int32 numpy array `(B, L)`, `L <= max_len`: each row starts with `start_id`
        and stops at its first `end_id`; what follows is `model.pad_id`. Decoding
        stops early once every row has ended.
    """
    source_ids = _check_decode_args(model, source_ids, max_len)
    batch = source_ids.shape[0]
    context, context_mask = model.encode(source_ids)
    self_caches, cross_caches = model.init_cache(context, max_len)
    step = _seq2seq_fns(model)["step"]
    out = np.full((batch, max_len), model.pad_id, "int32")
    out[:, 0] = start_id
    done = np.zeros(batch, bool)
    for t in range(1, max_len):
        log_probs, self_caches = step(
            out[:, t - 1 : t], context, context_mask, self_caches, cross_caches, np.int32(t - 1)
        )
        nxt = np.argmax(np.asarray(log_probs), axis=-1)
        out[:, t] = np.where(done, model.pad_id, nxt)
        done |= nxt == end_id
        if done.all():
            return out[:, : t + 1]
    return out


def beam_search(model, source_ids, start_id, end_id, max_len, beam_size=4, length_penalty=0.6):
    """Translates with beam search, keeping the `beam_size` most likely partial translations.

    Every step extends each live hypothesis by every token and keeps the
    `beam_size` best by total log-probability. A hypothesis that has produced
    `end_id` stays in the beam unchanged (extended by padding at no cost). At
    the end the hypothesis with the best `log_prob / ((5 + length) / 6) **
    length_penalty` wins (Wu et al. 2016; `length_penalty=0` ranks by
    log-probability alone). With `beam_size=1` this is exactly `greedy_decode`.

    Args:
        model, source_ids, start_id, end_id, max_len: as in `greedy_decode`.
        beam_size: int >= 1.
        length_penalty: float >= 0, the exponent `alpha` above.

    Returns:
        `(ids, scores)`: int32 `(B, L)` laid out as by `greedy_decode`, and the
        float `(B,)` total log-probabilities of the chosen translations.
    """
    source_ids = _check_decode_args(model, source_ids, max_len)
    if beam_size < 1:
        raise ValueError(f"`beam_size` must be >= 1. Received: beam_size={beam_size}")
    if length_penalty < 0:
        raise ValueError(
            f"`length_penalty` must be >= 0. Received: length_penalty={length_penalty}"
        )
    batch, k = source_ids.shape[0], beam_size
    context, context_mask = model.encode(np.repeat(source_ids, k, axis=0))  # (B*K, S, D)
    self_caches, cross_caches = model.init_cache(context, max_len)
    step = _seq2seq_fns(model)["step"]

    seqs = np.full((batch, k, max_len), model.pad_id, "int32")
    seqs[:, :, 0] = start_id
    scores = np.full((batch, k), -np.inf)
    scores[:, 0] = 0.0  # one live hypothesis at the start, not k copies of it
    done = np.zeros((batch, k), bool)
    lengths = np.ones((batch, k), "int32")
    t = 1
    for t in range(1, max_len):
        log_probs, self_caches = step(
            seqs[:, :, t - 1].reshape(-1, 1),
            context,
            context_mask,
            self_caches,
            cross_caches,
            np.int32(t - 1),
        )
        log_probs = np.asarray(log_probs, np.float64).reshape(batch, k, -1)
        # A finished hypothesis has one continuation, padding, at no cost.
        finished = np.full_like(log_probs, -np.inf)
        finished[..., model.pad_id] = 0.0
        log_probs = np.where(done[..., None], finished, log_probs)
        vocab = log_probs.shape[-1]
        candidates = (scores[..., None] + log_probs).reshape(batch, -1)  # (B, K*V)
        best = np.argsort(-candidates, axis=-1, kind="stable")[:, :k]  # (B, K)
        parent, token = best // vocab, best % vocab
        scores = np.take_along_axis(candidates, best, axis=-1)
        seqs = np.take_along_axis(seqs, parent[..., None], axis=1)
        seqs[:, :, t] = token
        was_done = np.take_along_axis(done, parent, axis=1)
        lengths = np.take_along_axis(lengths, parent, axis=1) + ~was_done
        done = was_done | (token == end_id)
        flat_parent = (parent + np.arange(batch)[:, None] * k).reshape(-1)
        self_caches = [ops.take(c, flat_parent, axis=0) for c in self_caches]
        if done.all():
            break

    # Length-normalised choice among the final hypotheses.
    normalised = scores / ((5.0 + lengths) / 6.0) ** length_penalty
    normalised = np.where(np.isfinite(scores), normalised, -np.inf)
    choice = np.argmax(normalised, axis=-1)
    rows = np.arange(batch)
    return seqs[rows, choice, : t + 1], scores[rows, choice]
