"""The training loop in one process on one device: exact loss scaling, outputs, refusals."""

import csv
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_lib.training import (
    Callback,
    PlotCurves,
    TaskBase,
    Trainer,
    UsageError,
    compare_devices,
    default_callbacks,
    select_strategy,
)
from tests.training.toy import ToyClassifier, ToyLM


class LinearTask(TaskBase):
    """Softmax regression; label 0 is padding (weight 0), so batches have unequal counts."""

    pad_id = 0

    def __init__(self, x, y):
        self.x, self.y = x, y

    def build_model(self):
        return keras.Sequential([keras.Input((self.x.shape[1],)), keras.layers.Dense(4)])

    def train_dataset(self, global_batch):
        return tf.data.Dataset.from_tensor_slices((self.x, self.y)).repeat().batch(global_batch)

    def val_dataset(self, global_batch):
        return tf.data.Dataset.from_tensor_slices((self.x, self.y)).batch(global_batch)


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)


def test_one_sgd_step_is_the_masked_mean_gradient(rng, tmp_path):
    """Is one step the gradient of the mean loss over non-pad rows only (float64 reference)?"""
    x = rng.normal(size=(12, 5)).astype("float32")
    y = rng.integers(0, 4, size=12).astype("int32")
    y[:3] = [0, 1, 2]  # at least one pad row and two real rows
    task = LinearTask(x, y)
    strategy, _ = select_strategy("cpu")
    lr = float(rng.uniform(0.05, 0.5))
    trainer = Trainer(
        task, strategy, epochs=1, steps_per_epoch=1, global_batch=12, learning_rate=lr,
        optimizer="sgd", out_dir=tmp_path / "run", callbacks=[], verbose=False,
    )  # fmt: skip
    trainer._build()
    w0, b0 = (np.asarray(v, dtype=np.float64) for v in trainer.model.get_weights())
    trainer.train_step(iter(strategy.experimental_distribute_dataset(trainer.train_data)))
    w1, b1 = (np.asarray(v, dtype=np.float64) for v in trainer.model.get_weights())

    mask = (y != 0).astype(np.float64)
    probs = _softmax(x.astype(np.float64) @ w0 + b0)
    dlogits = (probs - np.eye(4)[y]) * mask[:, None] / mask.sum()
    np.testing.assert_allclose(w1, w0 - lr * x.T.astype(np.float64) @ dlogits, atol=1e-6)
    np.testing.assert_allclose(b1, b0 - lr * dlogits.sum(axis=0), atol=1e-6)


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_epoch_end(self, trainer, epoch, row):
        self.events.append(("epoch", epoch, row["step"]))

    def on_train_end(self, trainer):
        self.events.append(("end",))


def _lm_val_loss(model, task):
    """Per-token mean cross-entropy over non-pad targets of the validation set, in float64."""
    inputs, targets = task.ids[:16, :-1], task.ids[:16, 1:]
    logits = np.asarray(model(inputs), dtype=np.float64)
    logp = logits - logits.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    mask = targets != 0
    return nll[mask].mean()


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lm") / "run"
    recorder, plotted = Recorder(), []
    plot = PlotCurves(lambda rows, run_dir: plotted.append((len(rows), run_dir)))
    task = ToyLM()
    trainer = Trainer(
        task, select_strategy("cpu")[0], epochs=3, steps_per_epoch=3, global_batch=8,
        learning_rate=1e-2, warmup_steps=2, out_dir=out, seed=3,
        callbacks=default_callbacks() + [plot, recorder],
    )  # fmt: skip
    history = trainer.fit()
    return trainer, task, history, recorder, plotted


def test_run_dir_has_every_output(lm_run):
    """Does a run write checkpoints, best, TensorBoard events, history.csv and model.keras?"""
    trainer, *_ = lm_run
    out = trainer.out_dir
    assert tf.train.latest_checkpoint(os.path.join(out, "checkpoints")).endswith("ckpt-9")
    assert tf.train.latest_checkpoint(os.path.join(out, "best")) is not None
    for split in ("train", "val"):
        assert any(f.startswith("events.out") for f in os.listdir(os.path.join(out, "logs", split)))
    with open(os.path.join(out, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [(r["epoch"], r["step"]) for r in rows] == [("1", "3"), ("2", "6"), ("3", "9")]
    assert {"train_loss", "val_loss", "val_perplexity", "lr", "seconds"} <= set(rows[0])


def test_final_model_reloads_with_same_outputs(lm_run, rng):
    """Does model.keras reload and give the trained model's logits?"""
    trainer, task, *_ = lm_run
    ids = rng.integers(1, task.vocab, size=(3, task.length))
    reloaded = keras.saving.load_model(os.path.join(trainer.out_dir, "model.keras"))
    np.testing.assert_allclose(reloaded(ids), trainer.model(ids), atol=1e-6)


def test_val_loss_is_token_mean_and_perplexity_its_exp(lm_run):
    """Is val_loss the mean over non-pad tokens (float64 reference), and perplexity exp(loss)?"""
    trainer, task, history, *_ = lm_run
    last = history[-1]
    assert last["val_loss"] == pytest.approx(_lm_val_loss(trainer.model, task), abs=1e-5)
    assert last["val_perplexity"] == pytest.approx(np.exp(last["val_loss"]), rel=1e-9)


def test_best_checkpoint_is_lowest_val_loss(lm_run):
    """Does best/ hold the checkpoint of the epoch with the lowest validation loss?"""
    trainer, _, history, *_ = lm_run
    best_step = min(history, key=lambda r: r["val_loss"])["step"]
    latest = tf.train.latest_checkpoint(os.path.join(trainer.out_dir, "best"))
    assert latest.endswith(f"ckpt-{best_step}")


def test_callbacks_called_each_epoch_then_end(lm_run):
    """Are epoch-end hooks (and the plot hook) called once per epoch, then train-end once?"""
    trainer, _, _, recorder, plotted = lm_run
    assert recorder.events == [("epoch", 1, 3), ("epoch", 2, 6), ("epoch", 3, 9), ("end",)]
    assert plotted == [(1, trainer.out_dir), (2, trainer.out_dir), (3, trainer.out_dir)]


def test_lr_schedule_is_applied(lm_run):
    """Does the logged learning rate follow warmup + cosine to 0 at the last step?"""
    *_, history, _, _ = lm_run
    assert history[-1]["lr"] == pytest.approx(0.0, abs=1e-9)
    assert 0 < history[0]["lr"] <= 1e-2


def test_non_empty_run_dir_refused_without_resume(lm_run):
    """Is a non-empty run directory refused, naming it and --resume?"""
    trainer, *_ = lm_run
    with pytest.raises(UsageError, match=f"{trainer.out_dir} is not empty.*--resume"):
        Trainer(ToyLM(), select_strategy("cpu")[0], epochs=1, steps_per_epoch=1,
                global_batch=8, out_dir=trainer.out_dir, verbose=False)  # fmt: skip


def test_resume_of_finished_run_trains_nothing(lm_run):
    """Does --resume of a finished run restore step 9 and keep the weights and history?"""
    trainer, task, history, *_ = lm_run
    before = [w.copy() for w in trainer.model.get_weights()]
    again = Trainer(
        task, select_strategy("cpu")[0], epochs=3, steps_per_epoch=3, global_batch=8,
        learning_rate=1e-2, warmup_steps=2, out_dir=trainer.out_dir, resume=True, seed=3,
        callbacks=[], verbose=False,
    )  # fmt: skip
    assert again.fit() == history
    assert again.step == 9
    for a, b in zip(before, again.model.get_weights()):
        np.testing.assert_array_equal(a, b)


class FourReplicas:
    """Stands in for a 4-replica strategy: the Trainer's constructor only reads these."""

    num_replicas_in_sync = 4
    extended = type("Extended", (), {"worker_devices": ("/cpu:0",) * 4})()


def test_indivisible_batch_is_rounded_with_message(tmp_path, capsys):
    """Does the trainer round 30 rows over 4 replicas down to 28 and print why?"""
    trainer = Trainer(ToyClassifier(), FourReplicas(), epochs=1, steps_per_epoch=1,
                      global_batch=30, out_dir=tmp_path / "r", callbacks=[])  # fmt: skip
    assert (trainer.global_batch, trainer.per_replica_batch) == (28, 7)
    out = capsys.readouterr().out
    assert "4 replicas in sync" in out and "using a global batch of 28" in out


def test_compare_devices_on_cpu_only(capsys):
    """Does compare_devices time every device and say when only CPUs are visible?"""
    rows, table = compare_devices(ToyClassifier, steps=3, global_batch=16)
    assert rows and all(r["steps"] == 3 and r["steps_per_s"] > 0 for r in rows)
    assert rows[0]["device"] in table
    if not tf.config.list_physical_devices("GPU"):
        assert "Only CPU devices" in table
