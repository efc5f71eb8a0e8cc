"""Char and WordPiece tokenizers: round trips, special ids, saving, tf.data use."""

import sys

import pytest
import tensorflow as tf

from course_lib.data import (
    END_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    START_ID,
    UNK_ID,
    CharTokenizer,
    WordPieceTokenizer,
    load_tokenizer,
)

ACCENTED = "Élève naïve à Noël, e\u0301 combiné, 🙂👍🏽 中文"
WORDS = "the quick brown fox jumps over the lazy dog while the cat sleeps".split()


@pytest.fixture(scope="module")
def wordpiece():
    corpus = [" ".join(WORDS[i:] + WORDS[:i]) for i in range(len(WORDS))] * 3
    return WordPieceTokenizer.train(corpus, vocab_size=120)


def test_special_ids_are_fixed():
    """Are pad, start, end and unknown at ids 0..3 in that order?"""
    assert (PAD_ID, START_ID, END_ID, UNK_ID) == (0, 1, 2, 3)
    assert SPECIAL_TOKENS == ("[PAD]", "[START]", "[END]", "[UNK]")


def test_char_round_trip_with_accents_and_emoji():
    """Do precomposed and combining accents and emoji round-trip through CharTokenizer?"""
    tok = CharTokenizer.train([ACCENTED])
    ids = tok.encode(ACCENTED)
    assert len(ids) == len(ACCENTED)
    assert tok.decode(ids) == ACCENTED
    tf_ids = tok.tokenize(ACCENTED)
    assert tf_ids.dtype == tf.int32 and tf_ids.numpy().tolist() == ids
    assert tok.detokenize(tf_ids).numpy().decode() == ACCENTED


def test_char_unknown_and_specials():
    """Do unseen characters map to UNK, and are pad/start/end dropped on detokenize?"""
    tok = CharTokenizer.train(["abc"])
    assert tok.encode("aXb") == [4, UNK_ID, 5]
    ids = tf.constant([[START_ID, 4, 5, END_ID, PAD_ID], [6, PAD_ID, PAD_ID, PAD_ID, PAD_ID]])
    assert tok.detokenize(ids).numpy().tolist() == [b"ab", b"c"]


def test_char_save_load_and_max_vocab(tmp_path):
    """Does CharTokenizer save as vocab.txt and keep only the most frequent chars when capped?"""
    tok = CharTokenizer.train(["aaab\n", "b🙂"], max_vocab_size=6)
    assert tok.chars == ["a", "b"]
    full = CharTokenizer.train(["aaab\n", "b🙂"])
    full.save(tmp_path / "c")
    again = load_tokenizer(tmp_path / "c")
    assert again.chars == full.chars and again.vocab_size == 8
    with pytest.raises(ValueError, match="vocab_size must be at least"):
        CharTokenizer.train(["abc"], max_vocab_size=4)
    with pytest.raises(ValueError, match="empty corpus"):
        CharTokenizer.train(["", ""])


def test_wordpiece_vocab_starts_with_specials(wordpiece):
    """Does the learnt vocabulary put the specials at ids 0..3?"""
    assert tuple(wordpiece.vocab[:4]) == SPECIAL_TOKENS
    assert wordpiece.vocab_size == len(wordpiece.vocab) <= 120


def test_wordpiece_round_trip_of_lowercase_words(wordpiece):
    """Does known lower-case text come back word for word (pads and start/end dropped)?"""
    text = "the lazy cat jumps over the brown dog"
    ids = wordpiece.encode(text)
    assert wordpiece.decode([START_ID, *ids, END_ID, PAD_ID]) == text
    assert wordpiece.decode(wordpiece.encode("The LAZY Cat")) == "the lazy cat"


def test_wordpiece_in_tf_data(wordpiece):
    """Does tokenize map over batched strings to int32 ragged ids inside tf.data?"""
    ds = tf.data.Dataset.from_tensor_slices(["the fox", "a dog sleeps", "cat"]).batch(2)
    batches = list(ds.map(wordpiece.tokenize))
    assert isinstance(batches[0], tf.RaggedTensor) and batches[0].dtype == tf.int32
    assert batches[0].shape[0] == 2 and batches[1].shape[0] == 1


def test_wordpiece_save_load(wordpiece, tmp_path):
    """Does a saved WordPiece tokenizer load with the same vocabulary and ids?"""
    wordpiece.save(tmp_path / "w")
    again = WordPieceTokenizer.load(tmp_path / "w")
    assert again.vocab == wordpiece.vocab
    assert again.encode("the quick fox") == wordpiece.encode("the quick fox")
    with pytest.raises(ValueError, match="not a CharTokenizer"):
        CharTokenizer.load(tmp_path / "w")


def test_wordpiece_bad_input():
    """Are an empty corpus and a vocabulary smaller than the specials rejected?"""
    with pytest.raises(ValueError, match="empty corpus"):
        WordPieceTokenizer.train(["   "], vocab_size=100)
    with pytest.raises(ValueError, match="vocab_size must be at least 5"):
        WordPieceTokenizer.train(["some words"], vocab_size=3)


def test_wordpiece_without_tensorflow_text_says_which_to_install(monkeypatch):
    """Without tensorflow-text, does WordPiece name the version matching this TensorFlow?"""
    monkeypatch.setitem(sys.modules, "tensorflow_text", None)  # `import` then raises ImportError
    minor = ".".join(tf.__version__.split(".")[:2])
    with pytest.raises(ImportError, match=rf'pip install "tensorflow-text=={minor}\.\*"'):
        WordPieceTokenizer(list(SPECIAL_TOKENS) + ["a"])
    with pytest.raises(ImportError, match=f"built for TensorFlow {tf.__version__}"):
        WordPieceTokenizer.train(["some words"], vocab_size=50)
