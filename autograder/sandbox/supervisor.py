"""One sandboxed job, from fork to verified results (runs in a process forked from the zygote).

:func:`supervise` (root in root modes) applies the host-level layers the zygote planned
(``isolation.py``), forks the sandbox, hands it the seal key, drains its stdout/stderr with a
cap, enforces the wall-clock limit (and, without a mount namespace, the disk budget of out/
and tmp/), then kills whatever the job left running (it is a child subreaper, so setsid'd and
double-forked processes come back to it) and writes a status line for the zygote.

Sealed results. The student's code runs in the harness's own process, so it can write any
file the harness can, replace any function the harness looks up late, and start threads.
What the supervisor accepts is therefore not "whatever is in out/" but the harness's
*sealed* results file (``protocol.seal``):

- After forking the sandbox, the supervisor writes a fresh 32-byte key into a pipe whose
  read end is fd ``protocol.KEY_FD`` in the sandbox (the sandbox never sees the key in its
  own memory before that). The harness reads it and closes the fd *before* executing the
  submission, so the key exists nowhere the submission can reach by reading files or fds:
  only by introspecting the harness's memory (``gc.get_objects``, frames, ``ctypes``),
  which the static scan (``extract.suspicious_uses``) flags for the instructor.
- Every flush writes ``protocol.SEALED_FILE``; the final flush is the harness's last action,
  followed by an ``os._exit`` captured at import (:data:`_exit`), so a submission that
  replaces ``os._exit``/``os.replace``/``np.savez`` runs nothing after the last write.
- After the sandbox is gone the supervisor checks the HMAC and writes out/result.npz and
  out/errors.json *itself* from the verified bytes. A file written or changed by the
  submission does not verify and is discarded; an exit 0 without a verified *final* seal is
  "crashed" too. Not covered: a submission that reads the key out of the harness's memory.
"""

import contextlib
import json
import os
import resource
import select
import shutil
import signal
import stat
import tempfile
import time

from autograder.sandbox import collect, isolation, libc, namespaces, protocol, uids

_exit = (
    os._exit
)  # captured at import (in the zygote): the sandbox's last call, whatever the job did
ISOLATION_FAILED = 71  # the sandbox's exit code when a planned layer could not be applied
WATCH_SECONDS = 0.25


def supervise(job_dir: str, uid: int | None, plan, status_fd: int) -> None:
    """Run one job to completion in a forked supervisor; write a status line; never return."""
    start = time.monotonic()
    status = {"status": "crashed", "exit_detail": "supervisor failed", "wall_seconds": 0.0}
    try:
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        status.update(_supervise(os.path.realpath(job_dir), uid, plan))
    except BaseException as exc:  # report the supervisor's own failure to the zygote
        status["exit_detail"] = f"supervisor failed: {exc!r}"
    status["wall_seconds"] = round(time.monotonic() - start, 4)
    os.write(status_fd, json.dumps(status).encode() + b"\n")
    os._exit(0)


def _supervise(job_dir: str, uid: int | None, plan) -> dict:
    job = protocol.read_job(job_dir)
    limits = protocol.Limits(**job["limits"])
    out_dir = os.path.join(job_dir, protocol.OUT_DIR)
    with_ns = plan.mode == "namespaces"
    libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
    real_out_fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    # Without a mount namespace: a private temp dir (not in the job dir, whose parents the
    # job's uid may not traverse), removed after the job.
    tmp_dir = "/tmp" if with_ns else tempfile.mkdtemp(prefix="autograder-job-tmp-")
    if uid is not None:
        uids.protect_job(job_dir, uid)
        for path in [out_dir] + ([] if with_ns else [tmp_dir]):
            os.chown(path, uid, uid)
            os.chmod(path, 0o700)
    if with_ns:
        namespaces.enter()
        namespaces.mount_out(
            out_dir, 2 * limits.result_bytes + 2 * limits.output_bytes + (1 << 20), uid
        )
        jail_out_fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    else:
        jail_out_fd = real_out_fd
    pipes = [os.pipe(), os.pipe()]
    key_r, key_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the sandbox: PID 1 of the new PID namespace when namespaces are on
        _sandbox(plan, job, job_dir, out_dir, tmp_dir, limits, uid, pipes, key_r, key_w)
    os.close(key_r)
    key = os.urandom(protocol.KEY_BYTES)  # made after the fork: never in the sandbox's memory
    with contextlib.suppress(OSError):  # the sandbox died already: it gets no key
        os.write(key_w, key)
    os.close(key_w)
    for _r, w in pipes:
        os.close(w)
    watch = None if with_ns else (out_dir, tmp_dir, _disk_budget(limits))
    outcome = _wait(pid, [r for r, _ in pipes], limits, watch, None if with_ns else uid)
    final, problem = collect.verified_results(jail_out_fd, real_out_fd, key, limits)
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
        collect.write_at(real_out_fd, name, data)
    if not with_ns:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    outcome.update(isolation_applied=isolation.describe(plan, uid), isolation_missing=plan.missing)
    return outcome


def _sandbox(plan, job, job_dir, out_dir, tmp_dir, limits, uid, pipes, key_r, key_w):
    """The forked sandbox: stdio, the isolation layers, then the harness. Never returns."""
    code = ISOLATION_FAILED
    try:
        os.close(key_w)
        (out_r, out_w), (err_r, err_w) = pipes
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        if key_r != protocol.KEY_FD:
            os.dup2(key_r, protocol.KEY_FD)
        os.closerange(protocol.KEY_FD + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        isolation.apply_in_sandbox(
            plan, job_dir=job_dir, out_dir=out_dir, tmp_dir=tmp_dir,
            hides=job.get("hide") or [], uid=uid, limits=limits,
        )  # fmt: skip
        import sys

        sys.stdout.reconfigure(line_buffering=True)
        code = 70
        from autograder.sandbox.harness import run_job

        code = run_job(".", protocol.OUT_DIR, protocol.KEY_FD)  # relative: cwd entered as root
    except BaseException:
        import traceback

        if code == ISOLATION_FAILED:
            os.write(
                2, b"[sandbox] an isolation layer could not be applied; the code did not run\n"
            )
        traceback.print_exc()
    finally:
        _exit(code)


def _disk_budget(limits) -> int:
    return limits.tmp_bytes + 2 * limits.result_bytes + 2 * limits.output_bytes + (1 << 20)


def _disk_usage(paths, max_entries: int = 20000) -> int:
    """Bytes under ``paths`` (not following links); past ``max_entries`` files: "too many"."""
    total, seen = 0, 0
    stack = list(paths)
    while stack:
        with contextlib.suppress(OSError), os.scandir(stack.pop()) as entries:
            for entry in entries:
                seen += 1
                if seen > max_entries:
                    return 1 << 62
                with contextlib.suppress(OSError):
                    info = entry.stat(follow_symlinks=False)
                    total += info.st_blocks * 512
                    if stat.S_ISDIR(info.st_mode):
                        stack.append(entry.path)
    return total


def _wait(pid: int, fds: list[int], limits, watch, uid) -> dict:
    """Drain stdout/stderr with a cap until the sandbox exits or a limit is passed.

    ``watch`` is ``(out_dir, tmp_dir, budget)`` without a mount namespace: the job is killed
    when what it wrote there exceeds the budget. Once the sandbox has exited, every process
    it left behind is killed (they came back to this subreaper) before the pipes are drained.
    """
    deadline = time.monotonic() + limits.wall_seconds
    pidfd = os.pidfd_open(pid)
    kept = {fd: bytearray() for fd in fds}
    dropped = dict.fromkeys(fds, 0)
    timed_out, over_disk, waitstatus, usage = False, False, None, None
    open_fds = list(fds)
    while waitstatus is None or open_fds:
        if waitstatus is None:
            _reap_orphans(pid)
        timeout = deadline - time.monotonic() if waitstatus is None else 2.0
        if watch is not None and waitstatus is None:
            timeout = min(timeout, WATCH_SECONDS)
        ready, _, _ = select.select(
            open_fds + ([pidfd] if waitstatus is None else []), [], [], max(0.0, timeout)
        )
        if waitstatus is None and watch is not None and _disk_usage(watch[:2]) > watch[2]:
            over_disk = True
            _kill(pid)
            ready = [pidfd]
        if not ready:
            if waitstatus is not None:
                break
            if time.monotonic() < deadline:
                continue
            timed_out = True
            _kill(pid)
            _, waitstatus, usage = os.wait4(pid, 0)
            _end_leftovers(uid)
            continue
        for fd in ready:
            if fd == pidfd:
                _, waitstatus, usage = os.wait4(pid, 0)
                _end_leftovers(uid)
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                open_fds.remove(fd)
                continue
            room = limits.output_bytes - len(kept[fd])
            kept[fd] += chunk[: max(0, room)]
            dropped[fd] += max(0, len(chunk) - max(0, room))
    os.close(pidfd)
    cpu = usage.ru_utime + usage.ru_stime
    outcome = _classify(waitstatus, timed_out, limits, cpu)
    if over_disk:
        outcome = {"status": "killed", "exit_detail": f"wrote more than {watch[2]} bytes to disk"}
    outcome["streams"] = [(bytes(kept[fd]), dropped[fd]) for fd in fds]
    for fd in fds:
        os.close(fd)
    return outcome


def _reap_orphans(sandbox: int) -> None:
    """Reap the dead processes the job orphaned (this is their subreaper), not the sandbox.

    A zombie still counts for its uid's RLIMIT_NPROC: a killed fork bomb's would keep the
    job from starting a thread until the job ends.
    """
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid == sandbox:
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(info.si_pid, 0)


def _end_leftovers(uid: int | None) -> None:
    """Kill what the job left running: its slot uid's processes, then every descendant.

    With a PID namespace ``uid`` is None: its init's death ended everything in it (and a
    fork here would fail, the namespace having no init any more).
    """
    if uid is not None:
        uids.kill_uid(uid)
    uids.sweep_children()


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
    if code == ISOLATION_FAILED:
        return {
            "status": "crashed",
            "exit_detail": "an isolation layer could not be applied, so the code did not run "
            "(the sandbox's stderr says which)",
        }
    if code == 0:
        return {"status": "ok", "exit_detail": "finished"}
    return {"status": "crashed", "exit_detail": f"exited with code {code} before finishing"}
