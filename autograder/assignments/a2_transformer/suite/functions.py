"""The a2_transformer "functions" group: split/merge heads, positional encoding, FeedForward."""

import numpy as np

from autograder.assignments.a2_transformer.suite import hints as variants
from autograder.assignments.a2_transformer.suite.sizes import D_MODEL, FF_DIM
from autograder.grading import numpy_models
from autograder.grading.calls import arr, call, construct, function, in_graph
from autograder.grading.checks import all_of, close, in_graph_close
from autograder.grading.plan import Check
from autograder.grading.weights import (
    add_weights,
    dense_weights,
    set_weights,
    to_np,
)
from course_lib.layers import (
    FeedForward,
    merge_heads,
    positional_encoding,
    split_heads,
)


def heads_checks(rng, inputs, calls, checks, expected):
    for i, (shape, heads) in enumerate((((2, 5, 12), 2), ((3, 7, 16), 4))):
        x = rng.normal(size=shape).astype("float32")
        inputs[f"split{i}_x"] = x
        calls.append(function(f"split{i}", "split_heads", arr(f"split{i}_x"), heads))
        want = to_np(split_heads(x, heads))
        b, t, d = shape
        hints = {
            "x is reshaped straight to (B, H, T, Dh) without the transpose: each head must hold "
            "a slice of the features of every position": x.reshape(b, heads, t, d // heads),
            "the transpose to (B, H, T, Dh) is missing": x.reshape(b, t, heads, d // heads),
        }
        expected[f"split{i}"] = (want, hints)
        checks.append(
            Check(
                f"split_heads: {shape} with num_heads={heads}",
                "split_heads",
                close(f"split{i}", want, f"the output of split_heads(x, {heads})", hints),
            )
        )
    # merge_heads: the inverse of the reference split, and on an arbitrary 4-D input.
    x = rng.normal(size=(2, 6, 16)).astype("float32")
    h = rng.normal(size=(2, 4, 3, 5)).astype("float32")
    inputs["merge0_x"] = to_np(split_heads(x, 4))
    inputs["merge1_x"] = h
    for i, (label, source) in enumerate(
        (("merge_heads(split_heads(x, 4)) gives x back", inputs["merge0_x"]), ("(2, 4, 3, 5)", h))
    ):
        calls.append(function(f"merge{i}", "merge_heads", arr(f"merge{i}_x")))
        want = to_np(merge_heads(source))
        hints = {
            "the heads are merged with a reshape only, without transposing (B, H, T, Dh) back to "
            "(B, T, H, Dh) first": numpy_models.merge_heads_np(source, transpose=False),
        }
        expected[f"merge{i}"] = (want, hints)
        checks.append(
            Check(
                f"merge_heads: {label}",
                "merge_heads",
                close(f"merge{i}", want, "the merged heads", hints),
            )
        )
    # Both inside a tf.function with an unknown batch size, as model.fit traces them.
    for unit, call_id, args in (
        ("split_heads", "split1", (arr("split1_x"), 4)),
        ("merge_heads", "merge1", (arr("merge1_x"),)),
    ):
        calls.append(in_graph(function(f"{call_id}_graph", unit, *args)))
        want, hints = expected[call_id]
        expected[f"{call_id}_graph"] = (want, hints)
        checks.append(
            Check(
                f"{unit}: inside a tf.function with an unknown batch size",
                unit,
                in_graph_close(f"{call_id}_graph", want, "the output in a tf.function", hints),
                0.5,
            )
        )


def positional_checks(calls, checks, expected):
    for i, (length, depth) in enumerate(((50, 16), (7, 6))):
        calls.append(function(f"pe{i}", "positional_encoding", length, depth))
        want = to_np(positional_encoding(length, depth))
        hints = variants.positional_hints(length, depth)
        expected[f"pe{i}"] = (want, hints)
        checks.append(
            Check(
                f"positional_encoding: ({length}, {depth})",
                "positional_encoding",
                close(
                    f"pe{i}",
                    want,
                    f"the table of positional_encoding({length}, {depth})",
                    hints,
                    atol=1e-5,
                ),
            )
        )


def ffn_checks(rng, inputs, calls, checks, expected):
    x = rng.normal(size=(2, 5, D_MODEL)).astype("float32")
    inputs["ffn_x"] = x
    weights = {
        "dense1": dense_weights(rng, D_MODEL, FF_DIM),
        "dense2": dense_weights(rng, FF_DIM, D_MODEL),
    }
    names = add_weights(inputs, "ffn", weights)
    cases = (
        ("ffn_relu", "default activation (relu)", {}),
        ("ffn_gelu", 'activation="gelu"', {"activation": "gelu"}),
        ("ffn_drop", "dropout=0.3, training=False", {"dropout": 0.3}),
    )
    for object_id, label, kwargs in cases:
        kwargs = {"d_model": D_MODEL, "ff_dim": FF_DIM, **kwargs}
        calls.append(construct(object_id, "FeedForward", kwargs, [arr("ffn_x")], names))
        layer = FeedForward(**kwargs)
        layer(x)
        set_weights(layer, weights)
        want = to_np(layer(x, training=False))
        activation = kwargs.get("activation", "relu")
        hints = {
            "dense1 has no activation": numpy_models.ffn_np(x, weights, None),
            "the activation is also applied after dense2": numpy_models.dense_np(
                numpy_models.ffn_np(x, weights, activation),
                ((np.eye(D_MODEL), np.zeros(D_MODEL))),
                activation,
            ),
        }
        if activation != "relu":
            hints["the activation argument is ignored (relu is used instead)"] = (
                numpy_models.ffn_np(x, weights, "relu")
            )
        if object_id == "ffn_drop":
            what = (
                "the output with dropout=0.3 when not training (dropout must act only in training)"
            )
            for j in range(2):
                calls.append(call(f"ffn_drop{j}", object_id, arr("ffn_x"), training=False))
                expected[f"ffn_drop{j}"] = (want, hints)
            evaluate = all_of(
                close("ffn_drop0", want, what, hints), close("ffn_drop1", want, what, hints)
            )
        else:
            calls.append(call(f"{object_id}0", object_id, arr("ffn_x")))
            expected[f"{object_id}0"] = (want, hints)
            evaluate = close(f"{object_id}0", want, "the output", hints)
        checks.append(Check(f"FeedForward: {label}", "FeedForward", evaluate))
        if object_id == "ffn_gelu":
            calls.append(in_graph(call("ffn_graph", object_id, arr("ffn_x"))))
            expected["ffn_graph"] = (want, hints)
            checks.append(
                Check(
                    'FeedForward: activation="gelu" inside a tf.function with an unknown batch size',
                    "FeedForward",
                    in_graph_close("ffn_graph", want, "the output in a tf.function", hints),
                )
            )
