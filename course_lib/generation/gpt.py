"""Text generation: logit filtering, sampling, GPT generation with a key/value cache, and
greedy and beam-search decoding for the translator.

Conventions:

- `generate` takes a batch of prompts of equal length; prompts of different
  lengths are **left-padded** with `pad_id` (pass `pad_id=`). Padding is never
  attended and each row's positions count its real tokens only, so a row of a
  batch gives the same tokens as the same prompt generated alone. Generated
  tokens are always real, even when they equal `pad_id`.
- The context fed to the model is its last `model.max_len` tokens. With the
  cache, the prompt and the new tokens fill the cache until it holds
  `max_len` tokens; after that each step recomputes the cropped window without
  the cache (learned absolute positions shift with the window, so cached keys
  cannot be reused). Cached and uncached generation therefore give the same
  tokens for any length. The cache holds `min(max_len, T0 + max_new_tokens)`
  tokens, and the one-token step is compiled with XLA (`jit_compile=True`;
  one compilation per batch size and cache length).
- Sampling draws from numpy's `default_rng(seed)`: a seed gives the same output
  on every run.

Example:
>>> model = from_preset("gpt_nano", vocab_size=65, max_len=128)
>>> generate(model, np.array([[1, 2, 3]]), max_new_tokens=20, temperature=0.8, top_k=10, seed=0)
"""

import weakref

import keras
import numpy as np
from keras import ops

_COMPILED = weakref.WeakKeyDictionary()


# Filtering and sampling.


def _check_sampling(temperature=None, top_k=None, top_p=None):
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
    _check_sampling(top_k=top_k, top_p=top_p)
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
    _check_sampling(temperature, top_k, top_p)
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


# GPT generation.


def _maybe_compile(fn, *signature, jit_compile=False):
    """A `tf.function` concrete function on the TensorFlow backend (else `fn` itself).

    `signature`: (shape, dtype) per argument, a list of them for a list argument;
    None dimensions let one trace serve every batch size and length. The
    concrete function skips `tf.function`'s per-call dispatch on argument types,
    which costs as much as a small model's decoding step.
    """
    if keras.backend.backend() != "tensorflow":
        return fn
    import tensorflow as tf

    def spec(s):
        return [spec(x) for x in s] if isinstance(s, list) else tf.TensorSpec(*s)

    specs = [spec(s) for s in signature]
    compiled = tf.function(fn, input_signature=specs, jit_compile=jit_compile)
    concrete = []

    def call(*args):
        if not concrete:  # trace on first use only
            concrete.append(compiled.get_concrete_function())
        return concrete[0](*args)

    return call


def _compiled(model):
    """The GPT's forward functions, compiled once per model.

    `full` recomputes a window, `prefill` fills the cache with a prompt, and
    `step` decodes one token. Only `step` is compiled with XLA: its shapes are
    the same at every step, and XLA fuses its many small ops (3x faster here);
    the other two see a new length at every call.
    """
    fns = _COMPILED.setdefault(model, {})
    if "full" not in fns:

        def full(ids, token_mask):
            return model(ids, token_mask=token_mask)[:, -1]

        def cached(ids, cache, index, positions, key_mask):
            logits, cache = model.call_with_cache(ids, cache, index, positions, key_mask)
            return logits[:, -1], cache

        if not model.built:
            model.build((None, None))
        ids = ((None, None), "int32")
        layer_cache = ((None, 2, model.num_heads, None, model.d_model // model.num_heads),)
        cached_signature = (
            ids,
            [layer_cache] * len(model.blocks),
            ((), "int32"),
            ids,
            ((None, 1, None), "bool"),
        )
        fns["full"] = _maybe_compile(full, ids, ((None, None), "bool"))
        fns["prefill"] = _maybe_compile(cached, *cached_signature)
        fns["step"] = _maybe_compile(cached, *cached_signature, jit_compile=True)
        fns["step_no_xla"] = _maybe_compile(cached, *cached_signature)
    return fns


def _prompt_mask(prompt_ids, pad_id):
    """True for real tokens: everything from each row's first non-pad token on."""
    if pad_id is None:
        return np.ones(prompt_ids.shape, bool)
    if (prompt_ids[:, -1] == pad_id).any():
        raise ValueError(
            f"A prompt ends with pad_id={pad_id}: prompts of different lengths must be "
            "left-padded (padding first, the real tokens at the end)."
        )
    return np.cumsum(prompt_ids != pad_id, axis=1) > 0


def generate(
    model,
    prompt_ids,
    max_new_tokens,
    temperature=1.0,
    top_k=None,
    top_p=None,
    seed=None,
    use_cache=True,
    pad_id=None,
    crop_context=True,
    jit_compile=True,
):
    """Extends each prompt by `max_new_tokens` tokens, one at a time.

    Args:
        model: a `GPT` (or any model with `max_len` whose call maps ids to logits;
            the cache and `pad_id` need a `GPT`).
        prompt_ids: int `(B, T0)`; left-padded with `pad_id` for different lengths.
        max_new_tokens: int >= 0.
        temperature: float >= 0; 0 is greedy (argmax).
        top_k, top_p: see `filter_logits`.
        seed: int, makes sampling reproducible.
        use_cache: bool, use the key/value cache (same tokens, faster).
        pad_id: int or None, the id that left-pads shorter prompts.
        crop_context: bool; when False a sequence longer than `max_len` is an error
            instead of being cropped to its last `max_len` tokens.
        jit_compile: bool, compile the cached one-token step with XLA (TensorFlow
            backend; ~3x faster per token on CPU, see benchmarks/generation.py).

    Returns:
        int32 numpy array `(B, T0 + max_new_tokens)`: the prompts, then the new tokens.
    """
    _check_sampling(temperature, top_k, top_p)
    prompt_ids = np.asarray(prompt_ids)
    if prompt_ids.ndim != 2 or prompt_ids.shape[1] < 1:
        raise ValueError(
            f"`prompt_ids` must have shape (B, T0) with T0 >= 1. Received: shape={prompt_ids.shape}"
        )
    if max_new_tokens < 0:
        raise ValueError(
            f"`max_new_tokens` must be >= 0. Received: max_new_tokens={max_new_tokens}"
        )
    max_len = model.max_len
    total = prompt_ids.shape[1] + max_new_tokens
    if not crop_context and total > max_len:
        raise ValueError(
            f"The prompt ({prompt_ids.shape[1]} tokens) plus max_new_tokens={max_new_tokens} is "
            f"longer than the model's context max_len={max_len}, and crop_context=False. "
            "Shorten the prompt or pass crop_context=True to keep the last max_len tokens."
        )
    rng = np.random.default_rng(seed)
    ids = np.zeros((prompt_ids.shape[0], total), "int32")
    valid = np.ones(ids.shape, bool)
    t = prompt_ids.shape[1]
    ids[:, :t] = prompt_ids
    valid[:, :t] = _prompt_mask(prompt_ids, pad_id)
    if not valid[:, :t].any(axis=1).all():
        raise ValueError(f"A prompt holds only padding (pad_id={pad_id}).")
    if max_new_tokens == 0:
        return ids

    use_cache = use_cache and hasattr(model, "call_with_cache")
    step = _Stepper(model, ids, valid, use_cache, jit_compile)
    logits = step.start(t)
    for _ in range(max_new_tokens):
        ids[:, t] = sample_next(np.asarray(logits), temperature, top_k, top_p, rng)
        t += 1
        if t < total:
            logits = step.next(t)
    return ids


class _Stepper:
    """Next-token logits for `generate`, with the key/value cache or by recomputation."""

    def __init__(self, model, ids, valid, use_cache, jit_compile=True):
        self.model, self.ids, self.valid, self.use_cache = model, ids, valid, use_cache
        self.fns = _compiled(model) if hasattr(model, "call_with_cache") else {}
        self.step_fn = self.fns.get("step" if jit_compile else "step_no_xla")
        self.max_len = model.max_len
        self.needs_mask = not valid.all()

    def full(self, t):
        """Logits after `ids[:, :t]`, recomputed on the last `max_len` tokens."""
        lo = max(0, t - self.max_len)
        ids, mask = self.ids[:, lo:t], self.valid[:, lo:t]
        if hasattr(self.model, "call_with_cache"):
            return self.fns["full"](ids, mask)
        if self.needs_mask:
            raise ValueError("Left-padded prompts (pad_id) need a model that takes `token_mask`.")
        return self.model(ids)[:, -1]

    def start(self, t):
        if not self.use_cache or t >= self.max_len:
            self.use_cache = False  # the prompt already fills the context
            return self.full(t)
        batch, total = self.ids.shape
        self.cache_len = min(self.max_len, total)  # no bigger than this generation needs
        self.key_mask = np.zeros((batch, 1, self.cache_len), bool)
        self.key_mask[:, 0, :t] = self.valid[:, :t]
        self.positions = np.maximum(np.cumsum(self.valid[:, :t], axis=1) - 1, 0).astype("int32")
        logits, self.cache = self.fns["prefill"](
            self.ids[:, :t],
            self.model.init_cache(batch, self.cache_len),
            np.int32(0),
            self.positions,
            self.key_mask,
        )
        self.positions = self.positions[:, -1:]
        return logits

    def next(self, t):
        """Logits after `ids[:, :t]`, the token at `t - 1` being new."""
        if not self.use_cache or t > self.cache_len:
            self.use_cache, self.cache = False, None  # the cache is full: recompute with crop
            return self.full(t)
        self.key_mask[:, 0, t - 1] = True
        self.positions = self.positions + 1
        logits, self.cache = self.step_fn(
            self.ids[:, t - 1 : t], self.cache, np.int32(t - 1), self.positions, self.key_mask
        )
        return logits


# Translation: greedy and beam-search decoding with the decoder's key/value cache.


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
    fns = _COMPILED.setdefault(model, {})
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
        fns["step"] = _maybe_compile(
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
