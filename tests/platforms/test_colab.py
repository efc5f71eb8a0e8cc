"""A Colab-like machine (Python 3.13, TensorFlow 2.20, Keras 3.10 preinstalled) and the newest stack.

Each platform is a fresh venv with the stack preinstalled, as Colab has it. The
course's wheel is then installed the way a student gets it: by the setup cell of a
released notebook whose course.toml `install` line points at the wheel. Nothing that
was there may change version; then real notebooks, the training CLI and WordPiece run
in that venv.
"""

import json

import pytest

from autograder import settings as course
from autograder.release import release_assignment
from tests.platforms import venvs

pytestmark = [pytest.mark.slow, pytest.mark.platform]

# What Colab preinstalls that matters here (Colab's own stack, close to it on this registry).
COLAB = ["tensorflow==2.20.0", "keras==3.10.0", "numpy==2.5.5"]
COLAB_EXTRAS = ["matplotlib", "scikit-learn", "nbformat", "ipykernel"]
PLATFORMS = {
    "colab-like-3.13": ("3.13", COLAB + COLAB_EXTRAS, []),
    "newest-3.12": (
        "3.12",
        ["tensorflow", "keras", "numpy", *COLAB_EXTRAS],
        ["-c", "requirements.lock"],
    ),
}


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    return venvs.build_wheel(tmp_path_factory.mktemp("wheel"))


class Platform:
    """A venv with a preinstalled stack, then course-lib installed by a setup cell."""

    def __init__(self, name, root, wheel, monkeypatch):
        version, preinstall, constraints = PLATFORMS[name]
        python = venvs.interpreter(version)
        if python is None:
            pytest.skip(f"no Python {version} here (pyenv install {version})")
        self.name, self.root, self.monkeypatch = name, root, monkeypatch
        self.venv = venvs.Venv(python, root)
        self.venv.pip("install", "pip==24.3.1")
        constraints = [c if c.startswith("-") else str(venvs.ROOT / c) for c in constraints]
        self.venv.pip("install", *constraints, *preinstall)
        self.preinstall_seconds, self.preinstall_download = (
            self.venv.seconds,
            self.venv.downloaded,
        )
        self.before = self.venv.freeze()
        pip = (self.venv.python, "-m", "pip")
        report = self.venv.run(*pip, "install", "--dry-run", "-q", "--report", "-", wheel).stdout
        self.would_install = {
            i["metadata"]["name"].lower(): i["metadata"]["version"]
            for i in json.loads(report)["install"]
        }
        self.settings = course.CourseSettings(install=f"course-lib @ {wheel.as_uri()}")
        self.setup_seconds = self.run_setup_cell("a3_gpt")
        self.after = self.venv.freeze()
        self.record()

    def run_setup_cell(self, name):
        """Releases `name` with the wheel as the install line and runs its setup cell here."""
        path = release_assignment(
            name,
            source_root=venvs.ROOT / "solutions",
            release_root=self.root / "released",
            settings=self.settings,
        )
        nb = venvs.setup_cell_only(path)
        seconds = venvs.execute(nb, self.venv, self.root, self.monkeypatch, allow_errors=True)
        assert venvs.errors(nb) == [], venvs.errors(nb)
        return seconds

    def record(self, **more):
        return venvs.record(
            self.name,
            python=self.venv.python_version(),
            **{pkg: self.after.get(pkg) for pkg in venvs.STACK},
            preinstall_seconds=round(self.preinstall_seconds),
            preinstall_download_mb=venvs.mb(self.preinstall_download),
            course_lib_install_seconds=round(self.setup_seconds),
            course_lib_added=sorted(set(self.after) - set(self.before)),
            venv_mb=venvs.mb(venvs.du(self.venv.path)),
            **more,
        )


@pytest.fixture(scope="module", params=sorted(PLATFORMS))
def platform(request, wheel, tmp_path_factory):
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield Platform(request.param, tmp_path_factory.mktemp(request.param), wheel, monkeypatch)


def test_setup_cell_installs_course_lib_and_changes_nothing_preinstalled(platform):
    """Did the wheel's install (dry run, then the setup cell) leave every preinstalled version alone?"""
    assert not set(platform.would_install) & set(platform.before), platform.would_install
    assert "course-lib" in platform.would_install
    changed = {
        k: (v, platform.after.get(k))
        for k, v in platform.before.items()
        if platform.after.get(k) != v
    }
    assert changed == {}, f"the install changed preinstalled packages: {changed}"
    assert platform.after["course-lib"] == platform.would_install["course-lib"]
    added = set(platform.after) - set(platform.before)
    assert not added & {"nbgrader", "nbclient", "tensorflow-text", "pytest"}, added


@pytest.mark.parametrize("name", ["a1_attention", "a3_gpt"])
def test_solution_notebook_runs_in_a_real_kernel(platform, name, tmp_path):
    """Does the solution notebook run top to bottom (quick mode) on this platform's stack?"""
    import nbformat

    nb = nbformat.read(venvs.ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    seconds = venvs.execute(nb, platform.venv, tmp_path, platform.monkeypatch)
    assert venvs.errors(nb) == []
    code = [c for c in nb.cells if c.cell_type == "code"]
    passed = [o.text for c in code for o in c.outputs if o.get("name") == "stdout"]
    assert sum("Public tests passed." in text for text in passed) >= 4
    venvs.record(platform.name, **{f"{name}_seconds": round(seconds)})


def test_training_cli_runs_a_few_steps(platform, tmp_path):
    """Does `python -m course_lib.train --task gpt` train, evaluate and write its run directory?"""
    out = tmp_path / "run"
    args = ["--task", "gpt", "--epochs", "1", "--steps-per-epoch", "5", "--out", out, "--quiet"]
    platform.venv.run(platform.venv.python, "-m", "course_lib.train", *args, timeout=600)
    rows = (out / "history.csv").read_text().splitlines()
    assert len(rows) == 2 and "val_loss" in rows[0]
    assert (out / "model.keras").stat().st_size > 0


def test_wordpiece_then_a4_setup_cell_install_the_matching_tensorflow_text(platform):
    """Without tensorflow-text, does WordPiece name the right one, and a4's setup cell install it?"""
    tf_minor = ".".join(platform.after["tensorflow"].split(".")[:2])
    code = "from course_lib.data import WordPieceTokenizer as W; W.train(['a b a b c'] * 5, vocab_size=40)"
    missing = platform.venv.run(platform.venv.python, "-c", code, check=False)
    assert missing.returncode == 1
    assert f'pip install "tensorflow-text=={tf_minor}.*"' in missing.stderr
    seconds = platform.run_setup_cell("a4_translation")
    now = platform.venv.freeze()
    assert now["tensorflow-text"].startswith(tf_minor + "."), now["tensorflow-text"]
    assert {k: now[k] for k in venvs.STACK} == {k: platform.before[k] for k in venvs.STACK}
    platform.venv.run(platform.venv.python, "-c", code)
    venvs.record(
        platform.name, tensorflow_text=now["tensorflow-text"], a4_setup_seconds=round(seconds)
    )
