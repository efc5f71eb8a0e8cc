"""Verified, cached, atomic downloads for the registry's downloadable datasets.

Files land in `$COURSE_LIB_DATA` (default `~/.cache/course_lib`). A download is
streamed to a temporary file in the cache directory, its sha256 checked, then
renamed into place, so the cache never holds a partial or corrupt file under
the final name. `COURSE_LIB_OFFLINE=1` refuses every download at once.
"""

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

CACHE_ENV = "COURSE_LIB_DATA"
OFFLINE_ENV = "COURSE_LIB_OFFLINE"
EMBEDDED_HINT = "digits, pydoc, numbers-en-fr"


class DatasetUnavailableError(RuntimeError):
    """A dataset cannot be had here: no network, a failed download, or a checksum mismatch."""


def cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The download cache: the argument, else `$COURSE_LIB_DATA`, else `~/.cache/course_lib`."""
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "course_lib"
    return Path(cache_dir).expanduser()


def sha256_of(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _unavailable(name: str, url: str, reason: str) -> DatasetUnavailableError:
    return DatasetUnavailableError(
        f"Cannot download {name!r} from {url} ({reason}); on a machine without internet "
        f"use an embedded dataset instead: {EMBEDDED_HINT}."
    )


def download(
    url: str,
    filename: str,
    sha256: str | None = None,
    cache: str | os.PathLike | None = None,
    name: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Returns the cached path of `url`, downloading and verifying it first if needed.

    Args:
        url: where to fetch the file (any URL urllib opens; tests serve loopback).
        filename: the file name inside the cache directory.
        sha256: expected hex digest; None skips verification.
        cache: cache directory; defaults to `cache_dir()`.
        name: dataset name for error messages (defaults to `filename`).
        timeout: socket timeout in seconds.

    Raises:
        DatasetUnavailableError: offline, the download failed, or the sha256 differs.
    """
    name = name or filename
    directory = cache_dir(cache)
    target = directory / filename
    if target.is_file():
        if sha256 is None or sha256_of(target) == sha256:
            return target
        target.unlink()  # A stale or corrupt file: fetch it again.
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        raise _unavailable(name, url, f"downloads are disabled by {OFFLINE_ENV}")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=directory)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if sha256 is not None and digest.hexdigest() != sha256:
            raise DatasetUnavailableError(
                f"The download of {name!r} from {url} is corrupt or has changed: its sha256 is "
                f"{digest.hexdigest()}, expected {sha256}; nothing was cached, try again later."
            )
        os.replace(tmp_name, target)
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise _unavailable(name, url, f"{type(error).__name__}: {reason}") from None
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return target
