"""The translate task encodes and decodes whole batches in one tokenizer call each: the
batched results must equal the one-text-at-a-time `encode`/`decode` they replace."""

import numpy as np
import pytest

from course_lib import data as cl_data
from course_lib.training.tasks import _decode, _encode

CORPUS = ["vingt et un", "trois cent deux", "mille neuf cent quatre-vingt-dix", "onze", "zéro"] * 4


@pytest.fixture(scope="module")
def tokenizer():
    return cl_data.WordPieceTokenizer.train(CORPUS, vocab_size=60, lower_case=False)


def test_batched_encode_equals_encode_per_text(tokenizer):
    texts = [*CORPUS[:5], "", "mots inconnus 42", "  espaces   multiples "]
    assert _encode(tokenizer, texts) == [tokenizer.encode(t) for t in texts]
    assert _encode(tokenizer, []) == []


def test_batched_decode_equals_decode_per_row(tokenizer):
    """Random rows with specials, padding after an end id and rows of pads only."""
    rng = np.random.default_rng()
    rows = rng.integers(0, tokenizer.vocab_size, (50, 12)).astype("int32")
    ends = rng.integers(0, 12, 50)
    for row, end in zip(rows, ends, strict=True):
        row[end] = cl_data.END_ID
        row[end + 1 :] = cl_data.PAD_ID
    rows[0] = cl_data.PAD_ID
    assert _decode(tokenizer, rows) == [tokenizer.decode(r.tolist()) for r in rows]
    assert _decode(tokenizer, [[5, 6], [7]]) == [tokenizer.decode([5, 6]), tokenizer.decode([7])]
