"""Namespaces, mounts, rlimits, uid drop and the wall-clock timeout of one sandboxed job.

:func:`supervise` runs in a process forked from the zygote (the supervisor, root). It calls
``unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS)`` and forks
the sandbox, which is PID 1 of the new PID namespace: killing it kills everything inside,
setsid'd and double-forked children included. The sandbox makes its mounts private, mounts a
fresh /proc, hides paths under empty tmpfs mounts (re-binding what must stay visible: the venv,
the Python install, the job), remounts everything read-only except out/ (a size-limited tmpfs
the supervisor mounted) and a size-limited /tmp, sets rlimits, drops to the uid
``UID_BASE + 64 * zygote_pid + slot`` with ``PR_SET_NO_NEW_PRIVS`` and runs the harness. Its stdout and stderr
are pipes the supervisor drains with a cap. When the sandbox is gone, the supervisor copies
out/ (capped, regular files only) to the job's real out/ directory and reports a status.

Without root or namespaces the job still runs (fork, setsid, rlimits, killpg, timeout) and
the status lists the isolation that could not be applied.

Sealed results. The student's code runs in the harness's own process, so it can write any
file the harness can, replace any function the harness looks up late, and start threads.
What the supervisor accepts is therefore not "whatever is in out/" but the harness's
*sealed* results file:

- After forking the sandbox, the supervisor writes a fresh 32-byte key into a pipe whose
  read end is fd :data:`KEY_FD` in the sandbox (the sandbox never sees the key in its own
  memory before that). The harness reads it and closes the fd *before* executing the
  submission, so the key exists nowhere the submission can reach by reading files or fds:
  only by introspecting the harness's memory (``gc.get_objects``, frames, ``ctypes``),
  which the static scan (``extract.suspicious_uses``) flags for the instructor.
- Every flush writes :data:`SEALED_FILE`: seq, a "final" flag, result.npz bytes and
  errors.json bytes, and an HMAC-SHA256 over all of it under the key (:func:`seal`). The
  harness serialises with ``np.savez``/``json.dumps``/``os.*`` functions captured when it is
  imported in the zygote, before any submission exists; the final flush is the harness's
  last action, followed by ``os._exit`` captured at import of this module (:data:`_exit`),
  so a submission that replaces ``os._exit``/``os.replace``/``np.savez`` runs nothing after
  the last write.
- After the sandbox is gone the supervisor reads the sealed file, checks the HMAC
  (:func:`unseal`) and writes out/result.npz and out/errors.json *itself* from the verified
  bytes, after removing whatever the submission left under those names. A file written or
  changed by the submission does not verify and is discarded (the job loses its results
  and is reported as crashed); an exit 0 without a verified *final* seal is "crashed"
  too. So the submission cannot substitute results after the harness's last write, nor
  make the harness's writes fail silently (a failed write raises in the harness: exit code
  70 and the previous verified flush is kept). Not covered: a submission that reads the
  key out of the harness's memory; in degraded mode, setsid'd children surviving the job.
"""

import contextlib
import ctypes
import hmac
import json
import os
import resource
import select
import signal
import stat
import struct
import sys
import time
from pathlib import Path

from autograder.sandbox import protocol

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
NAMESPACES = {
    "mount_namespace": CLONE_NEWNS,
    "pid_namespace": CLONE_NEWPID,
    "network_namespace": CLONE_NEWNET,
    "ipc_namespace": CLONE_NEWIPC,
    "uts_namespace": CLONE_NEWUTS,
}
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
UID_BASE = 100000  # slot uids: UID_BASE + 64 * zygote pid + slot, unique per live zygote
# What a job without namespaces lacks, as reported in JobResult.isolation_missing.
NAMESPACE_ISOLATION = [
    "pid_namespace (setsid/double-forked children may outlive the job)",
    "network_namespace (the network is reachable)",
    "mount_namespace (hidden paths stay readable, the filesystem stays writable)",
    "ipc_namespace",
    "uts_namespace",
    "out_tmpfs (out/ is not size-limited beyond RLIMIT_FSIZE per file)",
]
_libc = ctypes.CDLL(None, use_errno=True)
_exit = (
    os._exit
)  # captured at import (in the zygote): the sandbox's last call, whatever the job did
_hmac_digest = hmac.digest
_compare_digest = hmac.compare_digest

KEY_FD = 3  # in the sandbox: the read end of the pipe carrying the seal key
KEY_BYTES = 32
SEALED_FILE = ".results.sealed"  # in out/: written by the harness only, read by the supervisor
_SEAL_MAGIC = b"AGS1"
_SEAL_HEADER = struct.Struct(">4sQBQQ")  # magic, seq, final, len(npz), len(errors)
_SEAL_TAG = 32


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


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


DENY_UNSHARE_ENV = "AUTOGRADER_SANDBOX_DENY_UNSHARE"  # tests: behave as if unshare is refused


def unshare(flags: int) -> None:
    if os.environ.get(DENY_UNSHARE_ENV):
        raise PermissionError(1, "unshare: Operation not permitted (simulated)")
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl({option})")


def _bytes(value) -> bytes | None:
    return None if value is None else os.fsencode(value)


def mount(source, target, fstype, flags: int = 0, data=None) -> None:
    ret = _libc.mount(
        _bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data)
    )
    _check(ret, f"mount {target}")


def _under(path: str, parent: str) -> bool:
    return path.startswith(parent.rstrip("/") + "/")


def hide_paths(hides, keeps, writable: dict[str, int]) -> None:
    """Mount an empty tmpfs over each hidden path, re-binding the ``keeps`` found under it.

    ``writable`` maps paths to the size of a fresh writable tmpfs (mode 1777) instead.
    Hidden paths are handled shallowest first; one already hidden by an earlier tmpfs
    (and not under a kept path) no longer exists and is skipped. The kept directories are
    opened (O_PATH) before the tmpfs goes on top, then bound back from /proc/self/fd.
    """
    entries = {os.path.realpath(p): None for p in hides if os.path.lexists(p)}
    entries.update({os.path.realpath(p): size for p, size in writable.items() if os.path.isdir(p)})
    keeps = {os.path.realpath(k) for k in keeps if os.path.exists(k)}
    for path in sorted(entries, key=lambda p: (p.count("/"), p)):
        if path in keeps or path == "/" or not os.path.lexists(path):
            continue
        if not os.path.isdir(path):  # a single file: cover it with /dev/null
            mount("/dev/null", path, None, MS_BIND)
            continue
        inner = [k for k in keeps if _under(k, path)]
        inner = [k for k in inner if not any(_under(k, o) for o in inner)]
        fds = [os.open(k, os.O_PATH) for k in inner]
        size = entries[path]
        opts = f"size={size},mode=1777" if size else "size=65536,mode=0755"
        mount("sandbox-hide", path, "tmpfs", MS_NOSUID | MS_NODEV, opts)
        for keep, fd in zip(inner, fds, strict=True):
            os.makedirs(keep, exist_ok=True)
            mount(f"/proc/self/fd/{fd}", keep, None, MS_BIND | MS_REC)
            os.close(fd)


def _unescape(field: str) -> str:
    return field.encode().decode("unicode_escape") if "\\" in field else field


def remount_readonly(writable) -> list[str]:
    """Remount every mount read-only and nosuid except ``writable``; return the failures."""
    writable = {os.path.realpath(w) for w in writable}
    failures = []
    with open("/proc/self/mountinfo") as f:
        lines = f.read().splitlines()
    for line in lines:
        fields = line.split()
        target, opts = _unescape(fields[4]), fields[5].split(",")
        if target in writable or _under(target, "/proc") or "ro" in opts:
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID
        flags |= (MS_NODEV if "nodev" in opts else 0) | (MS_NOEXEC if "noexec" in opts else 0)
        try:
            mount(None, target, None, flags)
        except OSError:
            if os.path.exists(target):  # not merely a mount shadowed by a hidden path
                failures.append(target)
    return failures


def default_hides() -> list[str]:
    """Host paths hidden in every jail: the repository, home directories, runtime state."""
    repo = Path(__file__).resolve().parents[2]
    return [str(repo), "/root", "/home", "/run", "/srv", "/var/tmp", "/var/log", "/var/backups"]


def slot_uid(zygote_pid: int, slot: int) -> int | None:
    """The unprivileged uid of a slot (None when not root: no uid drop is possible)."""
    return UID_BASE + 64 * zygote_pid + slot if os.geteuid() == 0 else None


def supervise(job_dir: str, uid: int | None, isolation: str, status_fd: int) -> None:
    """Run one job to completion in a forked supervisor; write a status line; never return."""
    start = time.monotonic()
    status = {"status": "crashed", "exit_detail": "supervisor failed", "wall_seconds": 0.0}
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        status.update(_supervise(os.path.realpath(job_dir), uid, isolation))
    except BaseException as exc:  # report the supervisor's own failure to the zygote
        status["exit_detail"] = f"supervisor failed: {exc!r}"
    status["wall_seconds"] = round(time.monotonic() - start, 4)
    os.write(status_fd, json.dumps(status).encode() + b"\n")
    os._exit(0)


def _supervise(job_dir: str, uid: int | None, isolation: str) -> dict:
    job = protocol.read_job(job_dir)
    limits = protocol.Limits(**job["limits"])
    out_dir = os.path.join(job_dir, protocol.OUT_DIR)
    applied, missing = [], []
    real_out_fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    namespaces = False
    if isolation == "full":
        try:
            unshare(sum(NAMESPACES.values()))
            namespaces = True
            applied.extend(NAMESPACES)
        except OSError as exc:
            missing.append(f"namespaces ({exc.strerror}: not root or not permitted here)")
    else:
        missing.append(f"namespaces (isolation={isolation!r} was requested)")
    if namespaces:
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        size = 2 * limits.result_bytes + 2 * limits.output_bytes + (1 << 20)
        mount(
            "sandbox-out",
            out_dir,
            "tmpfs",
            MS_NOSUID | MS_NODEV | MS_NOEXEC,
            f"size={size},mode=0700,uid={uid or 0},gid={uid or 0}",
        )
        applied.append("out_tmpfs")
        jail_out_fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    else:
        missing.extend(NAMESPACE_ISOLATION)
        unreadable = [p for p in (sys.prefix, sys.base_prefix) if not _world_readable(p)]
        if uid is not None and unreadable:
            missing.append(f"uid_drop (without a mount namespace {unreadable[0]} is not "
                           "readable by an unprivileged uid: the job runs as root)")  # fmt: skip
            uid = None
        if uid is not None:
            os.chown(out_dir, uid, uid)
        jail_out_fd = real_out_fd
    if uid is not None:
        applied.append(f"uid_drop (uid {uid}, no_new_privs)")
    elif os.geteuid() != 0:
        missing.append("uid_drop (not root: the job runs as the grader's user)")
    applied.append("rlimits (cpu, address space, file size, open files, nproc)")
    pipes = [os.pipe(), os.pipe()]
    key_r, key_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the sandbox: PID 1 of the new PID namespace when namespaces are on
        code = 70
        try:
            os.close(key_w)
            _enter_jail(job, job_dir, out_dir, limits, uid, pipes, namespaces, key_r)
            from autograder.sandbox.harness import run_job

            code = run_job(".", protocol.OUT_DIR, KEY_FD)  # relative: cwd was entered as root
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            _exit(code)
    os.close(key_r)
    key = os.urandom(KEY_BYTES)  # made after the fork: never in the sandbox's memory image
    with contextlib.suppress(OSError):  # the sandbox died already: it gets no key
        os.write(key_w, key)
    os.close(key_w)
    for _r, w in pipes:
        os.close(w)
    outcome = _wait(pid, [r for r, _ in pipes], limits, namespaces)
    final, problem = _collect_results(jail_out_fd, real_out_fd, key, limits)
    if outcome["status"] == "ok" and not final:
        outcome.update(
            status="crashed",
            exit_detail="the job ended without the grader's final results"
            + (f" ({problem})" if problem else " (it exited before the harness finished)"),
        )
    for name, (data, dropped) in zip(
        (protocol.STDOUT_FILE, protocol.STDERR_FILE), outcome.pop("streams"), strict=True
    ):
        if dropped:
            data += f"\n[truncated {dropped} bytes]\n".encode()
        _write_at(real_out_fd, name, data)
    outcome.update(isolation_applied=applied, isolation_missing=missing)
    return outcome


def _world_readable(path: str) -> bool:
    """Can any uid list ``path`` and traverse every directory above it?"""
    path = os.path.realpath(path)
    if not os.stat(path).st_mode & stat.S_IROTH:
        return False
    while path != "/":
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        path = os.path.dirname(path)
    return True


def _enter_jail(job, job_dir, out_dir, limits, uid, pipes, namespaces, key_r):
    (out_r, out_w), (err_r, err_w) = pipes
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    if key_r != KEY_FD:
        os.dup2(key_r, KEY_FD)
    os.closerange(KEY_FD + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[1])  # zygote's too
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if namespaces:
        _libc.sethostname(b"sandbox", 7)
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        keeps = [sys.prefix, sys.base_prefix, job_dir]
        hides = default_hides() + [os.path.dirname(job_dir)] + list(job.get("hide") or [])
        hide_paths(hides, keeps, writable={"/tmp": limits.tmp_bytes, "/dev/shm": 16 << 20})
        failures = remount_readonly(writable={"/tmp", "/dev/shm", out_dir, "/proc"})
        if failures:
            print(f"[sandbox] could not make read-only: {failures}", file=sys.stderr)
    else:
        os.setsid()
    os.chdir(job_dir)
    os.environ.clear()
    os.environ.update(HOME="/tmp", TMPDIR="/tmp", PATH="/usr/bin:/bin", LANG="C.UTF-8")
    cpu = max(1, int(limits.cpu_seconds))
    for res, value in (
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_AS, (limits.memory_bytes,) * 2),
        (resource.RLIMIT_FSIZE, (limits.file_bytes,) * 2),
        (resource.RLIMIT_NOFILE, (1024, 1024)),
        (resource.RLIMIT_NPROC, (limits.nproc,) * 2),
        (resource.RLIMIT_CORE, (0, 0)),
    ):
        resource.setrlimit(res, value)
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # cleared by the uid change: set it again
    sys.stdout.reconfigure(line_buffering=True)


def _wait(pid: int, fds: list[int], limits, namespaces: bool) -> dict:
    """Drain stdout/stderr with a cap until the sandbox exits or the wall limit passes."""
    deadline = time.monotonic() + limits.wall_seconds
    pidfd = os.pidfd_open(pid)
    kept = {fd: bytearray() for fd in fds}
    dropped = dict.fromkeys(fds, 0)
    timed_out, waitstatus, usage = False, None, None
    open_fds = list(fds)
    while waitstatus is None or open_fds:
        timeout = deadline - time.monotonic() if waitstatus is None else 2.0
        ready, _, _ = select.select(
            open_fds + ([pidfd] if waitstatus is None else []), [], [], max(0.0, timeout)
        )
        if not ready:
            if waitstatus is not None:  # leftovers hold the pipes (no PID namespace)
                break
            timed_out = True
            _kill(pid)
            _, waitstatus, usage = os.wait4(pid, 0)
            continue
        for fd in ready:
            if fd == pidfd:
                _, waitstatus, usage = os.wait4(pid, 0)
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                open_fds.remove(fd)
                continue
            room = limits.output_bytes - len(kept[fd])
            kept[fd] += chunk[: max(0, room)]
            dropped[fd] += max(0, len(chunk) - max(0, room))
    if not namespaces:
        _kill(pid)  # the process group: does not reach setsid'd children
    os.close(pidfd)
    cpu = usage.ru_utime + usage.ru_stime
    outcome = _classify(waitstatus, timed_out, limits, cpu)
    outcome["streams"] = [(bytes(kept[fd]), dropped[fd]) for fd in fds]
    for fd in fds:
        os.close(fd)
    return outcome


def _kill(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        with contextlib.suppress(ProcessLookupError):
            target()


def _classify(waitstatus: int, timed_out: bool, limits, cpu_seconds: float) -> dict:
    if timed_out:
        return {
            "status": "timeout",
            "exit_detail": f"wall-clock limit of {limits.wall_seconds} s exceeded: killed",
        }
    if os.WIFSIGNALED(waitstatus):
        sig = os.WTERMSIG(waitstatus)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_seconds >= limits.cpu_seconds):
            return {
                "status": "timeout",
                "exit_detail": f"CPU time limit of {limits.cpu_seconds} s exceeded ({name})",
            }
        if sig == signal.SIGKILL:
            return {"status": "killed", "exit_detail": f"killed by {name}"}
        return {"status": "crashed", "exit_detail": f"died of signal {name}"}
    code = os.WEXITSTATUS(waitstatus)
    if code == 0:
        return {"status": "ok", "exit_detail": "finished"}
    return {"status": "crashed", "exit_detail": f"exited with code {code} before finishing"}


def _collect_results(src_fd: int, dst_fd: int, key: bytes, limits) -> tuple[bool, str]:
    """Write out/result.npz and out/errors.json from the verified sealed file only.

    Whatever the job left under those names (or under the sealed file's name) is removed
    first. Returns ``(final, problem)``: whether the last verified flush was the harness's
    final one, and why nothing verified ("" when the file verified or was absent).
    """
    cap = limits.result_bytes + (2 << 20)
    data, problem = None, ""
    try:
        fd = os.open(SEALED_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=src_fd)
    except OSError:
        fd = None
    if fd is not None:
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                problem = "the results file is not a regular file"
            elif info.st_size > cap:
                problem = f"the results file is larger than {cap} bytes"
            else:
                data = f.read(cap + 1)
    for name in (protocol.RESULT_FILE, protocol.ERRORS_FILE, SEALED_FILE):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=dst_fd)
    if data is None:
        return False, problem
    try:
        _seq, final, npz, errors = unseal(key, data)
    except SealError as err:
        problem = f"the results file was rejected: {err}"
        _write_at(dst_fd, protocol.ERRORS_FILE, json.dumps({"__result__": problem}).encode())
        return False, problem
    _write_at(dst_fd, protocol.RESULT_FILE, npz)
    _write_at(dst_fd, protocol.ERRORS_FILE, errors)
    return final, ""


def _write_at(dir_fd: int, name: str, data: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)
    fd = os.open(name, flags, 0o644, dir_fd=dir_fd)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
