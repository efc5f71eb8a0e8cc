"""The job protocol between the trusted grader and the sandbox, and safe result loading.

A job is a directory the parent prepares with :func:`write_job`::

    job.json      what to run (source, site, inject, forbid, calls, limits, hide, seed)
    student.py    the extracted student code, executed as module ``submission``
    inputs.npz    the input arrays (numeric only)
    site/         optional: reference modules put first on ``sys.path`` in the jail
    out/          filled by the sandbox: result.npz, errors.json, stdout.txt, stderr.txt

Refinements of the job format agreed for the grading suites:

- ``{"array": "q"}`` arguments arrive as ``tf.Tensor``; ``{"array": "q", "as": "numpy"}``
  passes the numpy array instead.
- ``limits`` also takes ``call_seconds`` (soft per-call limit), ``tmp_bytes`` (/tmp size),
  ``max_arrays`` and ``result_bytes`` (result caps); see :class:`Limits`.
- Keys of ``JobResult.errors`` besides call ids: ``__source__`` (executing student.py
  raised; the names defined before the failure stay usable), ``__harness__`` (the job could
  not be set up; status "crashed"), ``__inject__<Name>``, ``__forbid__<api>`` (a forbid
  entry did not resolve), ``__forbidden__`` (the forbidden APIs the submission touched,
  even if it caught the error), ``__strays__`` (processes the cells left running were
  killed before the calls; slot uid only), ``__result__`` (the parent rejected result.npz or
  errors.json). A call without a result after a crash or timeout gets "not run: ...".
- ``value`` calls: a str or a set/list of str becomes the sorted, de-duplicated uint8 codes of
  its letters, upper-cased (``{"b", "D"}`` -> ``[66, 68]``).
- ``logical_cpus``: the harness configures that many logical CPU devices before the
  submission runs (TensorFlow allows it only before its runtime starts).
- ``grad`` saves ``<id>.<i>`` for each ``i`` in ``wrt``; a gradient that is None is an error.

A bundle (:func:`write_bundle`) is a job whose ``job.json`` lists phases, each a job written
in ``<bundle>/<phase>/``: the harness runs them one after another in one sandbox (one fork,
one TensorFlow start-up) and lists the finished ones in ``errors[PHASES_KEY]``; its ``out/``
holds the results of every phase. A phase left unfinished is rerun as its own job.

Results are sealed (:func:`seal`) and loaded by ``loading.py`` without trusting them.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import os
import shutil
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

JOB_FILE = "job.json"
SOURCE_FILE = "student.py"
INPUTS_FILE = "inputs.npz"
SITE_DIR = "site"
OUT_DIR = "out"
RESULT_FILE = "result.npz"
ERRORS_FILE = "errors.json"
STDOUT_FILE = "stdout.txt"
STDERR_FILE = "stderr.txt"

STATUSES = ("ok", "timeout", "memory", "crashed", "killed")
CELL_MARKER = "# --- cell "  # extract.py starts each notebook cell's code with this line
PHASES_KEY = "__phases__"  # errors key of a bundle: its finished phases, comma-separated
DENY_ENV = "AUTOGRADER_SANDBOX_DENY"  # tests: "unshare,landlock,seccomp" behave as if refused


def denied(layer: str) -> bool:
    """Whether the tests asked the sandbox to behave as if ``layer`` were refused here."""
    return layer in os.environ.get(DENY_ENV, "").split(",")


NUMERIC_KINDS = "biufc"  # bool, signed, unsigned, float, complex


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one job; every field has a safe default."""

    wall_seconds: float = 60.0  # hard wall-clock limit, enforced by the supervisor
    cpu_seconds: int = 60  # RLIMIT_CPU of the jail
    memory_bytes: int = 8 << 30  # RLIMIT_AS: TensorFlow needs ~3 GiB of address space
    file_bytes: int = 64 << 20  # RLIMIT_FSIZE, and the size of the out/ tmpfs
    nproc: int = 64  # RLIMIT_NPROC of the per-slot uid (threads count too)
    output_bytes: int = 64 << 10  # stdout and stderr are each kept up to this size
    call_seconds: float | None = None  # soft per-call limit (SIGALRM); None: wall / 4
    tmp_bytes: int = 64 << 20  # size of the private /tmp tmpfs
    max_arrays: int = 512  # result.npz: at most this many arrays
    result_bytes: int = 64 << 20  # result.npz: at most this many bytes of array data

    @classmethod
    def from_dict(cls, data: Mapping | None) -> Limits:
        data = dict(data or {})
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"Unknown limits: {sorted(unknown)}")
        return cls(**data)


@dataclasses.dataclass
class JobResult:
    """What the parent learns about one job; arrays are plain numeric numpy arrays."""

    job_dir: str
    status: str  # one of STATUSES
    arrays: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    errors: dict[str, str] = dataclasses.field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    exit_detail: str = ""
    wall_seconds: float = 0.0
    isolation_applied: list[str] = dataclasses.field(default_factory=list)
    isolation_missing: list[str] = dataclasses.field(default_factory=list)


def write_job(
    job_dir,
    *,
    source: str,
    calls: list[dict],
    inputs: Mapping[str, np.ndarray] | None = None,
    site=None,
    inject: Mapping[str, str] | None = None,
    forbid: Iterable[str] = (),
    limits: Mapping | Limits | None = None,
    hide: Iterable = (),
    seed: int | None = None,
    logical_cpus: int | None = None,
) -> Path:
    """Create a job directory readable by the sandbox uid (dirs 0755, files 0644, root-owned).

    ``site`` is a directory to copy to ``site/``, or a mapping ``{"course_lib/x.py": src}``
    of files to copy there (``src`` None: an empty file). ``hide`` lists host paths to hide in the jail (on top of the
    jail's defaults: the repository, /root, /home, /run, the other jobs next to this one).
    ``logical_cpus`` splits the CPU into that many logical devices before the submission runs
    (a ``MirroredStrategy`` over them is a real multi-replica run without a GPU).
    """
    job_dir = Path(job_dir)
    if job_dir.exists() and any(job_dir.iterdir()):
        raise FileExistsError(f"Job directory {job_dir} is not empty: use a fresh directory")
    job_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(limits, Limits):
        limits = dataclasses.asdict(limits)
    Limits.from_dict(limits)  # validate early, in the parent
    ids = [c.get("id") for c in calls]
    if len(set(ids)) != len(ids) or not all(isinstance(i, str) and i for i in ids):
        raise ValueError(f"Call ids must be unique non-empty strings. Received: {ids}")
    arrays = {k: np.asarray(v) for k, v in (inputs or {}).items()}
    for name, arr in arrays.items():
        if arr.dtype.kind not in NUMERIC_KINDS or arr.dtype.fields is not None:
            raise ValueError(f"Input {name!r} must be numeric. Received dtype={arr.dtype}")
    np.savez(job_dir / INPUTS_FILE, **arrays)
    (job_dir / SOURCE_FILE).write_text(source)
    if site is not None:
        _copy_site(site, job_dir / SITE_DIR)
    spec = {
        "source": SOURCE_FILE,
        "site": SITE_DIR if site is not None else None,
        "inject": dict(inject or {}),
        "forbid": list(forbid),
        "calls": list(calls),
        "limits": dict(limits or {}),
        "hide": [str(p) for p in hide],
        "seed": seed,
        "logical_cpus": logical_cpus,
    }
    (job_dir / JOB_FILE).write_text(json.dumps(spec, indent=1))
    (job_dir / OUT_DIR).mkdir()
    for root, _dirs, files in os.walk(job_dir):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    return job_dir


def write_bundle(bundle_dir, phases: list[str]) -> Path:
    """Make ``bundle_dir`` a job that runs the jobs already written in ``bundle_dir/<phase>``.

    Its limits are the largest of the phases' (the result caps add up), so each phase has at
    least its own budget; the phases run in the given order.
    """
    bundle_dir = Path(bundle_dir)
    specs = [read_job(bundle_dir / name) for name in phases]
    if not specs or any(s.get("logical_cpus") for s in specs):
        raise ValueError("A bundle needs phases, and none of them may set logical_cpus")
    limits = {k: max(s["limits"][k] or 0 for s in specs) for k in specs[0]["limits"]}
    limits["call_seconds"] = None
    for key in ("max_arrays", "result_bytes"):
        limits[key] = sum(s["limits"][key] for s in specs)
    spec = {
        "bundle": list(phases),
        "calls": [],
        "limits": limits,
        "hide": sorted({h for s in specs for h in s["hide"]}),
    }
    (bundle_dir / JOB_FILE).write_text(json.dumps(spec, indent=1))
    (bundle_dir / OUT_DIR).mkdir()
    for path in (bundle_dir, bundle_dir / JOB_FILE, bundle_dir / OUT_DIR):
        os.chmod(path, 0o644 if path.is_file() else 0o755)
    return bundle_dir


def _copy_site(site, dest: Path) -> None:
    if isinstance(site, Mapping):
        for rel, src in site.items():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if src is None:  # an empty file (a package's __init__.py)
                target.write_bytes(b"")
            else:
                shutil.copyfile(src, target)
    else:
        shutil.copytree(site, dest, ignore=shutil.ignore_patterns("__pycache__"))


def read_job(job_dir) -> dict:
    """The job spec as the parent wrote it (read it before the run: the parent's copy)."""
    spec = json.loads((Path(job_dir) / JOB_FILE).read_text())
    spec["limits"] = dataclasses.asdict(Limits.from_dict(spec.get("limits")))
    return spec


# The seal: results the harness wrote, and nothing else ----------------------------------

KEY_FD = 3  # in the sandbox: the read end of the pipe carrying the seal key
KEY_BYTES = 32
SEALED_FILE = ".results.sealed"  # in out/: written by the harness only, read by the supervisor
_SEAL_MAGIC = b"AGS1"
_SEAL_HEADER = struct.Struct(">4sQBQQ")  # magic, seq, final, len(npz), len(errors)
_SEAL_TAG = 32
_hmac_digest = hmac.digest  # captured at import (in the zygote), before any submission runs
_compare_digest = hmac.compare_digest


class SealError(ValueError):
    """The sealed results file is missing, truncated, too large or does not verify."""


def seal(key: bytes, seq: int, final: bool, npz: bytes, errors: bytes) -> bytes:
    """The bytes of one sealed flush: header, result.npz, errors.json, HMAC-SHA256 tag."""
    body = _SEAL_HEADER.pack(_SEAL_MAGIC, seq, int(final), len(npz), len(errors)) + npz + errors
    return body + _hmac_digest(key, body, "sha256")


def unseal(key: bytes, data: bytes) -> tuple[int, bool, bytes, bytes]:
    """``(seq, final, npz, errors)`` of a sealed flush; :class:`SealError` if it does not verify."""
    if len(data) < _SEAL_HEADER.size + _SEAL_TAG:
        raise SealError("truncated")
    magic, seq, final, n_npz, n_err = _SEAL_HEADER.unpack_from(data)
    if magic != _SEAL_MAGIC or len(data) != _SEAL_HEADER.size + n_npz + n_err + _SEAL_TAG:
        raise SealError("malformed")
    body, tag = data[:-_SEAL_TAG], data[-_SEAL_TAG:]
    if not _compare_digest(tag, _hmac_digest(key, body, "sha256")):
        raise SealError("its seal does not verify (written or changed outside the grader)")
    start = _SEAL_HEADER.size
    return seq, bool(final), body[start : start + n_npz], body[start + n_npz :]
