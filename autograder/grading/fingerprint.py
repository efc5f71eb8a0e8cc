"""A fingerprint per graded unit of what its grade depends on, so a rerun regrades what changed.

A unit's fingerprint covers:
- its points (the released notebook's test cell) and its answer key (concept questions);
- each of its checks: name, weight, and the check function itself (its code and what it
  closes over: the reference outputs computed from course_lib on the run's hidden inputs,
  tolerances, hint texts);
- the grader's functions and constants those checks read by global name, followed to any
  depth (a suite's helpers and hint texts, the engine's comparisons);
- every sandbox group that calls the unit: its calls, hidden inputs, injected references,
  limits, and the files shipped into the jail (course_lib modules, support files).

The hidden inputs come from the run's secret, which a rerun keeps, so an unchanged suite
gives the same fingerprints in any process; a fix to one unit's check or reference changes
that unit's fingerprint only. (A change of Python version changes the code digests, and so
regrades everything: safe, never silent.)
"""

import dataclasses
import functools
import hashlib
import types
from pathlib import Path

import numpy as np

from autograder.grading.site import group_site

ATOMS = (str, int, float, bool, complex, type(None), bytes)
OWN_PACKAGES = ("autograder", "course_lib")


def unit_fingerprints(course, plan):
    """`{unit: hex digest}` for every unit of `course.unit_points`, given the run's `plan`."""
    prints = {}
    for unit, points in course.unit_points.items():
        h = hashlib.sha256()
        _feed(h, ("points", points, "answer", course.answers.get(unit)))
        for check in (c for c in plan.checks if c.unit == unit):
            _feed(h, ("check", check.name, check.weight, _code_parts(check.evaluate)))
        for group in plan.groups:
            if unit in _called_units(group):
                _feed(h, ("group", group.name, _group_parts(group)))
        prints[unit] = h.hexdigest()
    return prints


def _called_units(group):
    """The names a group constructs or reads (a unit, or a support/site reference)."""
    return {c["name"] for c in group.calls if "name" in c}


def _group_parts(group):
    site = group_site(group) or {}
    files = [(rel, Path(path).read_bytes()) for rel, path in sorted(site.items())]
    return (
        group.calls,
        group.inputs,
        group.inject,
        group.limits,
        group.logical_cpus,
        files,
    )


def _code_parts(fn):
    return _parts(fn, set())


def _parts(obj, seen):
    """A stable, hashable description of `obj`: values by content, never by id."""
    if isinstance(obj, ATOMS):
        return obj
    if isinstance(obj, np.ndarray):
        data = hashlib.sha256(np.ascontiguousarray(obj).tobytes()).hexdigest()
        return ("array", str(obj.dtype), obj.shape, data)
    if isinstance(obj, np.generic):
        return ("scalar", str(obj.dtype), obj.item())
    if isinstance(obj, Path):
        return ("path", str(obj))
    if id(obj) in seen:
        return ("cycle", type(obj).__qualname__)
    seen = seen | {id(obj)}
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, tuple(_parts(x, seen) for x in obj))
    if isinstance(obj, dict):
        items = [(_parts(k, seen), _parts(v, seen)) for k, v in obj.items()]
        return ("dict", tuple(sorted(items, key=repr)))
    if isinstance(obj, (set, frozenset)):
        return ("set", tuple(sorted((_parts(x, seen) for x in obj), key=repr)))
    if isinstance(obj, functools.partial):
        return (
            "partial",
            _parts(obj.func, seen),
            _parts(obj.args, seen),
            _parts(obj.keywords, seen),
        )
    if isinstance(obj, types.MethodType):
        return ("method", _parts(obj.__func__, seen), _parts(obj.__self__, seen))
    if isinstance(obj, types.FunctionType):
        cells = tuple(_cell(c, seen) for c in obj.__closure__ or ())
        return (
            "function",
            obj.__qualname__,
            _parts(obj.__code__, seen),
            cells,
            _parts(obj.__defaults__, seen),
            _parts(obj.__kwdefaults__, seen),
            _globals_used(obj, seen),
        )
    if isinstance(obj, types.CodeType):
        consts = tuple(_parts(c, seen) for c in obj.co_consts)
        return ("code", obj.co_code, consts, obj.co_names)
    if isinstance(obj, (type, types.ModuleType, types.BuiltinFunctionType)):
        return ("named", getattr(obj, "__qualname__", getattr(obj, "__name__", "")))
    if dataclasses.is_dataclass(obj):
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return ("dataclass", type(obj).__qualname__, _parts(fields, seen))
    if hasattr(obj, "__dict__") and not callable(obj):
        return ("object", type(obj).__qualname__, _parts(vars(obj), seen))
    return ("opaque", type(obj).__qualname__)  # no content we can read stably


def _global_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _globals_used(fn, seen):
    """The grader's own functions and constants `fn` reads by global name, by content.

    Following them (helpers, hint texts, tolerances, the engine's comparisons) is what
    makes a fix to a shared helper change exactly the units whose checks use it.
    """
    used = []
    for name in sorted(_global_names(fn.__code__)):
        value = fn.__globals__.get(name)
        if isinstance(value, types.FunctionType):
            if value.__module__.split(".")[0] in OWN_PACKAGES:
                used.append((name, _parts(value, seen)))
        elif isinstance(value, (*ATOMS, np.ndarray, tuple, frozenset)):
            used.append((name, _parts(value, seen)))
    return tuple(used)


def _cell(cell, seen):
    try:
        return _parts(cell.cell_contents, seen)
    except ValueError:  # an empty cell
        return ("empty",)


def _feed(h, parts):
    h.update(repr(_parts(parts, set())).encode())
