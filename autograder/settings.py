"""The course's settings (`course.toml`), and how `release` writes them into notebooks.

An instructor sets three lines once, at the repository root:

    [course]
    install = "course-lib @ git+https://github.com/ORG/REPO@v1"   # a pip requirement, or a wheel URL
    repo = "ORG/REPO"                                             # GitHub repo serving assignments/
    branch = "main"                                               # its branch (or tag)

`release` (and `tools/build_notebooks.py`, so that nbgrader's own release agrees)
writes `install` into the setup cell of every notebook, on the line
`COURSE_LIB = "..."`, and, when `repo` is set, an "Open in Colab" link as the
first line of the notebook's first cell. An unset `install` is written as `""`:
the setup cell then tells the student what to do instead of installing a
placeholder. Both edits are idempotent, so releasing twice gives the same bytes.
"""

import dataclasses
import json
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

REPO_ROOT = Path(__file__).resolve().parents[1]
SETTINGS_FILE = "course.toml"
# The one line of a setup cell that `release` rewrites.
INSTALL_LINE = re.compile(r'^COURSE_LIB = ".*"$', re.MULTILINE)
COLAB_MARK = "[![Open In Colab]"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
COLAB_URL = "https://colab.research.google.com/github/{repo}/blob/{branch}/{path}"
# Values copied from an example instead of set: refused, never released.
PLACEHOLDER = re.compile(r"YOUR[-_]|your[-_]org|\bORG/REPO\b|<[^>]*>|example\.(com|org)")


class CourseSettingsError(ValueError):
    """course.toml is unreadable or holds a value `release` cannot write into a notebook."""


@dataclasses.dataclass(frozen=True)
class CourseSettings:
    """What `release` writes into the released notebooks.

    Args:
        install: the pip requirement the setup cell installs `course_lib` from when it
            is missing (`course-lib @ git+https://...@TAG`, or the URL of a wheel);
            empty while the course has none: the setup cell then says what to do.
        repo: `"ORG/REPO"` on GitHub, serving `assignments/`; empty: no Colab links.
        branch: the branch or tag of `repo` the Colab links open.
    """

    install: str = ""
    repo: str = ""
    branch: str = "main"

    def __post_init__(self):
        for field in ("install", "repo", "branch"):
            value = getattr(self, field)
            if not isinstance(value, str):
                raise CourseSettingsError(
                    f"{SETTINGS_FILE}: `{field}` must be a string. Received: {value!r}"
                )
            if PLACEHOLDER.search(value):
                raise CourseSettingsError(
                    f"{SETTINGS_FILE}: `{field}` still holds a placeholder ({value!r}): set the "
                    "course's real value, or leave it empty."
                )
        if self.install and (re.search(r'["\'\\\n]', self.install) or "  " in self.install):
            raise CourseSettingsError(
                f"{SETTINGS_FILE}: `install` must be one pip requirement without quotes. "
                f"Received: {self.install!r}"
            )
        if self.install and not _installable(self.install):
            raise CourseSettingsError(
                f"{SETTINGS_FILE}: `install` must name the course-lib package, e.g. "
                "'course-lib @ git+https://github.com/ORG/REPO@v1', or be the URL or path of "
                f"a course_lib wheel. Received: {self.install!r}"
            )
        if self.repo and not re.fullmatch(r"[\w.-]+/[\w.-]+", self.repo):
            raise CourseSettingsError(
                f"{SETTINGS_FILE}: `repo` is a GitHub 'ORG/REPO' (no URL). Received: {self.repo!r}"
            )
        if not re.fullmatch(r"[\w./-]+", self.branch):
            raise CourseSettingsError(
                f"{SETTINGS_FILE}: `branch` is invalid. Received: {self.branch!r}"
            )

    def colab_link(self, notebook_path):
        """The "Open in Colab" URL of `notebook_path` (relative to the repo), or None."""
        if not self.repo:
            return None
        return COLAB_URL.format(
            repo=self.repo, branch=self.branch, path=Path(notebook_path).as_posix()
        )


def _installable(requirement):
    name = re.split(r"[\s@\[<>=!~;]", requirement, maxsplit=1)[0]
    if re.sub(r"[-_.]+", "-", name).lower() == "course-lib":
        return True
    wheel = requirement.split("#")[0].rsplit("/", 1)[-1]
    return wheel.startswith("course_lib-") and wheel.endswith(".whl")


def load_settings(path=None):
    """Reads `course.toml` (default: the repository's); a missing file means all unset."""
    path = Path(path) if path is not None else REPO_ROOT / SETTINGS_FILE
    if not path.is_file():
        return CourseSettings()
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise CourseSettingsError(f"{path}: not valid TOML ({error})") from None
    course = table.get("course", {})
    unknown = sorted(set(course) - {f.name for f in dataclasses.fields(CourseSettings)})
    if unknown:
        raise CourseSettingsError(f"{path}: unknown setting(s) {unknown} in [course]")
    return CourseSettings(**course)


def _setup_cell(notebook):
    for cell in notebook.cells:
        if cell.cell_type == "code" and INSTALL_LINE.search(cell.source):
            return cell
    return None


def apply_settings(notebook, settings, notebook_path):
    """Writes `settings` into `notebook` in place: the install line and the Colab link.

    A notebook without a `COURSE_LIB = "..."` line is left without a Colab link too
    (it is not a course notebook, e.g. a test fixture).
    """
    cell = _setup_cell(notebook)
    if cell is None:
        return notebook
    cell.source = INSTALL_LINE.sub(f"COURSE_LIB = {json.dumps(settings.install)}", cell.source)
    first = next((c for c in notebook.cells if c.cell_type == "markdown"), None)
    if first is not None:
        lines = [line for line in first.source.split("\n") if not line.startswith(COLAB_MARK)]
        while lines and not lines[0].strip():
            lines.pop(0)
        link = settings.colab_link(notebook_path)
        if link:
            lines = [f"{COLAB_MARK}({COLAB_BADGE})]({link})", "", *lines]
        first.source = "\n".join(lines)
    return notebook


def release_warnings(settings):
    """What `release` prints when a setting students depend on is unset."""
    if settings.install:
        return []
    return [
        f"{SETTINGS_FILE} sets no `install`: the released notebooks cannot install course_lib "
        "on Colab and say so to the student. Set it (e.g. 'course-lib @ "
        "git+https://github.com/ORG/REPO@v1') and release again before handing them out."
    ]
