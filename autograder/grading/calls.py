"""The calls a group makes on the submission in the sandbox, as plain JSON-able dicts.

`function` calls a name the submission (or `inject`) defines, `construct` builds a layer
and copies the grader's weights into it, `call` calls a constructed object, `value` reads a
variable; `arr(name)` and `obj(id)` refer to an input array and to a constructed object.
`in_graph(c)` makes a function or object call run inside a `tf.function` whose tensor
arguments have an unknown batch size, as `model.fit` traces a model.
"""


def arr(name):
    return {"array": name}


def obj(name):
    return {"object": name}


def function(call_id, name, *args, **kwargs):
    return {"id": call_id, "kind": "function", "name": name, "args": list(args), "kwargs": kwargs}


def construct(call_id, name, kwargs, build_args, weights):
    return {
        "id": call_id,
        "kind": "construct",
        "name": name,
        "kwargs": kwargs,
        "build": {"args": list(build_args), "kwargs": {}},
        "weights": weights,
    }


def call(call_id, object_id, *args, **kwargs):
    return {
        "id": call_id,
        "kind": "call",
        "object": object_id,
        "args": list(args),
        "kwargs": kwargs,
    }


def value(call_id, name):
    return {"id": call_id, "kind": "value", "name": name}


def in_graph(call_dict):
    """The function or object call `call_dict`, run inside a tf.function with batch size None."""
    return {**call_dict, "graph": True}
