"""The a4_translation "seq2seq" group: the model with the given layers and the reference decoder block."""

import numpy as np

from autograder.assignments.a4_translation.suite import hints as variants
from autograder.assignments.a4_translation.suite.models import (
    DECODER_INJECT,
    DECODER_SITE,
    FF_DIM,
    GIVEN_INJECT,
    GIVEN_SITE,
    NUM_HEADS,
    S2S,
    S2S_LAYERS,
    layer_weights,
    padded_ids,
    reference_model,
    seq2seq_weights,
)
from autograder.grading.calls import arr, call, construct, in_graph
from autograder.grading.checks import close, in_graph_close
from autograder.grading.plan import Check, Group
from autograder.grading.weights import add_weights, to_np


def seq2seq_group(rng, expected):
    b, s, t = 3, 7, 6
    src = padded_ids([7, 4, 2], s, 0, rng, S2S["src_vocab"])
    src_more = np.concatenate([src, np.zeros((b, 3), "int32")], axis=1)  # 3 more pad columns
    src_pad5 = padded_ids([5, 7, 3], s, 5, rng, S2S["src_vocab"])
    tgt = rng.integers(1, S2S["tgt_vocab"], size=(b, t)).astype("int32")
    tgt[:, 0] = 1
    weights = seq2seq_weights(rng)
    inputs = {"s2s_src": src, "s2s_src_more": src_more, "s2s_src5": src_pad5, "s2s_tgt": tgt}
    names = add_weights(inputs, "s2s", weights)
    names1 = layer_weights(names, 1)
    base = {**S2S, "num_layers": S2S_LAYERS, "ff_dim": FF_DIM}
    one = {**base, "num_layers": 1}  # the pad_id and dropout checks: one block each (faster)
    build = [[arr("s2s_src"), arr("s2s_tgt")]]
    calls = [
        construct("s2s", "Seq2SeqTransformer", base, build, names),
        construct("s2s_pad5", "Seq2SeqTransformer", {**one, "pad_id": 5}, build, names1),
        construct("s2s_drop", "Seq2SeqTransformer", {**one, "dropout": 0.5}, build, names1),
        call("s2s0", "s2s", [arr("s2s_src"), arr("s2s_tgt")]),
        call("s2s_more", "s2s", [arr("s2s_src_more"), arr("s2s_tgt")]),
        call("s2s5", "s2s_pad5", [arr("s2s_src5"), arr("s2s_tgt")]),
        call("s2s_drop0", "s2s_drop", [arr("s2s_src"), arr("s2s_tgt")], training=False),
        # One layer inside a tf.function with an unknown batch size, as model.fit traces it.
        in_graph(call("s2s_graph", "s2s_pad5", [arr("s2s_src5"), arr("s2s_tgt")])),
    ]
    logits = to_np(reference_model(weights, src, tgt)((src, tgt)))
    logits1 = to_np(reference_model(weights, src, tgt, num_layers=1)((src, tgt)))
    logits5 = to_np(reference_model(weights, src, tgt, 1, pad_id=5)((src_pad5, tgt)))
    kw = dict(num_layers=S2S_LAYERS, num_heads=NUM_HEADS)
    kw1 = dict(num_layers=1, num_heads=NUM_HEADS)
    hints = variants.seq2seq_hints(src, tgt, weights, **kw)
    hints1 = variants.seq2seq_hints(src, tgt, weights, **kw1)
    hints_more = variants.seq2seq_hints(src_more, tgt, weights, **kw)
    hints5 = variants.seq2seq_hints(src_pad5, tgt, weights, **kw1, pad_id=5)
    expected["s2s0"] = (logits, hints)
    expected["s2s_more"] = (logits, hints_more)
    expected["s2s5"] = (logits5, hints5)
    expected["s2s_drop0"] = (logits1, hints1)
    unit = "Seq2SeqTransformer"
    checks = [
        Check(
            f"{unit}: logits on equal weights (2 layers, padded sources)",
            unit,
            close("s2s0", logits, "the logits", hints),
            3.0,
        ),
        Check(
            f"{unit}: more padding at the end of the source leaves the logits unchanged",
            unit,
            close(
                "s2s_more",
                logits,
                "the logits after appending 3 padding tokens to every source (padded source "
                "positions must be masked in the encoder and in cross-attention)",
                hints_more,
            ),
            2.0,
        ),
        Check(
            f"{unit}: pad_id=5, num_layers=1 (the padding mask uses the model's pad_id)",
            unit,
            close("s2s5", logits5, "the logits with pad_id=5", hints5),
        ),
        Check(
            f"{unit}: dropout=0.5 with training=False does not drop (num_layers=1)",
            unit,
            close(
                "s2s_drop0",
                logits1,
                "the logits with dropout=0.5 when not training (dropout must act only in training)",
                hints1,
            ),
        ),
    ]
    expected["s2s_graph"] = expected["s2s5"]
    checks.append(
        Check(
            f"{unit}: pad_id=5 inside a tf.function with an unknown batch size",
            unit,
            in_graph_close("s2s_graph", logits5, "the logits in a tf.function", hints5),
        )
    )
    group = Group(
        "seq2seq",
        calls,
        inputs,
        site_modules=GIVEN_SITE + (DECODER_SITE,),
        inject={**GIVEN_INJECT, **DECODER_INJECT},
    )
    return group, checks
