"""Layer 2, unprivileged: a Landlock domain for the sandbox (through ``landlockpy``).

Landlock (Linux >= 5.13) lets any process restrict itself and its future children; the
restriction cannot be lifted. The sandbox gets:

- reads only from an allowlist: the Python installation and site-packages (minus the
  grader's own packages), the system's library and configuration trees, /proc, /sys, a few
  devices, and its job directory. Everything else (the repository, solutions, answer keys,
  the Gradescope source, other students' jobs and outputs, home directories) is denied;
- writes only to the job's out/ and its private temp directory (plus /tmp and /dev/shm when
  they are the private tmpfs of a mount namespace); no ``execve`` at all;
- ABI >= 4: no TCP bind or connect; ABI >= 6: no signals to, and no abstract UNIX sockets
  of, processes outside the domain (the grader, other jobs).

The allowlist is computed once in the zygote (:func:`read_rules`) and applied per job
(:func:`restrict`), after the uid drop and no_new_privs, before the submission runs.
"""

import os

from autograder.sandbox.protocol import denied

try:
    import landlockpy as _ll
    from landlockpy import AccessFS
except ImportError:  # the grader extra is not installed: reported as missing
    _ll = None

SYSTEM_ROOTS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/proc", "/sys")
READ_DEVICES = ("/dev/zero", "/dev/urandom", "/dev/random", "/dev/full")
RW_DEVICES = ("/dev/null",)


def abi() -> tuple[int, str]:
    """``(ABI version, "")``, or ``(0, why Landlock is unavailable)``."""
    if _ll is None:
        return 0, "the landlockpy package is not installed (pip install 'course-lib[grader]')"
    if denied("landlock"):
        return 0, "the kernel does not offer Landlock (simulated)"
    try:
        return int(_ll.abi_version()), ""
    except OSError as exc:  # ENOSYS: kernel < 5.13; EOPNOTSUPP: Landlock disabled at boot
        return 0, f"the kernel does not offer Landlock ({exc.strerror})"


def _under(path: str, parent: str) -> bool:
    return path.startswith(parent.rstrip("/") + "/")


def read_rules(roots, excluded) -> list[str]:
    """The paths to allow for reading: each root whole, or split around excluded paths in it.

    A root lying under an excluded path is still allowed (``.venv`` inside the repository);
    only excluded paths *beneath* a root are cut out of it, by allowing the root's other
    children one by one (recursively, where an excluded path lies deeper).
    """
    excluded = {os.path.realpath(e) for e in excluded}
    allowed: list[str] = []

    def visit(path: str, cut: set[str]) -> None:
        if path in cut:
            return
        inner = {e for e in cut if _under(e, path)}
        if not inner or not os.path.isdir(path) or os.path.islink(path):
            allowed.append(path)
            return
        with os.scandir(path) as entries:
            for entry in entries:
                visit(os.path.realpath(entry.path), inner)

    for root in roots:
        root = os.path.realpath(root)
        if os.path.exists(root):
            visit(root, {e for e in excluded if e == root or _under(e, root)})
    allowed = sorted(set(allowed))
    return [p for p in allowed if not any(_under(p, q) for q in allowed)]


def prepare(read, write, level: int):
    """The ruleset of the domain, its rules added (while the paths are still openable: before
    the uid drop); ``.restrict()`` enforces it on this single-threaded process and its children.
    """
    if _ll is None:
        raise RuntimeError("landlockpy is not installed")
    handled = _ll.fs_for_abi(level)
    read_dir = (AccessFS.READ_FILE | AccessFS.READ_DIR) & handled
    read_file = AccessFS.READ_FILE & handled
    device = (AccessFS.READ_FILE | AccessFS.WRITE_FILE | AccessFS.TRUNCATE) & handled
    writable = handled & ~(AccessFS.EXECUTE | AccessFS.MAKE_CHAR | AccessFS.MAKE_BLOCK)
    ruleset = _ll.Ruleset(
        handled_fs=handled, handled_net=_ll.net_for_abi(level), scoped=_ll.scope_for_abi(level)
    )
    for path in read:
        if os.path.exists(path):
            ruleset.allow_path(path, read_dir if os.path.isdir(path) else read_file)
    for path in READ_DEVICES:
        if os.path.exists(path):
            ruleset.allow_path(path, read_file)
    for path in RW_DEVICES:
        ruleset.allow_path(path, device | (AccessFS.IOCTL_DEV & handled))
    for path in write:
        ruleset.allow_path(path, writable)
    return ruleset


def describe(level: int, paths: int) -> str:
    """What :func:`restrict` applies at ABI ``level``, for reports."""
    parts = [f"filesystem allowlist of {paths} read-only paths", "writes to out/ and tmp only"]
    parts.append("no exec")
    if level >= 4:
        parts.append("TCP bind/connect denied")
    if level >= 6:
        parts.append("signals and abstract UNIX sockets scoped")
    return f"landlock (ABI {level}: " + ", ".join(parts) + ")"


def missing_parts(level: int) -> list[str]:
    """What an older Landlock ABI leaves out, as reported in ``isolation_missing``."""
    missing = []
    if level < 4:
        missing.append(f"landlock_network (ABI {level} < 4: TCP is left to seccomp)")
    if level < 6:
        missing.append(
            f"landlock_scopes (ABI {level} < 6: signals and abstract UNIX sockets not scoped)"
        )
    return missing
