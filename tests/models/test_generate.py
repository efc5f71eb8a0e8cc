"""Sampling and GPT generation: filters, seeds, greedy, padding, the cache, cropping, errors."""

import os

import numpy as np
import pytest

from course_lib.generation import filter_logits, generate, sample_next
from tests.models.test_gpt import MAX_LEN, VOCAB, make_gpt


@pytest.fixture(scope="module")
def gpt():
    """One random GPT per module run: its compiled generation functions are traced once."""
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"gpt weights seed = {seed}")
    return make_gpt(np.random.default_rng(seed), scale=0.3)


def test_top_p_keeps_exactly_the_nucleus():
    """On hand-made distributions, is the kept set the smallest whose mass reaches p?"""
    probs = np.array([[0.04, 0.5, 0.1, 0.3, 0.06], [0.9, 0.04, 0.03, 0.02, 0.01]])
    logits = np.log(probs)
    cases = {
        0.45: [[1], [0]],
        0.7: [[1, 3], [0]],
        0.85: [[1, 3, 2], [0]],
        0.93: [[1, 3, 2, 4], [0, 1]],
        1.0: [[0, 1, 2, 3, 4]] * 2,
    }
    for p, expected in cases.items():
        kept = np.isfinite(np.asarray(filter_logits(logits, top_p=p)))
        for row, want in zip(kept, expected, strict=True):
            assert sorted(np.flatnonzero(row)) == sorted(want), (p, row)


def test_top_p_tiny_keeps_the_most_likely_token(rng):
    """Is the nucleus never empty, even for p close to 0?"""
    logits = rng.normal(size=(4, 9))
    kept = np.isfinite(np.asarray(filter_logits(logits, top_p=1e-6)))
    assert (kept.sum(-1) == 1).all() and (kept.argmax(-1) == logits.argmax(-1)).all()


def test_top_k_keeps_the_k_largest_and_sets_minus_inf(rng):
    """Does top_k keep the k largest values unchanged and set the rest to -inf?"""
    logits = rng.normal(size=(3, 10)).astype("float32")
    out = np.asarray(filter_logits(logits, top_k=3))
    top3 = np.argsort(-logits, axis=-1)[:, :3]
    for row in range(3):
        assert set(np.flatnonzero(np.isfinite(out[row]))) == set(top3[row])
        np.testing.assert_array_equal(out[row, top3[row]], logits[row, top3[row]])
    assert np.isneginf(out[np.isinf(out)]).all()
    np.testing.assert_array_equal(np.asarray(filter_logits(logits, top_k=10)), logits)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(top_p=0.0), "top_p"),
        (dict(top_p=1.5), "top_p"),
        (dict(top_k=0), "top_k"),
        (dict(temperature=-0.5), "temperature"),
    ],
)
def test_bad_sampling_arguments_are_clear_errors(gpt, kwargs, message):
    """Are top_p outside (0, 1], top_k < 1 and a negative temperature ValueErrors naming them?"""
    with pytest.raises(ValueError, match=message):
        generate(gpt, np.array([[1, 2]]), 3, **kwargs)


def test_sample_next_follows_the_filtered_distribution(rng):
    """Over 4000 draws, are frequencies those of softmax(top-k logits / T) within 3%?"""
    logits = rng.normal(size=(1, 6)) * 2
    draws = np.concatenate(
        [sample_next(np.repeat(logits, 500, 0), 0.7, top_k=4, rng=s) for s in range(8)]
    )
    z = np.where(np.isfinite(np.asarray(filter_logits(logits, top_k=4))), logits / 0.7, -np.inf)
    want = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(np.bincount(draws, minlength=6) / draws.size, want[0], atol=0.03)


def test_seeded_sampling_is_reproducible(gpt, rng):
    """Does the same seed give the same tokens, and another seed different ones?"""
    prompt = rng.integers(0, VOCAB, size=(2, 3))
    a = generate(gpt, prompt, 8, temperature=1.5, seed=7)
    np.testing.assert_array_equal(a, generate(gpt, prompt, 8, temperature=1.5, seed=7))
    others = [generate(gpt, prompt, 8, temperature=1.5, seed=s) for s in range(8, 11)]
    assert any((a != o).any() for o in others)
    np.testing.assert_array_equal(a[:, :3], prompt)


def test_greedy_equals_argmax_of_full_forward(gpt, rng):
    """With temperature=0, is each new token the argmax of the full forward pass?"""
    prompt = rng.integers(0, VOCAB, size=(3, 4))
    out = generate(gpt, prompt, MAX_LEN - 4, temperature=0)
    logits = np.asarray(gpt(out[:, :-1]))
    np.testing.assert_array_equal(out[:, 4:], logits[:, 3:].argmax(-1))


@pytest.mark.parametrize("jit_compile", [True, False], ids=["xla-step", "graph-step"])
def test_cached_and_uncached_generation_agree_past_max_len(gpt, rng, jit_compile):
    """Over 2 * max_len tokens (cache full, then crop), are greedy tokens identical?"""
    prompt = rng.integers(0, VOCAB, size=(2, 5))
    cached = generate(gpt, prompt, 2 * MAX_LEN, temperature=0, jit_compile=jit_compile)
    uncached = generate(gpt, prompt, 2 * MAX_LEN, temperature=0, use_cache=False)
    np.testing.assert_array_equal(cached, uncached)
    # Past the context, each token is the argmax over the last max_len tokens only.
    t = 5 + MAX_LEN + 3
    window = cached[:, t - MAX_LEN : t]
    np.testing.assert_array_equal(cached[:, t], np.asarray(gpt(window))[:, -1].argmax(-1))


def test_seeded_sampling_is_the_same_with_and_without_cache(gpt, rng):
    """With a seed and top-p, do cached and uncached generation draw the same tokens?"""
    prompt = rng.integers(0, VOCAB, size=(2, 3))
    kwargs = dict(temperature=1.2, top_p=0.9, seed=int(rng.integers(1000)))
    np.testing.assert_array_equal(
        generate(gpt, prompt, 9, use_cache=True, **kwargs),
        generate(gpt, prompt, 9, use_cache=False, **kwargs),
    )


@pytest.mark.parametrize("use_cache", [True, False])
def test_batched_left_padded_prompts_equal_each_prompt_alone(gpt, rng, use_cache):
    """Do left-padded prompts of lengths 2, 5 and 4 generate what each generates alone?"""
    lengths = [2, 5, 4]
    prompts = [rng.integers(1, VOCAB, size=n) for n in lengths]
    batch = np.zeros((3, 5), "int32")
    for row, p in zip(batch, prompts, strict=True):
        row[5 - len(p) :] = p
    out = generate(gpt, batch, 15, temperature=0, pad_id=0, use_cache=use_cache)
    for row, p in zip(out, prompts, strict=True):
        alone = generate(gpt, p[None], 15, temperature=0, use_cache=use_cache)[0]
        np.testing.assert_array_equal(row[5 - len(p) :], alone)


def test_right_padded_prompts_are_refused(gpt):
    """Is a prompt ending in pad_id a clear error asking for left padding?"""
    with pytest.raises(ValueError, match="left-padded"):
        generate(gpt, np.array([[3, 4, 0]]), 2, pad_id=0)


def test_prompt_longer_than_context_without_cropping_is_an_error(gpt, rng):
    """With crop_context=False, is exceeding max_len a ValueError naming max_len?"""
    prompt = rng.integers(0, VOCAB, size=(1, MAX_LEN + 2))
    with pytest.raises(ValueError, match="max_len=12"):
        generate(gpt, prompt, 1, crop_context=False)
    assert generate(gpt, prompt, 3, temperature=0).shape == (1, MAX_LEN + 5)
