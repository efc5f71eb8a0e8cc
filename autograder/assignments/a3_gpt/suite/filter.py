"""The a3_gpt `filter_logits` checks: hand-made rows with known answers, compared exactly.

The kept entries must equal the input logits and every other entry must be -inf; a wrong kept
set is named by the bug whose mask it matches (variants.filter_hints).
"""

import numpy as np

from autograder.assignments.a3_gpt.suite import hints as variants
from autograder.grading.calls import arr, function
from autograder.grading.checks import gated
from autograder.grading.compare import failed, passed
from autograder.grading.plan import Check, Missing, clean_traceback
from course_lib.generation.sampling import filter_logits


# filter_logits: hand-made rows with known answers. (label, rows, top_k, top_p, weight)
def _log(*probs):
    return np.log(np.asarray(probs, np.float64)).astype("float32")


# Probabilities 5/32, 1/2, 3/32, 1/4 whose cumulative sum 1/2 + 1/4 is exactly 0.75 in float32
# (Keras, TensorFlow, NumPy float32) and 0.75 + 7e-9 in float64: every correct way of computing
# it excludes the third token, and the "cum > p, shifted" bug keeps it.
BOUNDARY_ROW = [-1.0345279, 0.12862292, -1.5453534, -0.56452405]
FILTER_CASES = (
    (
        "top_k=1 keeps only the argmax of each row",
        [[0.5, 2.5, -1.0, 2.0], [3.0, -2.0, 0.0, 1.0]],
        1,
        None,
        1.0,
    ),
    (
        "top_k=2 with a tie at the 2nd largest keeps both tied logits",
        [[1.0, 3.0, 2.0, 2.0, -1.0]],
        2,
        None,
        1.0,
    ),
    ("top_k >= vocab_size keeps everything", [[0.3, -1.2, 2.2, 0.0]], 6, None, 0.5),
    ("top_k = vocab_size keeps everything", [[0.3, -1.2, 2.2, 0.0]], 4, None, 0.5),
    (
        "top_p=0.75 lands exactly on a cumulative boundary (0.5 + 0.25): two tokens kept",
        [BOUNDARY_ROW],
        None,
        0.75,
        1.0,
    ),
    (
        "top_p=0.5 between boundaries keeps the token that crosses it (0.4, 0.3)",
        [_log(0.1, 0.4, 0.2, 0.3)],
        None,
        0.5,
        1.0,
    ),
    (
        "a tiny top_p keeps the most likely token (never empty)",
        [_log(0.2, 0.3, 0.45, 0.05)],
        None,
        1e-6,
        1.0,
    ),
    (
        "top_k=3 then top_p=0.6 on the renormalised top-3 probabilities",
        [_log(0.25, 0.3, 0.1, 0.2, 0.15)],
        3,
        0.6,
        1.0,
    ),
    (
        "batched rows, each filtered on its own (top_p=0.7)",
        [_log(0.6, 0.2, 0.1, 0.1), _log(0.05, 0.3, 0.3, 0.35), _log(0.1, 0.1, 0.75, 0.05)],
        None,
        0.7,
        1.0,
    ),
)


# Edge cases any filter that ignores the option passes, paid only with the general case.
CORES = {FILTER_CASES[0][0]: "top_k=1", FILTER_CASES[5][0]: "top_p=0.5"}
GATES = {
    FILTER_CASES[2][0]: "top_k=1",
    FILTER_CASES[3][0]: "top_k=1",
    FILTER_CASES[6][0]: "top_p=0.5",
}


def _explain_k(call_id, evaluate):
    """An error on top_k > vocab_size: the contract keeps every token there."""

    def run(outcome):
        error = outcome.error(call_id)
        if error is None:
            return evaluate(outcome)
        return failed(
            "With top_k >= vocab_size every token is kept, but the call raised: ops.top_k "
            "cannot take more entries than there are, so clip top_k to the vocabulary size "
            "(or skip the top-k step).\n" + clean_traceback(error)
        )

    return run


def _filter_check(key, logits, want, hints):
    """Exact: the kept entries equal the input, every other entry is -inf."""
    kept_want = np.isfinite(want)

    def evaluate(outcome):
        try:
            actual = np.asarray(outcome.get(key), np.float64)
        except Missing as err:
            return failed(str(err))
        if actual.shape != want.shape:
            return failed(
                f"Expected the filtered logits with shape {want.shape}, got {actual.shape}."
            )
        if np.isnan(actual).any():
            return failed("The filtered logits contain NaN.")
        changed = ~np.isclose(actual, logits, atol=1e-6, rtol=0)
        if changed.any() and not np.all(np.isneginf(actual[changed])):
            bad = actual[changed & ~np.isneginf(actual)]
            if np.all(bad < -1e3):
                return failed(
                    f"Excluded entries are set to {bad[0]:.3g}; they must be -inf "
                    '(float("-inf")), so that their probability is exactly 0.'
                )
            return failed(
                "The kept logits must be returned unchanged (excluded entries become -inf); "
                f"got {np.array2string(actual, precision=3)} for {np.array2string(logits, precision=3)}."
            )
        kept = ~changed
        if np.array_equal(kept, kept_want):
            return passed()
        if not kept.any(axis=-1).all():
            message = "Every entry of a row was excluded: the kept set is never empty."
        else:
            row = int(np.flatnonzero((kept != kept_want).any(-1))[0])
            message = (
                f"Row {row}: kept token ids {np.flatnonzero(kept[row]).tolist()}, expected "
                f"{np.flatnonzero(kept_want[row]).tolist()} (logits "
                f"{np.array2string(logits[row], precision=3)})."
            )
        for label, mask in hints.items():
            if np.array_equal(kept, mask):
                message += f" This matches what you get when {label}."
                break
        return failed(message)

    return evaluate


def filter_checks(rng, inputs, calls, checks, expected):
    cases = list(FILTER_CASES)
    random_rows = rng.normal(0, 1.5, size=(4, 10)).astype("float32")
    cases.append(("random rows, top_k=5 then top_p=0.8", random_rows, 5, 0.8, 1.0))
    cores = {}
    for i, (label, rows, top_k, top_p, weight) in enumerate(cases):
        logits = np.asarray(rows, np.float32)
        inputs[f"flt{i}_logits"] = logits
        kwargs = {k: v for k, v in (("top_k", top_k), ("top_p", top_p)) if v is not None}
        calls.append(function(f"flt{i}", "filter_logits", arr(f"flt{i}_logits"), **kwargs))
        want = np.asarray(filter_logits(logits, top_k, top_p), np.float64)
        assert np.array_equal(np.isfinite(want), variants.filter_mask(logits, top_k, top_p))
        hints = variants.filter_hints(logits, top_k, top_p)
        expected[f"flt{i}"] = (want, hints)
        evaluate = _filter_check(f"flt{i}", logits.astype(np.float64), want, hints)
        if top_k is not None and top_k > logits.shape[-1]:
            evaluate = _explain_k(f"flt{i}", evaluate)
        core = GATES.get(label)
        if core is not None:
            evaluate = gated(cores[core], evaluate, f"filter_logits with {core}")
        cores.setdefault(CORES.get(label), evaluate)
        checks.append(Check(f"filter_logits: {label}", "filter_logits", evaluate, weight))
