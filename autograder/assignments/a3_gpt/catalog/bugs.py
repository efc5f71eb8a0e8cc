"""The a3_gpt grading catalog, checked by `CatalogTests` (tests/autograder/catalog.py).

BUGS name their symptoms with phrases of autograder/suites/variants_a3.py, a3_gpt.py or
generate_a3.py; ALTERNATIVES keep the contract's sublayers.
"""

import pytest

from autograder.sandbox import Limits
from tests.autograder.catalog import CatalogTests, cell_editor, src

pytestmark = pytest.mark.slow
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

ALTERNATIVES = {
    "alt_emb_tf_and_example_ops": {
        EMB: src(
            """
            import tensorflow as tf

            class TokenAndPositionEmbedding(keras.layers.Layer):
                def __init__(self, vocab_size, max_len, d_model, **kwargs):
                    super().__init__(**kwargs)
                    self.token_embedding = keras.layers.Embedding(vocab_size, d_model)
                    self.position_embedding = keras.layers.Embedding(max_len, d_model)

                def call(self, token_ids):
                    length = tf.shape(token_ids)[-1]
                    positions = tf.range(length)[tf.newaxis, :]  # (1, T)
                    return self.token_embedding(token_ids) + self.position_embedding(positions)
            """
        ),
        EXAMPLE: src(
            """
            def make_lm_example(token_ids):
                ids = ops.convert_to_tensor(token_ids)
                length = ops.shape(ids)[1]
                return ops.take(ids, ops.arange(length - 1), axis=1), ops.take(
                    ids, ops.arange(1, length), axis=1
                )
            """
        ),
    },
    "alt_block_explicit_mask_and_loss_log_softmax": {
        BLOCK: src(
            """
            class GPTBlock(keras.layers.Layer):
                def __init__(self, d_model, num_heads, ff_dim, dropout=0.0, **kwargs):
                    super().__init__(**kwargs)
                    self.ln1 = keras.layers.LayerNormalization(epsilon=1e-6)
                    self.ln2 = keras.layers.LayerNormalization(epsilon=1e-6)
                    self.attention = MultiHeadAttention(num_heads, d_model, dropout)
                    self.mlp = FeedForward(d_model, ff_dim, dropout, "gelu")
                    self.dropout = keras.layers.Dropout(dropout)

                def call(self, x, training=None):
                    t = ops.shape(x)[1]
                    causal = ops.tril(ops.ones((t, t)))[None] > 0  # (1, T, T)
                    h = self.ln1(x)
                    x = ops.add(x, self.dropout(self.attention(h, h, attention_mask=causal), training=training))
                    return ops.add(x, self.dropout(self.mlp(self.ln2(x)), training=training))
            """
        ),
        LOSS: src(
            """
            def lm_loss(logits, targets, pad_id=0):
                targets = ops.cast(targets, "int32")
                logp = ops.log_softmax(logits, axis=-1)
                nll = -ops.squeeze(ops.take_along_axis(logp, targets[..., None], axis=-1), -1)
                real = ops.not_equal(targets, pad_id)
                total = ops.sum(ops.where(real, nll, 0.0))
                return total / ops.cast(ops.maximum(ops.count_nonzero(real), 1), total.dtype)
            """
        ),
    },
    "alt_gpt_no_dropout_layer_and_filter_tf": {
        GPT: src(
            """
            class GPT(keras.Model):
                def __init__(self, vocab_size, max_len, d_model, num_heads, num_layers, ff_dim,
                             dropout=0.0, **kwargs):
                    super().__init__(**kwargs)
                    self.vocab_size, self.max_len = vocab_size, max_len
                    self.embedding = TokenAndPositionEmbedding(vocab_size, max_len, d_model)
                    self.blocks = []
                    for _ in range(num_layers):
                        self.blocks.append(GPTBlock(d_model, num_heads, ff_dim, dropout))
                    self.ln_f = keras.layers.LayerNormalization(epsilon=1e-6)
                    self.head = keras.layers.Dense(vocab_size)

                def call(self, token_ids, training=False):
                    x = self.embedding(token_ids)
                    for block in self.blocks:
                        x = block(x, training=training)
                    x = self.ln_f(x)
                    return self.head(x)
            """
        ),
        FILTER: src(
            """
            import tensorflow as tf

            def filter_logits(logits, top_k=None, top_p=None):
                logits = tf.convert_to_tensor(logits)
                vocab = logits.shape[-1]
                if top_k is not None and top_k < vocab:
                    values, _ = tf.math.top_k(logits, k=top_k)
                    logits = tf.where(logits < values[:, -1:], -np.inf, logits)
                if top_p is not None:
                    sorted_logits = tf.sort(logits, direction="DESCENDING", axis=-1)
                    probs = tf.nn.softmax(sorted_logits, axis=-1)
                    before = tf.math.cumsum(probs, axis=-1, exclusive=True)
                    # The smallest kept logit of each row: the last one whose `before` < top_p.
                    count = tf.reduce_sum(tf.cast(before < top_p, tf.int32), axis=-1)
                    cutoff = tf.gather(sorted_logits, count - 1, batch_dims=1)[:, None]
                    logits = tf.where(logits < cutoff, -np.inf, logits)
                return logits
            """
        ),
    },
    "alt_filter_numpy_float64_and_gen_keras_random": {
        FILTER: src(
            """
            def filter_logits(logits, top_k=None, top_p=None):
                x = np.array(ops.convert_to_numpy(logits), dtype=np.float64)
                out = x.copy()
                for row, values in enumerate(x):
                    keep = np.ones(values.shape, bool)
                    if top_k is not None and top_k < len(values):
                        keep &= values >= np.sort(values)[-top_k]
                    if top_p is not None:
                        masked = np.where(keep, values, -np.inf)
                        order = np.argsort(-masked, kind="stable")
                        p = np.exp(masked[order] - masked[order].max())
                        p /= p.sum()
                        before = np.concatenate([[0.0], np.cumsum(p)[:-1]])
                        nucleus = np.zeros(values.shape, bool)
                        nucleus[order[before < top_p]] = True
                        keep &= nucleus
                    out[row, ~keep] = -np.inf
                return out.astype(np.float32)
            """
        ),
        GEN: src(
            """
            def generate(model, prompt_ids, max_new_tokens, temperature=1.0, top_k=None,
                         top_p=None, seed=None):
                seed_generator = keras.random.SeedGenerator(seed)
                ids = ops.cast(ops.convert_to_tensor(prompt_ids), "int32")
                for _ in range(max_new_tokens):
                    logits = model(ids[:, -model.max_len:])[:, -1, :]
                    if temperature == 0:
                        nxt = ops.argmax(logits, axis=-1)
                    else:
                        logits = filter_logits(logits, top_k=top_k, top_p=top_p) / temperature
                        nxt = keras.random.categorical(logits, 1, seed=seed_generator)[:, 0]
                    ids = ops.concatenate([ids, ops.cast(nxt, "int32")[:, None]], axis=1)
                return ops.convert_to_numpy(ids)
            """
        ),
    },
    "alt_gen_inverse_cdf": {
        GEN: src(
            """
            def generate(model, prompt_ids, max_new_tokens, temperature=1.0, top_k=None,
                         top_p=None, seed=None):
                rng = np.random.default_rng(seed)
                out = [list(row) for row in np.asarray(prompt_ids)]
                for _ in range(max_new_tokens):
                    context = np.array([row[-model.max_len:] for row in out])
                    logits = np.asarray(model(context))[:, -1, :]
                    if temperature == 0:
                        picks = logits.argmax(-1)
                    else:
                        z = np.asarray(filter_logits(logits, top_k, top_p), np.float64) / temperature
                        p = np.exp(z - z.max(-1, keepdims=True))
                        cdf = np.cumsum(p / p.sum(-1, keepdims=True), -1)
                        u = rng.random((len(out), 1))
                        picks = np.minimum((cdf < u).sum(-1), cdf.shape[-1] - 1)
                    for row, token in zip(out, picks):
                        row.append(int(token))
                return np.array(out)
            """
        ),
    },
}


class TestA3Catalog(CatalogTests):
    assignment = A3
    bugs = BUGS
    alternatives = ALTERNATIVES
    vague = VAGUE
    limits = Limits(wall_seconds=60, cpu_seconds=60)
    max_score = 37.0
