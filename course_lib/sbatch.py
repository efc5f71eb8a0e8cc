"""`python -m course_lib.train --sbatch`: an sbatch script that runs the same training on Slurm.

The script asks for `--nodes` nodes with one task per GPU (`--gpus-per-node G`), or
one task per node on CPUs (`--ntasks-per-node` to change it), and runs the same
training command under `srun`, so each task is one worker of
`MultiWorkerMirroredStrategy` (training/slurm.py). It always passes `--resume`, so a
requeued or resubmitted job continues from the last checkpoint; with `--requeue`
and `--signal=USR1@<lead>` Slurm warns every task before the time limit, the
training saves a checkpoint and exits with status 75, and the script requeues the
job. The script and the logs (`slurm-<job id>.out`, appended across restarts) are
written to the run directory. `--submit` also runs `sbatch` and prints the job id.

    python -m course_lib.train --sbatch --nodes 2 --gpus-per-node 4 --time 04:00:00 \\
        --partition gpu --out runs/gpt --preset gpt_mini --epochs 20
    sbatch runs/gpt/train.sbatch            # or --submit instead of --sbatch
"""

import os
import re
import shlex
import shutil
import subprocess
import sys

SCRIPT_NAME = "train.sbatch"
VALUED = ("--nodes", "--gpus-per-node", "--ntasks-per-node", "--cpus-per-task", "--time",
          "--partition", "--job-name", "--account")  # fmt: skip
FLAGS = ("--sbatch", "--submit")
REQUEUE_EXIT = 75  # the training's exit status after a checkpoint on SIGUSR1 (EX_TEMPFAIL)
TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d{1,2}))?(?::(\d{1,2}))?$")


class SbatchError(Exception):
    """A bad combination of options: the message says what to do."""


def add_arguments(parser):
    group = parser.add_argument_group("Slurm (write an sbatch script instead of training here)")
    add = group.add_argument
    add("--sbatch", action="store_true", help="write <out>/train.sbatch and print its path")
    add("--submit", action="store_true", help="--sbatch, then run sbatch and print the job id")
    add("--nodes", type=int, help="nodes to use (default: 1)")
    add("--gpus-per-node", type=int, help="GPUs per node: one task (worker) per GPU")
    add("--ntasks-per-node", type=int, help="CPU nodes only: tasks per node (default: 1)")
    add("--cpus-per-task", type=int, help="CPU cores per task (default: the cluster's)")
    add("--time", help="time limit, e.g. 04:00:00 or 1-00:00:00 (default: the partition's)")
    add("--partition", help="Slurm partition (default: the cluster's default)")
    add("--job-name", help="job name (default: course-<task>)")
    add("--account", help="Slurm account to charge")


def seconds(limit):
    """Slurm's time formats (MM, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]) in seconds."""
    match = TIME.match(limit or "")
    if not match:
        raise SbatchError(
            f"--time {limit!r} is not a Slurm time limit: use HH:MM:SS (04:00:00) or D-HH:MM:SS."
        )
    days, a, b, c = (int(g) if g else None for g in match.groups())
    if days is not None:  # D-HH[:MM[:SS]]
        return days * 86400 + a * 3600 + (b or 0) * 60 + (c or 0)
    if c is not None:
        return a * 3600 + b * 60 + c
    return a * 60 + (b or 0)


def training_argv(argv, out):
    """The training command's arguments: argv without the Slurm options, --out absolute, --resume."""
    kept, skip = [], False
    for arg in argv:
        name = arg.split("=", 1)[0]
        if skip:
            skip = False
        elif name in FLAGS or (name in VALUED and "=" in arg) or name == "--out" and "=" in arg:
            continue
        elif name in VALUED or name == "--out":
            skip = True
        else:
            kept.append(arg)
    kept += ["--out", out]
    kept += [] if "--resume" in kept else ["--resume"]
    kept += [] if "--quiet" in kept else ["--quiet"]
    return kept + ["--stop-signal", "USR1"]


def check(args):
    """Raises SbatchError for option combinations that cannot work."""
    if not (args.sbatch or args.submit):
        given = [f for f in VALUED if getattr(args, f[2:].replace("-", "_")) is not None]
        if given:
            raise SbatchError(f"{given[0]} is a Slurm option: add --sbatch (or --submit).")
        return
    if args.compare_devices:
        raise SbatchError("--compare-devices times devices here: run it without --sbatch.")
    if args.logical_cpus:
        raise SbatchError(
            "--logical-cpus splits one process's CPU: on Slurm use --ntasks-per-node instead."
        )
    for name in ("nodes", "gpus_per_node", "ntasks_per_node", "cpus_per_task"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "gpus_per_node" else 1):
            raise SbatchError(f"--{name.replace('_', '-')} must be positive. Received: {value}.")
    if args.gpus_per_node and args.ntasks_per_node not in (None, args.gpus_per_node):
        raise SbatchError(
            "With --gpus-per-node the script runs one task per GPU: drop --ntasks-per-node."
        )
    if tasks(args) > 1 and args.strategy not in ("auto", "multiworker"):
        raise SbatchError(
            f"--strategy {args.strategy} trains in one process, but the job has {tasks(args)} "
            "tasks: use --strategy auto (MultiWorkerMirroredStrategy over all tasks), or "
            "--nodes 1 --ntasks-per-node 1 to use it on one node."
        )
    if args.time is not None:
        seconds(args.time)
    if args.submit and not shutil.which("sbatch"):
        raise SbatchError(
            "sbatch is not on PATH: run this on the cluster's login node, or use --sbatch "
            "and submit the script there."
        )


def tasks_per_node(args):
    return args.gpus_per_node or args.ntasks_per_node or 1


def tasks(args):
    return (args.nodes or 1) * tasks_per_node(args)


def signal_lead(limit):
    """Seconds before the time limit for SIGUSR1: 120, or a quarter of a short limit."""
    return 120 if limit is None else max(10, min(120, seconds(limit) // 4))


def script(args, argv, out, *, python=None, workdir=None):
    """The text of the sbatch script for the parsed `args` and the raw `argv`."""
    python = python or sys.executable
    directives = [
        f"--job-name={args.job_name or 'course-' + args.task}",
        f"--nodes={args.nodes or 1}",
        f"--ntasks-per-node={tasks_per_node(args)}",
    ]
    if args.gpus_per_node:
        directives.append("--gpus-per-task=1")
    if args.cpus_per_task:
        directives.append(f"--cpus-per-task={args.cpus_per_task}")
    for name in ("time", "partition", "account"):
        if getattr(args, name):
            directives.append(f"--{name}={getattr(args, name)}")
    directives += [
        f"--output={out}/slurm-%j.out",
        "--open-mode=append",
        "--requeue",
        f"--signal=USR1@{signal_lead(args.time)}",
    ]
    command = shlex.join([python, "-m", "course_lib.train", *training_argv(argv, out)])
    lines = [
        "#!/bin/bash",
        "# Written by python -m course_lib.train --sbatch; regenerate it to change it.",
    ]
    lines += [f"#SBATCH {d}" for d in directives]
    lines += [
        "",
        f"cd {shlex.quote(workdir or os.getcwd())}",
        "export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}",
        'echo "job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0}) on $SLURM_JOB_NODELIST, $(date)"',
        f"srun --kill-on-bad-exit=1 {command}",
        "status=$?",
        f'if [ "$status" -eq {REQUEUE_EXIT} ]; then',
        '    echo "time limit near: checkpoint saved, requeueing job $SLURM_JOB_ID"',
        '    scontrol requeue "$SLURM_JOB_ID"',
        "fi",
        'exit "$status"',
    ]
    return "\n".join(lines) + "\n"


def write(args, argv, out):
    """Writes `<out>/train.sbatch` (out made absolute); returns its path."""
    out = os.path.abspath(out)
    ours = lambda name: name == SCRIPT_NAME or name.startswith("slurm-")
    if not args.resume and os.path.isdir(out) and not all(map(ours, os.listdir(out))):
        raise SbatchError(
            f"Run directory {out} is not empty. Pass --resume to continue that run on Slurm, "
            "or choose another --out directory."
        )
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, SCRIPT_NAME)
    with open(path, "w") as handle:
        handle.write(script(args, argv, out))
    os.chmod(path, 0o755)
    return path


def submit(path):
    """Runs `sbatch --parsable path`; returns the job id."""
    proc = subprocess.run(["sbatch", "--parsable", path], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SbatchError(f"sbatch refused {path}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip().split(";")[0]
