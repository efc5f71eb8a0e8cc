"""Training under any tf.distribute strategy: a task-agnostic loop, strategy choice, outputs.

strategy, desc = select_strategy("auto")
Trainer(task, strategy, epochs=2, steps_per_epoch=100, global_batch=32,
        out_dir="runs/gpt").fit()
"""

from .callbacks import (
    Callback,
    Checkpoints,
    CostSummary,
    HistoryCSV,
    PlotCurves,
    ProgressBar,
    TensorBoard,
    default_callbacks,
    read_history,
)
from .devices import compare_devices
from .loop import Trainer, check_run_dir, make_optimizer, make_steps
from .schedule import WarmupCosine
from .strategy import (
    STRATEGIES,
    UsageError,
    configure_logical_cpus,
    describe,
    is_chief,
    mixed_precision_default,
    select_strategy,
    split_batch,
    use_xla,
)
from .task import TaskBase

__all__ = [
    "STRATEGIES",
    "Callback",
    "Checkpoints",
    "CostSummary",
    "HistoryCSV",
    "PlotCurves",
    "ProgressBar",
    "TaskBase",
    "TensorBoard",
    "Trainer",
    "UsageError",
    "WarmupCosine",
    "check_run_dir",
    "compare_devices",
    "configure_logical_cpus",
    "default_callbacks",
    "describe",
    "is_chief",
    "make_optimizer",
    "make_steps",
    "mixed_precision_default",
    "read_history",
    "select_strategy",
    "split_batch",
    "use_xla",
]
