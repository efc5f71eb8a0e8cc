"""The Transformer decoder block: causal self-attention, cross-attention, feed-forward."""

import keras

from .feed_forward import FeedForward
from .multi_head_attention import MultiHeadAttention


@keras.saving.register_keras_serializable(package="course_lib")
class TransformerDecoderBlock(keras.layers.Layer):
    """Causal self-attention, cross-attention over the encoder output, then a FFN.

    Post-norm (default), each sublayer as `norm(x + drop(sublayer(x)))`:
    `x = norm1(x + drop(self_attention(x, x, causal)))`,
    `x = norm2(x + drop(cross_attention(x, context, context_mask)))`,
    `x = norm3(x + drop(ffn(x)))`. With `norm_first=True` the norms move
    inside the residual branches (pre-norm).

    In cross-attention the query is the decoder state and the keys and values
    are the encoder output `context`; `context_mask`, a key padding mask
    `(B, 1, S)`, hides padded source positions.

    Args:
        d_model, num_heads, ff_dim, dropout: as in `TransformerEncoderBlock`.
        norm_first: bool, pre-norm instead of post-norm.
        activation: activation of the feed-forward network.
        layer_norm_epsilon: float, LayerNormalization epsilon.

    Call arguments:
        x: decoder input `(B, T, d_model)`.
        context: encoder output `(B, S, d_model)`.
        context_mask: optional bool key padding mask `(B, 1, S)`.
        self_attention_mask: optional extra bool mask `(B, T, T)` or `(B, 1, T)`.
        training: bool, dropout only acts when True.
        self_attention_cache: optional `(B, 2, heads, T_max, Dh)` cache, updated at
        cache_update_index: int position of `x[:, 0]` in the target sequence.
        cross_attention_cache: optional `(B, 2, heads, S, Dh)` precomputed context
            keys/values (see `MultiHeadAttention.project_key_value`).
        return_attention_scores: bool, also return the cross-attention weights.

    Returns:
        `(B, T, d_model)`; with caches `(output, self_attention_cache)`; the
        cross-attention weights `(B, heads, T, S)` are appended last when requested.

    Example:
    >>> block = TransformerDecoderBlock(d_model=32, num_heads=4, ff_dim=64)
    >>> x, ctx = np.random.rand(2, 5, 32), np.random.rand(2, 7, 32)
    >>> block(x, ctx).shape
    (2, 5, 32)
    """

    def __init__(
        self,
        d_model,
        num_heads,
        ff_dim,
        dropout=0.0,
        norm_first=False,
        activation="relu",
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.d_model = d_model
        self.num_heads = num_heads
        self.ff_dim = ff_dim
        self.dropout = dropout
        self.norm_first = norm_first
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        dtype = self.dtype_policy
        eps = layer_norm_epsilon
        self.self_attention = MultiHeadAttention(
            num_heads, d_model, dropout, name="self_attention", dtype=dtype
        )
        self.cross_attention = MultiHeadAttention(
            num_heads, d_model, dropout, name="cross_attention", dtype=dtype
        )
        self.ffn = FeedForward(d_model, ff_dim, dropout, activation, name="ffn", dtype=dtype)
        self.norm1 = keras.layers.LayerNormalization(epsilon=eps, name="norm1", dtype=dtype)
        self.norm2 = keras.layers.LayerNormalization(epsilon=eps, name="norm2", dtype=dtype)
        self.norm3 = keras.layers.LayerNormalization(epsilon=eps, name="norm3", dtype=dtype)
        self.dropouts = [keras.layers.Dropout(dropout, dtype=dtype) for _ in range(3)]

    def build(self, x_shape, context_shape=None):
        context_shape = x_shape if context_shape is None else context_shape
        self.self_attention.build(x_shape)
        self.cross_attention.build(x_shape, context_shape)
        for layer in (self.ffn, self.norm1, self.norm2, self.norm3):
            layer.build(x_shape)
        self.built = True

    def call(
        self,
        x,
        context,
        context_mask=None,
        self_attention_mask=None,
        training=None,
        self_attention_cache=None,
        cache_update_index=None,
        cross_attention_cache=None,
        return_attention_scores=False,
    ):
        for name, t in (("x", x), ("context", context)):
            if len(t.shape) != 3:
                raise ValueError(
                    f"`{name}` must have shape (B, length, d_model). Received: {name}.shape={tuple(t.shape)}"
                )

        # Causal self-attention block.
        h = self.norm1(x) if self.norm_first else x
        outputs = self.self_attention(
            h,
            h,
            attention_mask=self_attention_mask,
            use_causal_mask=True,
            training=training,
            cache=self_attention_cache,
            cache_update_index=cache_update_index,
        )
        h, self_extra = (outputs[0], outputs[1:]) if isinstance(outputs, tuple) else (outputs, ())
        x = x + self.dropouts[0](h, training=training)
        if not self.norm_first:
            x = self.norm1(x)

        # Cross-attention block: queries from the decoder, keys and values from the encoder.
        h = self.norm2(x) if self.norm_first else x
        outputs = self.cross_attention(
            h,
            context,
            attention_mask=context_mask,
            return_attention_scores=True,
            training=training,
            cache=cross_attention_cache,
        )
        h, cross_scores = outputs[0], outputs[-1]
        x = x + self.dropouts[1](h, training=training)
        if not self.norm_first:
            x = self.norm2(x)

        # Feed-forward block.
        h = self.norm3(x) if self.norm_first else x
        x = x + self.dropouts[2](self.ffn(h, training=training), training=training)
        if not self.norm_first:
            x = self.norm3(x)

        result = (x,) + tuple(self_extra)
        result += (cross_scores,) if return_attention_scores else ()
        return result[0] if len(result) == 1 else result

    def get_config(self):
        config = super().get_config()
        config.update(
            d_model=self.d_model,
            num_heads=self.num_heads,
            ff_dim=self.ff_dim,
            dropout=self.dropout,
            norm_first=self.norm_first,
            activation=self.activation,
            layer_norm_epsilon=self.layer_norm_epsilon,
        )
        return config
