"""The a6_scaling grading suite: its support module, its plan, and its checks on given outcomes."""

import time

import numpy as np
import pytest
import tensorflow as tf

from autograder.assignments.a6_scaling import suite as a6_scaling
from autograder.assignments.a6_scaling.suite import hints as variants_a6
from autograder.assignments.a6_scaling.support import measure as support
from autograder.assignments.registry import get_suite
from autograder.grading.compare import compare
from autograder.grading.plan import Outcome
from course_lib.data.image_file import load_and_preprocess_image

ANSWERS = {"answer_pipeline": {"A", "C"}, "answer_mirrored": {"A", "B", "D"}}


def _resize_bilinear_np(image, size):
    """tf.image.resize's bilinear (half-pixel centres, no antialiasing) in float64."""

    def weights(n_in, n_out):
        position = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        low = np.floor(position)
        frac = position - low
        matrix = np.zeros((n_out, n_in))
        np.add.at(matrix, (np.arange(n_out), np.clip(low, 0, n_in - 1).astype(int)), 1 - frac)
        np.add.at(matrix, (np.arange(n_out), np.clip(low + 1, 0, n_in - 1).astype(int)), frac)
        return matrix

    rows, cols = weights(image.shape[0], size), weights(image.shape[1], size)
    return np.einsum("ih,jw,hwc->ijc", rows, cols, np.asarray(image, np.float64))


def test_reference_loader_matches_a_float64_reference(tmp_path, rng):
    """Does course_lib's loader (the one injected) match a float64 NumPy reference (1e-5)?"""
    files = {
        "a_png": rng.integers(0, 256, size=(10, 14, 3), dtype=np.uint8),
        "b_png": rng.integers(0, 256, size=(9, 11, 1), dtype=np.uint8),
        "c_png": rng.integers(0, 256, size=(13, 7, 4), dtype=np.uint8),
    }
    support.write_images(str(tmp_path), **files)
    for name, array in files.items():
        path = str(tmp_path / f"{name[:-4]}.png")
        for size in (5, 12):
            ours = np.asarray(load_and_preprocess_image(path, size))
            rgb = np.repeat(array, 3, -1) if array.shape[-1] == 1 else array[..., :3]
            want = _resize_bilinear_np(rgb / 255.0, size) * 2 - 1
            np.testing.assert_allclose(ours, want, atol=1e-5)


def test_jpeg_files_are_written_and_decoded_identically(tmp_path, rng):
    """Is a JPEG written twice byte-identical (so the jail and the parent decode the same pixels)?"""
    image = variants_a6.smooth_image(rng, 16, 16)
    support.write_images(str(tmp_path / "one"), photo_jpg=image)
    support.write_images(str(tmp_path / "two"), photo_jpg=image)
    one = (tmp_path / "one" / "photo.jpg").read_bytes()
    assert one == (tmp_path / "two" / "photo.jpg").read_bytes()
    decoded = np.asarray(tf.io.decode_jpeg(one), np.float64)
    assert np.abs(decoded - image).mean() < 8, "the smooth image survives JPEG"


def test_big_dataset_labels_and_fixed_model_accuracy_are_known_to_the_parent():
    """Do the lazily generated batches carry big_classes' labels, and FixedModel predict the true class?"""
    n, batch, a, b, m = 300, 64, 3, 1, 7
    true, labels = support.big_classes(n, a, b, m)
    ds = support.big_dataset(n, batch, a, b, m, seed=5)
    model = support.FixedModel()
    got_labels, predictions, sizes = [], [], []
    for x, y in ds:
        assert x.dtype == tf.float32 and x.shape[1:] == (64, 64, 3)
        got_labels.append(y.numpy())
        predictions.append(np.argmax(model(x).numpy(), -1))
        sizes.append(len(y))
    assert sizes == [64, 64, 64, 64, 44]
    np.testing.assert_array_equal(np.concatenate(got_labels), labels)
    np.testing.assert_array_equal(np.concatenate(predictions), true)
    assert 0.8 < np.mean(true == labels) < 0.9  # 1 in 7 labels flipped


@pytest.mark.parametrize("force_sampling", [False, True])
def test_memory_meter_sees_a_large_allocation(monkeypatch, force_sampling):
    """Do memory_start/memory_peak see 200 MiB held during the call (VmHWM or the sampler)?"""
    if force_sampling:  # what happens in the jail, where /proc/self/clear_refs is not writable
        real_open = open

        def no_clear_refs(path, *args, **kwargs):
            if str(path).endswith("clear_refs"):
                raise PermissionError(path)
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr("builtins.open", no_clear_refs)
    support.memory_start()
    block = np.ones(200 << 20, np.uint8)  # touched: resident
    block[::4096] = 2
    time.sleep(0.05)  # held for a while, as a materialised dataset is (the sampler runs every 2 ms)
    del block
    peak, seconds, hwm = support.memory_peak()
    assert peak > 180 << 20, peak / 2**20
    assert bool(hwm) is not force_sampling
    assert seconds >= 0


def test_plan_builds_with_unique_ids_and_hints_that_are_named():
    """Does build() give unique call ids, finite references passing their checks, and distinct hints?"""
    plan, expected = a6_scaling.build(np.random.default_rng(3), ANSWERS)
    assert get_suite("a6_scaling") is a6_scaling
    assert [g.name for g in plan.groups] == ["images", "dataset", "memory", "strategy"]
    assert plan.groups[3].logical_cpus == 2
    assert all(g.support == (support.__file__,) for g in plan.groups)
    ids = [c["id"] for g in plan.groups for c in g.calls]
    assert len(ids) == len(set(ids))
    assert {c.unit for c in plan.checks} == set(a6_scaling.UNITS) | set(ANSWERS)
    for key, (want, hints) in expected.items():
        assert np.all(np.isfinite(want)), key
        for label, variant in hints.items():
            verdict = compare(np.asarray(variant), want, hints=hints, atol=1e-5, rtol=0)
            assert not verdict.passed and label in verdict.message, (key, label)
    for group in plan.groups:
        for name, array in group.inputs.items():
            assert array.dtype.kind in "biuf", name
            if name.startswith("tws_w"):
                assert np.all(array != 0), name


def test_strategy_hints_differ_from_the_reference():
    """Is every train_with_strategy variant (epochs, doubled gradient, loss, momentum) > 1e-5 away?"""
    plan, _ = a6_scaling.build(np.random.default_rng(4), {})
    (weights_check,) = [c for c in plan.checks if "trained weights" in c.name]
    inputs = plan.groups[3].inputs
    weights = [inputs[f"tws_w{i}"] for i in range(4)]
    want = variants_a6.train_reference(weights, inputs["tws_x"], inputs["tws_y"], 3)
    for label, kwargs in {
        "epochs": {"epochs": 1},
        "distributed": {"learning_rate": 0.1},
        "logits": {"from_logits": False},
        "momentum": {"momentum": 0.0},
    }.items():
        kwargs = {"epochs": 3, **kwargs}
        got = variants_a6.train_reference(weights, inputs["tws_x"], inputs["tws_y"], **kwargs)
        arrays = {f"report.weights.{i}": w for i, w in enumerate(got)} | {
            "report.replicas": np.array(2)
        }
        verdict = weights_check.evaluate(Outcome(arrays, {}, {}, {}))
        assert not verdict.passed and "Your output matches what you get when" in verdict.message, (
            label,
            verdict.message,
        )
    arrays = {f"report.weights.{i}": w for i, w in enumerate(want)} | {
        "report.replicas": np.array(2)
    }
    assert weights_check.evaluate(Outcome(arrays, {}, {}, {})).passed


def test_memory_check_states_both_numbers_and_names_materialising():
    """Does a peak over the budget fail with the measured growth, the budget and the likely cause?"""
    plan, expected = a6_scaling.build(np.random.default_rng(5), {})
    (memory_check,) = [c for c in plan.checks if "peak memory" in c.name]
    arrays = {"eval_acc": expected["eval_acc"][0], "memory_peak": np.array([48 << 20, 2.5, 0.0])}
    assert memory_check.evaluate(Outcome(arrays, {}, {}, {})).passed
    arrays["memory_peak"] = np.array([900 << 20, 9.0, 0.0])
    verdict = memory_check.evaluate(Outcome(arrays, {}, {}, {}))
    assert not verdict.passed
    for phrase in ("900 MiB", "128 MiB", "409 MiB", "the whole dataset is materialised"):
        assert phrase in verdict.message, verdict.message
    # No accuracy (the call raised): the memory is not graded either.
    verdict = memory_check.evaluate(Outcome({"memory_peak": arrays["memory_peak"]}, {}, {}, {}))
    assert not verdict.passed and "did not return an accuracy" in verdict.message
