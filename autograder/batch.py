"""Grade a class: every submission of one assignment through the pipeline, resumably.

    python -m autograder grade a1_attention submitted/ --out build/grades/a1

`grade` reads the submissions, runs the steps of `autograder.pipeline` before the sandbox
for each, runs every job in the sandbox in parallel, scores each student as soon as their
jobs are back, and writes the reports (autograder.reports.results).
"""

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from autograder import regrade
from autograder.course import Course
from autograder.grading.bundles import runs_per_student
from autograder.grading.fingerprint import unit_fingerprints
from autograder.pipeline import (
    PREPARE_STEPS,
    Context,
    StudentResult,
    plan_step,
    score_step,
    zero_result,
)
from autograder.reports import exports
from autograder.reports import results as reports
from autograder.submissions import find_submissions

STATE_FILE = ".grader-state.json"


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
    students=(),
    units=(),
    stream=None,
):
    """Grades every submission of `assignment` in `submissions` into `out`.

    Resumable: a student whose results are recorded for the same notebook (by
    hash) and the same grading of each unit (autograder.grading.fingerprint) is not
    graded again; after a change of a unit's suite, support files, reference code,
    answer key or points, that unit is regraded (autograder.regrade). The secret input
    seed is kept in OUT so a resumed run draws the same hidden inputs. `students` /
    `units` regrade only these students / units (on the same hidden inputs); every
    regrade is printed to `stream` (default stdout) and logged in OUT/regrades.csv.
    `force=True` regrades everyone with a fresh secret. `hide` lists extra host paths the sandbox hides (e.g.
    the Gradescope root holding the reference). `late_policy` (an `autograder.reports.late.LatePolicy`)
    takes points off late submissions in grades.csv by nbgrader's `timestamp.txt`.
    `isolation` is "auto" (the strongest layers the host allows), "landlock" (no namespaces)
    or "none"; a host without namespaces or Landlock plus seccomp is refused
    (`sandbox.IsolationRefused`) unless `allow_unisolated`.

    Returns:
        The list of grade rows written to OUT/grades.csv (late penalties applied).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    owned = zygote is None
    if owned:  # TensorFlow starts in the zygote while this process prepares the jobs
        from autograder.sandbox import Zygote

        zygote = Zygote(
            jobs=jobs,
            isolation=isolation,
            allow_unisolated=allow_unisolated,
            hide=tuple(str(p) for p in hide),
            wait=False,
        )
    try:
        request = regrade.Request(tuple(students), tuple(units))
        return _grade(
            assignment, submissions, out, zygote, jobs, force, progress, source_root,
            release_root, limits, hide, late_policy, request, stream or sys.stdout,
        )  # fmt: skip
    finally:
        if owned:
            zygote.close()


def _grade(
    assignment, submissions, out, zygote, jobs, force, progress, source_root, release_root,
    limits, hide, late_policy, request, stream,
):  # fmt: skip
    state = _load_state(out, force)
    reports.write_atomic(out / STATE_FILE, json.dumps(state))
    roots = {k: v for k, v in (("source_root", source_root), ("release_root", release_root)) if v}
    course = Course.load(assignment, secret=bytes.fromhex(state["secret"]), limits=limits, **roots)
    course.hide = tuple(str(p) for p in hide)
    notebook_name = f"{assignment}.ipynb"
    subs = find_submissions(submissions, assignment, notebook_name)
    request.check(course.unit_points)
    missing = sorted(set(request.students) - {s.student for s in subs})
    if missing:
        raise ValueError(f"No submission for {', '.join(missing)} in {submissions}.")
    course.parts = runs_per_student(len(subs), jobs)
    plan_step(Context(assignment, "", None, course, out, None))  # the run's plan, once
    fingerprints = unit_fingerprints(course, course.plan)
    # Without a notebook a grade is 0 of each unit's points, whatever the suite does.
    points_only = {u: f"points {p!r}" for u, p in course.unit_points.items()}
    work = Path(tempfile.mkdtemp(prefix="autograder-"))
    os.chmod(work, 0o711)
    contexts, rows, regraded = [], {}, []
    try:
        for sub in subs:
            digest = _file_hash(sub.path)
            previous = state["graded"].get(sub.student)
            has_results = (out / sub.student / "results.json").exists()
            prints = fingerprints if sub.path else points_only
            todo, reason = regrade.decide(
                sub.student, digest, previous, prints, has_results, request
            )
            if force:
                reason = "--force: every unit, on new hidden inputs"
            if todo == set():
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
            ctx.digest, ctx.regrade = digest, (todo, reason, prints, regraded)
            contexts.append(ctx)
        bar = Progress(len(contexts), f"grading {assignment}") if progress and contexts else None
        ready = [c for c in contexts if not c.done]
        for ctx in contexts:
            if ctx.done:
                ctx.result.tests = zero_result(ctx)
                _finish(ctx, out, state, rows, bar)
        if ready:
            _run_sandbox(ready, out, state, rows, bar, zygote)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    regrade.report(out, regraded, stream)
    final = reports.apply_late_policy(rows.values(), late_policy)
    reports.write_grades_csv(
        out, final, units=list(course.unit_points), manual_max=course.manual_max
    )
    exports.write_check_matrix(out)
    exports.write_canvas(out, final, assignment)
    return final


def _run_sandbox(ready, out, state, rows, bar, zygote):
    from autograder.sandbox import protocol, split_bundle

    runs = {os.path.realpath(d): (ctx, groups) for ctx in ready for d, groups in ctx.runs}
    pending = {id(ctx): dict() for ctx in ready}
    reruns = []

    def record(ctx, group, job_result):
        pending[id(ctx)][group] = job_result
        if len(pending[id(ctx)]) == len(ctx.job_dirs):
            score_step(ctx, pending[id(ctx)])
            _finish(ctx, out, state, rows, bar)

    def on_done(job_result):
        ctx, groups = runs[os.path.realpath(job_result.job_dir)]
        if len(groups) == 1:
            return record(ctx, groups[0], job_result)
        specs = {g: protocol.read_job(ctx.job_dirs[g]) for g in groups}
        finished, unfinished = split_bundle(job_result, specs)
        for group in unfinished:  # run alone, as if there had been no bundle
            runs[os.path.realpath(ctx.job_dirs[group])] = (ctx, [group])
            reruns.append(ctx.job_dirs[group])
        for group, result in finished.items():
            record(ctx, group, result)

    if zygote.ready().warning:
        print(zygote.warning, file=sys.stderr)
    zygote.run_many(list(runs), on_done=on_done)
    while reruns:
        batch, reruns[:] = list(reruns), []
        zygote.run_many(batch, on_done=on_done)


def _timestamp_text(notebook_path):
    from autograder.reports.late import read_timestamp

    stamp = read_timestamp(Path(notebook_path)) if notebook_path else None
    return stamp.isoformat() if stamp else ""


def _merge_recorded(ctx, out, state):
    """Keeps the recorded units not regraded, notes the changes; returns the unit fingerprints."""
    todo, reason, fingerprints, regraded = ctx.regrade
    result, recorded = ctx.result, state["graded"].get(ctx.student, {}).get("units", {})
    if not (out / ctx.student / "results.json").exists():
        return dict(fingerprints)
    old = regrade.recorded_tests(out, ctx.student)
    if todo is not None:
        result.tests = regrade.merge(result.tests, old, todo)
    regraded += regrade.changes(ctx.student, old, result.tests, todo, reason)
    if todo is None:
        return dict(fingerprints)
    return {**recorded, **{u: fingerprints[u] for u in todo}}


def _finish(ctx, out, state, rows, bar):
    result = ctx.result
    units = _merge_recorded(ctx, out, state)
    reports.write_student(out, result, notebook=ctx.path, released=ctx.course.released)
    row = {
        "student": result.student,
        "assignment": result.assignment,
        "score": round(result.score, 4),
        "max_score": result.max_score,
        "manual_pending": result.manual_pending,
        "status": result.status,
        "isolation": result.isolation,
        "timestamp": _timestamp_text(ctx.path),
        "notes": " | ".join(n.splitlines()[0] for n in result.notes)[:300],
        "units": {u: round(v, 4) for u, v in regrade.unit_scores(result.tests).items()},
    }
    rows[result.student] = row
    state["graded"][result.student] = {"hash": ctx.digest, "row": row, "units": units}
    reports.write_atomic(out / STATE_FILE, json.dumps(state))
    if bar:
        bar.update(f"{result.student}: {result.score:.1f}/{result.max_score:.0f}")
