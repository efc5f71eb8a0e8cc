"""Grading suite for a4_translation: shift_right, the decoder block, the encoder-decoder, greedy decoding.

Each unit runs with the reference implementations of what it builds on (given layers
from course_lib, and the reference `TransformerDecoderBlock` for the model); the
reference outputs come from course_lib in this (trusted) process. `greedy_decode` is run
on models the grader builds in the sandbox from `support/a4_support.py`: a toy whose greedy
output the grader chooses, and the contract's model with the weights of a course_lib
`Seq2SeqTransformer` (autograder/suites/decode_a4.py). Sizes, weights and reference models
are shared in autograder/suites/models_a4.py; bug variants in variants_a4.py.
"""

import numpy as np

from autograder.compare import failed
from autograder.suites import variants_a4
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
from autograder.suites.decode_a4 import decode_group
from autograder.suites.models_a4 import (
    D_MODEL,
    DECODER_INJECT,
    DECODER_SITE,
    FF_DIM,
    GIVEN_INJECT,
    GIVEN_SITE,
    NUM_HEADS,
    S2S,
    S2S_LAYERS,
    decoder_weights,
    layer_weights,
    padded_ids,
    reference_model,
    seq2seq_weights,
)
from autograder.suites.weights import add_weights, key_mask, set_weights, to_np
from course_lib.layers import TransformerDecoderBlock

ASSIGNMENT = "a4_translation"
UNITS = ("shift_right", "TransformerDecoderBlock", "Seq2SeqTransformer", "greedy_decode")
GIVEN_PACKAGES = ("course_lib",)
# The references of the graded units, reported by name. Never the dotted path of a class that a
# job's site/ holds (course_lib.layers.transformer_decoder_block.TransformerDecoderBlock): the
# sandbox's runtime forbid would disable the reference injected into the Seq2Seq job.
FORBID = FORBIDDEN + (
    "course_lib.models",
    "course_lib.generate",
    "course_lib.layers.TransformerDecoderBlock",
    "course_lib.layers.transformer_decoder_block",
)


def _close_or_explain(key, expected, what, hints, explain):
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


# Group "functions": shift_right and the concept questions ---------------------------------


def _shift_checks(rng, inputs, calls, checks, expected):
    cases = (
        ("shift0", (3, 7), 1, None, "int32 ids (3, 7), start_id=1"),
        ("shift1", (2, 9), 5, "numpy", "a NumPy array (2, 9), start_id=5"),
        ("shift2", (4, 1), 2, None, "ids of length 1, start_id=2"),
    )
    for call_id, shape, start, as_, label in cases:
        ids = rng.integers(3, 40, size=shape).astype("int32")
        inputs[f"{call_id}_ids"] = ids
        ref = {"array": f"{call_id}_ids", "as": "numpy"} if as_ else arr(f"{call_id}_ids")
        calls.append(function(call_id, "shift_right", ref, start))
        want = np.concatenate([np.full((shape[0], 1), start, "int32"), ids[:, :-1]], axis=1)
        hints = variants_a4.shift_right_hints(ids, start)
        hints = {k: v for k, v in hints.items() if not np.array_equal(v, want)}
        expected[call_id] = (want, hints)
        checks.append(
            Check(
                f"shift_right: {label}",
                "shift_right",
                close(call_id, want, f"shift_right(ids, {start})", hints, atol=0, rtol=0),
            )
        )


# Group "decoder": TransformerDecoderBlock with the given MHA and FeedForward ---------------


def _explain_shapes(message):
    if any(w in message for w in ("Incompatible shapes", "broadcast", "shape", "Dimensions")):
        return (
            "The decoder input x (T=5) and the context (S=7) have different lengths here: check "
            "that the cross-attention's query is the decoder state x and its keys/values are "
            "context (query and key/value swapped?), and that context_mask goes to the "
            "cross-attention only."
        )
    return ""


def _decoder_group(rng, expected):
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
        hints = variants_a4.decoder_block_hints(x, context, weights, mask, num_heads=NUM_HEADS)
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
                _close_or_explain(call_id, want, what, hints, _explain_shapes),
                weight,
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


# Group "seq2seq": the model with the given layers and the reference decoder block -----------


def _seq2seq_group(rng, expected):
    b, s, t = 3, 7, 6
    src = padded_ids([7, 4, 2], s, 0, rng, S2S["src_vocab"])
    src_more = np.concatenate([src, np.zeros((b, 3), "int32")], axis=1)  # 3 more pad columns
    src_pad5 = padded_ids([5, 7, 3], s, 5, rng, S2S["src_vocab"])
    tgt = rng.integers(1, S2S["tgt_vocab"], size=(b, t)).astype("int32")
    tgt[:, 0] = 1
    weights = seq2seq_weights(rng)
    inputs = {"s2s_src": src, "s2s_src_more": src_more, "s2s_src5": src_pad5, "s2s_tgt": tgt}
    names = add_weights(inputs, "s2s", weights)
    names1 = layer_weights(names, 1)
    base = {**S2S, "num_layers": S2S_LAYERS, "ff_dim": FF_DIM}
    one = {**base, "num_layers": 1}  # the pad_id and dropout checks: one block each (faster)
    build = [[arr("s2s_src"), arr("s2s_tgt")]]
    calls = [
        construct("s2s", "Seq2SeqTransformer", base, build, names),
        construct("s2s_pad5", "Seq2SeqTransformer", {**one, "pad_id": 5}, build, names1),
        construct("s2s_drop", "Seq2SeqTransformer", {**one, "dropout": 0.5}, build, names1),
        call("s2s0", "s2s", [arr("s2s_src"), arr("s2s_tgt")]),
        call("s2s_more", "s2s", [arr("s2s_src_more"), arr("s2s_tgt")]),
        call("s2s5", "s2s_pad5", [arr("s2s_src5"), arr("s2s_tgt")]),
        call("s2s_drop0", "s2s_drop", [arr("s2s_src"), arr("s2s_tgt")], training=False),
    ]
    logits = to_np(reference_model(weights, src, tgt)((src, tgt)))
    logits1 = to_np(reference_model(weights, src, tgt, num_layers=1)((src, tgt)))
    logits5 = to_np(reference_model(weights, src, tgt, 1, pad_id=5)((src_pad5, tgt)))
    kw = dict(num_layers=S2S_LAYERS, num_heads=NUM_HEADS)
    kw1 = dict(num_layers=1, num_heads=NUM_HEADS)
    hints = variants_a4.seq2seq_hints(src, tgt, weights, **kw)
    hints1 = variants_a4.seq2seq_hints(src, tgt, weights, **kw1)
    hints_more = variants_a4.seq2seq_hints(src_more, tgt, weights, **kw)
    hints5 = variants_a4.seq2seq_hints(src_pad5, tgt, weights, **kw1, pad_id=5)
    expected["s2s0"] = (logits, hints)
    expected["s2s_more"] = (logits, hints_more)
    expected["s2s5"] = (logits5, hints5)
    expected["s2s_drop0"] = (logits1, hints1)
    unit = "Seq2SeqTransformer"
    checks = [
        Check(
            f"{unit}: logits on equal weights (2 layers, padded sources)",
            unit,
            close("s2s0", logits, "the logits", hints),
            3.0,
        ),
        Check(
            f"{unit}: more padding at the end of the source leaves the logits unchanged",
            unit,
            close(
                "s2s_more",
                logits,
                "the logits after appending 3 padding tokens to every source (padded source "
                "positions must be masked in the encoder and in cross-attention)",
                hints_more,
            ),
            2.0,
        ),
        Check(
            f"{unit}: pad_id=5, num_layers=1 (the padding mask uses the model's pad_id)",
            unit,
            close("s2s5", logits5, "the logits with pad_id=5", hints5),
        ),
        Check(
            f"{unit}: dropout=0.5 with training=False does not drop (num_layers=1)",
            unit,
            close(
                "s2s_drop0",
                logits1,
                "the logits with dropout=0.5 when not training (dropout must act only in training)",
                hints1,
            ),
        ),
    ]
    group = Group(
        "seq2seq",
        calls,
        inputs,
        site_modules=GIVEN_SITE + (DECODER_SITE,),
        inject={**GIVEN_INJECT, **DECODER_INJECT},
    )
    return group, checks


def build(rng, answers):
    """`(plan, expected)`: the plan, and `{result key: (expected array, hints)}` for the tests."""
    inputs, calls, checks, expected = {}, [], [], {}
    _shift_checks(rng, inputs, calls, checks, expected)
    for unit, letters in sorted(answers.items()):
        calls.append(value(f"value_{unit}", unit))
        checks.append(answer_check(unit, letters))
    decoder_group, decoder_checks = _decoder_group(rng, expected)
    seq2seq_group, seq2seq_checks = _seq2seq_group(rng, expected)
    decode_group_, decode_checks = decode_group(rng, expected)
    groups = [
        Group("functions", calls, inputs, site_modules=GIVEN_SITE, inject=dict(GIVEN_INJECT)),
        decoder_group,
        seq2seq_group,
        decode_group_,
    ]
    return Plan(groups, checks + decoder_checks + seq2seq_checks + decode_checks), expected


def plan(rng, answers):
    """The groups and checks for one submission, on inputs drawn from `rng`."""
    return build(rng, answers)[0]
