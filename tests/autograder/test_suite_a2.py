"""The a2_transformer grading suite: its plan, and end-to-end grades of known-buggy notebooks."""

import json
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder import batch
from autograder.assignments.a2_transformer import suite as a2_transformer
from autograder.assignments.registry import get_suite
from autograder.grading.compare import compare
from autograder.grading.plan import Outcome

REPO = Path(__file__).resolve().parents[2]
A2 = "a2_transformer"
POINTS = {
    "split_heads": 2,
    "merge_heads": 2,
    "MultiHeadAttention": 9,
    "positional_encoding": 3,
    "FeedForward": 3,
    "TransformerEncoderBlock": 8,
    "answer_encoder_decoder": 1,
    "answer_padding": 1,
    "answer_positions": 1,
}
ANSWERS = {"answer_encoder_decoder": {"A", "B", "D"}, "answer_padding": {"A", "C", "D"}}

# Buggy variants of the solution: (grade_id of the edited cell, old text, new text).
BUGS = {
    "merge_no_transpose": (
        "merge_heads",
        "    x = ops.transpose(x, (0, 2, 1, 3))  # (B, T, H, Dh)\n    shape = ops.shape(x)\n"
        "    return ops.reshape(x, (shape[0], shape[1], shape[2] * shape[3]))",
        "    shape = ops.shape(x)\n"
        "    return ops.reshape(x, (shape[0], shape[2], shape[1] * shape[3]))",
    ),
    "pre_norm": (
        "TransformerEncoderBlock",
        "        attended = self.attention(x, x, attention_mask=attention_mask, training=training)\n"
        "        x = self.norm1(x + self.drop1(attended, training=training))\n",
        "        h = self.norm1(x)\n"
        "        attended = self.attention(h, h, attention_mask=attention_mask, training=training)\n"
        "        x = x + self.drop1(attended, training=training)\n"
        "        x = x + self.drop2(self.ffn(self.norm2(x), training=training), training=training)\n"
        "        return x\n",
    ),
    "concat_positions": (
        "positional_encoding",
        "    table[:, 0::2] = np.sin(angles)\n    table[:, 1::2] = np.cos(angles)\n",
        "    table = np.concatenate([np.sin(angles), np.cos(angles)], axis=-1)\n",
    ),
}
# What each bug costs and words its feedback must contain.
SYMPTOMS = {
    "merge_no_transpose": ("merge_heads", "reshape only"),
    "pre_norm": ("TransformerEncoderBlock", "pre-norm"),
    "concat_positions": ("positional_encoding", "concatenated instead of interleaved"),
}


def test_plan_builds_with_unique_ids_finite_references_and_reachable_hints():
    """Does plan() build, with unique call ids, finite references that pass every check, and hints that are each named?"""
    plan, expected = a2_transformer.build(np.random.default_rng(7), ANSWERS)
    assert get_suite(A2) is a2_transformer
    assert [g.name for g in plan.groups] == ["functions", "mha", "block"]
    ids = [c["id"] for g in plan.groups for c in g.calls]
    assert len(ids) == len(set(ids))
    units = {c.unit for c in plan.checks}
    assert units == set(POINTS) - {"answer_positions"}
    for key, (want, hints) in expected.items():
        assert np.all(np.isfinite(want)), key
        for label, variant in hints.items():
            verdict = compare(np.asarray(variant, np.float32), want, hints=hints)
            assert not verdict.passed and label in verdict.message, (key, label)
    for group in plan.groups:
        assert all(np.asarray(v).dtype.kind in "biuf" for v in group.inputs.values())
        for name in group.inputs:
            if name.endswith(("_0", "_1")):  # weights: random, never zeros
                assert np.all(group.inputs[name] != 0), name
    assert plan.groups[1].inject["merge_heads"] == "course_lib.layers.heads:merge_heads"
    assert set(plan.groups[2].inject) == {"MultiHeadAttention", "FeedForward"}

    # The reference's own results pass every check; a wrong one fails the right one.
    arrays = {k: np.asarray(v[0], np.float32) for k, v in expected.items()}
    arrays.update(
        {f"value_{u}": np.array(sorted(map(ord, s)), np.uint8) for u, s in ANSWERS.items()}
    )
    # The combined dropout-and-mask case has no reference: a leak-free result passes it.
    arrays["mha_drop_mask.0"] = np.zeros_like(arrays["mha_self"])
    arrays["mha_drop_mask.1"] = arrays["mha_scores.1"]
    errors = {
        "mha_bad": "Traceback:\nValueError: Received: num_heads=3, d_model=16",
        "mha_2d": "Traceback:\nValueError: `attention_mask` must be 3-D or 4-D",
    }
    outcome = Outcome(arrays, errors, {}, {})
    assert all(c.evaluate(outcome).passed for c in plan.checks)
    arrays["mha_drop0"] = arrays["mha_drop0"] * 2.0
    del errors["mha_bad"]
    failing = {c.name for c in plan.checks if not c.evaluate(outcome).passed}
    assert failing == {
        "MultiHeadAttention: dropout=0.5 with training=False does not drop",
        "MultiHeadAttention: MultiHeadAttention(3, 16) raises ValueError naming 3 and 16",
    }


def test_plan_depends_on_the_seed():
    """Do two students get different hidden inputs?"""
    a = a2_transformer.plan(np.random.default_rng(1), {}).groups[1].inputs["mha_x"]
    b = a2_transformer.plan(np.random.default_rng(2), {}).groups[1].inputs["mha_x"]
    assert not np.allclose(a, b)


def _write(root, student, nb):
    folder = root / student / A2
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{A2}.ipynb")


def _class(tmp_path):
    root = tmp_path / "submitted"
    solution = REPO / "solutions" / A2 / f"{A2}.ipynb"
    _write(root, "ref", nbformat.read(solution, 4))
    _write(root, "stub", nbformat.read(REPO / "assignments" / A2 / f"{A2}.ipynb", 4))
    for student, (grade_id, old, new) in BUGS.items():
        nb = nbformat.read(solution, 4)
        (cell,) = [
            c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
        ]
        assert old in cell.source, student
        cell.source = cell.source.replace(old, new)
        _write(root, student, nb)
    return root


def _unit_scores(out, student):
    results = json.loads((out / student / "results.json").read_text())
    scores, feedback = {}, {}
    for test in results["tests"]:
        unit = test["name"].split(":")[0]
        got, best = scores.get(unit, (0.0, 0.0))
        scores[unit] = (got + test["score"], best + test["max_score"])
        feedback[unit] = feedback.get(unit, "") + test["output"] + "\n"
    return scores, feedback, results


@pytest.mark.slow
def test_grade_a2_reference_stub_and_buggy_variants(tmp_path):
    """Reference 30/30, stub 0, and each known bug loses points in its own unit only, with the symptom named."""
    root, out = _class(tmp_path), tmp_path / "out"
    start = time.monotonic()
    rows = {r["student"]: r for r in batch.grade(A2, root, out, jobs=2, progress=False)}
    elapsed = time.monotonic() - start
    print(f"a2 grading: {elapsed:.1f} s for {len(rows)} submissions")

    ref_scores, ref_feedback, ref_results = _unit_scores(out, "ref")
    assert rows["ref"]["score"] == pytest.approx(30.0), ref_feedback
    assert {u: best for u, (_, best) in ref_scores.items()} == pytest.approx(POINTS)
    assert rows["stub"]["score"] == 0.0
    _, stub_feedback, _ = _unit_scores(out, "stub")
    assert "Not implemented yet" in stub_feedback["MultiHeadAttention"]
    for student in rows:
        seconds = json.loads((out / student / "results.json").read_text())["execution_time"]
        print(f"  {student}: {rows[student]['score']}/30, sandbox {seconds:.1f} s")

    for student, (unit, words) in SYMPTOMS.items():
        scores, feedback, _ = _unit_scores(out, student)
        for other, (got, best) in scores.items():
            if other == unit:
                assert got < best, (student, feedback[unit])
                assert words in feedback[unit], (student, feedback[unit])
            else:
                assert got == pytest.approx(best), (student, other, feedback[other])


@pytest.mark.slow
def test_grade_a2_forbidden_keras_mha_costs_only_its_unit(tmp_path):
    """Does a MultiHeadAttention that wraps keras.layers.MultiHeadAttention get 0 for that unit, named?"""
    solution = nbformat.read(REPO / "solutions" / A2 / f"{A2}.ipynb", 4)
    (cell,) = [
        c
        for c in solution.cells
        if c.metadata.get("nbgrader", {}).get("grade_id") == "MultiHeadAttention"
    ]
    cell.source = cell.source.replace(
        "        self.attention_dropout = keras.layers.Dropout(dropout)\n",
        "        self.attention_dropout = keras.layers.Dropout(dropout)\n"
        "        self.keras_mha = keras.layers.MultiHeadAttention(num_heads, d_model // num_heads)\n",
    )
    root, out = tmp_path / "submitted", tmp_path / "out"
    _write(root, "cheat", solution)
    rows = batch.grade(A2, root, out, jobs=2, progress=False)
    scores, feedback, _ = _unit_scores(out, "cheat")
    assert rows[0]["score"] == pytest.approx(30.0 - 9.0)
    assert scores["MultiHeadAttention"][0] == 0.0
    assert "keras.layers.MultiHeadAttention" in feedback["MultiHeadAttention"]
