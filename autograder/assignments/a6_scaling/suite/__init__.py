"""Grading suite for a6_scaling: image files, tf.data pipelines, bounded memory, MirroredStrategy.

Four sandbox jobs per submission:

- "images": `load_and_preprocess_image` on PNG (grey, RGB, RGBA) and JPEG files that a
  support function writes into the jail's private /tmp (the parent writes the same files
  with the same TensorFlow encoders to compute the reference); the concept answers.
- "dataset": `make_image_dataset` with the reference `load_and_preprocess_image` injected;
  a support function iterates the student's dataset and returns plain arrays.
- "memory": `evaluate_in_batches` on a lazily generated dataset about 3.2 times the memory
  budget, its exact accuracy known to the parent; graded on the accuracy and on the peak
  RSS growth during the call. A materialising submission is measured, not stopped: it
  needs about 1-2 GiB, far below the jail's limits, and loses the memory check.
- "strategy": `train_with_strategy` under a `MirroredStrategy` over two logical CPUs
  (`Group.logical_cpus=2`), from the grader's initial weights; the trained weights are
  compared with SGD on one device in the parent.
"""

import tempfile
from pathlib import Path

import numpy as np

from autograder.compare import compare, failed, passed
from autograder.suites import variants_a6
from autograder.suites.base import (
    FORBIDDEN,
    Check,
    Group,
    Missing,
    Plan,
    answer_check,
    clean_traceback,
    close,
    construct,
    function,
    obj,
    value,
)
from autograder.suites.support import a6_support as support
from autograder.suites.weights import to_np
from course_lib.data.images import load_and_preprocess_image

ASSIGNMENT = "a6_scaling"
UNITS = (
    "load_and_preprocess_image",
    "make_image_dataset",
    "evaluate_in_batches",
    "train_with_strategy",
)
GIVEN_PACKAGES = ("course_lib",)
FORBID = FORBIDDEN + (
    "course_lib.data.images",
    "course_lib.data.load_and_preprocess_image",
    "course_lib.data.make_image_dataset",
    "course_lib.data.image_dataset_from_files",
)
SUPPORT = ("a6_support.py",)
S = "site:grader_support.a6_support:"
IMAGE_DIR = support.IMAGE_DIR

MEMORY_BUDGET = 128 << 20  # bytes of RSS growth allowed during evaluate_in_batches
BIG_EXAMPLES, BIG_BATCH = 8720, 128  # 8720 * 48 KiB = 409 MiB, 3.2x; the last batch has 16
MATERIALISED = (
    "the whole dataset is materialised (list(dataset), np.concatenate, .cache(), or "
    "model.predict on all the images at once)"
)


def _numpy(name):
    return {"array": name, "as": "numpy"}


def _support_construct(call_id, name, *args):
    """A construct call of a support factory: `objects[call_id] = name(*args)`, no build."""
    spec = construct(call_id, S + name, {}, [], {})
    spec.update(args=list(args), build=None)
    return spec


def _student_construct(call_id, name, *args, **kwargs):
    """Keeps what the student's function returns (a dataset, a model) as object `call_id`."""
    spec = construct(call_id, name, kwargs, [], {})
    spec.update(args=list(args), build=None)
    return spec


# Group "images": load_and_preprocess_image ---------------------------------------------------


def _image_files(rng):
    """`{input name: uint8 array}` for the files of the images group (never constant)."""
    return {
        "rgb_png": rng.integers(0, 256, size=(10, 14, 3), dtype=np.uint8),
        "grey_png": rng.integers(0, 256, size=(9, 11, 1), dtype=np.uint8),
        "rgba_png": rng.integers(0, 256, size=(13, 7, 4), dtype=np.uint8),
        "photo_jpg": variants_a6.smooth_image(rng, 16, 16),
    }


CASES = (  # (file input name, file name, image_size, label)
    ("rgb_png", "rgb.png", 8, "RGB PNG 10x14 (not square) resized to 8"),
    ("grey_png", "grey.png", 12, "greyscale PNG 9x11 to 12: 3 channels"),
    ("rgba_png", "rgba.png", 6, "RGBA PNG 13x7 to 6: 3 channels, alpha dropped"),
    ("photo_jpg", "photo.jpg", 10, "JPEG 16x16 resized to 10"),
)


def _images_group(rng, answers, expected):
    files = _image_files(rng)
    inputs = dict(files)
    calls = [
        function(
            "write_images",
            S + "write_images",
            IMAGE_DIR,
            **{name: _numpy(name) for name in files},
        )
    ]
    checks = []
    with tempfile.TemporaryDirectory() as tmp:
        support.write_images(tmp, **files)
        for i, (_name, filename, size, label) in enumerate(CASES):
            call_id = f"img{i}"
            calls.append(
                function(call_id, "load_and_preprocess_image", f"{IMAGE_DIR}/{filename}", size)
            )
            want, hints = variants_a6.image_hints(str(Path(tmp) / filename), size)
            expected[call_id] = (want, hints)
            checks.append(
                Check(
                    f"load_and_preprocess_image: {label}",
                    "load_and_preprocess_image",
                    close(call_id, want, f"the image from {filename}", hints, atol=1e-4, rtol=0),
                )
            )
    for unit, letters in sorted(answers.items()):
        calls.append(value(f"value_{unit}", unit))
        checks.append(answer_check(unit, letters))
    return Group("images", calls, inputs, support=SUPPORT), checks


# Group "dataset": make_image_dataset -----------------------------------------------------------


DS_SIZE, DS_BATCH, DS_COUNT = 4, 4, 11  # 11 images in batches of 4: sizes 4, 4, 3
DS_DIR = f"{IMAGE_DIR}/dataset"


def _dataset_group(rng, expected):
    images = {
        f"im{i:02d}_png": rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
        for i in range(DS_COUNT)
    }
    labels = rng.integers(0, 10, size=DS_COUNT).astype(np.int64)
    paths = [f"{DS_DIR}/im{i:02d}.png" for i in range(DS_COUNT)]
    seed = int(rng.integers(1, 10_000))
    with tempfile.TemporaryDirectory() as tmp:
        support.write_images(tmp, **images)
        reference = np.stack(
            [
                to_np(load_and_preprocess_image(f"{tmp}/im{i:02d}.png", DS_SIZE))
                for i in range(DS_COUNT)
            ]
        )
    inputs = {**images, "ds_labels": labels}
    args = (paths, _numpy("ds_labels"), DS_SIZE, DS_BATCH)
    calls = [
        function("ds_write", S + "write_images", DS_DIR, **{n: _numpy(n) for n in images}),
        _student_construct("ds_plain", "make_image_dataset", *args),
        function("ds_plain_arrays", S + "dataset_arrays", obj("ds_plain")),
        _student_construct("ds_shuf1", "make_image_dataset", *args, shuffle=True, seed=seed),
        function("ds_shuf1_arrays", S + "dataset_arrays", obj("ds_shuf1")),
        _student_construct("ds_shuf2", "make_image_dataset", *args, shuffle=True, seed=seed),
        function("ds_shuf2_arrays", S + "dataset_arrays", obj("ds_shuf2")),
    ]
    expected["ds_plain_arrays.images"] = (reference, {})
    expected["ds_plain_arrays.labels"] = (labels, {})
    unit = "make_image_dataset"
    checks = [
        Check(
            f"{unit}: a tf.data.Dataset of (images, labels) batches, element_spec",
            unit,
            _spec_check(),
        ),
        Check(f"{unit}: batches of batch_size, the last partial batch kept", unit, _batch_check()),
        Check(
            f"{unit}: shuffle=False keeps the order; images and labels match",
            unit,
            _order_check(reference, labels),
        ),
        Check(
            f"{unit}: shuffle=True with a seed gives a permutation, labels aligned, same order for the same seed",
            unit,
            _shuffle_check(reference, labels),
        ),
        Check(f"{unit}: parallel map and prefetch", unit, _pipeline_check(), 0.5),
    ]
    group = Group(
        "dataset",
        calls,
        inputs,
        support=SUPPORT,
        inject={"load_and_preprocess_image": "grader_support.a6_support:load_and_preprocess_image"},
    )
    return group, checks


def _get(outcome, *keys):
    """The arrays at `keys`; raises Missing with the error of the call that built the object."""
    for key in keys:
        built_by = BUILT_BY.get(key.partition(".")[0])
        text = outcome.error(built_by) if built_by else None
        if text:
            message = f"{UNIT_OF[built_by]} raised an error:\n{clean_traceback(text)}"
            if "strategy.scope()" in text:
                message += (
                    "\nThe model was built outside strategy.scope(): call build_model() and "
                    "compile inside `with strategy.scope():`."
                )
            raise Missing(message)
    return [outcome.get(k) for k in keys]


# The result of a support call -> the student's construct call it reads (for error messages).
BUILT_BY = {
    "ds_plain_arrays": "ds_plain",
    "ds_shuf1_arrays": "ds_shuf1",
    "ds_shuf2_arrays": "ds_shuf2",
    "report": "trained",
}
UNIT_OF = {
    "ds_plain": "make_image_dataset",
    "ds_shuf1": "make_image_dataset",
    "ds_shuf2": "make_image_dataset",
    "trained": "train_with_strategy",
}


def _spec_check():
    def evaluate(outcome):
        try:
            spec, is_float, rank, is_int = _get(
                outcome,
                "ds_plain_arrays.image_spec",
                "ds_plain_arrays.image_float32",
                "ds_plain_arrays.label_rank",
                "ds_plain_arrays.label_integer",
            )
        except Missing as err:
            return failed(str(err))
        want = (DS_SIZE, DS_SIZE, 3)
        problems = []
        if tuple(spec[-3:]) != want or len(spec) != 4:
            shown = tuple(None if d < 0 else int(d) for d in spec)
            problems.append(f"images have element_spec shape {shown}, expected (None, 4, 4, 3)")
        if not is_float:
            problems.append("images must be float32")
        if int(rank) != 1 or not is_int:
            problems.append("labels must be an integer tensor of shape (batch,)")
        return failed("; ".join(problems) + ".") if problems else passed()

    return evaluate


def _batch_check():
    def evaluate(outcome):
        try:
            (sizes,) = _get(outcome, "ds_plain_arrays.batch_sizes")
        except Missing as err:
            return failed(str(err))
        sizes = [int(s) for s in sizes]
        want = [4, 4, 3]
        if sizes == want:
            return passed()
        message = f"{DS_COUNT} images with batch_size={DS_BATCH} gave batch sizes {sizes}, expected {want}."
        if sizes == [4, 4]:
            message += " The last partial batch is dropped (drop_remainder=True): keep it."
        elif sizes and max(sizes) < DS_BATCH:
            message += " batch_size is not used."
        return failed(message)

    return evaluate


def _order_check(reference, labels):
    hints = {
        "the images are left in [0, 1]: map with load_and_preprocess_image": (reference + 1) / 2
    }

    def evaluate(outcome):
        try:
            images, got = _get(outcome, "ds_plain_arrays.images", "ds_plain_arrays.labels")
        except Missing as err:
            return failed(str(err))
        verdict = compare(images, reference, what="the images, in order", hints=hints, atol=1e-5)
        if not verdict.passed:
            if images.shape == reference.shape and _match(images, reference) is not None:
                return failed(
                    "The images are all there but not in the order of `paths`: with shuffle=False the order must be kept."
                )
            return verdict
        return compare(got, labels, what="the labels, in order", atol=0)

    return evaluate


def _match(images, reference):
    """`order` with images[j] == reference[order[j]], or None if they are not a permutation."""
    if images.shape != reference.shape:
        return None
    flat, ref = images.reshape(len(images), -1), reference.reshape(len(reference), -1)
    distance = np.abs(flat[:, None, :] - ref[None, :, :]).max(-1)
    order = distance.argmin(1)
    if distance[np.arange(len(order)), order].max() > 1e-5 or len(set(order)) != len(order):
        return None
    return order


def _shuffle_check(reference, labels):
    def evaluate(outcome):
        try:
            im1, lab1, im2, lab2 = _get(
                outcome,
                "ds_shuf1_arrays.images",
                "ds_shuf1_arrays.labels",
                "ds_shuf2_arrays.images",
                "ds_shuf2_arrays.labels",
            )
        except Missing as err:
            return failed(str(err))
        order = _match(im1, reference)
        if order is None:
            return failed(
                f"With shuffle=True the images are not a permutation of the {DS_COUNT} images "
                f"(got {len(im1)} images of shape {im1.shape[1:]}; expected each image exactly once)."
            )
        if not np.array_equal(lab1, labels[order]):
            wrong = int(np.sum(lab1 != labels[order]))
            return failed(
                f"With shuffle=True, {wrong} of {DS_COUNT} labels no longer belong to their image: "
                "the labels are shuffled separately from the images (shuffle (path, label) pairs)."
            )
        if np.array_equal(order, np.arange(DS_COUNT)):
            return failed("shuffle=True gave the original order: shuffle is ignored.")
        if _match(im2, reference) is None or not np.array_equal(_match(im2, reference), order):
            return failed(
                "Two datasets built with the same seed gave different orders: "
                "pass `seed` to Dataset.shuffle."
            )
        return passed()

    return evaluate


def _pipeline_check():
    def evaluate(outcome):
        try:
            parallel, prefetch = _get(
                outcome, "ds_plain_arrays.parallel_map", "ds_plain_arrays.prefetch"
            )
        except Missing as err:
            return failed(str(err))
        missing = []
        if not parallel:
            missing.append("a parallel map (Dataset.map(..., num_parallel_calls=tf.data.AUTOTUNE))")
        if not prefetch:
            missing.append("prefetch (.prefetch(tf.data.AUTOTUNE) at the end)")
        if missing:
            return failed("The pipeline lacks " + " and ".join(missing) + ".")
        return passed()

    return evaluate


# Group "memory": evaluate_in_batches under a memory budget -------------------------------------


def _memory_group(rng):
    flip_a, flip_b, flip_m, accuracy, hints = variants_a6.flip_rule(rng, BIG_EXAMPLES, BIG_BATCH)
    seed = int(rng.integers(0, 2**31))
    calls = [
        _support_construct("big_model", "FixedModel"),
        _support_construct(
            "big_data", "big_dataset", BIG_EXAMPLES, BIG_BATCH, flip_a, flip_b, flip_m, seed
        ),
        function("memory_start", S + "memory_start"),
        function("eval_acc", "evaluate_in_batches", obj("big_model"), obj("big_data")),
        function("memory_peak", S + "memory_peak"),
    ]
    unit = "evaluate_in_batches"
    checks = [
        Check(
            f"{unit}: exact accuracy on {BIG_EXAMPLES} examples (batches of {BIG_BATCH}, the last partial)",
            unit,
            close("eval_acc", np.array(accuracy), "the accuracy", hints, atol=1e-6, rtol=0),
        ),
        Check(
            f"{unit}: peak memory stays under the budget on a dataset larger than it",
            unit,
            _memory_check(),
        ),
    ]
    group = Group(
        "memory",
        calls,
        {},
        support=SUPPORT,
        limits={"wall_seconds": 120, "cpu_seconds": 240},
    )
    return group, checks, accuracy


def _memory_check():
    data_mib = BIG_EXAMPLES * support.BIG_SIDE**2 * 3 * 4 / 2**20
    budget_mib = MEMORY_BUDGET / 2**20

    def evaluate(outcome):
        try:
            outcome.get("eval_acc")
        except Missing as err:
            return failed(
                "evaluate_in_batches did not return an accuracy, so its memory use is not graded. "
                + str(err)
            )
        try:
            peak, seconds, _ = outcome.get("memory_peak")
        except Missing as err:
            return failed(str(err))
        peak_mib = peak / 2**20
        if peak <= MEMORY_BUDGET:
            return passed(f"peak growth {peak_mib:.0f} MiB <= {budget_mib:.0f} MiB")
        return failed(
            f"During evaluate_in_batches the process grew by {peak_mib:.0f} MiB at its peak, over "
            f"the budget of {budget_mib:.0f} MiB, on a dataset of {data_mib:.0f} MiB "
            f"({seconds:.1f} s): {MATERIALISED}. Iterate over the batches and keep only running "
            "counts (correct predictions, examples seen)."
        )

    return evaluate


# Group "strategy": train_with_strategy ----------------------------------------------------------

FEATURES, HIDDEN, CLASSES = 5, 8, 3
TOY_EXAMPLES, TOY_BATCH, EPOCHS = 24, 8, 3  # 3 steps per epoch, 9 in all


def _strategy_group(rng):
    weights = [
        rng.normal(0, 0.5, size=(FEATURES, HIDDEN)).astype("float32"),
        rng.normal(0, 0.3, size=HIDDEN).astype("float32"),
        rng.normal(0, 0.5, size=(HIDDEN, CLASSES)).astype("float32"),
        rng.normal(0, 0.3, size=CLASSES).astype("float32"),
    ]
    x = rng.normal(size=(TOY_EXAMPLES, FEATURES)).astype("float32")
    y = rng.integers(0, CLASSES, size=TOY_EXAMPLES).astype(np.int64)
    inputs = {f"tws_w{i}": w for i, w in enumerate(weights)} | {"tws_x": x, "tws_y": y}
    want = variants_a6.flat(variants_a6.train_reference(weights, x, y, EPOCHS))
    hints = variants_a6.strategy_hints(weights, x, y, EPOCHS)
    calls = [
        _support_construct("strategy", "make_strategy"),
        _support_construct("builder", "ModelBuilder", *(_numpy(f"tws_w{i}") for i in range(4))),
        _support_construct("toy_data", "toy_dataset", _numpy("tws_x"), _numpy("tws_y"), TOY_BATCH),
        _student_construct(
            "trained",
            "train_with_strategy",
            obj("builder"),
            obj("toy_data"),
            obj("strategy"),
            EPOCHS,
        ),
        function("report", S + "model_report", obj("trained")),
    ]
    unit = "train_with_strategy"
    checks = [
        Check(
            f"{unit}: the model is built and compiled inside strategy.scope() (mirrored over 2 replicas)",
            unit,
            _scope_check(),
            2.0,
        ),
        Check(
            f"{unit}: the trained weights equal {EPOCHS} epochs of SGD on one device",
            unit,
            _weights_check(want, hints),
            3.0,
        ),
        Check(
            f"{unit}: trains for `epochs` epochs ({EPOCHS} x 3 optimizer steps)",
            unit,
            _iterations_check(),
        ),
    ]
    group = Group(
        "strategy",
        calls,
        inputs,
        support=SUPPORT,
        logical_cpus=2,
        limits={"wall_seconds": 90, "cpu_seconds": 180},
    )
    return group, checks


def _scope_check():
    def evaluate(outcome):
        try:
            replicas, distributed = _get(outcome, "report.replicas", "report.distributed")
        except Missing as err:
            return failed(str(err))
        if int(replicas) == 2 and float(distributed) == 1.0:
            return passed()
        return failed(
            f"The returned model has model.distribute_strategy.num_replicas_in_sync = {int(replicas)} "
            f"and {100 * float(distributed):.0f}% of its trainable variables are mirrored: the model "
            "was built outside strategy.scope(). Call build_model() and model.compile(...) inside "
            "`with strategy.scope():`, so the weights and the optimizer's variables are mirrored "
            "on both replicas."
        )

    return evaluate


def _weights_check(want, hints):
    def evaluate(outcome):
        try:
            _get(outcome, "report.replicas")
            count = 0
            while f"report.weights.{count}" in outcome.arrays:
                count += 1
            got = variants_a6.flat([outcome.get(f"report.weights.{i}") for i in range(count)])
        except Missing as err:
            return failed(str(err))
        return compare(
            got,
            want,
            what="the trained weights (all of them, flattened)",
            hints=hints,
            atol=1e-5,
            rtol=0,
        )

    return evaluate


def _iterations_check():
    def evaluate(outcome):
        try:
            (iterations,) = _get(outcome, "report.iterations")
        except Missing as err:
            return failed(str(err))
        steps = EPOCHS * (TOY_EXAMPLES // TOY_BATCH)
        if int(iterations) == steps:
            return passed()
        if int(iterations) < 0:
            return failed("The returned model has no optimizer: compile it before training.")
        message = f"optimizer.iterations is {int(iterations)} after train_with_strategy(..., epochs={EPOCHS}); expected {steps} ({EPOCHS} epochs of 3 batches)."
        if int(iterations) == steps // EPOCHS:
            message += " The epochs argument is ignored."
        return failed(message)

    return evaluate


def build(rng, answers):
    """`(plan, expected)`: the plan, and `{result key: (expected array, hints)}` of the array checks."""
    expected = {}
    images, image_checks = _images_group(rng, answers, expected)
    dataset, dataset_checks = _dataset_group(rng, expected)
    memory, memory_checks, accuracy = _memory_group(rng)
    expected["eval_acc"] = (np.array(accuracy), {})
    strategy, strategy_checks = _strategy_group(rng)
    groups = [images, dataset, memory, strategy]
    return Plan(groups, image_checks + dataset_checks + memory_checks + strategy_checks), expected


def plan(rng, answers):
    """The groups and checks for one submission, on inputs drawn from `rng`."""
    return build(rng, answers)[0]
