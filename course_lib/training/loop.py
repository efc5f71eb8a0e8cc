"""A task-agnostic custom training loop that runs under any tf.distribute strategy.

Keras 3's `fit` fails under `MultiWorkerMirroredStrategy` (FIELD-NOTES), so the
loop is `strategy.run(step)` inside a `tf.function`, with the Keras 3 optimizer's
`apply_gradients` called in the replica context (it all-reduces, i.e. sums, the
gradients across replicas). The loss each replica differentiates is its *sum* of
weighted per-element losses divided by the weight total of the whole global batch
(an all-reduce of the counts), so the summed gradient is exactly the gradient of
the global mean: the per-token mean over non-pad tokens, or the per-example mean,
equals single-device training on the same global batch.

The loop knows nothing about GPT or ViT: it takes a task (`course_lib.training.task.TaskBase`)
and callbacks (`course_lib.training.callbacks`).
"""

import os
import time

import keras
import tensorflow as tf

from .callbacks import Checkpoints, default_callbacks, read_history
from .preemption import Preempted, StopSignal
from .schedule import WarmupCosine
from .strategy import UsageError, describe, is_chief, split_batch, use_xla

SUM = tf.distribute.ReduceOp.SUM


def _float32(outputs):
    def cast(t):
        return tf.cast(t, tf.float32) if t.dtype.is_floating else t

    return tf.nest.map_structure(cast, outputs)


def _replica_stats(task, model, inputs, targets, training):
    outputs = _float32(model(inputs, training=training))
    losses, weights = task.loss(targets, outputs)
    weights = tf.cast(weights, tf.float32)
    stats = {
        "loss_sum": tf.reduce_sum(tf.cast(losses, tf.float32) * weights),
        "count": tf.reduce_sum(weights),
    }
    stats.update(task.statistics(targets, outputs, weights))
    return stats


def make_steps(task, strategy, model, optimizer, *, jit_compile=False):
    """Returns `(train_step, eval_step)`, `tf.function`s taking a distributed iterator.

    Each returns a dict of scalar sums (`loss_sum`, `count`, statistics) over the
    global batch; `train_step` also applies one optimizer update.
    """

    def train_replica(inputs, targets):
        context = tf.distribute.get_replica_context()
        with tf.GradientTape() as tape:
            stats = _replica_stats(task, model, inputs, targets, True)
            global_count = context.all_reduce(SUM, stats["count"])
            loss = stats["loss_sum"] / tf.maximum(global_count, 1e-12)
            scaled = optimizer.scale_loss(loss)
        variables = model.trainable_variables
        grads = tape.gradient(scaled, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return stats

    def eval_replica(inputs, targets):
        return _replica_stats(task, model, inputs, targets, False)

    def reduce(per_replica):
        return {k: strategy.reduce(SUM, v, axis=None) for k, v in per_replica.items()}

    @tf.function(jit_compile=jit_compile)
    def train_step(iterator):
        return reduce(strategy.run(train_replica, args=next(iterator)))

    @tf.function(jit_compile=jit_compile)
    def eval_step(iterator):
        return reduce(strategy.run(eval_replica, args=next(iterator)))

    return train_step, eval_step


def build_on_sample(model, dataset):
    """Creates the model's variables by calling it once on the first row of `dataset`."""
    inputs, _ = next(iter(dataset.take(1)))
    model(tf.nest.map_structure(lambda t: t[:1], inputs), training=False)
    return model


def make_optimizer(name, schedule, weight_decay=0.01, mixed_precision=None):
    """AdamW (default) or SGD on `schedule`; wrapped for loss scaling under float16."""
    if name == "adamw":
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=weight_decay)
    elif name == "sgd":
        optimizer = keras.optimizers.SGD(schedule)
    else:
        raise UsageError(f"Unknown optimizer {name!r}: use 'adamw' or 'sgd'.")
    if mixed_precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def check_run_dir(out_dir, resume):
    """Refuses a non-empty run directory unless resuming."""
    if not resume and os.path.isdir(out_dir) and os.listdir(out_dir):
        raise UsageError(
            f"Run directory {out_dir} is not empty. Pass --resume to continue that run, "
            "or choose another --out directory."
        )


def _val_steps(dataset, task):
    n = int(dataset.cardinality())
    if n > 0:
        return n
    steps = getattr(task, "val_steps", None)
    if not steps:
        raise UsageError(
            f"Task {task.name!r}: the validation dataset's length is unknown; set `val_steps`."
        )
    return steps


class Trainer:
    """Trains `task` under `strategy`, writing checkpoints and outputs to `out_dir`.

    Args:
        task: a `TaskBase`-like object.
        strategy: a `tf.distribute.Strategy` (see `select_strategy`).
        epochs, steps_per_epoch: training length; evaluation runs after every epoch.
        global_batch: rows per step over all replicas (rounded down to a multiple of
            the replica count, with a message).
        learning_rate, warmup_steps: peak rate of the warmup + cosine schedule.
        out_dir: run directory; must be empty or absent unless `resume`.
        resume: continue from the last checkpoint in `out_dir` (from scratch if none).
        seed: weights, dropout and (through the task) data order.
        callbacks: list of `Callback`; None gives `default_callbacks()`.
        optimizer: `"adamw"` or `"sgd"`; weight_decay for AdamW.
        mixed_precision: a Keras dtype policy name (`"mixed_float16"`) or None.
        checkpoint_every: steps between checkpoints (also saved at each epoch end).
        keep_checkpoints: how many recent checkpoints to keep.
        jit_compile: None = `use_xla(strategy)`.
        verbose: print the strategy line and messages (chief only).
        stop_signal: a signal name (`"USR1"`): on it, save a checkpoint after the
            current step and raise `Preempted` (all workers stop at the same step).
    """

    def __init__(self, task, strategy, *, epochs, steps_per_epoch, global_batch, out_dir,
                 learning_rate=1e-3, warmup_steps=0, resume=False, seed=0, callbacks=None,
                 optimizer="adamw", weight_decay=0.01, mixed_precision=None,
                 checkpoint_every=None, keep_checkpoints=3, jit_compile=None, verbose=True,
                 stop_signal=None):  # fmt: skip
        self.task, self.strategy = task, strategy
        self.epochs, self.steps_per_epoch = int(epochs), int(steps_per_epoch)
        self.total_steps = self.epochs * self.steps_per_epoch
        self.out_dir, self.resume, self.seed = os.fspath(out_dir), resume, seed
        self.is_chief = is_chief(strategy)
        self.verbose = verbose and self.is_chief
        if self.is_chief:
            check_run_dir(self.out_dir, resume)
        replicas = strategy.num_replicas_in_sync
        self.global_batch, self.per_replica_batch, message = split_batch(global_batch, replicas)
        self.log(describe(strategy))
        if message:
            self.log(message)
        self.learning_rate, self.warmup_steps = learning_rate, warmup_steps
        self.optimizer_name, self.weight_decay = optimizer, weight_decay
        self.mixed_precision = mixed_precision
        self.checkpoint_every = checkpoint_every or self.steps_per_epoch
        self.keep_checkpoints = keep_checkpoints
        self.jit_compile = use_xla(strategy) if jit_compile is None else jit_compile
        self.callbacks = default_callbacks() if callbacks is None else list(callbacks)
        self.history, self.model, self.step = [], None, 0
        self.stop_signal, self.stopper = stop_signal, None

    def log(self, message):
        if self.verbose:
            print(message, flush=True)

    def _build(self):
        keras.utils.set_random_seed(self.seed)
        self.train_data = self.task.train_dataset(self.global_batch)
        self.val_data = self.task.val_dataset(self.global_batch)
        self.val_steps = _val_steps(self.val_data, self.task)
        previous_policy = keras.config.dtype_policy()
        with self.strategy.scope():
            if self.mixed_precision:
                keras.config.set_dtype_policy(self.mixed_precision)
            try:
                self.model = build_on_sample(self.task.build_model(), self.train_data)
            finally:
                keras.config.set_dtype_policy(previous_policy)
            schedule = WarmupCosine(self.learning_rate, self.total_steps, self.warmup_steps)
            self.optimizer = make_optimizer(
                self.optimizer_name, schedule, self.weight_decay, self.mixed_precision
            )
            self.optimizer.build(self.model.trainable_variables)
            self.checkpoints = Checkpoints(self)
        self.train_step, self.eval_step = make_steps(
            self.task, self.strategy, self.model, self.optimizer, jit_compile=self.jit_compile
        )

    def evaluate(self):
        """Returns the task's metrics on the validation set (all of it, every time)."""
        dataset = self.strategy.experimental_distribute_dataset(self.val_data.repeat())
        iterator, totals = iter(dataset), {}
        for _ in range(self.val_steps):
            for key, value in self.eval_step(iterator).items():
                totals[key] = totals.get(key, 0.0) + float(value)
        return self.task.metrics(totals)

    def current_lr(self):
        return float(self.optimizer.learning_rate)

    def _call(self, hook, *args):
        if self.is_chief:
            for callback in self.callbacks:
                getattr(callback, hook)(self, *args)

    def fit(self):
        """Trains to `epochs * steps_per_epoch` steps and returns the history rows."""
        self._build()
        if self.stop_signal:
            self.stopper = StopSignal(self.strategy, self.stop_signal)
        try:
            return self._fit()
        finally:
            if self.stopper is not None:
                self.stopper.close()
            self.checkpoints.finish()

    def _fit(self):
        self.step = self.checkpoints.restore() if self.resume else 0
        if self.is_chief and self.resume:
            self.history = [r for r in read_history(self.out_dir) if r["step"] <= self.step]
        if self.step:
            self.log(f"Resumed from step {self.step} (epoch {self.step // self.steps_per_epoch}).")
        train = self.strategy.experimental_distribute_dataset(self.train_data.skip(self.step))
        iterator = iter(train)
        self._call("on_train_begin")
        while self.step < self.total_steps:
            self._run_epoch(iterator)
        if self.is_chief:
            self.model.save(os.path.join(self.out_dir, "model.keras"))
            self.task.samples(self.model, self.out_dir)
        self._call("on_train_end")
        return self.history

    def _run_epoch(self, iterator):
        epoch = self.step // self.steps_per_epoch
        self._call("on_epoch_begin", epoch)
        totals, start = {}, time.perf_counter()
        while True:
            stats = self.train_step(iterator)
            self.step += 1
            for key, value in stats.items():
                totals[key] = totals.get(key, 0.0) + float(value)
            logs = {"loss": float(stats["loss_sum"]) / max(float(stats["count"]), 1e-12)}
            self._call("on_step_end", self.step, logs)
            if self.step % self.steps_per_epoch == 0:
                break
            if self.stopper is not None and self.stopper.requested():
                self.checkpoints.save(self.step)
                self.log(f"SIG{self.stopper.name}: checkpoint saved at step {self.step}.")
                raise Preempted(self.step, self.stopper.name)
            if self.step % self.checkpoint_every == 0:
                self.checkpoints.save(self.step)
        row = {"epoch": epoch + 1, "step": self.step}
        row.update({f"train_{k}": v for k, v in self.task.metrics(totals).items()})
        row.update({f"val_{k}": v for k, v in self.evaluate().items()})
        row.update(lr=self.current_lr(), seconds=time.perf_counter() - start)
        self.history.append(row)
        self._call("on_epoch_end", epoch + 1, row)
        self.checkpoints.save(self.step, val_loss=row["val_loss"])
