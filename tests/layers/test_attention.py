"""scaled_dot_product_attention, masks and SelfAttention against a float64 numpy reference."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_lib.layers import SelfAttention, causal_mask, padding_mask, scaled_dot_product_attention
from tests import numpy_reference as ref
from tests.layers.helpers import dense_weights, f64, randomize

TOL = 1e-5


def test_attention_matches_numpy_reference_with_masks(rng):
    """Does attention equal softmax(QK^T/sqrt(dk))V on random inputs, with and without masks?"""
    q = rng.normal(size=(3, 2, 5, 8)).astype("float32")
    k = rng.normal(size=(3, 2, 7, 8)).astype("float32")
    v = rng.normal(size=(3, 2, 7, 4)).astype("float32")
    masks = [None, rng.random((3, 1, 5, 7)) > 0.3, causal_mask(5, 7).numpy()]
    for mask in masks:
        if mask is not None:
            mask[..., 0] = True  # keep at least one key per row
        out, w = scaled_dot_product_attention(q, k, v, mask=mask)
        ref_out, ref_w = ref.attention(f64(q), f64(k), f64(v), mask)
        np.testing.assert_allclose(f64(out), ref_out, atol=TOL)
        np.testing.assert_allclose(f64(w), ref_w, atol=TOL)
        np.testing.assert_allclose(f64(w).sum(-1), 1.0, atol=TOL)


def test_attention_scale_uses_key_depth(rng):
    """Is the scale 1/sqrt(d_k), so that weights differ from the unscaled softmax?"""
    q = rng.normal(size=(1, 4, 6)).astype("float32")
    k = rng.normal(size=(1, 4, 6)).astype("float32")
    v = rng.normal(size=(1, 4, 3)).astype("float32")
    _, w = scaled_dot_product_attention(q, k, v)
    logits = f64(q) @ f64(k).transpose(0, 2, 1) / np.sqrt(6)
    np.testing.assert_allclose(f64(w), ref.softmax(logits), atol=TOL)
    _, w_unscaled_wrong = ref.attention(f64(q) * np.sqrt(6), f64(k), f64(v))
    assert not np.allclose(f64(w), w_unscaled_wrong, atol=1e-3)


def test_causal_mask_blocks_future():
    """Is the causal mask True on and below the diagonal only?"""
    np.testing.assert_array_equal(causal_mask(4).numpy(), np.tril(np.ones((4, 4), bool)))
    np.testing.assert_array_equal(
        causal_mask(2, 4, offset=2).numpy(), np.tril(np.ones((4, 4), bool))[2:]
    )


def test_padding_mask_shape_and_values():
    """Is the padding mask (B, 1, T) and False exactly at pad ids?"""
    ids = np.array([[4, 9, 0, 0], [0, 3, 5, 7]])
    mask = padding_mask(ids).numpy()
    assert mask.shape == (2, 1, 4) and mask.dtype == bool
    np.testing.assert_array_equal(mask[:, 0], ids != 0)
    np.testing.assert_array_equal(padding_mask(ids, pad_id=7).numpy()[:, 0], ids != 7)


def test_padding_keys_get_zero_weight(rng):
    """Do padded keys receive exactly zero attention weight?"""
    ids = np.array([[5, 6, 7, 0, 0], [1, 2, 0, 0, 0]])
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    _, w = scaled_dot_product_attention(x, x, x, mask=padding_mask(ids))
    w = f64(w)
    assert np.all(w[0, :, 3:] == 0) and np.all(w[1, :, 2:] == 0)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=TOL)


def test_fully_masked_row_is_finite_with_finite_gradients(rng):
    """Does a row with no allowed key give finite outputs and gradients?"""
    q = tf.constant(rng.normal(size=(1, 3, 4)).astype("float32"))
    k = tf.constant(rng.normal(size=(1, 3, 4)).astype("float32"))
    v = tf.constant(rng.normal(size=(1, 3, 4)).astype("float32"))
    mask = np.ones((1, 3, 3), bool)
    mask[0, 1] = False
    with tf.GradientTape() as tape:
        tape.watch([q, k, v])
        out, _ = scaled_dot_product_attention(q, k, v, mask=mask)
        loss = tf.reduce_sum(out)
    grads = tape.gradient(loss, [q, k, v])
    assert np.all(np.isfinite(out.numpy()))
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)


def test_mask_that_cannot_broadcast_is_refused(rng):
    """Is a mask of the wrong shape refused with the shapes named?"""
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    with pytest.raises(ValueError, match=r"cannot broadcast"):
        scaled_dot_product_attention(x, x, x, mask=np.ones((2, 6), bool))
    with pytest.raises(ValueError, match=r"query.shape=\(4,\)"):
        scaled_dot_product_attention(x[0, 0], x, x)
    with pytest.raises(ValueError, match="same last dimension"):
        scaled_dot_product_attention(x, x[..., :3], x)


def _self_attention(rng, d=12, key_dim=8):
    layer = SelfAttention(key_dim)
    layer.build((None, None, d))
    randomize(layer, rng)
    return layer


def test_self_attention_matches_numpy_reference(rng):
    """Is SelfAttention = attention(xWq, xWk, xWv) with its three Dense sublayers?"""
    layer = _self_attention(rng)
    x = rng.normal(size=(2, 6, 12)).astype("float32")
    ids = np.array([[1, 2, 3, 4, 0, 0], [1, 2, 3, 4, 5, 6]])
    for kwargs, mask in [
        ({}, None),
        ({"use_causal_mask": True}, ref.causal(6)),
        ({"attention_mask": padding_mask(ids)}, (ids != 0)[:, None]),
    ]:
        out = layer(x, **kwargs)
        q, k, v = (
            ref.dense(f64(x), *dense_weights(getattr(layer, n)))
            for n in ("query_dense", "key_dense", "value_dense")
        )
        expected, _ = ref.attention(q, k, v, mask)
        assert out.shape == (2, 6, 8)
        np.testing.assert_allclose(f64(out), expected, atol=TOL)


def test_self_attention_causal_leak(rng):
    """Does changing token t+1 leave outputs <= t unchanged, while changing token t changes output t?"""
    layer = _self_attention(rng)
    x = rng.normal(size=(1, 6, 12)).astype("float32")
    base = f64(layer(x, use_causal_mask=True))
    t = 2
    later = x.copy()
    later[:, t + 1] += rng.normal(size=12).astype("float32")
    out = f64(layer(later, use_causal_mask=True))
    np.testing.assert_allclose(out[:, : t + 1], base[:, : t + 1], atol=1e-6)
    assert np.abs(out[:, t + 1] - base[:, t + 1]).max() > 1e-3
    now = x.copy()
    now[:, t] += rng.normal(size=12).astype("float32")
    assert np.abs(f64(layer(now, use_causal_mask=True))[:, t] - base[:, t]).max() > 1e-3


def test_self_attention_rejects_bad_rank(rng):
    """Is a 2-D input refused with its shape named?"""
    layer = SelfAttention(4)
    with pytest.raises(ValueError, match=r"inputs.shape=\(5, 3\)"):
        layer(np.ones((5, 3), "float32"))
    with pytest.raises(ValueError, match="key_dim=0"):
        SelfAttention(0)


def test_jit_compiled_attention_matches_eager(rng):
    """Does attention give the same result inside tf.function with unknown lengths?"""
    q = rng.normal(size=(2, 5, 8)).astype("float32")
    fn = tf.function(
        lambda a: scaled_dot_product_attention(a, a, a, mask=causal_mask(tf.shape(a)[1]))[0],
        input_signature=[tf.TensorSpec((None, None, 8))],
    )
    eager, _ = scaled_dot_product_attention(q, q, q, mask=causal_mask(5))
    np.testing.assert_allclose(fn(q).numpy(), eager.numpy(), atol=1e-6)
    assert keras.ops.shape(fn(q[:, :3]))[1] == 3
