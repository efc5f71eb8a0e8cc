"""The a3_gpt grading suite: its float64 variants, the toy LM and the generate checks.

Numerics are compared with course_lib on fresh random inputs (tolerances stated per test);
the generate checks are run in-process on outputs of course_lib's own `generate`.
"""

import numpy as np
import pytest

from autograder.assignments.a3_gpt import suite as a3_gpt
from autograder.assignments.a3_gpt.suite import filter as filter_a3
from autograder.assignments.a3_gpt.suite import functions as functions_a3
from autograder.assignments.a3_gpt.suite import gpt as gpt_a3
from autograder.assignments.a3_gpt.suite import hints as variants_a3
from autograder.assignments.a3_gpt.suite import toy as toy_suite
from autograder.assignments.a3_gpt.support import toy_lm
from autograder.assignments.registry import get_suite
from autograder.grading.plan import Outcome
from autograder.grading.site import group_site
from course_lib.generation import filter_logits, generate
from course_lib.layers import GPTBlock
from course_lib.models import lm_loss

SUPPORT = toy_lm


def _outcome(arrays, errors=None):
    return Outcome(arrays, errors or {}, {k: "generate" for k in arrays}, {"generate": ("ok", "")})


def test_suite_is_discovered_with_its_units():
    """Is a3_gpt registered, with the contract's units and the given packages?"""
    suite = get_suite("a3_gpt")
    assert suite is a3_gpt
    assert suite.UNITS == (
        "TokenAndPositionEmbedding",
        "make_lm_example",
        "GPTBlock",
        "GPT",
        "lm_loss",
        "filter_logits",
        "generate",
    )
    assert suite.GIVEN_PACKAGES == ("course_lib",)
    assert "course_lib.generation" in suite.FORBID and "course_lib" not in suite.FORBID


def test_filter_mask_matches_course_lib_on_random_rows():
    """Does the float64/float32 NumPy filter keep exactly what course_lib's filter_logits keeps?"""
    rng = np.random.default_rng()
    for _ in range(50):
        logits = rng.normal(0, 2.0, size=(4, 11)).astype("float32")
        top_k = [None, 1, 3, 11, 15][rng.integers(5)]
        top_p = [None, 1e-6, 0.3, 0.8, 0.95][rng.integers(5)]
        want = np.isfinite(np.asarray(filter_logits(logits, top_k, top_p)))
        assert np.array_equal(variants_a3.filter_mask(logits, top_k, top_p), want)


def test_generate_job_gets_the_reference_filter_without_generate():
    """Does the generate job ship course_lib's filter_logits, alone, instead of a copy?"""
    plan = a3_gpt.plan(np.random.default_rng(0), {})
    (group,) = [g for g in plan.groups if g.name == "generate"]
    files = set(group_site(group))
    assert "course_lib/generation/sampling.py" in files
    assert "course_lib/generation/gpt.py" not in files
    assert not toy_lm.__dict__.get("filter_logits")  # no copy in the support file
    assert group.inject["filter_logits"] == "course_lib.generation.sampling:filter_logits"


def test_boundary_row_is_exact_in_float32_and_safe_in_float64():
    """Does top_p=0.75 land exactly on 0.5 + 0.25, keeping two tokens in float32 and float64?"""
    row = np.asarray([filter_a3.BOUNDARY_ROW], np.float32)
    kept = np.isfinite(np.asarray(filter_logits(row, top_p=0.75)))
    assert kept.tolist() == [[False, True, False, True]]
    x = np.sort(row[0].astype(np.float64))[::-1]
    probs = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
    assert 0.75 <= probs[:2].sum() < 0.75 + 1e-7  # float64: just above, so still two tokens
    shifted = variants_a3.filter_mask(row, None, 0.75, mode="shift")
    assert shifted.sum() == 3  # the "cum > p, shifted" bug keeps a third token


def test_every_filter_case_has_the_documented_answer():
    """Do the hand-made cases keep what their labels say (reference and NumPy agree)?"""
    expected = [[[1], [0]], [[1, 2, 3]], [[0, 1, 2, 3]], [[0, 1, 2, 3]], [[1, 3]], [[1, 3]]]
    expected += [[[2]], [[0, 1]], [[0, 1], [1, 2, 3], [2]]]
    for (label, rows, top_k, top_p, _), want in zip(filter_a3.FILTER_CASES, expected, strict=True):
        out = np.asarray(filter_logits(np.asarray(rows, np.float32), top_k, top_p))
        assert [np.flatnonzero(np.isfinite(r)).tolist() for r in out] == want, label


def test_gpt_block_np_matches_course_lib():
    """Is the float64 GPT block the reference block on equal weights (atol 1e-5)?"""
    rng = np.random.default_rng()
    weights = gpt_a3.block_weights(rng)
    x = rng.normal(0, 0.3, size=(2, 6, gpt_a3.D_MODEL)).astype("float32")
    block = GPTBlock(gpt_a3.D_MODEL, gpt_a3.NUM_HEADS, gpt_a3.FF_DIM)
    block(x)
    gpt_a3.set_weights(block, weights)
    want = np.asarray(block(x))
    got = variants_a3.gpt_block_np(x, gpt_a3.flat_names(weights), gpt_a3.NUM_HEADS)
    np.testing.assert_allclose(got, want, atol=1e-5)
    for label, variant in variants_a3.gpt_block_hints(x, gpt_a3.flat_names(weights), 4).items():
        assert not np.allclose(variant, want, atol=1e-4), label


def test_lm_loss_np_matches_course_lib():
    """Is the float64 masked loss course_lib's lm_loss (atol 1e-5), and does each bug's loss
    stay outside the check's tolerance on the suite's own draws (pad_id 0 and 5)?"""
    rng = np.random.default_rng()
    for pad in (0, 5):
        for _ in range(20):
            logits, targets = functions_a3._loss_case(rng, pad)
            want = float(lm_loss(logits, targets, pad_id=pad))
            assert abs(variants_a3.lm_loss_np(logits, targets, pad) - want) < 1e-5
            for label, variant in variants_a3.lm_loss_hints(logits, targets, pad).items():
                assert abs(variant - want) > 1e-5 + 1e-4 * abs(want), label


def test_toy_lm_float32_matches_float64_and_refuses_long_contexts():
    """Does the jail's ToyLM give the parent's float64 logits (atol 1e-5) and refuse T > max_len?"""
    rng = np.random.default_rng()
    toy = toy_suite.Toy(rng)
    model = SUPPORT.ToyLM(**toy.weights)
    ids = rng.integers(0, toy_suite.VOCAB, size=(3, toy_suite.MAX_LEN))
    np.testing.assert_allclose(
        np.asarray(model(ids)), SUPPORT.toy_logits_np(ids, **toy.weights), atol=1e-5
    )
    with pytest.raises(ValueError, match="max_len"):
        model(rng.integers(0, toy_suite.VOCAB, size=(1, toy_suite.MAX_LEN + 1)))


def _reference_arrays(group, prompts_of):
    """Runs course_lib's generate on the toy for every generate call of the group."""
    inputs = group.inputs
    model = SUPPORT.ToyLM(
        **{k[len("toy_") :]: v for k, v in inputs.items() if k.startswith("toy_")}
    )
    arrays = {}
    for c in group.calls:
        if c["kind"] != "function":
            continue
        prompt = inputs[c["args"][1]["array"]]
        arrays[c["id"]] = prompts_of(model, prompt, c["args"][2], c["kwargs"])
    return arrays


def _checks(plan):
    return [c for c in plan.checks if c.unit == "generate"]


def test_generate_checks_pass_course_libs_generate():
    """Does the reference generate (cached, XLA step) pass every generate check?"""
    plan = a3_gpt.plan(np.random.default_rng(), {})
    group = next(g for g in plan.groups if g.name == "generate")

    def reference(model, prompt, n, kwargs):
        return generate(model, prompt, n, use_cache=False, **kwargs)

    outcome = _outcome(_reference_arrays(group, reference))
    for check in _checks(plan):
        verdict = check.evaluate(outcome)
        assert verdict.passed, (check.name, verdict.message)


def test_generate_checks_catch_a_sampler_that_is_always_greedy():
    """Does the distribution check name an argmax sampler, which also earns nothing from the
    checks greedy decoding passes by accident (every token in the top-k / top-p set, the same
    tokens for the same seed)?"""
    plan = a3_gpt.plan(np.random.default_rng(), {})
    group = next(g for g in plan.groups if g.name == "generate")

    def greedy(model, prompt, n, kwargs):
        return generate(model, prompt, n, temperature=0.0, use_cache=False)

    outcome = _outcome(_reference_arrays(group, greedy))
    failed = {c.name: c.evaluate(outcome) for c in _checks(plan)}
    failed = {name: v for name, v in failed.items() if not v.passed}
    distribution = "generate: samples follow softmax(logits / temperature) (temperature=2.0)"
    assert distribution in failed, failed
    assert "always the argmax" in failed[distribution].message
    by_accident = {name for name in failed if name != distribution}
    assert by_accident == {
        "generate: every sampled token is in the top_k=3 set",
        "generate: every sampled token is in the top_p=0.6 set",
        "generate: the same seed gives the same tokens",
    }, failed
    assert all("counts only when" in failed[name].message for name in by_accident)


def test_plan_is_reproducible_from_the_seed():
    """Do two plans from the same seed hold the same hidden inputs?"""
    a = a3_gpt.plan(np.random.default_rng(7), {})
    b = a3_gpt.plan(np.random.default_rng(7), {})
    for ga, gb in zip(a.groups, b.groups, strict=True):
        assert ga.inputs.keys() == gb.inputs.keys()
        for key in ga.inputs:
            np.testing.assert_array_equal(ga.inputs[key], gb.inputs[key])


def test_imports_of_graded_references_are_reported_and_given_ones_are_not(tmp_path):
    """Does the static scan name course_lib references of graded units, but not the given layers?"""
    from autograder.catalog import notebook_path, write_submission
    from autograder.notebook.extract import extract
    from autograder.notebook.read import read_notebook
    from autograder.notebook.scan import forbidden_uses

    cells = {
        "GPTBlock": "from course_lib.layers.gpt_block import GPTBlock\n",
        "generate": "from course_lib.generation import generate\n",
        "GPT": "from course_lib.layers import FeedForward, MultiHeadAttention\n\nclass GPT: pass\n",
    }
    submission = read_notebook(write_submission(tmp_path, "student", "a3_gpt", cells))
    released = read_notebook(notebook_path("a3_gpt", "released"))
    extraction = extract(submission, released, a3_gpt.GIVEN_PACKAGES)
    uses = forbidden_uses(extraction, a3_gpt.FORBID)
    assert uses["GPTBlock"] == ["course_lib.layers.gpt_block"]
    assert uses["generate"] == ["course_lib.generation"]
    assert "GPT" not in uses
    # The plain cell that imports the given layers is dropped (the grader injects them).
    assert (
        "import FeedForward, MultiHeadAttention" not in extraction.source.split("# --- cell GPT")[0]
    )
