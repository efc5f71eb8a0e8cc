"""Sinusoidal position encodings (Vaswani et al., 2017), interleaved sin/cos."""

import keras
import numpy as np
from keras import ops


def positional_encoding(length, depth):
    """Returns the sinusoidal position table `(length, depth)`, float32.

    `PE[p, 2i] = sin(p / 10000^(2i/depth))` and
    `PE[p, 2i+1] = cos(p / 10000^(2i/depth))`: sines and cosines interleaved,
    as in the paper (not concatenated).

    Args:
        length: int, number of positions.
        depth: int, even model width.

    Returns:
        A float32 tensor `(length, depth)`.

    Example:
    >>> np.round(positional_encoding(4, 6)[3], 5)
    [ 0.14112 -0.98999  0.13879  0.99032  0.00646  0.99997]
    """
    if not isinstance(depth, int | np.integer) or depth < 2 or depth % 2:
        raise ValueError(f"`depth` must be an even integer >= 2. Received: depth={depth}")
    if not isinstance(length, int | np.integer) or length < 1:
        raise ValueError(f"`length` must be a positive integer. Received: length={length}")
    positions = np.arange(length, dtype=np.float64)[:, None]  # (L, 1)
    rates = 1.0 / np.power(10000.0, np.arange(0, depth, 2, dtype=np.float64) / depth)  # (d/2,)
    angles = positions * rates  # (L, d/2)
    table = np.empty((length, depth), dtype=np.float64)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles)
    return ops.convert_to_tensor(table.astype(np.float32))


@keras.saving.register_keras_serializable(package="course_lib")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """Returns sinusoidal position encodings shaped like its input.

    The layer has no weights; add its output to token embeddings.

    Args:
        max_len: int, the longest sequence the layer accepts.

    Call arguments:
        inputs: `(B, T, D)` embeddings (only the shape is used), `D` even.
        start_index: int, position of the first token (for cached decoding).

    Returns:
        `(B, T, D)` encodings for positions `start_index .. start_index + T - 1`.

    Example:
    >>> x = np.random.rand(2, 5, 8).astype("float32")
    >>> (x + SinusoidalPositionEncoding(max_len=16)(x)).shape
    (2, 5, 8)
    """

    def __init__(self, max_len, **kwargs):
        super().__init__(**kwargs)
        if max_len < 1:
            raise ValueError(f"`max_len` must be a positive integer. Received: max_len={max_len}")
        self.max_len = max_len

    def call(self, inputs, start_index=0):
        if len(inputs.shape) != 3:
            raise ValueError(
                f"`inputs` must have shape (B, T, D). Received: inputs.shape={tuple(inputs.shape)}"
            )
        length, depth = inputs.shape[1], inputs.shape[2]
        if (
            length is not None
            and isinstance(start_index, int)
            and start_index + length > self.max_len
        ):
            raise ValueError(
                f"Sequence longer than `max_len`. Received: length={length}, "
                f"start_index={start_index}, max_len={self.max_len}"
            )
        table = ops.cast(positional_encoding(self.max_len, depth), self.compute_dtype)
        positions = ops.slice(table, (start_index, 0), (ops.shape(inputs)[1], depth))
        return ops.broadcast_to(positions[None], ops.shape(inputs))

    def get_config(self):
        config = super().get_config()
        config.update(max_len=self.max_len)
        return config
