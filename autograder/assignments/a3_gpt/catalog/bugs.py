"""Realistic bugs of a3_gpt: `{name: (cells, {unit: phrase})}`.

Each loses points only on the unit it breaks, and the feedback of that unit contains
its phrase (from the suite's checks or hints.py, or autograder/grading/compare.py).
Checked by `python -m autograder audit a3_gpt` and tests/autograder/test_catalog_*.py.
"""

from autograder.catalog import cell_editor, src

A3 = "a3_gpt"
EMB, EXAMPLE, BLOCK, GPT, LOSS, FILTER, GEN = (
    "TokenAndPositionEmbedding",
    "make_lm_example",
    "GPTBlock",
    "GPT",
    "lm_loss",
    "filter_logits",
    "generate",
)


edit = cell_editor(A3)


EMB_RETURN = "return self.token_embedding(token_ids) + self.position_embedding(positions)[None]"
BLOCK_CALL = (
    "        h = self.ln1(x)\n"
    "        attended = self.attention(h, h, use_causal_mask=True, training=training)\n"
    "        x = x + self.drop1(attended, training=training)\n"
    "        # MLP block.\n"
    "        x = x + self.drop2(self.mlp(self.ln2(x), training=training), training=training)\n"
)
TOP_P_KEEP = (
    "        keep = ops.take_along_axis(before < top_p, ops.argsort(order, axis=-1), axis=-1)\n"
)
SAMPLE_LINE = '            scaled = filtered.astype("float64") / temperature\n'

# name -> (cells, {unit: phrase the feedback of that unit must contain}).
BUGS = {
    "bug_emb_no_positions": (
        edit(EMB, (EMB_RETURN, "return self.token_embedding(token_ids)")),
        {EMB: "the position embeddings are not added"},
    ),
    "bug_emb_scaled_tokens": (
        edit(
            EMB,
            (
                "return self.token_embedding(token_ids) + ",
                "return self.token_embedding(token_ids) * math.sqrt(self.d_model) + ",
            ),
        ),
        {EMB: "scaled by sqrt(d_model)"},
    ),
    "bug_emb_positions_from_1": (
        edit(
            EMB,
            (
                "positions = ops.arange(ops.shape(token_ids)[1])",
                "positions = ops.arange(1, ops.shape(token_ids)[1] + 1)",
            ),
        ),
        {EMB: "positions start at 1 instead of 0"},
    ),
    "bug_example_swapped": (
        edit(
            EXAMPLE,
            (
                "return token_ids[:, :-1], token_ids[:, 1:]",
                "return token_ids[:, 1:], token_ids[:, :-1]",
            ),
        ),
        {EXAMPLE: "inputs and targets are swapped"},
    ),
    "bug_example_not_shifted": (
        edit(
            EXAMPLE, ("return token_ids[:, :-1], token_ids[:, 1:]", "return token_ids, token_ids")
        ),
        {EXAMPLE: "the targets are not shifted"},
    ),
    "bug_block_post_norm": (
        edit(
            BLOCK,
            (
                BLOCK_CALL,
                "        attended = self.attention(x, x, use_causal_mask=True, training=training)\n"
                "        x = self.ln1(x + self.drop1(attended, training=training))\n"
                "        x = self.ln2(x + self.drop2(self.mlp(x, training=training), training=training))\n",
            ),
        ),
        {BLOCK: "post-norm"},
    ),
    "bug_block_not_causal": (
        edit(BLOCK, ("self.attention(h, h, use_causal_mask=True, ", "self.attention(h, h, ")),
        {BLOCK: "the causal mask is missing"},
    ),
    "bug_block_relu": (
        edit(BLOCK, ('activation="gelu", name="mlp"', 'activation="relu", name="mlp"')),
        {BLOCK: "ReLU instead of"},
    ),
    "bug_block_residual_from_norm": (
        edit(
            BLOCK,
            (
                BLOCK_CALL,
                "        h = self.ln1(x)\n"
                "        x = h + self.drop1(self.attention(h, h, use_causal_mask=True), training=training)\n"
                "        h = self.ln2(x)\n"
                "        x = h + self.drop2(self.mlp(h, training=training), training=training)\n",
            ),
        ),
        {BLOCK: "the residual adds the normalised input"},
    ),
    "bug_block_default_epsilon": (
        edit(
            BLOCK,
            ('LayerNormalization(epsilon=1e-6, name="ln1")', 'LayerNormalization(name="ln1")'),
            ('LayerNormalization(epsilon=1e-6, name="ln2")', 'LayerNormalization(name="ln2")'),
        ),
        {BLOCK: "default epsilon 1e-3"},
    ),
    "bug_gpt_no_ln_f": (
        edit(GPT, ("return self.head(self.ln_f(x))", "return self.head(x)")),
        {GPT: "the final LayerNorm ln_f is skipped"},
    ),
    "bug_gpt_shared_block": (
        edit(
            GPT,
            (
                "        self.blocks = [\n"
                '            GPTBlock(d_model, num_heads, ff_dim, dropout, name=f"block_{i}")\n'
                "            for i in range(num_layers)\n"
                "        ]\n",
                "        self.blocks = [GPTBlock(d_model, num_heads, ff_dim, dropout)] * num_layers\n",
            ),
        ),
        {GPT: "one block object is reused for every layer"},
    ),
    "bug_gpt_softmax": (
        edit(
            GPT, ("return self.head(self.ln_f(x))", "return ops.softmax(self.head(self.ln_f(x)))")
        ),
        {GPT: "probabilities (a softmax) instead of logits"},
    ),
    "bug_gpt_no_max_len": (
        edit(GPT, ("        self.max_len = max_len\n", "")),
        {GPT: "max_len"},
    ),
    "bug_loss_padding_counted": (
        edit(
            LOSS,
            (
                "return ops.sum(losses * weights) / ops.maximum(ops.sum(weights), 1.0)",
                "return ops.mean(losses)",
            ),
        ),
        {LOSS: "padding is not ignored"},
    ),
    "bug_loss_pad_zero": (
        edit(LOSS, ("ops.not_equal(targets, pad_id)", "ops.not_equal(targets, 0)")),
        {LOSS: "the pad_id argument is ignored"},
    ),
    "bug_loss_divide_all": (
        edit(
            LOSS,
            (
                "ops.maximum(ops.sum(weights), 1.0)",
                'ops.cast(ops.size(losses), "float32")',
            ),
        ),
        {LOSS: "divided by the number of all positions"},
    ),
    "bug_loss_numpy": (
        {
            LOSS: src(
                """
                def lm_loss(logits, targets, pad_id=0):
                    z = ops.convert_to_numpy(logits).astype("float64")
                    t = ops.convert_to_numpy(targets)
                    z = z - z.max(-1, keepdims=True)
                    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
                    nll = -np.take_along_axis(logp, t[..., None], -1)[..., 0]
                    keep = t != pad_id
                    return np.float32((nll * keep).sum() / max(keep.sum(), 1))
                """
            )
        },
        {LOSS: "No gradient flows"},
    ),
    "bug_filter_exactly_k": (
        edit(
            FILTER,
            (
                "        kth = ops.top_k(logits, top_k)[0][:, -1:]  # (B, 1): the k-th largest logit\n"
                "        logits = ops.where(logits < kth, neg_inf, logits)\n",
                "        index = ops.top_k(logits, top_k)[1]\n"
                "        chosen = ops.sum(ops.one_hot(index, logits.shape[-1]), axis=-2) > 0\n"
                "        logits = ops.where(chosen, logits, neg_inf)\n",
            ),
        ),
        {FILTER: "ties at the k-th value must all be kept"},
    ),
    "bug_filter_shift_keeps_one_more": (
        edit(
            FILTER,
            (
                "        before = ops.cumsum(probs, axis=-1) - probs  # probability of the tokens before each\n",
                "        remove = ops.cumsum(probs, axis=-1) > top_p\n"
                "        remove = ops.concatenate([ops.zeros_like(remove[:, :1]), remove[:, :-1]], axis=-1)\n"
                "        before = ops.where(remove, 1.0, 0.0)\n",
            ),
        ),
        {FILTER: "lands exactly on top_p"},
    ),
    "bug_filter_strict_cumsum": (
        edit(
            FILTER,
            (
                "        before = ops.cumsum(probs, axis=-1) - probs  # probability of the tokens before each\n",
                "        before = ops.cumsum(probs, axis=-1)\n",
            ),
        ),
        {FILTER: "never empty"},
    ),
    "bug_filter_fill_finite": (
        edit(
            FILTER,
            (
                'neg_inf = ops.full_like(logits, float("-inf"))',
                "neg_inf = ops.full_like(logits, -1e9)",
            ),
        ),
        {FILTER: "they must be -inf"},
    ),
    "bug_filter_top_p_on_full": (
        edit(
            FILTER,
            (
                "    logits = ops.convert_to_tensor(logits)\n",
                "    logits = ops.convert_to_tensor(logits)\n    raw = logits\n",
            ),
            (
                "        probs = ops.softmax(ops.take_along_axis(logits, order, axis=-1), axis=-1)\n",
                "        probs = ops.softmax(ops.take_along_axis(raw, order, axis=-1), axis=-1)\n",
            ),
        ),
        {FILTER: "top_p is computed on the unfiltered probabilities"},
    ),
    "bug_gen_no_crop": (
        edit(GEN, ("context = ids[:, -model.max_len :]", "context = ids")),
        {GEN: "crop the context to the last model.max_len tokens"},
    ),
    "bug_gen_crop_first_tokens": (
        edit(GEN, ("context = ids[:, -model.max_len :]", "context = ids[:, : model.max_len]")),
        {GEN: "cropped to the first max_len tokens"},
    ),
    "bug_gen_first_position": (
        edit(GEN, ("training=False))[:, -1]", "training=False))[:, 0]")),
        {GEN: "the logits of the first position are used"},
    ),
    "bug_gen_temperature_ignored": (
        edit(GEN, (SAMPLE_LINE, '            scaled = filtered.astype("float64")\n')),
        {GEN: "the temperature is ignored"},
    ),
    "bug_gen_always_argmax": (
        edit(
            GEN,
            (
                "next_ids = np.array([rng.choice(len(p), p=p) for p in probs])",
                "next_ids = np.argmax(probs, axis=-1)",
            ),
        ),
        {GEN: "always the argmax"},
    ),
    "bug_gen_seed_unused": (
        edit(GEN, ("rng = np.random.default_rng(seed)", "rng = np.random.default_rng()")),
        {GEN: "the same seed gives the same output"},
    ),
}

# Feedback gaps found by this catalog: the bug loses points, but no hint names it.
VAGUE = {}
