"""The a4_translation grading suite: its plan, its numpy variants, its support models, its checks."""

import warnings

import numpy as np
import pytest

from autograder.assignments.a4_translation import suite as suite
from autograder.assignments.a4_translation.suite import decode as decode
from autograder.assignments.a4_translation.suite import hints as variants_a4
from autograder.assignments.a4_translation.suite import models as models
from autograder.assignments.a4_translation.support import toy_models as support
from autograder.assignments.registry import get_suite
from autograder.grading.compare import compare
from autograder.grading.plan import Outcome
from autograder.grading.site import group_site
from course_lib.generation import greedy_decode
from course_lib.layers import TransformerDecoderBlock

ANSWERS = {"answer_teacher_forcing": {"A", "C", "D"}, "answer_decoding": {"B", "C"}}


@pytest.fixture(scope="module")
def built():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return suite.build(np.random.default_rng(7), ANSWERS)


def _outcome_of(expected, answers=ANSWERS):
    """An Outcome holding the reference results (decode rows as the reference returns them)."""
    arrays = {k: np.asarray(v[0]) for k, v in expected.items()}
    arrays.update(
        {f"value_{u}": np.array(sorted(map(ord, s)), np.uint8) for u, s in answers.items()}
    )
    return Outcome(arrays, {}, {}, {})


def test_plan_builds_with_unique_ids_finite_references_and_named_hints(built):
    """Does build() give unique call ids, finite references, never-zero inputs, and hints that each name themselves?"""
    plan, expected = built
    assert get_suite("a4_translation") is suite
    assert [g.name for g in plan.groups] == ["functions", "decoder", "seq2seq", "decode"]
    ids = [c["id"] for g in plan.groups for c in g.calls]
    assert len(ids) == len(set(ids))
    assert {c.unit for c in plan.checks} == set(suite.UNITS) | set(ANSWERS)
    for key, (want, hints) in expected.items():
        assert np.all(np.isfinite(want)), key
        if key.startswith("gd_"):
            continue  # decode hints are whole sequences, checked in test_decode_check_*
        for label, variant in hints.items():
            verdict = compare(np.asarray(variant, np.float32), want, hints=hints)
            assert not verdict.passed and label in verdict.message, (key, label)
    for group in plan.groups:
        for name, array in group.inputs.items():
            assert np.asarray(array).dtype.kind in "biuf", name
            if name.endswith(("_0", "_1")):  # weights: random, never zeros
                assert np.all(array != 0), name
    decoder, seq2seq, decode = plan.groups[1:]
    assert "TransformerDecoderBlock" not in decoder.inject  # the unit itself is the student's
    assert seq2seq.inject["TransformerDecoderBlock"].startswith("course_lib.layers.")
    assert decode.support == (support.__file__,)


def test_reference_results_pass_every_check_and_wrong_ones_fail(built):
    """Do the reference's own results pass every check, and does a changed result fail only its check?"""
    plan, expected = built
    outcome = _outcome_of(expected)
    assert all(c.evaluate(outcome).passed for c in plan.checks)
    outcome.arrays["s2s_more"] = outcome.arrays["s2s_more"] + 0.1
    outcome.arrays["shift1"] = outcome.arrays["shift1"][:, ::-1]
    failing = {c.name for c in plan.checks if not c.evaluate(outcome).passed}
    assert failing == {
        "Seq2SeqTransformer: more padding at the end of the source leaves the logits unchanged",
        "shift_right: a NumPy array (2, 9), start_id=5",
    }


def test_plan_depends_on_the_seed():
    """Do two grading runs get different hidden inputs?"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = suite.plan(np.random.default_rng(1), {}).groups[1].inputs["dec_x"]
        b = suite.plan(np.random.default_rng(2), {}).groups[1].inputs["dec_x"]
    assert not np.allclose(a, b)


def test_decoder_block_numpy_matches_course_lib():
    """Is the float64 decoder block (no bug switched on) the course_lib block, within 1e-5?"""
    rng = np.random.default_rng(3)
    weights = models.decoder_weights(rng)
    x = rng.normal(0, 0.3, (2, 5, 16)).astype("float32")
    context = rng.normal(size=(2, 7, 16)).astype("float32")
    mask = np.arange(7)[None, None] < np.array([3, 7])[:, None, None]
    layer = TransformerDecoderBlock(16, 4, 32)
    layer(x, context)
    models.set_weights(layer, weights)
    for m in (None, mask):
        got = np.asarray(layer(x, context, context_mask=m))
        want = variants_a4.decoder_block_np(x, context, weights, m, num_heads=4)
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_seq2seq_numpy_model_matches_course_lib():
    """Does the float64 model give course_lib's logits on equal weights (the decode job's model)?"""
    rng = np.random.default_rng(4)
    weights = models.seq2seq_weights(rng)
    src = models.padded_ids([7, 4, 2], 7, 0, rng, models.S2S["src_vocab"])
    tgt = rng.integers(1, models.S2S["tgt_vocab"], (3, 6)).astype("int32")
    want = np.asarray(models.reference_model(weights, src, tgt)((src, tgt)))
    numpy_logits = variants_a4.seq2seq_np(src, tgt, weights, num_layers=2, num_heads=4)
    np.testing.assert_allclose(numpy_logits, want, atol=1e-5)


def test_decode_job_ships_the_reference_model_but_no_decoding():
    """Does the decode job get course_lib's Seq2SeqTransformer, without any greedy_decode?"""
    plan = suite.plan(np.random.default_rng(0), {})
    (decode_group,) = [g for g in plan.groups if g.name == "decode"]
    files = set(group_site(decode_group))
    assert "course_lib/models/seq2seq.py" in files
    assert not [f for f in files if "generation" in f]
    assert not hasattr(support, "ReferenceSeq2Seq")  # no copy of the reference model


def test_reference_decode_is_course_lib_greedy_decode():
    """Is the suite's decode of its reference model what course_lib.generation.greedy_decode returns?"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weights, src, start, end, full = decode._reference_decode_case(np.random.default_rng(5), 10)
        model = models.reference_model(weights, src, full[:, :1], models.DECODE_LAYERS)
        ours = greedy_decode(model, src, start, end, 10)
    assert end != start and any(end in row[1:] for row in full)
    for row, mine in zip(full, ours, strict=True):
        want = decode._trim(row, end)
        np.testing.assert_array_equal(mine[: len(want)], want)


def test_toy_model_decodes_to_the_chosen_rows():
    """Does greedy decoding of RunningSumModel give the rows the grader chose (ends where asked)?"""
    rng = np.random.default_rng(6)
    source, full = decode._toy_case(rng, (3, None, 1), 7, start_id=1, end_id=2)
    model = support.RunningSumModel(decode.TOY_VOCAB, 7)
    decoded = decode._full_greedy(lambda a, b: model((a, b)), source, 1, 7)
    np.testing.assert_array_equal(decoded, full)
    assert [list(r).index(2) if 2 in r else None for r in full] == [3, None, 1]


def test_decode_check_grades_up_to_the_first_end_id():
    """Is padding after end_id ignored, and are long, short, start-less and known-buggy outputs named?"""
    full = np.array([[1, 5, 2, 7, 7], [1, 6, 6, 6, 6]])
    hint = np.array([[1, 5, 5, 5, 5], [1, 6, 5, 5, 5]])
    check = decode.decode_check("gd", full, 1, 2, 5, {"the bug": hint})

    def verdict(out):
        return check(Outcome({"gd": np.array(out)}, {}, {}, {}))

    assert verdict([[1, 5, 2, 0, 0], [1, 6, 6, 6, 6]]).passed
    assert verdict([[1, 5, 2, 9, 9], [1, 6, 6, 6, 6]]).passed  # after end_id: not graded
    assert "more than max_len" in verdict([[1, 5, 2, 0, 0, 0], [1, 6, 6, 6, 6, 6]]).message
    assert "stops too early" in verdict([[1, 5, 2], [1, 6, 6]]).message
    assert "start with start_id" in verdict([[5, 2, 0, 0], [6, 6, 6, 6]]).message
    assert "the bug" in verdict([[1, 5, 5, 5, 5], [1, 6, 5, 5, 5]]).message
    assert "shape" in verdict([1, 5, 2]).message


def test_shift_right_hints_name_each_bug():
    ids = np.array([[11, 12, 13], [21, 22, 23]])
    hints = variants_a4.shift_right_hints(ids, 1)
    assert hints[variants_a4.SHIFT_LEFT].tolist() == [[12, 13, 1], [22, 23, 1]]
    assert hints[variants_a4.FIRST_DROPPED].tolist() == [[1, 12, 13], [1, 22, 23]]
