"""Multi-worker training inside a Slurm job step: the cluster from `srun`'s environment.

Under `srun` with several tasks (`SLURM_STEP_NUM_TASKS > 1`, `SLURM_PROCID` set),
`slurm_strategy()` builds `MultiWorkerMirroredStrategy` on
`tf.distribute.cluster_resolver.SlurmClusterResolver`, which lists the step's hosts
(`SLURM_STEP_NODELIST`, `SLURM_STEP_TASKS_PER_NODE`) and gives the tasks of one host
consecutive ports from a port base. The base is derived from `SLURM_JOB_ID`, so two
jobs sharing a node do not collide, and every task of the job computes the same one.

GPUs are left to Slurm (`--gpus-per-task=1` binds one per task): the resolver's own
GPU assignment is off, because on a CPU-only node it runs `nvidia-smi` and fails.
A batch script itself (no `srun`) has `SLURM_NTASKS` but no step: it trains alone.
"""

import os

import tensorflow as tf

PORT_BASE, PORT_SPAN, MAX_TASKS_PER_NODE = 20000, 40000, 32


def step_tasks():
    """The number of tasks of the current `srun` step (1 outside a step)."""
    if "SLURM_PROCID" not in os.environ:
        return 1
    return int(os.environ.get("SLURM_STEP_NUM_TASKS", "1") or 1)


def in_multitask_step():
    """True inside an `srun` step of several tasks: each process is one worker."""
    return step_tasks() > 1


def port_base(job_id=None):
    """The first port of the job's tasks on a node: 20000 + 32 * (job id mod 1250)."""
    job_id = os.environ.get("SLURM_JOB_ID", "0") if job_id is None else job_id
    slots = PORT_SPAN // MAX_TASKS_PER_NODE
    return PORT_BASE + MAX_TASKS_PER_NODE * (int(job_id) % slots)


class _SlurmResolver(tf.distribute.cluster_resolver.SlurmClusterResolver):
    """Reports the GPUs this task sees, not `gpus_per_task` (MultiWorkerMirroredStrategy
    would place its replica on a GPU:0 that a CPU node does not have)."""

    def num_accelerators(self, task_type=None, task_id=None, config_proto=None):
        gpus = len(tf.config.list_physical_devices("GPU"))
        return {"GPU": gpus} if gpus else {}


def slurm_resolver(base=None):
    """A `SlurmClusterResolver` for this step, with deterministic ports and GPUs left to Slurm.

    Raises `RuntimeError` or `ValueError` when the step's environment is incomplete.
    """
    from tensorflow.python.distribute.cluster_resolver.slurm_cluster_resolver import (
        expand_tasks_per_node,
    )

    per_node = max(expand_tasks_per_node(os.environ.get("SLURM_STEP_TASKS_PER_NODE", "1")))
    if per_node > MAX_TASKS_PER_NODE:
        raise ValueError(
            f"{per_node} tasks on one node: at most {MAX_TASKS_PER_NODE} are supported "
            "(one task per GPU, or one per node on CPUs)"
        )
    return _SlurmResolver(
        port_base=port_base() if base is None else base,
        gpus_per_node=per_node,  # one "slot" per task: no nvidia-smi, no CUDA_VISIBLE_DEVICES
        gpus_per_task=1,
        auto_set_gpu=False,
    )
