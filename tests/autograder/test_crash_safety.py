"""A grading run killed with SIGKILL part-way resumes where it stopped, with the same grades.

One class of a1 submissions (two reference notebooks, the released stub, a few catalog
bugs) is graded with `python -m autograder grade` in a subprocess. Once at least two (but
not all) students have results the grader is SIGKILLed; its zygote and sandboxes must die
with it. Running the same command again completes the class without regrading the
students recorded before the kill, and every score and per-test pass/fail pattern equals
that of an uninterrupted run into another OUT (with its own, different, secret).
"""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.assignments.a1_attention.catalog.bugs import BUGS
from autograder.catalog import REPO, write_submission

pytestmark = pytest.mark.slow
A1 = "a1_attention"
CLASS_BUGS = (
    "bug_softmax_query_axis",
    "bug_no_scale",
    "bug_mask_inverted",
    "bug_causal_triu",
    "bug_sa_no_bias",
)
STUDENTS = ("ref_a", "ref_b", "stub", *CLASS_BUGS)
ZYGOTE = "autograder.sandbox.zygote"


def _command(subs, out):
    return [
        sys.executable,
        "-m",
        "autograder",
        "grade",
        A1,
        str(subs),
        "--out",
        str(out),
        "--jobs",
        "2",
        "--quiet",
    ]


def _proc_info(pid):
    """`(ppid, state, cmdline)` of a live process, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], cmdline


def _descendants(root):
    """`{pid: cmdline}` of every live descendant of `root`."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (info := _proc_info(int(entry.name))):
            children.setdefault(info[0], []).append((int(entry.name), info[2]))
    found, todo = {}, [root]
    while todo:
        for pid, cmdline in children.get(todo.pop(), []):
            found[pid] = cmdline
            todo.append(pid)
    return found


def _alive(pid, cmdline):
    """The process still runs (not a zombie, and not a new process reusing the pid)."""
    info = _proc_info(pid)
    return info is not None and info[1] != "Z" and info[2] == cmdline


def _done(out):
    return sorted(p.parent.name for p in Path(out).glob("*/results.json"))


def _recorded(out):
    state = Path(out) / ".grader-state.json"
    return sorted(json.loads(state.read_text())["graded"]) if state.exists() else []


def _summary(out):
    """`{student: (score, [(test, score, passed)])}` from the results.json files.

    Test names carry the sizes of the hidden inputs, drawn from the run's secret: their
    digits are blanked so that runs with different secrets compare.
    """
    summary = {}
    for student in _done(out):
        res = json.loads((Path(out) / student / "results.json").read_text())
        pattern = [
            (re.sub(r"\d+", "#", t["name"]), t["score"], t["score"] == t["max_score"])
            for t in res["tests"]
        ]
        summary[student] = (res["score"], pattern)
    return summary


def _grades_csv(out):
    with open(Path(out) / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {r["student"]: (r["score"], r["max_score"], r["status"]) for r in rows}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    subs = tmp_path_factory.mktemp("class")
    out, fresh = tmp_path_factory.mktemp("out"), tmp_path_factory.mktemp("fresh")
    write_submission(subs, "ref_a", A1)
    write_submission(subs, "ref_b", A1)
    write_submission(subs, "stub", A1, kind="released")
    for name in CLASS_BUGS:
        write_submission(subs, name, A1, BUGS[name][0])
    figures = {}

    # 1. Start, and SIGKILL the grader once two students have results.
    start = time.monotonic()
    proc = subprocess.Popen(
        _command(subs, out),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        tree = {}
        while len(_done(out)) < 2:
            assert proc.poll() is None, f"the grader exited early ({proc.returncode})"
            assert time.monotonic() - start < 120, "no results after 120 s"
            tree.update(_descendants(proc.pid))
            time.sleep(0.02)
        tree.update(_descendants(proc.pid))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    figures["killed_after"] = time.monotonic() - start
    recorded = _recorded(out)
    secret = json.loads((out / ".grader-state.json").read_text())["secret"]
    with_results = _done(out)
    mtimes = {s: (out / s / "results.json").stat().st_mtime_ns for s in recorded}

    # 2. The grader's descendants (zygote, supervisors, jobs) die with it.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        left = {pid: cmd for pid, cmd in tree.items() if _alive(pid, cmd)}
        if not left:
            break
        time.sleep(0.1)

    # 3. Resume with the same command, while an uninterrupted run grades the class into
    # another OUT (with a fresh secret) next to it.
    start = time.monotonic()
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    resume = subprocess.Popen(_command(subs, out), cwd=REPO, **pipes)
    clean_proc = subprocess.Popen(_command(subs, fresh), cwd=REPO, **pipes)
    outputs = [p.communicate(timeout=170) for p in (resume, clean_proc)]
    resumed, clean = (
        subprocess.CompletedProcess(p.args, p.returncode, *o)
        for p, o in zip((resume, clean_proc), outputs, strict=True)
    )
    figures["resume_and_clean_wall"] = time.monotonic() - start
    print(f"\nclass size {len(STUDENTS)}; {figures}; recorded before the kill: {recorded}")
    return {
        "subs": subs,
        "out": out,
        "fresh": fresh,
        "tree": tree,
        "left": left,
        "recorded": recorded,
        "secret": secret,
        "with_results": with_results,
        "mtimes": mtimes,
        "resumed": resumed,
        "clean": clean,
    }


def test_killed_part_way(runs):
    assert 2 <= len(runs["with_results"]) < len(STUDENTS), runs["with_results"]
    # Results are written before the state records them: a student may be in between.
    assert set(runs["recorded"]) <= set(runs["with_results"])
    assert len(runs["recorded"]) >= 1


def test_zygote_and_sandboxes_die_with_the_grader(runs):
    zygotes = [pid for pid, cmd in runs["tree"].items() if ZYGOTE in cmd]
    assert zygotes, f"no zygote seen under the grader: {runs['tree']}"
    assert runs["left"] == {}, f"still running after the kill: {runs['left']}"
    # And no zygote anywhere on the machine is a leftover of this grader's tree.
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) in runs["tree"]:
            assert not _alive(int(entry.name), runs["tree"][int(entry.name)]), entry.name


def test_resumed_run_completes(runs):
    assert runs["resumed"].returncode == 0, runs["resumed"].stderr[-3000:]
    assert _done(runs["out"]) == sorted(STUDENTS)
    assert _recorded(runs["out"]) == sorted(STUDENTS)
    assert set(_grades_csv(runs["out"])) == set(STUDENTS)


def test_resume_keeps_the_secret(runs):
    """The resumed students draw the same hidden inputs as those graded before the kill."""
    state = json.loads((runs["out"] / ".grader-state.json").read_text())
    assert state["secret"] == runs["secret"]


def test_students_recorded_before_the_kill_not_regraded(runs):
    for student, mtime in runs["mtimes"].items():
        now = (runs["out"] / student / "results.json").stat().st_mtime_ns
        assert now == mtime, f"{student} was graded again"


def test_resumed_grades_equal_an_uninterrupted_run(runs):
    assert runs["clean"].returncode == 0, runs["clean"].stderr[-3000:]
    secrets = [
        json.loads((runs[k] / ".grader-state.json").read_text())["secret"] for k in ("out", "fresh")
    ]
    assert secrets[0] != secrets[1]
    assert _grades_csv(runs["out"]) == _grades_csv(runs["fresh"])
    assert _summary(runs["out"]) == _summary(runs["fresh"])


def test_grades_are_the_expected_ones(runs):
    """The comparison above is not vacuous: full marks, zero and partial scores are there."""
    scores = {s: float(v[0]) for s, v in _grades_csv(runs["out"]).items()}
    assert scores["ref_a"] == scores["ref_b"] == 20.0
    assert scores["stub"] == 0.0
    for name in CLASS_BUGS:
        assert 0.0 < scores[name] < 20.0, (name, scores[name])
