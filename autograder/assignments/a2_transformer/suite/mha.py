"""The a2_transformer "mha" group: MultiHeadAttention with the reference split/merge heads."""

from autograder.assignments.a2_transformer.suite.mha_masks import mask_cases
from autograder.assignments.a2_transformer.suite.sizes import (
    D_MODEL,
    MHA_NAMES,
    NUM_HEADS,
    mha_variants,
)
from autograder.grading.calls import arr, call, construct
from autograder.grading.checks import all_of, close, gated, raises
from autograder.grading.plan import Check, Group
from autograder.grading.weights import (
    add_weights,
    dense_weights,
    random_key_mask,
    set_weights,
    to_np,
)
from course_lib.layers import (
    MultiHeadAttention,
)


def mha_group(rng, expected):
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
        hints = mha_variants(ref[args[0]], ref[args[1]], weights, NUM_HEADS, **np_kwargs)
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
    hints_o = mha_variants(x, context, weights, NUM_HEADS, mask=pad, index=0)
    hints_s = mha_variants(x, context, weights, NUM_HEADS, mask=pad, index=1)
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
    core = mask_cases(rng, layer, weights, inputs, calls, checks, expected)
    # The ValueError for d_model % num_heads pays only when the layer works in general.
    checks[0].evaluate = gated(core, checks[0].evaluate, "self-attention without a mask")
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
