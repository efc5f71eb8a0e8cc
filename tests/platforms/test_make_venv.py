"""`make venv` from each supported Python makes a working venv from the lock (a copy of the repo).

Debian 12's own /usr/bin/python3.11 (3.11.2, the Python of a stock Debian machine)
and pyenv's 3.10, 3.12 and 3.13; the main .venv covers pyenv's 3.11.7. Each run has a
fresh pip cache, so its time and download size are a fresh machine's.
"""

import json
import subprocess
import time

import pytest

from autograder import gradescope
from tests.platforms import venvs

pytestmark = [pytest.mark.slow, pytest.mark.platform]

PYTHONS = {
    "debian-3.11.2": "/usr/bin/python3.11",
    "make-3.10": "3.10",
    "make-3.12": "3.12",
    "make-3.13": "3.13",
}
# Real tests of the copy, run with the venv make built: layers, WordPiece, release, grading.
SMOKE = [
    "tests/layers/test_attention.py",
    "tests/data/test_tokenizers.py",
    "tests/autograder/test_settings.py",
    "tests/autograder/test_late.py",
]


@pytest.mark.parametrize("platform", sorted(PYTHONS))
def test_make_venv_builds_a_working_venv_from_the_lock(platform, tmp_path):
    """Does `make venv PYTHON=...` install the lock, pass pip check and real tests?"""
    python = venvs.interpreter(PYTHONS[platform])
    if python is None:
        pytest.skip(f"no {PYTHONS[platform]} on this machine")
    repo = venvs.copy_of_repo(tmp_path / "repo")
    cache = tmp_path / "pip-cache"
    env = venvs.clean_env()
    env.update(PIP_CACHE_DIR=str(cache), PIP_VERBOSE="1")  # cancels make's -q: Downloading lines
    start = time.perf_counter()
    done = subprocess.run(
        ["make", "venv", f"PYTHON={python}"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    bin_ = repo / ".venv" / "bin"

    def run(*args, timeout=600):
        out = subprocess.run(
            [str(a) for a in args],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert out.returncode == 0, f"{args}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        return out.stdout

    run(bin_ / "python", "-m", "pip", "check")
    run(bin_ / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", *SMOKE)
    # The Gradescope image's install (setup.sh) is satisfied by this venv: nothing to add.
    wanted = tmp_path / "requirements.txt"
    wanted.write_text("\n".join(gradescope.grading_requirements(repo / "pyproject.toml")) + "\n")
    report = tmp_path / "report.json"
    lock = repo / "requirements.lock"
    run(
        bin_ / "python",
        "-m",
        "pip",
        "install",
        "--dry-run",
        "-q",
        "--report",
        report,
        "-c",
        lock,
        "-r",
        wanted,
    )
    assert json.loads(report.read_text())["install"] == []
    versions = json.loads(run(bin_ / "python", "-m", "pip", "list", "--format", "json"))
    versions = {p["name"].lower(): p["version"] for p in versions}
    venvs.record(
        platform,
        python=run(
            bin_ / "python", "-c", "import platform; print(platform.python_version())"
        ).strip(),
        **{pkg: versions[pkg] for pkg in venvs.STACK},
        tensorflow_text=versions["tensorflow-text"],
        make_venv_seconds=round(seconds),
        download_mb=venvs.mb(venvs.downloaded(done.stdout)),
        venv_mb=venvs.mb(venvs.du(repo / ".venv")),
    )
