"""The a5_vit "functions" group: extract_patches (also inside a tf.function) and the answers."""

import numpy as np

from autograder.assignments.a5_vit.suite import hints as variants
from autograder.assignments.a5_vit.suite.helpers import TRACED, explain_error, normal
from autograder.grading.calls import arr, function
from autograder.grading.checks import close
from autograder.grading.plan import Check
from autograder.grading.weights import (
    to_np,
)
from course_lib.layers import extract_patches


def patches_checks(rng, inputs, calls, checks, expected):
    arange = np.arange(2 * 4 * 6 * 3, dtype="float32").reshape(2, 4, 6, 3)
    cases = (
        ("ep0", "patch order on an arange image (B=2, 4x6x3, P=2)", arange, 2, 2.0),
        ("ep1", "random (3, 8, 8, 1), P=4", normal(rng, 3, 8, 8, 1), 4, 1.0),
        ("ep2", "random (2, 12, 8, 3), P=4 (H != W)", normal(rng, 2, 12, 8, 3), 4, 1.0),
    )
    for call_id, label, images, p, weight in cases:
        inputs[f"{call_id}_x"] = images
        calls.append(function(call_id, "extract_patches", arr(f"{call_id}_x"), p))
        want = to_np(extract_patches(images, p))
        hints = variants.patch_hints(images, p)
        expected[call_id] = (want, hints)
        checks.append(
            Check(
                f"extract_patches: {label}",
                "extract_patches",
                close(call_id, want, f"the patch array for patch_size={p}", hints),
                weight,
            )
        )
    images = normal(rng, 3, 4, 6, 3)
    inputs["ep_traced_x"] = images
    calls.append(function("ep_traced", TRACED, "extract_patches", arr("ep_traced_x"), 2))
    want = to_np(extract_patches(images, 2))
    hints = variants.patch_hints(images, 2)
    expected["ep_traced"] = (want, hints)
    checks.append(
        Check(
            "extract_patches: inside a tf.function with an unknown batch size (as in model.fit)",
            "extract_patches",
            explain_error(
                "ep_traced",
                "extract_patches failed inside a tf.function with an unknown batch size (as in "
                "model.fit): use ops.shape(images)[0] or -1 for the batch size, not "
                "images.shape[0], which is None there.",
                close("ep_traced", want, "the patch array computed inside a tf.function", hints),
            ),
        )
    )
