"""The zygote: TensorFlow imported once, one forked supervisor per job.

Run by the parent as ``python -m autograder.sandbox.zygote --jobs 2``; it talks JSON lines:

    parent -> zygote   {"op": "run", "id": "7", "job_dir": "/abs/job"}   {"op": "shutdown"}
    zygote -> parent   {"event": "ready", "import_seconds": 4.1, "isolation_missing": [...]}
                       {"event": "done", "id": "7", "status": "ok", "exit_detail": ..., ...}

It imports numpy, tensorflow, keras and the harness but runs no TensorFlow op (forking after
one hangs the child), and refuses to start if ``course_lib`` got imported. It runs up to
``--jobs`` jobs at once, each in a supervisor (see jail.py) on its own slot (uid 61000+slot).

In the parent, use the :class:`Zygote` class, which hides the protocol::

    with Zygote(jobs=2) as z:
        results = z.run_many([job_dir1, job_dir2], on_done=print)
        result = z.run(job_dir3)
"""

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.sandbox import protocol

REPO_ROOT = Path(__file__).resolve().parents[2]
GRACE_SECONDS = 60.0  # beyond a job's wall limit before the parent gives up on the zygote


def _send(message: dict) -> None:
    data = (json.dumps(message) + "\n").encode()
    try:
        while data:
            data = data[os.write(1, data) :]
    except BrokenPipeError:  # the parent is gone: nobody to tell
        pass


def _probe_namespaces() -> list[str]:
    """Fork a throwaway child that tries unshare(); return what is missing (empty if none)."""
    from autograder.sandbox import jail

    pid = os.fork()
    if pid == 0:
        try:
            jail.unshare(sum(jail.NAMESPACES.values()))
            os._exit(0 if os.geteuid() == 0 else 2)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 0:
        return []
    missing = list(jail.NAMESPACE_ISOLATION)
    if code == 2 or os.geteuid() != 0:
        missing.append("uid_drop (not root: the job runs as the grader's user)")
    return missing


def zygote_main(jobs: int, isolation: str) -> None:
    start = time.monotonic()
    import keras  # noqa: F401
    import numpy  # noqa: F401
    import tensorflow  # noqa: F401

    from autograder.sandbox import harness, jail  # noqa: F401

    if any(name.partition(".")[0] == "course_lib" for name in sys.modules):
        _send({"event": "error", "message": "course_lib was imported in the zygote: refusing"})
        sys.exit(3)
    missing = _probe_namespaces() if isolation == "full" else list(jail.NAMESPACE_ISOLATION)
    zygote_pid = os.getpid()
    _send(
        {
            "event": "ready",
            "pid": zygote_pid,
            "import_seconds": time.monotonic() - start,
            "isolation_missing": missing,
            "uids": [jail.slot_uid(zygote_pid, s) for s in range(jobs)],
        }
    )
    queue: list[dict] = []
    running: dict[int, tuple[dict, int, int]] = {}  # status fd -> (request, pid, slot)
    buffer = b""
    stdin_open = True
    while stdin_open or queue or running:
        free = sorted(set(range(jobs)) - {slot for _, _, slot in running.values()})
        while queue and free and stdin_open:
            request, slot = queue.pop(0), free.pop(0)
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                for fd in [r, *running]:
                    os.close(fd)
                devnull = os.open(os.devnull, os.O_RDWR)
                os.dup2(devnull, 0)
                os.dup2(devnull, 1)
                uid = jail.slot_uid(zygote_pid, slot)
                jail.supervise(request["job_dir"], uid, isolation, w)
            os.close(w)
            running[r] = (request, pid, slot)
        fds = list(running) + ([0] if stdin_open else [])
        ready, _, _ = select.select(fds, [], [])
        for fd in ready:
            if fd == 0:
                chunk = os.read(0, 1 << 16)
                buffer += chunk
                if not chunk:
                    stdin_open = False
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    message = json.loads(line)
                    if message.get("op") == "run":
                        queue.append(message)
                    elif message.get("op") == "shutdown":
                        stdin_open = False
                continue
            request, pid, _ = running.pop(fd)
            data = b""
            while chunk := os.read(fd, 1 << 16):
                data += chunk
            os.close(fd)
            os.waitpid(pid, 0)
            try:
                status = json.loads(data)
            except ValueError:
                status = {"status": "crashed", "exit_detail": "the supervisor died"}
            _send({"event": "done", "id": request["id"], **status})
        if not stdin_open:  # the parent is gone or asked to stop: kill what still runs
            queue.clear()
            for _, pid, _ in running.values():
                os.kill(pid, signal.SIGKILL)


class ZygoteError(RuntimeError):
    """The zygote process failed to start or stopped answering."""


class Zygote:
    """The parent's handle on a zygote process (see the module docstring)."""

    def __init__(
        self,
        jobs: int = 2,
        *,
        isolation: str = "full",
        python: str = sys.executable,
        startup_timeout: float = 180.0,
    ):
        if not 1 <= jobs <= 64:
            raise ValueError(f"jobs must be between 1 and 64. Received: jobs={jobs}")
        if isolation not in ("full", "none"):
            raise ValueError(f"isolation must be 'full' or 'none'. Received: {isolation!r}")
        self.jobs, self.isolation = jobs, isolation
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (lives as long as the zygote)
            prefix="zygote-", suffix=".log", delete=False
        )
        env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": tempfile.gettempdir(),
            "PYTHONPATH": str(REPO_ROOT),
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "KERAS_BACKEND": "tensorflow",
            "CUDA_VISIBLE_DEVICES": "",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        if os.environ.get("AUTOGRADER_SANDBOX_DENY_UNSHARE"):  # tests of the degraded mode
            env["AUTOGRADER_SANDBOX_DENY_UNSHARE"] = "1"
        self.proc = subprocess.Popen(
            [
                python,
                "-m",
                "autograder.sandbox.zygote",
                "--jobs",
                str(jobs),
                "--isolation",
                isolation,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            cwd="/",
            env=env,
            start_new_session=True,
        )
        self._buffer = b""
        self._next_id = 0
        self._failed = False
        ready = self._read_event(time.monotonic() + startup_timeout)
        if ready.get("event") != "ready":
            self._failed = True
            self.close()
            raise ZygoteError(f"zygote failed to start: {ready}; see {self.log.name}")
        self.import_seconds = ready["import_seconds"]
        self.isolation_missing = ready["isolation_missing"]
        self.uids = ready["uids"]  # the slot uids (None when not root)
        self.warning = (
            "Sandbox isolation is incomplete on this machine; missing: "
            + "; ".join(self.isolation_missing)
            if self.isolation_missing
            else ""
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _read_event(self, deadline: float) -> dict:
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            if not ready:
                self._failed = True
                raise ZygoteError(f"zygote did not answer in time; see {self.log.name}")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                self._failed = True
                raise ZygoteError(f"zygote exited ({self.proc.poll()}); see {self.log.name}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def run_many(self, job_dirs, on_done=None) -> list[protocol.JobResult]:
        """Run jobs (up to ``jobs`` at once); call ``on_done(result)`` as each finishes."""
        pending, results = {}, {}
        specs = {}
        for job_dir in job_dirs:
            job_dir = os.path.realpath(job_dir)
            request_id = str(self._next_id)
            self._next_id += 1
            specs[request_id] = protocol.read_job(job_dir)  # the parent's copy, read up front
            pending[request_id] = job_dir
            message = {"op": "run", "id": request_id, "job_dir": job_dir}
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()
        budget = sum(s["limits"]["wall_seconds"] + GRACE_SECONDS for s in specs.values())
        deadline = time.monotonic() + budget
        while len(results) < len(pending):
            event = self._read_event(deadline)
            if event.get("event") != "done" or event.get("id") not in pending:
                continue
            request_id = event["id"]
            result = load_result(pending[request_id], event, specs[request_id])
            results[request_id] = result
            if on_done is not None:
                on_done(result)
        return [results[i] for i in pending]

    def run(self, job_dir) -> protocol.JobResult:
        return self.run_many([job_dir])[0]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b'{"op": "shutdown"}\n')
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()
        if not self._failed:  # keep the log only when it explains a ZygoteError
            os.unlink(self.log.name)


def load_result(job_dir: str, event: dict, spec: dict) -> protocol.JobResult:
    """Combine the supervisor's status with out/, loaded without trusting any of it."""
    out = Path(job_dir) / protocol.OUT_DIR
    limits = spec["limits"]
    errors = protocol.load_errors(out / protocol.ERRORS_FILE)
    try:
        arrays = protocol.load_arrays(
            out / protocol.RESULT_FILE,
            max_arrays=limits["max_arrays"],
            max_bytes=limits["result_bytes"],
        )
    except protocol.ResultRejected as err:
        arrays = {}
        errors["__result__"] = f"result.npz rejected: {err}"
    status = event.get("status", "crashed")
    if status not in protocol.STATUSES:
        status = "crashed"
    text = {}
    for name in (protocol.STDOUT_FILE, protocol.STDERR_FILE):
        raw = protocol.read_capped(out / name, limits["output_bytes"] + 200) or b""
        text[name] = raw.decode("utf-8", "replace")
    memory_signs = ("MemoryError", "std::bad_alloc", "Cannot allocate memory", "OOM")
    if status in ("ok", "crashed") and any(
        sign in t for t in [*errors.values(), text[protocol.STDERR_FILE]] for sign in memory_signs
    ):
        status = "memory"
    for call in spec["calls"]:
        call_id = call["id"]
        produced = any(k == call_id or k.startswith(call_id + ".") for k in arrays)
        if not produced and call_id not in errors and call.get("kind") != "construct":
            errors[call_id] = f"not run: the sandbox stopped first ({status})"
    return protocol.JobResult(
        job_dir=job_dir,
        status=status,
        arrays=arrays,
        errors=errors,
        stdout=text[protocol.STDOUT_FILE],
        stderr=text[protocol.STDERR_FILE],
        exit_detail=str(event.get("exit_detail", "")),
        wall_seconds=float(event.get("wall_seconds", 0.0)),
        isolation_applied=list(event.get("isolation_applied", [])),
        isolation_missing=list(event.get("isolation_missing", [])),
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="jobs run at once")
    parser.add_argument(
        "--isolation",
        choices=("full", "none"),
        default="full",
        help="'none' skips namespaces (degraded mode, for tests)",
    )
    args = parser.parse_args(argv)
    zygote_main(args.jobs, args.isolation)
    os._exit(0)  # skip TensorFlow's slow interpreter teardown


if __name__ == "__main__":
    main()
