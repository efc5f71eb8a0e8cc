"""One image file -> a float32 image in [-1, 1]: `load_and_preprocess_image`.

In a module of its own (the pipelines are in images.py), so the grader can give the
reference to a student's `make_image_dataset` without shipping the reference pipeline.
"""

import tensorflow as tf


def size_pair(image_size) -> tuple[int, int]:
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or any(not isinstance(s, int) or s <= 0 for s in size):
        raise ValueError(
            f"image_size must be a positive int or (height, width). Received: {image_size}"
        )
    return size


def load_and_preprocess_image(path, image_size) -> tf.Tensor:
    """Reads a JPEG or PNG file and returns a float32 `(H, W, 3)` image in [-1, 1].

    The image is decoded to 3 channels, converted to float in [0, 1], resized
    (bilinear) to `image_size` (an int for a square, or `(height, width)`), then
    rescaled to [-1, 1]. Works eagerly and inside `Dataset.map`.
    """
    data = tf.io.read_file(path)
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image = tf.image.convert_image_dtype(image, tf.float32)  # [0, 1]
    image = tf.image.resize(image, size_pair(image_size))
    return image * 2.0 - 1.0
