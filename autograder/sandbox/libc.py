"""The few libc calls the sandbox needs that Python's ``os`` module lacks (through ctypes)."""

import ctypes
import os

from autograder.sandbox.protocol import denied

PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 1, 38, 36
_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    if denied("unshare"):
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


def sethostname(name: bytes) -> None:
    _check(_libc.sethostname(name, len(name)), "sethostname")
