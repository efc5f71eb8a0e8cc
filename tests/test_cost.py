"""The cost model, checked against the models themselves and against TensorFlow's FLOP count.

Three checks: parameter counts equal `count_params()` of the built models
(every preset, random configs, every block); the predicted FLOPs against the
matrix products of a traced, frozen forward pass, counted by TensorFlow's
profiler (`ProfileOptionBuilder.float_operation()`'s statistics); KV-cache bytes
against what `init_cache` allocates. benchmarks/cost.py times the prediction.
"""

from collections import Counter

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import ops as tf_ops
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from course_lib import cost
from course_lib.layers import (
    FeedForward,
    GPTBlock,
    MultiHeadAttention,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)
from course_lib.models import GPT, Seq2SeqTransformer, ViTClassifier, from_preset, list_presets

# TensorFlow also counts softmax, LayerNorm, GELU, bias and residual additions and
# the mask: elementwise work the cost model leaves out, a few percent at these widths.
TOLERANCE = 0.10
BIG_PRESETS = {"gpt2_small", "vit_base_16", "transformer_base"}


def test_attention_flops_is_exact_and_independent_of_heads():
    """Is `attention_flops` 4*T*S*d (QK^T plus weights@V, 2 FLOPs per multiply-add), for any head count?"""
    assert cost.attention_flops(T=10, d=8, heads=2) == 2 * (2 * 10 * 10 * 8)
    assert cost.attention_flops(T=128, d=64, heads=4) == 4_194_304
    assert cost.attention_flops(7, 12, 1) == cost.attention_flops(7, 12, 12) == 4 * 7 * 7 * 12
    assert cost.attention_flops(T=3, d=8, heads=4, S=5) == 4 * 3 * 5 * 8
    with pytest.raises(ValueError, match="d=10, heads=4"):
        cost.attention_flops(T=3, d=10, heads=4)


# Parameters: exact, against count_params().


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in BIG_PRESETS else n for n in list_presets()],
)
def test_params_equal_count_params_for_every_preset(name):
    """Does the cost model count exactly the parameters of every built preset?"""
    assert cost.model_cost(name).params == from_preset(name).count_params()


def _random_gpt(rng):
    heads = int(rng.integers(1, 5))
    return dict(
        vocab_size=int(rng.integers(5, 200)),
        max_len=int(rng.integers(4, 64)),
        d_model=heads * int(rng.integers(1, 9)),
        num_heads=heads,
        num_layers=int(rng.integers(1, 4)),
        ff_dim=int(rng.integers(1, 50)),
        tie_embeddings=bool(rng.integers(2)),
    )


def test_params_equal_count_params_for_random_models(rng):
    """For random GPT, seq2seq (every embedding option) and ViT configs, is the count exact?"""
    for _ in range(3):
        config = _random_gpt(rng)
        model = GPT(**config)
        model.build((None, None))
        assert cost.model_cost(model).params == model.count_params(), config
        vocab = config.pop("vocab_size")
        config.pop("tie_embeddings")
        options = dict(
            share_embeddings=bool(rng.integers(2)),
            tie_embeddings=bool(rng.integers(2)),
            norm_first=bool(rng.integers(2)),
            position_encoding=["learned", "sinusoidal"][int(rng.integers(2))],
            num_decoder_layers=int(rng.integers(1, 3)),
        )
        tgt = vocab if options["share_embeddings"] else int(rng.integers(5, 200))
        model = Seq2SeqTransformer(vocab, tgt, **config, **options)
        model.build(((None, None), (None, None)))
        assert cost.model_cost(model).params == model.count_params(), (config, options)
        patch, channels = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        config.pop("max_len")
        model = ViTClassifier(patch * int(rng.integers(1, 5)), patch, 7, **config)
        model.build((None, model.image_size, model.image_size, channels))
        assert cost.model_cost(model).params == model.count_params(), config


def test_params_equal_count_params_for_every_block(rng):
    """Do MHA, FeedForward, the encoder, GPT and decoder blocks count exactly their weights?"""
    heads = int(rng.integers(1, 5))
    d, ff, T = heads * int(rng.integers(1, 9)), int(rng.integers(1, 40)), 5
    layers = [
        (MultiHeadAttention(heads, d), cost.mha_cost(d, heads, T), (None, T, d)),
        (FeedForward(d, ff), cost.ffn_cost(d, ff, T), (None, T, d)),
        (TransformerEncoderBlock(d, heads, ff), cost.encoder_block_cost(d, heads, ff, T), None),
        (GPTBlock(d, heads, ff), cost.gpt_block_cost(d, heads, ff, T), None),
    ]
    for layer, predicted, shape in layers:
        layer.build(shape or (None, T, d))
        assert predicted.params == layer.count_params(), type(layer).__name__
    decoder = TransformerDecoderBlock(d, heads, ff)
    decoder.build((None, T, d), (None, 9, d))
    assert cost.decoder_block_cost(d, heads, ff, T, 9).params == decoder.count_params()


# KV cache and activation memory.


def test_kv_cache_bytes_equal_what_init_cache_allocates(rng):
    """Are the predicted cache bytes the bytes of the tensors GPT and seq2seq `init_cache` return?"""
    config = _random_gpt(rng)
    model, batch, T = GPT(**config), int(rng.integers(1, 4)), config["max_len"] - 1
    cache = model.init_cache(batch, T, dtype="float16")
    allocated = sum(int(np.prod(c.shape)) * 2 for c in cache)
    assert (
        cost.model_cost(model, seq_len=T, batch=batch, dtype="float16").kv_cache_bytes == allocated
    )
    s2s = Seq2SeqTransformer(50, 60, 20, d_model=8, num_heads=2, num_layers=2, ff_dim=16)
    context = tf.random.normal((batch, 11, 8))
    self_caches, cross_caches = s2s.init_cache(context, max_len=7)
    allocated = sum(int(np.prod(c.shape)) * 4 for c in self_caches + cross_caches)
    predicted = cost.model_cost(s2s, seq_len=7, source_len=11, batch=batch).kv_cache_bytes
    assert predicted == allocated


def test_activation_bytes_of_attention_counted_tensor_by_tensor():
    """Is MHA's activation memory the query input, q, k, v, the weights (B,H,T,S) and merged heads?"""
    B, T, S, d, h = 3, 5, 7, 8, 2
    self_attention = cost.mha_cost(d, h, T, batch=B)
    assert self_attention.activation_bytes == 4 * (B * T * d * 5 + B * h * T * T)
    cross = cost.mha_cost(d, h, T, S, batch=B, dtype="bfloat16")
    assert cross.activation_bytes == 2 * (B * T * d * 3 + 2 * B * S * d + B * h * T * S)


def test_activation_bytes_grow_linearly_in_batch_and_quadratically_in_length():
    """Does a GPT's activation memory double with the batch, and its T^2 part quadruple with T?"""
    config = dict(vocab_size=64, max_len=512, d_model=32, num_heads=4, num_layers=2, ff_dim=64)
    act = lambda T, B=1: cost.gpt_cost(config, T, B).activation_bytes
    assert act(64, 2) == 2 * act(64)
    # act(T) = a*T + b*T^2: the second difference isolates b (heads * layers * 4 bytes).
    assert act(256) - 2 * act(128) + act(0) == (256**2 - 2 * 128**2) * 4 * 2 * 4


# FLOPs: against TensorFlow's count of a traced forward pass.


def _graph_flops(fn, *specs):
    """TensorFlow's FLOP statistics of the frozen graph of `fn`, summed per op type.

    `float_operation()` profiles these registered statistics. Its BatchMatMulV2
    statistic reads `transpose_a`, an attribute BatchMatMulV2 does not have (it has
    `adj_x`), so for a product with `adj_x` it takes the wrong contracted size. That
    only occurs in gradient graphs; there the products are counted here from the
    shapes instead ("matmul").
    """
    concrete = tf.function(fn).get_concrete_function(*specs)
    graph = convert_variables_to_constants_v2(concrete).graph
    counts = Counter()
    for op in graph.get_operations():
        try:
            stat = tf_ops.get_stats_for_node_def(graph, op.node_def, "flops")
        except ValueError:
            continue
        counts[op.type] += int(stat.value or 0)
        if op.type in ("MatMul", "BatchMatMulV2"):
            # A product with a weight matrix has a rank-2 operand (the kernel); Keras
            # writes it as MatMul or, in older versions on 3-D inputs, BatchMatMulV2.
            ranks = {len(x.shape) for x in op.inputs}
            counts["dense" if 2 in ranks else "attention"] += int(stat.value or 0)
            a = op.inputs[0].shape
            adjoint = op.get_attr("transpose_a" if op.type == "MatMul" else "adj_x")
            k = a[-2] if adjoint else a[-1]
            counts["matmul"] += 2 * k * int(np.prod(op.outputs[0].shape))
    return counts


def _compare(predicted, counts, label):
    total = sum(v for k, v in counts.items() if k not in ("matmul", "dense", "attention"))
    gap = (total - predicted.flops_total) / total
    print(
        f"{label}: ours {predicted.flops_total:,} vs TensorFlow {total:,} ({gap:+.1%} TF over ours)"
    )
    assert predicted.flops_dense == counts["dense"], label
    assert predicted.flops_attention == counts["attention"], label
    assert 0 <= gap < TOLERANCE, label
    return counts["attention"] / total


def test_mha_and_block_flops_match_tensorflow():
    """Do MHA, an encoder block and a decoder block (cross-attention) predict TF's matmul FLOPs exactly, and its total within 10%?"""
    d, h, ff, B = 64, 4, 128, 2
    mha = MultiHeadAttention(h, d)
    for T in (32, 128):
        counts = _graph_flops(lambda x: mha(x, x, use_causal_mask=True), tf.TensorSpec((B, T, d)))
        _compare(cost.mha_cost(d, h, T, batch=B), counts, f"MHA T={T}")
    block = TransformerEncoderBlock(d, h, ff)
    counts = _graph_flops(lambda x: block(x), tf.TensorSpec((B, 48, d)))
    _compare(cost.encoder_block_cost(d, h, ff, 48, batch=B), counts, "encoder block T=48")
    decoder = TransformerDecoderBlock(d, h, ff)
    counts = _graph_flops(
        lambda x, c: decoder(x, c), tf.TensorSpec((B, 16, d)), tf.TensorSpec((B, 24, d))
    )
    _compare(cost.decoder_block_cost(d, h, ff, 16, 24, batch=B), counts, "decoder block T=16 S=24")


def test_gpt_flops_match_tensorflow_and_the_t2_share_grows_as_predicted():
    """At T=64 and T=256, does a small GPT's prediction match TF's count, and its attention share grow as TF's does?"""
    config = dict(vocab_size=97, max_len=256, d_model=64, num_heads=4, num_layers=2, ff_dim=256)
    model = GPT(**config)
    model.build((None, None))
    shares = {}
    for T in (64, 256):
        counts = _graph_flops(lambda x: model(x), tf.TensorSpec((2, T), tf.int32))
        predicted = cost.gpt_cost(config, T, batch=2)
        tf_share = _compare(predicted, counts, f"GPT T={T}")
        shares[T] = (predicted.attention_share, tf_share)
    # Attention a*T^2 against dense b*T: the share's odds a*T/b grow 4x from T=64 to T=256.
    odds = lambda share: share / (1 - share)
    assert odds(shares[256][0]) / odds(shares[64][0]) == pytest.approx(4.0)
    assert shares[256][1] > 2.5 * shares[64][1]
    assert shares[256][0] == pytest.approx(shares[256][1], rel=TOLERANCE)


def test_training_step_is_three_forward_passes_of_matmuls():
    """Does a GPT's forward+backward graph hold exactly 3x the forward matmul FLOPs (the `train_flops` rule)?"""
    config = dict(vocab_size=50, max_len=32, d_model=32, num_heads=2, num_layers=2, ff_dim=64)
    model = GPT(**config)
    model.build((None, None))

    def step(ids):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(ids)))
        return tape.gradient(loss, model.trainable_variables)

    counts = _graph_flops(step, tf.TensorSpec((2, 32), tf.int32))
    assert counts["matmul"] == cost.gpt_cost(config, 32, batch=2).train_flops


def test_seq2seq_and_vit_flops_match_tensorflow():
    """Do the seq2seq Transformer and the ViT predict TF's matmul FLOPs exactly, and the total within 10%?"""
    config = dict(
        src_vocab=50, tgt_vocab=60, max_len=32, d_model=32, num_heads=4, num_layers=2, ff_dim=64
    )
    s2s = Seq2SeqTransformer(**config)
    specs = (tf.TensorSpec((2, 20), tf.int32), tf.TensorSpec((2, 12), tf.int32))
    counts = _graph_flops(lambda a, b: s2s((a, b)), *specs)
    _compare(cost.seq2seq_cost(config, 20, 12, batch=2), counts, "seq2seq S=20 T=12")
    config = dict(
        image_size=8, patch_size=2, num_classes=10, d_model=32, num_heads=4, num_layers=2, ff_dim=64
    )
    vit = ViTClassifier(**config)
    counts = _graph_flops(lambda x: vit(x), tf.TensorSpec((2, 8, 8, 1)))
    _compare(cost.vit_cost(config, batch=2, channels=1), counts, "ViT 8x8 patch 2")


def test_format_cost_names_parameters_and_flops_per_step():
    """Does the training log line give the parameter count, forward FLOPs and the 3x training rule?"""
    line = cost.format_cost(cost.model_cost("gpt_nano", batch=32))
    assert "146,864 parameters" in line
    assert "GFLOPs forward per step" in line and "3x forward" in line
