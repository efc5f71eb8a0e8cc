"""Character and WordPiece tokenizers, and `load_tokenizer` for any saved tokenizer.

All tokenizers share one interface (`tokenize`, `detokenize`, `vocab_size`,
`save`, `load`, plus the Python `encode`/`decode`) and the special ids of
`SPECIAL_TOKENS`: pad = 0, start = 1, end = 2, unknown = 3. `BPETokenizer`
lives in `course_lib/data/bpe.py`.

Example:
    >>> tok = CharTokenizer.train(["héllo wörld 🙂"])
    >>> tok.decode(tok.encode("wörld 🙂"))
    'wörld 🙂'
"""

import importlib.metadata
import json
import os
from collections import Counter

import tensorflow as tf

from course_lib.data import tokenizer_base as base
from course_lib.data.bpe import BPETokenizer
from course_lib.data.tokenizer_base import (
    END_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    START_ID,
    UNK_ID,
    Tokenizer,
)

__all__ = [
    "BPETokenizer",
    "CharTokenizer",
    "END_ID",
    "PAD_ID",
    "SPECIAL_TOKENS",
    "START_ID",
    "Tokenizer",
    "UNK_ID",
    "WordPieceTokenizer",
    "load_tokenizer",
]
VOCAB_FILE = "vocab.txt"


class CharTokenizer(Tokenizer):
    """One id per Unicode code point seen in training; unseen characters map to `[UNK]`.

    No normalisation is applied, so accents (precomposed or combining) and emoji
    round-trip exactly when they occur in the training corpus. An unknown id
    detokenizes to U+FFFD.

    Args:
        chars: the vocabulary after the specials, one code point per entry;
            character `chars[k]` gets id `4 + k`.
    """

    def __init__(self, chars):
        chars = list(chars)
        if any(len(c) != 1 for c in chars) or len(set(chars)) != len(chars):
            raise ValueError("chars must be distinct single characters (code points).")
        self.chars = chars
        codepoints = [ord(c) for c in chars]
        self._index = {c: base.NUM_SPECIAL + k for k, c in enumerate(chars)}
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(codepoints, dtype=tf.int32, shape=[len(chars)]),
                tf.range(base.NUM_SPECIAL, base.NUM_SPECIAL + len(chars), dtype=tf.int32),
            ),
            default_value=UNK_ID,
        )
        # id -> code point; pad/start/end -> -1 (dropped), unknown -> U+FFFD.
        self._codepoints = tf.constant([-1, -1, -1, 0xFFFD] + codepoints, dtype=tf.int32)

    @classmethod
    def train(cls, corpus, max_vocab_size: int | None = None) -> "CharTokenizer":
        """Collects the characters of a corpus, keeping the most frequent if capped."""
        if max_vocab_size is not None:
            base.check_vocab_size(max_vocab_size, base.NUM_SPECIAL + 1, "4 specials and a char")
        counts = Counter()
        for text in base.iter_texts(corpus):
            counts.update(text)
        if not counts:
            raise base.empty_corpus_error("CharTokenizer")
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        if max_vocab_size is not None:
            ranked = ranked[: max_vocab_size - base.NUM_SPECIAL]
        return cls(sorted(c for c, _ in ranked))

    @property
    def vocab_size(self) -> int:
        return base.NUM_SPECIAL + len(self.chars)

    def encode(self, text: str) -> list[int]:
        return [self._index.get(c, UNK_ID) for c in text]

    def tokenize(self, texts):
        texts, was_scalar = base.as_batch(texts)
        codepoints = tf.strings.unicode_decode(texts, "UTF-8", errors="replace")
        ids = tf.ragged.map_flat_values(self._table.lookup, codepoints)
        return base.unbatch_ids(ids, was_scalar)

    def detokenize(self, ids):
        ids, was_rank_1 = base.ids_as_batch(ids)
        codepoints = tf.gather(self._codepoints, ids)
        codepoints = tf.ragged.boolean_mask(codepoints, codepoints >= 0)
        text = tf.strings.unicode_encode(codepoints, "UTF-8")
        return text[0] if was_rank_1 else text

    def _save_files(self, path: str) -> dict:
        with open(os.path.join(path, VOCAB_FILE), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(c, ensure_ascii=False) + "\n" for c in self.chars)
        return {"vocab_size": self.vocab_size, "vocab_file": VOCAB_FILE, "line_format": "json"}

    @classmethod
    def _from_files(cls, path: str, config: dict) -> "CharTokenizer":
        with open(os.path.join(path, config.get("vocab_file", VOCAB_FILE)), encoding="utf-8") as f:
            return cls([json.loads(line) for line in f if line.strip()])


def tensorflow_text_install_hint() -> str:
    """The pip command that installs the tensorflow-text matching this TensorFlow."""
    minor = ".".join(tf.__version__.split(".")[:2])
    return f'pip install "tensorflow-text=={minor}.*"'


def import_tensorflow_text():
    """tensorflow-text, or an ImportError that says which one to install.

    tensorflow-text X.Y works only with TensorFlow X.Y; it is optional (the `text`
    extra) so that installing course-lib never replaces a preinstalled TensorFlow.
    """
    try:
        import tensorflow_text  # Imported lazily: it registers many ops.
    except (ImportError, tf.errors.NotFoundError) as error:
        try:
            found = f"tensorflow-text {importlib.metadata.version('tensorflow-text')} is installed"
        except importlib.metadata.PackageNotFoundError:
            found = "tensorflow-text is not installed"
        raise ImportError(
            f"WordPieceTokenizer needs tensorflow-text built for TensorFlow {tf.__version__}, "
            f"and {found} ({type(error).__name__}: {str(error)[:200]}). Install the matching "
            f"one: {tensorflow_text_install_hint()}"
        ) from error
    return tensorflow_text


class WordPieceTokenizer(Tokenizer):
    """WordPiece on tensorflow-text: vocabulary from `bert_vocab_from_dataset`, `FastBertTokenizer`.

    Text is lower-cased and accents are stripped (BERT's uncased normalisation,
    unless `lower_case=False`), so detokenize gives the normalised words joined by
    spaces, not the original string. Inside `tf.data` batch first, then map
    `tokenize` over the batch: FastBertTokenizer is fast on batches.

    Args:
        vocab: the tokens, the four `SPECIAL_TOKENS` first; continuation pieces
            start with `##`.
        lower_case: lower-case and strip accents before splitting.
    """

    def __init__(self, vocab, lower_case: bool = True):
        tf_text = import_tensorflow_text()
        vocab = list(vocab)
        if tuple(vocab[: base.NUM_SPECIAL]) != SPECIAL_TOKENS:
            raise ValueError(f"The vocabulary must start with {SPECIAL_TOKENS}.")
        self.vocab = vocab
        self.lower_case = lower_case
        self._tokenizer = tf_text.FastBertTokenizer(
            vocab=vocab,
            token_out_type=tf.int32,
            unknown_token="[UNK]",
            support_detokenization=True,
            lower_case_nfd_strip_accents=lower_case,
        )

    @classmethod
    def train(
        cls, corpus, vocab_size: int, lower_case: bool = True, learn_params: dict | None = None
    ) -> "WordPieceTokenizer":
        """Learns a vocabulary offline with tensorflow-text's `bert_vocab_from_dataset`."""
        import_tensorflow_text()
        from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as bert_vocab

        base.check_vocab_size(vocab_size, base.NUM_SPECIAL + 1, "4 special tokens and a word")
        texts = [t for t in base.iter_texts(corpus) if t.strip()]
        if not texts:
            raise base.empty_corpus_error("WordPieceTokenizer")
        dataset = tf.data.Dataset.from_tensor_slices(texts).batch(1024).prefetch(2)
        vocab = bert_vocab.bert_vocab_from_dataset(
            dataset,
            vocab_size=vocab_size,
            reserved_tokens=list(SPECIAL_TOKENS),
            bert_tokenizer_params={"lower_case": lower_case},
            learn_params={"lower_thresh": 2} if learn_params is None else learn_params,
        )
        return cls(vocab, lower_case=lower_case)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def tokenize(self, texts):
        texts, was_scalar = base.as_batch(texts)
        return base.unbatch_ids(self._tokenizer.tokenize(texts), was_scalar)

    def detokenize(self, ids):
        ids, was_rank_1 = base.ids_as_batch(ids)
        text = self._tokenizer.detokenize(base.drop_specials(ids))
        return text[0] if was_rank_1 else text

    def _save_files(self, path: str) -> dict:
        with open(os.path.join(path, VOCAB_FILE), "w", encoding="utf-8") as f:
            f.writelines(token + "\n" for token in self.vocab)
        return {
            "vocab_size": self.vocab_size,
            "vocab_file": VOCAB_FILE,
            "lower_case": self.lower_case,
        }

    @classmethod
    def _from_files(cls, path: str, config: dict) -> "WordPieceTokenizer":
        with open(os.path.join(path, config.get("vocab_file", VOCAB_FILE)), encoding="utf-8") as f:
            vocab = [line.rstrip("\n") for line in f]
        return cls(vocab, lower_case=config.get("lower_case", True))


_CLASSES = {cls.__name__: cls for cls in (CharTokenizer, WordPieceTokenizer, BPETokenizer)}


def load_tokenizer(path) -> Tokenizer:
    """Loads any tokenizer saved with `save(path)`, whatever its class."""
    config_path = os.path.join(path, base.CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise ValueError(f"No tokenizer at {os.fspath(path)!r}: expected {base.CONFIG_FILE}.")
    with open(config_path, encoding="utf-8") as f:
        name = json.load(f).get("class")
    if name not in _CLASSES:
        raise ValueError(f"Unknown tokenizer class {name!r}; expected one of {sorted(_CLASSES)}.")
    return _CLASSES[name].load(path)
