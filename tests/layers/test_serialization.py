"""Every layer is registered, has get_config, and round-trips through a .keras file."""

import keras
import numpy as np
import pytest

from course_lib import layers as L


def _functional(layer_factory, inputs_spec):
    inputs = [keras.Input(shape) for shape in inputs_spec]
    outputs = layer_factory()(*inputs)
    return keras.Model(inputs, outputs), inputs_spec


CASES = {
    "SelfAttention": (lambda: L.SelfAttention(8), [(6, 12)]),
    "MultiHeadAttention": (lambda: L.MultiHeadAttention(4, 16, dropout=0.1), [(6, 16), (7, 16)]),
    "FeedForward": (lambda: L.FeedForward(16, 32, activation="gelu"), [(6, 16)]),
    "TransformerEncoderBlock": (
        lambda: L.TransformerEncoderBlock(16, 4, 32, norm_first=True, activation="gelu"),
        [(6, 16)],
    ),
    "GPTBlock": (lambda: L.GPTBlock(16, 4, 32), [(6, 16)]),
    "TransformerDecoderBlock": (lambda: L.TransformerDecoderBlock(16, 4, 32), [(6, 16), (5, 16)]),
    "SinusoidalPositionEncoding": (lambda: L.SinusoidalPositionEncoding(32), [(6, 16)]),
    "PatchEmbedding": (lambda: L.PatchEmbedding(4, 16, 4), [(8, 8, 3)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_round_trips_through_keras_file(name, rng, tmp_path):
    """Does a model holding the layer reload from .keras with identical outputs and config?"""
    factory, spec = CASES[name]
    model, spec = _functional(factory, spec)
    for w in model.weights:
        w.assign(rng.normal(0, 0.3, size=tuple(w.shape)).astype("float32"))
    data = [rng.normal(size=(2, *s)).astype("float32") for s in spec]
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(loaded(data)), np.asarray(model(data)))
    original = model.layers[-1]
    assert type(loaded.layers[-1]) is type(original)
    assert loaded.layers[-1].get_config() == original.get_config()


def test_token_embedding_round_trips(rng, tmp_path):
    """Same for TokenAndPositionEmbedding, which takes integer ids."""
    inputs = keras.Input((7,), dtype="int32")
    model = keras.Model(inputs, L.TokenAndPositionEmbedding(50, 10, 8)(inputs))
    ids = rng.integers(0, 50, size=(3, 7))
    model.save(tmp_path / "emb.keras")
    np.testing.assert_array_equal(
        np.asarray(keras.saving.load_model(tmp_path / "emb.keras")(ids)), np.asarray(model(ids))
    )


def test_every_public_layer_is_registered():
    """Is every public Layer class registered under the course_lib package?"""
    classes = [getattr(L, n) for n in L.__all__ if isinstance(getattr(L, n), type)]
    assert len(classes) == 10  # TiedEmbeddingHead among them (used by GPT and Seq2Seq)
    for cls in classes:
        assert keras.saving.get_registered_name(cls) == f"course_lib>{cls.__name__}"
