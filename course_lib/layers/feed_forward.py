"""The position-wise feed-forward network of a Transformer block."""

import keras


@keras.saving.register_keras_serializable(package="course_lib")
class FeedForward(keras.layers.Layer):
    """Two Dense layers applied to every position: `dense2(dropout(dense1(x)))`.

    Args:
        d_model: int, input and output width.
        ff_dim: int, hidden width (usually `4 * d_model`).
        dropout: float, dropout rate after the activation.
        activation: activation of `dense1`, e.g. `"relu"` or `"gelu"`.

    Call arguments:
        x: `(..., d_model)`.
        training: bool, dropout only acts when True.

    Returns:
        `(..., d_model)`.

    Example:
    >>> FeedForward(d_model=32, ff_dim=128)(np.random.rand(2, 5, 32)).shape
    (2, 5, 32)
    """

    def __init__(self, d_model, ff_dim, dropout=0.0, activation="relu", **kwargs):
        super().__init__(**kwargs)
        for name, value in (("d_model", d_model), ("ff_dim", ff_dim)):
            if value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout}")
        self.d_model = d_model
        self.ff_dim = ff_dim
        self.dropout_rate = dropout
        self.activation = activation
        self.dense1 = keras.layers.Dense(
            ff_dim, activation=activation, name="dense1", dtype=self.dtype_policy
        )
        self.dense2 = keras.layers.Dense(d_model, name="dense2", dtype=self.dtype_policy)
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, x_shape):
        self.dense1.build(x_shape)
        self.dense2.build(tuple(x_shape[:-1]) + (self.ff_dim,))
        self.built = True

    def call(self, x, training=None):
        return self.dense2(self.dropout(self.dense1(x), training=training))

    def get_config(self):
        config = super().get_config()
        config.update(
            d_model=self.d_model,
            ff_dim=self.ff_dim,
            dropout=self.dropout_rate,
            activation=keras.activations.serialize(keras.activations.get(self.activation))
            if not isinstance(self.activation, str)
            else self.activation,
        )
        return config
