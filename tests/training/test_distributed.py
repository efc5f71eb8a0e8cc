"""Multi-replica, multi-worker and kill -9 / resume runs, each in fresh processes.

Logical CPU devices and TF_CONFIG must be set before TensorFlow initialises, so
every run here is `python -m tests.training.run_toy` in a subprocess that writes
its final weights as .npz.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 600


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _command(*args):
    return [sys.executable, "-m", "tests.training.run_toy", *map(str, args)]


def _run(*args):
    proc = subprocess.run(
        _command(*args), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _weights(path):
    with np.load(path, allow_pickle=False) as data:
        return [data[k] for k in sorted(data.files)]


def _assert_close(a, b, atol):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=0, atol=atol)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_mirrored_two_cpus_equals_one_device(tmp_path):
    """After 8 steps, do 2 mirrored replicas give single-device weights (1e-5) on the same batch?

    The LM has unequal numbers of real tokens per row, so this also checks that the loss
    is the per-token mean over the whole global batch, not a mean of replica means.
    (One MirroredStrategy per process: a second one in the same process clashes on
    collective instance keys, so each task runs in its own process.)
    """
    procs = {}
    for task, optimizer in (("lm", "sgd"), ("cls", "adamw")):
        command = _command(
            "--logical-cpus", 2, "--out", tmp_path / task, "--weights", tmp_path / f"{task}.npz",
            "--run", f"{task}:{optimizer}:cpu", f"{task}:{optimizer}:mirrored",
        )  # fmt: skip
        procs[task] = subprocess.Popen(
            command, cwd=ROOT, env=_env(), text=True, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
    for task, proc in procs.items():
        out, err = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, err[-3000:]
        assert "MirroredStrategy on [device:cpu:0, device:cpu:1]: 2 replicas in sync" in out
        _assert_close(
            _weights(tmp_path / f"{task}_0.npz"), _weights(tmp_path / f"{task}_1.npz"), 1e-5
        )


@pytest.mark.slow
def test_multiworker_two_processes_end_identical(tmp_path):
    """Do 2 MultiWorkerMirroredStrategy workers on localhost finish with identical weights?"""
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        command = _command(
            "--run", "lm:adamw:multiworker", "--out", tmp_path / "run",
            "--weights", tmp_path / f"w{index}.npz",
        )  # fmt: skip
        procs.append(
            subprocess.Popen(
                command,
                cwd=ROOT,
                env=_env(TF_CONFIG=tf_config),
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )  # fmt: skip
        )
    outputs = [p.communicate(timeout=TIMEOUT) for p in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
    for a, b in zip(_weights(tmp_path / "w0.npz"), _weights(tmp_path / "w1.npz")):
        np.testing.assert_array_equal(a, b)
    # Only the chief (worker 0) prints and writes the run directory.
    assert "MultiWorkerMirroredStrategy (worker 0, 2 workers)" in outputs[0][0]
    assert "replicas in sync" not in outputs[1][0]
    run = tmp_path / "run"
    assert {"history.csv", "model.keras", "checkpoints", "best", "logs"} <= set(os.listdir(run))
    assert len((run / "history.csv").read_text().splitlines()) == 3


def _latest_step(run_dir):
    state = run_dir / "checkpoints" / "checkpoint"
    if not state.exists():
        return 0
    first = state.read_text().splitlines()[0]  # model_checkpoint_path: "ckpt-N"
    return int(first.rsplit("-", 1)[1].strip('"'))


@pytest.mark.slow
def test_resume_after_kill_equals_uninterrupted(tmp_path):
    """Killed with SIGKILL after a mid-epoch checkpoint, does --resume end on the same weights?"""
    common = ["--run", "lm:adamw:cpu", "--epochs", 3, "--steps-per-epoch", 4,
              "--checkpoint-every", 2]  # fmt: skip
    whole = subprocess.Popen(
        _command(*common, "--out", tmp_path / "whole", "--weights", tmp_path / "whole.npz"),
        cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    killed_dir = tmp_path / "killed"
    args = [*common, "--out", killed_dir, "--weights", tmp_path / "killed.npz"]
    victim = subprocess.Popen(
        _command(*args, "--sleep", 0.5), cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + TIMEOUT
    while _latest_step(killed_dir) < 2 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    killed_at = _latest_step(killed_dir)
    assert 2 <= killed_at < 12

    out = _run(*args, "--resume")
    assert whole.wait(timeout=TIMEOUT) == 0, whole.stderr.read()[-3000:]
    _assert_close(_weights(tmp_path / "whole.npz"), _weights(tmp_path / "killed.npz"), 1e-6)
    assert "lm:adamw:cpu: 12 steps" in out
    history = (killed_dir / "history.csv").read_text().splitlines()
    assert [row.split(",")[:2] for row in history[1:]] == [["1", "4"], ["2", "8"], ["3", "12"]]
