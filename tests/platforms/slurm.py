"""A one-node Slurm cluster on localhost for the Slurm tests: Debian's packages, no cgroups.

`SlurmCluster(root).start()` installs slurmctld, slurmd, slurm-client and munge from the
Debian mirror when they are missing (as tests/browser.py does for chromium), writes a
munge key and a slurm.conf under `root` (free ports, state and logs there too), starts
munged, slurmctld and slurmd as root, and waits until `sinfo` shows the node idle.
`env()` is the environment that points Slurm's commands at this cluster (SLURM_CONF);
`stop()` ends the three daemons it started.
"""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
NODE = "localhost"

CONF = """\
ClusterName=course
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge/munge.socket
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool/%n
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
KillWait=5
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName={node} NodeHostname={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_packages():
    """apt-get installs Debian's Slurm and munge when a daemon is missing; returns seconds spent."""
    if all(shutil.which(p) for p in ("slurmctld", "slurmd", "munged", "sbatch")):
        return 0.0
    if not shutil.which("apt-get"):
        raise RuntimeError("Slurm is not installed and there is no apt-get to install it")
    start = time.perf_counter()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", *PACKAGES], check=True, env=env)
    return time.perf_counter() - start


class SlurmCluster:
    """munged + slurmctld + slurmd on 127.0.0.1, all files under `root`."""

    def __init__(self, root, cpus=2, memory_mb=4000):
        self.root = Path(root)
        self.cpus, self.memory_mb = cpus, memory_mb
        self.conf = self.root / "slurm.conf"
        self.procs = []
        self.install_seconds = self.start_seconds = 0.0

    def env(self, **extra):
        """os.environ pointing at this cluster (SLURM_CONF), without an outer job's SLURM_*."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        return {**env, "SLURM_CONF": str(self.conf), **extra}

    def run(self, *command, check=True, timeout=60, **kwargs):
        return subprocess.run(
            command, env=self.env(), capture_output=True, text=True, check=check,
            timeout=timeout, **kwargs,
        )  # fmt: skip

    def _write_files(self):
        for sub in ("munge", "state", f"spool/{NODE}", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root / "munge", 0o700)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o600)
        self.conf.write_text(
            CONF.format(
                root=self.root, host=socket.gethostname().split(".")[0], node=NODE,
                ctld_port=_free_port(), slurmd_port=_free_port(), cpus=self.cpus,
                memory=self.memory_mb,
            )
        )  # fmt: skip
        # Slurm looks for cgroup.conf beside slurm.conf only when a cgroup plugin is used.

    def _daemon(self, *command):
        with open(self.root / "log" / f"{Path(command[0]).name}.out", "w") as log:
            proc = subprocess.Popen(command, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def start(self, timeout=60):
        self.install_seconds = ensure_packages()
        start = time.perf_counter()
        self._write_files()
        munge = self.root / "munge"
        self._daemon(
            "munged", "--foreground", "--force", f"--socket={munge}/munge.socket",
            f"--key-file={munge}/munge.key", f"--pid-file={munge}/munged.pid",
            f"--log-file={munge}/munged.log", f"--seed-file={munge}/munged.seed",
        )  # fmt: skip
        self._wait(lambda: (munge / "munge.socket").exists(), timeout, "munged")
        self._daemon("slurmctld", "-D", "-i", "-f", str(self.conf))
        self._daemon("slurmd", "-D", "-N", NODE, "-f", str(self.conf))
        self._wait(self.node_idle, timeout, "the node to be idle in sinfo")
        self.start_seconds = time.perf_counter() - start
        return self

    def node_idle(self):
        out = self.run("sinfo", "-h", "-N", "-o", "%N %t", check=False).stdout.split()
        return out[:1] == [NODE] and out[1:2] == ["idle"]

    def _wait(self, ready, timeout, what):
        deadline = time.monotonic() + timeout
        while not ready():
            dead = [p.args[0] for p in self.procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"Slurm did not start ({what}; exited: {dead}):\n{self.logs()}")
            time.sleep(0.3)

    def logs(self, tail=3000):
        texts = []
        for path in sorted((self.root / "log").glob("*")) + [self.root / "munge" / "munged.log"]:
            if path.exists():
                texts.append(f"== {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(texts)

    def job_state(self, job_id):
        """The job's state from `scontrol show job` (PENDING, RUNNING, COMPLETED, ...)."""
        out = self.run("scontrol", "show", "job", str(job_id), check=False).stdout
        for field in out.split():
            if field.startswith("JobState="):
                return field.split("=", 1)[1]
        return "UNKNOWN"

    def wait_job(self, job_id, timeout=600, states=("COMPLETED", "FAILED", "CANCELLED",
                                                     "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY")):  # fmt: skip
        deadline = time.monotonic() + timeout
        while (state := self.job_state(job_id)) not in states:
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {state} after {timeout} s")
            time.sleep(0.5)
        return state

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []
