"""The a4_translation "decoder" group: TransformerDecoderBlock with the given MHA and FeedForward."""

from autograder.assignments.a4_translation.suite import hints as variants
from autograder.assignments.a4_translation.suite.models import (
    D_MODEL,
    FF_DIM,
    GIVEN_INJECT,
    GIVEN_SITE,
    NUM_HEADS,
    decoder_weights,
)
from autograder.grading.calls import arr, call, construct, in_graph
from autograder.grading.checks import close, in_graph_close
from autograder.grading.compare import failed
from autograder.grading.plan import Check, Group, Missing
from autograder.grading.weights import add_weights, key_mask, set_weights, to_np
from course_lib.layers import TransformerDecoderBlock


def close_or_explain(key, expected, what, hints, explain):
    """`close`, and when the call raised an error that `explain` recognises, say why."""
    base = close(key, expected, what, hints)

    def evaluate(outcome):
        verdict = base(outcome)
        if verdict.passed:
            return verdict
        try:
            outcome.get(key)
        except Missing as err:
            extra = explain(str(err))
            if extra:
                return failed(f"{err} {extra}")
        return verdict

    return evaluate


def _explain_shapes(message):
    if any(w in message for w in ("Incompatible shapes", "broadcast", "shape", "Dimensions")):
        return (
            "The decoder input x (T=5) and the context (S=7) have different lengths here: check "
            "that the cross-attention's query is the decoder state x and its keys/values are "
            "context (query and key/value swapped?), and that context_mask goes to the "
            "cross-attention only."
        )
    return ""


def decoder_group(rng, expected):
    b, t, s = 2, 5, 7
    # Small inputs: the residual sums have a small variance, so LayerNorm's epsilon shows.
    x = rng.normal(0, 0.2, size=(b, t, D_MODEL)).astype("float32")
    ctx = rng.normal(0, 0.5, size=(b, s, D_MODEL)).astype("float32")
    ctx_same = rng.normal(0, 0.5, size=(b, t, D_MODEL)).astype("float32")
    pad = key_mask([4, 6], s)  # (B, 1, S)
    pad_same = key_mask([3, 5], t)
    weights = decoder_weights(rng)
    inputs = {"dec_x": x, "dec_ctx": ctx, "dec_ctx_same": ctx_same}
    inputs.update({"dec_pad": pad, "dec_pad_same": pad_same})
    names = add_weights(inputs, "dec", weights)
    base = {"d_model": D_MODEL, "num_heads": NUM_HEADS, "ff_dim": FF_DIM}
    layer = TransformerDecoderBlock(**base)
    layer(x, ctx)
    set_weights(layer, weights)
    build = [arr("dec_x"), arr("dec_ctx")]
    calls = [
        construct("dec", "TransformerDecoderBlock", base, build, names),
        construct("dec_drop", "TransformerDecoderBlock", {**base, "dropout": 0.5}, build, names),
    ]
    unit = "TransformerDecoderBlock"
    cases = (
        ("dec0", "x (T=5), context (S=7), no mask", "dec", ("dec_ctx", None), 3.0, {}),
        (
            "dec1",
            "x (T=5), context (S=7), context_mask (B, 1, S) with padded source positions",
            "dec",
            ("dec_ctx", "dec_pad"),
            3.0,
            {},
        ),
        (
            "dec2",
            "x and context of the same length (T=S=5), with context_mask",
            "dec",
            ("dec_ctx_same", "dec_pad_same"),
            2.0,
            {},
        ),
        (
            "dec_drop0",
            "dropout=0.5 with training=False does not drop",
            "dec_drop",
            ("dec_ctx", "dec_pad"),
            1.0,
            {"training": False},
        ),
    )
    checks = []
    for call_id, label, object_id, (ctx_name, mask_name), weight, extra in cases:
        kwargs = dict(extra)
        if mask_name:
            kwargs["context_mask"] = arr(mask_name)
        calls.append(call(call_id, object_id, arr("dec_x"), arr(ctx_name), **kwargs))
        context, mask = inputs[ctx_name], inputs[mask_name] if mask_name else None
        want = to_np(layer(x, context, context_mask=mask))
        hints = variants.decoder_block_hints(x, context, weights, mask, num_heads=NUM_HEADS)
        expected[call_id] = (want, hints)
        what = "the output"
        if call_id == "dec_drop0":
            what = (
                "the output with dropout=0.5 when not training (dropout must act only in training)"
            )
        checks.append(
            Check(
                f"{unit}: {label}",
                unit,
                close_or_explain(call_id, want, what, hints, _explain_shapes),
                weight,
            )
        )
    # The padded case again, inside a tf.function with an unknown batch size (as model.fit).
    calls.append(
        in_graph(
            call("dec_graph", "dec", arr("dec_x"), arr("dec_ctx"), context_mask=arr("dec_pad"))
        )
    )
    expected["dec_graph"] = expected["dec1"]
    checks.append(
        Check(
            f"{unit}: context_mask inside a tf.function with an unknown batch size",
            unit,
            in_graph_close("dec_graph", expected["dec1"][0], "the output in a tf.function"),
        )
    )
    group = Group(
        "decoder",
        calls,
        inputs,
        site_modules=GIVEN_SITE,
        inject=dict(GIVEN_INJECT),
    )
    return group, checks
