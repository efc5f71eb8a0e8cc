"""A clean Debian root for the Gradescope archive, entered the way a container is.

:func:`build` makes a minimal Debian 12 root with ``debootstrap --variant=minbase`` (from
Debian's registry: nothing cached, no Python, no pip), with /proc, /sys and /dev mounted
and the host's DNS. :func:`run` executes a command in it with ``chroot``, under Docker's
default capability set (``setpriv --bounding-set``: no CAP_SYS_ADMIN, so no namespaces,
as in a Gradescope container) and a clean environment.
"""

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

from tests.autograder.hosts import DOCKER_CAPS

SUITE, MIRROR = "bookworm", "http://deb.debian.org/debian"
MOUNTS = ("proc", "sys", "dev")
CONTAINER_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
}
HOST_PIP = ("PIP_CERT", "PIP_DEFAULT_TIMEOUT", "PIP_INDEX_URL")  # how this network reaches PyPI


def ensure_debootstrap() -> None:
    """Install Debian's debootstrap when the machine lacks it (the test's own dependency)."""
    if shutil.which("debootstrap"):
        return
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip


def build(root: Path) -> None:
    """A fresh minimal Debian root at ``root``, ready for :func:`run`."""
    ensure_debootstrap()
    subprocess.run(
        ["debootstrap", "--variant=minbase", SUITE, str(root), MIRROR],
        check=True,
        capture_output=True,
    )
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    # This network's own certificate authorities (its registries' TLS proxy), which
    # ca-certificates adds to the system bundle when setup.sh installs it.
    local_cas = Path("/usr/local/share/ca-certificates")
    if local_cas.is_dir():
        shutil.copytree(local_cas, root / "usr/local/share/ca-certificates", dirs_exist_ok=True)
    for name in MOUNTS:
        target = root / name
        target.mkdir(exist_ok=True)
        if name == "proc":
            subprocess.run(["mount", "-t", "proc", "proc", str(target)], check=True)
        else:
            subprocess.run(["mount", "--rbind", f"/{name}", str(target)], check=True)
            subprocess.run(["mount", "--make-rslave", str(target)], check=True)


def teardown(root: Path) -> None:
    """Unmount what :func:`build` mounted and remove the root."""
    for name in reversed(MOUNTS):
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(["umount", "-R", "-l", str(root / name)], check=True)
    if not any(os.path.ismount(root / n) for n in MOUNTS):
        shutil.rmtree(root, ignore_errors=True)


def run(root: Path, script: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """``bash -c script`` in the root, as root with Docker's default capabilities."""
    command = [*DOCKER_CAPS, "chroot", str(root), "/bin/bash", "-c", script]
    env = {**CONTAINER_ENV, **{k: v for k, v in os.environ.items() if k in HOST_PIP}}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
