"""Hint variants for a6_scaling: what a known bug returns, computed in the trusted parent.

Each function returns arrays the suite's checks compare a submission's result with, so the
feedback can name the likely mistake ("the image is resized before it is converted to float").
"""

import keras
import numpy as np
import tensorflow as tf

from autograder.assignments.a6_scaling.support import measure as support
from course_lib.data.image_file import load_and_preprocess_image

# The optimizer the notebook fixes for train_with_strategy.
LEARNING_RATE, MOMENTUM = 0.05, 0.9


def _np(x):
    return np.asarray(x)


def image_hints(path, size):
    """`(reference, {label: array})` for the file `path`: what a known bug returns instead."""
    data = tf.io.read_file(path)
    rgb = tf.io.decode_image(data, channels=3, expand_animations=False)
    native = tf.io.decode_image(data, expand_animations=False)
    ref = _np(load_and_preprocess_image(path, size))
    unscaled = _np(tf.image.resize(rgb, (size, size)))  # resize of uint8: floats in 0..255
    as_is = tf.image.resize(tf.image.convert_image_dtype(native, tf.float32), (size, size))
    nearest = tf.image.resize(
        tf.image.convert_image_dtype(rgb, tf.float32), (size, size), method="nearest"
    )
    hints = {
        "the image is left in [0, 1]: it is not rescaled to [-1, 1] (x * 2 - 1)": (ref + 1) / 2,
        "the image is rescaled to [-1, 1] twice": ref * 2 - 1,
        "the image is resized before it is converted to float: tf.image.resize returns "
        "floats in 0..255, which convert_image_dtype leaves unscaled": unscaled * 2 - 1,
        "the channels are not forced to 3 (decode with channels=3: grey images become RGB, "
        "the alpha channel is dropped)": _np(as_is) * 2 - 1,
        "the image is resized with nearest-neighbour instead of bilinear interpolation": (
            _np(nearest) * 2 - 1
        ),
    }
    if native.shape[-1] == 3:
        del hints[next(k for k in hints if k.startswith("the channels"))]
    return ref, hints


def smooth_image(rng, h, w):
    """A smooth RGB image (JPEG keeps it close to the original) with some noise."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    waves = [np.sin(3 * xx + 2 * yy + p) for p in phase]
    image = 127.5 + 100 * np.stack(waves, -1) + rng.normal(0, 8, size=(h, w, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def flip_rule(rng, examples, batch):
    """`(a, b, m, accuracy, hints)`: a label-flip rule whose bug variants all differ by > 2e-5.

    Averaging per-batch accuracies, or leaving out the last batch, gives exactly the right
    answer when every batch has the same share of flipped labels (m = 8 with batches of 128
    and 16): such draws are skipped, so each of these bugs is always seen and named.
    """
    for _ in range(1000):
        flip_m = int(rng.integers(5, 12))
        flip_a = int(rng.integers(1, flip_m))
        while np.gcd(flip_a, flip_m) != 1:
            flip_a = int(rng.integers(1, flip_m))
        flip_b = int(rng.integers(0, flip_m))
        true, labels = support.big_classes(examples, flip_a, flip_b, flip_m)
        correct = true == labels
        accuracy = float(np.mean(correct))
        batches = np.array_split(correct, np.arange(batch, examples, batch))
        hints = {
            "the accuracies of the batches are averaged without weighting them by their size "
            "(the last batch is smaller)": np.mean([b.mean() for b in batches]),
            "the last (partial) batch is left out": np.mean(np.concatenate(batches[:-1])),
            "the accuracy is a percentage (expected a fraction in [0, 1])": 100 * accuracy,
            "the error rate is returned instead of the accuracy": 1 - accuracy,
        }
        if all(abs(v - accuracy) > 2e-5 for v in hints.values()):
            return flip_a, flip_b, flip_m, accuracy, hints
    raise RuntimeError("no label-flip rule separates the accuracy from its bug variants")


def train_reference(
    weights, x, y, epochs, learning_rate=LEARNING_RATE, momentum=MOMENTUM, from_logits=True, batch=8
):
    """Weights after `epochs` epochs of SGD on one device, from `weights` (the parent's reference)."""
    model = support.build_mlp(weights)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
    )
    model.fit(support.toy_dataset(x, y, batch), epochs=epochs, verbose=0, shuffle=False)
    return [np.asarray(w) for w in model.get_weights()]


def flat(weights):
    """Every weight array, flattened into one float64 vector."""
    return np.concatenate([np.asarray(w, np.float64).ravel() for w in weights])


def strategy_hints(weights, x, y, epochs):
    """`{label: flat weights}` after the known train_with_strategy bugs (one device, SGD)."""
    return {
        f"the epochs argument is ignored (the weights are those after 1 epoch, not {epochs})": flat(
            train_reference(weights, x, y, 1)
        ),
        "each replica got the whole global batch: the dataset is not distributed "
        "(strategy.experimental_distribute_dataset), so the gradient is counted twice": flat(
            train_reference(weights, x, y, epochs, learning_rate=2 * LEARNING_RATE)
        ),
        # Named when it matches; a clipped log of logits is not always reproducible across
        # devices, so this bug may also show up as a plain difference.
        "the loss is not computed from logits (from_logits=True is missing)": flat(
            train_reference(weights, x, y, epochs, from_logits=False)
        ),
        "the optimizer has no momentum (expected SGD(learning_rate=0.05, momentum=0.9))": flat(
            train_reference(weights, x, y, epochs, momentum=0.0)
        ),
        "the model was not trained at all": flat(weights),
    }
