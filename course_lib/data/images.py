"""Image pipelines: files or arrays -> batches of float32 images in [-1, 1].

Every image is decoded to 3 channels (files) or kept as given (arrays),
converted to float, resized, and rescaled to [-1, 1]; maps run in parallel and
batches are prefetched. Shuffling and augmentation draw from `seed`, so two
pipelines built with the same seed yield identical batches, epoch after epoch.

Unreadable files are found before training starts (one parallel decoding pass)
so the error can name them: `on_error="raise"` raises a ValueError listing them,
`on_error="skip"` drops them and warns with their count.

Example:
    >>> ds = image_dataset_from_files(paths, labels, image_size=32, batch_size=64,
    ...                               shuffle=True, seed=0, cache=True, augment="flip")
"""

import warnings

import numpy as np
import tensorflow as tf

from .image_file import load_and_preprocess_image, size_pair

AUTOTUNE = tf.data.AUTOTUNE
AUGMENTATIONS = (None, "flip", "crop", "flip_crop")


def find_unreadable_images(paths) -> list[str]:
    """Returns the paths (in input order) that cannot be read or decoded as JPEG/PNG/GIF/BMP."""
    paths = [str(p) for p in paths]
    if not paths:
        return []

    def probe(index, path):
        data = tf.io.read_file(path)
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
        return index, tf.shape(image)[0]

    ds = tf.data.Dataset.from_tensor_slices((np.arange(len(paths)), paths))
    ds = ds.map(probe, num_parallel_calls=AUTOTUNE).ignore_errors()
    readable = {int(i) for i, _ in ds.as_numpy_iterator()}
    return [p for i, p in enumerate(paths) if i not in readable]


def _augment(image, seed_pair, augment):
    """Random horizontal flip and/or a random crop after 1/8 reflection padding."""
    if augment in ("flip", "flip_crop"):
        image = tf.image.stateless_random_flip_left_right(image, seed=seed_pair)
    if augment in ("crop", "flip_crop"):
        shape = tf.shape(image)
        pad_h, pad_w = shape[0] // 8, shape[1] // 8
        padded = tf.pad(image, [[pad_h, pad_h], [pad_w, pad_w], [0, 0]], mode="REFLECT")
        image = tf.image.stateless_random_crop(padded, size=shape, seed=seed_pair + 1)
    return image


def _finish(ds, n, batch_size, shuffle, seed, augment, shuffled_already=False):
    """Shuffles (unless done upstream), augments, batches and prefetches `(image, label)` pairs."""
    if shuffle and not shuffled_already:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    if augment is not None:
        # One fresh int64 per element from a seeded stream, new values every epoch.
        randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds, randoms).map(
            lambda pair, r: (
                _augment(pair[0], tf.stack([r, tf.constant(0, tf.int64)]), augment),
                pair[1],
            ),
            num_parallel_calls=AUTOTUNE,
        )
    return ds.batch(batch_size).prefetch(AUTOTUNE)


def _check_common(n_labels, n_items, batch_size, augment, what):
    if n_labels != n_items:
        raise ValueError(f"Got {n_items} {what} but {n_labels} labels; they must match.")
    if n_items == 0:
        raise ValueError(f"No {what} given: the dataset would be empty.")
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int. Received: batch_size={batch_size}")
    if augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {AUGMENTATIONS}. Received: augment={augment!r}")


def image_dataset_from_files(
    paths,
    labels,
    image_size,
    batch_size,
    shuffle=False,
    seed=None,
    cache=False,
    augment=None,
    on_error="raise",
    validate=True,
) -> tf.data.Dataset:
    """A dataset of `(images (B, H, W, 3) float32 in [-1, 1], labels (B,) int32)` from files.

    Args:
        paths: image file paths (JPEG or PNG; GIF/BMP decode too).
        labels: one integer label per path.
        image_size: int (square) or `(height, width)`.
        batch_size: images per batch; the last batch may be smaller.
        shuffle: reshuffle the order every epoch (deterministic given `seed`).
        seed: seed for shuffling and augmentation.
        cache: keep decoded images in memory after the first epoch (only for
            data that fits in memory); later epochs skip reading and decoding.
        augment: None, "flip", "crop" or "flip_crop"; applied after the cache.
        on_error: "raise" to raise a ValueError naming unreadable files, or
            "skip" to drop them with a warning that gives their count.
        validate: decode every file once up front to find unreadable ones; with
            False a bad file fails mid-epoch with TensorFlow's own error.
    """
    paths = [str(p) for p in paths]
    labels = np.asarray(labels, dtype=np.int32).reshape(-1)
    _check_common(len(labels), len(paths), batch_size, augment, "image paths")
    size = size_pair(image_size)
    if on_error not in ("raise", "skip"):
        raise ValueError(f'on_error must be "raise" or "skip". Received: on_error={on_error!r}')
    if validate:
        bad = find_unreadable_images(paths)
        if bad and on_error == "raise":
            shown = ", ".join(bad[:5]) + (", ..." if len(bad) > 5 else "")
            raise ValueError(
                f"{len(bad)} of {len(paths)} image files cannot be read or decoded: {shown}. "
                'Fix or remove them, or pass on_error="skip" to drop them.'
            )
        if bad:
            warnings.warn(
                f"Skipped {len(bad)} of {len(paths)} unreadable image files (first: {bad[0]}).",
                stacklevel=2,
            )
            bad_set = set(bad)
            keep = np.array([p not in bad_set for p in paths])
            paths, labels = [p for p, k in zip(paths, keep, strict=True) if k], labels[keep]
            if not paths:
                raise ValueError("Every image file was unreadable: the dataset would be empty.")

    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    shuffled_early = shuffle and not cache
    if shuffled_early:  # Shuffle cheap paths, not decoded images.
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda p, y: (load_and_preprocess_image(p, size), y), num_parallel_calls=AUTOTUNE)
    if cache:
        ds = ds.cache()
    return _finish(ds, len(paths), batch_size, shuffle, seed, augment, shuffled_early)


def make_image_dataset(paths, labels, image_size, batch_size, shuffle=False, seed=None):
    """The a6 contract: `(images, labels)` batches with parallel map and prefetch."""
    return image_dataset_from_files(paths, labels, image_size, batch_size, shuffle, seed)


def image_dataset_from_arrays(
    images,
    labels,
    batch_size,
    image_size=None,
    value_range=None,
    shuffle=False,
    seed=None,
    augment=None,
) -> tf.data.Dataset:
    """A dataset of `(images (B, H, W, C) float32 in [-1, 1], labels (B,) int32)` from arrays.

    Args:
        images: `(N, H, W)` or `(N, H, W, C)` array; a missing channel axis is added.
        labels: `(N,)` integer labels.
        batch_size: images per batch.
        image_size: resize to this int or `(height, width)`; None keeps the size.
        value_range: `(low, high)` of the input values, mapped to [-1, 1];
            default `(0, 255)` for integer arrays and `(0, 1)` for float arrays.
        shuffle, seed, augment: as in `image_dataset_from_files`.
    """
    images = np.asarray(images)
    labels = np.asarray(labels, dtype=np.int32).reshape(-1)
    _check_common(len(labels), len(images), batch_size, augment, "images")
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4:
        raise ValueError(
            f"images must be (N, H, W) or (N, H, W, C). Received: shape={images.shape}"
        )
    if value_range is None:
        value_range = (0.0, 255.0) if np.issubdtype(images.dtype, np.integer) else (0.0, 1.0)
    low, high = (float(v) for v in value_range)
    if not high > low:
        raise ValueError(
            f"value_range must be (low, high) with high > low. Received: {value_range}"
        )
    size = None if image_size is None else size_pair(image_size)

    def preprocess(image, label):
        image = (tf.cast(image, tf.float32) - low) * (2.0 / (high - low)) - 1.0
        if size is not None:
            image = tf.image.resize(image, size)
        return image, label

    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    ds = ds.map(preprocess, num_parallel_calls=AUTOTUNE)
    return _finish(ds, len(images), batch_size, shuffle, seed, augment)
