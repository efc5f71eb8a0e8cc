"""A short tour of the reference layers: run with `make demo` or `python -m course_lib.demo`.

It checks `course_lib.layers.MultiHeadAttention` against
`keras.layers.MultiHeadAttention` on copied weights, shows that the causal mask
keeps the past independent of the future, and writes attention heatmaps.

    python -m course_lib.demo --out build/demo
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from course_lib.layers import MultiHeadAttention, SelfAttention, padding_mask  # noqa: E402
from course_lib.viz import plot_attention  # noqa: E402


def keras_twin(ours):
    """keras.layers.MultiHeadAttention holding our weights (Dense (D, D) -> EinsumDense (D, H, Dh))."""
    heads, d = ours.num_heads, ours.d_model
    dh = d // heads
    theirs = keras.layers.MultiHeadAttention(num_heads=heads, key_dim=dh)
    probe = np.zeros((1, 1, d), "float32")
    theirs(probe, probe)
    weights = []
    for dense in (ours.wq, ours.wk, ours.wv):
        kernel, bias = dense.get_weights()
        weights += [kernel.reshape(d, heads, dh), bias.reshape(heads, dh)]
    kernel, bias = ours.wo.get_weights()
    theirs.set_weights(weights + [kernel.reshape(heads, dh, d), bias])
    return theirs


def run(out="build/demo", seed=0):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()

    # 1. Our multi-head attention against Keras's, on equal weights.
    ours = MultiHeadAttention(num_heads=8, d_model=64)
    x = rng.normal(size=(4, 12, 64)).astype("float32")
    ours(x, x)
    theirs = keras_twin(ours)
    diff = np.abs(
        ours(x, x, use_causal_mask=True).numpy() - theirs(x, x, use_causal_mask=True).numpy()
    ).max()
    print(
        f"[1] MultiHeadAttention vs keras.layers.MultiHeadAttention (8 heads, d=64): max |diff| = {diff:.2e}"
    )

    # 2. The causal mask: changing the last token leaves every earlier output unchanged.
    y = x.copy()
    y[:, -1] += 1.0
    a, b = ours(x, x, use_causal_mask=True).numpy(), ours(y, y, use_causal_mask=True).numpy()
    print(
        f"[2] causal mask: change token 11 -> outputs 0..10 move by {np.abs(a[:, :-1] - b[:, :-1]).max():.1e}, "
        f"output 11 by {np.abs(a[:, -1] - b[:, -1]).max():.2f}"
    )

    # 3. Heatmaps of one self-attention head and of all heads, with padding and causal masks.
    words = "the cat sat on the mat <pad> <pad>".split()
    ids = np.array([[5, 6, 7, 8, 5, 9, 0, 0]])
    emb = rng.normal(size=(1, len(words), 64)).astype("float32")
    head = SelfAttention(key_dim=16)
    _, weights = head(
        emb, attention_mask=padding_mask(ids), use_causal_mask=True, return_attention_scores=True
    )
    one = plot_attention(
        weights[0], words, words, "one head, causal + padding mask", out / "attention_head.png"
    )
    _, scores = ours(emb, emb, attention_mask=padding_mask(ids), return_attention_scores=True)
    grid = plot_attention(
        scores[0], words, words, "8 heads, padding mask", out / "attention_heads.png"
    )
    print(f"[3] heatmaps: {one}\n              {grid}")
    print(f"done in {time.perf_counter() - start:.1f} s; outputs in {out}/")
    return {"max_diff": float(diff), "files": [one, grid]}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", default="build/demo", help="folder for the PNG files (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    result = run(args.out, args.seed)
    if result["max_diff"] > 1e-5:
        raise SystemExit(
            f"MultiHeadAttention differs from Keras's by {result['max_diff']:.2e} (> 1e-5)"
        )


if __name__ == "__main__":
    main()
