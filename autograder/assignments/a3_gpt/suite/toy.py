"""The toy LM the a3_gpt `generate` checks drive, its float64 logits, and the cases drawn for it.

The same model is built in the jail from `support/toy_lm.py`; the parent recomputes its
logits along the returned sequences. `draw` redraws weights and prompts until every greedy
path is unambiguous and every named sampling bug is clearly apart from the right distribution.
"""

import numpy as np

from autograder.assignments.a3_gpt.support import toy_lm
from autograder.grading.numpy_models import softmax

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
        return toy_lm.toy_logits_np(context, **self.weights)[:, position]

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
        return {label: self.greedy(prompt, steps, **bug)[0] for label, bug in GREEDY_BUGS.items()}


# The greedy-decoding bugs a hint names, as the `Toy.next_logits` arguments that reproduce them.
GREEDY_BUGS = {
    "the logits of the first position are used instead of the last ([:, -1])": {"position": 0},
    "the context is cropped to the first max_len tokens instead of the last "
    "(ids[:, -model.max_len:])": {"crop_first": True},
}


def tv(p, q):
    return 0.5 * float(np.abs(p - q).sum())


def distributions(toy, prompt):
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


def draw(rng):
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
        right, wrong = distributions(toy, prompts["gen_dist"])
        if (
            min(m for _, m in greedy.values()) >= GREEDY_MARGIN
            and all(tv(right, q) >= TV_GAP for q in wrong.values())
            and all(_shows(toy, prompts, greedy, bug) for bug in GREEDY_BUGS.values())
        ):
            return toy, prompts, {cid: path for cid, (path, _) in greedy.items()}
    raise RuntimeError("could not draw a toy model with clear greedy margins")


def _shows(toy, prompts, greedy, bug):
    """Whether some greedy case's path under `bug` differs from the right one, by clear margins.

    Only then does a float32 implementation with that bug reproduce the float64 path exactly,
    so that its hint is named (a path near a tie could go either way).
    """
    for cid, _, _, n, _ in GREEDY_CASES:
        path, margin = toy.greedy(prompts[cid], n, **bug)
        if margin >= GREEDY_MARGIN and not np.array_equal(path, greedy[cid][0]):
            return True
    return False
