"""GPT generation with the key/value cache against recomputing the whole context each step.

The `gpt_mini` preset (6 layers, 6 heads, d=192; vocab 512) with its context
raised to 512 so that a 16-token prompt plus 256 new tokens fits without
cropping; greedy decoding, batch 1, interleaved round by round. Both paths
run as `tf.function`s; the cached one-token step is also compiled with XLA
(its shapes never change), and the cached step without XLA is timed too.
Target: cached >= 5x faster.

    python -m benchmarks.generation [--rounds 3] [--new-tokens 256]
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.common import interleaved, ratio, table  # noqa: E402
from course_lib.generation import generate  # noqa: E402
from course_lib.models import from_preset  # noqa: E402

PROMPT_LEN, MAX_LEN = 16, 512
TARGET = 5.0


CANDIDATES = {
    "cached": dict(use_cache=True),
    "cached_no_xla": dict(use_cache=True, jit_compile=False),
    "uncached": dict(use_cache=False),
}
LABELS = {
    "cached": "cached (KV cache, XLA step)",
    "cached_no_xla": "cached, step without XLA",
    "uncached": "uncached (recompute)",
}


def run(rounds=3, new_tokens=256, batch=1):
    keras.utils.set_random_seed(0)
    model = from_preset("gpt_mini", max_len=MAX_LEN)
    prompt = np.random.default_rng(0).integers(1, model.vocab_size, size=(batch, PROMPT_LEN))
    outputs = {}

    def run_one(name):
        outputs[name] = generate(model, prompt, new_tokens, temperature=0, **CANDIDATES[name])

    work = {name: (lambda n=name: run_one(n)) for name in CANDIDATES}
    times = interleaved(work, rounds=rounds, repeats=1, warmup=1)
    speedup = ratio(times, "uncached", "cached")
    speedup_no_xla = ratio(times, "uncached", "cached_no_xla")
    same = all((outputs[name] == outputs["uncached"]).all() for name in CANDIDATES)
    s = {name: float(np.median(t)) for name, t in times.items()}
    rows = [
        [LABELS[name], f"{s[name]:.2f} s ({1000 * s[name] / new_tokens:.1f} ms/token)"]
        for name in CANDIDATES
    ]
    rows += [
        ["speed-up uncached / cached (median of rounds)", f"{speedup:.1f}x (target >= {TARGET}x)"],
        ["speed-up uncached / cached without XLA", f"{speedup_no_xla:.1f}x"],
        ["identical greedy tokens", str(same)],
    ]
    header = f"gpt_mini, B={batch}, prompt {PROMPT_LEN}, {new_tokens} new tokens"
    return {"speedup": speedup, "seconds": s, "same": same, "table": table(rows, [header, "value"])}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args(argv)
    result = run(args.rounds, args.new_tokens, args.batch)
    print(result["table"])
    if not result["same"]:
        raise SystemExit("cached and uncached generation gave different tokens")


if __name__ == "__main__":
    main()
