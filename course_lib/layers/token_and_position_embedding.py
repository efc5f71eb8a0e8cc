"""Token embeddings plus learned position embeddings."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="course_lib")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Embeds token ids and adds a learned embedding of each position `0..T-1`.

    Args:
        vocab_size: int, number of token ids.
        max_len: int, the longest sequence (number of learned positions).
        d_model: int, embedding width.

    Call arguments:
        token_ids: int `(B, T)` with `T <= max_len`.
        start_index: int, position of the first token (for cached decoding).

    Returns:
        `(B, T, d_model)`.

    Example:
    >>> emb = TokenAndPositionEmbedding(vocab_size=100, max_len=16, d_model=8)
    >>> emb(np.array([[5, 9, 2]])).shape
    (1, 3, 8)
    """

    def __init__(self, vocab_size, max_len, d_model, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("vocab_size", vocab_size), ("max_len", max_len), ("d_model", d_model)):
            if value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value}")
        self.vocab_size = vocab_size
        self.max_len = max_len
        self.d_model = d_model
        self.token_embedding = keras.layers.Embedding(
            vocab_size, d_model, name="token_embedding", dtype=self.dtype_policy
        )
        self.position_embedding = keras.layers.Embedding(
            max_len, d_model, name="position_embedding", dtype=self.dtype_policy
        )

    def build(self, token_ids_shape):
        self.token_embedding.build(token_ids_shape)
        self.position_embedding.build(token_ids_shape)
        self.built = True

    def call(self, token_ids, start_index=0):
        if len(token_ids.shape) != 2:
            raise ValueError(
                f"`token_ids` must have shape (B, T). Received: token_ids.shape={tuple(token_ids.shape)}"
            )
        length = token_ids.shape[1]
        if (
            length is not None
            and isinstance(start_index, int)
            and start_index + length > self.max_len
        ):
            raise ValueError(
                f"Sequence longer than `max_len`. Received: length={length}, "
                f"start_index={start_index}, max_len={self.max_len}"
            )
        positions = ops.arange(ops.shape(token_ids)[1]) + start_index  # (T,)
        return self.token_embedding(token_ids) + self.position_embedding(positions)[None]

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, max_len=self.max_len, d_model=self.d_model)
        return config
