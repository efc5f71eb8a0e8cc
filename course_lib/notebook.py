"""Helpers for the assignment notebooks: quick mode and the training target line.

`quick_mode()` is True when the environment variable COURSE_QUICK is "1": the test suite
runs every notebook that way, so each training section shrinks to a smoke run.
`report_target` prints the one line `benchmarks/notebook_targets.py` reads back from a
full run, e.g.::

    Target: val_perplexity = 5.31 (goal <= 13) reached in 142 s
"""

import math
import os
import re

QUICK_ENV = "COURSE_QUICK"
TARGET_LINE = re.compile(
    r"^Target: (?P<metric>\S+) = (?P<value>\S+) \(goal (?P<op><=|>=) (?P<goal>\S+)\) "
    r"(?P<status>reached|missed|not checked in quick mode) in (?P<seconds>\d+) s$",
    re.MULTILINE,
)


def quick_mode():
    """True when the notebook runs as a smoke test (COURSE_QUICK=1)."""
    return os.environ.get(QUICK_ENV, "") == "1"


def report_target(metric, value, goal, *, higher_is_better, seconds):
    """Prints the target line and returns True if `value` meets `goal` (or in quick mode).

    Args:
        metric: a name without spaces, e.g. "val_perplexity".
        value: the measured number.
        goal: the number to reach.
        higher_is_better: True for accuracies, False for losses and perplexities.
        seconds: the training time.
    """
    value = float(value)
    met = math.isfinite(value) and (value >= goal if higher_is_better else value <= goal)
    status = "reached" if met else "missed"
    if quick_mode():
        status = "not checked in quick mode"
    op = ">=" if higher_is_better else "<="
    print(f"Target: {metric} = {value:.4g} (goal {op} {goal:g}) {status} in {seconds:.0f} s")
    return met or quick_mode()
