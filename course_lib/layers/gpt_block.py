"""The GPT (decoder-only) block: pre-norm causal self-attention and a GELU MLP."""

import keras

from .feed_forward import FeedForward
from .multi_head_attention import MultiHeadAttention


@keras.saving.register_keras_serializable(package="course_lib")
class GPTBlock(keras.layers.Layer):
    """A GPT-2 block: `x = x + drop(attention(ln1(x), causal))`, `x = x + drop(mlp(ln2(x)))`.

    Args:
        d_model: int, model width.
        num_heads: int, attention heads; must divide `d_model`.
        ff_dim: int, hidden width of the MLP (GPT-2 uses `4 * d_model`).
        dropout: float, dropout rate on attention weights and both residual branches.
        activation: MLP activation, `"gelu"` as in GPT-2.
        layer_norm_epsilon: float, LayerNormalization epsilon.

    Call arguments:
        x: `(B, T, d_model)`.
        attention_mask: optional extra bool mask, e.g. a key padding mask `(B, 1, T)`;
            the causal mask is always applied.
        training: bool, dropout only acts when True.
        cache: optional `(B, 2, heads, S, Dh)` key/value cache, with
        cache_update_index: int position of `x[:, 0]` in the sequence.
        return_attention_scores: bool, also return `(B, heads, T, S)`.

    Returns:
        `(B, T, d_model)`; with a cache `(output, cache)`; scores are appended last.

    Example:
    >>> GPTBlock(d_model=32, num_heads=4, ff_dim=128)(np.random.rand(2, 5, 32)).shape
    (2, 5, 32)
    """

    def __init__(
        self,
        d_model,
        num_heads,
        ff_dim,
        dropout=0.0,
        activation="gelu",
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.d_model = d_model
        self.num_heads = num_heads
        self.ff_dim = ff_dim
        self.dropout = dropout
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        dtype = self.dtype_policy
        self.ln1 = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="ln1", dtype=dtype
        )
        self.attention = MultiHeadAttention(
            num_heads, d_model, dropout, name="attention", dtype=dtype
        )
        self.ln2 = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="ln2", dtype=dtype
        )
        self.mlp = FeedForward(d_model, ff_dim, dropout, activation, name="mlp", dtype=dtype)
        self.dropout1 = keras.layers.Dropout(dropout, dtype=dtype)
        self.dropout2 = keras.layers.Dropout(dropout, dtype=dtype)

    def build(self, x_shape):
        for layer in (self.ln1, self.attention, self.ln2, self.mlp):
            layer.build(x_shape)
        self.built = True

    def call(
        self,
        x,
        attention_mask=None,
        training=None,
        cache=None,
        cache_update_index=None,
        return_attention_scores=False,
    ):
        if len(x.shape) != 3:
            raise ValueError(
                f"`x` must have shape (B, T, d_model). Received: x.shape={tuple(x.shape)}"
            )

        # Causal self-attention block.
        h = self.ln1(x)
        outputs = self.attention(
            h,
            h,
            attention_mask=attention_mask,
            use_causal_mask=True,
            return_attention_scores=True,
            training=training,
            cache=cache,
            cache_update_index=cache_update_index,
        )
        h, scores = outputs[0], outputs[-1]
        x = x + self.dropout1(h, training=training)

        # MLP block.
        x = x + self.dropout2(self.mlp(self.ln2(x), training=training), training=training)

        result = (x,) + ((outputs[1],) if cache is not None else ())
        result += (scores,) if return_attention_scores else ()
        return result[0] if len(result) == 1 else result

    def get_config(self):
        config = super().get_config()
        config.update(
            d_model=self.d_model,
            num_heads=self.num_heads,
            ff_dim=self.ff_dim,
            dropout=self.dropout,
            activation=self.activation,
            layer_norm_epsilon=self.layer_norm_epsilon,
        )
        return config
