"""What a run writes: checkpoints (last N and best), history.csv, TensorBoard logs, a progress bar.

Layout of a run directory:
    checkpoints/   the last few `tf.train.Checkpoint`s (model, optimizer, step, best loss)
    best/          the checkpoint with the lowest validation loss so far
    logs/train, logs/val   TensorBoard scalars
    history.csv    one row per epoch
    model.keras    the final model (written by the Trainer)

Only the chief writes here. Under `MultiWorkerMirroredStrategy` the other workers
still save checkpoints (every worker must take part) but into a temporary
directory that is deleted at the end (the TF multi-worker pattern).
"""

import csv
import math
import os
import shutil
import tempfile

import keras
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from .strategy import worker_id


class Checkpoints:
    """The run's `tf.train.Checkpoint` with a last-N manager and a best-by-val-loss manager."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.best_val_loss = tf.Variable(math.inf, trainable=False, name="best_val_loss")
        self.checkpoint = tf.train.Checkpoint(
            model=trainer.model,
            optimizer=trainer.optimizer,
            step=self.step,
            best_val_loss=self.best_val_loss,
        )
        self.run_dir = trainer.out_dir
        self.temp_dir = None
        root = self.run_dir
        if not trainer.is_chief:
            self.temp_dir = root = tempfile.mkdtemp(prefix=f"ckpt_{worker_id(trainer.strategy)}_")
        self.last = tf.train.CheckpointManager(
            self.checkpoint, os.path.join(root, "checkpoints"), trainer.keep_checkpoints
        )
        self.best = tf.train.CheckpointManager(self.checkpoint, os.path.join(root, "best"), 1)

    def restore(self):
        """Restores the chief's latest checkpoint, if any; returns the step it was taken at."""
        latest = tf.train.latest_checkpoint(os.path.join(self.run_dir, "checkpoints"))
        if latest is None:
            self.trainer.log(f"No checkpoint in {self.run_dir}: starting from scratch.")
            return 0
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        return int(self.step.numpy())

    def save(self, step, val_loss=None):
        """Saves at `step`; with a `val_loss` below the best so far, also as the best."""
        self.step.assign(step)
        if val_loss is not None and val_loss < float(self.best_val_loss.numpy()):
            self.best_val_loss.assign(val_loss)
            self.best.save(checkpoint_number=step)
        self.last.save(checkpoint_number=step)

    def finish(self):
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)


class Callback:
    """Hooks the Trainer calls on the chief; each receives the trainer first."""

    def on_train_begin(self, trainer):
        pass

    def on_epoch_begin(self, trainer, epoch):
        pass

    def on_step_end(self, trainer, step, logs):
        pass

    def on_epoch_end(self, trainer, epoch, row):
        pass

    def on_train_end(self, trainer):
        pass


def read_history(run_dir):
    """The rows of `run_dir/history.csv` as dicts of numbers (empty if there is none)."""
    path = os.path.join(run_dir, "history.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    ints = ("epoch", "step")
    return [{k: int(v) if k in ints else float(v) for k, v in r.items() if v} for r in rows]


class HistoryCSV(Callback):
    """Rewrites `history.csv` (epoch, step, train_*, val_*, lr, seconds) after every epoch."""

    def _write(self, trainer):
        if not trainer.history:
            return
        columns = []
        for row in trainer.history:
            columns += [k for k in row if k not in columns]
        path = os.path.join(trainer.out_dir, "history.csv")
        with open(path + ".tmp", "w", newline="") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            writer.writerows(trainer.history)
        os.replace(path + ".tmp", path)

    def on_train_begin(self, trainer):
        self._write(trainer)

    def on_epoch_end(self, trainer, epoch, row):
        self._write(trainer)


def _scalar(tag, value, step):
    """`tf.summary.scalar` without the `tensorboard` package (the same event record)."""
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
        data_class=summary_pb2.DATA_CLASS_SCALAR,
    )
    tf.summary.write(tag, tf.constant(value, tf.float32), step=step, metadata=metadata)


class TensorBoard(Callback):
    """Scalars for TensorBoard: train loss and lr every `every` steps, all metrics per epoch.

    Written with `tf.summary.write`, so the `tensorboard` package is needed only to view them.
    """

    def __init__(self, every=10):
        self.every = every
        self.writers = {}

    def on_train_begin(self, trainer):
        logs = os.path.join(trainer.out_dir, "logs")
        self.writers = {
            k: tf.summary.create_file_writer(os.path.join(logs, k)) for k in ("train", "val")
        }

    def on_step_end(self, trainer, step, logs):
        if step % self.every == 0:
            with self.writers["train"].as_default(step=step):
                _scalar("loss_step", logs["loss"], step)
                _scalar("learning_rate", trainer.current_lr(), step)

    def on_epoch_end(self, trainer, epoch, row):
        for split, writer in self.writers.items():
            with writer.as_default(step=row["step"]):
                for key, value in row.items():
                    if key.startswith(split + "_"):
                        _scalar(key[len(split) + 1 :], value, row["step"])
            writer.flush()

    def on_train_end(self, trainer):
        for writer in self.writers.values():
            writer.close()


class ProgressBar(Callback):
    """A Keras progress bar per epoch, then one line with the validation metrics."""

    def __init__(self):
        self.bar = None

    def on_epoch_begin(self, trainer, epoch):
        print(f"Epoch {epoch + 1}/{trainer.epochs}", flush=True)
        self.bar = keras.utils.Progbar(trainer.steps_per_epoch)
        self.offset = epoch * trainer.steps_per_epoch

    def on_step_end(self, trainer, step, logs):
        self.bar.update(step - self.offset, values=[("loss", logs["loss"])])

    def on_epoch_end(self, trainer, epoch, row):
        shown = {k: v for k, v in row.items() if k.startswith("val_")}
        print("  " + "  ".join(f"{k} {v:.4g}" for k, v in shown.items()), flush=True)


class PlotCurves(Callback):
    """Calls `plot(history_rows, run_dir)` after every epoch (e.g. loss/perplexity PNGs)."""

    def __init__(self, plot):
        self.plot = plot

    def on_epoch_end(self, trainer, epoch, row):
        self.plot(list(trainer.history), trainer.out_dir)


class CostSummary(Callback):
    """Prints the model's parameters and FLOPs per training step when training begins.

    From `course_lib.cost`: the forward FLOPs of `global_batch` rows at the model's
    full length (`max_len`; for a ViT every patch), and forward + backward taken
    as 3x forward.
    """

    def on_train_begin(self, trainer):
        from course_lib.cost import format_cost, model_cost

        print(format_cost(model_cost(trainer.model, batch=trainer.global_batch)), flush=True)


def default_callbacks(plot=None, progress=True, tensorboard_every=10):
    """history.csv + TensorBoard (+ a progress bar, + `PlotCurves(plot)` when given)."""
    callbacks = [HistoryCSV(), TensorBoard(tensorboard_every)]
    callbacks += [ProgressBar()] if progress else []
    callbacks += [PlotCurves(plot)] if plot is not None else []
    return callbacks
