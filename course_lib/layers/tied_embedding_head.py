"""The output projection of a model whose input and output embeddings are tied."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="course_lib")
class TiedEmbeddingHead(keras.layers.Layer):
    """The output projection of a model with tied embeddings: `logits = x @ E^T`.

    It owns no weights (GPT-2 has no separate head matrix and no head bias): the
    model passes its token embedding matrix `E (vocab, d_model)` at call time.

    Call arguments:
        x: `(..., d_model)`.
        embeddings: `(vocab, d_model)`.

    Returns:
        `(..., vocab)`.
    """

    def call(self, x, embeddings):
        return ops.matmul(x, ops.transpose(ops.cast(embeddings, x.dtype)))
