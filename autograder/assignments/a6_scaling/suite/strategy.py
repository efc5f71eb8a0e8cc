"""The a6_scaling "strategy" group: train_with_strategy under MirroredStrategy over two logical CPUs."""

import numpy as np

from autograder.assignments.a6_scaling.suite import hints as variants
from autograder.assignments.a6_scaling.suite.helpers import (
    SUPPORT,
    S,
    as_numpy,
    get_results,
    student_construct,
    support_construct,
)
from autograder.grading.calls import function, obj
from autograder.grading.compare import compare, failed, passed
from autograder.grading.plan import Check, Group, Missing

# Group "strategy": train_with_strategy ----------------------------------------------------------

FEATURES, HIDDEN, CLASSES = 5, 8, 3
TOY_EXAMPLES, TOY_BATCH, EPOCHS = 24, 8, 3  # 3 steps per epoch, 9 in all


def strategy_group(rng):
    weights = [
        rng.normal(0, 0.5, size=(FEATURES, HIDDEN)).astype("float32"),
        rng.normal(0, 0.3, size=HIDDEN).astype("float32"),
        rng.normal(0, 0.5, size=(HIDDEN, CLASSES)).astype("float32"),
        rng.normal(0, 0.3, size=CLASSES).astype("float32"),
    ]
    x = rng.normal(size=(TOY_EXAMPLES, FEATURES)).astype("float32")
    y = rng.integers(0, CLASSES, size=TOY_EXAMPLES).astype(np.int64)
    inputs = {f"tws_w{i}": w for i, w in enumerate(weights)} | {"tws_x": x, "tws_y": y}
    want = variants.flat(variants.train_reference(weights, x, y, EPOCHS))
    hints = variants.strategy_hints(weights, x, y, EPOCHS)
    calls = [
        support_construct("strategy", "make_strategy"),
        support_construct("builder", "ModelBuilder", *(as_numpy(f"tws_w{i}") for i in range(4))),
        support_construct(
            "toy_data", "toy_dataset", as_numpy("tws_x"), as_numpy("tws_y"), TOY_BATCH
        ),
        student_construct(
            "trained",
            "train_with_strategy",
            obj("builder"),
            obj("toy_data"),
            obj("strategy"),
            EPOCHS,
        ),
        function("report", S + "model_report", obj("trained")),
    ]
    unit = "train_with_strategy"
    checks = [
        Check(
            f"{unit}: the model is built and compiled inside strategy.scope() (mirrored over 2 replicas)",
            unit,
            _scope_check(),
            2.0,
        ),
        Check(
            f"{unit}: the trained weights equal {EPOCHS} epochs of SGD on one device",
            unit,
            _weights_check(want, hints),
            3.0,
        ),
        Check(
            f"{unit}: trains for `epochs` epochs ({EPOCHS} x 3 optimizer steps)",
            unit,
            _iterations_check(),
        ),
    ]
    group = Group(
        "strategy",
        calls,
        inputs,
        support=SUPPORT,
        logical_cpus=2,
        limits={"wall_seconds": 90, "cpu_seconds": 180},
    )
    return group, checks


def _scope_check():
    def evaluate(outcome):
        try:
            replicas, distributed = get_results(outcome, "report.replicas", "report.distributed")
        except Missing as err:
            return failed(str(err))
        if int(replicas) == 2 and float(distributed) == 1.0:
            return passed()
        return failed(
            f"The returned model has model.distribute_strategy.num_replicas_in_sync = {int(replicas)} "
            f"and {100 * float(distributed):.0f}% of its trainable variables are mirrored: the model "
            "was built outside strategy.scope(). Call build_model() and model.compile(...) inside "
            "`with strategy.scope():`, so the weights and the optimizer's variables are mirrored "
            "on both replicas."
        )

    return evaluate


def _weights_check(want, hints):
    def evaluate(outcome):
        try:
            get_results(outcome, "report.replicas")
            count = 0
            while f"report.weights.{count}" in outcome.arrays:
                count += 1
            got = variants.flat([outcome.get(f"report.weights.{i}") for i in range(count)])
        except Missing as err:
            return failed(str(err))
        return compare(
            got,
            want,
            what="the trained weights (all of them, flattened)",
            hints=hints,
            atol=1e-5,
            rtol=0,
        )

    return evaluate


def _iterations_check():
    def evaluate(outcome):
        try:
            (iterations,) = get_results(outcome, "report.iterations")
        except Missing as err:
            return failed(str(err))
        steps = EPOCHS * (TOY_EXAMPLES // TOY_BATCH)
        if int(iterations) == steps:
            return passed()
        if int(iterations) < 0:
            return failed("The returned model has no optimizer: compile it before training.")
        message = f"optimizer.iterations is {int(iterations)} after train_with_strategy(..., epochs={EPOCHS}); expected {steps} ({EPOCHS} epochs of 3 batches)."
        if int(iterations) == steps // EPOCHS:
            message += " The epochs argument is ignored."
        return failed(message)

    return evaluate
