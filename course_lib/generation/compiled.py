"""Compiled forward functions for the decoding loops (TensorFlow backend).

A decoding loop calls a model once per token; `maybe_compile` turns such a call into a
`tf.function` concrete function, traced once, and `COMPILED` keeps them per model.
"""

import weakref

import keras

COMPILED = weakref.WeakKeyDictionary()  # model -> {name: compiled function}


def maybe_compile(fn, *signature, jit_compile=False):
    """A `tf.function` concrete function on the TensorFlow backend (else `fn` itself).

    `signature`: (shape, dtype) per argument, a list of them for a list argument;
    None dimensions let one trace serve every batch size and length. The
    concrete function skips `tf.function`'s per-call dispatch on argument types,
    which costs as much as a small model's decoding step.
    """
    if keras.backend.backend() != "tensorflow":
        return fn
    import tensorflow as tf

    def spec(s):
        return [spec(x) for x in s] if isinstance(s, list) else tf.TensorSpec(*s)

    specs = [spec(s) for s in signature]
    compiled = tf.function(fn, input_signature=specs, jit_compile=jit_compile)
    concrete = []

    def call(*args):
        if not concrete:  # trace on first use only
            concrete.append(compiled.get_concrete_function())
        return concrete[0](*args)

    return call
