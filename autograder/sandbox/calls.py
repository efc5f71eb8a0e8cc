"""The job's calls, run on the submission's namespace: functions, constructs with the grader's
weights, object calls, gradients, values and attributes; their outputs become plain arrays.
"""

import importlib

import keras
import numpy as np
import tensorflow as tf

from autograder.sandbox import protocol


def reference(ref: str):
    module_name, _, attr = ref.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


def _lookup(name: str, namespace: dict):
    if name.startswith("site:"):
        return reference(name[len("site:") :])
    if name not in namespace:
        raise NameError(f"{name!r} is not defined by the submission")
    return namespace[name]


def _resolve(value, inputs, objects):
    if isinstance(value, dict):
        if set(value) <= {"array", "as"} and "array" in value:
            if value["array"] not in inputs:
                raise KeyError(f"input array {value['array']!r} is not in inputs.npz")
            arr = inputs[value["array"]]
            return arr if value.get("as") == "numpy" else tf.convert_to_tensor(arr)
        if set(value) == {"object"}:
            return _object(objects, value["object"])
        return {k: _resolve(v, inputs, objects) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, inputs, objects) for v in value]
    return value


def run_call(call: dict, namespace: dict, inputs: dict, objects: dict):
    kind = call.get("kind")
    args = _resolve(call.get("args", []), inputs, objects)
    kwargs = _resolve(call.get("kwargs", {}), inputs, objects)
    if kind == "function":
        return _run(_lookup(call["name"], namespace), args, kwargs, call.get("graph"))
    if kind == "construct":
        return _construct(call, namespace, inputs, objects, args, kwargs)
    if kind == "call":
        return _run(_object(objects, call["object"]), args, kwargs, call.get("graph"))
    if kind == "grad":
        return _grad(call, namespace, objects, args, kwargs)
    if kind == "value":
        return _value(_lookup(call["name"], namespace))
    if kind == "attribute":
        return _walk(_object(objects, call["object"]), call["path"])
    raise ValueError(f"unknown call kind {kind!r}")


def _run(fn, args, kwargs, graph):
    """`fn(*args, **kwargs)`; with `graph`, inside a `tf.function` as `model.fit` traces it:
    every tensor argument of rank >= 1 is a placeholder whose batch size (axis 0) is None."""
    if not graph:
        return fn(*args, **kwargs)
    flat = tf.nest.flatten((args, kwargs))
    where = [i for i, v in enumerate(flat) if tf.is_tensor(v) and v.shape.rank]
    specs = [tf.TensorSpec((None, *flat[i].shape[1:]), flat[i].dtype) for i in where]

    def traced(*tensors):
        items = list(flat)
        for i, tensor in zip(where, tensors, strict=True):
            items[i] = tensor
        a, k = tf.nest.pack_sequence_as((args, kwargs), items)
        return fn(*a, **k)

    # autograph off: Keras' fit does not convert the step either (do_not_convert), and it is
    # a fifth of the trace.
    return tf.function(traced, input_signature=specs, autograph=False)(*(flat[i] for i in where))


def _walk(obj, path: str):
    for part in path.split(".") if path else []:
        try:
            obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
        except (AttributeError, IndexError, KeyError, TypeError) as exc:
            raise AttributeError(f"sublayer path {path!r} not found at {part!r}: {exc}") from None
    return obj


def _construct(call, namespace, inputs, objects, args, kwargs):
    """Build the object and set the grader's weights; store it only if all of that worked.

    A later ``call`` on an object whose construct failed raises :class:`NotBuilt` (the grader
    reports the construct's error for it), so it never runs on the student's own weights.
    """
    obj = _lookup(call["name"], namespace)(*args, **kwargs)
    build_output = None
    if call.get("build") is not None:
        build = call["build"]
        _build_eagerly(obj)
        build_args = _resolve(build.get("args", []), inputs, objects)
        build_output = obj(*build_args, **_resolve(build.get("kwargs", {}), inputs, objects))
    for path, names in (call.get("weights") or {}).items():
        layer = _walk(obj, path)
        given = [inputs[n] for n in names]
        if isinstance(layer, keras.layers.Dense) and not layer.built and given:
            # A Dense the build call never used (e.g. queries computed with key_dense):
            # build it from the given kernel, so the weights are the grader's if it is used.
            layer.build((None, given[0].shape[0]))
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if expected != [g.shape for g in given]:
            raise ValueError(
                f"weights for {path!r}: the layer has shapes {expected}, "
                f"the grader gives {[g.shape for g in given]}"
            )
        layer.set_weights(given)
    objects[call["id"]] = obj
    return build_output if call.get("save_build_output") else None


def _build_eagerly(obj):
    """Let the first call build the layers that have no ``build()``, eagerly.

    Keras builds such a layer (and each nested one) by tracing its ``call`` on symbolic
    inputs first, then runs the real call: half a GPT's construction time here. Marked as
    built, the layer runs the real call only, and its sublayers build themselves on the
    inputs they get, as Keras does when that trace fails. A layer that defines ``build()``
    is left alone.
    """
    layers = getattr(obj, "_flatten_layers", None)
    if not isinstance(obj, keras.layers.Layer) or layers is None:
        return
    for layer in layers(include_self=True, recursive=True):
        if not layer.built and _default_build(layer):
            layer.built = True


def _default_build(layer) -> bool:
    build = type(layer).build
    return build is keras.layers.Layer.build or build is keras.Model.build


class NotBuilt(LookupError):
    """A call on an object whose construct call failed."""


def _object(objects, object_id):
    if object_id not in objects:
        raise NotBuilt(f"the object {object_id!r} was not built: its construct call failed")
    return objects[object_id]


def _grad(call, namespace, objects, args, kwargs):
    fn = _object(objects, call["object"]) if "object" in call else _lookup(call["name"], namespace)
    wrt = list(call.get("wrt", [0]))
    args = list(args)
    for i in wrt:
        args[i] = tf.convert_to_tensor(args[i])
    with tf.GradientTape() as tape:
        for i in wrt:
            tape.watch(args[i])
        out = fn(*args, **kwargs)
        out = out[0] if isinstance(out, (tuple, list)) else out
        total = tf.reduce_sum(tf.convert_to_tensor(out))
    grads = tape.gradient(total, [args[i] for i in wrt])
    result = {}
    for i, g in zip(wrt, grads, strict=True):
        if g is None:
            raise ValueError(f"the output does not depend on positional argument {i}")
        result[str(i)] = g
    return result


def _value(value):
    if isinstance(value, (set, frozenset, list, tuple)) and not value:
        return np.zeros(0, dtype=np.uint8)  # an empty answer: "no answer given", not an error
    if isinstance(value, str) or (
        isinstance(value, (set, frozenset, list, tuple))
        and value
        and all(isinstance(v, str) for v in value)
    ):
        letters = {c.upper() for item in value for c in item if c.isalpha()}
        return np.array(sorted(ord(c) for c in letters), dtype=np.uint8)
    if isinstance(value, (list, tuple)):
        return np.asarray(value)
    return value


def to_arrays(outputs, key: str) -> dict:
    if isinstance(outputs, dict):  # only produced by grad: {"0": g0, "2": g2}
        items = [(f"{key}.{k}", v) for k, v in outputs.items()]
    elif isinstance(outputs, (tuple, list)):
        items = [(f"{key}.{i}", v) for i, v in enumerate(outputs)]
    else:
        items = [(key, outputs)]
    arrays = {}
    for name, value in items:
        if isinstance(value, (tuple, list)):
            arrays.update(to_arrays(value, name))
            continue
        if value is None:
            raise TypeError(f"output {name!r} is None")
        if not isinstance(value, (np.ndarray, np.generic, bool, int, float)):
            value = keras.ops.convert_to_numpy(value)
        arr = np.array(value)
        if arr.dtype.kind not in protocol.NUMERIC_KINDS or arr.dtype.fields is not None:
            raise TypeError(f"output {name!r} is not numeric (dtype {arr.dtype})")
        arrays[name] = arr
    return arrays
