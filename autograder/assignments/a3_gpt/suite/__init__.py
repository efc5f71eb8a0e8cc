"""Grading suite for a3_gpt: embeddings, the GPT block and model, the LM loss, sampling, generate.

Groups (sandbox jobs), each unit run with the reference implementations of its dependencies:
- "functions": TokenAndPositionEmbedding, make_lm_example, lm_loss (functions.py),
  filter_logits on hand-made rows, compared exactly (filter.py), and the concept answers;
- "block": GPTBlock with the given MultiHeadAttention and FeedForward injected, and
- "gpt": GPT with the reference TokenAndPositionEmbedding and GPTBlock injected (gpt.py);
- "generate": generate on a toy LM built in the jail, with the reference filter_logits
  (generate.py, support/toy_lm.py).
Hints that name bugs come from hints.py.
"""

import re

from autograder.assignments.a3_gpt.suite.filter import filter_checks
from autograder.assignments.a3_gpt.suite.functions import (
    embedding_checks,
    lm_example_checks,
    lm_loss_checks,
)
from autograder.assignments.a3_gpt.suite.generate import generate_group
from autograder.assignments.a3_gpt.suite.gpt import (
    block_group,
    gpt_group,
)
from autograder.assignments.course import FORBIDDEN
from autograder.grading.calls import value
from autograder.grading.checks import answer_check
from autograder.grading.compare import failed
from autograder.grading.plan import Group, Plan

UNITS = (
    "TokenAndPositionEmbedding",
    "make_lm_example",
    "GPTBlock",
    "GPT",
    "lm_loss",
    "filter_logits",
    "generate",
)
GIVEN_PACKAGES = ("course_lib",)
# The given layers may be imported from course_lib; the references of graded units may not.
FORBID = FORBIDDEN + (
    "course_lib.models",
    "course_lib.generation",
    "course_lib.train",
    "course_lib.training",
    "course_lib.layers.gpt_block",
    "course_lib.layers.token_and_position_embedding",
    "course_lib.layers.GPTBlock",
    "course_lib.layers.TokenAndPositionEmbedding",
)


# A sublayer that call() never uses is never built, so the grader cannot copy weights into it.
UNUSED = {
    "token_embedding": "the token embeddings are not used",
    "position_embedding": "the position embeddings are not added",
    "ln1": "ln1 is never used (LayerNorm before the attention)",
    "ln2": "ln1 is used before both sublayers (ln2 is never used)",
    "ln_f": "the final LayerNorm ln_f is skipped",
}
UNBUILT = re.compile(r"weights for '([\w.]+)': the layer has shapes \[\]")


def _name_unused(evaluate):
    """Adds to a failed check which sublayer call() never used, when that made the build fail."""

    def wrapped(outcome):
        verdict = evaluate(outcome)
        match = None if verdict.passed else UNBUILT.search(verdict.message)
        if not match:
            return verdict
        path = match.group(1)
        message = (
            f"{verdict.message}\nThe sublayer {path} holds no weights after the first call, so "
            "call() never uses it."
        )
        label = UNUSED.get(path.rpartition(".")[2])
        if label:
            message += f" This matches what you get when {label}."
        return failed(message)

    return wrapped


def build(rng, answers):
    """`(plan, expected)`: the plan, and `{result key: (expected array, hints)}` for the tests."""
    inputs, calls, checks, expected = {}, [], [], {}
    embedding_checks(rng, inputs, calls, checks, expected)
    lm_example_checks(rng, inputs, calls, checks, expected)
    lm_loss_checks(rng, inputs, calls, checks, expected)
    filter_checks(rng, inputs, calls, checks, expected)
    for unit, letters in sorted(answers.items()):
        calls.append(value(f"value_{unit}", unit))
        checks.append(answer_check(unit, letters))
    block, block_checks = block_group(rng, expected)
    gpt, gpt_checks = gpt_group(rng, expected)
    gen, gen_checks = generate_group(rng)
    groups = [Group("functions", calls, inputs), block, gpt, gen]
    checks = checks + block_checks + gpt_checks + gen_checks
    for check in checks:
        check.evaluate = _name_unused(check.evaluate)
    return Plan(groups, checks), expected


def plan(rng, answers):
    """The groups and checks for one submission, on inputs drawn from `rng`."""
    return build(rng, answers)[0]
