"""The README's "tested with" table is the matrix this run of the platform tests installed.

It runs last (file order): every platform above wrote build/platforms/<name>.json.
"""

import importlib.metadata
import platform

import pytest

from tests.platforms import table, venvs

pytestmark = [pytest.mark.slow, pytest.mark.platform]


def test_readme_tested_with_table_matches_this_run():
    """Same platforms, same Python/TensorFlow/Keras/numpy/tensorflow-text versions as installed?"""
    version = importlib.metadata.version
    venvs.record(
        "main-venv",
        python=platform.python_version(),
        **{pkg: version(pkg) for pkg in venvs.STACK},
        tensorflow_text=version("tensorflow-text"),
    )
    fresh = table.render(table.load_results())
    assert table.matrix(table.readme_table()) == table.matrix(fresh), (
        "README.md's tested-with table is not what was tested: run "
        "`.venv/bin/python -m tests.platforms.table --write` and commit README.md\n" + fresh
    )
