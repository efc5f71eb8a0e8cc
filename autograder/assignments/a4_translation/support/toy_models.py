"""Models the a4_translation grader hands to the student's `greedy_decode` (obj("...")).

Shipped into the sandbox as `grader_support.a4_support`; the reference layers it uses come
from the job's site/ (course_lib/layers/...). Both models are called as the contract says,
`model((source_ids, target_in_ids), training=None)` -> logits `(B, T, vocab)`, and carry the
attributes `pad_id` and `max_len`.

- `RunningSumModel`: a toy whose greedy output is chosen by the grader: the logits at target
  position `t` put all their mass on `(source[t] + target_in[t]) % vocab`. Greedy decoding
  from `start_id` therefore yields `out[t + 1] = (source[t] + out[t]) % vocab`, so
  `source = diff(desired output)` makes any output, with rows ending at chosen steps. A
  decode that feeds only the last token, or reads the logits of the wrong position, gives
  a different, recognisable sequence.
- `ReferenceSeq2Seq`: the contract's `Seq2SeqTransformer` (default configuration: learned
  positions, post-norm, untied head) built from the reference layers, so the grader can
  copy the weights of a course_lib `Seq2SeqTransformer` into it by sublayer path.
"""

import warnings

import keras
from keras import ops

from course_lib.layers.masks import padding_mask
from course_lib.layers.token_and_position_embedding import TokenAndPositionEmbedding
from course_lib.layers.transformer_decoder_block import TransformerDecoderBlock
from course_lib.layers.transformer_encoder_block import TransformerEncoderBlock

SCALE = 10.0
# The first decoding step attends over one key: Keras warns about that softmax (harmless).
warnings.filterwarnings("ignore", message="You are using a softmax over axis")


class RunningSumModel(keras.Model):
    """Logits at position t: `SCALE * one_hot((source[t] + target_in[t]) % vocab)`."""

    def __init__(self, vocab_size, max_len, pad_id=0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.max_len, self.pad_id = vocab_size, max_len, pad_id

    def call(self, inputs, training=None):
        source_ids, target_in_ids = inputs
        source_ids = ops.cast(ops.convert_to_tensor(source_ids), "int32")
        target_in_ids = ops.cast(ops.convert_to_tensor(target_in_ids), "int32")
        length = ops.shape(target_in_ids)[1]
        # Position t reads source[min(t, S - 1)] (the grader's sources are long enough).
        index = ops.minimum(ops.arange(length), ops.shape(source_ids)[1] - 1)
        source_at = ops.take(source_ids, index, axis=1)  # (B, T)
        nxt = ops.mod(source_at + target_in_ids, self.vocab_size)
        return SCALE * ops.one_hot(nxt, self.vocab_size)  # (B, T, vocab)


class ReferenceSeq2Seq(keras.Model):
    """`course_lib.models.Seq2SeqTransformer` (default configuration) from reference layers."""

    def __init__(
        self,
        src_vocab,
        tgt_vocab,
        max_len,
        d_model,
        num_heads,
        num_layers,
        ff_dim,
        dropout=0.0,
        pad_id=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.max_len, self.pad_id = max_len, pad_id
        self.src_embedding = TokenAndPositionEmbedding(src_vocab, max_len, d_model)
        self.tgt_embedding = TokenAndPositionEmbedding(tgt_vocab, max_len, d_model)
        block = dict(d_model=d_model, num_heads=num_heads, ff_dim=ff_dim, dropout=dropout)
        self.encoder_blocks = [TransformerEncoderBlock(**block) for _ in range(num_layers)]
        self.decoder_blocks = [TransformerDecoderBlock(**block) for _ in range(num_layers)]
        self.head = keras.layers.Dense(tgt_vocab)

    def call(self, inputs, training=None):
        source_ids, target_in_ids = inputs
        source_ids = ops.convert_to_tensor(source_ids)
        context_mask = padding_mask(source_ids, self.pad_id)  # (B, 1, S)
        x = self.src_embedding(source_ids)
        for block in self.encoder_blocks:
            x = block(x, attention_mask=context_mask, training=training)
        y = self.tgt_embedding(ops.convert_to_tensor(target_in_ids))
        for block in self.decoder_blocks:
            y = block(y, x, context_mask=context_mask, training=training)
        return self.head(y)
