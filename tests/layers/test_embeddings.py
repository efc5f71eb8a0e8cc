"""Positional encodings, token/position embeddings, patches and the ViT patch embedding."""

import numpy as np
import pytest
import tensorflow as tf

from course_lib.layers import (
    PatchEmbedding,
    SinusoidalPositionEncoding,
    TokenAndPositionEmbedding,
    extract_patches,
    positional_encoding,
)
from tests import numpy_reference as ref
from tests.layers.helpers import f64, randomize


def test_positional_encoding_published_values():
    """Does position 3 at depth 6 equal the published [0.14112, -0.98999, 0.13879, 0.99032, 0.00646, 0.99997]?"""
    table = positional_encoding(8, 6).numpy()
    assert table.dtype == np.float32 and table.shape == (8, 6)
    np.testing.assert_allclose(
        table[3], [0.14112, -0.98999, 0.13879, 0.99032, 0.00646, 0.99997], atol=1e-5
    )


def test_positional_encoding_matches_reference_and_is_interleaved():
    """Does the table match the loop-by-loop float64 formula, with sin at even and cos at odd columns?"""
    table = f64(positional_encoding(50, 16))
    np.testing.assert_allclose(table, ref.positional_encoding(50, 16), atol=1e-6)
    np.testing.assert_allclose(table[:, 0], np.sin(np.arange(50)), atol=1e-6)
    np.testing.assert_allclose(table[:, 1], np.cos(np.arange(50)), atol=1e-6)


def test_positional_encoding_rejects_odd_depth():
    """Is an odd depth refused with its value named?"""
    with pytest.raises(ValueError, match="depth=7"):
        positional_encoding(10, 7)


def test_sinusoidal_layer_offsets_and_max_len(rng):
    """Does the layer return the table rows for its positions, and refuse sequences past max_len?"""
    layer = SinusoidalPositionEncoding(max_len=20)
    x = rng.normal(size=(2, 5, 8)).astype("float32")
    np.testing.assert_allclose(layer(x).numpy()[1], ref.positional_encoding(20, 8)[:5], atol=1e-6)
    np.testing.assert_allclose(
        layer(x, start_index=3).numpy()[0], ref.positional_encoding(20, 8)[3:8], atol=1e-6
    )
    with pytest.raises(ValueError, match="length=21"):
        layer(rng.normal(size=(1, 21, 8)).astype("float32"))


def test_token_and_position_embedding_adds_positions(rng):
    """Is the output token_embedding[id] + position_embedding[t] for t = 0..T-1?"""
    layer = TokenAndPositionEmbedding(vocab_size=30, max_len=10, d_model=8)
    layer.build((None, None))
    randomize(layer, rng)
    ids = rng.integers(0, 30, size=(3, 7))
    tok, pos = (
        f64(w) for w in (layer.token_embedding.embeddings, layer.position_embedding.embeddings)
    )
    np.testing.assert_allclose(f64(layer(ids)), tok[ids] + pos[:7][None], atol=1e-6)
    np.testing.assert_allclose(
        f64(layer(ids[:, :2], start_index=5)), tok[ids[:, :2]] + pos[5:7][None], atol=1e-6
    )
    with pytest.raises(ValueError, match="length=11.*max_len=10"):
        layer(np.ones((1, 11), "int32"))
    with pytest.raises(ValueError, match=r"token_ids.shape=\(4,\)"):
        layer(np.ones((4,), "int32"))


def test_extract_patches_equals_tf_image_extract_patches(rng):
    """Is our patch order and flattening identical to tf.image.extract_patches?"""
    images = rng.normal(size=(2, 12, 8, 3)).astype("float32")
    ours = extract_patches(images, 4).numpy()
    theirs = tf.image.extract_patches(images, [1, 4, 4, 1], [1, 4, 4, 1], [1, 1, 1, 1], "VALID")
    np.testing.assert_array_equal(ours, theirs.numpy().reshape(2, -1, 48))


def test_first_patch_is_the_top_left_block():
    """On an arange image, is patch 0 the top-left block and patch 1 the block to its right?"""
    image = np.arange(6 * 6 * 2, dtype="float32").reshape(1, 6, 6, 2)
    patches = extract_patches(image, 3).numpy()
    assert patches.shape == (1, 4, 18)
    np.testing.assert_array_equal(patches[0, 0], image[0, :3, :3].reshape(-1))
    np.testing.assert_array_equal(patches[0, 1], image[0, :3, 3:].reshape(-1))
    np.testing.assert_array_equal(patches[0, 2], image[0, 3:, :3].reshape(-1))


def test_extract_patches_rejects_indivisible_sizes():
    """Is an image size not divisible by the patch size refused with both named?"""
    with pytest.raises(ValueError, match="10x8, patch_size=4"):
        extract_patches(np.ones((1, 10, 8, 1), "float32"), 4)
    with pytest.raises(ValueError, match=r"images.shape=\(8, 8, 1\)"):
        extract_patches(np.ones((8, 8, 1), "float32"), 4)


def test_patch_embedding_cls_first_and_positions(rng):
    """Does PatchEmbedding give N + 1 tokens, CLS (+ position 0) at index 0, projected patches after?"""
    layer = PatchEmbedding(patch_size=2, d_model=6, num_patches=16)
    images = rng.normal(size=(3, 8, 8, 1)).astype("float32")
    layer.build(images.shape)
    randomize(layer, rng)
    out = f64(layer(images))
    assert out.shape == (3, 17, 6)
    cls, pos = f64(layer.cls_token), f64(layer.position_embedding)
    kernel, bias = (f64(w) for w in layer.projection.get_weights())
    patches = f64(extract_patches(images, 2))
    np.testing.assert_allclose(out[:, 0], np.broadcast_to(cls[0, 0] + pos[0, 0], (3, 6)), atol=1e-6)
    np.testing.assert_allclose(out[:, 1:], patches @ kernel + bias + pos[:, 1:], atol=1e-5)
    with pytest.raises(ValueError, match="num_patches=16"):
        layer(np.ones((1, 12, 12, 1), "float32"))
