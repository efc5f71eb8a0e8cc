"""Shared pieces of the a4_translation suite: sizes, the given layers, weights, reference models.

Weights are random and never zero, stored as job inputs and copied by the sandbox into the
contract's sublayers (`encoder_blocks.0.attention.wq`, ...); the same weights go into the
course_lib reference models built here, in the trusted parent.
"""

import numpy as np

from autograder.assignments.a4_translation.suite import hints as variants
from autograder.grading.weights import dense_weights, norm_weights, set_weights
from course_lib.models import Seq2SeqTransformer

D_MODEL, NUM_HEADS, FF_DIM = 16, 4, 32
MHA_NAMES = ("wq", "wk", "wv", "wo")
S2S = dict(src_vocab=19, tgt_vocab=17, max_len=12, d_model=D_MODEL, num_heads=NUM_HEADS)
S2S_LAYERS = 2
DECODE_LAYERS = 1  # the model greedy_decode runs on (one block each: 9 steps stay fast)

# The layers given from course_lib: injected into every job under the notebook's names.
GIVEN_SITE = (
    "layers/multi_head_attention.py",
    "layers/feed_forward.py",
    "layers/token_and_position_embedding.py",
    "layers/transformer_encoder_block.py",
    "layers/masks.py",
)
GIVEN_INJECT = {
    "MultiHeadAttention": "course_lib.layers.multi_head_attention:MultiHeadAttention",
    "FeedForward": "course_lib.layers.feed_forward:FeedForward",
    "TokenAndPositionEmbedding": (
        "course_lib.layers.token_and_position_embedding:TokenAndPositionEmbedding"
    ),
    "TransformerEncoderBlock": (
        "course_lib.layers.transformer_encoder_block:TransformerEncoderBlock"
    ),
    "causal_mask": "course_lib.layers.masks:causal_mask",
    "padding_mask": "course_lib.layers.masks:padding_mask",
}
DECODER_SITE = "layers/transformer_decoder_block.py"
DECODER_INJECT = {
    "TransformerDecoderBlock": "course_lib.layers.transformer_decoder_block:TransformerDecoderBlock"
}


def decoder_weights(rng, prefix=""):
    weights = {}
    for sub in (variants.SELF, variants.CROSS):
        for name in MHA_NAMES:
            weights[f"{prefix}{sub}.{name}"] = dense_weights(rng, D_MODEL, D_MODEL)
    weights[f"{prefix}ffn.dense1"] = dense_weights(rng, D_MODEL, FF_DIM)
    weights[f"{prefix}ffn.dense2"] = dense_weights(rng, FF_DIM, D_MODEL)
    for i in (1, 2, 3):
        weights[f"{prefix}norm{i}"] = norm_weights(rng, D_MODEL)
    return weights


def seq2seq_weights(rng, num_layers=S2S_LAYERS, head_scale=0.3, embedding_scale=0.5):
    weights = {}
    for name, vocab in (("src_embedding", S2S["src_vocab"]), ("tgt_embedding", S2S["tgt_vocab"])):
        weights[f"{name}.token_embedding"] = (
            rng.normal(0, embedding_scale, (vocab, D_MODEL)).astype("float32"),
        )
        weights[f"{name}.position_embedding"] = (
            rng.normal(0, embedding_scale, (S2S["max_len"], D_MODEL)).astype("float32"),
        )
    for i in range(num_layers):
        prefix = f"encoder_blocks.{i}."
        for name in MHA_NAMES:
            weights[f"{prefix}attention.{name}"] = dense_weights(rng, D_MODEL, D_MODEL)
        weights[f"{prefix}ffn.dense1"] = dense_weights(rng, D_MODEL, FF_DIM)
        weights[f"{prefix}ffn.dense2"] = dense_weights(rng, FF_DIM, D_MODEL)
        weights[f"{prefix}norm1"] = norm_weights(rng, D_MODEL)
        weights[f"{prefix}norm2"] = norm_weights(rng, D_MODEL)
        weights.update(decoder_weights(rng, f"decoder_blocks.{i}."))
    weights["head"] = dense_weights(rng, D_MODEL, S2S["tgt_vocab"], head_scale)
    return weights


def padded_ids(lengths, width, pad_id=0, rng=None, vocab=None):
    """Ids `(B, width)`: random real tokens (never `pad_id`) then `pad_id` after `lengths`."""
    ids = rng.integers(1, vocab, size=(len(lengths), width))
    ids = np.where(ids == pad_id, (pad_id + 1) % vocab or 1, ids)
    real = np.arange(width)[None, :] < np.asarray(lengths)[:, None]
    return np.where(real, ids, pad_id).astype("int32")


def layer_weights(weights, num_layers):
    """The weights of a model with the first `num_layers` blocks of `weights`."""
    blocks = [f"{kind}_blocks.{i}." for kind in ("encoder", "decoder") for i in range(num_layers)]
    return {
        path: arrays
        for path, arrays in weights.items()
        if "_blocks." not in path or path.startswith(tuple(blocks))
    }


def reference_model(weights, src, tgt, num_layers=S2S_LAYERS, **kwargs):
    model = Seq2SeqTransformer(**S2S, num_layers=num_layers, ff_dim=FF_DIM, **kwargs)
    model((src, tgt))
    set_weights(model, layer_weights(weights, num_layers))
    return model
