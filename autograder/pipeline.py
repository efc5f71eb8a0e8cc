"""The grading pipeline: the ordered steps a submission goes through, declared in one place.

    read -> validate -> extract -> scan forbidden APIs -> plan (hidden inputs, references)
         -> write sandbox jobs -> [run all jobs in the sandbox, in parallel]
         -> score -> write reports

The trusted parent never imports or executes student code and never unpickles
anything: the sandbox returns plain arrays and the checks compare them here.
"""

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from autograder import extract as extract_mod
from autograder import notebook as nb_mod
from autograder import reports
from autograder.sandbox import Limits, write_job
from autograder.submissions import find_submissions
from autograder.suites import get_suite
from autograder.suites.base import Outcome, group_site, solution_answers

REPO = Path(__file__).resolve().parents[1]
STATE_FILE = ".grader-state.json"
OUTPUT_CAP = 4000


@dataclasses.dataclass
class TestResult:
    name: str
    score: float
    max_score: float
    output: str


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

    @property
    def score(self):
        return sum(t.score for t in self.tests)

    def general_feedback(self):
        parts = list(self.notes)
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
    course: "Course"
    work: Path
    result: StudentResult
    notebook: object = None
    extraction: object = None
    unit_problems: dict = dataclasses.field(default_factory=dict)  # unit -> message
    plan: object = None
    job_dirs: dict = dataclasses.field(default_factory=dict)  # group -> job dir
    done: bool = False  # a step decided the outcome (e.g. unreadable notebook)


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
        released = nb_mod.read_notebook(Path(release_root) / assignment / name)
        solution = nb_mod.read_notebook(Path(source_root) / assignment / name)
        points = {}
        for cell in released.cells:
            gid = nb_mod.grade_id(cell)
            if nb_mod.is_grade(cell) and gid and gid.startswith("test_"):
                points[gid[len("test_") :]] = float(nb_mod.nbgrader_meta(cell).get("points", 0))
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


# Steps before the sandbox ---------------------------------------------------------


def read_step(ctx):
    if ctx.path is None:
        ctx.done = True
        return
    try:
        ctx.notebook = nb_mod.read_notebook(ctx.path)
    except nb_mod.NotebookError as err:
        ctx.result.status = "unreadable"
        ctx.result.notes.append(str(err))
        ctx.done = True
        return
    ctx.result.notes += ctx.notebook.notes


def validate_step(ctx):
    for problem in nb_mod.validate(ctx.notebook, ctx.course.released, filename=ctx.path.name):
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
    uses = extract_mod.forbidden_uses(ctx.extraction, ctx.course.suite.FORBID)
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
    flags = extract_mod.suspicious_uses(ctx.extraction)
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
    for group in ctx.plan.groups:
        job_dir = ctx.work / f"{ctx.student}--{group.name}"
        write_job(
            job_dir,
            source=ctx.extraction.source,
            calls=group.calls,
            inputs=group.inputs,
            site=group_site(group),
            inject=group.inject,
            forbid=[n for n in ctx.course.suite.FORBID if "." in n],
            limits={**dataclasses.asdict(ctx.course.limits), **group.limits},
            hide=ctx.course.hide,
            logical_cpus=group.logical_cpus,
        )
        ctx.job_dirs[group.name] = str(job_dir)


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
        tests.append(TestResult(check.name, max_score * fraction, max_score, output))
    return tests


def zero_result(ctx):
    """Tests at zero for a submission that could not be graded (no notebook, unreadable)."""
    reason = ctx.result.notes[-1] if ctx.result.notes else "No notebook was submitted."
    if ctx.path is None and not ctx.result.notes:
        ctx.result.status = "no notebook"
    return [
        TestResult(f"{unit}", 0.0, points, reason)
        for unit, points in ctx.course.unit_points.items()
    ]


# The run -----------------------------------------------------------------------------


def _file_hash(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else "none"


def _load_state(out, force):
    path = out / STATE_FILE
    if path.exists() and not force:
        return json.loads(path.read_text())
    return {"secret": os.urandom(16).hex(), "graded": {}}


class Progress:
    """A one-line progress bar on stderr (a line per update when not a terminal)."""

    def __init__(self, total, label):
        self.total, self.label, self.count, self.start = total, label, 0, time.monotonic()
        self.tty = sys.stderr.isatty()

    def update(self, what):
        self.count += 1
        filled = int(30 * self.count / max(1, self.total))
        line = f"{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.count}/{self.total} {what} ({time.monotonic() - self.start:.0f} s)"
        print(
            ("\r" + line) if self.tty else line,
            end="" if self.tty else "\n",
            file=sys.stderr,
            flush=True,
        )
        if self.tty and self.count == self.total:
            print(file=sys.stderr)


def grade(
    assignment,
    submissions,
    out,
    *,
    jobs=2,
    force=False,
    isolation="auto",
    allow_unisolated=False,
    progress=True,
    source_root=None,
    release_root=None,
    limits=None,
    zygote=None,
    hide=(),
    late_policy=None,
):
    """Grades every submission of `assignment` in `submissions` into `out`.

    Resumable: a student whose results are recorded for the same notebook (by
    hash) is not graded again; the secret input seed is kept in OUT so a
    resumed run draws the same hidden inputs. `force=True` regrades everyone
    with a fresh secret. `hide` lists extra host paths the sandbox hides (e.g.
    the Gradescope root holding the reference). `late_policy` (an `autograder.late.LatePolicy`)
    takes points off late submissions in grades.csv by nbgrader's `timestamp.txt`.
    `isolation` is "auto" (the strongest layers the host allows), "landlock" (no namespaces)
    or "none"; a host without namespaces or Landlock plus seccomp is refused
    (`sandbox.IsolationRefused`) unless `allow_unisolated`.

    Returns:
        The list of grade rows written to OUT/grades.csv (late penalties applied).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = _load_state(out, force)
    reports.write_atomic(out / STATE_FILE, json.dumps(state))
    roots = {k: v for k, v in (("source_root", source_root), ("release_root", release_root)) if v}
    course = Course.load(assignment, secret=bytes.fromhex(state["secret"]), limits=limits, **roots)
    course.hide = tuple(str(p) for p in hide)
    notebook_name = f"{assignment}.ipynb"
    subs = find_submissions(submissions, assignment, notebook_name)
    work = Path(tempfile.mkdtemp(prefix="autograder-"))
    os.chmod(work, 0o711)
    contexts, rows = [], {}
    try:
        for sub in subs:
            digest = _file_hash(sub.path)
            previous = state["graded"].get(sub.student)
            if (
                previous
                and previous["hash"] == digest
                and (out / sub.student / "results.json").exists()
            ):
                rows[sub.student] = {**previous["row"], "timestamp": _timestamp_text(sub.path)}
                continue
            result = StudentResult(sub.student, assignment, max_score=course.max_score)
            if sub.problem:
                result.notes.append(sub.problem)
                result.status = "no notebook"
            ctx = Context(assignment, sub.student, sub.path, course, work, result)
            for step in PREPARE_STEPS:
                step(ctx)
                if ctx.done:
                    break
            ctx.digest = digest
            contexts.append(ctx)
        bar = Progress(len(contexts), f"grading {assignment}") if progress and contexts else None
        ready = [c for c in contexts if not c.done]
        for ctx in contexts:
            if ctx.done:
                ctx.result.tests = zero_result(ctx)
                _finish(ctx, out, state, rows, bar)
        if ready:
            sandbox = {"jobs": jobs, "isolation": isolation, "allow_unisolated": allow_unisolated}
            _run_sandbox(ready, out, state, rows, bar, sandbox, course.hide, zygote)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    final = reports.apply_late_policy(rows.values(), late_policy)
    reports.write_grades_csv(out, final)
    return final


def _run_sandbox(ready, out, state, rows, bar, sandbox, hide, zygote):
    from autograder.sandbox import Zygote

    by_dir = {os.path.realpath(d): (ctx, g) for ctx in ready for g, d in ctx.job_dirs.items()}
    pending = {id(ctx): dict() for ctx in ready}

    def on_done(job_result):
        ctx, group = by_dir[os.path.realpath(job_result.job_dir)]
        pending[id(ctx)][group] = job_result
        if len(pending[id(ctx)]) == len(ctx.job_dirs):
            score_step(ctx, pending[id(ctx)])
            _finish(ctx, out, state, rows, bar)

    owned = zygote is None
    zygote = zygote or Zygote(**sandbox, hide=hide)
    try:
        if zygote.warning:
            print(zygote.warning, file=sys.stderr)
        zygote.run_many(list(by_dir), on_done=on_done)
    finally:
        if owned:
            zygote.close()


def _timestamp_text(notebook_path):
    from autograder.late import read_timestamp

    stamp = read_timestamp(Path(notebook_path)) if notebook_path else None
    return stamp.isoformat() if stamp else ""


def _finish(ctx, out, state, rows, bar):
    result = ctx.result
    reports.write_student(out, result)
    row = {
        "student": result.student,
        "assignment": result.assignment,
        "score": round(result.score, 4),
        "max_score": result.max_score,
        "status": result.status,
        "isolation": result.isolation,
        "timestamp": _timestamp_text(ctx.path),
        "notes": " | ".join(n.splitlines()[0] for n in result.notes)[:300],
    }
    rows[result.student] = row
    state["graded"][result.student] = {"hash": ctx.digest, "row": row}
    reports.write_atomic(out / STATE_FILE, json.dumps(state))
    if bar:
        bar.update(f"{result.student}: {result.score:.1f}/{result.max_score:.0f}")
