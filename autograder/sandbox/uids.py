"""Layer 4, when the grader runs as root: a per-slot uid that cannot read grading material.

- :func:`slot_uid`: each of a zygote's slots runs its jobs as ``UID_BASE + 64 * zygote_pid +
  slot``, unique per live zygote, never a real user's uid.
- :func:`stage_interpreter`: when the Python installation is not readable by other uids
  (pyenv under /root, mode 0700), a readable mirror of it (hard links where possible) lets
  the zygote start from paths the slot uid can read; the uid drop is never skipped.
- :func:`protect_job`: a job directory readable by its own slot only (root:slot, 0750/0640).
- :func:`kill_uid` and :func:`sweep_children`: after each job, no process of it survives.
"""

import contextlib
import os
import shutil
import signal
import stat
import sys
import time

UID_BASE = 100000


def slot_uid(zygote_pid: int, slot: int) -> int | None:
    """The unprivileged uid of a slot (None when not root: no uid drop is possible)."""
    return UID_BASE + 64 * zygote_pid + slot if os.geteuid() == 0 else None


def readable_by_all(path: str) -> bool:
    """Can any uid read ``path`` and traverse every directory above it?"""
    path = os.path.realpath(path)
    if not os.path.exists(path) or not os.stat(path).st_mode & stat.S_IROTH:
        return False
    while path != "/":
        path = os.path.dirname(path)
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
    return True


def interpreter_paths() -> list[str]:
    """The directories a jailed Python imports from: the prefixes and the site directories."""
    import site

    paths = [sys.prefix, sys.base_prefix, *site.getsitepackages()]
    paths += [p for p in sys.path if p and os.path.isdir(p) and "site-packages" in p]
    lib = os.path.join(sys.base_prefix, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}")
    paths += [lib, os.path.join(lib, "lib-dynload")]
    return sorted({os.path.realpath(p) for p in paths if os.path.isdir(p)})


def needs_staging() -> bool:
    """Root, and part of the Python installation unreadable by other uids."""
    return os.geteuid() == 0 and not all(readable_by_all(p) for p in interpreter_paths())


def _link(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another filesystem, or links refused: copy
        shutil.copy2(src, dst)


def _mirror(src: str, dst: str, skip=()) -> None:
    shutil.copytree(
        src,
        dst,
        symlinks=True,
        copy_function=_link,
        ignore=lambda d, names: [n for n in names if os.path.join(d, n) in skip],
    )


def stage_interpreter(dest: str) -> str:
    """A readable mirror of this interpreter and its site-packages; returns its python path.

    ``dest/base`` mirrors the standard library (not its tests, nor its own site-packages),
    ``dest/venv`` is a virtual environment on that base whose site-packages are the real
    ones when every uid can read them, or mirrors of them otherwise.
    """
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    base_lib = os.path.realpath(os.path.join(sys.base_prefix, "lib", version))
    base = os.path.join(dest, "base")
    _mirror(base_lib, os.path.join(base, "lib", version),
            skip={os.path.join(base_lib, "site-packages"), os.path.join(base_lib, "test")})  # fmt: skip
    os.makedirs(os.path.join(base, "bin"))
    exe = os.path.join(base, "bin", version)
    _link(os.path.realpath(sys.executable), exe)
    # libpython, when the interpreter links it (its RUNPATH may be unreadable: see library_path)
    real_lib = os.path.join(os.path.realpath(sys.base_prefix), "lib")
    for name in os.listdir(real_lib):
        if name.startswith("libpython") and ".so" in name:
            src = os.path.join(real_lib, name)
            dst = os.path.join(base, "lib", name)
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)
            else:
                _link(src, dst)
    venv = os.path.join(dest, "venv")
    os.makedirs(os.path.join(venv, "bin"))
    with open(os.path.join(venv, "pyvenv.cfg"), "w") as f:
        f.write(f"home = {base}/bin\ninclude-system-site-packages = false\n")
    os.symlink(exe, os.path.join(venv, "bin", "python"))
    sites = [
        p for p in interpreter_paths() if os.path.basename(p) in ("site-packages", "dist-packages")
    ]
    target = os.path.join(venv, "lib", version, "site-packages")
    os.makedirs(os.path.dirname(target))
    if sites and readable_by_all(sites[0]):
        os.symlink(sites[0], target)
    elif sites:
        _mirror(sites[0], target, skip={os.path.join(sites[0], "__pycache__")})
    extra = [p for p in sites[1:] if os.path.realpath(p) != os.path.realpath(sites[0])]
    if extra:  # more site directories (e.g. --system-site-packages): a .pth file adds them
        with open(
            os.path.join(target if not os.path.islink(target) else venv, "staged.pth"), "w"
        ) as f:
            f.write("\n".join(extra) + "\n")
    for root, _dirs, _files in os.walk(dest):
        os.chmod(root, 0o755)
    return os.path.join(venv, "bin", "python")


def library_path(python: str) -> str | None:
    """The lib/ beside an interpreter that holds its libpython, for LD_LIBRARY_PATH.

    A mirrored interpreter's RUNPATH still names the original lib/ (under /root for
    pyenv), which another uid cannot read; LD_LIBRARY_PATH is searched before RUNPATH.
    """
    lib = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(python))), "lib")
    if os.path.isdir(lib) and any(n.startswith("libpython") for n in os.listdir(lib)):
        return lib
    return None


def protect_job(job_dir: str, uid: int) -> None:
    """Make the job readable by its slot's group only (the files stay root's, read-only)."""
    for root, _dirs, files in os.walk(job_dir):
        os.chown(root, 0, uid)
        os.chmod(root, 0o750)
        for name in files:
            path = os.path.join(root, name)
            os.chown(path, 0, uid, follow_symlinks=False)
            os.chmod(path, 0o640)


def kill_uid(uid: int, seconds: float = 5.0) -> None:
    """SIGKILL every process of ``uid`` (from a helper that takes that uid), until none is left.

    ``kill(-1)`` reaches every process the caller may signal; it cannot say whether it found
    any, so /proc is checked after each round (a fork flood may add processes meanwhile).
    """
    deadline = time.monotonic() + seconds
    while True:
        pid = os.fork()
        if pid == 0:
            try:
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                for _ in range(3):
                    os.kill(-1, signal.SIGKILL)  # every process this uid may signal, but itself
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        if not tasks_of_uid(uid, live=True) or time.monotonic() > deadline:
            return  # zombies left: sweep_children reaps them (they came back to a subreaper)
        time.sleep(0.005)


def _descendants(root: int) -> dict[int, str]:
    """``{pid: state letter}`` of every process below ``root`` (from /proc's stat files)."""
    parent, state = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            parent[int(entry)], state[int(entry)] = int(fields[1]), fields[0].decode()
    below, todo = {}, [root]
    children = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    while todo:
        for kid in children.get(todo.pop(), []):
            if kid not in below:
                below[kid] = state[kid]
                todo.append(kid)
    return below


def sweep_children(seconds: float = 5.0) -> int:
    """Kill and reap every descendant of this process (a child subreaper); return how many.

    Stop first, then kill: every descendant gets SIGSTOP until all are stopped (a stopped
    process cannot fork), and only then SIGKILL. Killing a fork bomb one generation at a
    time loses the race (its children come back to this subreaper, forking) and leaves it
    running when no uid or PID namespace ends it: the unprivileged host.
    """
    me, killed = os.getpid(), set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        live = {p: s for p, s in _descendants(me).items() if s not in "ZXx"}
        running = [p for p, s in live.items() if s not in "Tt"]
        for pid in running or live:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP if running else signal.SIGKILL)
        killed.update(() if running else live)
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return len(killed)
            if pid == 0:
                break
        if not live:
            time.sleep(0.01)
    return len(killed)


def tasks_of_uid(uid: int, live: bool = False) -> dict[int, int]:
    """``{pid: threads}`` of the processes whose real uid is ``uid`` (``live``: no zombies)."""
    tasks = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError, KeyError):
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            dead = fields["State"].strip().startswith(("Z", "X"))
            if int(fields["Uid"].split()[0]) == uid and not (live and dead):
                tasks[int(entry)] = int(fields["Threads"])
    return tasks


def threads_of_uid(uid: int) -> int:
    """How many tasks (threads included) the real uid ``uid`` has now (RLIMIT_NPROC counts them)."""
    return sum(tasks_of_uid(uid).values())
