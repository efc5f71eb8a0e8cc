"""Multi-head attention built from four Dense projections."""

import keras
from keras import ops

from .attention import masked_softmax
from .heads import merge_heads, split_heads
from .masks import causal_mask


def _check_rank3(name, tensor):
    if tensor is not None and len(tensor.shape) != 3:
        raise ValueError(
            f"`{name}` must have shape (batch, length, features). "
            f"Received: {name}.shape={tuple(tensor.shape)}"
        )


@keras.saving.register_keras_serializable(package="course_lib")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head scaled dot-product attention (Vaswani et al., 2017).

    The query, key and value are projected by `wq`, `wk`, `wv`
    (`Dense(d_model)` each), split into `num_heads` heads of size
    `d_model // num_heads`, attended with scale `1/sqrt(d_model // num_heads)`,
    merged, and projected by `wo`. Dropout acts on the attention weights.

    Masks are boolean, True = may attend. `attention_mask` must have rank 3
    `(B, Tq, Tk)` (a key padding mask is `(B, 1, Tk)`) or rank 4
    `(B, heads, Tq, Tk)`; a 2-D mask is refused because a `(B, Tk)` padding mask
    would be silently misread as `(Tq, Tk)`. `use_causal_mask=True` combines a
    causal mask with it.

    Incremental decoding: pass `cache` of shape `(B, 2, heads, S, Dh)` (keys and
    values). With `cache_update_index`, the keys/values of the current inputs
    are written into the cache at that position and attention runs over the
    whole cache (causally, when `use_causal_mask=True`); without it, the cache
    is used as precomputed keys/values (cross-attention). The layer then
    returns `(output, cache)` (plus scores when requested).

    Args:
        num_heads: int, number of attention heads.
        d_model: int, model width; must be divisible by `num_heads`.
        dropout: float, dropout rate on the attention weights.
        use_bias: bool, whether the projections have biases.

    Call arguments:
        query: `(B, Tq, D)`.
        value: `(B, Tk, D)`.
        key: `(B, Tk, D)`, defaults to `value`.
        attention_mask: optional bool mask, see above.
        use_causal_mask: bool, apply a causal mask.
        return_attention_scores: bool, also return the weights `(B, heads, Tq, Tk)`.
        training: bool, dropout only acts when True.
        cache, cache_update_index: see above.

    Returns:
        `(B, Tq, d_model)`, or `(output, scores)` with `return_attention_scores`.

    Example:
    >>> mha = MultiHeadAttention(num_heads=4, d_model=32)
    >>> x = np.random.rand(2, 10, 32).astype("float32")
    >>> mha(x, x, use_causal_mask=True).shape
    (2, 10, 32)
    """

    def __init__(self, num_heads, d_model, dropout=0.0, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        if num_heads < 1 or d_model < 1 or d_model % num_heads:
            raise ValueError(
                "`d_model` must be a positive multiple of `num_heads`. "
                f"Received: num_heads={num_heads}, d_model={d_model}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout}")
        self.num_heads = num_heads
        self.d_model = d_model
        self.dropout = dropout
        self.use_bias = use_bias
        self.head_dim = d_model // num_heads
        dense = dict(units=d_model, use_bias=use_bias, dtype=self.dtype_policy)
        self.wq = keras.layers.Dense(name="wq", **dense)
        self.wk = keras.layers.Dense(name="wk", **dense)
        self.wv = keras.layers.Dense(name="wv", **dense)
        self.wo = keras.layers.Dense(name="wo", **dense)
        self.attention_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        self.wq.build(query_shape)
        self.wk.build(key_shape)
        self.wv.build(value_shape)
        self.wo.build(tuple(query_shape[:-1]) + (self.d_model,))
        self.built = True

    def project_key_value(self, key, value):
        """Returns the cache entry `(B, 2, heads, Tk, Dh)` for a fixed context."""
        k = split_heads(self.wk(key), self.num_heads)
        v = split_heads(self.wv(value), self.num_heads)
        return ops.stack([k, v], axis=1)

    def call(
        self,
        query,
        value,
        key=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
        cache=None,
        cache_update_index=None,
    ):
        key = value if key is None else key
        for name, t in (("query", query), ("value", value), ("key", key)):
            _check_rank3(name, t)

        # Projections and heads.
        q = split_heads(self.wq(query), self.num_heads)  # (B, H, Tq, Dh)
        if cache is not None and cache_update_index is None:
            k, v = cache[:, 0], cache[:, 1]  # precomputed context
        else:
            k = split_heads(self.wk(key), self.num_heads)  # (B, H, Tk, Dh)
            v = split_heads(self.wv(value), self.num_heads)
            if cache is not None:
                start = [0, 0, 0, cache_update_index, 0]
                kv = ops.stack([k, v], axis=1)  # (B, 2, H, Tq, Dh)
                cache = ops.slice_update(cache, start, ops.cast(kv, cache.dtype))
                k, v = cache[:, 0], cache[:, 1]

        # Scaled dot-product attention with masks.
        logits = ops.einsum("bhqd,bhkd->bhqk", q, k) * ops.cast(self.head_dim**-0.5, q.dtype)
        mask = self._combine_masks(
            attention_mask, use_causal_mask, ops.shape(logits), cache_update_index
        )
        weights = masked_softmax(logits, mask)  # (B, H, Tq, Tk)
        dropped = self.attention_dropout(weights, training=training)
        output = self.wo(merge_heads(ops.einsum("bhqk,bhkd->bhqd", dropped, v)))  # (B, Tq, D)

        result = (output,)
        if cache is not None:
            result += (cache,)
        if return_attention_scores:
            result += (weights,)
        return result[0] if len(result) == 1 else result

    def _combine_masks(self, attention_mask, use_causal_mask, logits_shape, offset):
        mask = None
        if attention_mask is not None:
            mask = ops.convert_to_tensor(attention_mask)
            if len(mask.shape) not in (3, 4):
                raise ValueError(
                    "`attention_mask` must have rank 3 (B, Tq, Tk) or 4 (B, heads, Tq, Tk); "
                    "a key padding mask is (B, 1, Tk) and a causal mask needs a batch axis "
                    f"(causal_mask(T)[None]). Received: attention_mask.shape={tuple(mask.shape)}"
                )
            if len(mask.shape) == 3:
                mask = ops.expand_dims(mask, 1)  # (B, 1, Tq, Tk): same mask for every head
            mask = ops.cast(mask, "bool")
        if use_causal_mask:
            causal = causal_mask(logits_shape[2], logits_shape[3], 0 if offset is None else offset)
            mask = causal if mask is None else ops.logical_and(mask, causal)
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            d_model=self.d_model,
            dropout=self.dropout,
            use_bias=self.use_bias,
        )
        return config
