"""Seq2SeqTransformer: numerics, masking, the decoder cache, greedy and beam decoding, saving."""

import itertools
import os

import keras
import numpy as np
import pytest

from course_lib.generation import beam_search, greedy_decode
from course_lib.models import Seq2SeqTransformer
from tests.layers.helpers import randomize
from tests.models.helpers import seq2seq_logits

SRC, TGT, MAX_LEN, PAD, START, END = 19, 7, 10, 0, 1, 2


def make_model(rng, scale=0.3, **kwargs):
    model = Seq2SeqTransformer(
        SRC,
        kwargs.pop("tgt_vocab", TGT),
        MAX_LEN,
        d_model=16,
        num_heads=2,
        num_layers=2,
        ff_dim=32,
        pad_id=PAD,
        **kwargs,
    )
    model.build(((None, MAX_LEN), (None, MAX_LEN)))
    randomize(model, rng, scale)
    return model


@pytest.fixture(scope="module")
def model():
    """One random translator per module run, so decoding traces its step once."""
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"seq2seq weights seed = {seed}")
    return make_model(np.random.default_rng(seed), scale=0.5)


def sources(rng, batch=3, length=7):
    src = rng.integers(3, SRC, size=(batch, length))
    src[0, length - 2 :] = PAD  # right padding on one row
    return src


def test_seq2seq_matches_numpy_reference(model, rng):
    """Do the logits (B, T, tgt_vocab) equal a float64 numpy encoder-decoder to 1e-4?"""
    src, tgt = sources(rng), rng.integers(0, TGT, size=(3, 5))
    logits = np.asarray(model((src, tgt)))
    assert logits.shape == (3, 5, TGT)
    np.testing.assert_allclose(logits, seq2seq_logits(model, src, tgt), atol=1e-4, rtol=1e-4)


def test_padded_source_tokens_are_invisible(model, rng):
    """Does dropping the padded source columns leave the logits unchanged (to 1e-5)?"""
    src, tgt = sources(rng), rng.integers(0, TGT, size=(3, 5))
    other = src.copy()
    other[0, -2:] = PAD + 1 + rng.integers(0, SRC - 1, size=2)
    # Same tokens but now real: the logits must move, so the mask is what hides them.
    moved = np.asarray(model((other, tgt)))
    src_logits = np.asarray(model((src, tgt)))
    assert np.abs(moved[0] - src_logits[0]).max() > 1e-4
    trimmed = np.asarray(model((src[:, :-2], tgt)))[0]
    np.testing.assert_allclose(trimmed, src_logits[0], atol=1e-5)


def test_decoder_is_causal(model, rng):
    """Causal leak test: does target token j affect only the logits at positions >= j?"""
    src, tgt = sources(rng), rng.integers(0, TGT, size=(3, 6))
    j = int(rng.integers(1, 5))
    other = tgt.copy()
    other[:, j] = (tgt[:, j] + 1) % TGT
    a, b = np.asarray(model((src, tgt))), np.asarray(model((src, other)))
    np.testing.assert_array_equal(a[:, :j], b[:, :j])
    assert np.abs(a[:, j] - b[:, j]).max() > 1e-4


def test_cached_decode_steps_equal_full_decoding(model, rng):
    """One token at a time with the caches: are the logits the full decoder's to 1e-5?"""
    src, tgt = sources(rng), rng.integers(0, TGT, size=(3, MAX_LEN))
    context, context_mask = model.encode(src)
    full = np.asarray(model.decode(tgt, context, context_mask))
    self_caches, cross_caches = model.init_cache(context)
    for t in range(MAX_LEN):
        logits, self_caches = model.decode_step(
            tgt[:, t : t + 1], context, context_mask, self_caches, cross_caches, t
        )
        np.testing.assert_allclose(np.asarray(logits)[:, 0], full[:, t], atol=1e-5)


def test_greedy_decode_is_argmax_of_full_forward_and_stops_at_end(model, rng):
    """Is each greedy token the argmax of a full pass, padding after each row's first end_id?"""
    src = sources(rng, batch=6)
    out = greedy_decode(model, src, START, END, MAX_LEN)
    assert out.shape[1] <= MAX_LEN and (out[:, 0] == START).all()
    logits = np.asarray(model((src, out[:, :-1])))
    for row, row_logits in zip(out, logits, strict=True):
        ends = np.flatnonzero(row == END)
        stop = ends[0] + 1 if ends.size else len(row)
        np.testing.assert_array_equal(row[1:stop], row_logits[: stop - 1].argmax(-1))
        assert (row[stop:] == PAD).all()
    if out.shape[1] < MAX_LEN:  # stopped early: only once every row has ended
        assert all(END in row for row in out)


def test_beam_search_with_beam_one_equals_greedy(model, rng):
    """Is beam search with beam_size=1 exactly greedy decoding?"""
    src = sources(rng, batch=5)
    ids, _ = beam_search(model, src, START, END, MAX_LEN, beam_size=1)
    np.testing.assert_array_equal(ids, greedy_decode(model, src, START, END, MAX_LEN))


def _exhaustive_best(model, src, steps):
    """The most likely output of at most `steps` tokens, scoring every sequence in one batch."""
    tails = np.array(list(itertools.product(range(TGT), repeat=steps)))  # (TGT**steps, steps)
    inputs = np.concatenate([np.full((len(tails), 1), START), tails[:, :-1]], axis=1)
    logits = np.asarray(model((np.repeat(src, len(tails), 0), inputs)), np.float64)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    token_logp = np.take_along_axis(logp, tails[..., None], -1)[..., 0]  # (N, steps)
    # A sequence ends at its first END: later tokens neither count nor matter.
    ended_before = np.cumsum(tails == END, axis=1) - (tails == END) > 0
    scores = np.where(ended_before, 0.0, token_logp).sum(-1)
    best = int(np.argmax(scores))
    seq = [START, *tails[best]]
    if END in tails[best]:
        seq = seq[: seq.index(END) + 1]
    return seq, scores[best]


def test_wide_beam_finds_the_exhaustive_optimum(model, rng):
    """With a beam as wide as every hypothesis (7^3), is the result the brute-force best?"""
    src = sources(rng, batch=1)
    ids, score = beam_search(model, src, START, END, 4, beam_size=TGT**3, length_penalty=0.0)
    best, best_score = _exhaustive_best(model, src, 3)
    assert list(ids[0][: len(best)]) == best
    np.testing.assert_allclose(score[0], best_score, atol=1e-4)


def test_vocabulary_mismatch_with_shared_embeddings_is_an_error(rng):
    """Does share_embeddings with different source/target vocabularies name both sizes?"""
    with pytest.raises(ValueError, match="src_vocab=19, tgt_vocab=7"):
        make_model(rng, share_embeddings=True)


def test_decode_length_beyond_positions_is_an_error(model, rng):
    """Is max_len beyond the model's positions a clear error?"""
    with pytest.raises(ValueError, match="model.max_len=10"):
        greedy_decode(model, sources(rng), START, END, MAX_LEN + 1)


@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(
            share_embeddings=True,
            tie_embeddings=True,
            tgt_vocab=SRC,
            position_encoding="sinusoidal",
            norm_first=True,
            activation="gelu",
        ),
    ],
    ids=["paper-learned", "shared-sinusoidal-prenorm"],
)
def test_seq2seq_round_trips_through_keras_file(rng, tmp_path, options):
    """Does a .keras save and reload give identical logits and config?"""
    model = make_model(rng, **options)
    src, tgt = sources(rng), rng.integers(0, model.tgt_vocab, size=(3, 5))
    model.save(tmp_path / "s2s.keras")
    loaded = keras.saving.load_model(tmp_path / "s2s.keras")
    assert isinstance(loaded, Seq2SeqTransformer) and loaded.get_config() == model.get_config()
    assert loaded.count_params() == model.count_params()
    np.testing.assert_array_equal(np.asarray(loaded((src, tgt))), np.asarray(model((src, tgt))))
