"""Grading suite for a5_vit: patches, the patch embedding (CLS token, positions), the ViT classifier.

Three sandbox jobs, each unit with the reference implementations of its dependencies injected:
- "functions": `extract_patches` (an arange image, H != W, C = 1 and 3, batch > 1, and inside
  a `tf.function` with an unknown batch size) and the concept questions;
- "patch_embedding": `PatchEmbedding` with the reference `extract_patches` (from the support
  file, so no reference module is shipped into this job) and the grader's projection, CLS token
  and position embedding;
- "vit": `ViTClassifier` with the reference `PatchEmbedding` and `TransformerEncoderBlock`
  (the given one) and the grader's weights in every sublayer.
"""

import numpy as np

from autograder.compare import failed, passed
from autograder.suites import variants_a5 as variants
from autograder.suites.base import (
    FORBIDDEN,
    Check,
    Group,
    Plan,
    all_of,
    answer_check,
    arr,
    call,
    clean_traceback,
    close,
    construct,
    function,
    obj,
    value,
)
from autograder.suites.weights import (
    add_weights,
    dense_weights,
    norm_weights,
    set_weights,
    to_np,
    walk,
)
from course_lib.layers import PatchEmbedding, extract_patches
from course_lib.models import ViTClassifier

ASSIGNMENT = "a5_vit"
UNITS = ("extract_patches", "PatchEmbedding", "ViTClassifier")
# The references of the graded units. (`course_lib.layers.patch_embedding`, the module, is not
# listed: the ViT job ships it to inject PatchEmbedding, and the sandbox's runtime forbid
# (harness `_Forbid.install`) fails the whole job on a dotted name that resolves to a module.)
FORBID = FORBIDDEN + (
    "course_lib.models",
    "course_lib.layers.extract_patches",
    "course_lib.layers.PatchEmbedding",
)
GIVEN_PACKAGES = ("course_lib",)
SUPPORT = "a5_support.py"
ASSIGN = "site:grader_support.a5_support:assign"
TRACED = "site:grader_support.a5_support:traced"
SET_LAYER = "site:grader_support.a5_support:set_layer"
MHA_NAMES = ("wq", "wk", "wv", "wo")


def _normal(rng, *shape, scale=1.0, loc=0.0):
    return (loc + rng.normal(0, scale, size=shape)).astype("float32")


def _set_reference(layer, layer_weights, variables):
    """Copies `{path: arrays}` into sublayers and `{path: array}` into weight attributes."""
    set_weights(layer, layer_weights)
    for path, array in variables.items():
        walk(layer, path).assign(array)


def _assign_calls(prefix, object_id, variables, inputs, layers=None):
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


def _weights_copied(object_id, assign_ids, what):
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


def _explain_error(call_id, explanation, evaluate):
    """`evaluate`, but an error of `call_id` is reported after `explanation`."""

    def run(outcome):
        error = outcome.error(call_id)
        if error is not None:
            return failed(explanation + "\n" + clean_traceback(error))
        return evaluate(outcome)

    return run


def _without_twins(hints, want, atol=1e-4):
    """The hints whose variant differs from the reference (a hint equal to it names nothing)."""
    return {
        label: v
        for label, v in hints.items()
        if np.shape(v) != np.shape(want) or not np.allclose(v, want, atol=atol)
    }


# Group "functions": extract_patches and the concept questions ------------------------------


def _patches_checks(rng, inputs, calls, checks, expected):
    arange = np.arange(2 * 4 * 6 * 3, dtype="float32").reshape(2, 4, 6, 3)
    cases = (
        ("ep0", "patch order on an arange image (B=2, 4x6x3, P=2)", arange, 2, 2.0),
        ("ep1", "random (3, 8, 8, 1), P=4", _normal(rng, 3, 8, 8, 1), 4, 1.0),
        ("ep2", "random (2, 12, 8, 3), P=4 (H != W)", _normal(rng, 2, 12, 8, 3), 4, 1.0),
    )
    for call_id, label, images, p, weight in cases:
        inputs[f"{call_id}_x"] = images
        calls.append(function(call_id, "extract_patches", arr(f"{call_id}_x"), p))
        want = to_np(extract_patches(images, p))
        hints = variants.patch_hints(images, p)
        expected[call_id] = (want, hints)
        checks.append(
            Check(
                f"extract_patches: {label}",
                "extract_patches",
                close(call_id, want, f"the patch array for patch_size={p}", hints),
                weight,
            )
        )
    images = _normal(rng, 3, 4, 6, 3)
    inputs["ep_traced_x"] = images
    calls.append(function("ep_traced", TRACED, "extract_patches", arr("ep_traced_x"), 2))
    want = to_np(extract_patches(images, 2))
    hints = variants.patch_hints(images, 2)
    expected["ep_traced"] = (want, hints)
    checks.append(
        Check(
            "extract_patches: inside a tf.function with an unknown batch size (as in model.fit)",
            "extract_patches",
            _explain_error(
                "ep_traced",
                "extract_patches failed inside a tf.function with an unknown batch size (as in "
                "model.fit): use ops.shape(images)[0] or -1 for the batch size, not "
                "images.shape[0], which is None there.",
                close("ep_traced", want, "the patch array computed inside a tf.function", hints),
            ),
        )
    )


# Group "patch_embedding": PatchEmbedding with the reference extract_patches -----------------


def _patch_group(rng, expected):
    inputs, calls, checks = {}, [], []
    cases = (
        ("pe_a", "B=3, 8x8x1 images, P=2, d_model=16", (3, 8, 8, 1), 2, 16, 2.0),
        ("pe_b", "B=2, 4x6x3 images (H != W), P=2, d_model=12", (2, 4, 6, 3), 2, 12, 2.0),
    )
    for object_id, label, shape, p, d, weight in cases:
        b, h, w, c = shape
        n = (h // p) * (w // p)
        images = _normal(rng, *shape)
        kernel, bias = dense_weights(rng, p * p * c, d)
        variables = {
            "cls_token": _normal(rng, 1, 1, d),
            "position_embedding": _normal(rng, 1, n + 1, d),
        }
        inputs[f"{object_id}_x"] = images
        names = add_weights(inputs, object_id, {"projection": (kernel, bias)})
        kwargs = {"patch_size": p, "d_model": d, "num_patches": n}
        calls.append(construct(object_id, "PatchEmbedding", kwargs, [arr(f"{object_id}_x")], names))
        assigns = _assign_calls(object_id, object_id, variables, inputs)
        calls += assigns
        calls.append(call(f"{object_id}0", object_id, arr(f"{object_id}_x")))

        layer = PatchEmbedding(**kwargs)
        layer(images)
        _set_reference(layer, {"projection": (kernel, bias)}, variables)
        want = to_np(layer(images))
        patches = to_np(extract_patches(images, p))
        hints = variants.patch_embedding_hints(patches, kernel, bias, *variables.values())
        expected[f"{object_id}0"] = (want, hints)
        checks.append(
            Check(
                f"PatchEmbedding: {label}",
                "PatchEmbedding",
                all_of(
                    _weights_copied(object_id, [a["id"] for a in assigns], "your PatchEmbedding"),
                    close(f"{object_id}0", want, "the output (tokens)", hints),
                ),
                weight,
            )
        )

    # The weights' shapes, as the contract gives them (read back from the first layer).
    d, n = 16, 16
    shape_calls = {
        "cls_token": (1, 1, d),
        "position_embedding": (1, n + 1, d),
    }
    for path in shape_calls:
        calls.append(
            {"id": f"pe_shape_{path}", "kind": "attribute", "object": "pe_a", "path": path}
        )
    checks.append(
        Check(
            "PatchEmbedding: cls_token (1, 1, d_model) and position_embedding (1, N + 1, d_model)",
            "PatchEmbedding",
            _shapes_check(shape_calls),
        )
    )
    group = Group(
        "patch_embedding",
        calls,
        inputs,
        support=(SUPPORT,),
        inject={"extract_patches": "grader_support.a5_support:extract_patches"},
    )
    return group, checks


def _shapes_check(shapes):
    def evaluate(outcome):
        for path, want in shapes.items():
            key = f"pe_shape_{path}"
            if key not in outcome.arrays:
                error = outcome.error(key) or outcome.error("pe_a")
                detail = clean_traceback(error) if error else "no value came back"
                return failed(f"Could not read {path} of your layer: {detail}")
            got = tuple(outcome.arrays[key].shape)
            if got != want:
                return failed(
                    f"{path} has shape {got}; the contract's shape is {want} "
                    "(it broadcasts over the batch)."
                )
        return passed()

    return evaluate


# Group "vit": ViTClassifier with the reference PatchEmbedding and TransformerEncoderBlock ---


def _vit_weights(rng, config, channels, small=1.0):
    """`(layer weights {path: arrays}, variables {path: array})` of a ViTClassifier.

    `small` scales everything written into the residual stream (patch projection, CLS token,
    positions, each block's `wo` and `dense2`), as a real initialisation does (stddev 0.02):
    the final LayerNorm then sees a small variance, so its epsilon shows in the logits.
    """
    d, ff, p = config["d_model"], config["ff_dim"], config["patch_size"]
    n = (config["image_size"] // p) ** 2

    def scaled(pair):
        return tuple((small * w).astype("float32") for w in pair)

    layers = {"patch_embedding.projection": scaled(dense_weights(rng, p * p * channels, d))}
    for i in range(config["num_layers"]):
        for name in MHA_NAMES:
            pair = dense_weights(rng, d, d)
            layers[f"blocks.{i}.attention.{name}"] = scaled(pair) if name == "wo" else pair
        layers[f"blocks.{i}.ffn.dense1"] = dense_weights(rng, d, ff)
        layers[f"blocks.{i}.ffn.dense2"] = scaled(dense_weights(rng, ff, d))
        layers[f"blocks.{i}.norm1"] = norm_weights(rng, d)
        layers[f"blocks.{i}.norm2"] = norm_weights(rng, d)
    layers["ln"] = norm_weights(rng, d)
    layers["head"] = dense_weights(rng, d, config["num_classes"])
    variables = {
        "patch_embedding.cls_token": _normal(rng, 1, 1, d, scale=small),
        "patch_embedding.position_embedding": _normal(rng, 1, n + 1, d, scale=small),
    }
    return layers, variables


BLOCK_VARIANTS = (
    (
        "the blocks are post-norm: the ViT block is TransformerEncoderBlock(..., norm_first=True, "
        'activation="gelu")',
        {"norm_first": False},
    ),
    (
        'the blocks use ReLU: the ViT block is TransformerEncoderBlock(..., norm_first=True, activation="gelu")',
        {"activation": "relu"},
    ),
)
ONLY_LAST_BLOCK = (
    "only the last block is applied: each block must take the output of the one before"
)


def _reference_vit(config, images, layer_weights, variables, **overrides):
    model = ViTClassifier(**config, **overrides)
    model(images)
    _set_reference(model, layer_weights, variables)
    return model


def _vit_hints(model, config, images, layer_weights, variables):
    """Known bugs of the classifier, as the logits they give on `images`."""
    embedded = model.patch_embedding(images)
    encoded = embedded
    for block in model.blocks:
        encoded = block(encoded)
    ln, head = layer_weights["ln"], layer_weights["head"]
    hints = variants.vit_head_hints(to_np(encoded), ln, head)
    for label, overrides in BLOCK_VARIANTS:
        variant = _reference_vit(config, images, layer_weights, variables, **overrides)
        hints[label] = to_np(variant(images))
    last = to_np(model.blocks[-1](embedded))
    hints[ONLY_LAST_BLOCK] = variants.layer_norm_np(last, *ln)[:, 0] @ head[0] + head[1]
    return hints


def _vit_group(rng, expected):
    inputs, calls, checks = {}, [], []
    base = dict(image_size=8, patch_size=2, num_classes=5, d_model=16, num_heads=4)
    cases = (
        (
            "vit_a",
            "B=3, 8x8x1 images, P=2, 2 blocks",
            base | dict(num_layers=2, ff_dim=32),
            (3, 8, 8, 1),
            3.0,
        ),
        (
            "vit_b",
            "B=2, 8x8x3 images, P=4, 3 blocks, 3 classes, small initial weights",
            dict(
                image_size=8,
                patch_size=4,
                num_classes=3,
                d_model=8,
                num_heads=2,
                num_layers=3,
                ff_dim=16,
            ),
            (2, 8, 8, 3),
            2.0,
        ),
    )
    for object_id, label, config, shape, weight in cases:
        images = _normal(rng, *shape)
        small = 0.02 if object_id == "vit_b" else 1.0
        layer_weights, variables = _vit_weights(rng, config, shape[-1], small)
        inputs[f"{object_id}_x"] = images
        # The final LayerNorm is set after the construct: a submission that never calls it
        # must lose the logits checks (with a hint), not fail to build.
        late = {"ln": layer_weights["ln"]}
        names = add_weights(
            inputs, object_id, {k: v for k, v in layer_weights.items() if k not in late}
        )
        calls.append(construct(object_id, "ViTClassifier", config, [arr(f"{object_id}_x")], names))
        assigns = _assign_calls(object_id, object_id, variables, inputs, late)
        calls += assigns
        calls.append(call(f"{object_id}0", object_id, arr(f"{object_id}_x")))
        model = _reference_vit(config, images, layer_weights, variables)
        want = to_np(model(images))
        hints = _vit_hints(model, config, images, layer_weights, variables)
        hints = _without_twins(hints, want, atol=1e-3)
        expected[f"{object_id}0"] = (want, hints)
        copied = _weights_copied(object_id, [a["id"] for a in assigns], "your ViTClassifier")
        checks.append(
            Check(
                f"ViTClassifier: {label}",
                "ViTClassifier",
                all_of(copied, close(f"{object_id}0", want, "the output (logits)", hints)),
                weight,
            )
        )
        if object_id != "vit_a":
            continue
        # dropout=0.3, called with training=False: the same logits.
        drop_config = {**config, "dropout": 0.3}
        calls.append(
            construct("vit_drop", "ViTClassifier", drop_config, [arr(f"{object_id}_x")], names)
        )
        drop_assigns = _assign_calls("vit_drop", "vit_drop", variables, inputs, late)
        calls += drop_assigns
        calls.append(call("vit_drop0", "vit_drop", arr(f"{object_id}_x"), training=False))
        expected["vit_drop0"] = (want, hints)
        checks.append(
            Check(
                "ViTClassifier: dropout=0.3 with training=False does not drop",
                "ViTClassifier",
                all_of(
                    _weights_copied(
                        "vit_drop", [a["id"] for a in drop_assigns], "your ViTClassifier"
                    ),
                    close(
                        "vit_drop0",
                        want,
                        "the output with dropout=0.3 when not training (dropout must act only "
                        "in training)",
                        hints,
                    ),
                ),
            )
        )
    group = Group(
        "vit",
        calls,
        inputs,
        site_modules=("layers/patch_embedding.py", "layers/transformer_encoder_block.py"),
        inject={
            "PatchEmbedding": "course_lib.layers.patch_embedding:PatchEmbedding",
            "extract_patches": "course_lib.layers.patch_embedding:extract_patches",
            "TransformerEncoderBlock": (
                "course_lib.layers.transformer_encoder_block:TransformerEncoderBlock"
            ),
            "MultiHeadAttention": "course_lib.layers.multi_head_attention:MultiHeadAttention",
            "FeedForward": "course_lib.layers.feed_forward:FeedForward",
        },
        support=(SUPPORT,),
    )
    return group, checks


def build(rng, answers):
    """`(plan, expected)`: the plan, and `{result key: (expected array, hints)}` for the tests."""
    inputs, calls, checks, expected = {}, [], [], {}
    _patches_checks(rng, inputs, calls, checks, expected)
    for unit, letters in sorted(answers.items()):
        calls.append(value(f"value_{unit}", unit))
        checks.append(answer_check(unit, letters))
    functions = Group("functions", calls, inputs, support=(SUPPORT,))
    patch_group, patch_checks = _patch_group(rng, expected)
    vit_group, vit_checks = _vit_group(rng, expected)
    return Plan([functions, patch_group, vit_group], checks + patch_checks + vit_checks), expected


def plan(rng, answers):
    """The groups and checks for one submission, on inputs drawn from `rng`."""
    return build(rng, answers)[0]
