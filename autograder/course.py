"""What the grader knows about one assignment, read once per run: `Course.load`.

The released notebook (its test cells give each unit's points), the concept-question
keys from the solution notebook, the assignment's suite, the run's secret and limits.
"""

import dataclasses
from pathlib import Path

from autograder.assignments.registry import get_suite
from autograder.grading.checks import solution_answers
from autograder.notebook.read import grade_id, is_grade, nbgrader_meta, read_notebook
from autograder.sandbox import Limits

REPO = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class Course:
    """What the grader needs to know about one assignment, read once."""

    assignment: str
    released: object
    answers: dict
    unit_points: dict
    suite: object
    secret: bytes
    limits: Limits
    hide: tuple = ()  # extra host paths hidden from every sandbox job
    plan: object = None  # the suite's plan for this run, shared by every student
    sites: dict | None = None  # group -> its jail site files, for the plan (write_jobs_step)
    parts: int = 1  # jobs per student to keep the sandbox slots busy (grading/bundles.py)

    @classmethod
    def load(
        cls,
        assignment,
        *,
        secret,
        source_root=REPO / "solutions",
        release_root=REPO / "assignments",
        limits=None,
    ):
        name = f"{assignment}.ipynb"
        released = read_notebook(Path(release_root) / assignment / name)
        solution = read_notebook(Path(source_root) / assignment / name)
        points = {}
        for cell in released.cells:
            gid = grade_id(cell)
            if is_grade(cell) and gid and gid.startswith("test_"):
                points[gid[len("test_") :]] = float(nbgrader_meta(cell).get("points", 0))
        return cls(
            assignment,
            released,
            solution_answers(solution.nb),
            points,
            get_suite(assignment),
            secret,
            limits or Limits(),
        )

    @property
    def max_score(self):
        return sum(self.unit_points.values())
