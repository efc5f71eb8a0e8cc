"""The cost model's FLOPs against measured time per step of a small GPT as T doubles.

A GPT (2 layers, d=64, 4 heads, MLP 256, vocab 256) on a batch of 4 sequences
of T = 64 ... 1024 tokens: the forward pass and a training step (forward,
backward, SGD update), each a `tf.function`, timed interleaved round by round
(median of rounds; ratios are medians of per-round ratios). The predicted ratio is `flops(T) / flops(T / 2)` from
`course_lib.cost` (the same for forward and training step: training = 3x forward).
As T grows the T^2 attention term takes over and the ratio climbs from ~2 to ~4.

    python -m benchmarks.cost [--rounds 5] [--lengths 64,128,256,512,1024]
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import common  # noqa: E402
from benchmarks.common import interleaved, table  # noqa: E402
from course_lib.cost import model_cost  # noqa: E402
from course_lib.models import GPT  # noqa: E402

CONFIG = dict(vocab_size=256, d_model=64, num_heads=4, num_layers=2, ff_dim=256)
BATCH = 4
LENGTHS = (64, 128, 256, 512, 1024)


def steps(model, optimizer):
    """`(forward, train_step)` tf.functions of `model` on int ids `(B, T)` (one per T)."""

    @tf.function
    def forward(ids):
        return model(ids, training=False)

    @tf.function
    def train_step(ids):
        with tf.GradientTape() as tape:
            logits = model(ids, training=True)
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(ids, logits, from_logits=True)
            )
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return forward, train_step


def _row(model, times, lengths, i, batch):
    """Prediction and measurement at `lengths[i]`; ratios against `lengths[i - 1]`,
    median over rounds of the per-round ratio (rounds are interleaved)."""
    T, before = lengths[i], lengths[i - 1] if i else None
    ms = {key: 1000 * float(np.median(t)) for key, t in times.items()}
    predicted = model_cost(model, seq_len=T, batch=batch)
    ratio = lambda kind: common.ratio(times, (kind, T), (kind, before)) if i else None
    previous = model_cost(model, seq_len=before, batch=batch).flops_total if i else None
    return dict(
        T=T,
        flops=predicted.flops_total,
        share=predicted.attention_share,
        forward_ms=ms[("forward", T)],
        forward_ratio=ratio("forward"),
        train_ms=ms[("train", T)],
        train_ratio=ratio("train"),
        predicted_ratio=predicted.flops_total / previous if i else None,
        train_gflops=predicted.train_flops / ms[("train", T)] / 1e6,
    )


def run(lengths=LENGTHS, rounds=5, repeats=3, config=CONFIG, batch=BATCH):
    keras.utils.set_random_seed(0)
    model = GPT(max_len=max(lengths), **config)
    model.build((None, None))
    optimizer = keras.optimizers.SGD(1e-3)
    rng = np.random.default_rng(0)
    work = {}
    for T in lengths:
        forward, train_step = steps(model, optimizer)
        ids = tf.constant(rng.integers(0, config["vocab_size"], (batch, T)))
        work[("forward", T)] = lambda f=forward, x=ids: f(x).numpy()
        work[("train", T)] = lambda f=train_step, x=ids: f(x).numpy()
    times = interleaved(work, rounds=rounds, repeats=repeats, warmup=1)
    results = [_row(model, times, lengths, i, batch) for i in range(len(lengths))]
    fmt = lambda x: "-" if x is None else f"{x:.2f}"
    rows = [
        [
            r["T"],
            f"{r['flops'] / 1e9:.3f} G",
            f"{r['share']:.1%}",
            f"{r['forward_ms']:.1f}",
            fmt(r["forward_ratio"]),
            f"{r['train_ms']:.1f}",
            fmt(r["train_ratio"]),
            fmt(r["predicted_ratio"]),
            f"{r['train_gflops']:.1f}",
        ]
        for r in results
    ]
    headers = [
        "T",
        "predicted fwd FLOPs",
        "attention share",
        "fwd ms",
        "fwd ratio",
        "train ms",
        "train ratio",
        "predicted ratio",
        "train GFLOP/s",
    ]
    return {"rows": results, "table": table(rows, headers)}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)))
    args = parser.parse_args(argv)
    lengths = tuple(int(x) for x in args.lengths.split(","))
    result = run(lengths, rounds=args.rounds)
    print(f"GPT {CONFIG}, batch {BATCH}; median of {args.rounds} rounds\n")
    print(result["table"])
    return result


if __name__ == "__main__":
    main()
