"""course_lib MultiHeadAttention vs keras.layers.MultiHeadAttention, forward + backward.

B=32, T=128, D=256, 8 heads, inside tf.function, interleaved round by round.
Target: ours / keras <= 1.05.

    python -m benchmarks.attention [--rounds 7]
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.common import interleaved, ratio, table  # noqa: E402
from course_lib.demo import keras_twin  # noqa: E402
from course_lib.layers import MultiHeadAttention  # noqa: E402

B, T, D, HEADS = 32, 128, 256, 8
TARGET = 1.05


def train_step(layer):
    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            y = layer(x, x, use_causal_mask=True)
            loss = tf.reduce_mean(tf.square(y))
        return tape.gradient(loss, layer.trainable_variables)

    return step


def run(rounds=7, repeats=5):
    x = tf.constant(np.random.default_rng(0).normal(size=(B, T, D)).astype("float32"))
    ours = MultiHeadAttention(HEADS, D)
    ours(x, x)
    theirs = keras_twin(ours)
    steps = {"course_lib": train_step(ours), "keras": train_step(theirs)}
    work = {name: (lambda s=s: [g.numpy() for g in s(x)]) for name, s in steps.items()}
    times = interleaved(work, rounds=rounds, repeats=repeats)
    r = ratio(times, "course_lib", "keras")
    ms = {name: 1000 * float(np.median(t)) for name, t in times.items()}
    rows = [
        ["course_lib MHA fwd+bwd", f"{ms['course_lib']:.1f} ms"],
        ["keras MHA fwd+bwd", f"{ms['keras']:.1f} ms"],
        ["ratio course_lib / keras (median of rounds)", f"{r:.3f} (target <= {TARGET})"],
    ]
    return {"ratio": r, "ms": ms, "table": table(rows, ["attention B=32 T=128 D=256 h=8", "value"])}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    result = run(args.rounds)
    print(result["table"])
    return result


if __name__ == "__main__":
    main()
