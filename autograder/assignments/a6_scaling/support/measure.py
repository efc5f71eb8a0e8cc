"""Grader-side helpers for a6_scaling, shipped into the jail as `grader_support.measure`.

Trusted code that runs next to the submission (it imports no course_lib module, so the
groups that ship it need no reference). The parent imports the same module to write the
same files and build the same datasets, so both sides see identical inputs:

- `write_images`: PNG and JPEG files from uint8 arrays (written by TensorFlow's encoders,
  decoded by the same TensorFlow on both sides).
- `dataset_arrays`: iterates a submission's dataset and returns plain arrays.
- `big_dataset`, `FixedModel`, `memory_start`, `memory_peak`: the memory-bounded
  evaluation: a lazily generated dataset several times the memory budget, a model whose
  accuracy on it the parent knows exactly, and the peak RSS growth during the call.
- `make_strategy`, `ModelBuilder`, `toy_dataset`, `model_report`: `train_with_strategy`
  under a `MirroredStrategy` over two logical CPUs, from deterministic initial weights.
"""

import os
import threading
import time

import keras
import numpy as np
import tensorflow as tf

IMAGE_DIR = "/tmp/grader_images"
BIG_SIDE = 64  # the memory test's images are (64, 64, 3) float32: 48 KiB each
BIG_CLASSES = 3

# Files ---------------------------------------------------------------------------------


def write_images(directory=IMAGE_DIR, **images):
    """Writes `name=array` as `<directory>/<name>`: `.png` (1, 3 or 4 channels) or `.jpg` (3).

    Arrays are uint8 `(H, W, C)`; returns nothing (the calls that follow pass the paths).
    """
    os.makedirs(directory, exist_ok=True)
    for name, array in sorted(images.items()):
        array = tf.convert_to_tensor(np.asarray(array, dtype=np.uint8))
        if name.endswith("_jpg"):
            data, filename = tf.io.encode_jpeg(array, quality=90), name[:-4] + ".jpg"
        else:
            data, filename = tf.io.encode_png(array), name.removesuffix("_png") + ".png"
        with open(os.path.join(directory, filename), "wb") as f:
            f.write(data.numpy())


# Datasets --------------------------------------------------------------------------------


def _walk_datasets(ds):
    """Every dataset object in the input chain of `ds` (its own Python objects)."""
    seen, todo = [], [ds]
    while todo:
        node = todo.pop()
        if node is None or any(node is s for s in seen) or len(seen) > 100:
            continue
        seen.append(node)
        todo += [getattr(node, "_input_dataset", None)]
        todo += list(getattr(node, "_input_datasets", None) or [])
    return seen


def dataset_arrays(ds, passes=1):
    """A submission's dataset as arrays: every batch of `passes` iterations, and its spec.

    Returns `{is_dataset, images (N, ...), labels (N,), batch_sizes, image_spec, label_rank,
    image_float32, label_integer, parallel_map, prefetch}`; spec dimensions that are None
    become -1.
    """
    is_dataset = isinstance(ds, tf.data.Dataset)
    if not is_dataset:
        raise TypeError(f"expected a tf.data.Dataset, got {type(ds).__name__}")
    spec = ds.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise TypeError(f"expected (images, labels) elements, got element_spec {spec}")
    image_spec, label_spec = spec
    images, labels, sizes = [], [], []
    for _ in range(passes):
        for x, y in ds:
            images.append(np.asarray(x))
            labels.append(np.asarray(y))
            sizes.append(len(images[-1]))
    names = [type(node).__name__ for node in _walk_datasets(ds)]
    return {
        "images": np.concatenate(images),
        "labels": np.concatenate(labels).astype(np.int64),
        "batch_sizes": np.array(sizes),
        "image_spec": np.array([-1 if d is None else d for d in image_spec.shape.as_list()]),
        "label_rank": np.array(label_spec.shape.rank),
        "image_float32": np.array(image_spec.dtype == tf.float32),
        "label_integer": np.array(label_spec.dtype.is_integer),
        "parallel_map": np.array(any("ParallelMap" in n for n in names)),
        "prefetch": np.array(any("Prefetch" in n for n in names)),
    }


def big_classes(n, flip_a, flip_b, flip_m):
    """`(true class, label)` of examples 0..n-1 of `big_dataset` (the parent's copy, numpy).

    The true class is `(7 i + 1) mod 3`; the label is flipped to the next class when
    `(flip_a * i + flip_b) mod flip_m == 0`, so the exact accuracy of a perfect
    classifier is the fraction of unflipped examples.
    """
    i = np.arange(n, dtype=np.int64)
    true = (7 * i + 1) % BIG_CLASSES
    flipped = (flip_a * i + flip_b) % flip_m == 0
    return true, np.where(flipped, (true + 1) % BIG_CLASSES, true)


def big_dataset(n, batch_size, flip_a, flip_b, flip_m, seed):
    """A lazily generated dataset of `n` `(64, 64, 3)` float32 images, `batch_size` per batch.

    Nothing is stored: batch k is drawn from a stateless generator keyed by k. Example i
    has uniform noise in [0, 1) on every channel plus 2 on channel `true class`, so
    `FixedModel` (channel means) classifies it perfectly; labels follow `big_classes`.
    """
    n, batch_size, seed = (tf.constant(int(v), tf.int64) for v in (n, batch_size, seed))
    flip_a, flip_b, flip_m = (tf.constant(int(v), tf.int64) for v in (flip_a, flip_b, flip_m))
    batches = -(-n // batch_size)

    def make(k):
        start = k * batch_size
        size = tf.minimum(batch_size, n - start)
        i = start + tf.range(size, dtype=tf.int64)
        true = (7 * i + 1) % BIG_CLASSES
        flipped = tf.equal((flip_a * i + flip_b) % flip_m, 0)
        label = tf.where(flipped, (true + 1) % BIG_CLASSES, true)
        tile = BIG_SIDE // 4  # 16x16 noise tiled 4x4: a 16th of the random numbers to draw
        noise = tf.random.stateless_uniform(
            (size, tile, tile, BIG_CLASSES), seed=tf.stack([k, seed])
        )
        noise = tf.tile(noise, (1, 4, 4, 1))
        bump = 2.0 * tf.one_hot(true, BIG_CLASSES)[:, None, None, :]
        return noise + bump, tf.cast(label, tf.int32)

    ds = tf.data.Dataset.range(batches).map(make)
    for _ in ds.take(1):  # start the runtime pieces the dataset needs before any measurement
        pass
    return ds


def FixedModel():
    """Logits = the channel means of the image: class c wins when channel c carries the bump."""
    inputs = keras.Input((BIG_SIDE, BIG_SIDE, BIG_CLASSES))
    logits = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, logits)
    model.predict_on_batch(np.zeros((1, BIG_SIDE, BIG_SIDE, BIG_CLASSES), np.float32))
    model(np.zeros((2, BIG_SIDE, BIG_SIDE, BIG_CLASSES), np.float32))  # warm the eager path
    return model


# Peak memory -----------------------------------------------------------------------------

_STATE = {}


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _sample(stop):
    while not stop.wait(0.002):
        _STATE["max"] = max(_STATE["max"], _rss_bytes())


def memory_start():
    """Starts measuring: resets the RSS high-water mark (or starts a sampling thread)."""
    memory_stop_sampler()
    _STATE["start"] = _rss_bytes()
    _STATE["max"] = _STATE["start"]
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        _STATE["mode"] = "hwm"
    except OSError:
        _STATE["mode"] = "sampled"
        stop = threading.Event()
        thread = threading.Thread(target=_sample, args=(stop,), daemon=True)
        _STATE["sampler"] = (stop, thread)
        thread.start()
    _STATE["t0"] = time.perf_counter()


def memory_stop_sampler():
    stop, thread = _STATE.pop("sampler", (None, None))
    if stop is not None:
        stop.set()
        thread.join()


def memory_peak():
    """`[peak RSS increase in bytes since memory_start, seconds, 1 if VmHWM else 0]`."""
    seconds = time.perf_counter() - _STATE["t0"]
    memory_stop_sampler()
    if _STATE["mode"] == "hwm":
        peak = _status_kib("VmHWM") * 1024
    else:
        peak = max(_STATE["max"], _rss_bytes())
    return np.array([peak - _STATE["start"], seconds, _STATE["mode"] == "hwm"], np.float64)


# Strategy ------------------------------------------------------------------------------------


def make_strategy():
    """A MirroredStrategy over the job's logical CPU devices (Group.logical_cpus=2)."""
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


class ModelBuilder:
    """`build_model()`: a small uncompiled MLP (logits) with the grader's initial weights."""

    def __init__(self, *weights):
        self.weights = [np.asarray(w, np.float32) for w in weights]
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return build_mlp(self.weights)


def build_mlp(weights):
    """Dense(hidden, tanh) -> Dense(classes) on `(B, features)`, with `weights` set."""
    features, hidden = weights[0].shape
    classes = weights[2].shape[1]
    model = keras.Sequential(
        [
            keras.Input((features,)),
            keras.layers.Dense(hidden, activation="tanh"),
            keras.layers.Dense(classes),
        ]
    )
    model.set_weights(weights)
    return model


def toy_dataset(x, y, batch_size):
    """`(x, y)` batches in a fixed order."""
    x, y = np.asarray(x, np.float32), np.asarray(y, np.int32)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(int(batch_size))


def model_report(model):
    """`{weights.i, replicas, distributed, iterations}` of a model `train_with_strategy` returned."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"train_with_strategy must return the keras Model, got {type(model)}")
    variables = model.trainable_variables
    mirrored = [
        isinstance(getattr(v, "value", v), tf.distribute.DistributedValues) for v in variables
    ]
    strategy = getattr(model, "distribute_strategy", None)
    optimizer = getattr(model, "optimizer", None)
    iterations = -1 if optimizer is None else int(np.asarray(optimizer.iterations))
    return {
        "weights": [np.asarray(w) for w in model.get_weights()],
        "replicas": np.array(-1 if strategy is None else strategy.num_replicas_in_sync),
        "distributed": np.array(float(np.mean(mirrored)) if mirrored else 0.0),
        "iterations": np.array(iterations),
    }
