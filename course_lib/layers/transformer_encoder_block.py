"""The Transformer encoder block: self-attention and a feed-forward network."""

import keras

from .feed_forward import FeedForward
from .multi_head_attention import MultiHeadAttention


@keras.saving.register_keras_serializable(package="course_lib")
class TransformerEncoderBlock(keras.layers.Layer):
    """Self-attention then a feed-forward network, each with a residual and LayerNorm.

    Post-norm (the original Transformer, the default):
    `x = norm1(x + drop(attention(x, x)))`, `x = norm2(x + drop(ffn(x)))`.
    Pre-norm (`norm_first=True`, GPT-2 and ViT):
    `x = x + drop(attention(norm1(x)))`, `x = x + drop(ffn(norm2(x)))`.
    With `norm_first=True, activation="gelu"` this is the ViT block.

    Args:
        d_model: int, model width.
        num_heads: int, attention heads; must divide `d_model`.
        ff_dim: int, hidden width of the feed-forward network.
        dropout: float, dropout rate on attention weights and both residual branches.
        norm_first: bool, pre-norm instead of post-norm.
        activation: activation of the feed-forward network.
        layer_norm_epsilon: float, LayerNormalization epsilon.

    Call arguments:
        x: `(B, T, d_model)`.
        attention_mask: optional bool mask `(B, T, T)` or key padding mask `(B, 1, T)`.
        use_causal_mask: bool, forbid attending to later positions.
        return_attention_scores: bool, also return `(B, heads, T, T)`.
        training: bool, dropout only acts when True.

    Returns:
        `(B, T, d_model)`, or `(output, scores)`.

    Example:
    >>> block = TransformerEncoderBlock(d_model=32, num_heads=4, ff_dim=64)
    >>> block(np.random.rand(2, 7, 32).astype("float32")).shape
    (2, 7, 32)
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
        self.attention = MultiHeadAttention(
            num_heads, d_model, dropout, name="attention", dtype=dtype
        )
        self.ffn = FeedForward(d_model, ff_dim, dropout, activation, name="ffn", dtype=dtype)
        self.norm1 = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="norm1", dtype=dtype
        )
        self.norm2 = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="norm2", dtype=dtype
        )
        self.dropout1 = keras.layers.Dropout(dropout, dtype=dtype)
        self.dropout2 = keras.layers.Dropout(dropout, dtype=dtype)

    def build(self, x_shape):
        self.attention.build(x_shape)
        self.ffn.build(x_shape)
        self.norm1.build(x_shape)
        self.norm2.build(x_shape)
        self.built = True

    def call(
        self,
        x,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
    ):
        if len(x.shape) != 3:
            raise ValueError(
                f"`x` must have shape (B, T, d_model). Received: x.shape={tuple(x.shape)}"
            )

        # Self-attention block.
        h = self.norm1(x) if self.norm_first else x
        h, scores = self.attention(
            h,
            h,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
            return_attention_scores=True,
            training=training,
        )
        x = x + self.dropout1(h, training=training)
        if not self.norm_first:
            x = self.norm1(x)

        # Feed-forward block.
        h = self.norm2(x) if self.norm_first else x
        x = x + self.dropout2(self.ffn(h, training=training), training=training)
        if not self.norm_first:
            x = self.norm2(x)
        return (x, scores) if return_attention_scores else x

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
