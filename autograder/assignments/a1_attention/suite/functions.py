"""The a1_attention "functions" group: scaled_dot_product_attention and the two masks."""

import numpy as np

from autograder.assignments.a1_attention.suite import hints as variants
from autograder.grading.calls import arr, function
from autograder.grading.checks import close, gated
from autograder.grading.compare import compare, failed
from autograder.grading.plan import Check, Missing
from course_lib.layers import causal_mask, padding_mask, scaled_dot_product_attention


def _np(x):
    return np.asarray(x)


def attention_checks(rng, inputs, calls, checks):
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


def mask_checks(rng, inputs, calls, checks):
    # Length 1 is an edge case any all-True mask passes: it pays only with the general case.
    lengths = (int(rng.integers(4, 9)), 1)
    for i, length in enumerate(lengths):
        calls.append(function(f"causal{i}", "causal_mask", length))
        evaluate = close(
            f"causal{i}",
            _np(causal_mask(length)),
            f"causal_mask({length})",
            variants.causal_hints(length),
        )
        if i:
            evaluate = gated(checks[-1].evaluate, evaluate, f"causal_mask({lengths[0]})")
        checks.append(Check(f"causal_mask: length {length}", "causal_mask", evaluate))
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
