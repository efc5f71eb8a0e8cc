"""Float64 NumPy versions of the a3_gpt units, with switches that reproduce common student bugs.

The suite computes its reference outputs with course_lib; these variants only name the
likely mistake when a submission's output matches one of them.
"""

import math

import numpy as np

from autograder.grading.numpy_models import layer_norm_np, mha_np, softmax

# GPTBlock ---------------------------------------------------------------------------------


def activation_np(y, activation):
    if activation == "gelu":
        return 0.5 * y * (1.0 + np.vectorize(math.erf)(y / math.sqrt(2.0)))
    if activation == "gelu_tanh":
        return 0.5 * y * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (y + 0.044715 * y**3)))
    if activation == "relu":
        return np.maximum(y, 0.0)
    return y


def mlp_np(x, weights, activation="gelu"):
    k1, b1 = (np.asarray(w, np.float64) for w in weights["dense1"])
    k2, b2 = (np.asarray(w, np.float64) for w in weights["dense2"])
    return activation_np(x @ k1 + b1, activation) @ k2 + b2


def gpt_block_np(
    x,
    weights,
    num_heads,
    *,
    post_norm=False,
    causal=True,
    activation="gelu",
    eps=1e-6,
    residual_attn=True,
    residual_mlp=True,
    shared_norm=False,
    residual_from_norm=False,
):
    """The GPT block in float64; `weights` holds wq, wk, wv, wo, dense1, dense2, ln1, ln2."""
    x = np.asarray(x, np.float64)
    ln1 = weights["ln1"]
    ln2 = weights["ln1"] if shared_norm else weights["ln2"]
    if post_norm:
        x = layer_norm_np(x + mha_np(x, x, weights, num_heads, causal=causal)[0], ln1, eps)
        return layer_norm_np(x + mlp_np(x, weights, activation), ln2, eps)
    h = layer_norm_np(x, ln1, eps)
    attended = mha_np(h, h, weights, num_heads, causal=causal)[0]
    base = h if residual_from_norm else x
    x = base + attended if residual_attn else attended
    h = layer_norm_np(x, ln2, eps)
    fed = mlp_np(h, weights, activation)
    base = h if residual_from_norm else x
    return base + fed if residual_mlp else fed


PRE_NORM_BUG = (
    "LayerNorm is applied after each residual sum (post-norm, x = ln(x + sublayer(x))) "
    "instead of before each sublayer (pre-norm, x = x + sublayer(ln(x)))"
)
NO_CAUSAL_BUG = (
    "the causal mask is missing: every position attends to later positions too "
    "(pass use_causal_mask=True to the attention)"
)


def gpt_block_hints(x, weights, num_heads):
    """{label: array} of buggy GPT block outputs."""
    args = (x, weights, num_heads)
    return {
        PRE_NORM_BUG: gpt_block_np(*args, post_norm=True),
        NO_CAUSAL_BUG: gpt_block_np(*args, causal=False),
        "the residual connection around the attention is missing": gpt_block_np(
            *args, residual_attn=False
        ),
        "the residual connection around the MLP is missing": gpt_block_np(
            *args, residual_mlp=False
        ),
        "the residual adds the normalised input ln(x) instead of x itself "
        "(x = x + sublayer(ln(x)))": gpt_block_np(*args, residual_from_norm=True),
        "ln1 is used before both sublayers (ln2 is never used)": gpt_block_np(
            *args, shared_norm=True
        ),
        'the MLP uses ReLU instead of activation="gelu"': gpt_block_np(*args, activation="relu"),
        "the MLP uses the tanh approximation of GELU instead of the exact GELU "
        '(FeedForward(..., activation="gelu"))': gpt_block_np(*args, activation="gelu_tanh"),
        "LayerNormalization uses its default epsilon 1e-3 instead of epsilon=1e-6": gpt_block_np(
            *args, eps=1e-3
        ),
    }


# TokenAndPositionEmbedding -------------------------------------------------------------------


def embedding_hints(ids, table, positions):
    """{label: array} of buggy embeddings of `ids` (B, T)."""
    ids = np.asarray(ids)
    length, max_len = ids.shape[1], positions.shape[0]
    tokens = np.asarray(table, np.float64)[ids]
    pos = np.asarray(positions, np.float64)
    hints = {
        "the position embeddings are not added": tokens,
        "the token embeddings are scaled by sqrt(d_model) (the sinusoidal-encoding recipe; "
        "here the two learned embeddings are simply added)": tokens * math.sqrt(table.shape[1])
        + pos[:length],
    }
    if length < max_len:
        hints["positions start at 1 instead of 0"] = tokens + pos[1 : length + 1]
        hints["positions count from the end (max_len - T ... max_len - 1)"] = (
            tokens + pos[max_len - length :]
        )
    if ids.max() < max_len:
        hints["the position embedding is looked up with the token ids instead of 0..T-1"] = (
            tokens + pos[ids]
        )
    return hints


# make_lm_example -----------------------------------------------------------------------------


def lm_example_hints(ids, index):
    """{label: array} for `.0` (inputs) or `.1` (targets) of buggy make_lm_example outputs."""
    ids = np.asarray(ids)
    variants = {
        "inputs and targets are swapped (inputs = ids[:, :-1], targets = ids[:, 1:])": (
            ids[:, 1:],
            ids[:, :-1],
        ),
        "the targets are not shifted (a model would learn to copy its input)": (ids, ids),
        "the shift is along the batch axis instead of the time axis": (ids[:-1], ids[1:]),
    }
    return {label: pair[index] for label, pair in variants.items()}


# lm_loss -----------------------------------------------------------------------------------


def lm_loss_np(logits, targets, pad_id=0, mode="mean"):
    """The masked LM loss in float64; `mode` reproduces common bugs."""
    logits = np.asarray(logits, np.float64)
    targets = np.asarray(targets)
    if mode == "probabilities":  # from_logits=False on logits: Keras renormalises and clips
        p = logits / logits.sum(-1, keepdims=True)
        p = np.clip(p, 1e-7, 1 - 1e-7)
        nll = -np.log(np.take_along_axis(p, targets[..., None], -1)[..., 0])
    else:
        z = logits - logits.max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        nll = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    keep = targets != (0 if mode == "pad_zero" else pad_id)
    if mode == "all":
        return nll.mean()
    if mode == "divide_all":
        return (nll * keep).sum() / nll.size
    if mode == "sum":
        return (nll * keep).sum()
    if mode == "per_row":
        rows = (nll * keep).sum(-1) / np.maximum(keep.sum(-1), 1)
        return rows.mean()
    return (nll * keep).sum() / max(keep.sum(), 1)


def lm_loss_hints(logits, targets, pad_id=0):
    hints = {
        "padding is not ignored (the mean runs over every position, pads included)": lm_loss_np(
            logits, targets, pad_id, "all"
        ),
        "the sum over non-pad targets is divided by the number of all positions instead of "
        "the number of non-pad targets": lm_loss_np(logits, targets, pad_id, "divide_all"),
        "the loss is summed instead of averaged": lm_loss_np(logits, targets, pad_id, "sum"),
        "each row is averaged first, then the rows (the mean must be over all non-pad "
        "targets of the batch)": lm_loss_np(logits, targets, pad_id, "per_row"),
        "the logits are used as probabilities (from_logits=False)": lm_loss_np(
            logits, targets, pad_id, "probabilities"
        ),
    }
    if pad_id != 0:
        hints["the pad_id argument is ignored (0 is always treated as padding)"] = lm_loss_np(
            logits, targets, pad_id, "pad_zero"
        )
    return hints


# filter_logits ------------------------------------------------------------------------------


def _top_k_mask(x, k, ties=True):
    if k is None or k >= x.shape[-1]:
        return np.ones(x.shape, bool)
    if ties:
        kth = np.sort(x, axis=-1)[..., ::-1][..., k - 1 : k]
        return x >= kth
    order = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    mask = np.zeros(x.shape, bool)
    np.put_along_axis(mask, order, True, axis=-1)
    return mask


def _top_p_mask(x, p, mode="before"):
    if p is None:
        return np.ones(x.shape, bool)
    order = np.argsort(-x, axis=-1, kind="stable")
    # float32 like the students' keras.ops code: the exact-boundary case is exact in float32.
    sorted_x = np.take_along_axis(x, order, -1).astype(np.float32)
    probs = softmax(sorted_x)
    cum = np.cumsum(probs, -1, dtype=np.float32)
    if mode == "before":
        keep = cum - probs < p
    elif mode == "inclusive":  # keeps only the tokens with cum <= p (drops the one crossing p)
        keep = cum <= p
    elif mode == "strict":
        keep = cum < p
    elif mode == "shift":  # remove = cum > p, shifted right by one (keeps one more on a tie)
        remove = cum > p
        remove[..., 1:] = remove[..., :-1].copy()
        remove[..., 0] = False
        keep = ~remove
    else:
        raise ValueError(mode)
    return np.take_along_axis(keep, np.argsort(order, axis=-1), -1)


def filter_mask(x, top_k=None, top_p=None, *, ties=True, mode="before", top_p_first=False):
    """The kept entries (bool) of `filter_logits(x, top_k, top_p)` in float64, with bug switches."""
    x = np.asarray(x, np.float64)
    k_mask = _top_k_mask(x, top_k, ties)
    if top_p_first:  # top-p on the unfiltered distribution, then top-k
        return k_mask & _top_p_mask(x, top_p, mode)
    return k_mask & _top_p_mask(np.where(k_mask, x, -np.inf), top_p, mode)


TOP_P_FIRST = (
    "top_p is computed on the unfiltered probabilities (or ignored): apply top_k first, then "
    "top_p on the softmax of what is left"
)


def filter_hints(x, top_k=None, top_p=None):
    """{label: kept mask} of buggy `filter_logits` outputs: only those that differ from the
    right answer, and only the first label of each distinct mask."""
    hints = {}
    if top_k is not None and top_p is not None:
        # Top-p on the full distribution gives either the top-k set or the top-p set (both are
        # prefixes of one order), so it always looks like ignoring one of them: named first.
        hints[TOP_P_FIRST] = filter_mask(x, top_k, top_p, top_p_first=True)
    if top_k is not None:
        hints[
            "exactly k tokens are kept when several logits tie with the k-th largest (ties at "
            "the k-th value must all be kept: compare with the k-th largest value)"
        ] = filter_mask(x, top_k, top_p, ties=False)
        hints["top_k is ignored"] = filter_mask(x, None, top_p)
    if top_p is not None:
        hints[
            "the token whose probability makes the total reach top_p is dropped (keep every "
            "token whose probability *before* it is < top_p)"
        ] = filter_mask(x, top_k, top_p, mode="inclusive")
        hints[
            "only tokens whose cumulative probability is < top_p are kept (the token that "
            "reaches top_p must be kept too, and the set is never empty)"
        ] = filter_mask(x, top_k, top_p, mode="strict")
        hints[
            "one token too many is kept when the cumulative probability lands exactly on "
            "top_p (the smallest set whose probability reaches top_p stops there)"
        ] = filter_mask(x, top_k, top_p, mode="shift")
        hints["top_p is ignored"] = filter_mask(x, top_k, None)
    seen = [filter_mask(x, top_k, top_p)]
    distinct = {}
    for label, mask in hints.items():
        if not any(np.array_equal(mask, other) for other in seen):
            distinct[label] = mask
            seen.append(mask)
    return distinct
