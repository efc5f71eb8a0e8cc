"""Platform tests start from no results: the README table must come from this run alone."""

import shutil

import pytest

from tests.platforms import venvs


@pytest.fixture(scope="session", autouse=True)
def _fresh_results(request):
    if request.config.getoption("--platforms"):
        shutil.rmtree(venvs.RESULTS, ignore_errors=True)
