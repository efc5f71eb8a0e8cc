"""The kinds of host the grader meets, simulated on this machine for the tests.

- ``namespaces``: this machine as root, with every capability (a bare machine or a VM);
- ``docker_caps``: root with Docker's default capability set, no CAP_SYS_ADMIN (a
  Gradescope, Docker or Kubernetes container): ``setpriv --bounding-set ...``;
- ``nobody``: an unprivileged user (an instructor's laptop without root, a shared server):
  ``setpriv --reuid 65534``. That user gets a copy of the repository and a mirror of the
  Python installation it can read (:func:`readable_tree`), made by root beforehand.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOBODY_UID = 65534
DOCKER_CAPS = (
    "setpriv", "--bounding-set",
    "-all,+chown,+dac_override,+fsetid,+fowner,+mknod,+net_raw,+setgid,+setuid,+setfcap,"
    "+setpcap,+net_bind_service,+sys_chroot,+kill,+audit_write", "--",
)  # fmt: skip
NOBODY = ("setpriv", "--reuid", str(NOBODY_UID), "--regid", str(NOBODY_UID), "--clear-groups", "--")
WRAPPERS = {"namespaces": (), "docker_caps": DOCKER_CAPS, "nobody": NOBODY}
SUMMARIES = {  # what grades.csv says for each kind of host, on this kernel (Landlock ABI >= 6)
    "namespaces": "namespaces+landlock+seccomp+uid",
    "docker_caps": "landlock+seccomp+uid",
    "nobody": "landlock+seccomp",
}


def traversable_dir(prefix: str) -> Path:
    """A fresh directory under /tmp that every uid may enter (pytest's are 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


def readable_tree(base: Path) -> tuple[str, Path]:
    """``(python, repo)`` that the unprivileged user can run: a mirror and a copy, in ``base``."""
    from autograder.sandbox import uids

    repo = base / "repo"
    files = (
        subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, files):
        if (REPO / rel).is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, repo / rel)
    stage = base / "python"
    stage.mkdir()
    python = uids.stage_interpreter(str(stage))
    for root, dirs, _files in os.walk(base):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
    return python, repo


def give_to_nobody(path: Path) -> None:
    """Make ``path`` (a tree) the unprivileged user's, as if that user had written it."""
    for root, dirs, files in os.walk(path):
        os.chown(root, NOBODY_UID, NOBODY_UID)
        for name in files + dirs:
            os.chown(os.path.join(root, name), NOBODY_UID, NOBODY_UID, follow_symlinks=False)
