"""The a3_gpt `generate` checks: the student's generate drives a toy LM built in the jail.

The toy model (`support/toy_lm.py`, float64 twin in toy.py) is built in the sandbox from the
grader's random weights and passed to the student's `generate` with `obj("toy")`; the
reference `filter_logits` is injected. Every check is decided here, in the parent, by
recomputing the toy model's float64 logits along the returned sequences: greedy paths, the
top-k / top-p set of every sampled token, and the distribution of a first token at
temperature 2.
"""

import numpy as np

from autograder.assignments.a3_gpt.suite.toy import (
    DRAWS,
    GREEDY_CASES,
    MAX_LEN,
    SET_CASES,
    TEMPERATURE,
    TV_PASS,
    VOCAB,
    distributions,
    draw,
    tv,
)
from autograder.assignments.a3_gpt.support import toy_lm
from autograder.grading.calls import arr, construct, function, obj
from autograder.grading.checks import gated
from autograder.grading.compare import failed, passed
from autograder.grading.numpy_models import softmax
from autograder.grading.plan import Check, Group, Missing
from autograder.grading.site import support_name

UNIT = "generate"


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
    right, wrong = distributions(toy, prompt)

    def evaluate(outcome):
        out, verdict = _get(outcome, "gen_dist", (DRAWS, prompt.shape[1] + 1))
        if verdict:
            return verdict
        counts = np.bincount(out[:, -1], minlength=VOCAB)[:VOCAB] / DRAWS
        distance = tv(counts, right)
        if distance <= TV_PASS:
            return passed()
        message = (
            f"{DRAWS} samples of the first new token at temperature={TEMPERATURE} are "
            f"{distance:.2f} (total variation) from softmax(logits / temperature); at most "
            f"{TV_PASS} is expected."
        )
        label = min(wrong, key=lambda k: tv(counts, wrong[k]))
        if tv(counts, wrong[label]) <= TV_PASS:
            message += f" They match what you get when {label}."
        return failed(message)

    return evaluate


def generate_group(rng):
    """The generate job and its checks."""
    toy, prompts, greedy = draw(rng)
    inputs = {f"toy_{k}": v for k, v in toy.weights.items()}
    inputs.update({f"{cid}_prompt": p.astype("int32") for cid, p in prompts.items()})
    built = construct(
        "toy",
        support_name(toy_lm.__file__, "ToyLM"),
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
    # Greedy decoding stays inside every top-k / top-p set and repeats itself for any seed:
    # those checks pay only when the samples follow the distribution.
    sampled = _distribution(toy, prompts["gen_dist"])
    sampled_what = "the distribution of the samples"
    for cid, label, _, n, kwargs in SET_CASES:
        gen(cid, cid, n, temperature=1.0, seed=5, **kwargs)
        evaluate = gated(sampled, _in_set(toy, cid, prompts[cid], n, kwargs), sampled_what)
        checks.append(Check(f"{UNIT}: {label}", UNIT, evaluate))
    for suffix in ("a", "b"):
        gen(f"gen_seed_{suffix}", "gen_seed", 10, temperature=1.0, top_k=6, seed=11)
    checks.append(
        Check(
            f"{UNIT}: the same seed gives the same tokens",
            UNIT,
            gated(sampled, _same_seed(prompts["gen_seed"], 10), sampled_what),
        )
    )
    gen("gen_dist", "gen_dist", 1, temperature=TEMPERATURE, seed=13)
    checks.append(
        Check(
            f"{UNIT}: samples follow softmax(logits / temperature) (temperature={TEMPERATURE})",
            UNIT,
            sampled,
        )
    )
    group = Group(
        "generate",
        calls,
        inputs,
        site_modules=("generation/sampling.py",),
        support=(toy_lm.__file__,),
        inject={"filter_logits": "course_lib.generation.sampling:filter_logits"},
    )
    return group, checks
