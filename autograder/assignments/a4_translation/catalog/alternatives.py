"""Correct alternative solutions of a4_translation: each must get full marks."""

from autograder.assignments.a4_translation.catalog.bugs import DEC, GREEDY, S2S, SHIFT
from autograder.catalog import src

ALTERNATIVES = {
    "alt_shift_numpy_and_greedy_fixed_length": {
        SHIFT: src(
            """
            def shift_right(target_ids, start_id):
                ids = np.asarray(ops.convert_to_numpy(target_ids))
                shifted = np.roll(ids, 1, axis=1)
                shifted[:, 0] = start_id
                return shifted
            """
        ),
        GREEDY: src(
            """
            import tensorflow as tf

            def greedy_decode(model, source_ids, start_id, end_id, max_len):
                # Always max_len tokens; rows are padded with 0 after their first end_id.
                source = tf.convert_to_tensor(source_ids)
                tokens = tf.fill([tf.shape(source)[0], 1], start_id)
                finished = tf.zeros([tf.shape(source)[0]], dtype=tf.bool)
                for _ in range(max_len - 1):
                    logits = model((source, tokens), training=False)
                    nxt = tf.cast(tf.argmax(logits[:, -1], axis=-1), tokens.dtype)
                    nxt = tf.where(finished, tf.zeros_like(nxt), nxt)
                    finished = tf.logical_or(finished, nxt == end_id)
                    tokens = tf.concat([tokens, nxt[:, None]], axis=1)
                return tokens.numpy()
            """
        ),
    },
    "alt_dec_keywords_and_explicit_causal_mask": {
        DEC: src(
            """
            class TransformerDecoderBlock(keras.layers.Layer):
                def __init__(self, d_model, num_heads, ff_dim, dropout=0.0, **kwargs):
                    super().__init__(**kwargs)
                    self.self_attention = MultiHeadAttention(num_heads, d_model, dropout=dropout)
                    self.cross_attention = MultiHeadAttention(num_heads, d_model, dropout=dropout)
                    self.ffn = FeedForward(d_model, ff_dim, dropout=dropout)
                    self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6)
                    self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6)
                    self.norm3 = keras.layers.LayerNormalization(epsilon=1e-6)
                    self.dropout = keras.layers.Dropout(dropout)

                def call(self, x, context, context_mask=None, training=None):
                    length = ops.shape(x)[1]
                    future = ops.expand_dims(causal_mask(length), 0)  # (1, T, T)
                    h = self.self_attention(query=x, value=x, key=x, attention_mask=future)
                    x = self.norm1(ops.add(x, self.dropout(h, training=training)))
                    h = self.cross_attention(
                        query=x, value=context, key=context, attention_mask=context_mask,
                        training=training,
                    )
                    x = self.norm2(ops.add(x, self.dropout(h, training=training)))
                    h = self.ffn(x, training=training)
                    return self.norm3(ops.add(x, self.dropout(h, training=training)))
            """
        ),
    },
    "alt_s2s_encode_decode_methods": {
        S2S: src(
            """
            class Seq2SeqTransformer(keras.Model):
                def __init__(self, src_vocab, tgt_vocab, max_len, d_model, num_heads, num_layers,
                             ff_dim, dropout=0.0, pad_id=0, **kwargs):
                    super().__init__(**kwargs)
                    self.max_len, self.pad_id = max_len, pad_id
                    self.src_embedding = TokenAndPositionEmbedding(src_vocab, max_len, d_model)
                    self.tgt_embedding = TokenAndPositionEmbedding(tgt_vocab, max_len, d_model)
                    self.encoder_blocks = [
                        TransformerEncoderBlock(d_model, num_heads, ff_dim, dropout=dropout)
                        for _ in range(num_layers)
                    ]
                    self.decoder_blocks = [
                        TransformerDecoderBlock(d_model, num_heads, ff_dim, dropout=dropout)
                        for _ in range(num_layers)
                    ]
                    self.head = keras.layers.Dense(tgt_vocab)

                def encode(self, source_ids, training=None):
                    source_ids = ops.convert_to_tensor(source_ids)
                    keep = ops.expand_dims(ops.not_equal(source_ids, self.pad_id), 1)  # (B, 1, S)
                    h = self.src_embedding(source_ids)
                    for block in self.encoder_blocks:
                        h = block(h, attention_mask=keep, training=training)
                    return h, keep

                def decode(self, target_in_ids, context, keep, training=None):
                    y = self.tgt_embedding(ops.convert_to_tensor(target_in_ids))
                    for block in self.decoder_blocks:
                        y = block(y, context, context_mask=keep, training=training)
                    return self.head(y)

                def call(self, inputs, training=None):
                    context, keep = self.encode(inputs[0], training=training)
                    return self.decode(inputs[1], context, keep, training=training)
            """
        ),
    },
    "alt_greedy_per_row_lists": {
        GREEDY: src(
            """
            def greedy_decode(model, source_ids, start_id, end_id, max_len):
                source = np.asarray(source_ids)
                rows = [[start_id] for _ in range(len(source))]
                live = list(range(len(source)))
                while live and len(rows[live[0]]) < max_len:
                    prefix = np.array([rows[i] for i in live], dtype="int32")
                    logits = np.asarray(model((source[live], prefix), training=False))
                    for i, token in zip(live, logits[:, -1].argmax(-1)):
                        rows[i].append(int(token))
                    live = [i for i in live if rows[i][-1] != end_id]
                width = max(len(r) for r in rows)
                return np.array([r + [0] * (width - len(r)) for r in rows])
            """
        ),
    },
    "alt_shift_keras_ops_pad": {
        SHIFT: src(
            """
            def shift_right(target_ids, start_id):
                ids = ops.convert_to_tensor(target_ids)
                padded = ops.pad(ids[:, :-1], [[0, 0], [1, 0]], constant_values=start_id)
                return padded
            """
        ),
    },
}
