"""Grading suite for a4_translation: shift_right, the decoder block, the encoder-decoder, greedy decoding.

Each unit runs with the reference implementations of what it builds on (given layers
from course_lib, and the reference `TransformerDecoderBlock` for the model); the
reference outputs come from course_lib in this (trusted) process. Groups (sandbox jobs):
- "functions": shift_right and the concept answers (here);
- "decoder" (decoder.py): TransformerDecoderBlock with the given MHA and FeedForward;
- "seq2seq" (seq2seq.py): Seq2SeqTransformer with the given layers and the reference decoder block;
- "decode" (decode.py): greedy_decode on models built in the jail from `support/toy_models.py`:
  a toy whose greedy output the grader chooses, and the contract's model with the weights of
  a course_lib `Seq2SeqTransformer`.
Sizes, weights and reference models are shared in models.py; bug variants in hints.py.
"""

import numpy as np

from autograder.assignments.a4_translation.suite import hints as variants
from autograder.assignments.a4_translation.suite.decode import decode_group
from autograder.assignments.a4_translation.suite.decoder import decoder_group
from autograder.assignments.a4_translation.suite.models import (
    GIVEN_INJECT,
    GIVEN_SITE,
)
from autograder.assignments.a4_translation.suite.seq2seq import seq2seq_group
from autograder.assignments.course import FORBIDDEN
from autograder.grading.calls import arr, function, value
from autograder.grading.checks import answer_check, close
from autograder.grading.plan import Check, Group, Plan

UNITS = ("shift_right", "TransformerDecoderBlock", "Seq2SeqTransformer", "greedy_decode")
GIVEN_PACKAGES = ("course_lib",)
# The references of the graded units, reported by name. Never the dotted path of a class that a
# job's site/ holds (course_lib.layers.transformer_decoder_block.TransformerDecoderBlock): the
# sandbox's runtime forbid would disable the reference injected into the Seq2Seq job.
FORBID = FORBIDDEN + (
    "course_lib.models",
    "course_lib.generation",
    "course_lib.layers.TransformerDecoderBlock",
    "course_lib.layers.transformer_decoder_block",
)


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
        hints = variants.shift_right_hints(ids, start)
        hints = {k: v for k, v in hints.items() if not np.array_equal(v, want)}
        expected[call_id] = (want, hints)
        checks.append(
            Check(
                f"shift_right: {label}",
                "shift_right",
                close(call_id, want, f"shift_right(ids, {start})", hints, atol=0, rtol=0),
            )
        )


def build(rng, answers):
    """`(plan, expected)`: the plan, and `{result key: (expected array, hints)}` for the tests."""
    inputs, calls, checks, expected = {}, [], [], {}
    _shift_checks(rng, inputs, calls, checks, expected)
    for unit, letters in sorted(answers.items()):
        calls.append(value(f"value_{unit}", unit))
        checks.append(answer_check(unit, letters))
    decoder, decoder_checks = decoder_group(rng, expected)
    seq2seq, seq2seq_checks = seq2seq_group(rng, expected)
    decode, decode_checks = decode_group(rng, expected)
    functions = Group(
        "functions", calls, inputs, site_modules=GIVEN_SITE, inject=dict(GIVEN_INJECT)
    )
    groups = [functions, decoder, seq2seq, decode]
    return Plan(groups, checks + decoder_checks + seq2seq_checks + decode_checks), expected


def plan(rng, answers):
    """The groups and checks for one submission, on inputs drawn from `rng`."""
    return build(rng, answers)[0]
