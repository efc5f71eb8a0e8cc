"""Stopping cleanly on a signal: a checkpoint at the next step, then exit status 75.

Slurm's `--signal=USR1@120` sends SIGUSR1 to every task two minutes before the time
limit. `StopSignal` records it; after each training step the Trainer asks
`requested()`, which under `MultiWorkerMirroredStrategy` all-reduces the flag, so all
workers stop after the same step (a checkpoint is a collective: they must agree). The
Trainer then saves a checkpoint and raises `Preempted`; the CLI exits with status 75
(`course_lib.sbatch.REQUEUE_EXIT`), and the generated sbatch script requeues the job,
which resumes.
"""

import signal

import tensorflow as tf


class Preempted(Exception):
    """Training stopped on a signal after saving a checkpoint at `step`."""

    def __init__(self, step, signal_name):
        super().__init__(f"stopped on SIG{signal_name} after a checkpoint at step {step}")
        self.step, self.signal_name = step, signal_name


def signal_number(name):
    """`"USR1"` or `"SIGUSR1"` -> `signal.SIGUSR1`; raises ValueError for an unknown name."""
    name = name.upper().removeprefix("SIG")
    number = getattr(signal, f"SIG{name}", None)
    if not isinstance(number, signal.Signals):
        raise ValueError(f"Unknown signal {name!r}: use e.g. USR1, USR2 or TERM.")
    return name, number


class StopSignal:
    """Records a signal; `requested()` is True on every worker once any worker got it."""

    def __init__(self, strategy, name="USR1"):
        self.strategy = strategy
        self.name, self.number = signal_number(name)
        self.received = False
        self.previous = signal.signal(self.number, self._handle)
        self.multiworker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        if self.multiworker:
            self._agree = tf.function(self._any_worker)

    def _handle(self, signum, frame):
        self.received = True

    def _any_worker(self, flag):
        per_replica = self.strategy.run(tf.identity, args=(flag,))
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def requested(self):
        if not self.multiworker:
            return self.received
        return float(self._agree(tf.constant(float(self.received)))) > 0

    def close(self):
        signal.signal(self.number, self.previous)
