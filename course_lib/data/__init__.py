"""Data for the course: tf.data pipelines, tokenizers and a dataset registry.

Images: `load_and_preprocess_image`, `image_dataset_from_files` (alias
`make_image_dataset`), `image_dataset_from_arrays`, `find_unreadable_images`.
Tokenizers (pad = 0, start = 1, end = 2, unknown = 3 for all): `CharTokenizer`,
`WordPieceTokenizer` (tensorflow-text), `BPETokenizer` (byte-level, pure Python),
`load_tokenizer`. Text pipelines: `lm_dataset`, `padded_batches`,
`seq2seq_dataset`. Registry: `list_datasets`, `info`, `load`, `download`.

Example:
    >>> from course_lib import data
    >>> data.list_datasets()
    ['cifar10', 'digits', 'mnist', 'numbers-en-fr', 'pydoc', 'spa-eng', 'tinyshakespeare']
    >>> train = data.load("digits", split="train").shuffle(2000, seed=0).batch(64)
"""

from course_lib.data.bpe import BPETokenizer
from course_lib.data.download import DatasetUnavailableError, download
from course_lib.data.images import (
    find_unreadable_images,
    image_dataset_from_arrays,
    image_dataset_from_files,
    load_and_preprocess_image,
    make_image_dataset,
)
from course_lib.data.registry import DatasetInfo, info, list_datasets, load
from course_lib.data.text import lm_dataset, pad_ragged, padded_batches, seq2seq_dataset
from course_lib.data.tokenizer_base import (
    END_ID,
    NUM_SPECIAL,
    PAD_ID,
    SPECIAL_TOKENS,
    START_ID,
    UNK_ID,
    Tokenizer,
)
from course_lib.data.tokenizers import CharTokenizer, WordPieceTokenizer, load_tokenizer

__all__ = [
    "BPETokenizer",
    "CharTokenizer",
    "DatasetInfo",
    "DatasetUnavailableError",
    "END_ID",
    "NUM_SPECIAL",
    "PAD_ID",
    "SPECIAL_TOKENS",
    "START_ID",
    "Tokenizer",
    "UNK_ID",
    "WordPieceTokenizer",
    "download",
    "find_unreadable_images",
    "image_dataset_from_arrays",
    "image_dataset_from_files",
    "info",
    "list_datasets",
    "lm_dataset",
    "load",
    "load_and_preprocess_image",
    "load_tokenizer",
    "make_image_dataset",
    "pad_ragged",
    "padded_batches",
    "seq2seq_dataset",
]
