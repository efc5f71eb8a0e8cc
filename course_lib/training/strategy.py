"""Choosing a tf.distribute strategy, splitting the global batch, mixed precision and XLA.

`select_strategy("auto")` picks a TPU, then `MirroredStrategy` over every GPU
when there is more than one, then `OneDeviceStrategy` on the one GPU, then the
CPU; inside an `srun` step of several tasks it builds `MultiWorkerMirroredStrategy`
from the Slurm environment instead (training/slurm.py). Every function raises `UsageError` (a clear message, no traceback wanted
by the CLI) for things the user can fix.

Logical CPU devices (a real multi-replica setup without a GPU) must be created
before TensorFlow initialises its devices, i.e. before the first op runs:
call `configure_logical_cpus(n)` (or `select_strategy(..., logical_cpus=n)`)
at the start of the process; afterwards it raises `UsageError`.
"""

import glob
import json
import os

import tensorflow as tf

from . import slurm

STRATEGIES = ("auto", "cpu", "gpu", "mirrored", "multiworker", "tpu")


class UsageError(Exception):
    """A mistake the user can fix (bad flag, missing TF_CONFIG, ...): print it, no traceback."""


def configure_logical_cpus(n):
    """Splits the physical CPU into `n` logical devices `/cpu:0..n-1`; call before any TF op.

    Returns the list of logical CPU devices. Calling it again with the same `n`
    is a no-op; a different `n` after TensorFlow has initialised raises `UsageError`.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    except RuntimeError as error:
        existing = tf.config.list_logical_devices("CPU")
        if len(existing) != n:
            raise UsageError(
                f"Cannot create {n} logical CPU devices: TensorFlow already initialised its "
                f"devices ({len(existing)} CPU). Call configure_logical_cpus() at the start "
                "of the process, before any TensorFlow op."
            ) from error
    return tf.config.list_logical_devices("CPU")


def _tpu_present():
    """True when this looks like a TPU host; never contacts a metadata server."""
    env = ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_ACCELERATOR_TYPE")
    return any(os.environ.get(k) for k in env) or bool(glob.glob("/dev/accel*"))


def _tpu_strategy():
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise UsageError(f"--strategy tpu: no usable TPU ({error}).") from error
    return tf.distribute.TPUStrategy(resolver)


def _multiworker_strategy():
    raw = os.environ.get("TF_CONFIG")
    if not raw and slurm.in_multitask_step():
        return _slurm_strategy()
    if not raw:
        raise UsageError(
            "--strategy multiworker needs the TF_CONFIG environment variable, e.g. "
            'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}\', set on every worker, '
            "or a Slurm step of several tasks (srun -n N python -m course_lib.train ...)."
        )
    try:
        config = json.loads(raw)
        config["cluster"]["worker"]
        config["task"]["type"], config["task"]["index"]
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(
            f"TF_CONFIG is not valid: {error!r}. It must be JSON with "
            '"cluster": {"worker": [...]} and "task": {"type": ..., "index": ...}.'
        ) from error
    return tf.distribute.MultiWorkerMirroredStrategy()


def _slurm_strategy():
    """MultiWorkerMirroredStrategy over the tasks of this `srun` step (see training/slurm.py)."""
    try:
        resolver = slurm.slurm_resolver()
    except (RuntimeError, ValueError) as error:
        raise UsageError(f"Cannot read the Slurm step's layout: {error}.") from error
    return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)


def _build(name):
    # Multi-worker collectives must be configured before TF initialises its devices,
    # so nothing here may list *logical* devices before that branch.
    if name == "multiworker" or (name == "auto" and slurm.in_multitask_step()):
        return _multiworker_strategy()
    if slurm.in_multitask_step():
        raise UsageError(
            f"--strategy {name} trains in one process, but srun started {slurm.step_tasks()} "
            "tasks (each would train alone into the same --out): use --strategy auto "
            "(or multiworker), or run one task (srun -n 1)."
        )
    gpus = tf.config.list_physical_devices("GPU")
    if name == "auto":
        if _tpu_present():
            return _tpu_strategy()
        name = "mirrored" if len(gpus) > 1 else ("gpu" if gpus else "cpu")
    if name == "tpu":
        if not _tpu_present():
            raise UsageError("--strategy tpu: no TPU on this machine. Use --strategy auto.")
        return _tpu_strategy()
    if name == "gpu":
        if not gpus:
            raise UsageError("--strategy gpu: no GPU visible. Use --strategy auto or cpu.")
        return tf.distribute.OneDeviceStrategy("/gpu:0")
    if name == "mirrored":
        kind = "GPU" if gpus else "CPU"
        return tf.distribute.MirroredStrategy(
            [d.name for d in tf.config.list_logical_devices(kind)]
        )
    return tf.distribute.OneDeviceStrategy("/cpu:0")


def select_strategy(name="auto", *, logical_cpus=None):
    """Returns `(strategy, description)` for a `--strategy` name.

    Args:
        name: one of `STRATEGIES`.
        logical_cpus: int, first split the CPU into this many logical devices
            (so `mirrored` on a CPU-only machine gets that many replicas).

    Raises:
        UsageError: an unknown name, `multiworker` without `TF_CONFIG`,
            `tpu` or `gpu` without the device.
    """
    if name not in STRATEGIES:
        raise UsageError(f"Unknown strategy {name!r}. Choose one of: {', '.join(STRATEGIES)}.")
    if logical_cpus:
        configure_logical_cpus(logical_cpus)
    strategy = _build(name)
    return strategy, describe(strategy)


def worker_devices(strategy):
    return tuple(strategy.extended.worker_devices)


def describe(strategy):
    """One line: the strategy's class, its devices and replica count."""
    kind = type(strategy).__name__
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        resolver = strategy.cluster_resolver
        workers = len(resolver.cluster_spec().as_dict().get("worker", [])) or 1
        kind = f"MultiWorkerMirroredStrategy ({resolver.task_type} {resolver.task_id}, {workers} workers)"
    devices = ", ".join(d.split("/")[-1].lower() for d in worker_devices(strategy))
    n = strategy.num_replicas_in_sync
    return f"{kind} on [{devices}]: {n} replica{'s' if n != 1 else ''} in sync"


def split_batch(global_batch, replicas):
    """Returns `(global_batch, per_replica_batch, message)`.

    A global batch that is not a multiple of `replicas` is rounded *down* to the
    nearest multiple and `message` says so (it is `None` otherwise); a global batch
    smaller than the number of replicas raises `UsageError`.
    """
    if global_batch < replicas or global_batch <= 0:
        raise UsageError(
            f"--batch-size {global_batch} is smaller than the {replicas} replicas: "
            f"use at least {replicas} (a multiple of {replicas})."
        )
    per_replica = global_batch // replicas
    rounded = per_replica * replicas
    message = None
    if rounded != global_batch:
        message = (
            f"--batch-size {global_batch} is not divisible by {replicas} replicas: "
            f"using a global batch of {rounded} ({per_replica} per replica)."
        )
    return rounded, per_replica, message


def _on(strategy, kind):
    return (
        isinstance(strategy, tf.distribute.TPUStrategy)
        if kind == "TPU"
        else any(f"DEVICE:{kind}:" in d.upper() for d in worker_devices(strategy))
    )


def mixed_precision_default(strategy):
    """The default `--mixed-precision`: `"mixed_bfloat16"` on TPU, `"mixed_float16"` on GPU, else None."""
    if _on(strategy, "TPU"):
        return "mixed_bfloat16"
    return "mixed_float16" if _on(strategy, "GPU") else None


def use_xla(strategy):
    """True only where XLA is known to work here: a single GPU, or a TPU.

    (FIELD-NOTES: Keras turns jit off under any strategy and on CPU; forcing XLA
    under MirroredStrategy over logical CPUs fails.)
    """
    if _on(strategy, "TPU"):
        return True
    one_device = isinstance(strategy, tf.distribute.OneDeviceStrategy)
    return one_device and _on(strategy, "GPU")


def is_chief(strategy):
    """True on the process that writes outputs: always, except non-chief multi-workers."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None:
        return True
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and not _has_chief())


def _has_chief():
    try:
        return "chief" in json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    except ValueError:
        return False


def worker_id(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    return f"{resolver.task_type}_{resolver.task_id}" if resolver is not None else "local"
