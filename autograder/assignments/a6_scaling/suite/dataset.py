"""The a6_scaling "dataset" group: make_image_dataset with the reference load_and_preprocess_image."""

import tempfile

import numpy as np

from autograder.assignments.a6_scaling.suite.helpers import (
    IMAGE_DIR,
    SUPPORT,
    S,
    as_numpy,
    get_results,
    student_construct,
)
from autograder.assignments.a6_scaling.support import measure as support
from autograder.grading.calls import function, obj
from autograder.grading.checks import gated
from autograder.grading.compare import compare, failed, passed
from autograder.grading.plan import Check, Group, Missing
from autograder.grading.weights import to_np
from course_lib.data.image_file import load_and_preprocess_image

DS_SIZE, DS_BATCH, DS_COUNT = 4, 4, 11  # 11 images in batches of 4: sizes 4, 4, 3
DS_DIR = f"{IMAGE_DIR}/dataset"


def dataset_group(rng, expected):
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
    args = (paths, as_numpy("ds_labels"), DS_SIZE, DS_BATCH)
    calls = [
        function("ds_write", S + "write_images", DS_DIR, **{n: as_numpy(n) for n in images}),
        student_construct("ds_plain", "make_image_dataset", *args),
        function("ds_plain_arrays", S + "dataset_arrays", obj("ds_plain")),
        student_construct("ds_shuf1", "make_image_dataset", *args, shuffle=True, seed=seed),
        function("ds_shuf1_arrays", S + "dataset_arrays", obj("ds_shuf1")),
        student_construct("ds_shuf2", "make_image_dataset", *args, shuffle=True, seed=seed),
        function("ds_shuf2_arrays", S + "dataset_arrays", obj("ds_shuf2")),
    ]
    expected["ds_plain_arrays.images"] = (reference, {})
    expected["ds_plain_arrays.labels"] = (labels, {})
    unit = "make_image_dataset"
    # The element_spec and the pipeline's structure hold for an empty shell of a pipeline:
    # they pay only when the batches hold the right images and labels.
    order = _order_check(reference, labels)
    content = "the batches (shuffle=False keeps the order)"
    checks = [
        Check(
            f"{unit}: a tf.data.Dataset of (images, labels) batches, element_spec",
            unit,
            gated(order, _spec_check(), content),
        ),
        Check(f"{unit}: batches of batch_size, the last partial batch kept", unit, _batch_check()),
        Check(
            f"{unit}: shuffle=False keeps the order; images and labels match",
            unit,
            order,
        ),
        Check(
            f"{unit}: shuffle=True with a seed gives a permutation, labels aligned, same order for the same seed",
            unit,
            _shuffle_check(reference, labels),
        ),
        Check(
            f"{unit}: parallel map and prefetch",
            unit,
            gated(order, _pipeline_check(), content),
            0.5,
        ),
    ]
    group = Group(
        "dataset",
        calls,
        inputs,
        site_modules=("data/image_file.py",),
        support=SUPPORT,
        inject={
            "load_and_preprocess_image": "course_lib.data.image_file:load_and_preprocess_image"
        },
    )
    return group, checks


def _spec_check():
    def evaluate(outcome):
        try:
            spec, is_float, rank, is_int = get_results(
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
            (sizes,) = get_results(outcome, "ds_plain_arrays.batch_sizes")
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
            images, got = get_results(outcome, "ds_plain_arrays.images", "ds_plain_arrays.labels")
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
            im1, lab1, im2, lab2 = get_results(
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
            parallel, prefetch = get_results(
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
