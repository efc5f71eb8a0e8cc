"""Attention masks: boolean, True = may attend (the Keras convention)."""

from keras import ops


def causal_mask(length, key_length=None, offset=0):
    """Returns a boolean causal mask: query `i` may attend to key `j <= i + offset`.

    With the defaults this is the square `(length, length)` mask that is True on
    and below the diagonal. `key_length` and `offset` serve incremental decoding
    with a key/value cache: queries are the positions `offset .. offset+length-1`
    of a sequence whose keys span `key_length` positions.

    Args:
        length: int, number of query positions `Tq`.
        key_length: int, number of key positions `Tk`. Defaults to `length`.
        offset: int or scalar tensor, position of the first query.

    Returns:
        A bool tensor of shape `(length, key_length)`.

    Example:
    >>> causal_mask(3)
    [[ True, False, False],
     [ True,  True, False],
     [ True,  True,  True]]
    """
    if isinstance(length, int) and length < 1:
        raise ValueError(f"`length` must be a positive integer. Received: length={length}")
    key_length = length if key_length is None else key_length
    rows = ops.expand_dims(ops.arange(length), 1) + offset  # (Tq, 1)
    cols = ops.expand_dims(ops.arange(key_length), 0)  # (1, Tk)
    return ops.greater_equal(rows, cols)


def padding_mask(token_ids, pad_id=0):
    """Returns a key padding mask, True where the key token is not `pad_id`.

    Args:
        token_ids: int tensor `(B, T)`.
        pad_id: int, the padding token id.

    Returns:
        A bool tensor of shape `(B, 1, T)`, which broadcasts over query
        positions (and over heads once a head axis is inserted).

    Example:
    >>> padding_mask([[5, 7, 0]])
    [[[ True,  True, False]]]
    """
    token_ids = ops.convert_to_tensor(token_ids)
    if len(token_ids.shape) != 2:
        raise ValueError(
            "`token_ids` must have shape (batch, length). "
            f"Received: token_ids.shape={tuple(token_ids.shape)}"
        )
    return ops.expand_dims(ops.not_equal(token_ids, pad_id), 1)
