"""A single self-attention head with its own query, key and value projections."""

import keras
from keras import ops

from .attention import scaled_dot_product_attention
from .masks import causal_mask


@keras.saving.register_keras_serializable(package="course_lib")
class SelfAttention(keras.layers.Layer):
    """One self-attention head: `softmax(QK^T / sqrt(key_dim)) V` over one sequence.

    `Q`, `K`, `V` come from three `Dense(key_dim)` projections of the same input
    (`query_dense`, `key_dense`, `value_dense`).

    Args:
        key_dim: int, size of the query, key and value projections.

    Call arguments:
        inputs: `(B, T, D)`.
        attention_mask: optional bool mask broadcastable to `(B, T, T)`, True =
            may attend; a key padding mask has shape `(B, 1, T)`.
        use_causal_mask: bool, also forbid attending to later positions.
        return_attention_scores: bool, also return the weights `(B, T, T)`.

    Returns:
        `(B, T, key_dim)`, or `(output, weights)`.

    Example:
    >>> head = SelfAttention(key_dim=16)
    >>> head(np.random.rand(2, 6, 32).astype("float32"), use_causal_mask=True).shape
    (2, 6, 16)
    """

    def __init__(self, key_dim, **kwargs):
        super().__init__(**kwargs)
        if key_dim < 1:
            raise ValueError(f"`key_dim` must be a positive integer. Received: key_dim={key_dim}")
        self.key_dim = key_dim
        self.query_dense = keras.layers.Dense(key_dim, name="query_dense", dtype=self.dtype_policy)
        self.key_dense = keras.layers.Dense(key_dim, name="key_dense", dtype=self.dtype_policy)
        self.value_dense = keras.layers.Dense(key_dim, name="value_dense", dtype=self.dtype_policy)

    def build(self, inputs_shape):
        for dense in (self.query_dense, self.key_dense, self.value_dense):
            dense.build(inputs_shape)
        self.built = True

    def call(
        self, inputs, attention_mask=None, use_causal_mask=False, return_attention_scores=False
    ):
        if len(inputs.shape) != 3:
            raise ValueError(
                f"`inputs` must have shape (B, T, D). Received: inputs.shape={tuple(inputs.shape)}"
            )
        mask = None
        if attention_mask is not None:
            mask = ops.cast(attention_mask, "bool")
            if len(mask.shape) != 3:
                raise ValueError(
                    "`attention_mask` must have rank 3, (B, T, T) or a key padding mask (B, 1, T). "
                    f"Received: attention_mask.shape={tuple(mask.shape)}"
                )
        if use_causal_mask:
            causal = causal_mask(ops.shape(inputs)[1])
            mask = causal if mask is None else ops.logical_and(mask, causal)
        q, k, v = self.query_dense(inputs), self.key_dense(inputs), self.value_dense(inputs)
        output, weights = scaled_dot_product_attention(q, k, v, mask=mask)
        return (output, weights) if return_attention_scores else output

    def get_config(self):
        config = super().get_config()
        config.update(key_dim=self.key_dim)
        return config
