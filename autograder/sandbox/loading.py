"""The parent's loading of what a sandboxed job left in ``out/``, trusting none of it.

Everything in ``out/`` is written by (or on behalf of) untrusted code. This module reads it
without ever unpickling: only plain numeric or bool arrays are accepted, with caps on their
number and size, and text files are read with a size cap and without following symlinks.
"""

from __future__ import annotations

import json
import math
import os
import stat
import zipfile
from pathlib import Path

import numpy as np

from autograder.sandbox.protocol import NUMERIC_KINDS


class ResultRejected(ValueError):
    """The sandbox's output is not plain numeric data within the caps."""


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
