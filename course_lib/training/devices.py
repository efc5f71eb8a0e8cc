"""`compare_devices`: training steps per second on each visible device (`train.py --compare-devices`).

Separate from strategy.py, which the loop imports: this module uses the loop.
"""

import time

import tensorflow as tf

from .loop import build_on_sample, make_optimizer, make_steps


def compare_devices(task_factory, steps=20, *, global_batch=32, learning_rate=1e-3):
    """Times `steps` training steps of `task_factory()` on each visible device.

    Returns `(rows, table)`: rows of `{device, steps, seconds, steps_per_s}` and a
    printable table; on a CPU-only machine the table says so in its last line.
    The first step (tracing) is run before timing.
    """
    # Logical CPUs share the same cores: time the first only.
    devices = [tf.config.list_logical_devices("CPU")[0].name]
    devices += [d.name for d in tf.config.list_logical_devices("GPU")]
    rows = []
    for device in devices:
        task = task_factory()
        strategy = tf.distribute.OneDeviceStrategy(device)
        data = task.train_dataset(global_batch)
        with strategy.scope():
            model = build_on_sample(task.build_model(), data)
            optimizer = make_optimizer("adamw", learning_rate)
        train_step, _ = make_steps(task, strategy, model, optimizer)
        iterator = iter(strategy.experimental_distribute_dataset(data))
        float(train_step(iterator)["loss_sum"])
        start = time.perf_counter()
        for _ in range(steps):
            result = train_step(iterator)
        float(result["loss_sum"])
        seconds = time.perf_counter() - start
        rows.append(
            {"device": device, "steps": steps, "seconds": seconds, "steps_per_s": steps / seconds}
        )
    lines = [f"{'device':<40} {'steps':>6} {'seconds':>9} {'steps/s':>9}"]
    lines += [
        f"{r['device']:<40} {r['steps']:>6} {r['seconds']:>9.3f} {r['steps_per_s']:>9.2f}"
        for r in rows
    ]
    if not any("GPU" in d for d in devices):
        lines.append("Only CPU devices are visible: there is no GPU or TPU to compare against.")
    return rows, "\n".join(lines)
