"""Runs one toy training in a fresh process and writes the final weights as .npz.

A fresh process is needed for logical CPU devices (set before TF initialises)
and for multi-worker runs (TF_CONFIG read at strategy creation).

    python -m tests.training.run_toy --run lm:sgd:cpu lm:sgd:mirrored --logical-cpus 2 \
        --out /tmp/run --weights /tmp/w.npz
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

from course_lib.training import (  # noqa: E402
    Callback,
    Trainer,
    UsageError,
    configure_logical_cpus,
    default_callbacks,
    select_strategy,
)
from tests.training.toy import TASKS  # noqa: E402


class Slow(Callback):
    """Sleeps after every step, so that a test can kill the run in the middle."""

    def __init__(self, seconds):
        self.seconds = seconds

    def on_step_end(self, trainer, step, logs):
        time.sleep(self.seconds)


class StepTimer(Callback):
    """Median seconds per training step, leaving out each epoch's first (tracing, evaluation)."""

    def __init__(self):
        self.last, self.intervals = None, []

    def on_epoch_begin(self, trainer, epoch):
        self.last = None

    def on_step_end(self, trainer, step, logs):
        now = time.perf_counter()
        if self.last is not None:
            self.intervals.append(now - self.last)
        self.last = now


def save_weights(model, path):
    arrays = {f"w{i:03d}": np.asarray(w) for i, w in enumerate(model.get_weights())}
    np.savez(path, **arrays)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--run", nargs="+", default=["lm:adamw:cpu"], help="TASK:OPTIMIZER:STRATEGY")
    p.add_argument("--logical-cpus", type=int, default=0)
    p.add_argument("--out", required=True, help="run dir (one per strategy: suffix _<i>)")
    p.add_argument("--weights", required=True, help=".npz path (suffix _<i> per strategy)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--steps-per-epoch", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--learning-rate", type=float, default=1e-2)
    p.add_argument("--checkpoint-every", type=int, default=None)
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--lm-size", type=int, nargs=2, default=None, help="D_MODEL LENGTH of the LM")
    args = p.parse_args(argv)
    if args.logical_cpus:
        configure_logical_cpus(args.logical_cpus)
    for i, spec in enumerate(args.run):
        task, optimizer, name = spec.split(":")
        size = {}
        if args.lm_size and task == "lm":
            size = {"d_model": args.lm_size[0], "length": args.lm_size[1]}
        suffix = f"_{i}" if len(args.run) > 1 else ""
        try:
            strategy, _ = select_strategy(name)
            timer = StepTimer()
            callbacks = default_callbacks(progress=False) + [timer]
            callbacks += [Slow(args.sleep)] if args.sleep else []
            trainer = Trainer(
                TASKS[task](**size),
                strategy,
                epochs=args.epochs,
                steps_per_epoch=args.steps_per_epoch,
                global_batch=args.batch_size,
                learning_rate=args.learning_rate,
                warmup_steps=2,
                optimizer=optimizer,
                out_dir=args.out + suffix,
                resume=args.resume,
                checkpoint_every=args.checkpoint_every,
                callbacks=callbacks,
                seed=7,
            )
            start = time.perf_counter()
            trainer.fit()
            seconds = time.perf_counter() - start
        except UsageError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        save_weights(trainer.model, args.weights.replace(".npz", f"{suffix}.npz"))
        if trainer.is_chief:
            rate = 1.0 / float(np.median(timer.intervals)) if timer.intervals else float("nan")
            print(
                f"{spec}: {trainer.total_steps} steps + evals in {seconds:.2f} s; {rate:.1f} steps/s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
