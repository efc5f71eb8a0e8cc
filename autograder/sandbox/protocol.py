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
  even if it caught the error), ``__result__`` (the parent rejected result.npz or
  errors.json). A call without a result after a crash or timeout gets "not run: ...".
- ``value`` calls: a str or a set/list of str becomes the sorted, de-duplicated uint8 codes of
  its letters, upper-cased (``{"b", "D"}`` -> ``[66, 68]``).
- ``logical_cpus``: the harness configures that many logical CPU devices before the
  submission runs (TensorFlow allows it only before its runtime starts).
- ``grad`` saves ``<id>.<i>`` for each ``i`` in ``wrt``; a gradient that is None is an error.

Everything in ``out/`` is written by (or on behalf of) untrusted code. This module reads it
without ever unpickling: only plain numeric or bool arrays are accepted, with caps on their
number and size, and text files are read with a size cap and without following symlinks.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import stat
import zipfile
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
    call_seconds: float | None = None  # soft per-call limit (SIGALRM); None: wall_seconds
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


class ResultRejected(ValueError):
    """The sandbox's output is not plain numeric data within the caps."""


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
    of files to copy there. ``hide`` lists host paths to hide in the jail (on top of the
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


def _copy_site(site, dest: Path) -> None:
    if isinstance(site, Mapping):
        for rel, src in site.items():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
    else:
        shutil.copytree(site, dest, ignore=shutil.ignore_patterns("__pycache__"))


def read_job(job_dir) -> dict:
    """The job spec as the parent wrote it (read it before the run: the parent's copy)."""
    spec = json.loads((Path(job_dir) / JOB_FILE).read_text())
    spec["limits"] = dataclasses.asdict(Limits.from_dict(spec.get("limits")))
    return spec


def read_capped(path, max_bytes: int) -> bytes | None:
    """A regular file's first ``max_bytes`` bytes, never following a symlink; None if absent."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (FileNotFoundError, OSError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, left = [], max_bytes
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def load_errors(path, max_bytes: int = 1 << 20) -> dict[str, str]:
    """errors.json as ``{call_id: text}``; anything malformed becomes a ``__result__`` error."""
    raw = read_capped(path, max_bytes + 1)
    if raw is None:
        return {}
    if len(raw) > max_bytes:
        return {"__result__": f"errors.json rejected: larger than {max_bytes} bytes"}
    try:
        data = json.loads(raw.decode("utf-8", "replace"))
    except ValueError as err:
        return {"__result__": f"errors.json rejected: not valid JSON ({err})"}
    if not isinstance(data, dict):
        return {"__result__": "errors.json rejected: not a JSON object"}
    return {str(k)[:200]: str(v)[:20000] for k, v in data.items()}


def load_arrays(path, *, max_arrays: int = 512, max_bytes: int = 64 << 20) -> dict:
    """Load result.npz without unpickling anything; raise ResultRejected on anything odd.

    Each member's header is checked before its data is read: plain numeric or bool dtype
    (no object, structured, string or void), total data within ``max_bytes``.
    """
    if read_capped(path, 0) is None:  # absent, a symlink or not a regular file
        if os.path.lexists(path):
            raise ResultRejected(f"{Path(path).name} is not a regular file")
        return {}
    if os.path.getsize(path) > max_bytes + (1 << 20) * max(1, max_arrays // 64):
        raise ResultRejected(f"{Path(path).name} is larger than {max_bytes} bytes")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise ResultRejected(f"{Path(path).name} is not a valid .npz file: {err}") from None
    arrays, budget = {}, max_bytes
    with zf:
        infos = zf.infolist()
        if len(infos) > max_arrays:
            raise ResultRejected(f"result holds {len(infos)} arrays; at most {max_arrays}")
        for info in infos:
            key = _member_key(info.filename)
            with zf.open(info) as f:
                dtype, shape = _checked_header(f, key)
                nbytes = math.prod(shape) * dtype.itemsize
                if nbytes > budget:
                    raise ResultRejected(f"result arrays exceed {max_bytes} bytes (at {key!r})")
                budget -= nbytes
            with zf.open(info) as f:
                try:
                    arr = np.lib.format.read_array(f, allow_pickle=False)
                except (ValueError, OSError, EOFError) as err:
                    raise ResultRejected(f"array {key!r} is unreadable: {err}") from None
            if arr.dtype != dtype or arr.shape != shape:
                raise ResultRejected(f"array {key!r} does not match its header")
            arrays[key] = arr
    return arrays


def _member_key(name: str) -> str:
    if not name.endswith(".npy") or "/" in name or len(name) > 260:
        raise ResultRejected(f"unexpected member {name[:80]!r} in result.npz")
    return name[:-4]


def _checked_header(f, key: str):
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ResultRejected(f"array {key!r} has unsupported .npy version {version}")
    except ResultRejected:
        raise
    except Exception as err:  # a malformed header can raise many things; none runs code
        raise ResultRejected(f"array {key!r} has a malformed header: {err}") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise ResultRejected(
            f"array {key!r} has dtype {dtype}; only plain numeric or bool arrays are accepted"
        )
    if dtype.kind not in NUMERIC_KINDS:
        raise ResultRejected(
            f"array {key!r} has dtype {dtype}; only plain numeric or bool arrays are accepted"
        )
    return dtype, tuple(shape)
