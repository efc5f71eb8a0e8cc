"""Grading suite for a5_vit: patches, the patch embedding (CLS token, positions), the ViT classifier.

Three sandbox jobs, each unit with the reference implementations of its dependencies injected:
- "functions" (functions.py): `extract_patches` (an arange image, H != W, C = 1 and 3,
  batch > 1, and inside a `tf.function` with an unknown batch size) and the concept questions;
- "patch_embedding" (patch_embedding.py): `PatchEmbedding` with the reference
  `extract_patches` and the grader's projection, CLS token and position embedding;
- "vit" (vit.py): `ViTClassifier` with the reference `PatchEmbedding` and
  `TransformerEncoderBlock` (the given one) and the grader's weights in every sublayer.
"""

from autograder.assignments.a5_vit.suite.functions import patches_checks
from autograder.assignments.a5_vit.suite.helpers import SUPPORT
from autograder.assignments.a5_vit.suite.patch_embedding import patch_group
from autograder.assignments.a5_vit.suite.vit import vit_group
from autograder.assignments.course import FORBIDDEN
from autograder.grading.calls import value
from autograder.grading.checks import answer_check
from autograder.grading.plan import Group, Plan

UNITS = ("extract_patches", "PatchEmbedding", "ViTClassifier")
# The references of the graded units, reported by name when a solution cell imports them.
# Never the dotted path of a function or class that a job's site/ holds
# ("course_lib.layers.patches.extract_patches"): the sandbox's runtime forbid would disable
# the reference injected there. Module names are only scanned (the runtime skips modules).
FORBID = FORBIDDEN + (
    "course_lib.models",
    "course_lib.layers.patches",
    "course_lib.layers.patch_embedding",
    "course_lib.layers.extract_patches",
    "course_lib.layers.PatchEmbedding",
)
GIVEN_PACKAGES = ("course_lib",)


def build(rng, answers):
    """`(plan, expected)`: the plan, and `{result key: (expected array, hints)}` for the tests."""
    inputs, calls, checks, expected = {}, [], [], {}
    patches_checks(rng, inputs, calls, checks, expected)
    for unit, letters in sorted(answers.items()):
        calls.append(value(f"value_{unit}", unit))
        checks.append(answer_check(unit, letters))
    functions = Group("functions", calls, inputs, support=(SUPPORT,))
    patches, patch_checks = patch_group(rng, expected)
    vit, vit_checks = vit_group(rng, expected)
    return Plan([functions, patches, vit], checks + patch_checks + vit_checks), expected


def plan(rng, answers):
    """The groups and checks for one submission, on inputs drawn from `rng`."""
    return build(rng, answers)[0]
