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


def pytest_addoption(parser):
    parser.addoption(
        "--platforms",
        action="store_true",
        help="run the tests marked platform: real installs in fresh venvs (PyPI downloads, ~15 min)",
    )


def pytest_collection_modifyitems(config, items):
    """Tests marked `platform` run only with --platforms (`make test-platforms`); slow first.

    The slow end-to-end modules run first, so that with xdist's `--dist loadscope` (a module
    per worker) the long ones start early and the quick ones fill in around them, instead of
    one long module running alone at the end.
    """
    if not config.getoption("--platforms"):
        dropped = [item for item in items if item.get_closest_marker("platform")]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [item for item in items if not item.get_closest_marker("platform")]
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)
