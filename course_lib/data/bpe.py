"""A byte-level BPE trainer and tokenizer, written in plain Python (GPT-2 style).

tensorflow-text has no BPE trainer, and the course's GPT homework builds BPE
from scratch, so the reference lives here. The base vocabulary is the four
special tokens (ids 0-3) and the 256 byte values (ids 4-259); every merge learnt
adds one id from 260 on. Because every string is a sequence of bytes, any UTF-8
text round-trips exactly and no id is ever unknown.

Training splits the text into chunks with a regex (runs of letters, digits or
punctuation, each with an optional leading space, and whitespace), counts the
distinct chunks once, and learns merges with incremental pair counts and a heap,
so a 2k vocabulary on the ~465 kB pydoc corpus trains in seconds.

Inside `tf.data`: `tokenize` runs the Python encoder through `tf.py_function`
(correct in `Dataset.map`, but holds the GIL and cannot be exported in a
SavedModel). For language modelling the faster path is to encode the corpus
once with `encode` and feed the ids to `course_lib.data.lm_dataset`.
`detokenize` is pure TensorFlow (a lookup of each id's bytes and a join).
"""

import heapq
import itertools
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

import numpy as np
import tensorflow as tf

from course_lib.data import tokenizer_base as base

# Letters, digits and punctuation runs keep one leading space; whitespace before a
# word stays with the word. Every character matches some branch, so the chunks of
# a text always join back to the text.
SPLIT_PATTERN = re.compile(
    r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
)
BYTE_OFFSET = base.NUM_SPECIAL
FIRST_MERGE_ID = BYTE_OFFSET + 256
MERGES_FILE = "merges.txt"


def split_chunks(text: str) -> list[str]:
    """Splits text into the pre-tokenized chunks that merges never cross."""
    return SPLIT_PATTERN.findall(text)


def learn_merges(chunk_counts: dict[str, int], num_merges: int) -> list[tuple[int, int]]:
    """Learns up to `num_merges` merges from chunk frequencies; ties go to the smaller pair."""
    words = [[b + BYTE_OFFSET for b in chunk.encode("utf-8")] for chunk in chunk_counts]
    freqs = list(chunk_counts.values())
    pair_counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)
    for wi, word in enumerate(words):
        for pair in zip(word, word[1:], strict=False):
            pair_counts[pair] += freqs[wi]
            where[pair].add(wi)
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)

    merges: list[tuple[int, int]] = []
    while heap and len(merges) < num_merges:
        neg_count, pair = heapq.heappop(heap)
        if neg_count == 0 or pair_counts.get(pair, 0) != -neg_count:
            continue  # A stale heap entry: the count changed after it was pushed.
        new_id = FIRST_MERGE_ID + len(merges)
        merges.append(pair)
        changed = set()
        for wi in where.pop(pair):
            word, freq = words[wi], freqs[wi]
            merged = _merge_word(word, pair, new_id)
            if len(merged) == len(word):
                continue  # Stale index entry: an earlier merge removed the pair.
            for old in zip(word, word[1:], strict=False):
                pair_counts[old] -= freq
                changed.add(old)
            for new in zip(merged, merged[1:], strict=False):
                pair_counts[new] += freq
                where[new].add(wi)
                changed.add(new)
            words[wi] = merged
        pair_counts.pop(pair, None)
        changed.discard(pair)
        for other in changed:
            if pair_counts[other] > 0:
                heapq.heappush(heap, (-pair_counts[other], other))
    return merges


def _merge_word(word: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replaces every non-overlapping occurrence of `pair` in `word`, left to right."""
    out, i, n = [], 0, len(word)
    first, second = pair
    while i < n:
        if i < n - 1 and word[i] == first and word[i + 1] == second:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


class BPETokenizer(base.Tokenizer):
    """Byte-level BPE: 4 specials, 256 bytes, then one id per learnt merge.

    Args:
        merges: list of `(left_id, right_id)` pairs in the order they were learnt;
            merge `k` produces id `260 + k`.

    Example:
        >>> tok = BPETokenizer.train(["low lower lowest"] * 10, vocab_size=270)
        >>> tok.decode(tok.encode("naïve café 🙂")) == "naïve café 🙂"
        True
    """

    def __init__(self, merges: Iterable[tuple[int, int]]):
        self.merges = [(int(a), int(b)) for a, b in merges]
        self._ranks = {}
        token_bytes = [b""] * base.NUM_SPECIAL + [bytes([b]) for b in range(256)]
        for k, (a, b) in enumerate(self.merges):
            new_id = FIRST_MERGE_ID + k
            if not (0 <= a < new_id and 0 <= b < new_id) or min(a, b) < BYTE_OFFSET:
                raise ValueError(f"Merge {k} = ({a}, {b}) refers to an id not yet defined.")
            self._ranks[(a, b)] = new_id
            token_bytes.append(token_bytes[a] + token_bytes[b])
        self.token_bytes = token_bytes
        self._cache: dict[str, list[int]] = {}
        self._byte_table = tf.constant(token_bytes, dtype=tf.string)

    @classmethod
    def train(cls, corpus, vocab_size: int) -> "BPETokenizer":
        """Learns `vocab_size - 260` merges from an iterable or `tf.data.Dataset` of strings."""
        base.check_vocab_size(vocab_size, FIRST_MERGE_ID, "4 special tokens and 256 bytes")
        counts = Counter()
        for text in base.iter_texts(corpus):
            counts.update(split_chunks(text))
        if not counts:
            raise base.empty_corpus_error("BPETokenizer")
        return cls(learn_merges(counts, vocab_size - FIRST_MERGE_ID))

    @property
    def vocab_size(self) -> int:
        return FIRST_MERGE_ID + len(self.merges)

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for chunk in split_chunks(text):
            cached = self._cache.get(chunk)
            if cached is None:
                cached = self._cache[chunk] = self._encode_chunk(chunk)
            ids.extend(cached)
        return ids

    def _encode_chunk(self, chunk: str) -> list[int]:
        word = [b + BYTE_OFFSET for b in chunk.encode("utf-8")]
        ranks = self._ranks
        while len(word) > 1:
            best = None
            for pair in zip(word, word[1:], strict=False):
                rank = ranks.get(pair)
                if rank is not None and (best is None or rank < best[0]):
                    best = (rank, pair)
            if best is None:
                break
            word = _merge_word(word, best[1], best[0])
        return word

    def decode(self, ids: Iterable[int]) -> str:
        data = b"".join(self.token_bytes[int(i)] for i in ids)
        return data.decode("utf-8", errors="replace")

    def tokenize(self, texts):
        texts, was_scalar = base.as_batch(texts)

        def encode_batch(batch):
            encoded = [self.encode(t.decode("utf-8")) for t in batch.numpy()]
            lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
            flat = np.fromiter(itertools.chain.from_iterable(encoded), np.int32, lengths.sum())
            return flat, lengths

        flat, lengths = tf.py_function(encode_batch, [texts], [tf.int32, tf.int64])
        flat.set_shape([None])
        lengths.set_shape([None])
        return base.unbatch_ids(tf.RaggedTensor.from_row_lengths(flat, lengths), was_scalar)

    def detokenize(self, ids):
        ids, was_rank_1 = base.ids_as_batch(ids)
        joined = tf.strings.reduce_join(tf.gather(self._byte_table, ids), axis=-1)
        text = tf.strings.unicode_transcode(joined, "UTF-8", "UTF-8", errors="replace")
        return text[0] if was_rank_1 else text

    def _save_files(self, path: str) -> dict:
        with open(os.path.join(path, MERGES_FILE), "w", encoding="utf-8") as f:
            f.write("# byte-level BPE merges: left_id right_id; line k creates id 260 + k\n")
            f.writelines(f"{a} {b}\n" for a, b in self.merges)
        return {"vocab_size": self.vocab_size, "merges_file": MERGES_FILE}

    @classmethod
    def _from_files(cls, path: str, config: dict) -> "BPETokenizer":
        merges = []
        with open(
            os.path.join(path, config.get("merges_file", MERGES_FILE)), encoding="utf-8"
        ) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    a, b = line.split()
                    merges.append((int(a), int(b)))
        return cls(merges)
