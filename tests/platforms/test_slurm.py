"""Training on a real Slurm: a one-node cluster on localhost (Debian's slurmctld, slurmd, munge).

The session fixture installs the packages when missing (apt, from the Debian mirror),
starts the daemons with a slurm.conf in a temporary directory and stops them at the end
(tests/platforms/slurm.py). The jobs run this checkout's venv Python on the same files.
"""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.platforms.slurm import SlurmCluster

pytestmark = [pytest.mark.slow, pytest.mark.platform]

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 600
TIMES = {}
# The smallest GPT the CLI trains: 24 steps, a few seconds of compute.
GPT = ["--task", "gpt", "--d-model", "16", "--num-heads", "2", "--num-layers", "1",
       "--ff-dim", "32", "--seq-len", "16", "--epochs", "8", "--steps-per-epoch", "3",
       "--batch-size", "64", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if sys.platform != "linux" or not Path("/usr/bin/apt-get").exists():
        pytest.skip("the Slurm tests install Debian's packages: Debian or Ubuntu only")
    slurm = SlurmCluster(tmp_path_factory.mktemp("slurm")).start()
    print(f"\nSlurm: install {slurm.install_seconds:.1f} s, daemons up {slurm.start_seconds:.1f} s")
    yield slurm
    slurm.stop()
    for name, seconds in TIMES.items():
        print(f"{name}: {seconds:.1f} s")


@pytest.fixture
def timed(request):
    start = time.perf_counter()
    yield
    TIMES[request.node.name] = time.perf_counter() - start


def _weights_npz(path):
    with np.load(path, allow_pickle=False) as data:
        return [data[k] for k in sorted(data.files)]


def _weights_keras(path):
    import keras

    import course_lib.models  # noqa: F401  (registers the layers for loading)

    return keras.saving.load_model(path, compile=False).get_weights()


def _max_difference(a, b):
    assert len(a) == len(b) > 0
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


def _train(cluster, *args):
    """`python -m course_lib.train` here, outside Slurm (the reference runs)."""
    return subprocess.Popen(
        [sys.executable, "-m", "course_lib.train", *args], cwd=ROOT, env=cluster.env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _finish(proc):
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err[-3000:]
    return out


def _sbatch(cluster, out, *extra):
    """Writes the run's sbatch script with the CLI and submits it; returns the job id."""
    written = subprocess.run(
        [sys.executable, "-m", "course_lib.train", "--sbatch", *GPT, "--out", str(out), *extra],
        cwd=ROOT, env=cluster.env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    script = out / "train.sbatch"
    assert f"sbatch script: {script}" in written.stdout
    submitted = cluster.run("sbatch", "--parsable", str(script), cwd=ROOT)
    return submitted.stdout.strip().split(";")[0]


def _log(out, job):
    path = out / f"slurm-{job}.out"
    return path.read_text(errors="replace") if path.exists() else "(no log)"


def _latest_step(run_dir):
    state = run_dir / "checkpoints" / "checkpoint"
    if not state.exists():
        return 0
    return int(state.read_text().splitlines()[0].rsplit("-", 1)[1].strip('"'))


def test_two_task_srun_equals_one_process(cluster, tmp_path, timed):
    """Do 2 srun tasks (MultiWorkerMirroredStrategy from SlurmClusterResolver) end on the
    single-process weights of the toy LM, within 1e-6, on the same global batch?"""
    toy = [
        sys.executable,
        "-m",
        "tests.training.run_toy",
        "--epochs",
        "2",
        "--steps-per-epoch",
        "4",
    ]
    single = subprocess.Popen(
        [*toy, "--run", "lm:sgd:cpu", "--out", str(tmp_path / "one"),
         "--weights", str(tmp_path / "one.npz")],
        cwd=ROOT, env=cluster.env(PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    job = cluster.run(
        "srun", "-n", "2", "--kill-on-bad-exit=1", "--export", f"ALL,PYTHONPATH={ROOT}",
        *toy, "--run", "lm:sgd:auto", "--out", str(tmp_path / "two"),
        "--weights", str(tmp_path / "two.npz"), cwd=ROOT, check=False, timeout=TIMEOUT,
    )  # fmt: skip
    assert job.returncode == 0, job.stderr[-3000:]
    _finish(single)
    assert "MultiWorkerMirroredStrategy (worker 0, 2 workers) on [device:cpu:0]" in job.stdout
    assert job.stdout.count("replicas in sync") == 1, "only the chief prints"
    difference = _max_difference(
        _weights_npz(tmp_path / "one.npz"), _weights_npz(tmp_path / "two.npz")
    )
    print(f"max |w_srun - w_single| = {difference:.2e}")
    assert difference <= 1e-6


def test_generated_sbatch_script_runs_to_completion(cluster, tmp_path, timed):
    """Does the script written by --sbatch (2 tasks on the node) train to the end, with every
    output written once, by the chief, and the log in the run directory?"""
    out = tmp_path / "run"
    job = _sbatch(cluster, out, "--ntasks-per-node", "2", "--time", "00:20:00")
    script = (out / "train.sbatch").read_text()
    for directive in ("--requeue", "--ntasks-per-node=2", "--signal=USR1@", f"--output={out}"):
        assert f"#SBATCH {directive}" in script
    assert "srun " in script and "--resume" in script
    state = cluster.wait_job(job, TIMEOUT)
    log = _log(out, job)
    assert state == "COMPLETED", f"{state}\n{log[-3000:]}\n{cluster.logs()}"
    assert "MultiWorkerMirroredStrategy (worker 0, 2 workers)" in log
    assert log.count("finished in") == 1
    for name in ("model.keras", "history.csv", "curves.png", "samples.txt"):
        assert (out / name).stat().st_size > 0, name
    assert len((out / "history.csv").read_text().splitlines()) == 9


@pytest.fixture(scope="module")
def uninterrupted(cluster, tmp_path_factory):
    """The reference for the interrupted jobs: the same run in one process, outside Slurm."""
    out = tmp_path_factory.mktemp("whole") / "run"
    proc = _train(cluster, *GPT, "--out", str(out))
    return lambda: (_finish(proc), _weights_keras(out / "model.keras"))[1]


def test_cancelled_job_resubmitted_ends_like_an_uninterrupted_run(
    cluster, uninterrupted, tmp_path, timed
):  # fmt: skip
    """Cancelled (scancel) after its first checkpoint and submitted again, does the job
    resume (the script passes --resume) and end on the uninterrupted weights?"""
    out = tmp_path / "run"
    job = _sbatch(cluster, out)
    deadline = time.monotonic() + TIMEOUT
    while _latest_step(out) == 0 and time.monotonic() < deadline:
        assert cluster.job_state(job) in ("PENDING", "RUNNING"), _log(out, job)
        time.sleep(0.1)
    cluster.run("scancel", job)
    assert cluster.wait_job(job, 120) == "CANCELLED"
    cancelled_at = _latest_step(out)
    assert 0 < cancelled_at < 24 and not (out / "model.keras").exists()

    again = cluster.run("sbatch", "--parsable", str(out / "train.sbatch"), cwd=ROOT).stdout.strip()
    assert cluster.wait_job(again, TIMEOUT) == "COMPLETED", _log(out, again)
    assert f"Resumed from step {cancelled_at}" in _log(out, again)
    difference = _max_difference(uninterrupted(), _weights_keras(out / "model.keras"))
    print(f"cancelled at step {cancelled_at}; max |w_resumed - w_whole| = {difference:.2e}")
    assert difference <= 1e-6


def test_time_limit_signal_checkpoints_and_requeues(cluster, uninterrupted, tmp_path, timed):
    """On the time-limit warning (SIGUSR1 to the tasks, as --signal sends it), does the job
    checkpoint, exit 75, requeue itself and finish on the uninterrupted weights?"""
    out = tmp_path / "run"
    job = _sbatch(cluster, out)
    deadline = time.monotonic() + TIMEOUT
    while _latest_step(out) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    cluster.run("scancel", "--signal=USR1", job)
    while "restart 1" not in _log(out, job) and time.monotonic() < deadline:
        assert cluster.job_state(job) in ("PENDING", "RUNNING", "REQUEUED"), _log(out, job)
        time.sleep(0.2)
    assert cluster.wait_job(job, TIMEOUT) == "COMPLETED", _log(out, job)
    log = _log(out, job)
    assert "checkpoint saved, requeueing" in log and "Resumed from step" in log
    difference = _max_difference(uninterrupted(), _weights_keras(out / "model.keras"))
    print(f"max |w_requeued - w_whole| = {difference:.2e}")
    assert difference <= 1e-6
