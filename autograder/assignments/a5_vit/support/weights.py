"""Grading support for a5_vit, shipped into the sandbox as `grader_support.weights`.

- `assign(obj, path, value)`: copies a grader weight into a weight attribute (`cls_token`,
  `position_embedding`), which a construct call's `weights` (`Layer.set_weights`) cannot reach.
- `set_layer(obj, path, *arrays)`: sets a sublayer's weights, building it first if unused.
- `traced(name, images, patch_size)`: calls the submission's function inside a `tf.function`
  whose batch size is unknown, as `model.fit` does.
"""

import sys

import numpy as np
import tensorflow as tf


def _walk(obj, path):
    for part in path.split("."):
        try:
            obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
        except (AttributeError, IndexError, KeyError, TypeError):
            raise AttributeError(
                f"{type(obj).__name__} has no attribute {part!r} (the contract's name; "
                f"looking up {path!r})"
            ) from None
    return obj


def assign(obj, path, value):
    """Sets the weight at `path` (e.g. "patch_embedding.cls_token") to the grader's `value`.

    Returns the weight's shape (every sandbox call must give back an array).

    A weight of another shape but the same size is reshaped (its shape is graded separately);
    a `keras.layers.Embedding` (or any layer with exactly one weight) is accepted too.
    """
    target = _walk(obj, path)
    value = np.asarray(value)
    if hasattr(target, "assign") and hasattr(target, "shape"):
        shape = tuple(int(d) for d in target.shape)
        if int(np.prod(shape)) != value.size:
            raise ValueError(
                f"{path} has shape {shape}; the contract's shape is {value.shape}. "
                "Create it with self.add_weight(shape=...) in build()."
            )
        target.assign(value.reshape(shape))
        return np.asarray(shape)
    weights = target.get_weights() if hasattr(target, "get_weights") else None
    if weights is not None and len(weights) == 1 and weights[0].size == value.size:
        target.set_weights([value.reshape(weights[0].shape)])
        return np.asarray(weights[0].shape)
    raise TypeError(
        f"{path} is a {type(target).__name__}, not a weight: create it with "
        f"self.add_weight(shape={value.shape}, ...) in build()."
    )


def set_layer(obj, path, *arrays):
    """Sets the weights of the sublayer at `path`, building it first if it was never called.

    (A construct call's `weights` needs built sublayers: a final LayerNorm the submission
    forgets to apply would fail the whole construct instead of showing in the logits.)
    """
    layer = _walk(obj, path)
    if not layer.built:
        layer.build((None, arrays[0].shape[0]))
    shapes = [tuple(w.shape) for w in layer.get_weights()]
    given = [np.asarray(a) for a in arrays]
    if shapes != [a.shape for a in given]:
        raise ValueError(
            f"weights for {path!r}: the layer has shapes {shapes}, "
            f"the grader gives {[a.shape for a in given]}"
        )
    layer.set_weights(given)
    return np.asarray(shapes[0])


def traced(name, images, patch_size):
    """The submission's `name(images, patch_size)` inside a tf.function with batch size None."""
    function = getattr(sys.modules["submission"], name)
    function(images[:1], patch_size)  # eagerly first: NotImplementedError and friends read plainly
    spec = tf.TensorSpec((None, *images.shape[1:]), images.dtype)
    return tf.function(lambda x: function(x, patch_size), input_signature=[spec])(images)
