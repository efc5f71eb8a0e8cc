"""Text pipelines: language-model windows, padded batches with masks, seq2seq pairs.

All ids are int32 and padding uses `PAD_ID` (0), so a model can rebuild its
masks from the ids; `padded_batches` also returns the `(B, T)` mask explicitly.

Example:
    >>> ids = tokenizer.encode(text)
    >>> ds = lm_dataset(ids, seq_len=128, batch_size=32, shuffle=True, seed=0)
    >>> inputs, targets = next(iter(ds))   # targets[:, t] == inputs[:, t + 1]
"""

import numpy as np
import tensorflow as tf

from course_lib.data.tokenizer_base import END_ID, PAD_ID, START_ID

AUTOTUNE = tf.data.AUTOTUNE


def _check_positive(**values):
    for name, value in values.items():
        if value is not None and (not isinstance(value, int) or value <= 0):
            raise ValueError(f"{name} must be a positive int. Received: {name}={value}")


def lm_dataset(
    token_ids, seq_len, batch_size, shuffle=False, seed=None, drop_remainder=True
) -> tf.data.Dataset:
    """Batches of `(inputs (B, seq_len), targets (B, seq_len))` int32, targets shifted by one.

    The ids are cut into consecutive, non-overlapping windows of `seq_len + 1`
    tokens; each window gives `inputs = w[:-1]` and `targets = w[1:]`.

    Args:
        token_ids: a 1-D array or list of ids, or a `tf.data.Dataset` of id
            scalars or 1-D id sequences (streamed: never held in memory whole).
        seq_len: tokens per example.
        batch_size: examples per batch.
        shuffle: shuffle windows (a buffer of 10,000 windows) with `seed`.
        drop_remainder: drop a last, smaller batch so every batch has `batch_size` rows.
    """
    _check_positive(seq_len=seq_len, batch_size=batch_size)
    if isinstance(token_ids, tf.data.Dataset):
        ds = token_ids.map(lambda t: tf.cast(t, tf.int32))
        if ds.element_spec.shape.rank == 1:
            ds = _windows_from_documents(ds, seq_len + 1)
        else:
            ds = ds.batch(seq_len + 1, drop_remainder=True)
    else:
        ids = np.asarray(token_ids).reshape(-1)
        if ids.size < seq_len + 1:
            raise ValueError(
                f"Need at least seq_len + 1 = {seq_len + 1} tokens for one example. "
                f"Received: {ids.size} tokens"
            )
        ds = tf.data.Dataset.from_tensor_slices(ids.astype(np.int32))
        ds = ds.batch(seq_len + 1, drop_remainder=True)
    if shuffle:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda w: (w[:-1], w[1:]), num_parallel_calls=AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(AUTOTUNE)


def _windows_from_documents(docs: tf.data.Dataset, width: int) -> tf.data.Dataset:
    """Cuts a stream of 1-D id documents into `width`-token windows of their concatenation.

    A scan carries the leftover tail of each document into the next, so whole
    documents are reshaped at once instead of batching one scalar at a time.
    """

    def step(carry, doc):
        joined = tf.concat([carry, doc], axis=0)
        n = tf.shape(joined)[0] // width * width
        return joined[n:], tf.reshape(joined[:n], [-1, width])

    return docs.scan(tf.zeros([0], tf.int32), step).unbatch()


def pad_ragged(ids: tf.RaggedTensor, max_len=None) -> tuple[tf.Tensor, tf.Tensor]:
    """Pads ragged ids `(B, None)` with `PAD_ID` to `(B, T)`; returns `(ids, mask)`.

    `mask` is bool, True at real tokens and False at padding. With `max_len`
    longer rows are truncated and `T == max_len`.
    """
    ids = tf.cast(ids, tf.int32)
    if max_len is not None:
        ids = ids[:, :max_len]
    lengths = ids.row_lengths()
    shape = None if max_len is None else [None, max_len]
    dense = ids.to_tensor(default_value=PAD_ID, shape=shape)
    mask = tf.sequence_mask(lengths, maxlen=tf.shape(dense)[1])
    return dense, mask


def padded_batches(sequences, batch_size, max_len=None, shuffle=False, seed=None):
    """Batches of variable-length sequences: `(ids (B, T) int32, mask (B, T) bool)`.

    `T` is the longest sequence in each batch (or `max_len`, truncating); pads
    are `PAD_ID` and the mask is False exactly there.

    Args:
        sequences: a list of id lists, or a `tf.data.Dataset` of 1-D id tensors.
        batch_size: sequences per batch.
        max_len: truncate to and pad to this length.
        shuffle, seed: shuffle the sequences (buffer 10,000) deterministically.
    """
    _check_positive(batch_size=batch_size, max_len=max_len)
    if not isinstance(sequences, tf.data.Dataset):
        sequences = list(sequences)
        if not sequences:
            raise ValueError("No sequences given: the dataset would be empty.")
        ragged = tf.ragged.constant([list(s) for s in sequences], dtype=tf.int32, ragged_rank=1)
        sequences = tf.data.Dataset.from_tensor_slices(ragged)
    ds = sequences
    if shuffle:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    ds = ds.ragged_batch(batch_size)
    ds = ds.map(lambda r: pad_ragged(r, max_len), num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)


def _add_start_end(ids: tf.RaggedTensor, start: bool, end: bool) -> tf.RaggedTensor:
    batch = ids.nrows()
    parts = []
    if start:
        parts.append(tf.fill([batch, 1], START_ID))
    parts.append(ids)
    if end:
        parts.append(tf.fill([batch, 1], END_ID))
    return tf.concat(parts, axis=1) if len(parts) > 1 else ids


def seq2seq_dataset(
    pairs,
    source_tokenizer,
    target_tokenizer,
    batch_size,
    max_len=None,
    shuffle=False,
    seed=None,
) -> tf.data.Dataset:
    """Batches of `((source, target_in), target_out)`, all int32 `(B, T)` padded with 0.

    `target_out` is the target's tokens followed by `END_ID`; `target_in` is the
    same sequence shifted right: `START_ID` followed by `target_out[:, :-1]`
    (the contract's `shift_right`). The source is its tokens followed by
    `END_ID`. `max_len` truncates the source and target sequences (including
    the added token); the batch is padded to its longest row.

    Args:
        pairs: a `tf.data.Dataset` of `(source_text, target_text)` string pairs,
            or a list of such tuples.
        source_tokenizer, target_tokenizer: `course_lib.data` tokenizers.
        batch_size: pairs per batch.
        max_len: longest source or target kept, in tokens.
        shuffle, seed: shuffle pairs (buffer 10,000) deterministically.
    """
    _check_positive(batch_size=batch_size, max_len=max_len)
    if not isinstance(pairs, tf.data.Dataset):
        pairs = list(pairs)
        if not pairs:
            raise ValueError("No (source, target) pairs given: the dataset would be empty.")
        sources, targets = zip(*pairs, strict=True)
        pairs = tf.data.Dataset.from_tensor_slices((list(sources), list(targets)))
    ds = pairs.shuffle(10_000, seed=seed, reshuffle_each_iteration=True) if shuffle else pairs

    def encode(source_text, target_text):
        source = _add_start_end(source_tokenizer.tokenize(source_text), start=False, end=True)
        target_out = _add_start_end(target_tokenizer.tokenize(target_text), start=False, end=True)
        if max_len is not None:
            source, target_out = source[:, :max_len], target_out[:, :max_len]
        target_in = _add_start_end(target_out[:, :-1], start=True, end=False)
        source, _ = pad_ragged(source)
        target_in, _ = pad_ragged(target_in)
        target_out, _ = pad_ragged(target_out)
        return (source, target_in), target_out

    ds = ds.batch(batch_size).map(encode, num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)
