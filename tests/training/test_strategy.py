"""Strategy choice, batch splitting, mixed precision / XLA defaults and the lr schedule."""

import math

import numpy as np
import pytest
import tensorflow as tf

from course_lib.training import (
    UsageError,
    WarmupCosine,
    mixed_precision_default,
    select_strategy,
    split_batch,
    use_xla,
)
from course_lib.training.strategy import describe

HAS_GPU = bool(tf.config.list_physical_devices("GPU"))


def test_split_batch_divisible_has_no_message():
    """Does a divisible global batch split evenly and silently?"""
    assert split_batch(64, 4) == (64, 16, None)


def test_split_batch_rounds_down_and_says_so():
    """Is an indivisible global batch rounded down to a multiple, with a message naming both?"""
    batch, per_replica, message = split_batch(30, 4)
    assert (batch, per_replica) == (28, 7)
    assert "30" in message and "28" in message and "4 replicas" in message


def test_split_batch_smaller_than_replicas_refused():
    """Is a global batch smaller than the number of replicas refused clearly?"""
    with pytest.raises(UsageError, match="smaller than the 4 replicas"):
        split_batch(3, 4)


def test_unknown_strategy_is_a_usage_error():
    """Does an unknown --strategy name list the valid ones?"""
    with pytest.raises(UsageError, match="Unknown strategy 'gpus'.*mirrored"):
        select_strategy("gpus")


def test_multiworker_without_tf_config(monkeypatch):
    """Does --strategy multiworker without TF_CONFIG say what to set?"""
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(UsageError, match="TF_CONFIG"):
        select_strategy("multiworker")


def test_multiworker_with_broken_tf_config(monkeypatch):
    """Is a TF_CONFIG that is not valid JSON reported, before TF tries to use it?"""
    monkeypatch.setenv("TF_CONFIG", "{cluster: oops")
    with pytest.raises(UsageError, match="TF_CONFIG is not valid"):
        select_strategy("multiworker")


def test_tpu_without_tpu(monkeypatch):
    """Does --strategy tpu on a machine without one fail clearly (no network look-up)?"""
    for key in ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_ACCELERATOR_TYPE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr("glob.glob", lambda pattern: [])
    with pytest.raises(UsageError, match="no TPU"):
        select_strategy("tpu")


@pytest.mark.skipif(HAS_GPU, reason="checks the CPU-only behaviour")
def test_gpu_without_gpu():
    """Does --strategy gpu without a GPU fail clearly?"""
    with pytest.raises(UsageError, match="no GPU"):
        select_strategy("gpu")


@pytest.mark.skipif(HAS_GPU, reason="checks the CPU-only behaviour")
def test_auto_on_cpu_picks_one_cpu_device():
    """Does auto on a CPU-only machine pick the CPU, say so, and default to float32, no XLA?"""
    strategy, description = select_strategy("auto")
    assert isinstance(strategy, tf.distribute.OneDeviceStrategy)
    assert description == "OneDeviceStrategy on [device:cpu:0]: 1 replica in sync"
    assert mixed_precision_default(strategy) is None
    assert use_xla(strategy) is False


def test_mirrored_never_uses_xla_or_mixed_precision_on_cpu():
    """Is XLA off under MirroredStrategy on CPU (it fails there), and float32 kept?"""
    strategy, description = select_strategy("mirrored")
    assert "MirroredStrategy" in description == describe(strategy)
    if not HAS_GPU:
        assert use_xla(strategy) is False
        assert mixed_precision_default(strategy) is None


def _reference_lr(step, peak, total, warmup, alpha):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (alpha + (1 - alpha) * 0.5 * (1 + math.cos(math.pi * progress)))


def test_warmup_cosine_matches_reference(rng):
    """Does the schedule equal the float64 formula (warmup ramp, cosine, floor) at random steps?"""
    peak = float(rng.uniform(1e-4, 1e-2))
    total, warmup = int(rng.integers(50, 500)), int(rng.integers(1, 40))
    alpha = float(rng.uniform(0.0, 0.2))
    schedule = WarmupCosine(peak, total, warmup, alpha)
    steps = np.concatenate([[0, warmup - 1, warmup, total, total + 7], rng.integers(0, total, 20)])
    got = np.array([float(schedule(int(s))) for s in steps])
    want = np.array([_reference_lr(int(s), peak, total, warmup, alpha) for s in steps])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)
    assert got[1] == pytest.approx(peak, rel=1e-6)  # end of warmup reaches the peak
