"""The a1_attention "self_attention" group: SelfAttention with the reference attention and masks."""

import numpy as np

from autograder.assignments.a1_attention.suite import hints as variants
from autograder.grading.calls import arr, call, construct
from autograder.grading.checks import close
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
    inputs = {"sa_x": x, "sa_pad": pad}
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
    cases = [
        ("no mask", {}, None),
        ("use_causal_mask=True", {"use_causal_mask": True}, np.tril(np.ones((t, t), bool))),
        ("key padding mask", {"attention_mask": arr("sa_pad")}, pad),
    ]
    for i, (label, kwargs, mask) in enumerate(cases):
        calls.append(call(f"sa{i}", "sa", arr("sa_x"), **kwargs))
        ref_kwargs = {k2: (pad if k2 == "attention_mask" else v2) for k2, v2 in kwargs.items()}
        expected = _np(layer(x, **ref_kwargs))
        hints = variants.self_attention_hints(x, q, k, v, mask)
        checks.append(
            Check(
                f"SelfAttention: {label}",
                "SelfAttention",
                close(f"sa{i}", expected, "the output", hints),
                2.0 if i == 0 else 1.0,
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
