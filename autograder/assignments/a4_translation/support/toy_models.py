"""A toy model the a4_translation grader hands to the student's `greedy_decode` (obj("...")).

Shipped into the sandbox as `grader_support.toy_models`. It is called as the contract says,
`model((source_ids, target_in_ids), training=None)` -> logits `(B, T, vocab)`, and carries
the attributes `pad_id` and `max_len`.

`RunningSumModel`: a toy whose greedy output is chosen by the grader: the logits at target
position `t` put all their mass on `(source[t] + target_in[t]) % vocab`. Greedy decoding
from `start_id` therefore yields `out[t + 1] = (source[t] + out[t]) % vocab`, so
`source = diff(desired output)` makes any output, with rows ending at chosen steps. A
decode that feeds only the last token, or reads the logits of the wrong position, gives a
different, recognisable sequence. (The other model of the decode job is course_lib's own
`Seq2SeqTransformer`, shipped from course_lib/models/seq2seq.py with the grader's weights.)
"""

import warnings

import keras
from keras import ops

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
