"""The a3_gpt "functions" group: TokenAndPositionEmbedding, make_lm_example and lm_loss.

(filter_logits and the concept answers run in the same job: filter.py, __init__.py.)
"""

import numpy as np

from autograder.assignments.a3_gpt.suite import hints as variants
from autograder.assignments.a3_gpt.suite.gpt import (
    D_MODEL,
    MAX_LEN,
    VOCAB,
)
from autograder.grading.calls import arr, call, construct, function, in_graph
from autograder.grading.checks import all_of, close, gated, in_graph_close
from autograder.grading.compare import compare, failed
from autograder.grading.plan import Check, Missing
from autograder.grading.weights import add_weights, set_weights, to_np
from course_lib.layers import TokenAndPositionEmbedding
from course_lib.models import lm_loss


def embedding_checks(rng, inputs, calls, checks, expected):
    table = rng.normal(0, 1.0, size=(VOCAB, D_MODEL)).astype("float32")
    positions = rng.normal(0, 1.0, size=(MAX_LEN, D_MODEL)).astype("float32")
    weights = {"token_embedding": (table,), "position_embedding": (positions,)}
    names = add_weights(inputs, "emb", weights)
    kwargs = {"vocab_size": VOCAB, "max_len": MAX_LEN, "d_model": D_MODEL}
    short = rng.integers(1, VOCAB, size=(2, 6)).astype("int32")
    full = rng.integers(1, VOCAB, size=(3, MAX_LEN)).astype("int32")
    inputs.update(emb_short=short, emb_full=full)
    calls.append(construct("emb", "TokenAndPositionEmbedding", kwargs, [arr("emb_short")], names))
    layer = TokenAndPositionEmbedding(**kwargs)
    layer(short)
    set_weights(layer, weights)
    for call_id, ids, label in (
        ("emb0", short, f"T = 6 < max_len = {MAX_LEN}: positions 0..5"),
        ("emb1", full, f"T = max_len = {MAX_LEN}"),
    ):
        calls.append(call(call_id, "emb", arr(f"emb_{'short' if ids is short else 'full'}")))
        want = to_np(layer(ids))
        hints = variants.embedding_hints(ids, table, positions)
        expected[call_id] = (want, hints)
        checks.append(
            Check(
                f"TokenAndPositionEmbedding: {label}",
                "TokenAndPositionEmbedding",
                close(call_id, want, "the embeddings", hints, atol=1e-5),
            )
        )
    calls.append(in_graph(call("emb_graph", "emb", arr("emb_full"))))
    expected["emb_graph"] = expected["emb1"]
    checks.append(
        Check(
            "TokenAndPositionEmbedding: inside a tf.function with an unknown batch size",
            "TokenAndPositionEmbedding",
            in_graph_close(
                "emb_graph",
                expected["emb1"][0],
                "the embeddings in a tf.function",
                expected["emb1"][1],
                atol=1e-5,
            ),
        )
    )


def lm_example_checks(rng, inputs, calls, checks, expected):
    evaluators = []
    for i, shape in enumerate(((3, 9), (2, 17))):
        ids = rng.integers(4, 50, size=shape).astype("int32")
        inputs[f"mk{i}_ids"] = ids
        calls.append(function(f"mk{i}", "make_lm_example", arr(f"mk{i}_ids")))
        for index, (want, what) in enumerate(
            ((ids[:, :-1], "the inputs (first element)"), (ids[:, 1:], "the targets (second)"))
        ):
            hints = variants.lm_example_hints(ids, index)
            expected[f"mk{i}.{index}"] = (want, hints)
            evaluators.append(close(f"mk{i}.{index}", want, what, hints, atol=0, rtol=0))
    checks.append(
        Check(
            "make_lm_example: (inputs, targets) = (ids[:, :-1], ids[:, 1:])",
            "make_lm_example",
            all_of(*evaluators),
        )
    )


def _loss_grad(key, want):
    def evaluate(outcome):
        try:
            actual = outcome.get(key)
        except Missing as err:
            text = str(err)
            if "does not depend" in text:
                return failed(
                    "No gradient flows from the loss back to the logits: compute lm_loss with "
                    "keras.ops (or TensorFlow), not NumPy, so that a model can be trained with it."
                )
            return failed(text)
        return compare(actual, want, what="the gradient of the loss with respect to the logits")

    return evaluate


LOSS_GAP = 3.0  # the right loss and each named bug's are this many tolerances apart


def _loss_case(rng, pad):
    """Logits and targets on which every lm_loss bug shows, apart from the others.

    Redrawn (about 2% of draws) while two of the right loss and the hints' losses are
    within LOSS_GAP tolerances: else a bug could pass (the pad_id bug's loss can land on
    the right one) or be named as another (its hint after "padding is not ignored").
    """
    for _ in range(100):
        logits = rng.normal(0, 2.0, size=(3, 7, VOCAB)).astype("float32")
        targets = rng.integers(0, VOCAB, size=(3, 7)).astype("int32")
        targets[targets == pad] = (pad + 1) % VOCAB
        targets[0, 4:] = pad  # a padded tail, of different length per row
        targets[2, 6:] = pad
        if pad != 0:
            targets[1, :2] = 0  # 0 is a real token when pad_id=5
        values = [variants.lm_loss_np(logits, targets, pad)]
        values += variants.lm_loss_hints(logits, targets, pad).values()
        if all(
            abs(a - b) > LOSS_GAP * (1e-5 + 1e-4 * abs(a))
            for i, a in enumerate(values)
            for b in values[:i]
        ):
            return logits, targets
    raise RuntimeError("could not draw an lm_loss case on which its bugs show")


def lm_loss_checks(rng, inputs, calls, checks, expected):
    cases = (
        ("loss0", "padding (pad_id=0) is ignored: mean over the non-pad targets", 0, {}),
        ("loss1", "pad_id=5: the argument is used (0 is a real token here)", 5, {"pad_id": 5}),
    )
    for call_id, label, pad, kwargs in cases:
        logits, targets = _loss_case(rng, pad)
        inputs[f"{call_id}_logits"], inputs[f"{call_id}_targets"] = logits, targets
        calls.append(
            function(
                call_id, "lm_loss", arr(f"{call_id}_logits"), arr(f"{call_id}_targets"), **kwargs
            )
        )
        want = to_np(lm_loss(logits, targets, pad_id=pad))
        want64 = variants.lm_loss_np(logits, targets, pad)
        assert abs(float(want) - want64) < 1e-5, (want, want64)
        hints = variants.lm_loss_hints(logits, targets, pad)
        expected[call_id] = (want64, hints)
        checks.append(
            Check(
                f"lm_loss: {label}",
                "lm_loss",
                close(call_id, want64, "the loss", hints, atol=1e-5),
                2.0 if pad == 0 else 1.0,
            )
        )
    # Every target is padding: 0, never NaN; it pays only when the general case is right.
    logits = rng.normal(0, 2.0, size=(2, 3, VOCAB)).astype("float32")
    inputs["loss_pad_logits"], inputs["loss_pad_targets"] = logits, np.zeros((2, 3), "int32")
    calls.append(function("loss_pad", "lm_loss", arr("loss_pad_logits"), arr("loss_pad_targets")))
    expected["loss_pad"] = (np.float64(0.0), {})
    checks.append(
        Check(
            "lm_loss: every target is padding gives 0 (not NaN)",
            "lm_loss",
            gated(
                checks[-2].evaluate,
                close("loss_pad", np.float64(0.0), "the loss when every target is pad_id"),
                "the loss with padding (pad_id=0)",
            ),
            0.5,
        )
    )
    # The gradient: (softmax - one_hot) / n at the non-pad targets, 0 at the pads.
    logits, targets = inputs["loss0_logits"], inputs["loss0_targets"]
    keep = (targets != 0)[..., None]
    probs = variants.softmax(logits.astype(np.float64))
    want = (probs - np.eye(VOCAB)[targets]) * keep / keep.sum()
    calls.append(
        {
            "id": "loss_grad",
            "kind": "grad",
            "name": "lm_loss",
            "args": [arr("loss0_logits"), arr("loss0_targets")],
            "kwargs": {},
            "wrt": [0],
        }
    )
    expected["loss_grad.0"] = (want, {})
    checks.append(
        Check(
            "lm_loss: differentiable (its gradient reaches the logits)",
            "lm_loss",
            _loss_grad("loss_grad.0", want),
        )
    )
