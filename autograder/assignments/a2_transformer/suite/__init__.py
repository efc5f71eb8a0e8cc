"""Grading suite for a2_transformer: heads, multi-head attention, positions, FFN, encoder block."""

import numpy as np

from autograder.suites import variants
from autograder.suites.base import (
    FORBIDDEN,
    Check,
    Group,
    Plan,
    all_of,
    answer_check,
    arr,
    call,
    close,
    construct,
    function,
    raises,
    value,
)
from autograder.suites.weights import (
    add_weights,
    dense_weights,
    norm_weights,
    random_key_mask,
    set_weights,
    to_np,
)
from course_lib.layers import (
    FeedForward,
    MultiHeadAttention,
    TransformerEncoderBlock,
    merge_heads,
    positional_encoding,
    split_heads,
)

ASSIGNMENT = "a2_transformer"
UNITS = (
    "split_heads",
    "merge_heads",
    "MultiHeadAttention",
    "positional_encoding",
    "FeedForward",
    "TransformerEncoderBlock",
)
FORBID = FORBIDDEN + ("course_lib",)
D_MODEL, NUM_HEADS, FF_DIM = 16, 4, 32
MHA_NAMES = ("wq", "wk", "wv", "wo")


def _mha_hints(*args, **kwargs):
    """variants.mha_hints, then the shared-projection hint (wq for queries, keys and values)."""
    return {
        **variants.mha_hints(*args, **kwargs),
        **variants.mha_shared_projection_hint(*args, **kwargs),
    }


# Group "functions": split/merge heads, positions, feed-forward, answers ------------------


def _heads_checks(rng, inputs, calls, checks, expected):
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
            "(B, T, H, Dh) first": variants.merge_heads_np(source, transpose=False),
        }
        expected[f"merge{i}"] = (want, hints)
        checks.append(
            Check(
                f"merge_heads: {label}",
                "merge_heads",
                close(f"merge{i}", want, "the merged heads", hints),
            )
        )


def _positional_checks(calls, checks, expected):
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


def _ffn_checks(rng, inputs, calls, checks, expected):
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
            "dense1 has no activation": variants.ffn_np(x, weights, None),
            "the activation is also applied after dense2": variants.dense_np(
                variants.ffn_np(x, weights, activation),
                ((np.eye(D_MODEL), np.zeros(D_MODEL))),
                activation,
            ),
        }
        if activation != "relu":
            hints["the activation argument is ignored (relu is used instead)"] = variants.ffn_np(
                x, weights, "relu"
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


# Group "mha": the MultiHeadAttention layer with the reference split/merge ------------------


def _mha_group(rng, expected):
    b, t, tk = 2, 5, 7
    x = rng.normal(size=(b, t, D_MODEL)).astype("float32")
    context = rng.normal(size=(b, tk, D_MODEL)).astype("float32")
    keys = rng.normal(size=(b, tk, D_MODEL)).astype("float32")
    pad = random_key_mask(rng, b, tk)
    weights = {name: dense_weights(rng, D_MODEL, D_MODEL) for name in MHA_NAMES}
    inputs = {"mha_x": x, "mha_ctx": context, "mha_keys": keys, "mha_pad": pad}
    names = add_weights(inputs, "mha", weights)
    ref = {"mha_x": x, "mha_ctx": context, "mha_keys": keys, "mha_pad": pad}

    base = {"num_heads": NUM_HEADS, "d_model": D_MODEL}
    build = [arr("mha_x"), arr("mha_x")]
    layer = MultiHeadAttention(**base)
    layer(x, x)
    set_weights(layer, weights)
    bad = construct("mha_bad", "MultiHeadAttention", {}, [], {})
    bad.update(args=[3, D_MODEL], build=None)
    calls = [construct("mha", "MultiHeadAttention", base, build, names), bad]
    checks = [
        Check(
            "MultiHeadAttention: MultiHeadAttention(3, 16) raises ValueError naming 3 and 16",
            "MultiHeadAttention",
            raises("mha_bad", "ValueError", (3, D_MODEL), "MultiHeadAttention(3, 16)"),
        )
    ]

    # (call id, label, weight, args, kwargs, numpy kwargs)
    cases = (
        ("mha_self", "self-attention, no mask", 3.0, ("mha_x", "mha_x"), {}, {}),
        (
            "mha_cross",
            "cross-attention (Tq=5, Tk=7) with a key padding mask (B, 1, Tk)",
            3.0,
            ("mha_x", "mha_ctx"),
            {"attention_mask": "mha_pad"},
            {"mask": pad},
        ),
        (
            "mha_causal",
            "use_causal_mask=True",
            1.0,
            ("mha_x", "mha_x"),
            {"use_causal_mask": True},
            {"causal": True},
        ),
        (
            "mha_key",
            "key given separately from value",
            1.0,
            ("mha_x", "mha_ctx"),
            {"key": "mha_keys"},
            {"key": keys},
        ),
    )
    for call_id, label, weight, args, kwargs, np_kwargs in cases:
        call_kwargs = {k: (arr(v) if isinstance(v, str) else v) for k, v in kwargs.items()}
        ref_kwargs = {k: (ref[v] if isinstance(v, str) else v) for k, v in kwargs.items()}
        calls.append(call(call_id, "mha", *(arr(a) for a in args), **call_kwargs))
        want = to_np(layer(*(ref[a] for a in args), **ref_kwargs))
        hints = _mha_hints(ref[args[0]], ref[args[1]], weights, NUM_HEADS, **np_kwargs)
        expected[call_id] = (want, hints)
        checks.append(
            Check(
                f"MultiHeadAttention: {label}",
                "MultiHeadAttention",
                close(call_id, want, "the output", hints),
                weight,
            )
        )

    # return_attention_scores=True on the masked cross-attention: (B, heads, Tq, Tk).
    calls.append(
        call(
            "mha_scores",
            "mha",
            arr("mha_x"),
            arr("mha_ctx"),
            attention_mask=arr("mha_pad"),
            return_attention_scores=True,
        )
    )
    out, scores = (
        to_np(a) for a in layer(x, context, attention_mask=pad, return_attention_scores=True)
    )
    hints_o = _mha_hints(x, context, weights, NUM_HEADS, mask=pad, index=0)
    hints_s = _mha_hints(x, context, weights, NUM_HEADS, mask=pad, index=1)
    expected["mha_scores.0"] = (out, hints_o)
    expected["mha_scores.1"] = (scores, hints_s)
    checks.append(
        Check(
            "MultiHeadAttention: return_attention_scores=True gives (output, scores (B, heads, Tq, Tk))",
            "MultiHeadAttention",
            all_of(
                close("mha_scores.1", scores, "the attention scores", hints_s),
                close("mha_scores.0", out, "the output returned with the scores", hints_o),
            ),
        )
    )

    # Dropout at inference is a bug: dropout=0.5 with training=False equals the reference.
    calls.append(
        construct("mha_drop", "MultiHeadAttention", {**base, "dropout": 0.5}, build, names)
    )
    calls.append(call("mha_drop0", "mha_drop", arr("mha_x"), arr("mha_x"), training=False))
    want = expected["mha_self"][0]
    expected["mha_drop0"] = expected["mha_self"]
    checks.append(
        Check(
            "MultiHeadAttention: dropout=0.5 with training=False does not drop",
            "MultiHeadAttention",
            close(
                "mha_drop0",
                want,
                "the output with dropout=0.5 when not training (dropout must act only in training)",
                expected["mha_self"][1],
            ),
        )
    )
    group = Group(
        "mha",
        calls,
        inputs,
        site_modules=("layers/heads.py",),
        inject={
            "split_heads": "course_lib.layers.heads:split_heads",
            "merge_heads": "course_lib.layers.heads:merge_heads",
        },
    )
    return group, checks


# Group "block": the encoder block with the reference MHA and FeedForward -----------------


def _block_group(rng, expected):
    b, t = 2, 6
    # Small inputs: the residual sums have a small variance, so LayerNorm's epsilon shows.
    x = rng.normal(0, 0.2, size=(b, t, D_MODEL)).astype("float32")
    pad = random_key_mask(rng, b, t)
    weights = {name: dense_weights(rng, D_MODEL, D_MODEL) for name in MHA_NAMES}
    weights["dense1"] = dense_weights(rng, D_MODEL, FF_DIM)
    weights["dense2"] = dense_weights(rng, FF_DIM, D_MODEL)
    for norm in ("norm1", "norm2"):
        weights[norm] = norm_weights(rng, D_MODEL)
    paths = {f"attention.{name}": weights[name] for name in MHA_NAMES}
    paths.update({f"ffn.{n}": weights[n] for n in ("dense1", "dense2")})
    paths.update({n: weights[n] for n in ("norm1", "norm2")})
    inputs = {"blk_x": x, "blk_pad": pad}
    names = add_weights(inputs, "blk", paths)
    base = {"d_model": D_MODEL, "num_heads": NUM_HEADS, "ff_dim": FF_DIM}
    layer = TransformerEncoderBlock(**base)
    layer(x)
    set_weights(layer, paths)

    calls = [
        construct("blk", "TransformerEncoderBlock", base, [arr("blk_x")], names),
        call("blk0", "blk", arr("blk_x")),
        call("blk1", "blk", arr("blk_x"), attention_mask=arr("blk_pad")),
        construct(
            "blk_drop", "TransformerEncoderBlock", {**base, "dropout": 0.5}, [arr("blk_x")], names
        ),
        call("blk_drop0", "blk_drop", arr("blk_x"), training=False),
    ]
    plain = to_np(layer(x))
    masked = to_np(layer(x, attention_mask=pad))
    hints_plain = variants.encoder_block_hints(x, weights, None, NUM_HEADS)
    hints_masked = variants.encoder_block_hints(x, weights, pad, NUM_HEADS)
    expected["blk0"] = (plain, hints_plain)
    expected["blk1"] = (masked, hints_masked)
    expected["blk_drop0"] = (plain, hints_plain)
    unit = "TransformerEncoderBlock"
    checks = [
        Check(f"{unit}: no mask", unit, close("blk0", plain, "the output", hints_plain), 2.0),
        Check(
            f"{unit}: key padding mask (B, 1, T)",
            unit,
            close("blk1", masked, "the output", hints_masked),
            2.0,
        ),
        Check(
            f"{unit}: dropout=0.5 with training=False does not drop",
            unit,
            close(
                "blk_drop0",
                plain,
                "the output with dropout=0.5 when not training (dropout must act only in training)",
                hints_plain,
            ),
        ),
    ]
    group = Group(
        "block",
        calls,
        inputs,
        site_modules=("layers/multi_head_attention.py", "layers/feed_forward.py"),
        inject={
            "MultiHeadAttention": "course_lib.layers.multi_head_attention:MultiHeadAttention",
            "FeedForward": "course_lib.layers.feed_forward:FeedForward",
        },
    )
    return group, checks


def build(rng, answers):
    """`(plan, expected)`: the plan, and `{result key: (expected array, hints)}` for the tests."""
    inputs, calls, checks, expected = {}, [], [], {}
    _heads_checks(rng, inputs, calls, checks, expected)
    _positional_checks(calls, checks, expected)
    _ffn_checks(rng, inputs, calls, checks, expected)
    for unit, letters in sorted(answers.items()):
        calls.append(value(f"value_{unit}", unit))
        checks.append(answer_check(unit, letters))
    mha_group, mha_checks = _mha_group(rng, expected)
    block_group, block_checks = _block_group(rng, expected)
    groups = [Group("functions", calls, inputs), mha_group, block_group]
    return Plan(groups, checks + mha_checks + block_checks), expected


def plan(rng, answers):
    """The groups and checks for one submission, on inputs drawn from `rng`."""
    return build(rng, answers)[0]
