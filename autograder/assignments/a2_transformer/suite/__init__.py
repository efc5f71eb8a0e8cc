"""Grading suite for a2_transformer: heads, multi-head attention, positions, FFN, encoder block.

Groups (sandbox jobs), each unit run with the reference implementations of its dependencies:
- "functions" (functions.py): split_heads, merge_heads, positional_encoding, FeedForward, answers;
- "mha" (mha.py): MultiHeadAttention with the reference split/merge heads;
- "block" (block.py): TransformerEncoderBlock with the reference MultiHeadAttention and FeedForward.
Hints that name bugs are in hints.py; sizes in sizes.py.
"""

from autograder.assignments.a2_transformer.suite.block import block_group
from autograder.assignments.a2_transformer.suite.functions import (
    ffn_checks,
    heads_checks,
    positional_checks,
)
from autograder.assignments.a2_transformer.suite.mha import mha_group
from autograder.assignments.course import FORBIDDEN
from autograder.grading.calls import value
from autograder.grading.checks import answer_check
from autograder.grading.plan import Group, Plan

UNITS = (
    "split_heads",
    "merge_heads",
    "MultiHeadAttention",
    "positional_encoding",
    "FeedForward",
    "TransformerEncoderBlock",
)
FORBID = FORBIDDEN + ("course_lib",)


def build(rng, answers):
    """`(plan, expected)`: the plan, and `{result key: (expected array, hints)}` for the tests."""
    inputs, calls, checks, expected = {}, [], [], {}
    heads_checks(rng, inputs, calls, checks, expected)
    positional_checks(calls, checks, expected)
    ffn_checks(rng, inputs, calls, checks, expected)
    for unit, letters in sorted(answers.items()):
        calls.append(value(f"value_{unit}", unit))
        checks.append(answer_check(unit, letters))
    mha, mha_checks = mha_group(rng, expected)
    block, block_checks = block_group(rng, expected)
    groups = [Group("functions", calls, inputs), mha, block]
    return Plan(groups, checks + mha_checks + block_checks), expected


def plan(rng, answers):
    """The groups and checks for one submission, on inputs drawn from `rng`."""
    return build(rng, answers)[0]
