"""The fast suite on the oldest supported stack: every lower bound of pyproject.toml at once.

Python 3.10 (the oldest of the range) with requirements-oldest.lock: TensorFlow
2.16.1, Keras 3.6.0, numpy 1.26.4, tensorflow-text 2.16.1 and each other direct
dependency at its declared minimum (uv's lowest-direct resolution). The whole
`-m "not slow"` suite runs there from the repository root, as `make test` runs it
(about 3.5 min on 2 shared cores), except tests/platforms.
"""

import re

import pytest

from tests.platforms import venvs

pytestmark = [pytest.mark.slow, pytest.mark.platform]
OLDEST_PYTHON = "3.10"


def test_fast_suite_passes_on_the_oldest_stack(tmp_path):
    """Does `pytest -m "not slow"` pass with every direct dependency at its lower bound?"""
    python = venvs.interpreter(OLDEST_PYTHON)
    if python is None:
        pytest.skip(f"no Python {OLDEST_PYTHON} here (pyenv install {OLDEST_PYTHON})")
    venv = venvs.Venv(python, tmp_path)
    venv.pip("install", "pip==24.3.1")
    lock = venvs.ROOT / "requirements-oldest.lock"
    source = venvs.copy_of_repo(tmp_path / "source")
    venv.pip("install", "-c", lock, f"{source}[grader,text,dev]")
    venv.run(venv.python, "-m", "pip", "check")
    installed = venv.freeze()
    pins = dict(re.findall(r"^([\w.-]+)==(\S+)", lock.read_text(), re.MULTILINE))
    for name in ("tensorflow", "keras", "numpy", "tensorflow-text", "nbgrader"):
        assert installed[name] == pins[name], (name, installed[name], pins[name])
    done = venv.run(
        venv.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", "-n", "2",
        "--ignore", venvs.ROOT / "tests" / "platforms", venvs.ROOT / "tests",
        timeout=1500, check=False, cwd=venvs.ROOT, PYTHONDONTWRITEBYTECODE="1",
    )  # fmt: skip
    summary = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 0, done.stdout[-6000:]
    venvs.record(
        "oldest-3.10",
        python=venv.python_version(),
        **{pkg: installed[pkg] for pkg in venvs.STACK},
        tensorflow_text=installed["tensorflow-text"],
        install_seconds=round(venv.seconds),
        download_mb=venvs.mb(venv.downloaded),
        venv_mb=venvs.mb(venvs.du(venv.path)),
        fast_suite=summary.strip("= "),
    )
