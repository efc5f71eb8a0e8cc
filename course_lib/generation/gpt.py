"""GPT generation with a key/value cache: `generate`.

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
  on every run. Filtering and sampling are in `course_lib.generation.sampling`,
  translation decoding in `course_lib.generation.seq2seq`.

Example:
>>> model = from_preset("gpt_nano", vocab_size=65, max_len=128)
>>> generate(model, np.array([[1, 2, 3]]), max_new_tokens=20, temperature=0.8, top_k=10, seed=0)
"""

import numpy as np

from .compiled import COMPILED, maybe_compile
from .sampling import check_sampling, sample_next


def _compiled(model):
    """The GPT's forward functions, compiled once per model.

    `full` recomputes a window, `prefill` fills the cache with a prompt, and
    `step` decodes one token. Only `step` is compiled with XLA: its shapes are
    the same at every step, and XLA fuses its many small ops (3x faster here);
    the other two see a new length at every call.
    """
    fns = COMPILED.setdefault(model, {})
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
        fns["full"] = maybe_compile(full, ids, ((None, None), "bool"))
        fns["prefill"] = maybe_compile(cached, *cached_signature)
        fns["step"] = maybe_compile(cached, *cached_signature, jit_compile=True)
        fns["step_no_xla"] = maybe_compile(cached, *cached_signature)
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
    check_sampling(temperature, top_k, top_p)
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
