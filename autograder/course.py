"""What the grader knows about one assignment, read once per run: `Course.load`.

The released notebook (its test cells give each unit's points; its manually graded cells
are left to a person, `manual_points`), the concept-question
keys from the solution notebook, the assignment's suite, the run's secret and limits.
"""

import dataclasses
from pathlib import Path

from autograder.assignments.registry import get_suite
from autograder.grading.checks import solution_answers
from autograder.notebook.manual import manual_points
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
    manual_points: dict = dataclasses.field(
        default_factory=dict
    )  # grade_id -> points (a person grades)

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
            manual_points=manual_points(released),
        )

    @property
    def max_score(self):
        """The points the grader gives (manually graded answers excluded)."""
        return sum(self.unit_points.values())

    @property
    def manual_max(self):
        """The points of the manually graded answers, left to a person."""
        return sum(self.manual_points.values())
