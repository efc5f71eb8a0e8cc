"""Correct alternative solutions of a3_gpt: each must get full marks."""

from autograder.assignments.a3_gpt.catalog.bugs import BLOCK, EMB, EXAMPLE, FILTER, GEN, GPT, LOSS
from autograder.catalog import src

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
