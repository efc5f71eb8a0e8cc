"""The zygote's start-up saving, and the degraded mode where namespaces are refused."""

import shutil
import statistics
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from autograder.sandbox import IsolationRefused, Zygote, write_job
from autograder.sandbox.protocol import DENY_ENV
from tests.autograder import hosts

SOURCE = textwrap.dedent(
    """
    import signal
    from keras import ops

    def softmax(x):
        return ops.softmax(x, axis=-1)

    def spin(x):
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        while True:
            pass
    """
)


def _softmax64(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _job(path, x, calls=("softmax",), **kwargs):
    calls = [{"id": c, "kind": "function", "name": c, "args": [{"array": "x"}]} for c in calls]
    return write_job(path, source=SOURCE, calls=calls, inputs={"x": x}, **kwargs)


@pytest.mark.slow
def test_zygote_fork_beats_cold_start(tmp_path, rng):
    """Is a job forked from the zygote far cheaper than a cold `import tensorflow`?"""
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", "import tensorflow"], check=True, capture_output=True)
    cold = time.monotonic() - start
    x = rng.normal(size=(3, 7)).astype(np.float32)
    per_job = []
    with Zygote(jobs=1) as z:
        for i in range(5):
            job = _job(tmp_path / f"j{i}", x)
            start = time.monotonic()
            result = z.run(job)
            per_job.append(time.monotonic() - start)
            np.testing.assert_allclose(result.arrays["softmax"], _softmax64(x), atol=1e-6)
    median = statistics.median(per_job)
    print(f"cold import tensorflow: {cold:.2f} s; zygote start-up {z.import_seconds:.2f} s; "
          f"per job (parent round trip, median of 5): {median:.3f} s")  # fmt: skip
    assert median < cold / 4


def test_without_namespaces_jobs_run_under_landlock_and_seccomp(tmp_path, rng, monkeypatch):
    """When unshare is refused, do jobs run under Landlock + seccomp + uid, and say so?"""
    monkeypatch.setenv(DENY_ENV, "unshare")
    x = rng.normal(size=(2, 5)).astype(np.float32)
    with Zygote(jobs=2) as z:
        assert z.mode == "landlock" and z.isolation == "landlock+seccomp+uid"
        assert "namespaces" in z.warning and "pid_namespace" in z.warning
        honest = _job(tmp_path / "honest", x)
        spinning = _job(tmp_path / "spin", x, calls=("softmax", "spin"),
                        limits={"wall_seconds": 2})  # fmt: skip
        ok, timed_out = z.run_many([honest, spinning])
    assert ok.status == "ok", (ok.errors, ok.stderr)
    np.testing.assert_allclose(ok.arrays["softmax"], _softmax64(x), atol=1e-6)
    missing = " ".join(ok.isolation_missing)
    for name in ("pid_namespace", "network_namespace", "mount_namespace", "out_tmpfs"):
        assert name in missing
    applied = " ".join(ok.isolation_applied)
    assert not any(a.endswith("_namespace") for a in ok.isolation_applied)
    for name in ("landlock (ABI", "seccomp (", "uid_drop (uid", "process sweep"):
        assert name in applied
    assert timed_out.status == "timeout"
    np.testing.assert_allclose(timed_out.arrays["softmax"], _softmax64(x), atol=1e-6)


@pytest.mark.parametrize("deny", ["unshare,landlock", "unshare,seccomp"])
def test_refuses_a_host_without_namespaces_or_landlock_and_seccomp(monkeypatch, deny):
    """With neither namespaces nor both Landlock and seccomp, does the zygote refuse to grade?"""
    monkeypatch.setenv(DENY_ENV, deny)
    with pytest.raises(IsolationRefused) as refused:
        Zygote(jobs=1)
    message = str(refused.value)
    assert "--allow-unisolated" in message and "namespaces" in message
    assert deny.split(",")[1] in message  # says which layer the host lacks


def test_allow_unisolated_grades_and_reports_it(tmp_path, rng):
    """Does --allow-unisolated (isolation='none') run jobs, and report them as unisolated?"""
    x = rng.normal(size=(2, 5)).astype(np.float32)
    with pytest.raises(IsolationRefused):
        Zygote(jobs=1, isolation="none")
    with Zygote(jobs=1, isolation="none", allow_unisolated=True) as z:
        assert z.mode == "none" and z.isolation == "unisolated"
        assert z.warning.startswith("warning: grading UNISOLATED")
        result = z.run(_job(tmp_path / "job", x))
    assert result.status == "ok", result.errors
    np.testing.assert_allclose(result.arrays["softmax"], _softmax64(x), atol=1e-6)
    assert not any(a.startswith(("landlock", "seccomp")) for a in result.isolation_applied)


@pytest.mark.parametrize("host", ["namespaces", "docker_caps"])
def test_an_installed_course_lib_is_unreadable_in_the_jail(tmp_path, host):
    """A course_lib installed in a site directory (pip install course-lib) stays unreadable,
    while the rest of that directory can be read (the control)."""
    base = hosts.traversable_dir("fake-site-")
    site = base / "site-packages"
    (site / "course_lib").mkdir(parents=True)
    (site / "course_lib" / "attention.py").write_text("ANSWER = 42\n")
    (site / "other_package.py").write_text("VALUE = 1\n")
    for path in (site, site / "course_lib"):
        path.chmod(0o755)
    source = textwrap.dedent(
        f"""
        def probe(x):
            found = []
            for path in ("{site}/course_lib/attention.py", "{site}/other_package.py"):
                try:
                    open(path).read()
                    found.append(1)
                except OSError:
                    found.append(0)
            return found
        """
    )
    job = write_job(tmp_path / "job", source=source, inputs={"x": np.ones(1)},
                    calls=[{"id": "p", "kind": "function", "name": "probe", "args": [{"array": "x"}]}])  # fmt: skip
    try:
        with Zygote(jobs=1, wrapper=hosts.WRAPPERS[host], pythonpath=f"{hosts.REPO}:{site}") as z:
            result = z.run(job)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert result.status == "ok", result.errors
    assert [int(result.arrays["p.0"]), int(result.arrays["p.1"])] == [0, 1]
