"""The a6_scaling "memory" group: evaluate_in_batches on a dataset larger than the memory budget."""

import numpy as np

from autograder.assignments.a6_scaling.suite import hints as variants
from autograder.assignments.a6_scaling.suite.helpers import SUPPORT, S, support_construct
from autograder.assignments.a6_scaling.support import measure as support
from autograder.grading.calls import function, obj
from autograder.grading.checks import close, gated
from autograder.grading.compare import failed, passed
from autograder.grading.plan import Check, Group, Missing

MEMORY_BUDGET = 128 << 20  # bytes of RSS growth allowed during evaluate_in_batches
BIG_EXAMPLES, BIG_BATCH = 8720, 128  # 8720 * 48 KiB = 409 MiB, 3.2x; the last batch has 16
MATERIALISED = (
    "the whole dataset is materialised (list(dataset), np.concatenate, .cache(), or "
    "model.predict on all the images at once)"
)


def memory_group(rng):
    flip_a, flip_b, flip_m, accuracy, hints = variants.flip_rule(rng, BIG_EXAMPLES, BIG_BATCH)
    seed = int(rng.integers(0, 2**31))
    calls = [
        support_construct("big_model", "FixedModel"),
        support_construct(
            "big_data", "big_dataset", BIG_EXAMPLES, BIG_BATCH, flip_a, flip_b, flip_m, seed
        ),
        function("memory_start", S + "memory_start"),
        function("eval_acc", "evaluate_in_batches", obj("big_model"), obj("big_data")),
        function("memory_peak", S + "memory_peak"),
    ]
    unit = "evaluate_in_batches"
    exact = close("eval_acc", np.array(accuracy), "the accuracy", hints, atol=1e-6, rtol=0)
    checks = [
        Check(
            f"{unit}: exact accuracy on {BIG_EXAMPLES} examples (batches of {BIG_BATCH}, the last partial)",
            unit,
            exact,
        ),
        Check(
            f"{unit}: peak memory stays under the budget on a dataset larger than it",
            unit,
            # Reading one batch (or none) stays under any budget: it pays with the accuracy.
            gated(exact, _memory_check(), "the accuracy"),
        ),
    ]
    group = Group(
        "memory",
        calls,
        {},
        support=SUPPORT,
        limits={"wall_seconds": 120, "cpu_seconds": 240},
    )
    return group, checks, accuracy


def _memory_check():
    data_mib = BIG_EXAMPLES * support.BIG_SIDE**2 * 3 * 4 / 2**20
    budget_mib = MEMORY_BUDGET / 2**20

    def evaluate(outcome):
        try:
            outcome.get("eval_acc")
        except Missing as err:
            return failed(
                "evaluate_in_batches did not return an accuracy, so its memory use is not graded. "
                + str(err)
            )
        try:
            peak, seconds, _ = outcome.get("memory_peak")
        except Missing as err:
            return failed(str(err))
        peak_mib = peak / 2**20
        if peak <= MEMORY_BUDGET:
            return passed(f"peak growth {peak_mib:.0f} MiB <= {budget_mib:.0f} MiB")
        return failed(
            f"During evaluate_in_batches the process grew by {peak_mib:.0f} MiB at its peak, over "
            f"the budget of {budget_mib:.0f} MiB, on a dataset of {data_mib:.0f} MiB "
            f"({seconds:.1f} s): {MATERIALISED}. Iterate over the batches and keep only running "
            "counts (correct predictions, examples seen)."
        )

    return evaluate
