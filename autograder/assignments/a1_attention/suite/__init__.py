"""Grading suite for a1_attention: attention, masks and a self-attention head."""

import numpy as np

from autograder.compare import compare, failed
from autograder.suites import variants
from autograder.suites.base import (
    FORBIDDEN,
    Check,
    Group,
    Missing,
    Plan,
    answer_check,
    arr,
    call,
    close,
    construct,
    function,
    value,
)
from course_lib.layers import SelfAttention, causal_mask, padding_mask, scaled_dot_product_attention

ASSIGNMENT = "a1_attention"
UNITS = ("scaled_dot_product_attention", "causal_mask", "padding_mask", "SelfAttention")
FORBID = FORBIDDEN + ("course_lib",)


def _np(x):
    return np.asarray(x)


def _attention_checks(rng, inputs, calls, checks):
    cases = {
        "random inputs, no mask": dict(shape=(2, 5, 7), dk=8, dv=6, mask=None),
        "with a key padding mask (B, 1, Tk)": dict(shape=(3, 4, 6), dk=8, dv=8, mask="padding"),
        "with a causal mask (T, T)": dict(shape=(2, 6, 6), dk=4, dv=5, mask="causal"),
        "4-D inputs (batch, heads, T, d)": dict(
            shape=(2, 3, 5, 5), dk=4, dv=4, mask=None, heads=True
        ),
    }
    for i, (label, case) in enumerate(cases.items()):
        b, tq, tk = case["shape"][:3]
        lead = (b, tq) if case.get("heads") else (b,)
        tq, tk = (case["shape"][2], case["shape"][3]) if case.get("heads") else (tq, tk)
        q = rng.normal(size=(*lead, tq, case["dk"])).astype("float32")
        k = rng.normal(size=(*lead, tk, case["dk"])).astype("float32")
        v = rng.normal(size=(*lead, tk, case["dv"])).astype("float32")
        names = {f"sdpa{i}_{n}": x for n, x in zip("qkv", (q, k, v))}
        mask = None
        if case["mask"] == "padding":
            lengths = rng.integers(1, tk + 1, size=b)
            lengths[0] = tk - 2
            mask = np.arange(tk)[None, None, :] < lengths[:, None, None]
        elif case["mask"] == "causal":
            mask = np.tril(np.ones((tq, tk), bool))
        inputs.update(names)
        args = [arr(n) for n in names]
        kwargs = {}
        if mask is not None:
            inputs[f"sdpa{i}_mask"] = mask
            kwargs["mask"] = arr(f"sdpa{i}_mask")
        calls.append(function(f"sdpa{i}", "scaled_dot_product_attention", *args, **kwargs))
        out, weights = (_np(t) for t in scaled_dot_product_attention(q, k, v, mask=mask))
        hints_w = variants.attention_hints(q, k, v, mask, index=1)
        hints_o = variants.attention_hints(q, k, v, mask, index=0)
        weight = 2.0 if i == 0 else 1.0
        checks.append(
            Check(
                f"scaled_dot_product_attention: weights, {label}",
                "scaled_dot_product_attention",
                close(
                    f"sdpa{i}.1",
                    weights,
                    "the attention weights",
                    {**variants.returned_order_hint(out), **hints_w},
                ),
                weight / 2,
            )
        )
        checks.append(
            Check(
                f"scaled_dot_product_attention: output, {label}",
                "scaled_dot_product_attention",
                close(
                    f"sdpa{i}.0",
                    out,
                    "the output",
                    {**variants.returned_order_hint(weights), **hints_o},
                ),
                weight / 2,
            )
        )

    # A row with no allowed key must stay finite (large negative finite value, not -inf).
    q = rng.normal(size=(1, 3, 4)).astype("float32")
    mask = np.ones((1, 3, 3), bool)
    mask[0, 1] = False
    inputs.update(sdpa_full_q=q, sdpa_full_mask=mask)
    calls.append(
        function(
            "sdpa_full",
            "scaled_dot_product_attention",
            arr("sdpa_full_q"),
            arr("sdpa_full_q"),
            arr("sdpa_full_q"),
            mask=arr("sdpa_full_mask"),
        )
    )
    expected = _np(scaled_dot_product_attention(q, q, q, mask=mask)[0])
    checks.append(
        Check(
            "scaled_dot_product_attention: a fully masked row gives finite output",
            "scaled_dot_product_attention",
            finite_where_allowed("sdpa_full.0", expected, mask.any(-1)[0]),
        )
    )


def finite_where_allowed(key, expected, allowed_rows):
    """All values finite, and rows that have an allowed key equal to the reference."""

    def evaluate(outcome):
        try:
            actual = np.asarray(outcome.get(key), np.float64)
        except Missing as err:
            return failed(str(err))
        if actual.shape != expected.shape:
            return failed(f"Expected shape {expected.shape}, got {actual.shape}.")
        if not np.all(np.isfinite(actual)):
            return failed(
                "A query row whose keys are all masked gave NaN or inf. Replace masked logits with a large "
                "negative finite number (e.g. -1e9) instead of -inf, so the softmax stays finite."
            )
        return compare(
            actual[:, allowed_rows],
            expected[:, allowed_rows],
            what="the output of the unmasked rows",
        )

    return evaluate


def _mask_checks(rng, inputs, calls, checks):
    for i, length in enumerate((1, int(rng.integers(4, 9)))):
        calls.append(function(f"causal{i}", "causal_mask", length))
        checks.append(
            Check(
                f"causal_mask: length {length}",
                "causal_mask",
                close(
                    f"causal{i}",
                    _np(causal_mask(length)),
                    f"causal_mask({length})",
                    variants.causal_hints(length),
                ),
            )
        )
    for i, pad_id in enumerate((0, 3)):
        ids = rng.integers(1, 9, size=(3, 7))
        ids[ids == pad_id] = 1
        ids[0, 4:] = pad_id
        ids[2, 1:] = pad_id
        inputs[f"pad{i}_ids"] = ids.astype("int32")
        kwargs = {} if pad_id == 0 else {"pad_id": pad_id}
        calls.append(function(f"pad{i}", "padding_mask", arr(f"pad{i}_ids"), **kwargs))
        expected = _np(padding_mask(ids, pad_id))
        hints = variants.padding_hints(ids, pad_id)
        checks.append(
            Check(
                f"padding_mask: pad_id={pad_id}, shape (B, 1, T)",
                "padding_mask",
                close(f"pad{i}", expected, "the padding mask", hints),
            )
        )


def _self_attention_group(rng):
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


def plan(rng, answers):
    """The groups and checks for one submission, on inputs drawn from `rng`."""
    inputs, calls, checks = {}, [], []
    _attention_checks(rng, inputs, calls, checks)
    _mask_checks(rng, inputs, calls, checks)
    for unit, letters in sorted(answers.items()):
        calls.append(value(f"value_{unit}", unit))
        checks.append(answer_check(unit, letters))
    sa_group, sa_checks = _self_attention_group(rng)
    return Plan([Group("functions", calls, inputs), sa_group], checks + sa_checks)
