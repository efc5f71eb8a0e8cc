"""The course's settings (course.toml): what `release` writes into every released notebook."""

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import cli
from autograder import settings as course
from autograder.assignments import registry
from autograder.release import notebook_text, release_assignment

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
NAMES = list(registry.ASSIGNMENTS)
INSTALL = "course-lib @ git+https://github.com/uni-ml/transformers-course@v1"
# A URL nobody can install from, in a text meant for students.
PLACEHOLDER_URL = re.compile(r"YOUR[-_]ORG|ORG/REPO|github\.com/<|git\+https?://<")


def _setup_source(path):
    nb = nbformat.read(path, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code")


def test_release_writes_the_install_line_and_a_colab_link(tmp_path):
    """With install and repo set, does each notebook get both, and release twice the same bytes?"""
    settings = course.CourseSettings(
        install=INSTALL, repo="uni-ml/transformers-course", branch="fall"
    )
    first = release_assignment(
        "a3_gpt", source_root=SOLUTIONS, release_root=tmp_path, settings=settings
    ).read_bytes()
    again = release_assignment(
        "a3_gpt", source_root=SOLUTIONS, release_root=tmp_path, settings=settings
    ).read_bytes()
    assert first == again
    nb = nbformat.read(tmp_path / "a3_gpt" / "a3_gpt.ipynb", as_version=4)
    setup = next(c.source for c in nb.cells if c.cell_type == "code")
    assert f'COURSE_LIB = "{INSTALL}"' in setup.splitlines()
    link = (
        "https://colab.research.google.com/github/uni-ml/transformers-course/blob/fall/"
        "assignments/a3_gpt/a3_gpt.ipynb"
    )
    assert (
        nb.cells[0].source.splitlines()[0] == f"{course.COLAB_MARK}({course.COLAB_BADGE})]({link})"
    )
    assert nb.cells[0].source.count(course.COLAB_MARK) == 1


def test_unset_settings_remove_the_link_and_empty_the_install_line(tmp_path):
    """Applied to a notebook released with both set, do empty settings give the committed release?"""
    set_ = course.CourseSettings(install=INSTALL, repo="uni-ml/transformers-course")
    path = release_assignment(
        "a1_attention", source_root=SOLUTIONS, release_root=tmp_path, settings=set_
    )
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    course.apply_settings(
        nb, course.CourseSettings(), "assignments/a1_attention/a1_attention.ipynb"
    )
    text = notebook_text(nb)
    assert course.COLAB_MARK not in text and "git+" not in text
    unset = release_assignment(
        "a1_attention",
        source_root=SOLUTIONS,
        release_root=tmp_path / "u",
        settings=course.CourseSettings(),
    )
    assert text == unset.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", NAMES)
def test_released_notebooks_carry_the_course_setting_and_no_placeholder(name):
    """Does every committed notebook hold course.toml's install line, and no YOUR-ORG URL?"""
    settings = course.load_settings()
    for root in ("solutions", "assignments"):
        path = ROOT / root / name / f"{name}.ipynb"
        assert f"COURSE_LIB = {settings.install!r}".replace("'", '"') in _setup_source(path)
        assert not PLACEHOLDER_URL.search(path.read_text(encoding="utf-8")), path


def test_readme_has_no_placeholder_url():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert not PLACEHOLDER_URL.search(readme)


@pytest.mark.parametrize(
    "fields, match",
    [
        (
            {"install": "course-lib @ git+https://github.com/YOUR-ORG/transformers-course"},
            "placeholder",
        ),
        ({"install": "course-lib @ git+https://github.com/<org>/<repo>@v1"}, "placeholder"),
        ({"install": 'course-lib" ; rm -rf /'}, "without quotes"),
        ({"install": "requests==2.0"}, "must name the course-lib package"),
        ({"repo": "https://github.com/uni-ml/transformers-course"}, "no URL"),
        ({"install": 3}, "must be a string"),
    ],
)
def test_settings_refuse_placeholders_and_values_that_cannot_be_written(fields, match):
    with pytest.raises(course.CourseSettingsError, match=match):
        course.CourseSettings(**fields)


def test_a_wheel_url_is_a_valid_install_line():
    wheel = "https://uni.example.edu/ml/course_lib-0.1.0-py3-none-any.whl"
    assert course.CourseSettings(install=wheel).install == wheel


def test_load_settings_reads_toml_and_names_unknown_keys(tmp_path):
    path = tmp_path / "course.toml"
    path.write_text(f'[course]\ninstall = "{INSTALL}"\nrepo = "uni-ml/tc"\n')
    assert course.load_settings(path) == course.CourseSettings(install=INSTALL, repo="uni-ml/tc")
    path.write_text('[course]\ninstal = "x"\n')
    with pytest.raises(course.CourseSettingsError, match=r"unknown setting\(s\) \['instal'\]"):
        course.load_settings(path)
    assert course.load_settings(tmp_path / "missing.toml") == course.CourseSettings()


def test_release_cli_warns_when_install_is_unset(tmp_path, capsys):
    """Does `release` say, on stderr, that students cannot install the toolkit yet?"""
    settings = tmp_path / "course.toml"
    settings.write_text('[course]\ninstall = ""\n')
    argv = ["release", "a1_attention", "--release", str(tmp_path), "--settings", str(settings)]
    argv += ["--source", str(ROOT / "solutions")]
    assert cli.main(argv) == 0
    assert "sets no `install`" in capsys.readouterr().err
    settings.write_text('[course]\nrepo = "https://github.com/x/y"\n')
    assert cli.main(argv) == 2
    assert "no URL" in capsys.readouterr().err


@pytest.mark.parametrize("name, fails", [("a1_attention", False), ("a3_gpt", True)])
def test_setup_cell_without_install_line_says_what_to_do(name, fails, tmp_path):
    """Run for real (IPython's transform, course_lib absent): a3 stops with advice, a1 goes on."""
    path = release_assignment(
        name, source_root=SOLUTIONS, release_root=tmp_path, settings=course.CourseSettings()
    )
    from IPython.core.inputtransformer2 import TransformerManager

    code = TransformerManager().transform_cell(_setup_source(path))
    head = code.split('os.environ["KERAS_BACKEND"]')[0]  # up to the installs, no TensorFlow
    script = "import sys\nsys.modules['course_lib'] = None  # find_spec() -> None: not installed\n"
    done = subprocess.run(
        [sys.executable, "-c", script + head], capture_output=True, text=True, timeout=60
    )
    if fails:
        assert done.returncode == 1
        assert "RuntimeError: This notebook needs the course toolkit (course_lib)" in done.stderr
        assert "set `install` in course.toml" in done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert "this notebook does not need it" in done.stdout
