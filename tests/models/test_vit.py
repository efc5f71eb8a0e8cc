"""ViTClassifier: numerics, channels from the input, CLS readout, attention scores, saving."""

import keras
import numpy as np
import pytest

from course_lib.models import ViTClassifier
from tests.layers.helpers import randomize
from tests.models.helpers import vit_logits


def make_vit(rng, channels=1, **kwargs):
    model = ViTClassifier(8, 4, 10, d_model=16, num_heads=2, num_layers=2, ff_dim=32, **kwargs)
    model.build((None, 8, 8, channels))
    randomize(model, rng, 0.2)
    return model


@pytest.mark.parametrize("channels", [1, 3])
def test_vit_matches_numpy_reference(rng, channels):
    """Do the logits (B, classes) equal a float64 numpy ViT to 1e-4, for 1 and 3 channels?"""
    model = make_vit(rng, channels)
    images = rng.normal(size=(3, 8, 8, channels)).astype("float32")
    logits = np.asarray(model(images))
    assert logits.shape == (3, 10)
    np.testing.assert_allclose(logits, vit_logits(model, images), atol=1e-4, rtol=1e-4)


def test_each_image_is_classified_independently(rng):
    """Does changing one image of the batch leave the other images' logits unchanged?"""
    model = make_vit(rng)
    images = rng.normal(size=(3, 8, 8, 1)).astype("float32")
    other = images.copy()
    other[1] += rng.normal(size=(8, 8, 1)).astype("float32")
    a, b = np.asarray(model(images)), np.asarray(model(other))
    np.testing.assert_allclose(a[[0, 2]], b[[0, 2]], atol=1e-6)
    assert np.abs(a[1] - b[1]).max() > 1e-4


def test_attention_scores_per_block(rng):
    """Does attention_scores give one (B, heads, N+1, N+1) map per block, rows summing to 1?"""
    model = make_vit(rng)
    scores = model.attention_scores(rng.normal(size=(2, 8, 8, 1)).astype("float32"))
    assert len(scores) == 2
    for s in scores:
        s = np.asarray(s)
        assert s.shape == (2, 2, 5, 5)
        np.testing.assert_allclose(s.sum(-1), 1.0, atol=1e-5)


def test_image_size_not_divisible_by_patch_is_an_error():
    """Is a patch size that does not divide the image size a clear error?"""
    with pytest.raises(ValueError, match="image_size=10, patch_size=4"):
        ViTClassifier(10, 4, 10, 16, 2, 1, 32)


def test_vit_round_trips_through_keras_file(rng, tmp_path):
    """Does a .keras save and reload give identical logits and config?"""
    model = make_vit(rng, channels=3, dropout=0.1, layer_norm_epsilon=1e-5)
    images = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    model.save(tmp_path / "vit.keras")
    loaded = keras.saving.load_model(tmp_path / "vit.keras")
    assert isinstance(loaded, ViTClassifier) and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(np.asarray(loaded(images)), np.asarray(model(images)))
