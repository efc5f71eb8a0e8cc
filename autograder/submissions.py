"""Finding the submissions: nbgrader's submitted/ layout or a folder of <student>.ipynb files."""

import dataclasses
import re
from pathlib import Path

STUDENT_ID = re.compile(r"^[A-Za-z0-9_.@+-]{1,100}$")


@dataclasses.dataclass
class Submission:
    student: str
    path: Path | None  # None: the student has a folder but no notebook
    problem: str = ""  # why there is no gradable notebook


class SubmissionsError(ValueError):
    """The submissions folder is missing or has no recognisable layout."""


def find_submissions(root, assignment, notebook_name):
    """Lists one `Submission` per student, sorted by student id.

    Accepts `root/<student>/<assignment>/*.ipynb` (nbgrader's `submitted/`) or
    `root/<student>.ipynb`. A student folder without a notebook yields a
    `Submission` with `path=None` and a reason (graded zero, not skipped).
    """
    root = Path(root)
    if not root.is_dir():
        raise SubmissionsError(
            f"No submissions folder at {root}. Expected nbgrader's layout "
            f"{root}/<student>/{assignment}/{notebook_name} or a folder of <student>.ipynb files."
        )
    found = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            found.append(Submission(entry.stem, entry))
        elif entry.is_dir():
            found.append(_from_student_dir(entry, assignment, notebook_name))
    if not found:
        raise SubmissionsError(
            f"{root} is empty. Expected {root}/<student>/{assignment}/{notebook_name} "
            "(nbgrader's submitted/ folder) or <student>.ipynb files."
        )
    for sub in found:
        if not STUDENT_ID.match(sub.student):
            sub.problem = (
                f"Student id {sub.student!r} has characters other than letters, digits and ._@+-"
            )
            sub.path = None
    return found


def _from_student_dir(folder, assignment, notebook_name):
    candidates = [folder / assignment, folder]
    for directory in candidates:
        expected = directory / notebook_name
        if expected.is_file():
            return Submission(folder.name, expected)
    notebooks = sorted(p for d in candidates if d.is_dir() for p in d.glob("*.ipynb"))
    if len(notebooks) == 1:
        return Submission(folder.name, notebooks[0])  # renamed: validate() reports the name
    if notebooks:
        names = ", ".join(p.name for p in notebooks)
        return Submission(
            folder.name, None, f"Several notebooks ({names}) and none named {notebook_name}."
        )
    return Submission(
        folder.name, None, f"No notebook found in {folder}/{assignment}: expected {notebook_name}."
    )
