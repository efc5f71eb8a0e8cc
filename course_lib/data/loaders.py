"""One loader per registry dataset: `(split, path_or_None) -> tf.data.Dataset`, unbatched.

Image datasets yield `(image float32 (H, W, C) in [-1, 1], label int32)`; text
datasets yield paragraphs (string scalars); translation datasets yield
`(source_text, target_text)` string pairs. Splits are fixed: seeded
permutations or fixed cut points, the same on every machine.
"""

import gzip
import io
import json
import pickle
import tarfile
import zipfile
from importlib import resources

import numpy as np
import tensorflow as tf

from course_lib.data import translation

DIGITS_SEED, DIGITS_TEST = 0, 360
VALIDATION_FRACTION = 0.1  # The last 10% of a text corpus's paragraphs.
SPA_ENG_SEED = 0
# `pydoc_data.topics.topics` of Python 3.11.7 as sorted JSON, gzipped (data/README.md).
PYDOC_FILE = "pydoc_topics.json.gz"


def _images(images: np.ndarray, labels: np.ndarray, high: float) -> tf.data.Dataset:
    images = images.astype(np.float32) * (2.0 / high) - 1.0
    if images.ndim == 3:
        images = images[..., np.newaxis]
    return tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))


def paragraphs(text: str) -> list[str]:
    """Splits text at blank lines; strips each block and drops empty ones."""
    blocks = (block.strip() for block in text.replace("\r\n", "\n").split("\n\n"))
    return [block for block in blocks if block]


def load_digits(split: str, path=None) -> tf.data.Dataset:
    """scikit-learn's 1,797 8x8 digits (values 0..16); 1,437 train, 360 test."""
    from sklearn.datasets import load_digits as sk_load_digits

    digits = sk_load_digits()
    order = np.random.default_rng(DIGITS_SEED).permutation(len(digits.target))
    index = order[DIGITS_TEST:] if split == "train" else order[:DIGITS_TEST]
    return _images(digits.images[index], digits.target[index], high=16.0)


def _text_split(blocks: list[str], split: str) -> list[str]:
    cut = int(len(blocks) * (1.0 - VALIDATION_FRACTION))
    return blocks[:cut] if split == "train" else blocks[cut:]


def pydoc_topics() -> dict[str, str]:
    """The "help()" topics of Python 3.11.7's `pydoc_data`, shipped in `PYDOC_FILE`.

    Each Python version ships different text, so the package carries one copy:
    the corpus, its splits and the notebooks' targets are the same on every Python.
    """
    with (resources.files("course_lib.data") / PYDOC_FILE).open("rb") as f:
        return json.loads(gzip.decompress(f.read()).decode("utf-8"))


def pydoc_paragraphs(split: str) -> list[str]:
    """Paragraphs of the pydoc topics (sorted by topic); the last 10% validate."""
    topics = pydoc_topics()
    blocks = [block for name in sorted(topics) for block in paragraphs(topics[name])]
    return _text_split(blocks, split)


def load_pydoc(split: str, path=None) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices(pydoc_paragraphs(split))


def load_numbers_en_fr(split: str, path=None) -> tf.data.Dataset:
    sources, targets = zip(*translation.translation_pairs(split), strict=True)
    return tf.data.Dataset.from_tensor_slices((list(sources), list(targets)))


def load_mnist(split: str, path) -> tf.data.Dataset:
    with np.load(path, allow_pickle=False) as data:
        return _images(data[f"x_{split}"], data[f"y_{split}"], high=255.0)


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles only dicts, lists, strings, bytes and numpy arrays (CIFAR's python format)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # Python 3 writes array bytes through it.
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"Refusing to unpickle {module}.{name}.")
        return super().find_class(module, name)


def load_cifar10(split: str, path) -> tf.data.Dataset:
    """CIFAR-10 python tarball; its sha256 is verified before anything is unpickled."""
    members = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    images, labels = [], []
    with tarfile.open(path, "r:gz") as tar:
        for member in members:
            raw = tar.extractfile(f"cifar-10-batches-py/{member}").read()
            batch = _ArraysOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
            images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.append(np.asarray(batch[b"labels"]))
    images = np.concatenate(images).transpose(0, 2, 3, 1)
    return _images(images, np.concatenate(labels), high=255.0)


def load_tinyshakespeare(split: str, path) -> tf.data.Dataset:
    """Speeches (blank-line paragraphs); the first 90% train, the last 10% validation."""
    with open(path, encoding="utf-8") as f:
        return tf.data.Dataset.from_tensor_slices(_text_split(paragraphs(f.read()), split))


def spa_eng_pairs(path, split: str) -> list[tuple[str, str]]:
    with zipfile.ZipFile(path) as archive:
        text = archive.read("spa-eng/spa.txt").decode("utf-8")
    pairs = [tuple(line.split("\t")[:2]) for line in text.splitlines() if "\t" in line]
    order = np.random.default_rng(SPA_ENG_SEED).permutation(len(pairs))
    n_val = n_test = len(pairs) // 10
    cuts = {
        "validation": order[:n_val],
        "test": order[n_val : n_val + n_test],
        "train": order[n_val + n_test :],
    }
    return [pairs[i] for i in cuts[split]]


def load_spa_eng(split: str, path) -> tf.data.Dataset:
    """English -> Spanish sentence pairs; 80/10/10 split by a seeded permutation."""
    sources, targets = zip(*spa_eng_pairs(path, split), strict=True)
    return tf.data.Dataset.from_tensor_slices((list(sources), list(targets)))
