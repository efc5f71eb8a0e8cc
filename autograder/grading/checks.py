"""Check functions: each turns an `Outcome` into a `Verdict` (points and a hint)."""

import ast

from autograder.grading.compare import compare, compare_set, failed, passed
from autograder.grading.plan import Check, Missing


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
        if text is None:
            return failed(f"Expected {what} to raise {error_name}, but it returned normally.")
        last = text.strip().splitlines()[-1] if text.strip() else ""
        if error_name not in last:
            return failed(f"Expected {what} to raise {error_name}; it raised: {last}")
        absent = [str(m) for m in must_mention if str(m) not in last]
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
