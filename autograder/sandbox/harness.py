"""Runs inside the jail: execute the submission, run the job's calls, write plain arrays.

Imported by the zygote before any fork (with numpy, tensorflow and keras), so it must not
import ``course_lib`` and must run no TensorFlow op at import time. :func:`run_job` is called
in the sandbox after every isolation layer is in force (isolation.py). Each call catches its own
exceptions, and the sealed results file ``out/.results.sealed`` (arrays and errors, see
``protocol.seal``) is rewritten atomically after every call, so a timeout in call 7 keeps
calls 1-6. The calls themselves are in ``calls.py``, the runtime forbid in ``forbid.py``,
the import blocker in ``imports.py``.

What the submission cannot do (it runs in this process; see supervisor.py for the whole story):

- forge results: the seal key is read from fd ``protocol.KEY_FD`` and the fd closed before the
  submission runs, and the supervisor accepts only files sealed with that key;
- run code after the harness's last write by replacing ``os._exit``, ``os.replace``,
  ``np.savez``, ``json.dumps``...: the functions used to write the results (and the exit in
  supervisor.py) are captured below at import time, in the zygote, before any submission exists;
- make a write fail silently: a failed flush raises out of :func:`run_job` (exit 70, the
  previous sealed flush is kept), and an exit without the final flush is reported as a crash;
- undo the runtime forbid by reloading a keras module: ``importlib.reload`` re-applies the
  forbid after any reload, and the forbid is re-applied (also to the submission's globals)
  before every call. Other ways to re-create a module's functions are not stopped here; the
  static scan flags them (``extract.suspicious_uses``).
"""

import contextlib
import io
import json
import os
import sys
import traceback
import types

import keras
import numpy as np
import tensorflow as tf

from autograder.sandbox import protocol
from autograder.sandbox.calls import reference, run_call, to_arrays
from autograder.sandbox.forbid import Forbid
from autograder.sandbox.imports import isolate_imports
from autograder.sandbox.protocol import CELL_MARKER, KEY_BYTES, SEALED_FILE, seal
from autograder.sandbox.runaway import SOFT_SHARE, CallTimeout, Runaways, soft_limit, stop_strays

# Captured at import, in the zygote, before any submission runs (see the module docstring).
_open, _write, _close, _read, _replace = os.open, os.write, os.close, os.read, os.replace
_savez, _dumps, _BytesIO = np.savez, json.dumps, io.BytesIO

TRACEBACK_LINES = 20
_TIMED_OUT = {}  # {cell source: message}: cells past their soft limit in this job's process
HARNESS_FAILED = 2  # exit code when the job could not be set up (see errors["__harness__"])


class _Results:
    """Arrays and errors so far, sealed and flushed to out/ atomically after every call."""

    def __init__(self, out_dir: str, key: bytes):
        self.out_dir = out_dir
        self._key = key
        self._seq = 0
        self.arrays: dict[str, np.ndarray] = {}
        self.errors: dict[str, str] = {}
        self.forbidden_used: list[str] = []

    def error(self, key: str, exc: BaseException | None = None, text: str | None = None):
        if text is None:
            lines = "".join(traceback.format_exception(exc)).splitlines()
            text = "\n".join(lines[-TRACEBACK_LINES:])
        self.errors[key] = text[-8000:]

    def flush(self, final: bool = False):
        """Seal and write the results; raises if anything fails (never silently incomplete)."""
        if self.forbidden_used:
            self.errors["__forbidden__"] = ", ".join(sorted(set(self.forbidden_used)))
        buffer = _BytesIO()
        _savez(buffer, **self.arrays)
        self._seq += 1
        data = seal(self._key, self._seq, final, buffer.getvalue(), _dumps(self.errors).encode())
        tmp = os.path.join(self.out_dir, f"{SEALED_FILE}.tmp")
        fd = _open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[_write(fd, view) :]
        finally:
            _close(fd)
        _replace(tmp, os.path.join(self.out_dir, SEALED_FILE))


def _read_key(key_fd: int) -> bytes:
    """The seal key from the supervisor's pipe; the fd is closed before the submission runs."""
    key = b""
    try:
        while len(key) < KEY_BYTES:
            chunk = _read(key_fd, KEY_BYTES - len(key))
            if not chunk:
                break
            key += chunk
    finally:
        _close(key_fd)
    if len(key) != KEY_BYTES:
        raise RuntimeError("the supervisor sent no seal key")
    return key


def run_job(job_dir: str, out_dir: str, key_fd: int) -> int:
    """Run one job in the current (already jailed) process; return the exit code.

    A bundle (``protocol.write_bundle``) runs its phases, each a job of its own in
    ``<job_dir>/<phase>``, one after another in this process: the submission is executed
    again in a fresh module for each phase, with that phase's site, injects and inputs,
    and the finished phases are listed in ``errors[protocol.PHASES_KEY]``.
    """
    try:
        key = _read_key(key_fd)
    except BaseException:  # nothing can be sealed: say why on stderr and fail
        traceback.print_exc()
        return HARNESS_FAILED
    results = _Results(out_dir, key)
    del key
    with open(os.path.join(job_dir, protocol.JOB_FILE)) as f:
        job = json.load(f)
    forbid = Forbid(results)
    phases = job.get("bundle")
    if not phases:
        code = _run_phase(job_dir, job, results, forbid, first=True)
    else:
        done = []
        for name in phases:
            phase_dir = os.path.join(job_dir, name)
            with open(os.path.join(phase_dir, protocol.JOB_FILE)) as f:
                phase = json.load(f)
            if done:
                _between_phases()
            code = _run_phase(phase_dir, phase, results, forbid, first=not done)
            if code:
                break
            done.append(name)
            results.errors[protocol.PHASES_KEY] = ",".join(done)
    if code:
        return code
    for stream in (sys.stdout, sys.stderr):  # may be the submission's: before the final flush
        with contextlib.suppress(BaseException):  # nothing to report it to
            stream.flush()
    results.flush(final=True)
    return 0


def _between_phases():
    """Reset Keras' global state (layer names restart) without a slow full garbage collection."""
    try:
        keras.backend.clear_session(free_memory=False)
    except TypeError:  # an older Keras without free_memory
        keras.backend.clear_session()


def _run_phase(job_dir: str, job: dict, results, forbid, first: bool) -> int:
    """Set up one job's imports, run its submission and calls; 0, or HARNESS_FAILED."""
    limits = protocol.Limits.from_dict(job.get("limits"))
    soft = limits.call_seconds or limits.wall_seconds * SOFT_SHARE
    try:
        inputs = _load_inputs(os.path.join(job_dir, protocol.INPUTS_FILE))
        site = None
        if job.get("site"):  # reached through an fd: the job dir's parents may be untraversable
            anchor = os.open(job_dir, os.O_PATH | os.O_DIRECTORY)
            site = f"/proc/self/fd/{anchor}/{job['site']}"
        isolate_imports(site)
        if first:
            forbid.install(job.get("forbid") or [])
            if job.get("logical_cpus"):
                _logical_cpus(int(job["logical_cpus"]))
        if job.get("seed") is not None:
            keras.utils.set_random_seed(int(job["seed"]))
    except BaseException as exc:
        results.error("__harness__", exc)
        results.flush(final=True)
        return HARNESS_FAILED
    # The given names are there while the submission runs (a class may subclass a given
    # layer) and injected again after it, so a graded unit always uses the references.
    source = os.path.join(job_dir, job["source"])
    namespace = _exec_submission(
        source, results, job.get("inject"), limits.wall_seconds * SOFT_SHARE
    )
    _inject(namespace, job.get("inject") or {}, results)
    results.flush()
    objects: dict[str, object] = {}
    slow = Runaways()
    for call in job.get("calls", []):
        call_id = str(call.get("id"))
        if skipped := slow.skip(call):
            results.error(call_id, text=skipped)
            results.flush()
            continue
        limit = soft_limit(soft, f"the call of {slow.unit(call)}")
        try:
            forbid.reapply(namespace)
            with limit:
                outputs = run_call(call, namespace, inputs, objects)
            if outputs is not None:
                results.arrays.update(to_arrays(outputs, call_id))
        except BaseException as exc:  # SystemExit and KeyboardInterrupt included
            limit.stop()
            slow.record(call, exc)
            results.error(call_id, exc)
        results.flush()
    return 0


def _logical_cpus(count: int):
    """Split the CPU into `count` logical devices (before TensorFlow's runtime starts)."""
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
    )


def _load_inputs(path):
    if not os.path.exists(path):
        return {}
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _cells(source: str):
    """`[(label, code padded to its line numbers)]`: the submission cut at the cell markers."""
    lines = source.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith(CELL_MARKER)] or [0]
    if starts[0] != 0:
        starts.insert(0, 0)
    cells = []
    for start, end in zip(starts, [*starts[1:], len(lines)]):
        label = (
            lines[start][len(CELL_MARKER) :].rstrip(" -")
            if lines[start].startswith(CELL_MARKER)
            else "?"
        )
        cells.append((label, "\n" * start + "\n".join(lines[start:end])))
    return cells


def _exec_submission(path: str, results: _Results, inject=None, soft=None) -> dict:
    """Run the submission cell by cell, as a notebook would; a failing cell skips only itself.

    Each cell runs under a soft time limit of a quarter of the job's: a cell that loops
    forever fails on its own, and the calls still run. A later phase of the bundle does not run that cell
    again (it fails the same way at once), and processes the cells left running (a fork bomb
    that would starve the calls) are stopped before the calls (`runaway.stop_strays`).
    """
    module = types.ModuleType("submission")
    module.__file__ = path
    sys.modules["submission"] = module
    _inject(module.__dict__, inject or {}, results)
    try:
        with open(path) as f:
            source = f.read()
    except BaseException as exc:
        results.error("__source__", exc)
        return module.__dict__
    failures = []
    for label, code in _cells(source):
        if code in _TIMED_OUT:  # an earlier phase of this bundle: it would again
            failures.append(f"cell {label}: {_TIMED_OUT[code]} (in an earlier phase; not rerun)")
            continue
        limit = soft_limit(soft, "the cell (a loop that never ends at its top level?)")
        try:
            with limit:
                exec(compile(code, path, "exec"), module.__dict__)
        except BaseException as exc:  # the definitions of the other cells stay usable
            limit.stop()
            last = "".join(traceback.format_exception_only(exc)).strip().splitlines()[-1]
            failures.append(f"cell {label}: {last}")
            if isinstance(exc, CallTimeout):
                _TIMED_OUT[code] = last
    if failures:
        results.error("__source__", text="\n".join(failures))
    if stop_strays():
        results.error("__strays__", text="processes started by the cells were stopped")
    return module.__dict__


def _inject(namespace: dict, inject: dict, results: _Results):
    for name, ref in inject.items():
        try:
            namespace[name] = reference(ref)
        except BaseException as exc:
            results.error(f"__inject__{name}", exc)
