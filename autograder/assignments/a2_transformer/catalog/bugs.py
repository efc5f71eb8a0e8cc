"""Realistic bugs of a2_transformer: `{name: (cells, {unit: phrase})}`.

Each loses points only on the unit it breaks, and the feedback of that unit contains
its phrase (from the suite's checks or hints.py, or autograder/grading/compare.py).
Checked by `python -m autograder audit a2_transformer` and tests/autograder/test_catalog_*.py.
"""

from autograder.catalog import cell_editor

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
    "bug_split_static_batch": (
        edit(
            SPLIT,
            (
                "batch, length = ops.shape(x)[0], ops.shape(x)[1]",
                "batch, length = x.shape[0], x.shape[1]",
            ),
        ),
        {SPLIT: "inside a tf.function with an unknown batch size"},
    ),
    "bug_mha_causal_bottom_right": (
        edit(
            MHA,
            (
                "rows = ops.arange(ops.shape(query)[1])[:, None]",
                "rows = ops.arange(ops.shape(query)[1])[:, None] + ops.shape(key)[1] - ops.shape(query)[1]",
            ),
        ),
        {MHA: "aligned bottom-right"},
    ),
    "bug_mha_causal_replaces_mask": (
        edit(
            MHA,
            ("mask = causal if mask is None else ops.logical_and(mask, causal)", "mask = causal"),
        ),
        {MHA: "replaces the attention_mask instead of combining them"},
    ),
    "bug_mha_dropout_on_logits": (
        edit(
            MHA,
            (
                SDPA_CALL,
                "        logits = ops.matmul(q, ops.swapaxes(k, -1, -2)) / ops.sqrt(float(self.d_model // self.num_heads))\n"
                "        if mask is not None:\n"
                "            logits = ops.where(mask, logits, -1e9)\n"
                "        weights = ops.softmax(self.attention_dropout(logits, training=training), axis=-1)\n",
            ),
            (
                "ops.matmul(self.attention_dropout(weights, training=training), v)",
                "ops.matmul(weights, v)",
            ),
        ),
        {MHA: "dropout is applied to the masked logits"},
    ),
    "bug_mha_accepts_2d_mask": (
        edit(
            MHA,
            (
                "            if len(mask.shape) not in (3, 4):\n"
                "                raise ValueError(\n"
                '                    "`attention_mask` must be (B, Tq, Tk), (B, 1, Tk) or (B, heads, Tq, Tk). "\n'
                '                    f"Received: attention_mask.shape={tuple(mask.shape)}"\n'
                "                )\n",
                "",
            ),
        ),
        {MHA: "to raise ValueError, but it returned normally"},
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
