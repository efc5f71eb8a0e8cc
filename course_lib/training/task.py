"""What the training loop needs from a task: `TaskBase` (see course_lib.training.tasks)."""

import math

import keras
import tensorflow as tf


class TaskBase:
    """The `Task` interface, with defaults for token/label classification.

    A task supplies:
        build_model(): a `keras.Model` (built or not; the loop calls it once on a batch).
        train_dataset(global_batch): an endless `tf.data.Dataset` of `(inputs, targets)`
            batches of `global_batch` rows, in an order fixed by the task's seed (resume
            skips the batches already seen).
        val_dataset(global_batch): a finite dataset of such batches.
        loss(targets, outputs): `(losses, weights)`, per-example or per-token losses and
            their weights (0 for padding), same shape.
        statistics(targets, outputs, weights): dict of scalar *sums* to add over replicas
            and batches (default: `correct`, the weighted count of argmax hits).
        metrics(totals): dict of numbers from the summed `loss_sum`, `count` and statistics
            (default: `loss`, plus `perplexity` or `accuracy` according to `metric`).
        samples(model, run_dir): writes sample outputs at the end (default: nothing).

    Attributes:
        name: str, used in messages.
        metric: `"perplexity"`, `"accuracy"` or None.
        pad_id: int or None; targets equal to it get weight 0 in the default loss.
    """

    name = "task"
    metric = "accuracy"
    pad_id = None

    def build_model(self):
        raise NotImplementedError

    def train_dataset(self, global_batch):
        raise NotImplementedError

    def val_dataset(self, global_batch):
        raise NotImplementedError

    def loss(self, targets, outputs):
        losses = keras.losses.sparse_categorical_crossentropy(targets, outputs, from_logits=True)
        if self.pad_id is None:
            return losses, tf.ones_like(losses)
        return losses, tf.cast(tf.not_equal(targets, self.pad_id), losses.dtype)

    def statistics(self, targets, outputs, weights):
        if len(outputs.shape) != len(targets.shape) + 1:
            return {}
        hits = tf.equal(tf.argmax(outputs, axis=-1, output_type=targets.dtype), targets)
        return {"correct": tf.reduce_sum(tf.cast(hits, tf.float32) * weights)}

    def metrics(self, totals):
        count = max(float(totals["count"]), 1e-12)
        result = {"loss": float(totals["loss_sum"]) / count}
        if self.metric == "perplexity":
            result["perplexity"] = math.exp(min(result["loss"], 80.0))
        if self.metric == "accuracy" and "correct" in totals:
            result["accuracy"] = float(totals["correct"]) / count
        return result

    def samples(self, model, run_dir):
        return None
