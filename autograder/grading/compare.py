"""Tolerant comparisons of a submission's arrays with the reference, and hints that name bugs.

Every comparison returns a `Verdict`: passed or not, and a message for the
student that says what was expected, what came back, and (where one of the
suite's known-bug variants matches what came back) the likely mistake.
"""

import dataclasses

import numpy as np

ATOL = 1e-4
RTOL = 1e-4


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The outcome of one check: the fraction of its points earned, and feedback."""

    fraction: float
    message: str

    @property
    def passed(self):
        return self.fraction >= 1.0


def passed(message="ok"):
    return Verdict(1.0, message)


def failed(message):
    return Verdict(0.0, message)


def _fmt(x):
    return np.array2string(
        np.asarray(x), precision=4, threshold=12, edgeitems=3, suppress_small=True
    )


def _close(a, b, atol, rtol):
    return a.shape == b.shape and bool(np.allclose(a, b, atol=atol, rtol=rtol, equal_nan=False))


def matching_hint(actual, hints, atol, rtol):
    """The first hint whose variant array matches `actual`, or None."""
    for label, variant in (hints or {}).items():
        variant = np.asarray(variant, dtype=np.float64)
        if _close(actual, variant, atol, rtol) or (
            actual.shape == variant.shape[::-1] and _close(actual, variant.T, atol, rtol)
        ):
            return label
    return None


def compare(actual, expected, *, what="output", atol=ATOL, rtol=RTOL, hints=None):
    """Compares `actual` with `expected` within `atol + rtol * |expected|`.

    Args:
        actual: the submission's array (already plain numeric).
        expected: the reference array.
        what: how to name the value in feedback ("the attention weights").
        hints: dict label -> array the output would be under a known bug; the
            first one that matches is named in the feedback.

    Returns:
        A `Verdict`.
    """
    expected = np.asarray(expected)
    actual = np.asarray(actual)
    if expected.dtype == bool:
        return _compare_bool(actual, expected, what, hints)
    actual = actual.astype(np.float64)
    expected = expected.astype(np.float64)
    if actual.shape != expected.shape:
        hint = ""
        if sorted(actual.shape) == sorted(expected.shape):
            hint = " The same dimensions in another order: check the axis order (a transpose or reshape)."
        label = matching_hint(actual, hints, atol, rtol)
        if label:
            hint += f" This matches what you get when {label}."
        return failed(
            f"Expected {what} with shape {expected.shape}, got shape {actual.shape}.{hint}"
        )
    if not np.all(np.isfinite(actual)):
        bad = int(np.sum(~np.isfinite(actual)))
        return failed(
            f"{what.capitalize()}: {bad} NaN or infinite value(s) where the reference is finite. "
            "Masked logits must be a large negative *finite* number (e.g. -1e9), not -inf."
        )
    if _close(actual, expected, atol, rtol):
        return passed()
    diff = np.abs(actual - expected)
    where = np.unravel_index(int(np.argmax(diff)), diff.shape)
    message = (
        f"{what.capitalize()}: not within tolerance of the reference; max |difference| = "
        f"{diff.max():.3g} at index "
        f"{tuple(int(i) for i in where)} (expected {expected[where]:.5g}, got {actual[where]:.5g}); "
        f"tolerance {atol:g} + {rtol:g}*|expected|."
    )
    label = matching_hint(actual, hints, atol, rtol)
    if label:
        message += f" Your output matches what you get when {label}."
    return failed(message)


def _compare_bool(actual, expected, what, hints=None):
    if actual.shape != expected.shape:
        return failed(f"Expected {what} with shape {expected.shape}, got shape {actual.shape}.")
    if actual.dtype.kind not in "biuf" or not np.all(np.isin(actual, (0, 1))):
        return failed(
            f"Expected {what} to be boolean (True = may attend), got values {_fmt(np.unique(actual))}."
        )
    actual = actual.astype(bool)
    if np.array_equal(actual, expected):
        return passed()
    if np.array_equal(actual, ~expected):
        return failed(
            f"{what.capitalize()} is inverted: True must mean 'may attend' (the Keras convention)."
        )
    for label, variant in (hints or {}).items():
        if np.array_equal(actual, np.asarray(variant, dtype=bool)):
            return failed(f"{what.capitalize()} is wrong: it matches what you get when {label}.")
    wrong = int(np.sum(actual != expected))
    where = tuple(int(i) for i in np.argwhere(actual != expected)[0])
    return failed(
        f"{what.capitalize()} has {wrong} wrong entries; the first at index {where} "
        f"(expected {bool(expected[where])}, got {bool(actual[where])}). Expected:\n{_fmt(expected)}\ngot:\n{_fmt(actual)}"
    )


def compare_set(actual_codes, expected_letters, *, what):
    """Compares a multiple-choice answer saved as uint8 letter codes with the expected set."""
    letters = {chr(int(c)) for c in np.asarray(actual_codes).ravel()}
    if not letters:
        return failed(f"{what}: no answer given (the set is empty).")
    if letters == set(expected_letters):
        return passed()
    return failed(f"{what}: {sorted(letters)} is not the right set of options.")
