"""Float64 numpy versions of the a4_translation units, with switches for common student bugs.

The suite computes its reference outputs with course_lib; these variants only name the
likely mistake when a submission's output matches one of them. Weights are dicts of
`(kernel, bias)` / `(gamma, beta)` / `(table,)` tuples, keyed as the contract's sublayers.
"""

import numpy as np

from autograder.grading.numpy_models import (
    dense_np,
    encoder_block_np,
    ffn_np,
    layer_norm_np,
    mha_np,
)

SELF, CROSS = "self_attention", "cross_attention"

# Hint labels (the catalog test looks for these phrases in the feedback).
SWAPPED = (
    "the query and key/value of the cross-attention are swapped (query and key/value swapped: "
    "the query must be the decoder state x, the keys and values the encoder output context)"
)
CROSS_ON_SELF = (
    "the cross-attention attends to the decoder state instead of context (its keys and values "
    "must come from the encoder output)"
)
NO_CAUSAL = "there is a missing causal mask in self-attention (use_causal_mask=True)"
PRE_NORM = (
    "the norm order is wrong: LayerNorm is applied before each sublayer (pre-norm) instead of "
    "after the residual sum (post-norm: x = norm(x + sublayer(x)))"
)
RESIDUAL = "the residual connection around the {} is missing"
MASK_IGNORED = (
    "context_mask is not passed to the cross-attention (padded source positions are seen)"
)
MASK_ON_SELF = "context_mask is applied to the self-attention instead of the cross-attention"
SHARED_ATTENTION = "self_attention is used for the cross-attention too (cross_attention is unused)"
CAUSAL_CROSS = "the cross-attention also uses a causal mask (it must see every source position)"
EPSILON = "LayerNormalization uses its default epsilon 1e-3 instead of epsilon=1e-6"
CROSS_FIRST = "the cross-attention comes before the self-attention"


def _sub(weights, prefix):
    """The (kernel, bias) pairs of one attention sublayer as mha_np wants them."""
    return {name: weights[f"{prefix}.{name}"] for name in ("wq", "wk", "wv", "wo")}


def decoder_block_np(
    x,
    context,
    weights,
    context_mask=None,
    *,
    num_heads,
    norm_first=False,
    causal=True,
    cross="normal",
    mask_on="cross",
    cross_weights=CROSS,
    cross_causal=False,
    residual=(True, True, True),
    eps=1e-6,
    cross_first=False,
):
    """The post-norm decoder block in float64; the switches reproduce common bugs.

    `weights` holds `self_attention.wq` ... `cross_attention.wo`, `ffn.dense1`, `ffn.dense2`
    (kernel, bias) and `norm1`, `norm2`, `norm3` (gamma, beta). `cross` is "normal",
    "swapped" (query = context, key/value = x) or "self" (key/value = x); `mask_on` is
    "cross", "self" or "none".
    """
    x = np.asarray(x, np.float64)
    context = np.asarray(context, np.float64)
    norms = [weights[f"norm{i}"] for i in (1, 2, 3)]

    def block(h, i, fn):
        inner = layer_norm_np(h, norms[i], eps) if norm_first else h
        out = fn(inner)
        h = h + out if residual[i] else out
        return h if norm_first else layer_norm_np(h, norms[i], eps)

    def self_attend(h):
        mask = context_mask if mask_on == "self" else None
        return mha_np(h, h, _sub(weights, SELF), num_heads, mask=mask, causal=causal)[0]

    def cross_attend(h):
        mask = context_mask if mask_on == "cross" else None
        sub = _sub(weights, cross_weights)
        if cross == "swapped":
            return mha_np(context, h, sub, num_heads, mask=mask, causal=cross_causal)[0]
        value = h if cross == "self" else context
        return mha_np(h, value, sub, num_heads, mask=mask, causal=cross_causal)[0]

    ffn = {"dense1": weights["ffn.dense1"], "dense2": weights["ffn.dense2"]}
    steps = [(0, self_attend), (1, cross_attend)]
    if cross_first:
        steps = [(1, cross_attend), (0, self_attend)]
    for i, fn in steps:
        x = block(x, i, fn)
    return block(x, 2, lambda h: ffn_np(h, ffn))


def decoder_block_hints(x, context, weights, context_mask=None, *, num_heads):
    """{label: array} of buggy decoder block outputs (only those whose shapes work out)."""
    same_length = x.shape[1] == context.shape[1]
    variants = {
        NO_CAUSAL: dict(causal=False),
        PRE_NORM: dict(norm_first=True),
        RESIDUAL.format("self-attention"): dict(residual=(False, True, True)),
        RESIDUAL.format("cross-attention"): dict(residual=(True, False, True)),
        RESIDUAL.format("feed-forward network"): dict(residual=(True, True, False)),
        SHARED_ATTENTION: dict(cross_weights=SELF),
        EPSILON: dict(eps=1e-3),
        CROSS_FIRST: dict(cross_first=True),
    }
    if same_length:
        variants[CAUSAL_CROSS] = dict(cross_causal=True)
    if same_length or context_mask is None:
        variants[CROSS_ON_SELF] = dict(cross="self")
    if same_length:
        variants[SWAPPED] = dict(cross="swapped")
    if context_mask is not None:
        variants[MASK_IGNORED] = dict(mask_on="none")
        if same_length:
            variants[MASK_ON_SELF] = dict(mask_on="self")
    right = decoder_block_np(x, context, weights, context_mask, num_heads=num_heads)
    return distinct(
        {
            label: decoder_block_np(x, context, weights, context_mask, num_heads=num_heads, **kw)
            for label, kw in variants.items()
        },
        right,
    )


# The encoder-decoder model ----------------------------------------------------------------

ENC_NO_MASK = "the source padding mask is not used in the encoder's self-attention"
CROSS_NO_MASK = "the source padding mask is not passed to the decoder blocks (context_mask)"
NO_MASK = "the source padding is not masked at all (neither in the encoder nor in cross-attention)"
MASK_INVERTED = "the padding mask is inverted (True must mean 'may attend': a real token)"
PAD_ZERO = "the padding mask uses the id 0 instead of the model's pad_id"
ENC_CAUSAL = "the encoder uses a causal mask (it must see the whole source)"
NO_ENCODER = "the decoder attends to the source embeddings instead of the encoder output"
DEC_NOT_CHAINED = (
    "every decoder block reads the target embeddings instead of the previous block's output"
)
ENC_NOT_CHAINED = (
    "every encoder block reads the source embeddings instead of the previous block's output"
)
SOFTMAX = "the model returns probabilities (a softmax) instead of logits"


def _embed(ids, weights, name):
    table = np.asarray(weights[f"{name}.token_embedding"][0], np.float64)
    positions = np.asarray(weights[f"{name}.position_embedding"][0], np.float64)
    return table[ids] + positions[: ids.shape[1]][None]


def _block_weights(weights, prefix, names):
    return {name: weights[f"{prefix}.{path}"] for name, path in names.items()}


ENCODER_NAMES = {
    **{n: f"attention.{n}" for n in ("wq", "wk", "wv", "wo")},
    "dense1": "ffn.dense1",
    "dense2": "ffn.dense2",
    "norm1": "norm1",
    "norm2": "norm2",
}


def seq2seq_np(
    source_ids,
    target_in_ids,
    weights,
    *,
    num_layers,
    num_heads,
    pad_id=0,
    mask_pad_id=None,
    encoder_mask=True,
    cross_mask=True,
    invert_mask=False,
    encoder_causal=False,
    use_encoder=True,
    chain_encoder=True,
    chain_decoder=True,
    softmax=False,
):
    """Seq2SeqTransformer logits in float64 from the contract's weights; switches reproduce bugs."""
    from autograder.grading.numpy_models import softmax as softmax_np

    source_ids, target_in_ids = np.asarray(source_ids), np.asarray(target_in_ids)
    pad = pad_id if mask_pad_id is None else mask_pad_id
    mask = (source_ids != pad)[:, None, :]  # (B, 1, S)
    if invert_mask:
        mask = ~mask
    enc_mask = mask if encoder_mask else None
    if encoder_causal:
        s = source_ids.shape[1]
        causal = np.tril(np.ones((s, s), bool))[None]  # (1, S, S)
        enc_mask = causal if enc_mask is None else enc_mask & causal
    embedded = _embed(source_ids, weights, "src_embedding")
    context = embedded
    if use_encoder:
        for i in range(num_layers):
            block = _block_weights(weights, f"encoder_blocks.{i}", ENCODER_NAMES)
            source = context if chain_encoder else embedded
            context = encoder_block_np(source, block, enc_mask, num_heads=num_heads)
    y0 = _embed(target_in_ids, weights, "tgt_embedding")
    y = y0
    for i in range(num_layers):
        prefix = f"decoder_blocks.{i}"
        block = {k[len(prefix) + 1 :]: v for k, v in weights.items() if k.startswith(prefix + ".")}
        y = decoder_block_np(
            y if chain_decoder else y0,
            context,
            block,
            mask if cross_mask else None,
            num_heads=num_heads,
        )
    logits = dense_np(y, weights["head"])
    return softmax_np(logits) if softmax else logits


def seq2seq_hints(source_ids, target_in_ids, weights, *, num_layers, num_heads, pad_id=0):
    """{label: array} of buggy Seq2SeqTransformer logits."""
    variants = {PAD_ZERO: dict(mask_pad_id=0)} if pad_id != 0 else {}
    variants |= {
        ENC_NO_MASK: dict(encoder_mask=False),
        CROSS_NO_MASK: dict(cross_mask=False),
        NO_MASK: dict(encoder_mask=False, cross_mask=False),
        MASK_INVERTED: dict(invert_mask=True),
        ENC_CAUSAL: dict(encoder_causal=True),
        NO_ENCODER: dict(use_encoder=False),
        DEC_NOT_CHAINED: dict(chain_decoder=False),
        ENC_NOT_CHAINED: dict(chain_encoder=False),
        SOFTMAX: dict(softmax=True),
    }
    args = (source_ids, target_in_ids, weights)
    kw = dict(num_layers=num_layers, num_heads=num_heads, pad_id=pad_id)
    right = seq2seq_np(*args, **kw)
    return distinct({label: seq2seq_np(*args, **kw, **v) for label, v in variants.items()}, right)


def distinct(hints, right, atol=1e-6):
    """The hints that differ from the right answer and from every earlier hint."""
    kept = {}
    for label, variant in hints.items():
        seen = [right, *kept.values()]
        if not any(v.shape == variant.shape and np.allclose(v, variant, atol=atol) for v in seen):
            kept[label] = variant
    return kept


# shift_right --------------------------------------------------------------------------------

SHIFT_LEFT = "the ids are shifted left (the first token dropped, start_id appended at the end)"
START_APPENDED = "start_id is appended at the end instead of prepended"
FIRST_DROPPED = "start_id replaces the first token instead of being prepended (drop the last token)"


def shift_right_hints(ids, start_id):
    """{label: array} of buggy shift_right outputs (same shape as the right answer)."""
    ids = np.asarray(ids)
    start = np.full((ids.shape[0], 1), start_id, ids.dtype)
    return {
        SHIFT_LEFT: np.concatenate([ids[:, 1:], start], axis=1),
        FIRST_DROPPED: np.concatenate([start, ids[:, 1:]], axis=1),
        START_APPENDED: np.concatenate([ids[:, :-1], start], axis=1) if ids.shape[1] > 1 else start,
    }
