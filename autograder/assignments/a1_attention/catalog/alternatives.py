"""Correct alternative implementations of a1_attention: each gets full marks."""

from autograder.assignments.a1_attention.catalog.bugs import CAUSAL, PAD, SA, SDPA
from autograder.catalog import src

ALTERNATIVES = {
    "alt_einsum": {
        SDPA: src(
            """
            def scaled_dot_product_attention(query, key, value, mask=None):
                logits = ops.einsum("...qd,...kd->...qk", query, key)
                logits = logits / ops.sqrt(ops.cast(ops.shape(key)[-1], logits.dtype))
                if mask is not None:
                    logits = ops.where(mask, logits, -1e9)
                weights = ops.softmax(logits)
                return ops.einsum("...qk,...kv->...qv", weights, value), weights
            """
        )
    },
    "alt_tensorflow_additive_bias": {
        SDPA: src(
            """
            import tensorflow as tf

            def scaled_dot_product_attention(query, key, value, mask=None):
                query = tf.convert_to_tensor(query)
                d_k = tf.cast(tf.shape(query)[-1], query.dtype)
                logits = tf.matmul(query, key, transpose_b=True) / tf.math.sqrt(d_k)
                if mask is not None:
                    logits += -1e9 * (1.0 - tf.cast(mask, logits.dtype))
                weights = tf.nn.softmax(logits, axis=-1)
                return tf.matmul(weights, value), weights
            """
        ),
        CAUSAL: src(
            """
            import tensorflow as tf

            def causal_mask(length):
                return tf.cast(tf.linalg.band_part(tf.ones((length, length)), -1, 0), tf.bool)
            """
        ),
        PAD: src(
            """
            import tensorflow as tf

            def padding_mask(token_ids, pad_id=0):
                return tf.expand_dims(tf.math.not_equal(token_ids, pad_id), axis=1)
            """
        ),
    },
    "alt_numpy_masks": {
        CAUSAL: src(
            """
            import tensorflow as tf

            def causal_mask(length):
                return tf.experimental.numpy.tril(tf.ones((length, length))) > 0
            """
        ),
        PAD: src(
            """
            def padding_mask(token_ids, pad_id=0):
                ids = np.asarray(token_ids)
                return (ids != pad_id)[:, np.newaxis, :]
            """
        ),
    },
    "alt_manual_softmax_numpy_causal": {
        SDPA: src(
            """
            def scaled_dot_product_attention(query, key, value, mask=None):
                scale = 1.0 / np.sqrt(query.shape[-1])
                logits = ops.matmul(query, ops.transpose(key, (*range(len(key.shape) - 2), len(key.shape) - 1, len(key.shape) - 2))) * scale
                if mask is not None:
                    logits = logits * ops.cast(mask, logits.dtype) + (1.0 - ops.cast(mask, logits.dtype)) * -1e9
                logits = logits - ops.max(logits, axis=-1, keepdims=True)
                e = ops.exp(logits)
                weights = e / ops.sum(e, axis=-1, keepdims=True)
                return ops.matmul(weights, value), weights
            """
        ),
        CAUSAL: src(
            """
            def causal_mask(length):
                return np.tril(np.ones((length, length), dtype=bool))
            """
        ),
    },
    "alt_sa_helper_precomputed_mask": {
        SA: src(
            """
            def _attend(q, k, v, mask):
                logits = ops.einsum("btd,bsd->bts", q, k) / ops.sqrt(ops.cast(ops.shape(k)[-1], "float32"))
                logits = ops.where(mask, logits, -1e9)
                return ops.einsum("bts,bsd->btd", ops.softmax(logits, axis=-1), v)


            class SelfAttention(keras.layers.Layer):
                def __init__(self, key_dim, **kwargs):
                    super().__init__(**kwargs)
                    self.key_dim = key_dim
                    self.query_dense = keras.layers.Dense(key_dim)
                    self.key_dense = keras.layers.Dense(key_dim)
                    self.value_dense = keras.layers.Dense(key_dim)

                def call(self, inputs, attention_mask=None, use_causal_mask=False):
                    t = ops.shape(inputs)[1]
                    mask = ops.ones((1, t, t), dtype="bool")
                    if attention_mask is not None and ops.ndim(attention_mask) < 3:
                        raise ValueError("attention_mask must be (B, T, T) or (B, 1, T)")
                    if attention_mask is not None:
                        mask = ops.logical_and(mask, ops.cast(attention_mask, "bool"))
                    if use_causal_mask:
                        mask = ops.logical_and(mask, ops.tril(ops.ones((t, t)))[None] > 0)
                    return _attend(self.query_dense(inputs), self.key_dense(inputs), self.value_dense(inputs), mask)
            """
        )
    },
    "alt_sa_tf_band_part": {
        SA: src(
            """
            import tensorflow as tf


            class SelfAttention(keras.layers.Layer):
                def __init__(self, key_dim, **kwargs):
                    super().__init__(**kwargs)
                    self.query_dense = keras.layers.Dense(key_dim, name="query_dense")
                    self.key_dense = keras.layers.Dense(key_dim, name="key_dense")
                    self.value_dense = keras.layers.Dense(key_dim, name="value_dense")
                    self.scale = 1.0 / float(key_dim) ** 0.5

                def call(self, inputs, attention_mask=None, use_causal_mask=False):
                    if attention_mask is not None and attention_mask.shape.rank == 2:
                        raise ValueError("a 2-D mask is ambiguous: give (B, 1, T) or (B, T, T)")
                    q, k, v = self.query_dense(inputs), self.key_dense(inputs), self.value_dense(inputs)
                    logits = tf.matmul(q, k, transpose_b=True) * self.scale
                    if use_causal_mask:
                        t = tf.shape(inputs)[1]
                        band = tf.linalg.band_part(tf.ones((t, t)), -1, 0)
                        logits = logits - 1e9 * (1.0 - band)
                    if attention_mask is not None:
                        logits = logits - 1e9 * (1.0 - tf.cast(attention_mask, logits.dtype))
                    return tf.matmul(tf.nn.softmax(logits), v)
            """
        )
    },
}
