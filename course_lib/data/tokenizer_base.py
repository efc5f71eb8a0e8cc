"""The interface every tokenizer shares, the special-token ids, and plain-text saving.

Every tokenizer in `course_lib.data` maps text to int32 ids with the same four
special tokens at the same ids (`SPECIAL_TOKENS`): pad = 0, start = 1, end = 2,
unknown = 3. Models can therefore pad with 0 and stop at `END_ID` whatever
tokenizer produced the ids.
"""

import json
import os
from collections.abc import Iterable, Iterator

import tensorflow as tf

SPECIAL_TOKENS = ("[PAD]", "[START]", "[END]", "[UNK]")
PAD_ID, START_ID, END_ID, UNK_ID = 0, 1, 2, 3
NUM_SPECIAL = len(SPECIAL_TOKENS)
CONFIG_FILE = "config.json"
FORMAT_VERSION = 1


def iter_texts(corpus: Iterable[str] | tf.data.Dataset) -> Iterator[str]:
    """Yields Python strings from a list of strings or a `tf.data.Dataset` of string scalars."""
    if isinstance(corpus, str):
        raise ValueError(
            "Expected a corpus: an iterable of strings or a tf.data.Dataset of strings, "
            "not one string. Wrap it in a list: [text]."
        )
    if isinstance(corpus, tf.data.Dataset):
        corpus = corpus.as_numpy_iterator()
    for text in corpus:
        yield text.decode("utf-8") if isinstance(text, bytes) else str(text)


def check_vocab_size(vocab_size: int, minimum: int, what: str) -> None:
    """Raises a ValueError unless `vocab_size` leaves room for the specials (and `what`)."""
    if not isinstance(vocab_size, int) or vocab_size < minimum:
        raise ValueError(
            f"vocab_size must be at least {minimum} ({what}). Received: vocab_size={vocab_size}"
        )


def empty_corpus_error(name: str) -> ValueError:
    return ValueError(
        f"Cannot train a {name} on an empty corpus: it holds no characters. "
        "Pass a non-empty list of strings or a tf.data.Dataset of strings."
    )


class Tokenizer:
    """Base class: text <-> int32 ids, usable eagerly and inside `tf.data.Dataset.map`.

    Subclasses implement `tokenize`, `detokenize`, `vocab_size`, `_save_files`
    and `_from_files`. `tokenize` takes a string scalar (returns a 1-D int32
    tensor) or a 1-D batch of strings (returns an int32 `tf.RaggedTensor`
    `(B, None)`); no start or end token is added. `detokenize` takes ids of
    rank 1 (returns a string scalar) or rank 2, dense or ragged (returns
    `(B,)` strings); pad, start and end ids are dropped.
    """

    pad_id, start_id, end_id, unk_id = PAD_ID, START_ID, END_ID, UNK_ID
    special_tokens = SPECIAL_TOKENS

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def tokenize(self, texts):
        raise NotImplementedError

    def detokenize(self, ids):
        raise NotImplementedError

    # Python conveniences built on the TF methods; subclasses may override them.
    def encode(self, text: str) -> list[int]:
        """Returns the ids of one Python string as a list of ints."""
        return [int(i) for i in self.tokenize(tf.constant(text)).numpy()]

    def decode(self, ids: Iterable[int]) -> str:
        """Returns the text of a sequence of ids (pad/start/end dropped)."""
        ids = tf.constant(list(ids), dtype=tf.int32)
        return self.detokenize(ids).numpy().decode("utf-8", errors="replace")

    # Saving: a directory with config.json plus the subclass's plain-text files.
    def save(self, path: str | os.PathLike) -> None:
        """Writes the tokenizer to directory `path` in plain text (never pickle)."""
        os.makedirs(path, exist_ok=True)
        config = {
            "class": type(self).__name__,
            "format_version": FORMAT_VERSION,
            "special_tokens": list(SPECIAL_TOKENS),
        }
        config.update(self._save_files(os.fspath(path)))
        with open(os.path.join(path, CONFIG_FILE), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2, ensure_ascii=False)
            f.write("\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Tokenizer":
        """Reads a tokenizer written by `save`."""
        config_path = os.path.join(path, CONFIG_FILE)
        if not os.path.isfile(config_path):
            raise ValueError(
                f"No tokenizer at {os.fspath(path)!r}: expected {CONFIG_FILE} written by save()."
            )
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
        if config.get("class") != cls.__name__:
            raise ValueError(
                f"{os.fspath(path)!r} holds a {config.get('class')}, not a {cls.__name__}; "
                f"load it with course_lib.data.load_tokenizer(path)."
            )
        if tuple(config.get("special_tokens", ())) != SPECIAL_TOKENS:
            raise ValueError(f"{config_path} has special tokens other than {SPECIAL_TOKENS}.")
        return cls._from_files(os.fspath(path), config)

    def _save_files(self, path: str) -> dict:
        raise NotImplementedError

    @classmethod
    def _from_files(cls, path: str, config: dict) -> "Tokenizer":
        raise NotImplementedError


def as_batch(texts) -> tuple[tf.Tensor, bool]:
    """Returns `(batch of strings (B,), was_scalar)` for a string scalar or vector."""
    texts = tf.convert_to_tensor(texts, dtype=tf.string)
    rank = texts.shape.rank
    if rank == 0:
        return texts[tf.newaxis], True
    if rank == 1:
        return texts, False
    raise ValueError(f"Expected a string scalar or a 1-D batch of strings. Received: rank={rank}")


def unbatch_ids(ragged: tf.RaggedTensor, was_scalar: bool):
    """Turns a `(1, None)` ragged result back into a 1-D tensor when the input was a scalar."""
    return ragged[0] if was_scalar else ragged


def ids_as_batch(ids) -> tuple[tf.RaggedTensor, bool]:
    """Returns `(ragged ids (B, None) int32, was_rank_1)` for rank-1 or rank-2 ids."""
    if isinstance(ids, tf.RaggedTensor):
        return tf.cast(ids, tf.int32), False
    ids = tf.convert_to_tensor(ids)
    ids = tf.cast(ids, tf.int32)
    if ids.shape.rank == 1:
        return tf.RaggedTensor.from_tensor(ids[tf.newaxis]), True
    if ids.shape.rank == 2:
        return tf.RaggedTensor.from_tensor(ids), False
    raise ValueError(f"Expected ids of rank 1 or 2. Received: rank={ids.shape.rank}")


def drop_specials(ids: tf.RaggedTensor, keep_unknown: bool = True) -> tf.RaggedTensor:
    """Removes pad, start and end ids (and unknown unless `keep_unknown`) from ragged ids."""
    keep = ids >= NUM_SPECIAL
    if keep_unknown:
        keep = tf.logical_or(keep, tf.equal(ids, UNK_ID))
    return tf.ragged.boolean_mask(ids, keep)
