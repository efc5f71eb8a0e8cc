"""The cost of a whole model (GPT, Seq2SeqTransformer, ViTClassifier) from its config."""

from dataclasses import replace

from .layers import (
    Cost,
    decoder_block_cost,
    dense_params,
    encoder_block_cost,
    itemsize,
    kv_cache_bytes,
    layer_norm_cost,
)


def _head(config, d, vocab, T, batch, dtype):
    """The output projection (a Dense, or the tied embedding: no weights) and its
    kept activations: its input and the logits (which the loss's gradient needs)."""
    params = 0 if config.get("tie_embeddings", False) else dense_params(d, vocab)
    return Cost(
        params=params,
        flops_dense=2 * batch * T * d * vocab,
        activation_bytes=batch * T * (d + vocab) * itemsize(dtype),
    )


def gpt_cost(config, seq_len=None, batch=1, dtype="float32"):
    """A `GPT` with the constructor arguments `config` on `batch` sequences of `seq_len`.

    Args:
        config: dict of `GPT` arguments (a preset's config, or `model.get_config()`).
        seq_len: int, tokens per sequence (default `max_len`).
        batch: int, sequences per batch.
        dtype: dtype of activations and of the key/value cache.

    Returns:
        A `Cost`; `kv_cache_bytes` is the cache of `init_cache(batch, seq_len)`.
    """
    T = config["max_len"] if seq_len is None else seq_len
    d, L, V = config["d_model"], config["num_layers"], config["vocab_size"]
    args = dict(T=T, batch=batch, dtype=dtype)
    block = encoder_block_cost(d, config["num_heads"], config["ff_dim"], **args)
    embedding = Cost(params=V * d + config["max_len"] * d)
    cost = (
        embedding
        + block.times(L)
        + layer_norm_cost(d, **args)
        + _head(config, d, V, T, batch, dtype)
    )
    return replace(cost, tokens=batch * T, kv_cache_bytes=kv_cache_bytes(L, d, T, batch, dtype))


def seq2seq_cost(config, source_len=None, target_len=None, batch=1, dtype="float32"):
    """A `Seq2SeqTransformer` on `batch` pairs of `source_len` and `target_len` tokens.

    Both lengths default to `max_len`. `kv_cache_bytes` is `init_cache`'s: the
    decoder self-attention caches for `target_len` positions plus the projected
    cross-attention keys and values of `source_len` positions.
    """
    S = config["max_len"] if source_len is None else source_len
    T = config["max_len"] if target_len is None else target_len
    d, h, ff = config["d_model"], config["num_heads"], config["ff_dim"]
    L_enc = config["num_layers"]
    L_dec = config.get("num_decoder_layers") or L_enc
    src_vocab, tgt_vocab = config["src_vocab"], config["tgt_vocab"]
    learned = config.get("position_encoding", "learned") == "learned"
    embedding = src_vocab * d + (config["max_len"] * d if learned else 0)
    if not config.get("share_embeddings", False):
        embedding += tgt_vocab * d + (config["max_len"] * d if learned else 0)
    args = dict(batch=batch, dtype=dtype)
    cost = (
        Cost(params=embedding)
        + encoder_block_cost(d, h, ff, S, **args).times(L_enc)
        + decoder_block_cost(d, h, ff, T, S, **args).times(L_dec)
        + Cost(activation_bytes=batch * S * d * itemsize(dtype))  # the encoder output
        + _head(config, d, tgt_vocab, T, batch, dtype)
    )
    if config.get("norm_first", False):
        cost = cost + layer_norm_cost(d, S, **args) + layer_norm_cost(d, T, **args)
    cache = kv_cache_bytes(L_dec, d, T, batch, dtype) + kv_cache_bytes(L_dec, d, S, batch, dtype)
    return replace(cost, tokens=batch * (S + T), kv_cache_bytes=cache)


def vit_cost(config, batch=1, channels=3, dtype="float32"):
    """A `ViTClassifier` on `batch` images of `channels` channels.

    Tokens are the `N` patches plus the CLS token; the head reads the CLS token
    only. Activations kept besides the blocks': the flattened patches, the final
    norm's input, the head's input and the logits.
    """
    P, d, K = config["patch_size"], config["d_model"], config["num_classes"]
    N = (config["image_size"] // P) ** 2
    patch_dim = P * P * channels
    T = N + 1
    args = dict(T=T, batch=batch, dtype=dtype)
    block = encoder_block_cost(d, config["num_heads"], config["ff_dim"], **args)
    embedding = Cost(
        params=dense_params(patch_dim, d) + d + T * d,  # projection, CLS token, positions
        flops_dense=2 * batch * N * patch_dim * d,
        activation_bytes=batch * N * patch_dim * itemsize(dtype),
    )
    head = Cost(
        params=dense_params(d, K),
        flops_dense=2 * batch * d * K,
        activation_bytes=batch * (d + K) * itemsize(dtype),
    )
    cost = embedding + block.times(config["num_layers"]) + layer_norm_cost(d, **args) + head
    return replace(cost, tokens=batch * T)


def model_cost(model, *, seq_len=None, source_len=None, batch=1, dtype="float32", channels=None):
    """The `Cost` of a built model or of a preset, by name.

    Args:
        model: a `GPT`, `Seq2SeqTransformer` or `ViTClassifier`, or a preset name
            (`course_lib.models.list_presets()`).
        seq_len: GPT sequence length, or the seq2seq target length (default `max_len`).
        source_len: seq2seq source length (default `max_len`).
        batch: int, batch size.
        dtype: dtype of activations and caches.
        channels: ViT input channels (default: read from a built model, else 3).

    Example:
    >>> model_cost("gpt2_small", seq_len=1024).params
    124439808
    """
    from ..models import GPT, Seq2SeqTransformer, ViTClassifier, preset_config

    if isinstance(model, str):
        cls, config = preset_config(model)
    else:
        cls, config = type(model), model.get_config()
    if issubclass(cls, GPT):
        return gpt_cost(config, seq_len, batch, dtype)
    if issubclass(cls, Seq2SeqTransformer):
        return seq2seq_cost(config, source_len, seq_len, batch, dtype)
    if issubclass(cls, ViTClassifier):
        if channels is None:
            projection = getattr(getattr(model, "patch_embedding", None), "projection", None)
            built = projection is not None and projection.built
            channels = projection.kernel.shape[0] // config["patch_size"] ** 2 if built else 3
        return vit_cost(config, batch, channels, dtype)
    raise ValueError(
        "`model` must be a GPT, Seq2SeqTransformer, ViTClassifier or a preset name. "
        f"Received: {type(model).__name__}"
    )


def _si(n):
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.3g} "


def format_cost(cost):
    """One line for a training log: parameters and FLOPs per step of a batch's `Cost`."""
    return (
        f"model: {cost.params:,} parameters; {_si(cost.flops_total)}FLOPs forward per step "
        f"({cost.attention_share:.1%} in attention's T^2 term), "
        f"~{_si(cost.train_flops)}FLOPs per training step (forward + backward ~ 3x forward)"
    )
