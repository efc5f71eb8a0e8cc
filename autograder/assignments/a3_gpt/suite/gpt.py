"""The a3_gpt block and model checks: GPTBlock and GPT on the grader's weights.

- "block": GPTBlock with the given MultiHeadAttention and FeedForward injected;
- "gpt": GPT with the reference TokenAndPositionEmbedding and GPTBlock injected.
Weights are copied per sublayer path ("blocks.0.attention.wq", "ln_f", "head", ...).
"""

import numpy as np

from autograder.assignments.a3_gpt.suite import hints as variants
from autograder.grading.calls import arr, call, construct, in_graph
from autograder.grading.checks import close, gated, in_graph_close
from autograder.grading.compare import failed, passed
from autograder.grading.plan import Check, Group, Missing
from autograder.grading.weights import (
    add_weights,
    dense_weights,
    norm_weights,
    set_weights,
    to_np,
)
from course_lib.layers import GPTBlock
from course_lib.models import GPT

VOCAB, MAX_LEN, D_MODEL, NUM_HEADS, FF_DIM = 13, 10, 16, 4, 32
MHA_NAMES = ("wq", "wk", "wv", "wo")
GIVEN = {
    "MultiHeadAttention": "course_lib.layers.multi_head_attention:MultiHeadAttention",
    "FeedForward": "course_lib.layers.feed_forward:FeedForward",
}
GIVEN_MODULES = ("layers/multi_head_attention.py", "layers/feed_forward.py")


def block_weights(rng, prefix=""):
    weights = {
        f"{prefix}ln1": norm_weights(rng, D_MODEL),
        f"{prefix}ln2": norm_weights(rng, D_MODEL),
    }
    weights.update(
        {f"{prefix}attention.{n}": dense_weights(rng, D_MODEL, D_MODEL) for n in MHA_NAMES}
    )
    weights[f"{prefix}mlp.dense1"] = dense_weights(rng, D_MODEL, FF_DIM)
    weights[f"{prefix}mlp.dense2"] = dense_weights(rng, FF_DIM, D_MODEL)
    return weights


def flat_names(weights):
    """Block weights by the short names of variants (wq, dense1, ln1, ...)."""
    return {path.rpartition(".")[2]: pair for path, pair in weights.items()}


# Group "block": GPTBlock with the given MultiHeadAttention and FeedForward ------------------


def _causal_check(key_a, key_b, keep, what):
    """Outputs at positions < keep do not change when only later inputs change."""

    def evaluate(outcome):
        try:
            a, b = np.asarray(outcome.get(key_a)), np.asarray(outcome.get(key_b))
        except Missing as err:
            return failed(str(err))
        if a.shape != b.shape or a.ndim != 3:
            return failed(
                f"Expected two outputs of the same shape (B, T, ...); got {a.shape}, {b.shape}."
            )
        diff = float(np.max(np.abs(a[:, :keep] - b[:, :keep])))
        if diff <= 1e-5:
            return passed()
        return failed(
            f"Changing only the inputs at positions >= {keep} changed {what} at earlier positions "
            f"(by up to {diff:.3g}): position t must not see later positions (causal mask)."
        )

    return evaluate


def block_group(rng, expected):
    b, t, keep = 2, 7, 4
    x = rng.normal(0, 0.3, size=(b, t, D_MODEL)).astype("float32")
    x2 = x.copy()
    x2[:, keep:] = rng.normal(0, 0.3, size=(b, t - keep, D_MODEL))
    weights = block_weights(rng)
    inputs = {"blk_x": x, "blk_x2": x2}
    names = add_weights(inputs, "blk", weights)
    base = {"d_model": D_MODEL, "num_heads": NUM_HEADS, "ff_dim": FF_DIM}
    layer = GPTBlock(**base)
    layer(x)
    set_weights(layer, weights)
    want = to_np(layer(x))
    hints = variants.gpt_block_hints(x, flat_names(weights), NUM_HEADS)
    assert np.allclose(variants.gpt_block_np(x, flat_names(weights), NUM_HEADS), want, atol=1e-4)
    expected["blk0"] = (want, hints)
    expected["blk_drop0"] = (want, hints)
    calls = [
        construct("blk", "GPTBlock", base, [arr("blk_x")], names),
        call("blk0", "blk", arr("blk_x")),
        call("blk1", "blk", arr("blk_x2")),
        construct("blk_drop", "GPTBlock", {**base, "dropout": 0.5}, [arr("blk_x")], names),
        call("blk_drop0", "blk_drop", arr("blk_x"), training=False),
        in_graph(call("blk_graph", "blk", arr("blk_x"))),
    ]
    unit = "GPTBlock"
    core = close("blk0", want, "the output", hints)
    checks = [
        Check(f"{unit}: pre-norm causal block on equal weights", unit, core, 3.0),
        Check(
            f"{unit}: causal (changing later inputs leaves earlier outputs unchanged)",
            unit,
            gated(core, _causal_check("blk0", "blk1", keep, "the block's output"), "the output"),
            2.0,
        ),
        Check(
            f"{unit}: inside a tf.function with an unknown batch size",
            unit,
            in_graph_close("blk_graph", want, "the output in a tf.function", hints),
            1.5,
        ),
        Check(
            f"{unit}: dropout=0.5 with training=False does not drop",
            unit,
            close(
                "blk_drop0",
                want,
                "the output with dropout=0.5 when not training (dropout must act only in training)",
                hints,
            ),
        ),
    ]
    group = Group("block", calls, inputs, site_modules=GIVEN_MODULES, inject=dict(GIVEN))
    return group, checks


# Group "gpt": GPT with the reference embedding and block ------------------------------------


def _gpt_weights(rng, num_layers):
    weights = {
        "embedding.token_embedding": (rng.normal(0, 1.0, size=(VOCAB, D_MODEL)).astype("float32"),),
        "embedding.position_embedding": (
            rng.normal(0, 1.0, size=(MAX_LEN, D_MODEL)).astype("float32"),
        ),
    }
    for i in range(num_layers):
        weights.update(block_weights(rng, f"blocks.{i}."))
    weights["ln_f"] = norm_weights(rng, D_MODEL)
    weights["head"] = dense_weights(rng, D_MODEL, VOCAB, scale=0.5)
    return weights


def _gpt_hints(model, ids):
    """{label: logits} of buggy GPTs, composed from the reference model's own sublayers."""
    x = model.embedding(ids)
    states = [x]
    for block in model.blocks:
        states.append(block(states[-1]))
    again = model.blocks[-1](model.blocks[-1](x))
    logits = to_np(model.head(model.ln_f(states[-1])))
    exp = np.exp(logits - logits.max(-1, keepdims=True))
    return {
        "the final LayerNorm ln_f is skipped": to_np(model.head(states[-1])),
        "only the first block is applied": to_np(model.head(model.ln_f(states[1]))),
        "the blocks are skipped": to_np(model.head(model.ln_f(x))),
        "one block object is reused for every layer (make num_layers separate GPTBlocks)": to_np(
            model.head(model.ln_f(again))
        ),
        "the model returns probabilities (a softmax) instead of logits": exp
        / exp.sum(-1, keepdims=True),
    }


def gpt_group(rng, expected):
    num_layers, b, t, keep = 2, 2, 7, 4
    weights = _gpt_weights(rng, num_layers)
    ids = rng.integers(1, VOCAB, size=(b, t)).astype("int32")
    ids2 = ids.copy()
    ids2[:, keep:] = (ids[:, keep:] + rng.integers(1, VOCAB - 1, size=(b, t - keep))) % VOCAB
    full = rng.integers(1, VOCAB, size=(b + 1, MAX_LEN)).astype("int32")
    inputs = {"gpt_ids": ids, "gpt_ids2": ids2, "gpt_full": full}
    names = add_weights(inputs, "gpt", weights)
    base = {
        "vocab_size": VOCAB,
        "max_len": MAX_LEN,
        "d_model": D_MODEL,
        "num_heads": NUM_HEADS,
        "num_layers": num_layers,
        "ff_dim": FF_DIM,
    }
    model = GPT(**base)
    model(ids)
    set_weights(model, weights)
    calls = [
        construct("gpt", "GPT", base, [arr("gpt_ids")], names),
        call("gpt0", "gpt", arr("gpt_ids")),
        call("gpt1", "gpt", arr("gpt_full")),
        call("gpt2", "gpt", arr("gpt_ids2")),
        {"id": "gpt_max_len", "kind": "attribute", "object": "gpt", "path": "max_len"},
        construct("gpt_drop", "GPT", {**base, "dropout": 0.5}, [arr("gpt_ids")], names),
        call("gpt_drop0", "gpt_drop", arr("gpt_ids"), training=False),
        in_graph(call("gpt_graph", "gpt", arr("gpt_full"))),
    ]
    unit = "GPT"
    checks = []
    for call_id, token_ids, label, weight in (
        ("gpt0", ids, f"logits on equal weights (T = {t} < max_len)", 2.0),
        ("gpt1", full, f"logits on equal weights (T = max_len = {MAX_LEN})", 1.0),
    ):
        want = to_np(model(token_ids))
        hints = _gpt_hints(model, token_ids)
        expected[call_id] = (want, hints)
        checks.append(
            Check(f"{unit}: {label}", unit, close(call_id, want, "the logits", hints), weight)
        )
    expected["gpt_drop0"] = expected["gpt0"]
    expected["gpt_graph"] = expected["gpt1"]
    core, core_what = checks[0].evaluate, "the logits (T < max_len)"
    checks += [
        Check(
            f"{unit}: causal (changing a later token leaves earlier logits unchanged)",
            unit,
            gated(core, _causal_check("gpt0", "gpt2", keep, "the logits"), core_what),
        ),
        Check(
            f"{unit}: keeps max_len as an attribute",
            unit,
            gated(
                core,
                close("gpt_max_len", np.asarray(MAX_LEN), "model.max_len", atol=0, rtol=0),
                core_what,
            ),
        ),
        Check(
            f"{unit}: logits inside a tf.function with an unknown batch size",
            unit,
            in_graph_close(
                "gpt_graph", expected["gpt1"][0], "the logits in a tf.function", expected["gpt1"][1]
            ),
            1.5,
        ),
        Check(
            f"{unit}: dropout=0.5 with training=False does not drop",
            unit,
            close(
                "gpt_drop0",
                expected["gpt0"][0],
                "the logits with dropout=0.5 when not training (dropout must act only in training)",
                expected["gpt0"][1],
            ),
        ),
    ]
    group = Group(
        "gpt",
        calls,
        inputs,
        site_modules=(
            *GIVEN_MODULES,
            "layers/gpt_block.py",
            "layers/token_and_position_embedding.py",
        ),
        inject={
            **GIVEN,
            "GPTBlock": "course_lib.layers.gpt_block:GPTBlock",
            "TokenAndPositionEmbedding": (
                "course_lib.layers.token_and_position_embedding:TokenAndPositionEmbedding"
            ),
        },
    )
    return group, checks
