"""The grading pipeline: the ordered steps a submission goes through, declared in one place.

    read -> validate -> extract -> scan forbidden APIs -> plan (hidden inputs, references)
         -> write sandbox jobs -> [run all jobs in the sandbox, in parallel]
         -> score -> write reports

`autograder.batch.grade` runs a whole class through these steps (resumably); `Course`
(autograder.course) is what the steps know about the assignment.

The trusted parent never imports or executes student code and never unpickles
anything: the sandbox returns plain arrays and the checks compare them here.
"""

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from autograder.grading import bundles
from autograder.grading.plan import Outcome
from autograder.grading.site import group_site
from autograder.notebook import extract as extract_mod
from autograder.notebook import manual as manual_mod
from autograder.notebook import read as read_mod
from autograder.notebook import scan
from autograder.notebook.validate import validate
from autograder.sandbox import write_bundle, write_job

OUTPUT_CAP = 4000


@dataclasses.dataclass
class TestResult:
    name: str
    score: float
    max_score: float
    output: str
    unit: str = ""  # the graded unit (a solution cell's grade_id) the test belongs to


@dataclasses.dataclass
class StudentResult:
    student: str
    assignment: str
    status: str = "graded"
    tests: list[TestResult] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    printed: str = ""
    max_score: float = 0.0
    flags: list[str] = dataclasses.field(default_factory=list)  # for instructor review
    isolation: str = ""  # the sandbox layers the code ran under, e.g. "landlock+seccomp+uid"
    isolation_layers: list[str] = dataclasses.field(default_factory=list)
    manual_pending: float = 0.0  # points of manually graded answers left to a person
    manual_note: str = ""  # "manual: pending N points ..." (autograder.notebook.manual)
    manual_unanswered: list[str] = dataclasses.field(default_factory=list)  # left as released

    @property
    def score(self):
        return sum(t.score for t in self.tests)

    def general_feedback(self, manual=True):
        """The notes for the student; `manual=False` leaves out the manual-grading line."""
        parts = [self.manual_note] if manual and self.manual_note else []
        parts += self.notes
        if self.printed.strip():
            parts.append(
                "What your code printed while being graded (cut to the last lines):\n"
                + self.printed[-OUTPUT_CAP:]
            )
        return "\n\n".join(parts)


@dataclasses.dataclass
class Context:
    """Everything known about one submission as it moves through the steps."""

    assignment: str
    student: str
    path: Path | None
    course: object  # an autograder.course.Course
    work: Path
    result: StudentResult
    notebook: object = None
    extraction: object = None
    unit_problems: dict = dataclasses.field(default_factory=dict)  # unit -> message
    plan: object = None
    job_dirs: dict = dataclasses.field(default_factory=dict)  # group -> job dir
    runs: list = dataclasses.field(default_factory=list)  # (job dir, [group names]) to run
    done: bool = False  # a step decided the outcome (e.g. unreadable notebook)


# Steps before the sandbox ---------------------------------------------------------


def read_step(ctx):
    if ctx.path is None:
        ctx.done = True
        return
    try:
        ctx.notebook = read_mod.read_notebook(ctx.path)
    except read_mod.NotebookError as err:
        ctx.result.status = "unreadable"
        ctx.result.notes.append(str(err))
        ctx.done = True
        return
    ctx.result.notes += ctx.notebook.notes
    pending = manual_mod.pending(ctx.notebook, ctx.course.released)
    ctx.result.manual_pending, ctx.result.manual_note = pending.points, pending.note()
    ctx.result.manual_unanswered = list(pending.unanswered)


def validate_step(ctx):
    for problem in validate(ctx.notebook, ctx.course.released, filename=ctx.path.name):
        ctx.result.notes.append(problem.message)


def extract_step(ctx):
    given = getattr(ctx.course.suite, "GIVEN_PACKAGES", ())
    ctx.extraction = extract_mod.extract(ctx.notebook, ctx.course.released, given)
    ctx.result.notes += ctx.extraction.notes
    for unit, message in ctx.extraction.syntax_errors.items():
        ctx.unit_problems[unit] = (
            f"The cell for {unit} does not run: {message}. Fix the syntax error and resubmit."
        )
    for unit in ctx.course.unit_points:
        if unit not in ctx.extraction.units_present and unit not in ctx.unit_problems:
            ctx.unit_problems[unit] = (
                f"No cell defining {unit} was found: was the graded cell deleted or renamed?"
            )


def forbidden_step(ctx):
    uses = scan.forbidden_uses(ctx.extraction, ctx.course.suite.FORBID)
    for unit, names in uses.items():
        if unit in ctx.course.unit_points:
            ctx.unit_problems.setdefault(
                unit,
                f"{unit} uses {', '.join(names)}, which this assignment asks you to implement yourself.",
            )
        else:
            ctx.result.notes.append(
                f"Cell {unit} uses {', '.join(names)}, which is not allowed in this assignment."
            )
    flags = scan.suspicious_uses(ctx.extraction)
    if flags:  # no points are taken off: an instructor looks at it
        found = "; ".join(f"cell {label}: {', '.join(names)}" for label, names in flags.items())
        ctx.result.flags = sorted({name for names in flags.values() for name in names})
        ctx.result.notes.append(f"Flagged for instructor review (no points taken off): {found}.")


def plan_step(ctx):
    """Hidden inputs and reference outputs, drawn once per run from the secret seed.

    Every student of a run gets the same hidden inputs (fair, and the references
    are computed once instead of once per student); a new run with `--force`
    draws new ones, and a resumed run keeps them (the secret is in OUT).
    """
    course = ctx.course
    if course.plan is None:
        seed = int.from_bytes(hashlib.sha256(course.secret).digest()[:8], "little")
        course.plan = course.suite.plan(np.random.default_rng(seed), course.answers)
    ctx.plan = course.plan


def write_jobs_step(ctx):
    """One job dir per group; groups that can share a sandbox go in a bundle (grading/bundles.py).

    `ctx.runs` lists what to run: `(dir, [group names])`, a bundle when it names several.
    `ctx.job_dirs` keeps each group's own job dir (inside its bundle), run alone if the
    bundle does not finish it.
    """
    course = ctx.course
    if course.sites is None:
        course.sites = {g.name: group_site(g) for g in ctx.plan.groups}
    runs = bundles.chains(ctx.plan.groups, course.sites, course.unit_points)
    runs = bundles.split(runs, course.parts)
    for run in runs:
        base = ctx.work / f"{ctx.student}--{run[0].name}"
        for group in run:
            job_dir = base / group.name if len(run) > 1 else base
            write_job(
                job_dir,
                source=ctx.extraction.source,
                calls=group.calls,
                inputs=group.inputs,
                site=course.sites[group.name],
                inject=group.inject,
                forbid=[n for n in course.suite.FORBID if "." in n],
                limits={**dataclasses.asdict(course.limits), **group.limits},
                hide=course.hide,
                logical_cpus=group.logical_cpus,
            )
            ctx.job_dirs[group.name] = str(job_dir)
        if len(run) > 1:
            write_bundle(base, [g.name for g in run])
        ctx.runs.append((str(base), [g.name for g in run]))


PREPARE_STEPS = (read_step, validate_step, extract_step, forbidden_step, plan_step, write_jobs_step)


# Steps after the sandbox -----------------------------------------------------------


def score_step(ctx, job_results):
    arrays, errors, status, group_of, object_of, printed = {}, {}, {}, {}, {}, []
    failed_cells = set()
    for group in ctx.plan.groups:
        res = job_results[group.name]
        status[group.name] = (res.status, res.exit_detail)
        for c in group.calls:
            group_of[c["id"]] = group.name
            if c.get("object"):
                object_of[c["id"]] = c["object"]
        arrays.update(res.arrays)
        errors.update({k: v for k, v in res.errors.items() if not k.startswith("__")})
        if "__source__" in res.errors:  # failures in solution cells (helpers: our extraction's)
            lines = res.errors["__source__"].splitlines()
            failed_cells.update(x for x in lines if not x.partition(":")[0][5:].isdigit())
        if "__strays__" in res.errors:
            ctx.result.notes.append(
                "Processes that your cells started and left running were stopped before "
                "grading (graded code must not depend on them)."
            )
        if "__forbidden__" in res.errors:
            ctx.result.notes.append(
                f"Forbidden APIs were called at run time: {res.errors['__forbidden__']}."
            )
        if res.status != "ok":
            ctx.result.notes.append(
                f"The sandbox stopped part of the grading ({group.name}): {res.status}, {res.exit_detail}"
            )
        printed += [res.stdout, res.stderr]
        ctx.result.seconds += res.wall_seconds
        ctx.result.isolation_layers = res.isolation_applied
        ctx.result.isolation = isolation_summary(res.isolation_applied)
    ctx.result.printed = "".join(p for p in printed if p)
    if failed_cells:
        ctx.result.notes.append(
            "Running your code raised an error (the rest of that cell was skipped; "
            "other cells still ran): " + "; ".join(sorted(failed_cells))[:600]
        )
    outcome = Outcome(arrays, errors, group_of, status, object_of)
    ctx.result.tests = score_checks(ctx, lambda check: check.evaluate(outcome))


def isolation_summary(applied) -> str:
    """One word per isolation layer a job reported, e.g. "namespaces+landlock+seccomp+uid"."""
    words = [
        ("namespaces", any(a.startswith("pid_namespace") for a in applied)),
        ("landlock", any(a.startswith("landlock") for a in applied)),
        ("seccomp", any(a.startswith("seccomp") for a in applied)),
        ("uid", any(a.startswith("uid_drop") for a in applied)),
    ]
    if not any(on for _, on in words[:3]):
        return "unisolated"
    return "+".join(w for w, on in words if on)


def score_checks(ctx, evaluate):
    weights = {}
    for check in ctx.plan.checks if ctx.plan else []:
        weights[check.unit] = weights.get(check.unit, 0.0) + check.weight
    tests = []
    for check in ctx.plan.checks if ctx.plan else []:
        max_score = ctx.course.unit_points.get(check.unit, 0.0) * check.weight / weights[check.unit]
        if check.unit in ctx.unit_problems:
            fraction, output = 0.0, ctx.unit_problems[check.unit]
        else:
            verdict = evaluate(check)
            fraction, output = verdict.fraction, ("Passed." if verdict.passed else verdict.message)
        tests.append(TestResult(check.name, max_score * fraction, max_score, output, check.unit))
    return tests


def zero_result(ctx):
    """Tests at zero for a submission that could not be graded (no notebook, unreadable)."""
    reason = ctx.result.notes[-1] if ctx.result.notes else "No notebook was submitted."
    if ctx.path is None and not ctx.result.notes:
        ctx.result.status = "no notebook"
    return [
        TestResult(f"{unit}", 0.0, points, reason, unit)
        for unit, points in ctx.course.unit_points.items()
    ]
