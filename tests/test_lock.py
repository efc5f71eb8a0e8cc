"""pyproject.toml declares ranges; the two locks pin them (`make lock` rewrites both).

requirements.lock pins the newest versions for every supported Python (markers
choose per Python); requirements-oldest.lock pins each direct dependency at its
declared lower bound, and is what tests/platforms runs the fast suite on. Resolving
again needs the network, so these checks read the files as they are: a range
edited without `make lock` fails here.
"""

import re
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from autograder.settings import tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# Debian 12's 3.11.2 and 3.11.5 bracket soupsieve's cut (4.x needs >= 3.11.5).
PYTHONS = ["3.10.13", "3.11.2", "3.11.5", "3.11.7", "3.12.1", "3.13.0"]
EXTRAS = ("text", "grader", "dev")


def direct_requirements():
    """Every requirement of the project: its dependencies and each extra's."""
    lines = list(PYPROJECT["dependencies"])
    for extra in EXTRAS:
        lines += PYPROJECT["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def environment(python):
    env = default_environment()
    env.update(python_full_version=python, python_version=".".join(python.split(".")[:2]))
    env.update(sys_platform="linux", platform_system="Linux", platform_machine="x86_64")
    return env


def pins(lock, python):
    """`{name: version}` of the lines of `lock` whose markers hold on Linux with `python`."""
    found = {}
    for line in (ROOT / lock).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate(environment(python)):
            continue
        name = canonicalize_name(req.name)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{lock}: {line!r} is not an exact pin"
        assert name not in found, f"{lock}: two pins of {name} apply on Python {python}"
        found[name] = spec.version
    return found


def test_python_range_is_the_makefile_range():
    """Do pyproject's requires-python, the Makefile and PYTHONS name the same minors?"""
    assert PYPROJECT["requires-python"] == ">=3.10,<3.14"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^SUPPORTED := 3\.13 3\.12 3\.11 3\.10$", makefile, re.MULTILINE)
    assert {p.rsplit(".", 1)[0] for p in PYTHONS} == {"3.10", "3.11", "3.12", "3.13"}


@pytest.mark.parametrize("python", PYTHONS)
def test_lock_pins_every_requirement_inside_its_range(python):
    """On each supported Python, is every direct requirement pinned once, inside its range?"""
    pinned = pins("requirements.lock", python)
    assert SpecifierSet(PYPROJECT["requires-python"]).contains(python)
    for req in direct_requirements():
        if req.marker is not None and not req.marker.evaluate(environment(python)):
            continue
        name = canonicalize_name(req.name)
        assert name in pinned, f"requirements.lock has no pin of {name} for {python}: run make lock"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"requirements.lock pins {name}=={pinned[name]}, outside {req}: run make lock"
        )


def test_oldest_lock_pins_each_lower_bound():
    """Is every `>=X` of pyproject pinned at exactly X in the oldest lock (Python 3.10)?"""
    pinned = pins("requirements-oldest.lock", "3.10.13")
    for req in direct_requirements():
        lower = [s.version for s in req.specifier if s.operator == ">="]
        assert lower, f"{req}: declare a lower bound (the oldest stack tests it)"
        name = canonicalize_name(req.name)
        assert pinned.get(name) == lower[0], (
            f"requirements-oldest.lock pins {name}=={pinned.get(name)}, not the lower bound "
            f"{lower[0]} of {req}: run make lock"
        )


def test_no_cap_on_what_colab_preinstalls():
    """TensorFlow, Keras, numpy: no upper bound but the next major (a cap would downgrade Colab)."""
    for req in direct_requirements():
        if canonicalize_name(req.name) in {"tensorflow", "keras", "numpy"}:
            for spec in req.specifier:
                if spec.operator == ">=":
                    continue
                assert spec.operator == "<" and Version(spec.version).release[1:] in ((), (0,)), (
                    f"{req}: cap only below a next major (e.g. keras<4)"
                )


def test_grader_only_packages_are_not_base_dependencies():
    """A student's install (the base) pulls neither nbgrader nor the kernel machinery."""
    base = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["dependencies"]}
    grader = {
        canonicalize_name(Requirement(r).name) for r in PYPROJECT["optional-dependencies"]["grader"]
    }
    assert grader == {
        "copydetect",
        "nbgrader",
        "nbclient",
        "ipykernel",
        "jupyter-client",
        "landlockpy",
        "pyseccomp",
        "jinja2",
    }
    assert not base & (grader | {"tensorflow-text", "pytest", "ruff"})


def test_import_time_minimums_are_the_declared_lower_bounds():
    """Does course_lib refuse at import exactly what pip would refuse (TF, Keras, numpy)?"""
    from course_lib.requirements import MINIMUM

    declared = {canonicalize_name(r.name): r for r in direct_requirements()}
    for name, minimum in MINIMUM.items():
        assert [s.version for s in declared[name].specifier if s.operator == ">="] == [minimum]


def test_too_old_keras_is_refused_with_the_command_that_fixes_it():
    from course_lib.requirements import check_versions

    check_versions({"tensorflow": "2.16.1", "keras": "3.6.0", "numpy": "1.26.4"})
    with pytest.raises(
        ImportError, match=r'keras 3\.5\.0 \(needs >= 3\.6\.0\).*pip install "keras>=3\.6\.0"'
    ):
        check_versions({"tensorflow": "2.20.0", "keras": "3.5.0", "numpy": "2.5.5"})
    with pytest.raises(ImportError, match=r"tensorflow 2\.15\.1 .*numpy 1\.25\.2"):
        check_versions({"tensorflow": "2.15.1", "keras": "3.10.0", "numpy": "1.25.2"})
