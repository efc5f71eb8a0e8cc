"""The a3_gpt `generate` checks: the student's generate drives a toy LM built in the jail.

The toy model (`support/a3_support.py`) is built in the sandbox from the grader's random
weights and passed to the student's `generate` with `obj("toy")`; the reference
`filter_logits` is injected. Every check is decided here, in the parent, by recomputing
the toy model's float64 logits along the returned sequences: greedy paths, the top-k /
top-p set of every sampled token, and the distribution of a first token at temperature 2.
"""

import importlib.util

import numpy as np

from autograder.compare import failed, passed
from autograder.suites.base import SUPPORT, Check, Group, Missing, arr, construct, function, obj
from autograder.suites.variants import softmax


def _support():
    spec = importlib.util.spec_from_file_location("a3_support_parent", SUPPORT / "a3_support.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOY = _support()
UNIT = "generate"
VOCAB, WIDTH, MAX_LEN = 12, 8, 12
GREEDY_MARGIN = 2e-3  # the best logit beats the second by this much at every greedy step
TEMPERATURE, DRAWS = 2.0, 1000  # the distribution check: DRAWS rows of one prompt
TV_PASS, TV_GAP = 0.1, 0.22  # pass below TV_PASS; every named bug is at least TV_GAP away


class Toy:
    """The toy LM's weights and float64 logits."""

    def __init__(self, rng):
        self.weights = {
            "embedding": rng.normal(0, 1.0, size=(VOCAB, WIDTH)),
            "positions": rng.normal(0, 1.0, size=(MAX_LEN, WIDTH)),
            "kernel": rng.normal(0, 1.5, size=(WIDTH, VOCAB)),
            "bias": rng.normal(0, 0.5, size=(VOCAB,)),
        }
        self.weights = {k: v.astype("float32") for k, v in self.weights.items()}

    def next_logits(self, ids, position=-1, crop_first=False):
        """Float64 logits `(B, vocab)` of the token after `ids`, on the last MAX_LEN tokens.

        `position=0` and `crop_first=True` reproduce bugs: the logits of the first position,
        and a context cropped to the *first* MAX_LEN tokens.
        """
        ids = np.asarray(ids)
        context = ids[:, :MAX_LEN] if crop_first else ids[:, -MAX_LEN:]
        return TOY.toy_logits_np(context, **self.weights)[:, position]

    def greedy(self, prompt, steps, **bug):
        """The greedy continuation, and the smallest top-1/top-2 logit margin along it."""
        ids, margin = np.asarray(prompt), np.inf
        for _ in range(steps):
            logits = self.next_logits(ids, **bug)
            top2 = np.sort(logits, axis=-1)[:, -2:]
            margin = min(margin, float(np.min(top2[:, 1] - top2[:, 0])))
            ids = np.concatenate([ids, np.argmax(logits, -1)[:, None]], 1)
        return ids, margin

    def greedy_hints(self, prompt, steps):
        """{label: path} of greedy decoding with common bugs."""
        return {
            "the logits of the first position are used instead of the last ([:, -1])": self.greedy(
                prompt, steps, position=0
            )[0],
            "the context is cropped to the first max_len tokens instead of the last "
            "(ids[:, -model.max_len:])": self.greedy(prompt, steps, crop_first=True)[0],
        }


def _tv(p, q):
    return 0.5 * float(np.abs(p - q).sum())


def _distributions(toy, prompt):
    logits = toy.next_logits(prompt[:1])[0]
    right = softmax(logits / TEMPERATURE)
    wrong = {
        "the temperature is ignored (the logits must be divided by it)": softmax(logits),
        "the logits are multiplied by the temperature instead of divided": softmax(
            logits * TEMPERATURE
        ),
        "the next token is always the argmax (no sampling when temperature > 0)": np.eye(VOCAB)[
            int(np.argmax(logits))
        ],
    }
    return right, wrong


# The cases: (call id, label, prompt shape, max_new_tokens, kwargs).
GREEDY_CASES = (
    ("gen_greedy", "temperature=0 is greedy decoding", (3, 4), 5, {"temperature": 0.0}),
    (
        "gen_crop",
        "the context is cropped to the model's max_len while generating (T0 + n > max_len)",
        (2, 6),
        10,
        {"temperature": 0.0},
    ),
    (
        "gen_long",
        "a prompt longer than max_len works (the context is its last max_len tokens)",
        (2, MAX_LEN + 3),
        4,
        {"temperature": 0.0},
    ),
    (
        "gen_top1",
        "top_k=1 sampling equals greedy decoding",
        (3, 4),
        6,
        {"temperature": 1.0, "top_k": 1, "seed": 3},
    ),
)
SET_CASES = (
    ("gen_topk", "every sampled token is in the top_k=3 set", (4, 3), 12, {"top_k": 3}),
    ("gen_topp", "every sampled token is in the top_p=0.6 set", (4, 3), 12, {"top_p": 0.6}),
)


def _draw(rng):
    """A toy model and prompts whose greedy paths are unambiguous and whose sampling bugs show."""
    for _ in range(200):
        toy = Toy(rng)
        prompts = {
            cid: rng.integers(0, VOCAB, size=shape)
            for cid, _, shape, _, _ in GREEDY_CASES + SET_CASES
        }
        prompts["gen_dist"] = np.repeat(rng.integers(0, VOCAB, size=(1, 3)), DRAWS, axis=0)
        prompts["gen_seed"] = rng.integers(0, VOCAB, size=(3, 4))
        greedy = {cid: toy.greedy(prompts[cid], n) for cid, _, _, n, _ in GREEDY_CASES}
        right, wrong = _distributions(toy, prompts["gen_dist"])
        if min(m for _, m in greedy.values()) >= GREEDY_MARGIN and all(
            _tv(right, q) >= TV_GAP for q in wrong.values()
        ):
            return toy, prompts, {cid: path for cid, (path, _) in greedy.items()}
    raise RuntimeError("could not draw a toy model with clear greedy margins")


def _get(outcome, key, shape):
    """The returned ids as int64, or a failed Verdict naming the shape problem."""
    try:
        out = np.asarray(outcome.get(key))
    except Missing as err:
        return None, failed(str(err))
    if out.shape != shape:
        return None, failed(
            f"generate returned shape {out.shape}; expected {shape} = (B, T0 + max_new_tokens): "
            "the prompt followed by the new tokens."
        )
    if out.dtype.kind == "f" and not np.all(out == np.round(out)):
        return None, failed("generate returned non-integer token ids.")
    return out.astype(np.int64), None


def _equal_path(key, prompt, want, label, hints):
    def evaluate(outcome):
        out, verdict = _get(outcome, key, want.shape)
        if verdict:
            return verdict
        t0 = prompt.shape[1]
        if not np.array_equal(out[:, :t0], prompt):
            return failed("The output must start with the prompt itself (the prompt is kept).")
        if np.array_equal(out, want):
            return passed()
        row, col = (int(i) for i in np.argwhere(out != want)[0])
        message = (
            f"{label}: the tokens differ from greedy decoding from new token {col - t0} on "
            f"(row {row}: expected {want[row, t0:].tolist()}, got {out[row, t0:].tolist()})."
        )
        match = next((k for k, path in hints.items() if np.array_equal(out, path)), None)
        if match:
            message += f" This matches what you get when {match}."
        elif want.shape[1] > MAX_LEN:
            message += (
                f" The toy model's max_len is {MAX_LEN}: feed it the last model.max_len tokens "
                "(ids[:, -model.max_len:]) and take the logits of the last position."
            )
        return failed(message)

    return evaluate


def _shape_and_prompt(key, prompt, n):
    def evaluate(outcome):
        out, verdict = _get(outcome, key, (prompt.shape[0], prompt.shape[1] + n))
        if verdict:
            return verdict
        if not np.array_equal(out[:, : prompt.shape[1]], prompt):
            return failed("The output must start with the prompt itself (the prompt is kept).")
        if out.min() < 0 or out.max() >= VOCAB:
            return failed(f"Token ids must be in [0, vocab_size={VOCAB}).")
        return passed()

    return evaluate


def _allowed(logits, top_k=None, top_p=None, slack=1e-4):
    """Tokens a correct sampler may pick: the reference set, with float32 rounding slack."""
    keep = np.ones(logits.shape, bool)
    if top_k is not None:
        kth = np.sort(logits, -1)[:, -top_k][:, None]
        keep &= logits >= kth - slack
    if top_p is not None:
        masked = np.where(keep, logits, -np.inf)
        order = np.argsort(-masked, -1)
        probs = softmax(np.take_along_axis(masked, order, -1))
        before = np.cumsum(probs, -1) - probs
        keep &= np.take_along_axis(before < top_p + slack, np.argsort(order, -1), -1)
    return keep


def _in_set(toy, key, prompt, n, kwargs):
    what = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k != "seed")

    def evaluate(outcome):
        out, verdict = _get(outcome, key, (prompt.shape[0], prompt.shape[1] + n))
        if verdict:
            return verdict
        t0 = prompt.shape[1]
        if not np.array_equal(out[:, :t0], prompt):
            return failed("The output must start with the prompt itself (the prompt is kept).")
        for i in range(n):
            logits = toy.next_logits(out[:, : t0 + i])
            keep = _allowed(logits, kwargs.get("top_k"), kwargs.get("top_p"))
            picked = out[:, t0 + i]
            bad = np.flatnonzero(~keep[np.arange(len(picked)), picked])
            if bad.size:
                row = int(bad[0])
                return failed(
                    f"With {what}, new token {i} of row {row} is {int(picked[row])}, outside the "
                    f"allowed set {np.flatnonzero(keep[row]).tolist()} (the logits of the last "
                    "position of the cropped context, filtered with filter_logits)."
                )
        return passed()

    return evaluate


def _same_seed(prompt, n):
    def evaluate(outcome):
        first, verdict = _get(outcome, "gen_seed_a", (prompt.shape[0], prompt.shape[1] + n))
        if verdict:
            return verdict
        second, verdict = _get(outcome, "gen_seed_b", first.shape)
        if verdict:
            return verdict
        if np.array_equal(first, second):
            return passed()
        return failed(
            "Two calls with seed=11 gave different tokens: create the random generator from "
            "the seed at the start of generate (np.random.default_rng(seed) or "
            "keras.random.SeedGenerator(seed)), so the same seed gives the same output."
        )

    return evaluate


def _distribution(toy, prompt):
    right, wrong = _distributions(toy, prompt)

    def evaluate(outcome):
        out, verdict = _get(outcome, "gen_dist", (DRAWS, prompt.shape[1] + 1))
        if verdict:
            return verdict
        counts = np.bincount(out[:, -1], minlength=VOCAB)[:VOCAB] / DRAWS
        distance = _tv(counts, right)
        if distance <= TV_PASS:
            return passed()
        message = (
            f"{DRAWS} samples of the first new token at temperature={TEMPERATURE} are "
            f"{distance:.2f} (total variation) from softmax(logits / temperature); at most "
            f"{TV_PASS} is expected."
        )
        label = min(wrong, key=lambda k: _tv(counts, wrong[k]))
        if _tv(counts, wrong[label]) <= TV_PASS:
            message += f" They match what you get when {label}."
        return failed(message)

    return evaluate


def generate_group(rng):
    """The generate job and its checks."""
    toy, prompts, greedy = _draw(rng)
    inputs = {f"toy_{k}": v for k, v in toy.weights.items()}
    inputs.update({f"{cid}_prompt": p.astype("int32") for cid, p in prompts.items()})
    built = construct(
        "toy",
        "site:grader_support.a3_support:ToyLM",
        {k: arr(f"toy_{k}") for k in toy.weights},
        [],
        {},
    )
    built["build"] = None
    calls, checks = [built], []

    def gen(call_id, prompt_key, n, **kwargs):
        prompt = {"array": f"{prompt_key}_prompt", "as": "numpy"}
        calls.append(function(call_id, "generate", obj("toy"), prompt, n, **kwargs))

    for cid, label, _, n, kwargs in GREEDY_CASES:
        gen(cid, cid, n, **kwargs)
        weight = 2.0 if cid == "gen_greedy" else 1.0
        checks.append(
            Check(
                f"{UNIT}: {label}",
                UNIT,
                _equal_path(
                    cid, prompts[cid], greedy[cid], label, toy.greedy_hints(prompts[cid], n)
                ),
                weight,
            )
        )
    checks.insert(
        1,
        Check(
            f"{UNIT}: returns (B, T0 + max_new_tokens) ids starting with the prompt",
            UNIT,
            _shape_and_prompt("gen_greedy", prompts["gen_greedy"], GREEDY_CASES[0][3]),
        ),
    )
    for cid, label, _, n, kwargs in SET_CASES:
        gen(cid, cid, n, temperature=1.0, seed=5, **kwargs)
        checks.append(Check(f"{UNIT}: {label}", UNIT, _in_set(toy, cid, prompts[cid], n, kwargs)))
    for suffix in ("a", "b"):
        gen(f"gen_seed_{suffix}", "gen_seed", 10, temperature=1.0, top_k=6, seed=11)
    checks.append(
        Check(
            f"{UNIT}: the same seed gives the same tokens",
            UNIT,
            _same_seed(prompts["gen_seed"], 10),
        )
    )
    gen("gen_dist", "gen_dist", 1, temperature=TEMPERATURE, seed=13)
    checks.append(
        Check(
            f"{UNIT}: samples follow softmax(logits / temperature) (temperature={TEMPERATURE})",
            UNIT,
            _distribution(toy, prompts["gen_dist"]),
        )
    )
    group = Group(
        "generate",
        calls,
        inputs,
        support=("a3_support.py",),
        inject={"filter_logits": "grader_support.a3_support:filter_logits"},
    )
    return group, checks
