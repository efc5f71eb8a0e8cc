"""Grading suite for a6_scaling: image files, tf.data pipelines, bounded memory, MirroredStrategy.

Four sandbox jobs per submission:

- "images" (images.py): `load_and_preprocess_image` on PNG (grey, RGB, RGBA) and JPEG files
  that a support function writes into the jail's private /tmp (the parent writes the same
  files with the same TensorFlow encoders to compute the reference); the concept answers.
- "dataset" (dataset.py): `make_image_dataset` with the reference `load_and_preprocess_image`
  injected; a support function iterates the student's dataset and returns plain arrays.
- "memory" (memory.py): `evaluate_in_batches` on a lazily generated dataset about 3.2 times
  the memory budget, its exact accuracy known to the parent; graded on the accuracy and on
  the peak RSS growth during the call. A materialising submission is measured, not stopped:
  it needs about 1-2 GiB, far below the jail's limits, and loses the memory check.
- "strategy" (strategy.py): `train_with_strategy` under a `MirroredStrategy` over two
  logical CPUs (`Group.logical_cpus=2`), from the grader's initial weights; the trained
  weights are compared with SGD on one device in the parent.
"""

import numpy as np

from autograder.assignments.a6_scaling.suite.dataset import dataset_group
from autograder.assignments.a6_scaling.suite.images import images_group
from autograder.assignments.a6_scaling.suite.memory import memory_group
from autograder.assignments.a6_scaling.suite.strategy import strategy_group
from autograder.assignments.course import FORBIDDEN
from autograder.grading.plan import Plan

UNITS = (
    "load_and_preprocess_image",
    "make_image_dataset",
    "evaluate_in_batches",
    "train_with_strategy",
)
GIVEN_PACKAGES = ("course_lib",)
FORBID = FORBIDDEN + (
    "course_lib.data.images",
    "course_lib.data.image_file",
    "course_lib.data.load_and_preprocess_image",
    "course_lib.data.make_image_dataset",
    "course_lib.data.image_dataset_from_files",
)


def build(rng, answers):
    """`(plan, expected)`: the plan, and `{result key: (expected array, hints)}` of the array checks."""
    expected = {}
    images, image_checks = images_group(rng, answers, expected)
    dataset, dataset_checks = dataset_group(rng, expected)
    memory, memory_checks, accuracy = memory_group(rng)
    expected["eval_acc"] = (np.array(accuracy), {})
    strategy, strategy_checks = strategy_group(rng)
    groups = [images, dataset, memory, strategy]
    return Plan(groups, image_checks + dataset_checks + memory_checks + strategy_checks), expected


def plan(rng, answers):
    """The groups and checks for one submission, on inputs drawn from `rng`."""
    return build(rng, answers)[0]
