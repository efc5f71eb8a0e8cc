"""The a2_transformer MultiHeadAttention cases that combine options, in the "mha" group.

- a key padding mask and use_causal_mask=True together, on cross-attention with Tq < Tk
  (top-left alignment, as keras.layers.MultiHeadAttention: query i attends keys j <= i);
- the same call inside a tf.function with an unknown batch size, as model.fit traces it;
- dropout=0.5 with training=True and a key padding mask: masked keys still get no weight
  (their values are huge, so any weight on them shows in the output);
- a 2-D mask is refused with ValueError (graded only when the plain self-attention passes).
"""

import numpy as np

from autograder.assignments.a2_transformer.suite.sizes import D_MODEL, NUM_HEADS, mha_variants
from autograder.grading.calls import arr, call, in_graph
from autograder.grading.checks import close, gated, in_graph_close, raises
from autograder.grading.compare import failed, passed
from autograder.grading.numpy_models import mha_np
from autograder.grading.plan import Check, Missing
from autograder.grading.weights import key_mask, to_np

UNIT = "MultiHeadAttention"
HUGE = 1e5  # the value of every masked key in the dropout case
LEAK = 1e3  # an output beyond this has attended to a masked key


def _combined_hints(x, context, weights, pad):
    tq, tk = x.shape[1], context.shape[1]
    hints = mha_variants(x, context, weights, NUM_HEADS, mask=pad, causal=True)
    bottom_right = pad & np.tril(np.ones((tq, tk), bool), tk - tq)[None]
    hints.update(
        {
            "the causal mask is aligned bottom-right (j <= i + Tk - Tq) instead of top-left "
            "(j <= i, as keras.layers.MultiHeadAttention)": mha_np(
                x, context, weights, NUM_HEADS, mask=bottom_right
            )[0],
            "use_causal_mask=True replaces the attention_mask instead of combining them": mha_np(
                x, context, weights, NUM_HEADS, causal=True
            )[0],
            "the causal mask is dropped when an attention_mask is given": mha_np(
                x, context, weights, NUM_HEADS, mask=pad
            )[0],
        }
    )
    return hints


def _no_leak(key_out, key_scores, masked):
    """Under dropout in training, masked keys get zero weight: scores 0 there, output bounded."""

    def evaluate(outcome):
        try:
            out = np.asarray(outcome.get(key_out), np.float64)
            scores = np.asarray(outcome.get(key_scores), np.float64)
        except Missing as err:
            return failed(str(err))
        if scores.shape[-1] != masked.shape[-1] or scores.ndim != 4:
            return failed(f"Expected scores (B, heads, Tq, Tk); got shape {scores.shape}.")
        leaked = np.abs(np.where(masked[:, None], scores, 0.0)).max()
        if not np.all(np.isfinite(out)) or leaked > 1e-6 or np.abs(out).max() > LEAK:
            return failed(
                "With dropout=0.5, training=True and a key padding mask, masked keys received "
                "attention weight (the output reached values of masked keys): this matches what "
                "you get when dropout is applied to the masked logits (a dropped -1e9 becomes 0) "
                "instead of to the attention weights after the softmax."
            )
        return passed()

    return evaluate


def mask_cases(rng, layer, weights, inputs, calls, checks, expected):
    """Adds the combined-option calls on the objects "mha" and "mha_drop", and their checks."""
    x, context = inputs["mha_x"], inputs["mha_ctx"]
    # Rows shorter than Tq, so that padding also hides keys the causal mask allows.
    pad = key_mask(rng.permutation([3, 4]), context.shape[1])
    inputs["mha_pad_short"] = pad
    both = {"attention_mask": arr("mha_pad_short"), "use_causal_mask": True}
    want = to_np(layer(x, context, attention_mask=pad, use_causal_mask=True))
    hints = _combined_hints(x, context, weights, pad)
    calls.append(call("mha_both", "mha", arr("mha_x"), arr("mha_ctx"), **both))
    calls.append(in_graph(call("mha_graph", "mha", arr("mha_x"), arr("mha_ctx"), **both)))
    expected["mha_both"] = expected["mha_graph"] = (want, hints)
    checks.append(
        Check(
            f"{UNIT}: key padding mask and use_causal_mask=True, Tq=5 < Tk=7 (top-left: j <= i)",
            UNIT,
            close("mha_both", want, "the output", hints),
        )
    )
    checks.append(
        Check(
            f"{UNIT}: padding and causal inside a tf.function with an unknown batch size",
            UNIT,
            in_graph_close("mha_graph", want, "the output in a tf.function", hints),
        )
    )
    # Dropout in training with a mask: masked keys carry huge values.
    pad = inputs["mha_pad"]
    masked = ~np.broadcast_to(pad, (pad.shape[0], x.shape[1], pad.shape[2]))
    values = context.copy()
    values[~pad[:, 0]] = HUGE
    inputs["mha_huge"] = values.astype("float32")
    calls.append(
        call(
            "mha_drop_mask",
            "mha_drop",
            arr("mha_x"),
            arr("mha_huge"),
            key=arr("mha_ctx"),
            attention_mask=arr("mha_pad"),
            return_attention_scores=True,
            training=True,
        )
    )
    checks.append(
        Check(
            f"{UNIT}: dropout=0.5, training=True with a key padding mask: masked keys get no weight",
            UNIT,
            _no_leak("mha_drop_mask.0", "mha_drop_mask.1", masked),
        )
    )
    # A (B, Tk) padding mask on a square batch (B = Tq = Tk) would broadcast silently.
    square = rng.normal(size=(5, 5, D_MODEL)).astype("float32")
    inputs.update(mha_sq=square, mha_pad_2d=np.ones((5, 5), bool))
    calls.append(
        call("mha_2d", "mha", arr("mha_sq"), arr("mha_sq"), attention_mask=arr("mha_pad_2d"))
    )
    core = next(c.evaluate for c in checks if c.name.startswith(f"{UNIT}: self-attention"))
    checks.append(
        Check(
            f"{UNIT}: a 2-D attention_mask (B, Tk) is refused with ValueError",
            UNIT,
            gated(
                core,
                raises("mha_2d", "ValueError", what="a call with a 2-D attention_mask (B, Tk)"),
                "self-attention without a mask",
            ),
        )
    )
    return core
