"""Byte-level BPE: training, exact round trips, saving, and use inside tf.data."""

import pytest
import tensorflow as tf

from course_lib.data import BPETokenizer, load_tokenizer
from course_lib.data.bpe import FIRST_MERGE_ID, learn_merges, split_chunks

CORPUS = [
    "the lower lowest newer newest wider widest low low low",
    "Le café est très naïf; l'été dernier 🙂🙂 was fun, wasn't it?",
    "def __init__(self):\n    return self._x  # 42 values\n",
] * 5


@pytest.fixture(scope="module")
def bpe():
    return BPETokenizer.train(CORPUS, vocab_size=FIRST_MERGE_ID + 60)


def _random_text(rng, n=200):
    """Random code points from ASCII, Latin-1, combining marks, CJK and emoji."""
    ranges = [(32, 127), (0xC0, 0x17F), (0x300, 0x36F), (0x4E00, 0x4E80), (0x1F600, 0x1F640)]
    chars = []
    for _ in range(n):
        lo, hi = ranges[rng.integers(len(ranges))]
        chars.append(chr(int(rng.integers(lo, hi))))
    return "".join(chars) + " \t\n  end"


def test_chunks_join_back_to_the_text(rng):
    """Does the regex pre-split cover every character of arbitrary Unicode text?"""
    text = _random_text(rng)
    assert "".join(split_chunks(text)) == text


def test_round_trip_of_any_utf8_text(bpe, rng):
    """Do emoji, accents (precomposed and combining) and random code points round-trip?"""
    for text in ["naïve café 🙂👍🏽 e\u0301 中文", _random_text(rng), ""]:
        ids = bpe.encode(text)
        assert bpe.decode(ids) == text
        assert bpe.detokenize(bpe.tokenize(text)).numpy().decode("utf-8") == text


def test_merges_shorten_frequent_words(bpe):
    """Does a word seen often in training encode to fewer ids than bytes?"""
    assert len(bpe.encode(" lowest")) < len(b" lowest")
    assert bpe.vocab_size == FIRST_MERGE_ID + 60
    assert all(i >= 4 for i in bpe.encode("anything 🙂"))


def test_first_merge_is_the_most_frequent_pair():
    """Is the first merge the most frequent adjacent byte pair, counted over chunk frequencies?"""
    merges = learn_merges({"abab": 3, "cd": 5}, 2)
    a, b, c, d = (ord(ch) + 4 for ch in "abcd")
    assert merges[0] == (a, b)  # 6 occurrences beat 5.
    assert merges[1] == (c, d)


def test_save_and_load_are_plain_text(bpe, tmp_path):
    """Does save write merges.txt and config.json that load back to the same encoder?"""
    bpe.save(tmp_path / "tok")
    text = (tmp_path / "tok" / "merges.txt").read_text()
    assert text.count("\n") == len(bpe.merges) + 1
    again = load_tokenizer(tmp_path / "tok")
    assert isinstance(again, BPETokenizer)
    sample = "the newest café 🙂"
    assert again.encode(sample) == bpe.encode(sample)


def test_tokenize_inside_dataset_map(bpe):
    """Does tokenize work on batches inside tf.data.map and match encode?"""
    texts = ["low lower", "café 🙂", "x"]
    ds = tf.data.Dataset.from_tensor_slices(texts).batch(2).map(bpe.tokenize)
    rows = [row.tolist() for batch in ds for row in batch.numpy()]
    assert rows == [bpe.encode(t) for t in texts]


def test_bad_vocab_size_and_empty_corpus():
    """Are a too-small vocabulary and an empty corpus rejected with clear messages?"""
    with pytest.raises(ValueError, match="at least 260"):
        BPETokenizer.train(CORPUS, vocab_size=100)
    with pytest.raises(ValueError, match="empty corpus"):
        BPETokenizer.train([], vocab_size=300)
    with pytest.raises(ValueError, match="not one string"):
        BPETokenizer.train("a string", vocab_size=300)
