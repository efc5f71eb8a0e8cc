"""Benchmarks for course_lib.data: tokenizer throughput, image pipeline caching, streaming memory.

Usage (writes the markdown table to stdout and, with --out, to a file):
    .venv/bin/python benchmarks/data.py --out build/benchmarks/data.md

Measures, in one run:
1. WordPieceTokenizer inside tf.data (batch 1024, parallel map) in short sentences/s;
2. BPETokenizer encode: pure Python `encode` and `tokenize` inside tf.data, same sentences;
3. the image pipeline over 1,000 JPEG files: first epoch against cached epochs;
4. peak RSS of a child process streaming `lm_dataset` over N and 10 N tokens.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from course_lib import data  # noqa: E402
from course_lib.data.loaders import pydoc_paragraphs  # noqa: E402

AUTOTUNE = tf.data.AUTOTUNE


def short_sentences(n: int) -> list[str]:
    """n short sentences (4-20 words) cut from the pydoc prose, repeated as needed."""
    words = " ".join(pydoc_paragraphs("train")).split()
    out, i, rng = [], 0, np.random.default_rng(0)
    while len(out) < n:
        k = int(rng.integers(4, 21))
        out.append(" ".join(words[i : i + k]))
        i = (i + k) % (len(words) - 21)
    return out


def timed(fn, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def tokenizer_rows(n_sentences: int) -> list[tuple[str, str]]:
    corpus = pydoc_paragraphs("train")
    start = time.perf_counter()
    wordpiece = data.WordPieceTokenizer.train(corpus, vocab_size=2000)
    wp_train = time.perf_counter() - start
    start = time.perf_counter()
    bpe = data.BPETokenizer.train(corpus, vocab_size=2000)
    bpe_train = time.perf_counter() - start
    sentences = short_sentences(n_sentences)
    source = tf.data.Dataset.from_tensor_slices(sentences).batch(1024)

    def run(tokenizer, ds=source):
        for _ in ds.map(tokenizer.tokenize, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE):
            pass

    wp = n_sentences / timed(lambda: run(wordpiece))
    bpe_tf = n_sentences / timed(lambda: run(bpe), repeats=1)
    small = sentences[: n_sentences // 4]
    fresh = data.BPETokenizer(bpe.merges)  # An empty chunk cache.
    bpe_cold = len(small) / timed(lambda: [fresh.encode(s) for s in small], repeats=1)
    bpe_py = n_sentences / timed(lambda: [bpe.encode(s) for s in sentences], repeats=1)
    wp_ids = sum(len(r) for r in wordpiece.tokenize(sentences[:2000]).to_list())
    bpe_ids = sum(len(bpe.encode(s)) for s in sentences[:2000])
    return [
        (
            "Tokenizer training on pydoc train (2,347 paragraphs), vocab 2,000",
            f"WordPiece {wp_train:.1f} s; BPE {bpe_train:.1f} s",
        ),
        (
            f"WordPieceTokenizer in tf.data, {n_sentences:,} short sentences, batch 1024",
            f"**{wp:,.0f} sentences/s** (target >= 100k)",
        ),
        (
            "BPETokenizer.tokenize in tf.data (py_function, warm chunk cache)",
            f"{bpe_tf:,.0f} sentences/s ({bpe_tf / wp:.2f}x WordPiece)",
        ),
        (
            "BPETokenizer.encode, pure Python, warm chunk cache",
            f"{bpe_py:,.0f} sentences/s ({bpe_py / wp:.2f}x WordPiece)",
        ),
        (
            "BPETokenizer.encode, pure Python, cold cache (new tokenizer)",
            f"{bpe_cold:,.0f} sentences/s ({bpe_cold / wp:.2f}x WordPiece)",
        ),
        (
            "Ids per sentence (2,000 sentences)",
            f"WordPiece {wp_ids / 2000:.1f}; BPE {bpe_ids / 2000:.1f}",
        ),
    ]


def image_rows(n_files: int, size: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(n_files):
            image = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
            path = os.path.join(tmp, f"{i:05d}.jpg")
            tf.io.write_file(path, tf.io.encode_jpeg(image))
            paths.append(path)
        labels = rng.integers(0, 10, size=n_files)
        rows = []
        for cache in (False, True):
            ds = data.image_dataset_from_files(
                paths,
                labels,
                image_size=32,
                batch_size=64,
                shuffle=True,
                seed=0,
                cache=cache,
                validate=False,
            )
            epochs = []
            for _ in range(4):
                start = time.perf_counter()
                for _ in ds:
                    pass
                epochs.append(time.perf_counter() - start)
            later = min(epochs[1:])
            rows.append(
                (
                    f"Image pipeline, {n_files} JPEG {size}x{size} -> 32x32, cache={cache}",
                    f"epoch 1: {n_files / epochs[0]:,.0f} img/s; best of epochs 2-4: "
                    f"{n_files / later:,.0f} img/s ({epochs[0] / later:.1f}x)",
                )
            )
        start = time.perf_counter()
        data.find_unreadable_images(paths)
        rows.append(
            (
                f"Up-front validation pass (find_unreadable_images, {n_files} files)",
                f"{time.perf_counter() - start:.2f} s",
            )
        )
    return rows


def stream_tokens(n_tokens: int) -> None:
    """Child process: stream lm_dataset over n_tokens generated in 64k chunks; print peak RSS."""
    chunk = 65_536

    def documents():
        rng = np.random.default_rng(0)
        for _ in range(n_tokens // chunk):
            yield rng.integers(4, 2000, size=chunk, dtype=np.int32)

    docs = tf.data.Dataset.from_generator(
        documents, output_signature=tf.TensorSpec([None], tf.int32)
    )
    batches = 0
    for _ in data.lm_dataset(docs, seq_len=128, batch_size=64):
        batches += 1
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{batches} {peak_mb:.1f}")


def memory_rows(n_tokens: int) -> list[tuple[str, str]]:
    results = {}
    for n in (n_tokens, 10 * n_tokens):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--stream-child", str(n)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        results[n] = (int(out[-2]), float(out[-1]), time.perf_counter() - start)
    (b1, m1, t1), (b10, m10, t10) = results[n_tokens], results[10 * n_tokens]
    verdict = "flat" if abs(m10 - m1) <= 0.1 * m1 else "NOT flat"
    return [
        (
            f"Peak RSS streaming lm_dataset: {n_tokens:,} vs {10 * n_tokens:,} tokens "
            "(from_generator, seq 128, batch 64)",
            f"{m1:,.0f} MB ({b1} batches, {t1:.0f} s) vs {m10:,.0f} MB ({b10} batches, {t10:.0f} s): "
            f"{(m10 / m1 - 1) * 100:+.1f}% -> **{verdict}** (limit 10%)",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=200_000)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=1 << 22)
    parser.add_argument("--out", help="also write the markdown section to this file")
    parser.add_argument("--stream-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_child:
        stream_tokens(args.stream_child)
        return
    rows = tokenizer_rows(args.sentences) + image_rows(args.images, 64) + memory_rows(args.tokens)
    lines = [
        "## course_lib.data",
        "",
        f"Command: `.venv/bin/python {' '.join(sys.argv)}` "
        f"({os.cpu_count()} cores, tensorflow {tf.__version__}, {time.strftime('%Y-%m-%d')}).",
        "",
        "| measurement | result |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in rows],
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
