"""Which isolation layers this host allows, and applying them in each sandbox.

The zygote probes the host once (:func:`probe`) and picks the strongest combination:

=============  ==========================================================================
``namespaces``  root with CAP_SYS_ADMIN (a bare machine, a VM): PID/network/mount/IPC/UTS
                namespaces with hidden paths and a read-only filesystem, plus every layer
                below that the host also allows
``landlock``    no namespaces (Docker, Gradescope, Kubernetes; a non-root user): Landlock
                plus seccomp, and the uid barrier when running as root
``none``        neither: the grader refuses unless ``allow_unisolated`` (``--allow-unisolated``)
=============  ==========================================================================

Rlimits, no_new_privs, the wall-clock timeout and the after-job process sweep always apply.
A job whose planned layer fails to apply exits before the submission runs ("crashed"),
so student code never runs with less isolation than was reported.
"""

import dataclasses
import os
import sys
from pathlib import Path

from autograder.sandbox import landlock, libc, namespaces, seccomp, uids

REPO = str(Path(__file__).resolve().parents[2])
MODES = ("auto", "landlock", "none")
# Packages of the grader that a site-packages directory may hold: never readable in the jail.
GRADER_PACKAGES = ("course_lib", "autograder", "solutions", "tests", "benchmarks")
NAMESPACE_MISSING = [
    "pid_namespace (the process sweep after the job replaces it)",
    "network_namespace (seccomp and Landlock deny sockets instead)",
    "mount_namespace (Landlock's allowlist hides paths instead)",
    "ipc_namespace",
    "uts_namespace",
    "out_tmpfs (out/ and tmp/ are watched for size instead)",
]


class IsolationRefused(RuntimeError):
    """The host allows no real isolation, and unisolated grading was not allowed."""


def default_hides() -> list[str]:
    """Host paths hidden in every jail: the repository, home directories, runtime state."""
    return [REPO, "/root", "/home", "/run", "/srv", "/var/tmp", "/var/log", "/var/backups"]


def grader_packages_in(paths) -> list[str]:
    """Copies of the grader's packages (and their metadata) inside site directories."""
    found = []
    for site_dir in paths:
        if not os.path.isdir(site_dir) or not site_dir.endswith(("site-packages", "dist-packages")):
            continue
        for name in os.listdir(site_dir):
            stem = name.split("-")[0].split(".")[0].replace("course-lib", "course_lib")
            if stem in GRADER_PACKAGES or name.startswith("__editable__"):
                found.append(os.path.join(site_dir, name))
    return found


@dataclasses.dataclass
class Plan:
    """What the zygote found, and the layers each of its jobs applies."""

    mode: str  # "namespaces", "landlock" or "none"
    landlock_abi: int = 0
    seccomp: bool = False
    uid_drop: bool = False
    missing: list[str] = dataclasses.field(default_factory=list)
    read_roots: list[str] = dataclasses.field(default_factory=list)  # the Landlock allowlist
    python_paths: list[str] = dataclasses.field(default_factory=list)

    @property
    def summary(self) -> str:
        """One word per layer, as grades.csv reports it."""
        if self.mode == "none":
            return "unisolated"
        parts = ["namespaces"] if self.mode == "namespaces" else []
        parts += ["landlock"] if self.landlock_abi else []
        parts += ["seccomp"] if self.seccomp else []
        parts += ["uid"] if self.uid_drop else []
        return "+".join(parts)


def _fork_probe(action) -> bool:
    pid = os.fork()
    if pid == 0:
        try:
            action()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def probe(requested: str = "auto", hides=()) -> Plan:
    """Try each layer in a throwaway child (in the zygote, before any TensorFlow op)."""
    if requested not in MODES:
        raise ValueError(f"isolation must be one of {MODES}. Received: {requested!r}")
    missing = []
    root = os.geteuid() == 0
    can_unshare = requested == "auto" and root and _fork_probe(namespaces.enter)
    abi, why_not = landlock.abi() if requested != "none" else (0, "isolation='none' requested")
    if not abi:
        missing.append(f"landlock ({why_not})")
    filter_error = seccomp.available() if requested != "none" else "isolation='none' requested"
    if filter_error:
        missing.append(f"seccomp ({filter_error})")
    uid_drop = root and _fork_probe(lambda: os.setresuid(uids.UID_BASE, uids.UID_BASE, -1))
    if not uid_drop:
        missing.append("uid_drop (not root: the job runs as the grader's user)" if not root
                       else "uid_drop (setuid is not permitted here)")  # fmt: skip
    if can_unshare:
        mode = "namespaces"
    elif abi and not filter_error:
        mode = "landlock"
        missing = NAMESPACE_MISSING + missing
        why = "not root" if not root else "unshare is not permitted (no CAP_SYS_ADMIN)"
        if requested == "landlock":
            why = "isolation='landlock' requested"
        missing.insert(0, f"namespaces ({why})")
    else:
        mode = "none"
        missing = ["namespaces (not permitted here)", *NAMESPACE_MISSING, *missing]
    if abi:
        missing += landlock.missing_parts(abi)
    python = uids.interpreter_paths()
    excluded = [*default_hides(), *hides, *grader_packages_in(python)]
    roots = [*landlock.SYSTEM_ROOTS, *python]
    return Plan(
        mode=mode,
        landlock_abi=abi if mode != "none" else 0,
        seccomp=not filter_error and mode != "none",
        uid_drop=uid_drop,
        missing=missing,
        read_roots=landlock.read_rules(roots, excluded) if abi else [],
        python_paths=python,
    )


def refuse_message(plan: Plan) -> str:
    return (
        "Refusing to grade: this host allows neither Linux namespaces (root with "
        "CAP_SYS_ADMIN) nor Landlock plus seccomp (Linux >= 5.13 with Landlock enabled, "
        "libseccomp, and the grader extra: pip install 'course-lib[grader]'). Missing: "
        + "; ".join(plan.missing)
        + ". Student code would run with the grader's own access to solutions, answer keys "
        "and other students' work. Grade on a host that allows one of them, or pass "
        "--allow-unisolated to accept that risk (README: 'Isolation on each kind of host')."
    )


def describe(plan: Plan, uid: int | None) -> list[str]:
    """The layers a job of ``plan`` runs under (each applied, or the job never ran)."""
    applied = []
    if plan.mode == "namespaces":
        applied += [*namespaces.NAMESPACES, "out_tmpfs"]
    applied.append("rlimits (cpu, address space, file size, open files, nproc)")
    if uid is not None:
        applied.append(f"uid_drop (uid {uid}, no_new_privs)")
    if plan.landlock_abi:
        applied.append(landlock.describe(plan.landlock_abi, len(plan.read_roots) + 1))
    if plan.seccomp:
        applied.append(seccomp.DESCRIPTION)
    applied.append("process sweep (child subreaper: no process outlives the job)")
    return applied


def apply_in_sandbox(plan: Plan, *, job_dir, out_dir, tmp_dir, hides, uid, limits) -> None:
    """Apply the planned layers to the sandbox process (see :func:`describe`).

    Called in the forked sandbox (single-threaded), after stdio was redirected; ends with
    the uid dropped, no_new_privs set, and the Landlock domain and seccomp filter in force.
    """
    import resource

    if plan.mode == "namespaces":
        keeps = [*plan.python_paths, job_dir]
        hidden = [*default_hides(), os.path.dirname(job_dir), *hides]
        hidden += grader_packages_in(plan.python_paths)  # an installed course_lib, say
        failures = namespaces.jail_mounts(hidden, keeps, out_dir, limits.tmp_bytes)
        if failures:
            print(f"[sandbox] could not make read-only: {failures}", file=sys.stderr)
        tmp_dir = "/tmp"
    else:
        os.setsid()
    os.chdir(job_dir)
    os.environ.clear()
    os.environ.update(HOME=tmp_dir, TMPDIR=tmp_dir, PATH="/usr/bin:/bin", LANG="C.UTF-8")
    nproc = limits.nproc if uid is not None else uids.threads_of_uid(os.getuid()) + limits.nproc
    cpu = max(1, int(limits.cpu_seconds))
    for res, value in (
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_AS, (limits.memory_bytes,) * 2),
        (resource.RLIMIT_FSIZE, (limits.file_bytes,) * 2),
        (resource.RLIMIT_NOFILE, (1024, 1024)),
        (resource.RLIMIT_NPROC, (nproc, nproc)),
        (resource.RLIMIT_CORE, (0, 0)),
    ):
        resource.setrlimit(res, value)
    domain = None
    if plan.landlock_abi:
        writable = [out_dir, tmp_dir] + (["/dev/shm"] if plan.mode == "namespaces" else [])
        read = landlock.read_rules(plan.read_roots, hides) if hides else plan.read_roots
        domain = landlock.prepare([*read, job_dir], writable, plan.landlock_abi)
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
    libc.prctl(libc.PR_SET_PDEATHSIG, 9)  # cleared by the uid change: set it again
    if domain is not None:
        domain.restrict()  # no_new_privs is set already
        domain.close()
    if plan.seccomp:
        seccomp.install()
