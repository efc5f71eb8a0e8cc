"""The parent's handle on a zygote process: start it, run jobs, load their results safely.

    with Zygote(jobs=2) as z:                 # refuses when the host offers no isolation
        print(z.isolation)                    # e.g. "landlock+seccomp+uid" in a container
        results = z.run_many([job_dir1, job_dir2], on_done=print)
        result = z.run(job_dir3)

When the grader runs as root and its Python installation is not readable by other uids
(pyenv under /root), the zygote is started from a readable mirror of it
(``uids.stage_interpreter``), so that the jobs' uid drop never has to be skipped.
"""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.sandbox import protocol, uids
from autograder.sandbox.isolation import MODES, IsolationRefused
from autograder.sandbox.loading import ResultRejected, load_arrays, load_errors, read_capped

REPO_ROOT = Path(__file__).resolve().parents[2]
GRACE_SECONDS = 60.0  # beyond a job's wall limit before the parent gives up on the zygote
__all__ = ["IsolationRefused", "Zygote", "ZygoteError", "load_result"]


class ZygoteError(RuntimeError):
    """The zygote process failed to start or stopped answering."""


class Zygote:
    """Start a zygote; ``isolation`` is "auto" (strongest), "landlock" or "none".

    ``wrapper`` prefixes the zygote's command (the tests run it under ``setpriv`` to play a
    container or an unprivileged user); ``python`` and ``pythonpath`` are the interpreter
    and the grader's location it runs from. With ``wait=False`` the zygote imports
    TensorFlow while the caller goes on; :meth:`ready` waits for it (``run_many`` calls it).
    """

    def __init__(
        self,
        jobs: int = 2,
        *,
        isolation: str = "auto",
        allow_unisolated: bool = False,
        hide=(),
        python: str | None = None,
        pythonpath=REPO_ROOT,
        wrapper=(),
        startup_timeout: float = 180.0,
        wait: bool = True,
    ):
        if not 1 <= jobs <= 64:
            raise ValueError(f"jobs must be between 1 and 64. Received: jobs={jobs}")
        if isolation not in MODES:
            raise ValueError(f"isolation must be one of {MODES}. Received: {isolation!r}")
        self.jobs = jobs
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (lives as long as the zygote)
            prefix="zygote-", suffix=".log", delete=False
        )
        self._stage = None
        if python is None:
            python = sys.executable
            if uids.needs_staging():
                self._stage = tempfile.mkdtemp(prefix="autograder-python-")
                os.chmod(self._stage, 0o755)
                python = uids.stage_interpreter(self._stage)
        env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": tempfile.gettempdir(),
            "PYTHONPATH": str(pythonpath),
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "KERAS_BACKEND": "tensorflow",
            "CUDA_VISIBLE_DEVICES": "",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        if uids.library_path(python):
            env["LD_LIBRARY_PATH"] = uids.library_path(python)
        if os.environ.get(protocol.DENY_ENV):  # tests of hosts that refuse some layers
            env[protocol.DENY_ENV] = os.environ[protocol.DENY_ENV]
        command = [*wrapper, python, "-m", "autograder.sandbox.zygote", "--jobs", str(jobs)]
        command += ["--isolation", isolation]
        for path in hide:
            command += ["--hide", str(path)]
        self.proc = subprocess.Popen(
            command,
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
        self._allow_unisolated = allow_unisolated
        self._startup_deadline = time.monotonic() + startup_timeout
        self._ready = False
        if wait:
            self.ready()

    def ready(self) -> "Zygote":
        """Wait until the zygote is up; raise if it failed or offers no isolation."""
        if self._ready:
            return self
        ready = self._read_event(self._startup_deadline)
        if ready.get("event") != "ready":
            self._failed = True
            self.close()
            raise ZygoteError(f"zygote failed to start: {ready}; see {self.log.name}")
        self.import_seconds = ready["import_seconds"]
        self.mode = ready["mode"]  # "namespaces", "landlock" or "none"
        self.isolation = ready["summary"]  # e.g. "landlock+seccomp+uid"
        self.isolation_missing = ready["isolation_missing"]
        self.uids = ready["uids"]  # the slot uids (None when no uid drop is possible)
        if self.mode == "none" and not self._allow_unisolated:
            from autograder.sandbox.isolation import Plan, refuse_message

            self.close()
            raise IsolationRefused(
                refuse_message(Plan(mode="none", missing=self.isolation_missing))
            )
        short = [m.split(" (")[0] for m in self.isolation_missing]
        self.warning = f"sandbox: {self.isolation}; not available here: {', '.join(short)}"
        if self.mode == "none":
            self.warning = "warning: grading UNISOLATED (--allow-unisolated); " + self.warning
        elif not short:
            self.warning = ""
        self._ready = True
        return self

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
        self.ready()
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
        if self.proc.poll() is None and not self._ready:  # never used: no need to wait
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
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
        if self._stage:
            shutil.rmtree(self._stage, ignore_errors=True)
            self._stage = None


MEMORY_SIGNS = ("MemoryError", "std::bad_alloc", "Cannot allocate memory", "OOM")


def out_of_memory(texts) -> bool:
    """Whether error texts or stderr show the job ran out of memory."""
    return any(sign in t for t in texts for sign in MEMORY_SIGNS)


def load_result(job_dir: str, event: dict, spec: dict) -> protocol.JobResult:
    """Combine the supervisor's status with out/, loaded without trusting any of it."""
    out = Path(job_dir) / protocol.OUT_DIR
    limits = spec["limits"]
    errors = load_errors(out / protocol.ERRORS_FILE)
    try:
        arrays = load_arrays(
            out / protocol.RESULT_FILE,
            max_arrays=limits["max_arrays"],
            max_bytes=limits["result_bytes"],
        )
    except ResultRejected as err:
        arrays = {}
        errors["__result__"] = f"result.npz rejected: {err}"
    status = event.get("status", "crashed")
    if status not in protocol.STATUSES:
        status = "crashed"
    text = {}
    for name in (protocol.STDOUT_FILE, protocol.STDERR_FILE):
        raw = read_capped(out / name, limits["output_bytes"] + 200) or b""
        text[name] = raw.decode("utf-8", "replace")
    if status in ("ok", "crashed") and out_of_memory(
        [*errors.values(), text[protocol.STDERR_FILE]]
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
