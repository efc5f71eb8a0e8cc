"""The oldest TensorFlow, Keras and numpy course_lib works with, checked when it is imported.

pip enforces the same lower bounds (pyproject.toml; `tests/test_lock.py` keeps them
equal), but a package installed with `--no-deps` or a preinstalled older stack would
otherwise fail later with an AttributeError deep inside Keras. The oldest stack is
tested by tests/platforms/test_oldest.py.
"""

import importlib.metadata
import re

# Keras 3.6 is the first with keras.ops.dot_product_attention, which the grader forbids
# (and so must find); TensorFlow 2.16 is the first with Keras 3.
MINIMUM = {"tensorflow": "2.16.1", "keras": "3.6.0", "numpy": "1.26.4"}


def _release(version):
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def check_versions(installed=None):
    """Raises ImportError naming each package older than `MINIMUM` and the pip command to fix it.

    Args:
        installed: `{name: version}`; default: the installed distributions. A package
            that is not installed is left to its own import to report.
    """
    problems = []
    for name, minimum in MINIMUM.items():
        if installed is None:
            try:
                version = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                continue
        else:
            version = installed.get(name)
            if version is None:
                continue
        if _release(version) < _release(minimum):
            problems.append((name, version, minimum))
    if problems:
        found = ", ".join(f"{n} {v} (needs >= {m})" for n, v, m in problems)
        command = " ".join(f'"{n}>={m}"' for n, _, m in problems)
        raise ImportError(
            f"course_lib needs newer packages than installed: {found}. Run: pip install {command}"
        )
