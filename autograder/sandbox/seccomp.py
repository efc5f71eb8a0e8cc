"""Layer 3, unprivileged: a seccomp filter for the sandbox (through ``pyseccomp``/libseccomp).

Installed after no_new_privs, last before the submission runs. Everything is allowed except:

- ``socket()`` for any family but AF_UNIX (no TCP, UDP, raw, netlink or packet sockets);
- the calls that reach other processes or the kernel's global state: ptrace,
  process_vm_readv/writev, pidfd_getfd, kcmp, mount/umount, unshare/setns and ``clone`` with a
  namespace flag (``clone3`` answers ENOSYS, so libc falls back to ``clone``), keyctl,
  add_key, request_key, bpf, perf_event_open, userfaultfd, io_uring (which could open sockets
  without ``socket()``), open_by_handle_at, chroot/pivot_root, module and kexec loading;
- ``truncate(path)`` (older Landlock ABIs do not control it; ``ftruncate`` stays allowed).

Denied calls fail with EPERM (EAFNOSUPPORT for sockets); system calls of a foreign
architecture (e.g. i386 ``int 0x80`` on x86_64) kill the process (libseccomp's default).
"""

import contextlib
import errno
import socket

from autograder.sandbox.protocol import denied

try:
    import pyseccomp as _sc
except (ImportError, RuntimeError, OSError) as exc:  # no libseccomp on this host
    _sc, _IMPORT_ERROR = None, exc
else:
    _IMPORT_ERROR = None

DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "mount", "umount2", "move_mount", "open_tree", "fsopen", "fsmount", "fspick",
    "unshare", "setns", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
    "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "open_by_handle_at", "name_to_handle_at", "chroot", "pivot_root", "init_module",
    "finit_module", "delete_module", "kexec_load", "kexec_file_load", "truncate",
    "acct", "swapon", "swapoff", "reboot", "quotactl", "syslog",
)  # fmt: skip
CLONE_NAMESPACE_FLAGS = (
    0x00020000,
    0x02000000,
    0x04000000,
    0x08000000,
    0x10000000,
    0x20000000,
    0x40000000,
)  # fmt: skip (NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET)
DESCRIPTION = (
    "seccomp (sockets other than AF_UNIX, ptrace, process_vm_*, mount, unshare/setns, "
    "namespace clones, keyctl, bpf, perf_event_open, io_uring, module/kexec loading denied)"
)


def available() -> str:
    """ "" when a filter can be built here, else why not."""
    if _sc is None:
        return f"libseccomp is not usable ({_IMPORT_ERROR}); install libseccomp2 and pyseccomp"
    if denied("seccomp"):
        return "seccomp is not permitted here (simulated)"
    try:
        _build()
    except OSError as exc:
        return f"libseccomp failed to build the filter ({exc})"
    return ""


def _build():
    f = _sc.SyscallFilter(_sc.ALLOW)
    deny = _sc.ERRNO(errno.EPERM)
    for name in DENIED:
        with contextlib.suppress(OSError, ValueError):  # a call unknown to this libseccomp
            f.add_rule(deny, name)
    f.add_rule(_sc.ERRNO(errno.EAFNOSUPPORT), "socket", _sc.Arg(0, _sc.NE, socket.AF_UNIX))
    for flag in CLONE_NAMESPACE_FLAGS:
        f.add_rule(deny, "clone", _sc.Arg(0, _sc.MASKED_EQ, flag, flag))
    with contextlib.suppress(OSError, ValueError):  # a libseccomp without clone3
        f.add_rule(_sc.ERRNO(errno.ENOSYS), "clone3")
    return f


def install() -> None:
    """Load the filter into this (single-threaded) process (see :data:`DESCRIPTION`)."""
    if _sc is None:
        raise RuntimeError(f"libseccomp is not usable: {_IMPORT_ERROR}")
    _build().load()
