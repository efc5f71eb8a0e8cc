"""The a2_transformer grading catalog, checked by `CatalogTests` (tests/autograder/catalog.py).

BUGS name their symptoms with phrases of autograder/suites/variants.py, a2_transformer.py
or base.py; ALTERNATIVES keep the contract's sublayers.
"""

import pytest

from autograder.sandbox import Limits
from tests.autograder.catalog import CatalogTests, cell_editor, src

pytestmark = pytest.mark.slow
A2 = "a2_transformer"
SPLIT, MERGE, MHA, PE, FFN, BLOCK = (
    "split_heads",
    "merge_heads",
    "MultiHeadAttention",
    "positional_encoding",
    "FeedForward",
    "TransformerEncoderBlock",
)


edit = cell_editor(A2)


SDPA_CALL = "        _, weights = scaled_dot_product_attention(q, k, v, mask)  # (B, H, Tq, Tk)\n"


def mha_inline(scale="ops.sqrt(float(self.d_model // self.num_heads))", axis=-1):
    """MultiHeadAttention with the attention written inline (scale and softmax axis swappable)."""
    return edit(
        MHA,
        (
            SDPA_CALL,
            f"        logits = ops.matmul(q, ops.swapaxes(k, -1, -2)) / {scale}\n"
            "        if mask is not None:\n"
            "            logits = ops.where(mask, logits, -1e9)\n"
            f"        weights = ops.softmax(logits, axis={axis})\n",
        ),
    )


PE_TABLE = "    table[:, 0::2] = np.sin(angles)\n    table[:, 1::2] = np.cos(angles)\n"

# name -> (cells, {unit: phrase the feedback of that unit must contain}).
BUGS = {
    "bug_split_no_transpose": (
        edit(
            SPLIT,
            (
                "    x = ops.reshape(x, (batch, length, num_heads, -1))  # (B, T, H, Dh)\n"
                "    return ops.transpose(x, (0, 2, 1, 3))  # (B, H, T, Dh)\n",
                "    return ops.reshape(x, (batch, num_heads, length, -1))\n",
            ),
        ),
        {SPLIT: "reshaped straight to (B, H, T, Dh) without the transpose"},
    ),
    "bug_merge_no_transpose": (
        edit(
            MERGE,
            (
                "    x = ops.transpose(x, (0, 2, 1, 3))  # (B, T, H, Dh)\n"
                "    shape = ops.shape(x)\n"
                "    return ops.reshape(x, (shape[0], shape[1], shape[2] * shape[3]))",
                "    shape = ops.shape(x)\n"
                "    return ops.reshape(x, (shape[0], shape[2], shape[1] * shape[3]))",
            ),
        ),
        {MERGE: "merged with a reshape only"},
    ),
    "bug_mha_scale_d_model": (
        mha_inline(scale="ops.sqrt(float(self.d_model))"),
        {MHA: "scaled by 1/sqrt(d_model) instead of 1/sqrt(d_k)"},
    ),
    "bug_mha_softmax_query_axis": (
        mha_inline(axis=-2),
        {MHA: "softmax is taken over the query axis"},
    ),
    "bug_mha_wq_everywhere": (
        edit(
            MHA,
            ("k = split_heads(self.wk(key)", "k = split_heads(self.wq(key)"),
            ("v = split_heads(self.wv(value)", "v = split_heads(self.wq(value)"),
        ),
        {MHA: "one projection shared by queries, keys and values"},
    ),
    "bug_mha_keys_with_wq": (
        edit(MHA, ("k = split_heads(self.wk(key)", "k = split_heads(self.wq(key)")),
        {MHA: "the keys are projected with wq instead of wk"},
    ),
    "bug_mha_no_output_projection": (
        edit(
            MHA,
            (
                "output = self.wo(merge_heads(context))",
                "output = merge_heads(context)",
            ),
        ),
        {MHA: "the output projection wo is missing"},
    ),
    "bug_mha_mask_inverted": (
        edit(
            MHA,
            (
                'mask = ops.cast(attention_mask, "bool")',
                'mask = ops.logical_not(ops.cast(attention_mask, "bool"))',
            ),
        ),
        {MHA: "the mask is inverted"},
    ),
    "bug_mha_dropout_always_on": (
        edit(
            MHA,
            (
                "self.attention_dropout(weights, training=training)",
                "self.attention_dropout(weights, training=True)",
            ),
        ),
        {MHA: "dropout must act only in training"},
    ),
    "bug_mha_no_divisibility_check": (
        edit(
            MHA,
            (
                "        if d_model % num_heads:\n"
                "            raise ValueError(\n"
                '                "`d_model` must be divisible by `num_heads`. "\n'
                '                f"Received: num_heads={num_heads}, d_model={d_model}"\n'
                "            )\n",
                "",
            ),
        ),
        {MHA: "to raise ValueError, but it returned normally"},
    ),
    "bug_mha_error_without_numbers": (
        edit(
            MHA,
            (
                '                f"Received: num_heads={num_heads}, d_model={d_model}"\n',
                '                "Check your arguments."\n',
            ),
        ),
        {MHA: "its message should mention 3, 16"},
    ),
    "bug_pe_concatenated": (
        edit(PE, (PE_TABLE, "    table = np.concatenate([np.sin(angles), np.cos(angles)], -1)\n")),
        {PE: "concatenated instead of interleaved"},
    ),
    "bug_pe_sin_cos_swapped": (
        edit(
            PE,
            (
                PE_TABLE,
                "    table[:, 0::2] = np.cos(angles)\n    table[:, 1::2] = np.sin(angles)\n",
            ),
        ),
        {PE: "sine and cosine are swapped"},
    ),
    "bug_pe_exponent_i_over_d": (
        edit(
            PE,
            (
                "np.arange(0, depth, 2, dtype=np.float64) / depth",
                "np.arange(depth // 2, dtype=np.float64) / depth",
            ),
        ),
        {PE: "the exponent uses i/d instead of 2i/d"},
    ),
    "bug_ffn_activation_on_dense2": (
        edit(
            FFN,
            (
                'keras.layers.Dense(d_model, name="dense2")',
                'keras.layers.Dense(d_model, activation=activation, name="dense2")',
            ),
        ),
        {FFN: "the activation is also applied after dense2"},
    ),
    "bug_ffn_no_activation": (
        edit(
            FFN,
            (
                'keras.layers.Dense(ff_dim, activation=activation, name="dense1")',
                'keras.layers.Dense(ff_dim, name="dense1")',
            ),
        ),
        {FFN: "dense1 has no activation"},
    ),
    "bug_ffn_relu_hard_coded": (
        edit(FFN, ("activation=activation", 'activation="relu"')),
        {FFN: "the activation argument is ignored"},
    ),
    "bug_block_pre_norm": (
        edit(
            BLOCK,
            (
                "        attended = self.attention(x, x, attention_mask=attention_mask, training=training)\n"
                "        x = self.norm1(x + self.drop1(attended, training=training))\n",
                "        h = self.norm1(x)\n"
                "        attended = self.attention(h, h, attention_mask=attention_mask, training=training)\n"
                "        x = x + self.drop1(attended, training=training)\n"
                "        return x + self.drop2(self.ffn(self.norm2(x), training=training), training=training)\n",
            ),
        ),
        {BLOCK: "(pre-norm) instead of after the residual"},
    ),
    "bug_block_no_attention_residual": (
        edit(
            BLOCK,
            (
                "x = self.norm1(x + self.drop1(attended, training=training))",
                "x = self.norm1(self.drop1(attended, training=training))",
            ),
        ),
        {BLOCK: "the residual connection around the attention is missing"},
    ),
    "bug_block_layernorm_default_epsilon": (
        edit(
            BLOCK,
            ('LayerNormalization(epsilon=1e-6, name="norm1")', 'LayerNormalization(name="norm1")'),
            ('LayerNormalization(epsilon=1e-6, name="norm2")', 'LayerNormalization(name="norm2")'),
        ),
        {BLOCK: "default epsilon 1e-3"},
    ),
    "bug_block_mask_not_passed": (
        edit(
            BLOCK,
            (
                "self.attention(x, x, attention_mask=attention_mask, training=training)",
                "self.attention(x, x, training=training)",
            ),
        ),
        {BLOCK: "the attention mask is not passed on"},
    ),
}

# Feedback gaps found by this catalog: the bug loses points, but no hint names it.
VAGUE = {}

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
                b, t, d = x.shape
                return ops.swapaxes(ops.reshape(x, (b, t, num_heads, d // num_heads)), 1, 2)
            """
        ),
        MERGE: src(
            """
            def merge_heads(x):
                b, h, t, dh = x.shape
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


# The suite grades each unit on its own (the MHA and block groups get the reference
# split/merge and MHA/FeedForward), so entries on different units share a student:
# a third of the sandbox jobs of one student per entry.
class TestA2Catalog(CatalogTests):
    assignment = A2
    bugs = BUGS
    alternatives = ALTERNATIVES
    vague = VAGUE
    limits = Limits(wall_seconds=30, cpu_seconds=30)
    max_score = 30.0
    min_bugs = 12
    min_alternatives = 4


def test_shared_projection_hint_wired_into_the_suite():
    """wq for queries, keys and values is named on every output check of the MHA unit."""
    import numpy as np

    from autograder.suites import a2_transformer
    from autograder.suites.variants import SHARED_PROJECTION, mha_np

    _, expected = a2_transformer.build(np.random.default_rng(0), {})
    for key in ("mha_self", "mha_cross", "mha_causal", "mha_key", "mha_scores.0", "mha_drop0"):
        want, hints = expected[key]
        assert SHARED_PROJECTION in hints, key
        assert not np.allclose(hints[SHARED_PROJECTION], want, atol=1e-4), key
    # The scores do not see the values: there the keys-only hint names it, not a twin label.
    assert SHARED_PROJECTION not in expected["mha_scores.1"][1]
    # The variant is the shared projection: queries, keys and values all through wq.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 3, 4))
    eye = (np.eye(4), np.zeros(4))
    weights = {"wq": eye, "wk": (2 * np.eye(4), np.zeros(4)), "wv": eye, "wo": eye}
    shared = mha_np(x, x, weights, 2, key_proj="wq", value_proj="wq")[0]
    assert np.allclose(shared, mha_np(x, x, {**weights, "wk": eye}, 2)[0])
