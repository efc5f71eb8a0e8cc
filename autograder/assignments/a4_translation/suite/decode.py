"""The greedy_decode group of the a4_translation suite: the grader's models, expected rows, checks.

`greedy_decode` runs in the sandbox on models built there from `support/toy_models.py`:
`RunningSumModel`, a toy whose greedy output the grader chooses (rows that end at chosen
steps, one that never ends), and course_lib's `Seq2SeqTransformer` (shipped from
course_lib/models/seq2seq.py: greedy_decode is not graded by it) with the grader's weights.
Rows are compared up to and including their first end_id.
"""

import warnings

import numpy as np

from autograder.assignments.a4_translation.suite import hints as variants
from autograder.assignments.a4_translation.suite.models import (
    DECODE_LAYERS,
    FF_DIM,
    GIVEN_INJECT,
    GIVEN_SITE,
    NUM_HEADS,
    S2S,
    padded_ids,
    reference_model,
    seq2seq_weights,
)
from autograder.assignments.a4_translation.support import toy_models
from autograder.grading.calls import arr, construct, function, obj
from autograder.grading.compare import failed, passed
from autograder.grading.plan import Check, Group, Missing
from autograder.grading.site import support_name
from autograder.grading.weights import add_weights

TOY_VOCAB = 13


def _toy_case(rng, ends, max_len, start_id, end_id):
    """Sources for `RunningSumModel` whose greedy rows end at `ends` (None: never) and the output.

    Returns `(source (B, max_len - 1), full greedy output (B, max_len))`.
    """
    others = [v for v in range(3, TOY_VOCAB) if v not in (start_id, end_id)]
    out = np.empty((len(ends), max_len), "int64")
    out[:, 0] = start_id
    out[:, 1:] = rng.choice(others, size=(len(ends), max_len - 1))
    for row, end in enumerate(ends):
        if end is not None:
            out[row, end] = end_id
    source = np.mod(np.diff(out, axis=1), TOY_VOCAB).astype("int32")
    return source, out.astype("int32")


def _toy_greedy(source, start_id, max_len, mode="right"):
    """What `RunningSumModel` yields under a correct greedy decode, or a known buggy one."""
    out = np.full((source.shape[0], 1), start_id, "int64")
    for t in range(max_len - 1):
        if mode == "last_token_only":  # the model sees a single token at position 0
            nxt = source[:, 0] + out[:, -1]
        elif mode == "first_position":  # logits[:, 0] instead of logits[:, -1]
            nxt = source[:, 0] + out[:, 0]
        else:
            nxt = source[:, t] + out[:, t]
        out = np.concatenate([out, np.mod(nxt, TOY_VOCAB)[:, None]], axis=1)
    return out


def _trim(row, end_id):
    """The row up to and including its first `end_id` (the whole row if there is none)."""
    hits = np.flatnonzero(row == end_id)
    return row[: hits[0] + 1] if hits.size else row


def decode_check(key, full, start_id, end_id, max_len, hints=None):
    """A check function for greedy_decode: each row equals `full`'s row up to its first end_id."""
    want = [_trim(row, end_id) for row in np.asarray(full)]

    def evaluate(outcome):
        try:
            got = np.asarray(outcome.get(key))
        except Missing as err:
            return failed(str(err))
        if got.ndim != 2 or got.shape[0] != len(want):
            return failed(
                f"Expected ids of shape (B={len(want)}, L <= max_len={max_len}), got shape "
                f"{got.shape}."
            )
        if got.shape[1] > max_len:
            return failed(
                f"The output has {got.shape[1]} tokens per row, more than max_len={max_len} "
                "(start_id counts towards max_len)."
            )
        if got.size and not np.all(got[:, 0] == start_id):
            return failed(
                f"Every row must start with start_id={start_id}; the first column is "
                f"{got[:, 0].tolist()}."
            )
        for i, row in enumerate(want):
            mine = got[i, : len(row)]
            if len(mine) < len(row) or not np.array_equal(mine, row):
                message = (
                    f"Row {i} differs from the greedy decode: expected {row.tolist()} "
                    f"(graded up to and including its first end_id={end_id}), got "
                    f"{got[i].tolist()}."
                )
                if len(mine) < len(row) and np.array_equal(mine, row[: len(mine)]):
                    message += (
                        " The row stops too early: decoding must go on until every row has "
                        "produced end_id (or max_len is reached), not stop when one row ends."
                    )
                label = _matching_decode(got, hints or {}, end_id)
                if label:
                    message += f" Your output matches what you get when {label}."
                return failed(message)
        return passed()

    return evaluate


def _matching_decode(got, hints, end_id):
    for label, full in hints.items():
        rows = [_trim(row, end_id) for row in np.asarray(full)]
        if all(np.array_equal(got[i, : len(r)], r) for i, r in enumerate(rows)):
            return label
    return None


LAST_TOKEN_ONLY = (
    "only the last generated token is fed to the model (the decoder must see the whole prefix, "
    "start_id included, at every step)"
)
FIRST_POSITION = (
    "the next token is read from the logits of the first position instead of the last "
    "(logits[:, -1])"
)


def _full_greedy(logits_fn, src, start_id, max_len):
    """Greedy decoding by recomputing the whole prefix each step (no end_id: full length)."""
    out = np.full((src.shape[0], 1), start_id, "int32")
    for _ in range(max_len - 1):
        logits = np.asarray(logits_fn(src, out))[:, -1]
        out = np.concatenate([out, np.argmax(logits, -1).astype("int32")[:, None]], axis=1)
    return out


def _reference_decode_case(rng, max_len, attempts=40):
    """Weights, source and the greedy decode of a course_lib model, with a clear argmax.

    Candidates are decoded with the float64 numpy model (fast); the chosen one is decoded
    again with the course_lib `Seq2SeqTransformer`, which must agree (it is the reference;
    tests/autograder/test_suite_a4.py also checks `course_lib.generation.greedy_decode`).
    The end_id is chosen after decoding (the greedy path does not depend on it) among
    tokens whose first occurrences end the rows at different steps (or not at all). Large
    embeddings keep the random model from repeating one token.
    """
    s = 8
    kw = dict(num_layers=DECODE_LAYERS, num_heads=NUM_HEADS)
    best = None
    for _ in range(attempts):
        weights = seq2seq_weights(rng, DECODE_LAYERS, head_scale=1.0, embedding_scale=1.5)
        src = padded_ids([8, 5, 3, 6], s, 0, rng, S2S["src_vocab"])
        start_id = 1

        def logits_np(source, target, weights=weights):
            return variants.seq2seq_np(source, target, weights, **kw)

        full = _full_greedy(logits_np, src, start_id, max_len)
        top2 = np.sort(logits_np(src, full[:, :-1]), axis=-1)[..., -2:]
        if np.min(top2[..., 1] - top2[..., 0]) < 0.05:  # no near ties along the path
            continue
        end_id, score = _pick_end(full, start_id)
        if end_id is not None and (best is None or score > best[0]):
            best = (score, (weights, src, start_id, end_id, full))
            if score >= 3:
                break
    if best is None:
        raise RuntimeError("no reference decode with a clear argmax found")
    weights, src, start_id, end_id, full = best[1]
    with warnings.catch_warnings():  # Keras warns about the softmax over one key at step 1
        warnings.simplefilter("ignore")
        model = reference_model(weights, src, full[:, :1], DECODE_LAYERS)
        reference = _full_greedy(lambda a, b: model((a, b)), src, start_id, max_len)
    if not np.array_equal(reference, full):
        raise RuntimeError("the numpy and course_lib models disagree on the greedy decode")
    return weights, src, start_id, end_id, full


def _pick_end(full, start_id):
    """`(token, score)`: the token whose first occurrences end the rows at the most distinct steps."""
    best = (None, 0)
    for token in np.unique(full[:, 1:]):
        if token == start_id:
            continue
        steps = set()
        for row in full:
            hits = np.flatnonzero(row[1:] == token)
            steps.add(int(hits[0]) if hits.size else -1)
        if len(steps) > best[1]:
            best = (int(token), len(steps))
    return best


def decode_group(rng, expected):
    """The decode group; `expected[call id] = (full greedy output, hints)` (rows untrimmed)."""
    inputs, calls, checks = {}, [], []
    unit = "greedy_decode"
    toy_cases = (
        (
            "gd_toy",
            "toy model: rows end at different steps, one never",
            (3, None, 1, 7, 5),
            8,
            1,
            2,
        ),
        ("gd_toy2", "toy model: start_id=5, end_id=9", (4, 2, None), 6, 5, 9),
    )
    for call_id, label, ends, max_len, start_id, end_id in toy_cases:
        source, full = _toy_case(rng, ends, max_len, start_id, end_id)
        assert np.array_equal(_toy_greedy(source, start_id, max_len), full)
        inputs[f"{call_id}_src"] = source
        toy = construct(
            f"{call_id}_model",
            support_name(toy_models.__file__, "RunningSumModel"),
            {"vocab_size": TOY_VOCAB, "max_len": max_len},
            [],
            {},
        )
        toy["build"] = None
        calls += [
            toy,
            function(
                call_id,
                "greedy_decode",
                obj(f"{call_id}_model"),
                arr(f"{call_id}_src"),
                start_id,
                end_id,
                max_len,
            ),
        ]
        hints = {
            LAST_TOKEN_ONLY: _toy_greedy(source, start_id, max_len, "last_token_only"),
            FIRST_POSITION: _toy_greedy(source, start_id, max_len, "first_position"),
        }
        expected[call_id] = (full, hints)
        checks.append(
            Check(
                f"{unit}: {label}",
                unit,
                decode_check(call_id, full, start_id, end_id, max_len, hints),
                2.0,
            )
        )

    max_len = 10
    weights, src, start_id, end_id, full = _reference_decode_case(rng, max_len)
    names = add_weights(inputs, "gd", weights)
    inputs["gd_src"] = src
    inputs["gd_tgt0"] = np.full((src.shape[0], 1), start_id, "int32")
    model_kwargs = {**S2S, "num_layers": DECODE_LAYERS, "ff_dim": FF_DIM}
    calls += [
        construct(
            "gd_ref_model",
            "site:course_lib.models.seq2seq:Seq2SeqTransformer",
            model_kwargs,
            [[arr("gd_src"), arr("gd_tgt0")]],
            names,
        ),
        function(
            "gd_ref",
            "greedy_decode",
            obj("gd_ref_model"),
            arr("gd_src"),
            start_id,
            end_id,
            max_len,
        ),
    ]
    checks.append(
        Check(
            f"{unit}: a Seq2SeqTransformer with the grader's weights, padded sources",
            unit,
            decode_check("gd_ref", full, start_id, end_id, max_len),
            2.0,
        )
    )
    group = Group(
        "decode",
        calls,
        inputs,
        site_modules=GIVEN_SITE + ("models/seq2seq.py",),
        inject=dict(GIVEN_INJECT),
        support=(toy_models.__file__,),
    )
    expected["gd_ref"] = (full, {})
    return group, checks
