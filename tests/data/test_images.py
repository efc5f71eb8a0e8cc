"""Image pipelines: decoding and scaling, corrupt files, determinism, 1,000 written files."""

import numpy as np
import pytest
import tensorflow as tf

from course_lib.data import (
    find_unreadable_images,
    image_dataset_from_arrays,
    image_dataset_from_files,
    load_and_preprocess_image,
    make_image_dataset,
)


def _write(path, image_uint8):
    if str(path).endswith(".png"):
        data = tf.io.encode_png(image_uint8)
    else:
        data = tf.io.encode_jpeg(image_uint8, quality=100)
    tf.io.write_file(str(path), data)


def _files(tmp_path, rng, n, size=8, fmt="png"):
    paths, labels, arrays = [], [], []
    for i in range(n):
        image = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        path = tmp_path / f"img_{i:04d}.{fmt}"
        _write(path, image)
        paths.append(str(path))
        labels.append(int(rng.integers(0, 10)))
        arrays.append(image)
    return paths, labels, np.stack(arrays)


def test_png_scaled_to_minus_one_one_against_numpy(tmp_path, rng):
    """Is a PNG at its own size decoded to image/127.5 - 1 (float64 reference, atol 1e-6)?"""
    paths, _, arrays = _files(tmp_path, rng, 1, size=6)
    image = load_and_preprocess_image(paths[0], 6).numpy()
    assert image.dtype == np.float32 and image.shape == (6, 6, 3)
    np.testing.assert_allclose(image, arrays[0].astype(np.float64) / 127.5 - 1.0, atol=1e-6)


def test_grayscale_jpeg_becomes_three_channels_and_is_resized(tmp_path, rng):
    """Is a 1-channel JPEG decoded to 3 equal channels, resized to (H, W), within [-1, 1]?"""
    gray = rng.integers(0, 256, size=(20, 12, 1), dtype=np.uint8)
    _write(tmp_path / "g.jpg", gray)
    image = load_and_preprocess_image(str(tmp_path / "g.jpg"), (10, 6)).numpy()
    assert image.shape == (10, 6, 3)
    assert image.min() >= -1.0 and image.max() <= 1.0
    np.testing.assert_array_equal(image[..., 0], image[..., 2])


def test_corrupt_files_are_named_or_skipped(tmp_path, rng):
    """Does on_error="raise" name the bad file, and "skip" drop it and count it?"""
    paths, labels, _ = _files(tmp_path, rng, 5)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    truncated = tmp_path / "truncated.jpg"
    _write(truncated, rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8))
    truncated.write_bytes(truncated.read_bytes()[:40])
    bad = [str(tmp_path / "broken.png"), str(truncated), str(tmp_path / "missing.png")]
    all_paths, all_labels = paths + bad, labels + [0, 1, 2]
    assert find_unreadable_images(all_paths) == bad
    with pytest.raises(ValueError, match="3 of 8 image files.*broken.png"):
        image_dataset_from_files(all_paths, all_labels, 8, batch_size=4)
    with pytest.warns(UserWarning, match="Skipped 3 of 8"):
        ds = image_dataset_from_files(all_paths, all_labels, 8, 4, on_error="skip")
    assert sum(int(x.shape[0]) for x, _ in ds) == 5


def test_same_seed_same_batches_with_augmentation(tmp_path, rng):
    """Do two pipelines with one seed give identical shuffled, augmented epochs?"""
    paths, labels, _ = _files(tmp_path, rng, 12)

    def epochs(seed, cache):
        ds = image_dataset_from_files(
            paths, labels, 8, 5, shuffle=True, seed=seed, cache=cache, augment="flip_crop"
        )
        return [np.concatenate([x.numpy() for x, _ in ds]) for _ in range(2)]

    a, b, c = epochs(3, False), epochs(3, False), epochs(4, True)
    for ea, eb in zip(a, b, strict=True):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(a[0], a[1])  # A new order/augmentation each epoch.
    assert not np.array_equal(a[0], c[0])


def test_arrays_pipeline_scales_and_shapes(rng):
    """Are uint8 arrays mapped to [-1, 1] (float64 reference) with int32 labels and batch shapes?"""
    images = rng.integers(0, 256, size=(10, 5, 5), dtype=np.uint8)
    labels = rng.integers(0, 3, size=10)
    batches = list(image_dataset_from_arrays(images, labels, batch_size=4))
    assert [tuple(x.shape) for x, _ in batches] == [(4, 5, 5, 1)] * 2 + [(2, 5, 5, 1)]
    x = np.concatenate([b[0].numpy() for b in batches])
    y = np.concatenate([b[1].numpy() for b in batches])
    assert batches[0][1].dtype == tf.int32
    np.testing.assert_allclose(x[..., 0], images / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_array_equal(y, labels)
    flipped = image_dataset_from_arrays(images, labels, 10, image_size=3, augment="flip", seed=0)
    assert next(iter(flipped))[0].shape == (10, 3, 3, 1)


def test_bad_arguments_are_rejected(tmp_path):
    """Do mismatched labels, empty input and an unknown augmentation raise ValueErrors?"""
    with pytest.raises(ValueError, match="labels"):
        image_dataset_from_files(["a.png"], [0, 1], 8, 2)
    with pytest.raises(ValueError, match="empty"):
        image_dataset_from_arrays(np.zeros((0, 4, 4)), [], 2)
    with pytest.raises(ValueError, match="augment must be one of"):
        image_dataset_from_arrays(np.ones((2, 4, 4)), [0, 1], 2, augment="rotate")


def test_pipeline_over_one_thousand_written_files(tmp_path, rng):
    """Does make_image_dataset read 1,000 JPEG/PNG files into full batches, all labels in order?"""
    half = 500
    png, png_labels, _ = _files(tmp_path, rng, half, size=16, fmt="png")
    jpg_dir = tmp_path / "jpg"
    jpg_dir.mkdir()
    jpg, jpg_labels, _ = _files(jpg_dir, rng, half, size=16, fmt="jpg")
    paths, labels = png + jpg, png_labels + jpg_labels
    ds = make_image_dataset(paths, labels, image_size=12, batch_size=100)
    seen = []
    for images, batch_labels in ds:
        assert images.shape == (100, 12, 12, 3) and images.dtype == tf.float32
        assert float(tf.reduce_min(images)) >= -1.0 and float(tf.reduce_max(images)) <= 1.0
        seen += batch_labels.numpy().tolist()
    assert seen == labels
    shuffled = make_image_dataset(paths, labels, 12, 100, shuffle=True, seed=7)
    got = np.concatenate([y.numpy() for _, y in shuffled])
    assert sorted(got.tolist()) == sorted(labels) and got.tolist() != labels
