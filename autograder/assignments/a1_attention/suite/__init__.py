"""Grading suite for a1_attention: attention, masks and a self-attention head.

Groups (sandbox jobs):
- "functions" (functions.py): scaled_dot_product_attention, causal_mask, padding_mask and
  the concept answers;
- "self_attention" (self_attention.py): SelfAttention with the reference attention and
  masks injected.
Hints that name bugs are in hints.py.
"""

from autograder.assignments.a1_attention.suite.functions import attention_checks, mask_checks
from autograder.assignments.a1_attention.suite.self_attention import self_attention_group
from autograder.assignments.course import FORBIDDEN
from autograder.grading.calls import value
from autograder.grading.checks import answer_check
from autograder.grading.plan import Group, Plan

UNITS = ("scaled_dot_product_attention", "causal_mask", "padding_mask", "SelfAttention")
FORBID = FORBIDDEN + ("course_lib",)


def plan(rng, answers):
    """The groups and checks for one submission, on inputs drawn from `rng`."""
    inputs, calls, checks = {}, [], []
    attention_checks(rng, inputs, calls, checks)
    mask_checks(rng, inputs, calls, checks)
    for unit, letters in sorted(answers.items()):
        calls.append(value(f"value_{unit}", unit))
        checks.append(answer_check(unit, letters))
    sa_group, sa_checks = self_attention_group(rng)
    return Plan([Group("functions", calls, inputs), sa_group], checks + sa_checks)
