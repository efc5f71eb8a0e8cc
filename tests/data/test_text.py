"""Text pipelines: LM windows shifted by one, padded batches with masks, seq2seq batches."""

import numpy as np
import pytest
import tensorflow as tf

from course_lib.data import (
    END_ID,
    PAD_ID,
    START_ID,
    CharTokenizer,
    lm_dataset,
    padded_batches,
    seq2seq_dataset,
)


def test_lm_targets_are_inputs_shifted_by_one(rng):
    """Is targets[:, t] == inputs[:, t + 1], with windows taken in order from the ids?"""
    ids = rng.integers(4, 500, size=1000)
    seq_len, batch = 16, 4
    batches = list(lm_dataset(ids, seq_len, batch))
    inputs = np.concatenate([x.numpy() for x, _ in batches])
    targets = np.concatenate([y.numpy() for _, y in batches])
    n = len(ids) // (seq_len + 1) // batch * batch
    assert inputs.shape == targets.shape == (n, seq_len)
    assert batches[0][0].dtype == tf.int32 and batches[0][1].dtype == tf.int32
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])
    windows = ids[: n * (seq_len + 1)].reshape(n, seq_len + 1)
    np.testing.assert_array_equal(inputs, windows[:, :-1])
    np.testing.assert_array_equal(targets, windows[:, 1:])


def test_lm_shuffle_is_deterministic_under_a_seed(rng):
    """Do two pipelines with the same seed give the same order, and another seed a different one?"""
    ids = rng.integers(4, 500, size=3000)

    def first_inputs(seed):
        return np.concatenate([x.numpy() for x, _ in lm_dataset(ids, 8, 4, True, seed)])

    a, b, c = first_inputs(1), first_inputs(1), first_inputs(2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_lm_streams_from_a_dataset_of_documents(rng):
    """Does a dataset of 1-D documents give the same windows as the concatenated array?"""
    docs = [rng.integers(4, 99, size=int(rng.integers(5, 40))) for _ in range(30)]
    ds = tf.data.Dataset.from_generator(
        lambda: iter(docs), output_signature=tf.TensorSpec([None], tf.int64)
    )
    streamed = np.concatenate([x.numpy() for x, _ in lm_dataset(ds, 10, 2)])
    direct = np.concatenate([x.numpy() for x, _ in lm_dataset(np.concatenate(docs), 10, 2)])
    np.testing.assert_array_equal(streamed, direct)
    with pytest.raises(ValueError, match="at least seq_len"):
        lm_dataset([5, 6, 7], seq_len=8, batch_size=2)


def test_padding_mask_excludes_exactly_the_pads(rng):
    """Is the mask True on real tokens and False on the pads that fill each batch?"""
    seqs = [list(rng.integers(4, 50, size=int(rng.integers(1, 12)))) for _ in range(10)]
    got = list(padded_batches(seqs, batch_size=4))
    rows = 0
    for ids, mask in got:
        assert ids.dtype == tf.int32 and mask.dtype == tf.bool
        ids, mask = ids.numpy(), mask.numpy()
        assert ids.shape == mask.shape
        for r in range(ids.shape[0]):
            seq = seqs[rows + r]
            assert mask[r].sum() == len(seq)
            np.testing.assert_array_equal(ids[r][mask[r]], seq)
            assert (ids[r][~mask[r]] == PAD_ID).all()
        assert ids.shape[1] == max(len(seqs[rows + r]) for r in range(ids.shape[0]))
        rows += ids.shape[0]
    assert rows == len(seqs)


def test_padded_batches_truncate_to_max_len():
    """Does max_len truncate long rows and pad every batch to exactly max_len?"""
    (ids, mask), *_ = list(padded_batches([[5, 6, 7, 8, 9], [5]], batch_size=2, max_len=3))
    assert ids.numpy().tolist() == [[5, 6, 7], [5, 0, 0]]
    assert mask.numpy().tolist() == [[True] * 3, [True, False, False]]


def test_seq2seq_target_is_shifted_right():
    """Is target_in = [START] + target_out[:-1], with END closing source and target_out?"""
    tok = CharTokenizer.train(["abcdefgh"])
    pairs = [("abc", "de"), ("a", "fgh")]
    (source, target_in), target_out = next(iter(seq2seq_dataset(pairs, tok, tok, batch_size=2)))
    for t in (source, target_in, target_out):
        assert t.dtype == tf.int32 and t.shape[0] == 2
    enc = tok.encode
    assert source.numpy().tolist() == [enc("abc") + [END_ID], enc("a") + [END_ID, 0, 0]]
    assert target_out.numpy().tolist() == [enc("de") + [END_ID, 0], enc("fgh") + [END_ID]]
    assert target_in.numpy().tolist() == [[START_ID, *enc("de"), 0], [START_ID, *enc("fgh")]]


def test_seq2seq_max_len_and_empty_input():
    """Does max_len cap lengths, and does an empty pair list raise a clear error?"""
    tok = CharTokenizer.train(["abcdefgh"])
    ds = seq2seq_dataset([("abcdefgh", "abcdefgh")], tok, tok, batch_size=1, max_len=4)
    (source, target_in), target_out = next(iter(ds))
    assert source.shape == target_in.shape == target_out.shape == (1, 4)
    with pytest.raises(ValueError, match="No \\(source, target\\) pairs"):
        seq2seq_dataset([], tok, tok, batch_size=1)
