"""The a5_vit grading suite: its plan, its support file and its numpy bug variants.

Numerics are compared with float64 numpy references on fresh random inputs: patches exactly
(1e-6, they are only copies of the input), embeddings and logits within 1e-4 (float32 layers).
"""

import sys
import types

import numpy as np
import pytest
import tensorflow as tf

from autograder.assignments.a5_vit import suite as a5_vit
from autograder.assignments.a5_vit.suite import hints as variants
from autograder.assignments.a5_vit.support import weights as a5_support
from autograder.assignments.registry import get_suite
from autograder.grading.compare import compare
from autograder.grading.plan import Outcome
from autograder.grading.site import group_site
from autograder.notebook.extract import Extraction
from autograder.notebook.scan import forbidden_uses
from course_lib.layers import PatchEmbedding, extract_patches
from course_lib.models import ViTClassifier

ANSWERS = {"answer_patches": {"A", "B"}, "answer_cls": {"A", "B"}}
SHAPES = [((2, 4, 6, 3), 2), ((3, 8, 8, 1), 4), ((1, 12, 8, 3), 4), ((2, 6, 10, 2), 2)]


@pytest.mark.parametrize(("shape", "p"), SHAPES)
def test_patch_references_agree_with_tf_image_extract_patches(shape, p):
    """Do course_lib and the numpy variant cut patches as tf.image does?"""
    images = np.random.default_rng().normal(size=shape).astype("float32")
    want = tf.image.extract_patches(
        images, sizes=[1, p, p, 1], strides=[1, p, p, 1], rates=[1, 1, 1, 1], padding="VALID"
    ).numpy()
    want = want.reshape(shape[0], -1, p * p * shape[-1])
    np.testing.assert_allclose(np.asarray(extract_patches(images, p)), want, atol=1e-6)
    np.testing.assert_allclose(variants.extract_patches_np(images, p), want, atol=1e-6)


def test_every_patch_bug_differs_on_the_arange_image_of_the_suite():
    """Is each extract_patches bug variant distinct from the contract, and from the others?"""
    images = np.arange(2 * 4 * 6 * 3, dtype="float32").reshape(2, 4, 6, 3)
    hints = variants.patch_hints(images, 2)
    assert len(hints) == 5
    arrays = [variants.extract_patches_np(images, 2), *hints.values()]
    for i, a in enumerate(arrays):
        for b in arrays[i + 1 :]:
            assert not np.allclose(a, b)


def test_patch_embedding_variant_matches_the_reference_layer():
    """Does the float64 [cls; patches @ W + b] + pos equal course_lib's PatchEmbedding (1e-4)?"""
    rng = np.random.default_rng()
    images = rng.normal(size=(3, 4, 6, 3)).astype("float32")
    layer = PatchEmbedding(patch_size=2, d_model=8, num_patches=6)
    layer(images)
    kernel, bias = (rng.normal(size=s).astype("float32") for s in ((12, 8), (8,)))
    cls, pos = (rng.normal(size=s).astype("float32") for s in ((1, 1, 8), (1, 7, 8)))
    layer.projection.set_weights([kernel, bias])
    layer.cls_token.assign(cls)
    layer.position_embedding.assign(pos)
    patches = variants.extract_patches_np(images, 2)
    want = variants.patch_embedding_np(patches, kernel, bias, cls, pos)
    np.testing.assert_allclose(np.asarray(layer(images)), want, atol=1e-4)
    for label, variant in variants.patch_embedding_hints(patches, kernel, bias, cls, pos).items():
        assert not np.allclose(variant, want, atol=1e-2), label


def test_head_variants_start_from_the_reference_logits():
    """Is head(ln(encoded)[:, 0]) in float64 the reference ViT's logits (the base of the hints)?"""
    images = np.random.default_rng().normal(size=(2, 8, 8, 1)).astype("float32")
    model = ViTClassifier(8, 2, 5, d_model=16, num_heads=4, num_layers=2, ff_dim=32)
    model(images)
    x = model.patch_embedding(images)
    for block in model.blocks:
        x = block(x)
    gamma, beta = model.ln.get_weights()
    kernel, bias = model.head.get_weights()
    want = variants.layer_norm_np(np.asarray(x), gamma, beta)[:, 0] @ kernel + bias
    np.testing.assert_allclose(np.asarray(model(images)), want, atol=1e-4)


def test_plan_builds_with_unique_ids_finite_references_and_reachable_hints():
    """Does build() give unique call ids, finite references passing every check, named hints?"""
    plan, expected = a5_vit.build(np.random.default_rng(3), ANSWERS)
    assert get_suite("a5_vit") is a5_vit
    assert [g.name for g in plan.groups] == ["functions", "patch_embedding", "vit"]
    ids = [c["id"] for g in plan.groups for c in g.calls]
    assert len(ids) == len(set(ids))
    assert {c.unit for c in plan.checks} == set(a5_vit.UNITS) | set(ANSWERS)
    for key, (want, hints) in expected.items():
        assert np.all(np.isfinite(want)), key
        for label, variant in hints.items():
            verdict = compare(np.asarray(variant, np.float32), want, hints=hints)
            assert not verdict.passed and label in verdict.message, (key, label)
    for group in plan.groups:
        for name, array in group.inputs.items():
            assert array.dtype.kind in "biuf", name
            if not name.startswith("ep0"):  # the arange image starts at 0
                assert np.all(array != 0), name

    # The reference's own results pass every check.
    arrays = {k: np.asarray(v[0], np.float32) for k, v in expected.items()}
    arrays.update(
        {f"value_{u}": np.array(sorted(map(ord, s)), np.uint8) for u, s in ANSWERS.items()}
    )
    arrays["pe_shape_cls_token"] = np.zeros((1, 1, 16), np.float32)
    arrays["pe_shape_position_embedding"] = np.zeros((1, 17, 16), np.float32)
    outcome = Outcome(arrays, {}, {}, {})
    assert all(c.evaluate(outcome).passed for c in plan.checks)
    # A failed weight copy fails that check with the reason, whatever the output.
    outcome.errors["pe_a_cls_token_set"] = "Traceback:\nTypeError: cls_token is a EagerTensor"
    failing = [c for c in plan.checks if not c.evaluate(outcome).passed]
    # (The shapes of the weights pay only when those tokens are right: they fail with it.)
    assert [c.name for c in failing] == [
        "PatchEmbedding: B=3, 8x8x1 images, P=2, d_model=16",
        "PatchEmbedding: cls_token (1, 1, d_model) and position_embedding (1, N + 1, d_model)",
    ]
    assert "could not copy its weights" in failing[0].evaluate(outcome).message
    assert "counts only when" in failing[1].evaluate(outcome).message


def test_jobs_ship_no_reference_of_the_unit_they_grade():
    """Is the reference of each graded unit out of reach in the job that grades it?"""
    plan = a5_vit.plan(np.random.default_rng(0), {})
    sites = {g.name: set(group_site(g) or {}) for g in plan.groups}
    assert not [f for f in sites["functions"] if f.startswith("course_lib/")]
    # The reference extract_patches is given from its own module, without PatchEmbedding.
    shipped = [f for f in sites["patch_embedding"] if f.startswith("course_lib/")]
    assert [f for f in shipped if not f.endswith("__init__.py")] == ["course_lib/layers/patches.py"]
    assert "course_lib/layers/patch_embedding.py" in sites["vit"]  # given there, not graded
    assert not [f for files in sites.values() for f in files if "models" in f]


def test_importing_a_graded_reference_is_reported_by_name():
    """Is `from course_lib.models import ViTClassifier` in a solution cell reported?"""
    chunks = {
        "ViTClassifier": "from course_lib.models import ViTClassifier\n",
        "PatchEmbedding": "from course_lib.layers import PatchEmbedding\n",
        "3": "from course_lib.layers import TransformerEncoderBlock\n",  # given: fine
    }
    extraction = Extraction(source="".join(chunks.values()), chunks=chunks)
    assert forbidden_uses(extraction, a5_vit.FORBID) == {
        "ViTClassifier": ["course_lib.models"],
        "PatchEmbedding": ["course_lib.layers.PatchEmbedding"],
    }


def test_assign_reshapes_same_size_weights_and_names_what_is_wrong():
    """Does the support's assign accept a same-size weight and explain a missing or plain one?"""
    support = a5_support
    layer = PatchEmbedding(patch_size=2, d_model=4, num_patches=4)
    layer(np.ones((1, 4, 4, 1), "float32"))
    value = np.arange(1, 5, dtype="float32").reshape(1, 1, 4)
    assert tuple(support.assign(layer, "cls_token", value)) == (1, 1, 4)
    np.testing.assert_array_equal(np.asarray(layer.cls_token), value)
    with pytest.raises(AttributeError, match="'cls'"):
        support.assign(layer, "cls", value)
    layer.plain = tf.zeros((1, 1, 4))
    with pytest.raises(TypeError, match="not a weight"):
        support.assign(layer, "plain", value)
    with pytest.raises(ValueError, match="contract's shape"):
        support.assign(layer, "position_embedding", value)


def test_traced_runs_the_submission_with_an_unknown_batch(monkeypatch):
    """Does traced() call the submission's function inside a tf.function with batch None?"""
    seen = []

    def fake(images, patch_size):
        seen.append(images.shape[0])
        return extract_patches(images, patch_size)

    monkeypatch.setitem(sys.modules, "submission", types.SimpleNamespace(extract_patches=fake))
    images = tf.constant(np.random.default_rng().normal(size=(3, 4, 6, 3)).astype("float32"))
    out = a5_support.traced("extract_patches", images, 2)
    np.testing.assert_allclose(out.numpy(), variants.extract_patches_np(images.numpy(), 2), 1e-6)
    assert seen == [1, None]  # eagerly on one image, then traced
