"""MultiHeadAttention against numpy float64 and against keras.layers.MultiHeadAttention."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_lib.layers import (
    MultiHeadAttention,
    causal_mask,
    merge_heads,
    padding_mask,
    split_heads,
)
from tests import numpy_reference as ref
from tests.layers.helpers import f64, mha_weights, randomize

TOL = 1e-5


def _mha(rng, heads=4, d=16, dropout=0.0):
    layer = MultiHeadAttention(heads, d, dropout=dropout)
    layer.build((None, None, d))
    randomize(layer, rng)
    return layer


def test_split_and_merge_heads_are_inverse(rng):
    """Does split_heads give (B, H, T, D/H) with head h = features h*Dh:(h+1)*Dh, and merge_heads undo it?"""
    x = rng.normal(size=(2, 5, 12)).astype("float32")
    heads = split_heads(x, 3).numpy()
    assert heads.shape == (2, 3, 5, 4)
    np.testing.assert_array_equal(heads[:, 1], x[:, :, 4:8])
    np.testing.assert_array_equal(merge_heads(heads).numpy(), x)


def test_mha_matches_numpy_reference_with_masks(rng):
    """Does the layer equal the float64 reference for self- and cross-attention, with padding and causal masks?"""
    layer = _mha(rng)
    q = rng.normal(size=(2, 5, 16)).astype("float32")
    kv = rng.normal(size=(2, 7, 16)).astype("float32")
    ids = np.array([[3, 4, 5, 0, 0, 0, 0], [3, 4, 5, 6, 7, 8, 9]])
    out = layer(q, kv, attention_mask=padding_mask(ids))
    expected, _ = ref.mha(f64(q), f64(kv), mha_weights(layer), 4, mask=(ids != 0)[:, None])
    np.testing.assert_allclose(f64(out), expected, atol=TOL)

    out, scores = layer(q, q, use_causal_mask=True, return_attention_scores=True)
    expected, w = ref.mha(f64(q), f64(q), mha_weights(layer), 4, mask=ref.causal(5)[None])
    np.testing.assert_allclose(f64(out), expected, atol=TOL)
    np.testing.assert_allclose(f64(scores), w, atol=TOL)
    assert scores.shape == (2, 4, 5, 5)


def test_mha_separate_key_and_value(rng):
    """Is `key` used for the logits and `value` for the output when both are given?"""
    layer = _mha(rng)
    q, k, v = (rng.normal(size=(2, s, 16)).astype("float32") for s in (3, 6, 6))
    out = layer(q, v, key=k)
    expected, _ = ref.mha(f64(q), f64(v), mha_weights(layer), 4, key=f64(k))
    np.testing.assert_allclose(f64(out), expected, atol=TOL)


def copy_to_keras_mha(ours, heads, d):
    """Builds keras.layers.MultiHeadAttention with our weights: Dense (D, D) <-> EinsumDense (D, H, Dh)."""
    dh = d // heads
    theirs = keras.layers.MultiHeadAttention(num_heads=heads, key_dim=dh)
    x = np.zeros((1, 2, d), "float32")
    theirs(x, x)
    weights = []
    for name in ("wq", "wk", "wv"):
        kernel, bias = getattr(ours, name).get_weights()
        weights += [kernel.reshape(d, heads, dh), bias.reshape(heads, dh)]
    kernel, bias = ours.wo.get_weights()
    weights += [kernel.reshape(heads, dh, d), bias]
    theirs.set_weights(weights)
    return theirs


def test_mha_matches_keras_multi_head_attention(rng):
    """After copying weights, does our layer match Keras's own within 1e-5, masked and unmasked?"""
    heads, d = 8, 32
    ours = _mha(rng, heads, d)
    theirs = copy_to_keras_mha(ours, heads, d)
    q = rng.normal(size=(3, 9, d)).astype("float32")
    kv = rng.normal(size=(3, 11, d)).astype("float32")
    mask = rng.random((3, 9, 11)) > 0.3
    mask[..., 0] = True
    for kwargs in [{}, {"attention_mask": mask}]:
        np.testing.assert_allclose(
            ours(q, kv, **kwargs).numpy(), theirs(q, kv, **kwargs).numpy(), atol=TOL
        )
    np.testing.assert_allclose(
        ours(q, q, use_causal_mask=True).numpy(),
        theirs(q, q, use_causal_mask=True).numpy(),
        atol=TOL,
    )


def test_two_dimensional_mask_is_refused(rng):
    """Is a (B, S) mask refused rather than silently misread as (Tq, Tk), as Keras's layer does?"""
    layer = _mha(rng)
    x = rng.normal(size=(4, 4, 16)).astype("float32")
    with pytest.raises(ValueError, match=r"attention_mask.shape=\(4, 4\)"):
        layer(x, x, attention_mask=np.ones((4, 4), bool))
    with pytest.raises(ValueError, match="cannot broadcast"):
        layer(x, x, attention_mask=np.ones((4, 1, 5), bool))


def test_bad_constructor_and_rank_are_refused(rng):
    """Are d_model % num_heads and wrong input ranks refused with the values named?"""
    with pytest.raises(ValueError, match="num_heads=3, d_model=64"):
        MultiHeadAttention(3, 64)
    layer = _mha(rng)
    with pytest.raises(ValueError, match=r"query.shape=\(5, 16\)"):
        layer(np.ones((5, 16), "float32"), np.ones((1, 5, 16), "float32"))


def test_causal_leak_through_mha(rng):
    """Does perturbing token t+1 leave outputs <= t unchanged while perturbing t changes output t?"""
    layer = _mha(rng)
    x = rng.normal(size=(2, 8, 16)).astype("float32")
    base = layer(x, x, use_causal_mask=True).numpy()
    for t in range(7):
        y = x.copy()
        y[:, t + 1] += 1.0
        out = layer(y, y, use_causal_mask=True).numpy()
        np.testing.assert_allclose(out[:, : t + 1], base[:, : t + 1], atol=1e-6)
        z = x.copy()
        z[:, t] += 1.0
        assert np.abs(layer(z, z, use_causal_mask=True).numpy()[:, t] - base[:, t]).max() > 1e-4


def test_dropout_only_in_training(rng):
    """Is dropout inactive with training=False (two calls identical) and active with training=True?"""
    layer = _mha(rng, dropout=0.5)
    x = rng.normal(size=(2, 6, 16)).astype("float32")
    a, b = layer(x, x, training=False).numpy(), layer(x, x, training=False).numpy()
    np.testing.assert_array_equal(a, b)
    expected, _ = ref.mha(f64(x), f64(x), mha_weights(layer), 4)
    np.testing.assert_allclose(a, expected, atol=TOL)
    assert np.abs(layer(x, x, training=True).numpy() - a).max() > 1e-3


def test_cached_attention_equals_full_attention(rng):
    """Does step-by-step decoding with a key/value cache equal full causal attention within 1e-5?"""
    layer = _mha(rng)
    x = rng.normal(size=(2, 6, 16)).astype("float32")
    full = layer(x, x, use_causal_mask=True).numpy()
    cache = np.zeros((2, 2, 4, 6, 4), "float32")
    steps = []
    for t in range(6):
        out, cache = layer(
            x[:, t : t + 1],
            x[:, t : t + 1],
            use_causal_mask=True,
            cache=cache,
            cache_update_index=t,
        )
        steps.append(out.numpy())
    np.testing.assert_allclose(np.concatenate(steps, 1), full, atol=TOL)


def test_mixed_float16_gives_finite_outputs(rng):
    """Under mixed_float16, are outputs float16 and finite, masks included?"""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = MultiHeadAttention(4, 16)
        x = rng.normal(size=(2, 6, 16)).astype("float32")
        out = layer(x, x, attention_mask=causal_mask(6)[None])
        assert out.dtype == "float16"
        assert np.all(np.isfinite(out.numpy()))
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_mha_inside_tf_function_with_dynamic_shapes(rng):
    """Does the layer trace with unknown batch and length and agree with eager?"""
    layer = _mha(rng)
    fn = tf.function(
        lambda a: layer(a, a, use_causal_mask=True),
        input_signature=[tf.TensorSpec((None, None, 16))],
    )
    x = rng.normal(size=(3, 5, 16)).astype("float32")
    np.testing.assert_allclose(fn(x).numpy(), layer(x, x, use_causal_mask=True).numpy(), atol=1e-6)
