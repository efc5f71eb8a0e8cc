"""Train a GPT, a translator or a Vision Transformer on any device with tf.distribute.

With no arguments it trains a small character-level GPT on the Python
documentation shipped with Python (about 3 minutes on 2 CPU cores) and prints a
sample. The same command runs on one GPU, several GPUs, a TPU or several
workers: `--strategy auto` picks the best available. At start it prints the
model's parameters and FLOPs per step (`course_lib.cost`; forward + backward is
taken as 3x the forward FLOPs).

Examples:
    python -m course_lib.train
    python -m course_lib.train --task translate --epochs 6
    python -m course_lib.train --task vit --dataset digits --out runs/vit
    python -m course_lib.train --task gpt --preset gpt_mini --batch-size 64 --strategy mirrored
    python -m course_lib.train --out runs/gpt --resume          # continue after a crash
    python -m course_lib.train --compare-devices 20             # time 20 steps per device
    TF_CONFIG='{"cluster": ...}' python -m course_lib.train --strategy multiworker
    python -m course_lib.train --submit --nodes 2 --gpus-per-node 4 --time 04:00:00 --out runs/gpt
    srun -n 2 python -m course_lib.train --out runs/gpt   # inside a job: 2 workers
"""

import argparse
import os
import sys
import time

from course_lib import sbatch

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Defaults per task: (epochs, steps per epoch, global batch, learning rate).
TASK_DEFAULTS = {
    "gpt": dict(epochs=4, steps_per_epoch=125, batch_size=32, learning_rate=2e-3),
    "translate": dict(epochs=3, steps_per_epoch=125, batch_size=64, learning_rate=2e-3),
    "vit": dict(epochs=12, steps_per_epoch=45, batch_size=32, learning_rate=2e-3),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--task", default="gpt", help="gpt, translate or vit (default: %(default)s)")
    add(
        "--dataset",
        help="a name from course_lib.data.list_datasets() (default: pydoc, numbers-en-fr or digits)",
    )
    add(
        "--preset",
        help="a model preset from course_lib.models.list_presets(), instead of the size flags",
    )
    for flag in ("d-model", "num-heads", "num-layers", "ff-dim"):
        add(f"--{flag}", type=int, help="model size (overrides the task default)")
    add("--dropout", type=float, help="dropout rate (default: 0)")
    add("--seq-len", type=int, default=64, help="gpt: context length (default: %(default)s)")
    add(
        "--tokenizer",
        default="char",
        choices=("char", "bpe"),
        help="gpt: tokenizer (default: %(default)s)",
    )
    add("--epochs", type=int)
    add("--steps-per-epoch", type=int)
    add("--batch-size", type=int, help="global batch, split across replicas")
    add("--learning-rate", type=float, help="peak learning rate of the warmup + cosine schedule")
    add("--warmup-steps", type=int, help="default: 5%% of all steps")
    add(
        "--strategy",
        default="auto",
        help="auto, cpu, gpu, mirrored, multiworker or tpu (default: %(default)s)",
    )
    add(
        "--logical-cpus",
        type=int,
        help="split the CPU into N logical devices (try mirrored without GPUs)",
    )
    add(
        "--mixed-precision",
        default="auto",
        choices=("auto", "off", "mixed_float16", "mixed_bfloat16"),
        help="auto: mixed_float16 on GPUs, mixed_bfloat16 on TPUs, off on CPUs",
    )
    add("--out", help="run directory (default: runs/<task>-<time>)")
    add("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    add("--seed", type=int, default=0)
    add(
        "--compare-devices",
        type=int,
        metavar="STEPS",
        help="time STEPS training steps on each device and exit",
    )
    add("--quiet", action="store_true", help="no progress bar")
    add(
        "--stop-signal",
        metavar="SIG",
        help="on this signal (e.g. USR1), save a checkpoint and exit with status 75",
    )
    sbatch.add_arguments(parser)
    return parser.parse_args(argv)


def build_task(args):
    from course_lib.training.strategy import UsageError
    from course_lib.training.tasks import DEFAULT_DATASET, TASKS, GPTTask

    if args.task not in TASKS:
        raise UsageError(f"Unknown task {args.task!r}. Choose one of: {', '.join(TASKS)}.")
    dataset = args.dataset or DEFAULT_DATASET[args.task]
    sizes = dict(
        d_model=args.d_model,
        num_heads=args.num_heads,
        num_layers=args.num_layers,
        ff_dim=args.ff_dim,
        dropout=args.dropout,
    )
    common = dict(preset=args.preset, sizes=sizes, seed=args.seed)
    if args.task == "gpt":
        return GPTTask(dataset, seq_len=args.seq_len, tokenizer=args.tokenizer, **common)
    return TASKS[args.task](dataset, **common)


def run(args):
    from course_lib import viz
    from course_lib.training import (
        CostSummary,
        Trainer,
        default_callbacks,
        mixed_precision_default,
        select_strategy,
    )
    from course_lib.training.devices import compare_devices
    from course_lib.training.loop import check_run_dir

    defaults = TASK_DEFAULTS.get(args.task, TASK_DEFAULTS["gpt"])
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    out = args.out or os.path.join("runs", f"{args.task}-{time.strftime('%Y%m%d-%H%M%S')}")
    if not args.compare_devices:
        check_run_dir(out, args.resume)  # refuse before spending minutes on data
    strategy, description = select_strategy(args.strategy, logical_cpus=args.logical_cpus)
    task = build_task(args)
    if args.compare_devices:
        print(
            compare_devices(lambda: task, steps=args.compare_devices, global_batch=args.batch_size)
        )
        return None
    precision = (
        mixed_precision_default(strategy)
        if args.mixed_precision == "auto"
        else args.mixed_precision
    )
    precision = None if precision == "off" else precision
    total = args.epochs * args.steps_per_epoch
    warmup = args.warmup_steps if args.warmup_steps is not None else max(1, total // 20)

    def plot(history, run_dir):
        viz.plot_training_curves(
            os.path.join(run_dir, "history.csv"), os.path.join(run_dir, "curves.png")
        )

    callbacks = [CostSummary(), *default_callbacks(plot=plot, progress=not args.quiet)]
    trainer = Trainer(
        task,
        strategy,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        global_batch=args.batch_size,
        out_dir=out,
        learning_rate=args.learning_rate,
        warmup_steps=warmup,
        resume=args.resume,
        seed=args.seed,
        callbacks=callbacks,
        mixed_precision=precision,
        stop_signal=args.stop_signal,
    )
    if trainer.is_chief:
        print(
            f"task {args.task} on {task.dataset}; mixed precision: {precision or 'off'}; run directory: {out}"
        )
    start = time.perf_counter()
    history = trainer.fit()
    if trainer.is_chief:
        last = history[-1] if history else {}
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in last.items() if k.startswith("val_"))
        print(f"finished in {time.perf_counter() - start:.0f} s: {metrics}")
        print(
            f"outputs in {out}: model.keras, history.csv, curves.png, samples, checkpoints/, tensorboard/"
        )
    return history


def write_sbatch(args, argv):
    """--sbatch / --submit: writes the script (and submits it) instead of training here."""
    out = args.out or os.path.join("runs", f"{args.task}-{time.strftime('%Y%m%d-%H%M%S')}")
    path = sbatch.write(args, argv, out)
    print(f"sbatch script: {path}")
    if args.submit:
        job = sbatch.submit(path)
        print(
            f"submitted job {job}; log: {os.path.join(os.path.dirname(path), f'slurm-{job}.out')}"
        )
        print(f"follow it with: squeue -j {job}   (cancel: scancel {job})")
    else:
        print(f"submit it with: sbatch {path}")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    try:
        sbatch.check(args)
        if args.sbatch or args.submit:
            return write_sbatch(args, argv)
    except sbatch.SbatchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from course_lib.data import DatasetUnavailableError
    from course_lib.training.preemption import Preempted, signal_number
    from course_lib.training.strategy import UsageError

    try:
        signal_number(args.stop_signal or "USR1")
    except ValueError as err:
        print(f"error: --stop-signal: {err}", file=sys.stderr)
        return 2
    try:
        run(args)
    except Preempted as stop:
        print(f"{stop}: continue with --resume and the same --out", file=sys.stderr)
        return sbatch.REQUEUE_EXIT
    except (UsageError, DatasetUnavailableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: continue with --resume and the same --out", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
