"""Shared test setup: quiet TensorFlow, the TensorFlow backend, fresh random inputs."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    """A fresh random generator per test: inputs differ on every run, never zeros."""
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"rng seed = {seed}")
    return np.random.default_rng(seed)
