"""Layer 1, where the host permits it: PID, network, mount, IPC and UTS namespaces.

The supervisor calls :func:`enter` (``unshare``) before it forks the sandbox, which is then
PID 1 of the new PID namespace: killing it kills everything inside, setsid'd and
double-forked children included. In the sandbox, :func:`jail_mounts` makes mounts private,
mounts a fresh /proc, hides paths under empty tmpfs mounts (re-binding what must stay
visible: the Python installation, the job) and remounts everything read-only except out/ (a
size-limited tmpfs the supervisor mounted), /tmp and /dev/shm (fresh size-limited tmpfs).
"""

import os

from autograder.sandbox import libc

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
NAMESPACES = {
    "pid_namespace": CLONE_NEWPID,
    "network_namespace": CLONE_NEWNET,
    "mount_namespace": CLONE_NEWNS,
    "ipc_namespace": CLONE_NEWIPC,
    "uts_namespace": CLONE_NEWUTS,
}
ALL = sum(NAMESPACES.values())
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18


def enter() -> None:
    """Unshare every namespace (in the supervisor, before it forks the sandbox)."""
    libc.unshare(ALL)


def mount_out(out_dir: str, size: int, uid: int | None) -> None:
    """A private mount tree, and out/ as a size-limited tmpfs owned by the job's uid."""
    libc.mount(None, "/", None, MS_REC | MS_PRIVATE)
    owner = uid or 0
    opts = f"size={size},mode=0700,uid={owner},gid={owner}"
    libc.mount("sandbox-out", out_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts)


def jail_mounts(hides, keeps, out_dir: str, tmp_bytes: int) -> list[str]:
    """In the sandbox: /proc, the hidden paths, read-only remounts; returns what stayed writable."""
    libc.sethostname(b"sandbox")
    libc.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    hide_paths(hides, keeps, writable={"/tmp": tmp_bytes, "/dev/shm": 16 << 20})
    return remount_readonly(writable={"/tmp", "/dev/shm", out_dir, "/proc"})


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
            libc.mount("/dev/null", path, None, MS_BIND)
            continue
        inner = [k for k in keeps if _under(k, path)]
        inner = [k for k in inner if not any(_under(k, o) for o in inner)]
        fds = [os.open(k, os.O_PATH) for k in inner]
        size = entries[path]
        opts = f"size={size},mode=1777" if size else "size=65536,mode=0755"
        libc.mount("sandbox-hide", path, "tmpfs", MS_NOSUID | MS_NODEV, opts)
        for keep, fd in zip(inner, fds, strict=True):
            os.makedirs(keep, exist_ok=True)
            libc.mount(f"/proc/self/fd/{fd}", keep, None, MS_BIND | MS_REC)
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
            libc.mount(None, target, None, flags)
        except OSError:
            if os.path.exists(target):  # not merely a mount shadowed by a hidden path
                failures.append(target)
    return failures
