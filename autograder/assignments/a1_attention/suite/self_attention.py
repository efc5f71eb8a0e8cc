"""The a1_attention "self_attention" group: SelfAttention with the reference attention and masks.

Cases: no mask, causal, key padding, padding and causal together (rows of different lengths),
that same call inside a tf.function with an unknown batch size (as model.fit traces it), and
a 2-D mask, which the contract says a layer refuses (graded only when the plain case passes).
"""

import numpy as np

from autograder.assignments.a1_attention.suite import hints as variants
from autograder.grading.calls import arr, call, construct, in_graph
from autograder.grading.checks import close, gated, in_graph_close, raises
from autograder.grading.plan import Check, Group
from course_lib.layers import SelfAttention


def _np(x):
    return np.asarray(x)


def self_attention_group(rng):
    b, t, d, key_dim = 2, 6, 12, 8
    x = rng.normal(size=(b, t, d)).astype("float32")
    weights = {
        name: [
            rng.normal(0, 0.3, size=(d, key_dim)).astype("float32"),
            rng.normal(0, 0.3, size=(key_dim,)).astype("float32"),
        ]
        for name in ("query_dense", "key_dense", "value_dense")
    }
    lengths = np.array([t - 2, t])
    pad = np.arange(t)[None, None, :] < lengths[:, None, None]
    # A square batch (B = T): a 2-D (B, T) padding mask there broadcasts silently as (T, T).
    x_sq = rng.normal(size=(t, t, d)).astype("float32")
    inputs = {"sa_x": x, "sa_pad": pad, "sa_x_sq": x_sq, "sa_pad_2d": np.ones((t, t), bool)}
    for name, (kernel, bias) in weights.items():
        inputs[f"sa_{name}_k"], inputs[f"sa_{name}_b"] = kernel, bias
    layer = SelfAttention(key_dim)
    layer(x)
    for name, ws in weights.items():
        getattr(layer, name).set_weights(ws)
    calls = [
        construct(
            "sa",
            "SelfAttention",
            {"key_dim": key_dim},
            [arr("sa_x")],
            {name: [f"sa_{name}_k", f"sa_{name}_b"] for name in weights},
        )
    ]
    checks = []
    q, k, v = (
        x @ weights[n][0] + weights[n][1] for n in ("query_dense", "key_dense", "value_dense")
    )
    causal = np.tril(np.ones((t, t), bool))
    both = {"attention_mask": arr("sa_pad"), "use_causal_mask": True}
    cases = [
        ("no mask", {}, None),
        ("use_causal_mask=True", {"use_causal_mask": True}, causal),
        ("key padding mask", {"attention_mask": arr("sa_pad")}, pad),
        ("key padding mask and use_causal_mask=True together", both, pad & causal),
    ]
    for i, (label, kwargs, mask) in enumerate(cases):
        calls.append(call(f"sa{i}", "sa", arr("sa_x"), **kwargs))
        ref_kwargs = {k2: (pad if k2 == "attention_mask" else v2) for k2, v2 in kwargs.items()}
        expected = _np(layer(x, **ref_kwargs))
        hints = variants.self_attention_hints(x, q, k, v, mask)
        if i == 3:
            hints.update(variants.combined_mask_hints(q, k, v, pad, causal))
        checks.append(
            Check(
                f"SelfAttention: {label}",
                "SelfAttention",
                close(f"sa{i}", expected, "the output", hints),
                2.0 if i == 0 else 1.0,
            )
        )
    calls.append(in_graph(call("sa_graph", "sa", arr("sa_x"), **both)))
    checks.append(
        Check(
            "SelfAttention: padding and causal inside a tf.function with an unknown batch size",
            "SelfAttention",
            in_graph_close("sa_graph", expected, "the output inside a tf.function", hints),
        )
    )
    calls.append(call("sa_2d", "sa", arr("sa_x_sq"), attention_mask=arr("sa_pad_2d")))
    checks.append(
        Check(
            "SelfAttention: a 2-D attention_mask (B, T) is refused with ValueError",
            "SelfAttention",
            gated(
                checks[0].evaluate,
                raises("sa_2d", "ValueError", what="a call with a 2-D attention_mask (B, T)"),
                "the output without a mask",
            ),
        )
    )
    group = Group(
        "self_attention",
        calls,
        inputs,
        site_modules=("layers/attention.py", "layers/masks.py"),
        inject={
            "scaled_dot_product_attention": "course_lib.layers.attention:scaled_dot_product_attention",
            "causal_mask": "course_lib.layers.masks:causal_mask",
            "padding_mask": "course_lib.layers.masks:padding_mask",
        },
    )
    return group, checks
