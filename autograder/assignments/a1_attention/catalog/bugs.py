"""Realistic bugs of a1_attention: each loses points on the unit it breaks, and the
feedback names the symptom (a phrase from the suite's hints.py or autograder/grading/compare.py).
"""

A1 = "a1_attention"
SDPA, CAUSAL, PAD, SA = (
    "scaled_dot_product_attention",
    "causal_mask",
    "padding_mask",
    "SelfAttention",
)


def sdpa(
    scale="ops.sqrt(d_k)",
    masking="where",
    softmax_axis=-1,
    ret="ops.matmul(weights, value), weights",
):
    """The solution's attention with one piece swapped for a variant."""
    mask_code = {
        "where": 'logits = ops.where(ops.cast(mask, "bool"), logits, ops.full_like(logits, -1e9))',
        "inverted": 'logits = ops.where(ops.cast(mask, "bool"), ops.full_like(logits, -1e9), logits)',
        "-inf": 'logits = ops.where(ops.cast(mask, "bool"), logits, ops.full_like(logits, -float("inf")))',
        "after": "pass",
        "ignored": "pass",
    }[masking]
    after = (
        "        weights = weights * ops.cast(mask, weights.dtype)\n" if masking == "after" else ""
    )
    return (
        "def scaled_dot_product_attention(query, key, value, mask=None):\n"
        "    query, key, value = (ops.convert_to_tensor(t) for t in (query, key, value))\n"
        "    d_k = ops.cast(ops.shape(query)[-1], query.dtype)\n"
        "    d_v = ops.cast(ops.shape(value)[-1], query.dtype)\n"
        f"    logits = ops.matmul(query, ops.swapaxes(key, -1, -2)) / ({scale})\n"
        "    if mask is not None:\n"
        f"        {mask_code}\n"
        f"    weights = ops.softmax(logits, axis={softmax_axis})\n"
        "    if mask is not None:\n"
        f"{after}"
        "        pass\n"
        f"    return {ret}\n"
    )


def self_attention(
    query="self.query_dense",
    key="self.key_dense",
    use_bias="",
    causal=True,
    scale=None,
    ret="output",
    combine="causal if mask is None else ops.logical_and(mask, causal)",
    causal_expr="causal_mask(ops.shape(inputs)[1])[None]",
    refuse_2d=True,
):
    """The solution's SelfAttention with one piece swapped for a variant."""
    causal_code = (
        "        if use_causal_mask:\n"
        f"            causal = {causal_expr}\n"
        f"            mask = {combine}\n"
        if causal
        else ""
    )
    refuse_code = (
        "        if mask is not None and len(mask.shape) != 3:\n"
        '            raise ValueError(f"attention_mask must be 3-D, got {mask.shape}")\n'
        if refuse_2d
        else ""
    )
    attend = (
        "        output, weights = scaled_dot_product_attention(q, k, v, mask)\n"
        if scale is None
        else (
            f"        logits = ops.matmul(q, ops.swapaxes(k, -1, -2)) / ops.sqrt(ops.cast({scale}, q.dtype))\n"
            "        if mask is not None:\n"
            "            logits = ops.where(mask, logits, -1e9)\n"
            "        weights = ops.softmax(logits, axis=-1)\n"
            "        output = ops.matmul(weights, v)\n"
        )
    )
    return (
        "class SelfAttention(keras.layers.Layer):\n"
        "    def __init__(self, key_dim, **kwargs):\n"
        "        super().__init__(**kwargs)\n"
        "        self.key_dim = key_dim\n"
        f'        self.query_dense = keras.layers.Dense(key_dim, name="query_dense"{use_bias})\n'
        f'        self.key_dense = keras.layers.Dense(key_dim, name="key_dense"{use_bias})\n'
        f'        self.value_dense = keras.layers.Dense(key_dim, name="value_dense"{use_bias})\n'
        "\n"
        "    def call(self, inputs, attention_mask=None, use_causal_mask=False):\n"
        f"        q = {query}(inputs)\n"
        f"        k = {key}(inputs)\n"
        "        v = self.value_dense(inputs)\n"
        '        mask = None if attention_mask is None else ops.cast(attention_mask, "bool")\n'
        f"{refuse_code}"
        f"{causal_code}"
        f"{attend}"
        f"        return {ret}\n"
    )


# name -> (cells, {unit: phrase the feedback of that unit must contain}).
BUGS = {
    "bug_softmax_query_axis": (
        {SDPA: sdpa(softmax_axis=-2)},
        {SDPA: "softmax is taken over the query axis"},
    ),
    "bug_no_scale": ({SDPA: sdpa(scale="1.0")}, {SDPA: "not scaled by 1/sqrt(d_k)"}),
    "bug_scale_dk": ({SDPA: sdpa(scale="d_k")}, {SDPA: "divided by d_k instead of sqrt(d_k)"}),
    "bug_scale_dv": ({SDPA: sdpa(scale="ops.sqrt(d_v)")}, {SDPA: "uses the value depth d_v"}),
    "bug_mask_after_softmax": ({SDPA: sdpa(masking="after")}, {SDPA: "applied after the softmax"}),
    "bug_mask_inverted": ({SDPA: sdpa(masking="inverted")}, {SDPA: "the mask is inverted"}),
    "bug_mask_ignored": ({SDPA: sdpa(masking="ignored")}, {SDPA: "the mask is ignored"}),
    "bug_minus_inf_mask": ({SDPA: sdpa(masking="-inf")}, {SDPA: "gave NaN or inf"}),
    "bug_returns_weights_first": (
        {SDPA: sdpa(ret="weights, ops.matmul(weights, value)")},
        {SDPA: "returned in the wrong order"},
    ),
    "bug_output_transposed": (
        {SDPA: sdpa(ret="ops.swapaxes(ops.matmul(weights, value), -1, -2), weights")},
        {SDPA: "check the axis order"},
    ),
    "bug_causal_diagonal_excluded": (
        {
            CAUSAL: "def causal_mask(length):\n    return np.tril(np.ones((length, length), bool), k=-1)\n"
        },
        {CAUSAL: "the diagonal is excluded"},
    ),
    "bug_causal_k_plus_1": (
        {
            CAUSAL: "def causal_mask(length):\n    return np.tril(np.ones((length, length), bool), k=1)\n"
        },
        {CAUSAL: "the diagonal is shifted by one"},
    ),
    "bug_causal_triu": (
        {CAUSAL: "def causal_mask(length):\n    return np.triu(np.ones((length, length), bool))\n"},
        {CAUSAL: "the upper triangle is kept"},
    ),
    "bug_causal_inverted": (
        {
            CAUSAL: "def causal_mask(length):\n    return ~np.tril(np.ones((length, length), bool))\n"
        },
        {CAUSAL: "is inverted"},
    ),
    "bug_padding_shape_BT": (
        {
            PAD: "def padding_mask(token_ids, pad_id=0):\n    return ops.not_equal(ops.convert_to_tensor(token_ids), pad_id)\n"
        },
        {PAD: "got shape (3, 7)"},
    ),
    "bug_padding_true_at_pads": (
        {
            PAD: "def padding_mask(token_ids, pad_id=0):\n    return ops.equal(ops.convert_to_tensor(token_ids), pad_id)[:, None, :]\n"
        },
        {PAD: "is inverted"},
    ),
    "bug_padding_ignores_pad_id": (
        {
            PAD: "def padding_mask(token_ids, pad_id=0):\n    return ops.not_equal(ops.convert_to_tensor(token_ids), 0)[:, None, :]\n"
        },
        {PAD: "pad_id is ignored (the mask uses 0)"},
    ),
    "bug_sa_key_dense_for_queries": (
        {SA: self_attention(query="self.key_dense")},
        {SA: "come from the wrong Dense layer (key_dense instead of query_dense)"},
    ),
    "bug_sa_queries_keys_swapped": (
        {SA: self_attention(query="self.key_dense", key="self.query_dense")},
        {SA: "come from the wrong Dense layer"},
    ),
    "bug_sa_no_bias": (
        {SA: self_attention(use_bias=", use_bias=False")},
        {SA: "Building the layer failed"},
    ),
    "bug_sa_ignores_use_causal_mask": (
        {SA: self_attention(causal=False)},
        {SA: "the mask is ignored"},
    ),
    "bug_sa_scale_d_model": (
        {SA: self_attention(scale="ops.shape(inputs)[-1]")},
        {SA: "1/sqrt(d_model) of the input instead of 1/sqrt(key_dim)"},
    ),
    "bug_sa_causal_replaces_padding": (
        {SA: self_attention(combine="causal")},
        {SA: "replaces the attention_mask instead of combining them"},
    ),
    "bug_sa_static_batch_size": (
        {
            SA: self_attention(
                causal_expr="ops.tile(causal_mask(inputs.shape[1])[None], (inputs.shape[0], 1, 1))"
            )
        },
        {SA: "inside a tf.function with an unknown batch size"},
    ),
    "bug_sa_accepts_2d_mask": (
        {SA: self_attention(refuse_2d=False)},
        {SA: "to raise ValueError, but it returned normally"},
    ),
    "bug_causal_all_true": (
        {CAUSAL: "def causal_mask(length):\n    return np.ones((length, length), bool)\n"},
        {CAUSAL: "counts only when causal_mask("},
    ),
    "bug_empty_answer": (
        {"answer_scale": "answer_scale = set()\n"},
        {"answer_scale": "no answer given"},
    ),
    "bug_sa_returns_tuple": (
        {SA: self_attention(ret="output, weights")},
        {SA: "a tuple came back"},
    ),
}

# Feedback gaps found by this catalog: the bug loses points, but no hint names it.
# (Fixed: weights-first order, pad_id ignored, key_dense for queries, sqrt(d_model) scale,
# and a failed weight copy in construct now fails the layer's calls with its own error.)
VAGUE = {}
