"""What the a5_vit groups share: the support file, weight copying into attributes, error wrappers."""

import numpy as np

from autograder.assignments.a5_vit.support import weights as weights_support
from autograder.grading.calls import arr, function, obj
from autograder.grading.compare import failed, passed
from autograder.grading.plan import clean_traceback
from autograder.grading.site import support_name
from autograder.grading.weights import (
    add_weights,
    set_weights,
    walk,
)

SUPPORT = weights_support.__file__
ASSIGN = support_name(SUPPORT, "assign")
TRACED = support_name(SUPPORT, "traced")
SET_LAYER = support_name(SUPPORT, "set_layer")
MHA_NAMES = ("wq", "wk", "wv", "wo")


def normal(rng, *shape, scale=1.0, loc=0.0):
    return (loc + rng.normal(0, scale, size=shape)).astype("float32")


def set_reference(layer, layer_weights, variables):
    """Copies `{path: arrays}` into sublayers and `{path: array}` into weight attributes."""
    set_weights(layer, layer_weights)
    for path, array in variables.items():
        walk(layer, path).assign(array)


def assign_calls(prefix, object_id, variables, inputs, layers=None):
    """Function calls that copy the grader's `{path: array}` into weight attributes, and
    `{path: arrays}` into sublayers that may never have been called (`layers`)."""
    calls = []
    for path, array in variables.items():
        name = f"{prefix}_{path.replace('.', '_')}"
        inputs[name] = array
        calls.append(function(f"{name}_set", ASSIGN, obj(object_id), path, arr(name)))
    for path, names in add_weights(inputs, prefix, layers or {}).items():
        args = [arr(n) for n in names]
        calls.append(function(f"{prefix}_{path}_set", SET_LAYER, obj(object_id), path, *args))
    return calls


def weights_copied(object_id, assign_ids, what):
    """A check function: the object was built and the grader's weights went into it."""

    def evaluate(outcome):
        for call_id in (object_id, *assign_ids):
            error = outcome.error(call_id)
            if error is None:
                continue
            if call_id == object_id:
                return failed(f"Building {what} failed:\n" + clean_traceback(error))
            return failed(
                f"The grader could not copy its weights into {what}:\n" + clean_traceback(error)
            )
        return passed()

    return evaluate


def explain_error(call_id, explanation, evaluate):
    """`evaluate`, but an error of `call_id` is reported after `explanation`."""

    def run(outcome):
        error = outcome.error(call_id)
        if error is not None:
            return failed(explanation + "\n" + clean_traceback(error))
        return evaluate(outcome)

    return run


def without_twins(hints, want, atol=1e-4):
    """The hints whose variant differs from the reference (a hint equal to it names nothing)."""
    return {
        label: v
        for label, v in hints.items()
        if np.shape(v) != np.shape(want) or not np.allclose(v, want, atol=atol)
    }
