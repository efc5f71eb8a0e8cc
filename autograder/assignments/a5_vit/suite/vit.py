"""The a5_vit "vit" group: ViTClassifier with the reference PatchEmbedding and TransformerEncoderBlock."""

from autograder.assignments.a5_vit.suite import hints as variants
from autograder.assignments.a5_vit.suite.helpers import (
    MHA_NAMES,
    SUPPORT,
    assign_calls,
    normal,
    set_reference,
    weights_copied,
    without_twins,
)
from autograder.grading.calls import arr, call, construct, in_graph
from autograder.grading.checks import all_of, close, in_graph_close
from autograder.grading.plan import Check, Group
from autograder.grading.weights import (
    add_weights,
    dense_weights,
    norm_weights,
    to_np,
)
from course_lib.models import ViTClassifier


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
        "patch_embedding.cls_token": normal(rng, 1, 1, d, scale=small),
        "patch_embedding.position_embedding": normal(rng, 1, n + 1, d, scale=small),
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
    set_reference(model, layer_weights, variables)
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


def vit_group(rng, expected):
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
        images = normal(rng, *shape)
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
        assigns = assign_calls(object_id, object_id, variables, inputs, late)
        calls += assigns
        calls.append(call(f"{object_id}0", object_id, arr(f"{object_id}_x")))
        model = _reference_vit(config, images, layer_weights, variables)
        want = to_np(model(images))
        hints = _vit_hints(model, config, images, layer_weights, variables)
        hints = without_twins(hints, want, atol=1e-3)
        expected[f"{object_id}0"] = (want, hints)
        copied = weights_copied(object_id, [a["id"] for a in assigns], "your ViTClassifier")
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
        # The same model inside a tf.function with an unknown batch size, as model.fit traces it.
        calls.append(in_graph(call("vit_graph", object_id, arr(f"{object_id}_x"))))
        expected["vit_graph"] = (want, hints)
        checks.append(
            Check(
                "ViTClassifier: logits inside a tf.function with an unknown batch size",
                "ViTClassifier",
                in_graph_close("vit_graph", want, "the logits in a tf.function", hints),
            )
        )
        # dropout=0.3, called with training=False: the same logits.
        drop_config = {**config, "dropout": 0.3}
        calls.append(
            construct("vit_drop", "ViTClassifier", drop_config, [arr(f"{object_id}_x")], names)
        )
        drop_assigns = assign_calls("vit_drop", "vit_drop", variables, inputs, late)
        calls += drop_assigns
        calls.append(call("vit_drop0", "vit_drop", arr(f"{object_id}_x"), training=False))
        expected["vit_drop0"] = (want, hints)
        checks.append(
            Check(
                "ViTClassifier: dropout=0.3 with training=False does not drop",
                "ViTClassifier",
                all_of(
                    weights_copied(
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
