"""`python -m course_lib.train`: bad input without tracebacks, and short real runs of each task."""

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib import train

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args, env=None, timeout=900):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "course_lib.train", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=REPO,
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--task", "poetry"], "Unknown task 'poetry'"),
        (["--dataset", "imagenet"], "Unknown dataset 'imagenet'"),
        (["--task", "vit", "--dataset", "pydoc"], "--task vit needs one of these datasets"),
        (["--strategy", "quantum"], "Unknown strategy 'quantum'"),
        (["--strategy", "multiworker"], "TF_CONFIG"),
        (["--strategy", "tpu"], "TPU"),
    ],
)
def test_bad_input_is_one_clear_line(args, message, capsys):
    """Does each bad option exit 2 with a message naming the problem, and no traceback?"""
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    os.environ.pop("TF_CONFIG", None)
    try:
        code = train.main([*args, "--out", "/nonexistent/never-written"])
    finally:
        os.environ.clear()
        os.environ.update(env)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err


def test_non_empty_run_dir_is_refused(tmp_path, capsys):
    """Is a non-empty --out refused (nothing overwritten) unless --resume is given?"""
    (tmp_path / "notes.txt").write_text("keep me")
    code = train.main(
        ["--task", "vit", "--epochs", "1", "--steps-per-epoch", "1", "--out", str(tmp_path)]
    )
    assert code == 2
    assert "--resume" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_start_up_line_gives_parameters_and_flops_per_step(capsys):
    """Does the CLI's CostSummary print the model's parameters and its FLOPs for one global batch?"""
    from types import SimpleNamespace

    from course_lib.cost import model_cost
    from course_lib.models import GPT
    from course_lib.training import CostSummary

    model = GPT(vocab_size=65, max_len=64, d_model=32, num_heads=4, num_layers=2, ff_dim=64)
    model.build((None, None))
    CostSummary().on_train_begin(SimpleNamespace(model=model, global_batch=16))
    out = capsys.readouterr().out
    forward = model_cost(model, batch=16).flops_total
    assert f"{model.count_params():,} parameters" in out
    assert f"{forward / 1e6:.3g} MFLOPs forward per step" in out
    assert f"{3 * forward / 1e6:.3g} MFLOPs per training step" in out


def test_help_shows_examples():
    """Does --help show example command lines?"""
    out = run_cli("--help").stdout
    assert "python -m course_lib.train --task translate" in out and "--resume" in out


def _history(run_dir):
    with open(run_dir / "history.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_gpt_run_beats_unigram_baseline_and_writes_every_output(tmp_path):
    """A short default-task run: does validation perplexity end below the unigram baseline, with every output written?"""
    run_dir = tmp_path / "gpt"
    result = run_cli("--epochs", "2", "--steps-per-epoch", "60", "--out", str(run_dir), "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _history(run_dir)
    assert len(rows) == 2 and float(rows[-1]["val_loss"]) < float(rows[0]["train_loss"])
    baseline = float((run_dir / "samples.txt").read_text().split("perplexity:")[1].split()[0])
    assert float(rows[-1]["val_perplexity"]) < baseline
    for name in ("model.keras", "history.csv", "curves.png", "samples.txt"):
        assert (run_dir / name).stat().st_size > 0, name
    assert any((run_dir / "logs").rglob("events.out.tfevents*")), "no TensorBoard events"
    assert "Sample" in result.stdout
    assert "parameters;" in result.stdout and "FLOPs per training step" in result.stdout


@pytest.mark.slow
def test_translate_and_vit_runs_write_their_samples(tmp_path):
    """Do the translate and vit tasks train a little and write translations / a confusion matrix and attention map?"""
    run = run_cli(
        "--task",
        "translate",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "30",
        "--out",
        str(tmp_path / "t"),
        "--quiet",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "test exact match" in (tmp_path / "t" / "samples.txt").read_text()
    run = run_cli(
        "--task",
        "vit",
        "--epochs",
        "2",
        "--steps-per-epoch",
        "30",
        "--out",
        str(tmp_path / "v"),
        "--quiet",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    rows = _history(tmp_path / "v")
    assert float(rows[-1]["val_accuracy"]) > 0.3  # chance is 0.1
    for name in ("confusion_matrix.png", "attention.png", "curves.png"):
        assert (tmp_path / "v" / name).stat().st_size > 0
    assert not math.isnan(float(rows[-1]["val_loss"]))
