"""Shared test setup: quiet TensorFlow, the TensorFlow backend, fresh random inputs."""

import json
import os
from pathlib import Path

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


SECONDS = Path(__file__).with_name("scope_seconds.json")  # measured: see pytest_sessionfinish
RECORD = Path(__file__).parents[1] / "build" / "test-seconds.json"


def scope(nodeid):
    """The unit `--dist loadscope` gives one worker: a test class, else a module."""
    return nodeid.rsplit("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    """Tests marked `platform` run only with --platforms (`make test-platforms`); the longest
    scopes first.

    With `--dist loadscope --no-loadscope-reorder` a worker takes the next scope (module or
    test class) in this order when it runs out, so the longest start first and the short
    ones fill in around them (longest-first scheduling), instead of one long module running
    alone at the end. The seconds per scope are those measured in scope_seconds.json;
    scopes not in it follow, those with a slow test first, each group in collection order.
    """
    if not config.getoption("--platforms"):
        dropped = [item for item in items if item.get_closest_marker("platform")]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [item for item in items if not item.get_closest_marker("platform")]
    seconds = json.loads(SECONDS.read_text()) if SECONDS.exists() else {}
    first, slow = {}, set()
    for index, item in enumerate(items):
        first.setdefault(scope(item.nodeid), index)
        if item.get_closest_marker("slow"):
            slow.add(scope(item.nodeid))
    items.sort(
        key=lambda it: (
            -seconds.get(scope(it.nodeid), 0.0),
            scope(it.nodeid) not in slow,
            first[scope(it.nodeid)],
        )
    )


_spent = {}


def pytest_runtest_logreport(report):
    _spent[scope(report.nodeid)] = _spent.get(scope(report.nodeid), 0.0) + report.duration


def pytest_sessionfinish(session):
    """Write the seconds each scope took to build/test-seconds.json (in the xdist controller,
    or a run without xdist); copy it over tests/scope_seconds.json to refresh the order."""
    if hasattr(session.config, "workerinput") or len(_spent) < 50:
        return  # a worker, or a run of a few modules: not a record of the whole suite
    RECORD.parent.mkdir(exist_ok=True)
    ordered = dict(sorted(((k, round(v, 1)) for k, v in _spent.items()), key=lambda kv: -kv[1]))
    RECORD.write_text(json.dumps(ordered, indent=1) + "\n")
