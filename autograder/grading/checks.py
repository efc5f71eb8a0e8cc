"""Check functions: each turns an `Outcome` into a `Verdict` (points and a hint)."""

import ast
import re

from autograder.grading.compare import compare, compare_set, failed, passed
from autograder.grading.plan import Check, Missing, clean_traceback

EXCEPTION_LINE = re.compile(r"^[\w.]*(Error|Exception|Exit|Interrupt)\b")


def close(key, expected, what, hints=None, atol=1e-4, rtol=1e-4):
    """A check function: the array at `key` matches `expected`."""

    def evaluate(outcome):
        try:
            actual = outcome.get(key)
        except Missing as err:
            return failed(str(err))
        return compare(actual, expected, what=what, hints=hints, atol=atol, rtol=rtol)

    return evaluate


def raises(call_id, error_name, must_mention=(), what="the call"):
    """A check function: the call raised `error_name` whose message mentions each of `must_mention`."""

    def evaluate(outcome):
        text = outcome.error(call_id)
        if outcome.object_of.get(call_id) in outcome.errors:
            return failed(outcome.why_missing(call_id))
        if text is None:
            return failed(f"Expected {what} to raise {error_name}, but it returned normally.")
        # The exception's own line: Keras appends the call's arguments after a layer's message.
        lines = text.strip().splitlines()
        heads = [line for line in lines if EXCEPTION_LINE.match(line)]
        last = heads[-1] if heads else (lines[-1] if lines else "")
        if error_name not in last:
            return failed(f"Expected {what} to raise {error_name}; it raised: {last}")
        message = text[text.rfind(last) :]
        absent = [str(m) for m in must_mention if str(m) not in message]
        if absent:
            return failed(
                f"{error_name} raised, but its message should mention {', '.join(absent)}: {last}"
            )
        return passed()

    return evaluate


def all_of(*evaluators):
    def evaluate(outcome):
        for ev in evaluators:
            verdict = ev(outcome)
            if not verdict.passed:
                return verdict
        return passed()

    return evaluate


def gated(core, evaluate, core_what):
    """A check function that pays only when the unit's core check `core` passes too.

    An edge case (length 1, all padding, a trivial attribute, the same seed twice) is easy
    to get right by accident: an implementation that is wrong in general earns nothing
    from it. `core_what` names the core check in the feedback.
    """

    def run(outcome):
        verdict = evaluate(outcome)
        if not verdict.passed or core(outcome).passed:
            return verdict
        return failed(
            f"This case gives the expected result, but it counts only when {core_what} is "
            "right too (see that check): an edge case earns points only on top of the general case."
        )

    return run


GRAPH_HINT = (
    "The call failed inside a tf.function with an unknown batch size, as model.fit traces it: "
    "use ops.shape(x)[0] (or -1 in a reshape), not x.shape[0], which is None there, and no "
    "Python `if` on tensor values."
)


def in_graph_close(call_id, expected, what, hints=None, atol=1e-4, rtol=1e-4):
    """A check function for an `in_graph` call: its output matches `expected`; an error
    raised only in the graph is explained (the eager cases of the unit show other errors)."""
    compare_it = close(call_id, expected, what, hints, atol=atol, rtol=rtol)

    def evaluate(outcome):
        error = outcome.error(call_id)
        if error is not None and outcome.object_of.get(call_id) not in outcome.errors:
            return failed(GRAPH_HINT + "\n" + clean_traceback(error))
        return compare_it(outcome)

    return evaluate


def answer_check(unit, letters):
    """The multiple-choice check for `answer_<id>` against the solution's set of letters."""
    return Check(
        f"{unit}: concept question",
        unit,
        lambda outcome: _answer(outcome, unit, letters),
    )


def _answer(outcome, unit, letters):
    try:
        codes = outcome.get(f"value_{unit}")
    except Missing as err:
        return failed(str(err))
    return compare_set(codes, letters, what=unit)


def solution_answers(solution_nb):
    """`{answer_<id>: set_of_letters}` read from the solution notebook's answer cells (no execution)."""
    answers = {}
    for cell in solution_nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if cell.cell_type != "code" or not grade_id.startswith("answer_"):
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == grade_id for t in node.targets
            ):
                answers[grade_id] = set(ast.literal_eval(node.value))
    return answers
