"""Encoder, decoder and GPT blocks: wiring equations, numpy references, masking, dropout."""

import keras
import numpy as np
import pytest

from course_lib.layers import (
    FeedForward,
    GPTBlock,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
    padding_mask,
)
from tests import numpy_reference as ref
from tests.layers.helpers import dense_weights, f64, mha_weights, norm_weights, randomize

TOL = 2e-5
D, HEADS, FF = 16, 4, 24


def _built(layer, rng, *shapes):
    layer.build(*shapes)
    randomize(layer, rng)
    return layer


def _np_ffn(ffn, x, activation):
    return ref.ffn(x, dense_weights(ffn.dense1), dense_weights(ffn.dense2), activation)


def test_feed_forward_matches_numpy(rng):
    """Is FeedForward = dense2(act(dense1(x))) for relu and gelu?"""
    x = rng.normal(size=(2, 5, D)).astype("float32")
    for act, np_act in (("relu", ref.relu), ("gelu", ref.gelu)):
        ffn = _built(FeedForward(D, FF, activation=act), rng, (None, None, D))
        np.testing.assert_allclose(f64(ffn(x)), _np_ffn(ffn, f64(x), np_act), atol=TOL)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_block_matches_numpy_reference(rng, norm_first):
    """Does the encoder block follow the post-norm (default) or pre-norm equations in float64?"""
    block = _built(
        TransformerEncoderBlock(D, HEADS, FF, norm_first=norm_first), rng, (None, None, D)
    )
    x = f64(rng.normal(size=(2, 6, D)).astype("float32"))
    ids = np.array([[1, 2, 3, 4, 0, 0], [1, 2, 3, 4, 5, 6]])
    mask = (ids != 0)[:, None]
    n1, n2 = norm_weights(block.norm1), norm_weights(block.norm2)
    attn = lambda h: ref.mha(h, h, mha_weights(block.attention), HEADS, mask=mask)[0]  # noqa: E731
    if norm_first:
        h = x + attn(ref.layer_norm(x, *n1))
        expected = h + _np_ffn(block.ffn, ref.layer_norm(h, *n2), ref.relu)
    else:
        h = ref.layer_norm(x + attn(x), *n1)
        expected = ref.layer_norm(h + _np_ffn(block.ffn, h, ref.relu), *n2)
    np.testing.assert_allclose(
        f64(block(x.astype("float32"), attention_mask=padding_mask(ids))), expected, atol=TOL
    )


def test_encoder_block_wiring_through_its_sublayers(rng):
    """Post-norm: is block(x) = norm2(h + ffn(h)) with h = norm1(x + attention(x, x)), using its own sublayers?"""
    block = _built(TransformerEncoderBlock(D, HEADS, FF), rng, (None, None, D))
    x = rng.normal(size=(2, 5, D)).astype("float32")
    h = block.norm1(x + block.attention(x, x))
    np.testing.assert_allclose(f64(block(x)), f64(block.norm2(h + block.ffn(h))), atol=1e-6)
    vit = _built(
        TransformerEncoderBlock(D, HEADS, FF, norm_first=True, activation="gelu"),
        rng,
        (None, None, D),
    )
    n = vit.norm1(x)
    h = x + vit.attention(n, n)
    np.testing.assert_allclose(f64(vit(x)), f64(h + vit.ffn(vit.norm2(h))), atol=1e-6)


def test_gpt_block_matches_numpy_and_is_causal(rng):
    """Is the GPT block pre-norm with a causal GELU MLP, and does a future token leave the past unchanged?"""
    block = _built(GPTBlock(D, HEADS, FF), rng, (None, None, D))
    x = rng.normal(size=(2, 6, D)).astype("float32")
    xd = f64(x)
    h = (
        xd
        + ref.mha(
            ref.layer_norm(xd, *norm_weights(block.ln1)),
            ref.layer_norm(xd, *norm_weights(block.ln1)),
            mha_weights(block.attention),
            HEADS,
            mask=ref.causal(6)[None],
        )[0]
    )
    expected = h + _np_ffn(block.mlp, ref.layer_norm(h, *norm_weights(block.ln2)), ref.gelu)
    base = f64(block(x))
    np.testing.assert_allclose(base, expected, atol=TOL)
    y = x.copy()
    y[:, 4] += 1.0
    out = f64(block(y))
    np.testing.assert_allclose(out[:, :4], base[:, :4], atol=1e-6)
    assert np.abs(out[:, 4] - base[:, 4]).max() > 1e-4


def _decoder(rng, norm_first=False):
    return _built(
        TransformerDecoderBlock(D, HEADS, FF, norm_first=norm_first),
        rng,
        (None, None, D),
        (None, None, D),
    )


def test_decoder_block_matches_numpy_reference(rng):
    """Does the decoder block follow causal self-attn, cross-attn over the context, FFN, each post-norm?"""
    block = _decoder(rng)
    x = f64(rng.normal(size=(2, 5, D)).astype("float32"))
    ctx = f64(rng.normal(size=(2, 7, D)).astype("float32"))
    src = np.array([[5, 6, 7, 0, 0, 0, 0], [5, 6, 7, 8, 9, 1, 2]])
    cmask = (src != 0)[:, None]
    h = ref.layer_norm(
        x + ref.mha(x, x, mha_weights(block.self_attention), HEADS, mask=ref.causal(5)[None])[0],
        *norm_weights(block.norm1),
    )
    h = ref.layer_norm(
        h + ref.mha(h, ctx, mha_weights(block.cross_attention), HEADS, mask=cmask)[0],
        *norm_weights(block.norm2),
    )
    expected = ref.layer_norm(h + _np_ffn(block.ffn, h, ref.relu), *norm_weights(block.norm3))
    out = block(x.astype("float32"), ctx.astype("float32"), context_mask=padding_mask(src))
    np.testing.assert_allclose(f64(out), expected, atol=TOL)


def test_cross_attention_reads_context_and_respects_its_padding(rng):
    """Does perturbing the encoder output change the decoder output, except at positions masked as padding?"""
    block = _decoder(rng)
    x = rng.normal(size=(2, 4, D)).astype("float32")
    ctx = rng.normal(size=(2, 6, D)).astype("float32")
    src = np.array([[4, 5, 6, 0, 0, 0], [4, 5, 6, 7, 0, 0]])
    mask = padding_mask(src)
    base = f64(block(x, ctx, context_mask=mask))
    real = ctx.copy()
    real[:, 1] += rng.normal(size=D).astype("float32")
    assert np.abs(f64(block(x, real, context_mask=mask)) - base).max() > 1e-3
    padded = ctx.copy()
    padded[:, 4:] += 10 * rng.normal(size=(2, 2, D)).astype("float32")
    np.testing.assert_allclose(f64(block(x, padded, context_mask=mask)), base, atol=1e-6)


def test_decoder_self_attention_is_causal(rng):
    """Does a later target token leave earlier decoder outputs unchanged?"""
    block = _decoder(rng, norm_first=True)
    x = rng.normal(size=(1, 5, D)).astype("float32")
    ctx = rng.normal(size=(1, 3, D)).astype("float32")
    base = f64(block(x, ctx))
    y = x.copy()
    y[:, 3] -= 1.0
    out = f64(block(y, ctx))
    np.testing.assert_allclose(out[:, :3], base[:, :3], atol=1e-6)
    assert np.abs(out[:, 3] - base[:, 3]).max() > 1e-4


def test_cached_decoder_and_gpt_blocks_equal_full_recomputation(rng):
    """Step-by-step with caches, do the decoder and GPT blocks give the full-sequence outputs within 1e-5?"""
    dec, gpt = _decoder(rng), _built(GPTBlock(D, HEADS, FF), rng, (None, None, D))
    x = rng.normal(size=(2, 5, D)).astype("float32")
    ctx = rng.normal(size=(2, 3, D)).astype("float32")
    full_dec, full_gpt = f64(dec(x, ctx)), f64(gpt(x))
    cross = dec.cross_attention.project_key_value(ctx, ctx)
    dcache = np.zeros((2, 2, HEADS, 5, D // HEADS), "float32")
    gcache = dcache.copy()
    for t in range(5):
        out, dcache = dec(
            x[:, t : t + 1],
            ctx,
            self_attention_cache=dcache,
            cache_update_index=t,
            cross_attention_cache=cross,
        )
        np.testing.assert_allclose(f64(out)[:, 0], full_dec[:, t], atol=1e-5)
        out, gcache = gpt(x[:, t : t + 1], cache=gcache, cache_update_index=t)
        np.testing.assert_allclose(f64(out)[:, 0], full_gpt[:, t], atol=1e-5)


@pytest.mark.parametrize(
    "make",
    [
        lambda: TransformerEncoderBlock(D, HEADS, FF, dropout=0.5),
        lambda: GPTBlock(D, HEADS, FF, dropout=0.5),
        lambda: FeedForward(D, FF, dropout=0.5),
    ],
)
def test_dropout_is_inactive_at_inference(rng, make):
    """With training=False are two calls identical, and with training=True different?"""
    layer = make()
    x = rng.normal(size=(2, 5, D)).astype("float32")
    a, b = layer(x, training=False).numpy(), layer(x, training=False).numpy()
    np.testing.assert_array_equal(a, b)
    assert np.abs(layer(x, training=True).numpy() - a).max() > 1e-3


def test_decoder_dropout_is_inactive_at_inference(rng):
    """Same for the decoder block, which takes a context."""
    block = TransformerDecoderBlock(D, HEADS, FF, dropout=0.5)
    x, ctx = (rng.normal(size=(2, n, D)).astype("float32") for n in (4, 6))
    np.testing.assert_array_equal(
        block(x, ctx, training=False).numpy(), block(x, ctx, training=False).numpy()
    )
    assert np.abs(block(x, ctx, training=True).numpy() - block(x, ctx).numpy()).max() > 1e-3


def test_blocks_reject_wrong_rank_and_heads(rng):
    """Are a 2-D input and d_model % num_heads != 0 refused with the values named?"""
    with pytest.raises(ValueError, match="num_heads=5, d_model=16"):
        TransformerEncoderBlock(16, 5, 32)
    with pytest.raises(ValueError, match=r"x.shape=\(4, 16\)"):
        GPTBlock(16, 4, 32)(np.ones((4, 16), "float32"))
    with pytest.raises(ValueError, match=r"context.shape=\(3, 16\)"):
        TransformerDecoderBlock(16, 4, 32)(
            np.ones((1, 4, 16), "float32"), np.ones((3, 16), "float32")
        )


def test_mixed_float16_blocks_are_finite(rng):
    """Under mixed_float16, do all blocks give finite outputs (with a fully padded source row)?"""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        x = rng.normal(size=(2, 5, D)).astype("float32")
        src = np.array([[0, 0, 0], [3, 4, 0]])
        outs = [
            TransformerEncoderBlock(D, HEADS, FF)(x),
            GPTBlock(D, HEADS, FF)(x),
            TransformerDecoderBlock(D, HEADS, FF)(x, x[:, :3], context_mask=padding_mask(src)),
        ]
        for out in outs:
            assert out.dtype == "float16" and np.all(np.isfinite(out.numpy()))
    finally:
        keras.mixed_precision.set_global_policy("float32")
