"""The a2_transformer "block" group: TransformerEncoderBlock with the reference MHA and FeedForward."""

from autograder.assignments.a2_transformer.suite import hints as variants
from autograder.assignments.a2_transformer.suite.sizes import D_MODEL, FF_DIM, MHA_NAMES, NUM_HEADS
from autograder.grading.calls import arr, call, construct, in_graph
from autograder.grading.checks import close, in_graph_close
from autograder.grading.plan import Check, Group
from autograder.grading.weights import (
    add_weights,
    dense_weights,
    norm_weights,
    random_key_mask,
    set_weights,
    to_np,
)
from course_lib.layers import (
    TransformerEncoderBlock,
)


def block_group(rng, expected):
    b, t = 2, 6
    # Small inputs: the residual sums have a small variance, so LayerNorm's epsilon shows.
    x = rng.normal(0, 0.2, size=(b, t, D_MODEL)).astype("float32")
    pad = random_key_mask(rng, b, t)
    weights = {name: dense_weights(rng, D_MODEL, D_MODEL) for name in MHA_NAMES}
    weights["dense1"] = dense_weights(rng, D_MODEL, FF_DIM)
    weights["dense2"] = dense_weights(rng, FF_DIM, D_MODEL)
    for norm in ("norm1", "norm2"):
        weights[norm] = norm_weights(rng, D_MODEL)
    paths = {f"attention.{name}": weights[name] for name in MHA_NAMES}
    paths.update({f"ffn.{n}": weights[n] for n in ("dense1", "dense2")})
    paths.update({n: weights[n] for n in ("norm1", "norm2")})
    inputs = {"blk_x": x, "blk_pad": pad}
    names = add_weights(inputs, "blk", paths)
    base = {"d_model": D_MODEL, "num_heads": NUM_HEADS, "ff_dim": FF_DIM}
    layer = TransformerEncoderBlock(**base)
    layer(x)
    set_weights(layer, paths)

    calls = [
        construct("blk", "TransformerEncoderBlock", base, [arr("blk_x")], names),
        call("blk0", "blk", arr("blk_x")),
        call("blk1", "blk", arr("blk_x"), attention_mask=arr("blk_pad")),
        construct(
            "blk_drop", "TransformerEncoderBlock", {**base, "dropout": 0.5}, [arr("blk_x")], names
        ),
        call("blk_drop0", "blk_drop", arr("blk_x"), training=False),
        in_graph(call("blk_graph", "blk", arr("blk_x"), attention_mask=arr("blk_pad"))),
    ]
    plain = to_np(layer(x))
    masked = to_np(layer(x, attention_mask=pad))
    hints_plain = variants.encoder_block_hints(x, weights, None, NUM_HEADS)
    hints_masked = variants.encoder_block_hints(x, weights, pad, NUM_HEADS)
    expected["blk0"] = (plain, hints_plain)
    expected["blk1"] = (masked, hints_masked)
    expected["blk_drop0"] = (plain, hints_plain)
    expected["blk_graph"] = (masked, hints_masked)
    unit = "TransformerEncoderBlock"
    checks = [
        Check(f"{unit}: no mask", unit, close("blk0", plain, "the output", hints_plain), 2.0),
        Check(
            f"{unit}: key padding mask (B, 1, T)",
            unit,
            close("blk1", masked, "the output", hints_masked),
            2.0,
        ),
        Check(
            f"{unit}: dropout=0.5 with training=False does not drop",
            unit,
            close(
                "blk_drop0",
                plain,
                "the output with dropout=0.5 when not training (dropout must act only in training)",
                hints_plain,
            ),
        ),
        Check(
            f"{unit}: key padding mask inside a tf.function with an unknown batch size",
            unit,
            in_graph_close("blk_graph", masked, "the output in a tf.function", hints_masked),
        ),
    ]
    group = Group(
        "block",
        calls,
        inputs,
        site_modules=("layers/multi_head_attention.py", "layers/feed_forward.py"),
        inject={
            "MultiHeadAttention": "course_lib.layers.multi_head_attention:MultiHeadAttention",
            "FeedForward": "course_lib.layers.feed_forward:FeedForward",
        },
    )
    return group, checks
