"""Runs inside the jail: execute the submission, run the job's calls, write plain arrays.

Imported by the zygote before any fork (with numpy, tensorflow and keras), so it must not
import ``course_lib`` and must run no TensorFlow op at import time. :func:`run_job` is called
in the jailed process after the mounts, rlimits and uid drop. Each call catches its own
exceptions, and the sealed results file ``out/.results.sealed`` (arrays and errors, see
``jail.seal``) is rewritten atomically after every call, so a timeout in call 7 keeps
calls 1-6.

What the submission cannot do (it runs in this process; see jail.py for the whole story):

- forge results: the seal key is read from fd ``jail.KEY_FD`` and the fd closed before the
  submission runs, and the supervisor accepts only files sealed with that key;
- run code after the harness's last write by replacing ``os._exit``, ``os.replace``,
  ``np.savez``, ``json.dumps``...: the functions used to write the results (and the exit in
  jail.py) are captured below at import time, in the zygote, before any submission exists;
- make a write fail silently: a failed flush raises out of :func:`run_job` (exit 70, the
  previous sealed flush is kept), and an exit without the final flush is reported as a crash;
- undo the runtime forbid by reloading a keras module: ``importlib.reload`` re-applies the
  forbid after any reload, and the forbid is re-applied (also to the submission's globals)
  before every call. Other ways to re-create a module's functions are not stopped here; the
  static scan flags them (``extract.suspicious_uses``).
"""

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import io
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
from autograder.sandbox.jail import KEY_BYTES, SEALED_FILE, seal

# Captured at import, in the zygote, before any submission runs (see the module docstring).
_open, _write, _close, _read, _replace = os.open, os.write, os.close, os.read, os.replace
_savez, _dumps, _BytesIO = np.savez, json.dumps, io.BytesIO
_reload = importlib.reload

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
    """Arrays and errors so far, sealed and flushed to out/ atomically after every call."""

    def __init__(self, out_dir: str, key: bytes):
        self.out_dir = out_dir
        self._key = key
        self._seq = 0
        self.arrays: dict[str, np.ndarray] = {}
        self.errors: dict[str, str] = {}
        self.forbidden_used: list[str] = []

    def error(self, key: str, exc: BaseException | None = None, text: str | None = None):
        if text is None:
            lines = "".join(traceback.format_exception(exc)).splitlines()
            text = "\n".join(lines[-TRACEBACK_LINES:])
        self.errors[key] = text[-8000:]

    def flush(self, final: bool = False):
        """Seal and write the results; raises if anything fails (never silently incomplete)."""
        if self.forbidden_used:
            self.errors["__forbidden__"] = ", ".join(sorted(set(self.forbidden_used)))
        buffer = _BytesIO()
        _savez(buffer, **self.arrays)
        self._seq += 1
        data = seal(self._key, self._seq, final, buffer.getvalue(), _dumps(self.errors).encode())
        tmp = os.path.join(self.out_dir, f"{SEALED_FILE}.tmp")
        fd = _open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[_write(fd, view) :]
        finally:
            _close(fd)
        _replace(tmp, os.path.join(self.out_dir, SEALED_FILE))


def _read_key(key_fd: int) -> bytes:
    """The seal key from the supervisor's pipe; the fd is closed before the submission runs."""
    key = b""
    try:
        while len(key) < KEY_BYTES:
            chunk = _read(key_fd, KEY_BYTES - len(key))
            if not chunk:
                break
            key += chunk
    finally:
        _close(key_fd)
    if len(key) != KEY_BYTES:
        raise RuntimeError("the supervisor sent no seal key")
    return key


def run_job(job_dir: str, out_dir: str, key_fd: int) -> int:
    """Run one job in the current (already jailed) process; return the exit code."""
    try:
        key = _read_key(key_fd)
    except BaseException:  # nothing can be sealed: say why on stderr and fail
        traceback.print_exc()
        return HARNESS_FAILED
    results = _Results(out_dir, key)
    del key
    with open(os.path.join(job_dir, protocol.JOB_FILE)) as f:
        job = json.load(f)
    limits = protocol.Limits.from_dict(job.get("limits"))
    forbid = _Forbid(results)
    try:
        inputs = _load_inputs(os.path.join(job_dir, protocol.INPUTS_FILE))
        site = os.path.abspath(os.path.join(job_dir, job["site"])) if job.get("site") else None
        _isolate_imports(site)
        forbid.install(job.get("forbid") or [])
        if job.get("logical_cpus"):
            _logical_cpus(int(job["logical_cpus"]))
        if job.get("seed") is not None:
            keras.utils.set_random_seed(int(job["seed"]))
    except BaseException as exc:
        results.error("__harness__", exc)
        results.flush(final=True)
        return HARNESS_FAILED
    # The given names are there while the submission runs (a class may subclass a given
    # layer) and injected again after it, so a graded unit always uses the references.
    namespace = _exec_submission(os.path.join(job_dir, job["source"]), results, job.get("inject"))
    _inject(namespace, job.get("inject") or {}, results)
    results.flush()
    soft = limits.call_seconds or limits.wall_seconds
    objects: dict[str, object] = {}
    for call in job.get("calls", []):
        call_id = str(call.get("id"))
        try:
            forbid.reapply(namespace)
            with _soft_limit(soft):
                outputs = _run_call(call, namespace, inputs, objects)
            if outputs is not None:
                results.arrays.update(_to_arrays(outputs, call_id))
        except BaseException as exc:  # SystemExit and KeyboardInterrupt included
            results.error(call_id, exc)
        results.flush()
    for stream in (sys.stdout, sys.stderr):  # may be the submission's: before the final flush
        with contextlib.suppress(BaseException):  # nothing to report it to
            stream.flush()
    results.flush(final=True)
    return 0


def _logical_cpus(count: int):
    """Split the CPU into `count` logical devices (before TensorFlow's runtime starts)."""
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
    )


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


class _Forbid:
    """Makes each named keras API raise ForbiddenAPIError, through every alias of the object.

    The patched objects are remembered by ``(__module__, __qualname__)``, so a re-created copy
    (``importlib.reload`` of a keras module) is recognised and patched as well:
    :meth:`reapply` runs after every reload (``importlib.reload`` is wrapped) and before
    every call, over the keras modules and the submission's globals.
    """

    def __init__(self, results: _Results):
        self.results = results
        self.functions: dict[tuple[str, str], object] = {}  # (module, qualname) -> raiser
        self.classes: dict[tuple[str, str], object] = {}  # (module, qualname) -> method
        self._seen, self._spaces = -1, []  # len(sys.modules) when the keras modules were listed

    def install(self, names):
        for qualname in names:
            try:
                target = _resolve_dotted(qualname)
            except (ImportError, AttributeError) as exc:
                self.results.error(f"__forbid__{qualname}", exc)
                continue
            if isinstance(target, types.ModuleType):  # its imports are reported by the static scan
                continue
            raiser = self._raiser(qualname)
            if isinstance(target, type):  # keras' __new__ reads __init__'s argspec: keep `self`

                def method(self, *args, _raiser=raiser, **kwargs):
                    _raiser()

                self.classes[_key(target)] = method
                continue
            self.functions[_key(target)] = raiser
            backend = sys.modules.get(f"keras.src.backend.{keras.backend.backend()}.nn")
            name = getattr(target, "__name__", "")
            if backend is not None and name and hasattr(backend, name):
                self.functions[_key(getattr(backend, name))] = raiser
        if self.functions or self.classes:
            self.reapply({}, full=True)
            importlib.reload = self._reload

    def _raiser(self, qualname):
        message = (
            f"{qualname} is not allowed in this assignment: implement it yourself "
            "(it is the unit being graded)."
        )
        used = self.results.forbidden_used

        def raiser(*args, _name=qualname, _message=message, **kwargs):
            used.append(_name)
            raise ForbiddenAPIError(_message)

        return raiser

    def _patch(self, value):
        """The replacement of ``value`` if it is a forbidden function, else None (classes in place)."""
        try:
            key = _key(value)
        except Exception:  # an object whose attribute lookup raises
            return None
        if key in self.functions and value is not self.functions[key]:
            return self.functions[key]
        method = self.classes.get(key)
        if (
            method is not None
            and isinstance(value, type)
            and value.__dict__.get("call") is not method
        ):
            value.__init__ = method
            value.call = method
        return None

    def reapply(self, namespace: dict, full: bool = False):
        """Patch forbidden objects (or re-created copies) in keras modules and ``namespace``.

        ``full`` looks at every attribute of every keras module (at install and after a
        reload); otherwise a module is only checked under the objects' own names (where a
        re-executed module puts its new copies), which takes well under a millisecond.
        """
        if not (self.functions or self.classes):
            return
        names = {qualname.rpartition(".")[2] for _, qualname in [*self.functions, *self.classes]}
        if full or len(sys.modules) != self._seen:
            self._seen = len(sys.modules)
            modules = [m for n, m in list(sys.modules.items()) if n.startswith("keras")]
            self._spaces = [d for d in (getattr(m, "__dict__", None) for m in modules) if d]
        for space in self._spaces:
            for attr in list(space) if full else [n for n in names if n in space]:
                replacement = self._patch(space[attr])
                if replacement is not None:
                    space[attr] = replacement
        for attr, value in list(namespace.items()):
            replacement = self._patch(value)
            if replacement is not None:
                namespace[attr] = replacement

    def _reload(self, module):
        module = _reload(module)
        self.reapply({}, full=True)
        return module


def _key(value) -> tuple[str, str] | None:
    if not callable(value):
        return None
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return module, qualname
    return None


CELL_MARKER = "# --- cell "  # extract.py starts each notebook cell's code with this line


def _cells(source: str):
    """`[(label, code padded to its line numbers)]`: the submission cut at the cell markers."""
    lines = source.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith(CELL_MARKER)] or [0]
    if starts[0] != 0:
        starts.insert(0, 0)
    cells = []
    for start, end in zip(starts, [*starts[1:], len(lines)]):
        label = (
            lines[start][len(CELL_MARKER) :].rstrip(" -")
            if lines[start].startswith(CELL_MARKER)
            else "?"
        )
        cells.append((label, "\n" * start + "\n".join(lines[start:end])))
    return cells


def _exec_submission(path: str, results: _Results, inject=None) -> dict:
    """Run the submission cell by cell, as a notebook would; a failing cell skips only itself."""
    module = types.ModuleType("submission")
    module.__file__ = path
    sys.modules["submission"] = module
    _inject(module.__dict__, inject or {}, results)
    try:
        with open(path) as f:
            source = f.read()
    except BaseException as exc:
        results.error("__source__", exc)
        return module.__dict__
    failures = []
    for label, code in _cells(source):
        try:
            exec(compile(code, path, "exec"), module.__dict__)
        except BaseException as exc:  # the definitions of the other cells stay usable
            last = "".join(traceback.format_exception_only(exc)).strip().splitlines()[-1]
            failures.append(f"cell {label}: {last}")
    if failures:
        results.error("__source__", text="\n".join(failures))
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
            return _object(objects, value["object"])
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
        return _object(objects, call["object"])(*args, **kwargs)
    if kind == "grad":
        return _grad(call, namespace, objects, args, kwargs)
    if kind == "value":
        return _value(_lookup(call["name"], namespace))
    if kind == "attribute":
        return _walk(_object(objects, call["object"]), call["path"])
    raise ValueError(f"unknown call kind {kind!r}")


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
