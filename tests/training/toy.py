"""Toy tasks for the training-loop tests: a one-block GPT-like LM and an MLP classifier.

Both use float32, dropout 0 and random data fixed by a seed, so that runs are
deterministic and comparable across strategies.
"""

import keras
import numpy as np
import tensorflow as tf

from course_lib.layers import GPTBlock, TokenAndPositionEmbedding
from course_lib.training import TaskBase


class ToyLM(TaskBase):
    """Next-token prediction on random ids; rows end in a random run of padding (id 0)."""

    name = "toy_lm"
    metric = "perplexity"
    pad_id = 0

    def __init__(self, seed=0, vocab=23, length=12, rows=96, d_model=16):
        self.vocab, self.length, self.d_model = vocab, length, d_model
        rng = np.random.default_rng(seed)
        ids = rng.integers(1, vocab, size=(rows, length + 1))
        # Unequal numbers of real tokens per row: the loss must be a per-token mean.
        ends = rng.integers(3, length + 1, size=rows)
        ids[np.arange(length + 1)[None, :] > ends[:, None]] = 0
        self.ids = ids.astype("int32")

    def build_model(self):
        inputs = keras.Input((self.length,), dtype="int32")
        x = TokenAndPositionEmbedding(self.vocab, self.length, self.d_model)(inputs)
        x = GPTBlock(self.d_model, num_heads=2, ff_dim=32)(x)
        x = keras.layers.LayerNormalization(epsilon=1e-6)(x)
        return keras.Model(inputs, keras.layers.Dense(self.vocab)(x))

    def _pairs(self, ids):
        return tf.data.Dataset.from_tensor_slices((ids[:, :-1], ids[:, 1:]))

    def train_dataset(self, global_batch):
        return self._pairs(self.ids[16:]).repeat().batch(global_batch, drop_remainder=True)

    def val_dataset(self, global_batch):
        return self._pairs(self.ids[:16]).batch(global_batch)


class ToyClassifier(TaskBase):
    """Three-class labels from a random linear rule on 8 features; an MLP learns it."""

    name = "toy_classifier"
    metric = "accuracy"

    def __init__(self, seed=0, rows=256, features=8, classes=3):
        rng = np.random.default_rng(seed)
        self.x = rng.normal(size=(rows, features)).astype("float32")
        w = rng.normal(size=(features, classes))
        self.y = np.argmax(self.x @ w, axis=-1).astype("int32")
        self.features, self.classes = features, classes

    def build_model(self):
        return keras.Sequential(
            [
                keras.Input((self.features,)),
                keras.layers.Dense(32, activation="relu"),
                keras.layers.Dense(self.classes),
            ]
        )

    def train_dataset(self, global_batch):
        data = tf.data.Dataset.from_tensor_slices((self.x[64:], self.y[64:]))
        return data.shuffle(192, seed=1).repeat().batch(global_batch, drop_remainder=True)

    def val_dataset(self, global_batch):
        return tf.data.Dataset.from_tensor_slices((self.x[:64], self.y[:64])).batch(global_batch)


TASKS = {"lm": ToyLM, "cls": ToyClassifier}
