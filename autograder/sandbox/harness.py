"""Runs inside the jail: execute the submission, run the job's calls, write plain arrays.

Imported by the zygote before any fork (with numpy, tensorflow and keras), so it must not
import ``course_lib`` and must run no TensorFlow op at import time. :func:`run_job` is called
in the jailed process after the mounts, rlimits and uid drop. Each call catches its own
exceptions, and ``out/result.npz`` and ``out/errors.json`` are rewritten atomically after
every call, so a timeout in call 7 keeps calls 1-6.
"""

import importlib
import importlib.abc
import importlib.machinery
import json
import os
import signal
import sys
import traceback
import types

import keras
import numpy as np
import tensorflow as tf

from autograder.sandbox import protocol

# Top-level packages the submission may only import from the job's site/ directory.
BLOCKED_PACKAGES = ("course_lib", "autograder", "solutions", "tests", "benchmarks")
TRACEBACK_LINES = 20
HARNESS_FAILED = 2  # exit code when the job could not be set up (see errors["__harness__"])


class ForbiddenAPIError(RuntimeError):
    """Raised when a submission uses an API the assignment asks students to write themselves."""


class CallTimeout(Exception):
    """A call ran past its soft time limit."""


class _ReferenceBlocker(importlib.abc.MetaPathFinder):
    """Makes blocked packages importable only from site/ (the hidden mounts are the real guard)."""

    def __init__(self, site: str | None):
        self.site = site

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] not in BLOCKED_PACKAGES:
            return None
        if self.site:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path or [self.site])
            origin = (spec.origin or "") if spec else ""
            locations = list(spec.submodule_search_locations or []) if spec else []
            if spec and all(p.startswith(self.site + os.sep) for p in [origin, *locations] if p):
                return spec
        raise ModuleNotFoundError(
            f"No module named {fullname!r} (the reference library is not available here)",
            name=fullname,
        )


class _Results:
    """Arrays and errors so far, flushed to out/ atomically after every call."""

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.arrays: dict[str, np.ndarray] = {}
        self.errors: dict[str, str] = {}
        self.forbidden_used: list[str] = []

    def error(self, key: str, exc: BaseException | None = None, text: str | None = None):
        if text is None:
            lines = "".join(traceback.format_exception(exc)).splitlines()
            text = "\n".join(lines[-TRACEBACK_LINES:])
        self.errors[key] = text[-8000:]

    def flush(self):
        if self.forbidden_used:
            self.errors["__forbidden__"] = ", ".join(sorted(set(self.forbidden_used)))
        for name, write in (
            (protocol.RESULT_FILE, lambda f: np.savez(f, **self.arrays)),
            (protocol.ERRORS_FILE, lambda f: f.write(json.dumps(self.errors).encode())),
        ):
            tmp = os.path.join(self.out_dir, f".{name}.tmp")
            with open(tmp, "wb") as f:
                write(f)
            os.replace(tmp, os.path.join(self.out_dir, name))


def run_job(job_dir: str, out_dir: str) -> int:
    """Run one job in the current (already jailed) process; return the exit code."""
    results = _Results(out_dir)
    with open(os.path.join(job_dir, protocol.JOB_FILE)) as f:
        job = json.load(f)
    limits = protocol.Limits.from_dict(job.get("limits"))
    try:
        inputs = _load_inputs(os.path.join(job_dir, protocol.INPUTS_FILE))
        site = os.path.abspath(os.path.join(job_dir, job["site"])) if job.get("site") else None
        _isolate_imports(site)
        _forbid(job.get("forbid") or [], results)
        if job.get("seed") is not None:
            keras.utils.set_random_seed(int(job["seed"]))
    except BaseException as exc:
        results.error("__harness__", exc)
        results.flush()
        return HARNESS_FAILED
    namespace = _exec_submission(os.path.join(job_dir, job["source"]), results)
    _inject(namespace, job.get("inject") or {}, results)
    results.flush()
    soft = limits.call_seconds or limits.wall_seconds
    objects: dict[str, object] = {}
    for call in job.get("calls", []):
        call_id = str(call.get("id"))
        try:
            with _soft_limit(soft):
                outputs = _run_call(call, namespace, inputs, objects)
            if outputs is not None:
                results.arrays.update(_to_arrays(outputs, call_id))
        except BaseException as exc:  # SystemExit and KeyboardInterrupt included
            results.error(call_id, exc)
        results.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    return 0


def _load_inputs(path):
    if not os.path.exists(path):
        return {}
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _isolate_imports(site: str | None):
    """Put site/ first on sys.path and make the reference packages unimportable otherwise."""
    for name in [n for n in sys.modules if n.partition(".")[0] in BLOCKED_PACKAGES]:
        del sys.modules[name]
    sys.meta_path[:] = [
        f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")
    ]
    sys.meta_path.insert(0, _ReferenceBlocker(site))
    sys.path[:] = [p for p in sys.path if p and os.path.isdir(p)]
    if site:
        sys.path.insert(0, site)
    importlib.invalidate_caches()


def _resolve_dotted(qualname: str):
    parts = qualname.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(f"cannot resolve {qualname!r}")


def _forbid(names, results: _Results):
    """Make each named keras API raise ForbiddenAPIError, through every alias of the object."""
    for qualname in names:
        message = (
            f"{qualname} is not allowed in this assignment: implement it yourself "
            "(it is the unit being graded)."
        )

        def raiser(*args, _name=qualname, _message=message, **kwargs):
            results.forbidden_used.append(_name)
            raise ForbiddenAPIError(_message)

        try:
            target = _resolve_dotted(qualname)
        except (ImportError, AttributeError) as exc:
            results.error(f"__forbid__{qualname}", exc)
            continue
        if isinstance(target, type):  # keras' __new__ reads __init__'s argspec: keep `self`

            def method(self, *args, _raiser=raiser, **kwargs):
                _raiser()

            target.__init__ = method
            target.call = method
            continue
        originals = [target]
        backend = sys.modules.get(f"keras.src.backend.{keras.backend.backend()}.nn")
        if backend is not None and hasattr(backend, getattr(target, "__name__", "")):
            originals.append(getattr(backend, target.__name__))
        for mod in list(sys.modules.values()):
            if not getattr(mod, "__name__", "").startswith("keras"):
                continue
            for attr, value in list(vars(mod).items()):
                if any(value is o for o in originals):
                    setattr(mod, attr, raiser)


def _exec_submission(path: str, results: _Results) -> dict:
    module = types.ModuleType("submission")
    module.__file__ = path
    sys.modules["submission"] = module
    try:
        with open(path) as f:
            code = compile(f.read(), path, "exec")
        exec(code, module.__dict__)
    except BaseException as exc:  # the functions defined before the failure stay usable
        results.error("__source__", exc)
    return module.__dict__


def _inject(namespace: dict, inject: dict, results: _Results):
    for name, ref in inject.items():
        try:
            namespace[name] = _reference(ref)
        except BaseException as exc:
            results.error(f"__inject__{name}", exc)


def _reference(ref: str):
    module_name, _, attr = ref.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


class _soft_limit:
    def __init__(self, seconds):
        self.seconds = seconds

    def _alarm(self, signum, frame):
        raise CallTimeout(f"call exceeded its soft time limit of {self.seconds} s")

    def __enter__(self):
        signal.signal(signal.SIGALRM, self._alarm)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)


def _lookup(name: str, namespace: dict):
    if name.startswith("site:"):
        return _reference(name[len("site:") :])
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
            return objects[value["object"]]
        return {k: _resolve(v, inputs, objects) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, inputs, objects) for v in value]
    return value


def _run_call(call: dict, namespace: dict, inputs: dict, objects: dict):
    kind = call.get("kind")
    args = _resolve(call.get("args", []), inputs, objects)
    kwargs = _resolve(call.get("kwargs", {}), inputs, objects)
    if kind == "function":
        return _lookup(call["name"], namespace)(*args, **kwargs)
    if kind == "construct":
        return _construct(call, namespace, inputs, objects, args, kwargs)
    if kind == "call":
        return objects[call["object"]](*args, **kwargs)
    if kind == "grad":
        return _grad(call, namespace, objects, args, kwargs)
    if kind == "value":
        return _value(_lookup(call["name"], namespace))
    if kind == "attribute":
        return _walk(objects[call["object"]], call["path"])
    raise ValueError(f"unknown call kind {kind!r}")


def _walk(obj, path: str):
    for part in path.split(".") if path else []:
        try:
            obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
        except (AttributeError, IndexError, KeyError, TypeError) as exc:
            raise AttributeError(f"sublayer path {path!r} not found at {part!r}: {exc}") from None
    return obj


def _construct(call, namespace, inputs, objects, args, kwargs):
    obj = _lookup(call["name"], namespace)(*args, **kwargs)
    objects[call["id"]] = obj
    build_output = None
    if call.get("build") is not None:
        build = call["build"]
        build_args = _resolve(build.get("args", []), inputs, objects)
        build_output = obj(*build_args, **_resolve(build.get("kwargs", {}), inputs, objects))
    for path, names in (call.get("weights") or {}).items():
        layer = _walk(obj, path)
        given = [inputs[n] for n in names]
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if expected != [g.shape for g in given]:
            raise ValueError(
                f"weights for {path!r}: the layer has shapes {expected}, "
                f"the grader gives {[g.shape for g in given]}"
            )
        layer.set_weights(given)
    return build_output if call.get("save_build_output") else None


def _grad(call, namespace, objects, args, kwargs):
    fn = objects[call["object"]] if "object" in call else _lookup(call["name"], namespace)
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


def _to_arrays(outputs, key: str) -> dict:
    if isinstance(outputs, dict):  # only produced by grad: {"0": g0, "2": g2}
        items = [(f"{key}.{k}", v) for k, v in outputs.items()]
    elif isinstance(outputs, (tuple, list)):
        items = [(f"{key}.{i}", v) for i, v in enumerate(outputs)]
    else:
        items = [(key, outputs)]
    arrays = {}
    for name, value in items:
        if isinstance(value, (tuple, list)):
            arrays.update(_to_arrays(value, name))
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
