"""Correct alternative solutions of a2_transformer: each must get full marks."""

from autograder.assignments.a2_transformer.catalog.bugs import BLOCK, FFN, MERGE, MHA, PE, SPLIT
from autograder.catalog import src

MHA_HEADER = '''
    class MultiHeadAttention(keras.layers.Layer):
        """Multi-head attention (an alternative implementation)."""

        def __init__(self, num_heads, d_model, dropout=0.0, **kwargs):
            super().__init__(**kwargs)
            if d_model % num_heads != 0:
                raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
            self.num_heads, self.d_model, self.depth = num_heads, d_model, d_model // num_heads
            self.wq = keras.layers.Dense(d_model)
            self.wk = keras.layers.Dense(d_model)
            self.wv = keras.layers.Dense(d_model)
            self.wo = keras.layers.Dense(d_model)
            self.drop = keras.layers.Dropout(dropout)
'''

ALTERNATIVES = {
    "alt_mha_einsum": {
        MHA: src(
            MHA_HEADER
            + """
        def call(self, query, value, key=None, attention_mask=None, use_causal_mask=False,
                 return_attention_scores=False, training=None):
            if key is None:
                key = value
            b, tq, tk = ops.shape(query)[0], ops.shape(query)[1], ops.shape(value)[1]
            q = ops.reshape(self.wq(query), (b, tq, self.num_heads, self.depth))
            k = ops.reshape(self.wk(key), (b, tk, self.num_heads, self.depth))
            v = ops.reshape(self.wv(value), (b, tk, self.num_heads, self.depth))
            logits = ops.einsum("bqhd,bkhd->bhqk", q, k) / (self.depth**0.5)
            allowed = ops.ones((1, 1, tq, tk), dtype="bool")
            if attention_mask is not None:
                m = ops.cast(attention_mask, "bool")
                if ops.ndim(m) == 2:
                    raise ValueError("attention_mask must be 3-D or 4-D, not (B, Tk)")
                allowed = ops.logical_and(allowed, m[:, None] if len(m.shape) == 3 else m)
            if use_causal_mask:
                allowed = ops.logical_and(allowed, ops.tril(ops.ones((tq, tk))) > 0)
            logits = ops.where(allowed, logits, -1e9)
            scores = ops.softmax(logits, axis=-1)
            out = ops.einsum("bhqk,bkhd->bqhd", self.drop(scores, training=training), v)
            out = self.wo(ops.reshape(out, (b, tq, self.d_model)))
            return (out, scores) if return_attention_scores else out
            """
        )
    },
    "alt_mha_tf_additive_bias": {
        MHA: src(
            "\n    import tensorflow as tf\n"
            + MHA_HEADER
            + """
        def call(self, query, value, key=None, attention_mask=None, use_causal_mask=False,
                 return_attention_scores=False, training=None):
            key = value if key is None else key
            q = split_heads(self.wq(query), self.num_heads)
            k = split_heads(self.wk(key), self.num_heads)
            v = split_heads(self.wv(value), self.num_heads)
            logits = tf.matmul(q, k, transpose_b=True) * tf.math.rsqrt(float(self.depth))
            if attention_mask is not None:
                m = tf.cast(attention_mask, logits.dtype)
                if m.shape.rank < 3:
                    raise ValueError(f"a 2-D attention_mask is ambiguous: {m.shape}")
                if m.shape.rank == 3:
                    m = m[:, tf.newaxis]
                logits += (1.0 - m) * -1e9
            if use_causal_mask:
                tq, tk = tf.shape(q)[2], tf.shape(k)[2]
                band = tf.linalg.band_part(tf.ones((tq, tk)), -1, 0)
                logits += (1.0 - band) * -1e9
            scores = tf.nn.softmax(logits, axis=-1)
            out = self.wo(merge_heads(tf.matmul(self.drop(scores, training=training), v)))
            if return_attention_scores:
                return out, scores
            return out
            """
        )
    },
    "alt_heads_tensorflow": {
        SPLIT: src(
            """
            import tensorflow as tf

            def split_heads(x, num_heads):
                x = tf.convert_to_tensor(x)
                shape = tf.shape(x)
                x = tf.reshape(x, [shape[0], shape[1], num_heads, shape[2] // num_heads])
                return tf.transpose(x, perm=[0, 2, 1, 3])
            """
        ),
        MERGE: src(
            """
            import tensorflow as tf

            def merge_heads(x):
                x = tf.transpose(tf.convert_to_tensor(x), perm=[0, 2, 1, 3])
                shape = tf.shape(x)
                return tf.reshape(x, [shape[0], shape[1], shape[2] * shape[3]])
            """
        ),
    },
    "alt_heads_swapaxes_numpy_positions": {
        SPLIT: src(
            """
            def split_heads(x, num_heads):
                b, t, d = ops.shape(x)  # tensors where unknown (the batch in a tf.function)
                return ops.swapaxes(ops.reshape(x, (b, t, num_heads, d // num_heads)), 1, 2)
            """
        ),
        MERGE: src(
            """
            def merge_heads(x):
                b, h, t, dh = ops.shape(x)
                return ops.reshape(ops.swapaxes(x, 1, 2), (b, t, h * dh))
            """
        ),
        PE: src(
            """
            def positional_encoding(length, depth):
                pe = np.zeros((length, depth))
                for pos in range(length):
                    for i in range(0, depth, 2):
                        angle = pos / (10000 ** (i / depth))
                        pe[pos, i] = np.sin(angle)
                        pe[pos, i + 1] = np.cos(angle)
                return pe.astype("float32")
            """
        ),
    },
    "alt_positions_keras_ops": {
        PE: src(
            """
            def positional_encoding(length, depth):
                pos = ops.cast(ops.arange(length), "float32")[:, None]
                i = ops.cast(ops.arange(depth // 2), "float32")[None, :]
                angles = pos / ops.power(10000.0, 2.0 * i / depth)
                table = ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1)
                return ops.reshape(table, (length, depth))
            """
        ),
    },
    "alt_ffn_dropout_after_dense2": {
        FFN: src(
            """
            class FeedForward(keras.layers.Layer):
                def __init__(self, d_model, ff_dim, dropout=0.0, activation="relu", **kwargs):
                    super().__init__(**kwargs)
                    self.dense1 = keras.layers.Dense(ff_dim, activation=activation)
                    self.dense2 = keras.layers.Dense(d_model)
                    self.dropout = keras.layers.Dropout(dropout)

                def call(self, x, training=None):
                    return self.dropout(self.dense2(self.dense1(x)), training=training)
            """
        ),
    },
    "alt_block_mask_inside": {
        BLOCK: src(
            """
            class TransformerEncoderBlock(keras.layers.Layer):
                def __init__(self, d_model, num_heads, ff_dim, dropout=0.0, **kwargs):
                    super().__init__(**kwargs)
                    self.attention = MultiHeadAttention(num_heads, d_model, dropout)
                    self.ffn = FeedForward(d_model, ff_dim, dropout)
                    self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6)
                    self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6)
                    self.dropout = keras.layers.Dropout(dropout)

                def call(self, x, attention_mask=None, training=None):
                    mask = None
                    if attention_mask is not None:  # (B, 1, T) -> (B, 1, 1, T): one per head
                        mask = ops.expand_dims(ops.cast(attention_mask, "bool"), 1)
                    h = self.attention(x, x, attention_mask=mask, training=training)
                    x = self.norm1(ops.add(x, self.dropout(h, training=training)))
                    h = self.ffn(x, training=training)
                    return self.norm2(ops.add(x, self.dropout(h, training=training)))
            """
        ),
    },
}
