"""The supervisor's side of the seal: out/result.npz and out/errors.json from verified bytes only."""

import contextlib
import json
import os
import stat

from autograder.sandbox import protocol


def verified_results(src_fd: int, dst_fd: int, key: bytes, limits) -> tuple[bool, str]:
    """Write out/result.npz and out/errors.json from the verified sealed file only.

    Whatever the job left under those names (or under the sealed file's name) is removed
    first. Returns ``(final, problem)``: whether the last verified flush was the harness's
    final one, and why nothing verified ("" when the file verified or was absent).
    """
    cap = limits.result_bytes + (2 << 20)
    data, problem = None, ""
    try:
        fd = os.open(
            protocol.SEALED_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=src_fd
        )
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
    for name in (protocol.RESULT_FILE, protocol.ERRORS_FILE, protocol.SEALED_FILE):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=dst_fd)
    if data is None:
        return False, problem
    try:
        _seq, final, npz, errors = protocol.unseal(key, data)
    except protocol.SealError as err:
        problem = f"the results file was rejected: {err}"
        write_at(dst_fd, protocol.ERRORS_FILE, json.dumps({"__result__": problem}).encode())
        return False, problem
    write_at(dst_fd, protocol.RESULT_FILE, npz)
    write_at(dst_fd, protocol.ERRORS_FILE, errors)
    return final, ""


def write_at(dir_fd: int, name: str, data: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)
    fd = os.open(name, flags, 0o644, dir_fd=dir_fd)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
