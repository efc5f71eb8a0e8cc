"""GPT: numerics against a float64 reference, causality, padding, the cache, saving."""

import keras
import numpy as np
import pytest

from course_lib.models import GPT, lm_loss
from tests.layers.helpers import randomize
from tests.models.helpers import gpt_logits

VOCAB, MAX_LEN = 23, 12


def make_gpt(rng, tie_embeddings=False, scale=0.2, **kwargs):
    model = GPT(
        VOCAB,
        MAX_LEN,
        d_model=16,
        num_heads=2,
        num_layers=2,
        ff_dim=32,
        tie_embeddings=tie_embeddings,
        **kwargs,
    )
    model.build((None, MAX_LEN))
    randomize(model, rng, scale)
    return model


@pytest.mark.parametrize("tie", [False, True])
def test_gpt_matches_numpy_reference(rng, tie):
    """Do the logits (B, T, vocab) equal a float64 numpy GPT to 1e-4, tied head or not?"""
    model = make_gpt(rng, tie_embeddings=tie)
    ids = rng.integers(0, VOCAB, size=(3, 9))
    logits = np.asarray(model(ids))
    assert logits.shape == (3, 9, VOCAB)
    np.testing.assert_allclose(logits, gpt_logits(model, ids), atol=1e-4, rtol=1e-4)


def test_tied_gpt_has_no_head_weights(rng):
    """Does tie_embeddings drop exactly the head's vocab*d + vocab parameters?"""
    untied, tied = make_gpt(rng), make_gpt(rng, tie_embeddings=True)
    assert untied.count_params() - tied.count_params() == VOCAB * 16 + VOCAB
    assert tied.head.weights == []


def test_changing_a_token_never_changes_earlier_logits(rng):
    """Causal leak test through the whole model: does token j affect only positions >= j?"""
    model = make_gpt(rng)
    ids = rng.integers(0, VOCAB, size=(2, 10))
    j = int(rng.integers(1, 9))
    other = ids.copy()
    other[:, j] = (ids[:, j] + 1 + rng.integers(0, VOCAB - 1, size=2)) % VOCAB
    a, b = np.asarray(model(ids)), np.asarray(model(other))
    np.testing.assert_array_equal(a[:, :j], b[:, :j])
    assert np.abs(a[:, j] - b[:, j]).max() > 1e-4


def test_left_padded_row_equals_the_row_alone(rng):
    """With token_mask, does a left-padded row give the logits of its real tokens alone?"""
    model = make_gpt(rng)
    ids = rng.integers(1, VOCAB, size=(2, 8))
    mask = np.ones_like(ids, bool)
    mask[1, :3] = False
    ids[1, :3] = 0
    batched = np.asarray(model(ids, token_mask=mask))
    alone = np.asarray(model(ids[1:, 3:]))
    np.testing.assert_allclose(batched[1, 3:], alone[0], atol=1e-5)
    np.testing.assert_allclose(batched[1, 3:], gpt_logits(model, ids, mask)[1, 3:], atol=1e-4)


def test_sequence_longer_than_max_len_is_refused(rng):
    """Is a (B, max_len + 1) input a clear ValueError naming max_len?"""
    with pytest.raises(ValueError, match="max_len=12"):
        make_gpt(rng)(rng.integers(0, VOCAB, size=(1, MAX_LEN + 1)))


@pytest.mark.parametrize("tie", [False, True])
def test_cached_logits_equal_full_recomputation(rng, tie):
    """Prefill 4 tokens, then 1 at a time: are the logits those of the full pass to 1e-5?"""
    model = make_gpt(rng, tie_embeddings=tie, scale=0.1)
    ids = rng.integers(0, VOCAB, size=(2, MAX_LEN))
    full = np.asarray(model(ids))
    logits, cache = model.call_with_cache(ids[:, :4], model.init_cache(2), 0)
    np.testing.assert_allclose(np.asarray(logits), full[:, :4], atol=1e-5)
    for t in range(4, MAX_LEN):
        logits, cache = model.call_with_cache(ids[:, t : t + 1], cache, t)
        np.testing.assert_allclose(np.asarray(logits)[:, 0], full[:, t], atol=1e-5)


def test_lm_loss_ignores_padding(rng):
    """Is lm_loss the mean cross-entropy over non-pad targets only (float64 reference)?"""
    logits = rng.normal(size=(2, 5, 7)).astype("float32")
    targets = rng.integers(1, 7, size=(2, 5))
    targets[0, 3:] = 0
    z = logits.astype(np.float64)
    logp = z - z.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    keep = targets != 0
    np.testing.assert_allclose(float(lm_loss(logits, targets)), nll[keep].mean(), rtol=1e-5)
    assert float(lm_loss(logits, np.zeros_like(targets))) == 0.0


@pytest.mark.parametrize("tie", [False, True])
def test_gpt_round_trips_through_keras_file(rng, tmp_path, tie):
    """Does a .keras save and reload give identical logits and config?"""
    model = make_gpt(rng, tie_embeddings=tie, dropout=0.1, layer_norm_epsilon=1e-5)
    ids = rng.integers(0, VOCAB, size=(2, 7))
    model.save(tmp_path / "gpt.keras")
    loaded = keras.saving.load_model(tmp_path / "gpt.keras")
    assert isinstance(loaded, GPT) and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(np.asarray(loaded(ids)), np.asarray(model(ids)))
