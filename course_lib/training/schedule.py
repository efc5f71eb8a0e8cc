"""Learning-rate schedule: linear warmup, then cosine decay to a floor."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="course_lib")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to `peak` over `warmup_steps`, then cosine decay to `peak * alpha`.

    `lr(s) = peak * (s + 1) / warmup_steps` for `s < warmup_steps`, then
    `lr(s) = peak * (alpha + (1 - alpha) * (1 + cos(pi * p)) / 2)` with
    `p = min(1, (s - warmup_steps) / max(1, total_steps - warmup_steps))`.
    The step `s` counts from 0, so the first update already uses a non-zero rate.

    Args:
        peak: float, the learning rate reached at the end of warmup.
        total_steps: int, the step at which the decay reaches its floor.
        warmup_steps: int, steps of linear warmup (0 for none).
        alpha: float, the floor as a fraction of `peak`.

    Example:
    >>> lr = WarmupCosine(1e-3, total_steps=100, warmup_steps=10)
    >>> float(lr(9)), float(lr(100))
    (0.001, 0.0)
    """

    def __init__(self, peak, total_steps, warmup_steps=0, alpha=0.0):
        if peak <= 0:
            raise ValueError(f"`peak` must be positive. Received: peak={peak}")
        if total_steps < 1 or warmup_steps < 0:
            raise ValueError(
                "`total_steps` must be >= 1 and `warmup_steps` >= 0. "
                f"Received: total_steps={total_steps}, warmup_steps={warmup_steps}"
            )
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.alpha = float(alpha)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = max(self.warmup_steps, 1)
        warm_lr = self.peak * (step + 1.0) / warmup
        decay_span = max(1, self.total_steps - self.warmup_steps)
        progress = ops.clip((step - self.warmup_steps) / decay_span, 0.0, 1.0)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * progress))
        decayed = self.peak * (self.alpha + (1.0 - self.alpha) * cosine)
        return ops.where(step < self.warmup_steps, warm_lr, decayed)

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "alpha": self.alpha,
        }
