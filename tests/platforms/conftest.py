"""A run of platform tests starts from no results: the README table must come from it alone.

A run of test_tested_with.py alone keeps the last run's results (to check the README
against them after `python -m tests.platforms.table --write`).
"""

import shutil

import pytest

from tests.platforms import venvs


@pytest.fixture(scope="session", autouse=True)
def _fresh_results(request):
    installs = [i for i in request.session.items if "test_tested_with" not in i.nodeid]
    if request.config.getoption("--platforms") and installs:
        shutil.rmtree(venvs.RESULTS, ignore_errors=True)
