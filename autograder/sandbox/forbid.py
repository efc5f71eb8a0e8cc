"""The runtime forbid: the keras APIs a unit must not use raise ``ForbiddenAPIError`` in the jail.

Each named API is patched through every alias of the object; patched objects are remembered
by ``(__module__, __qualname__)``, so a re-created copy (``importlib.reload`` of a keras
module) is recognised and patched as well. The static scan reports the same APIs by name.
"""

import importlib
import sys
import types

import keras

_reload = importlib.reload  # captured at import, in the zygote


class ForbiddenAPIError(RuntimeError):
    """Raised when a submission uses an API the assignment asks students to write themselves."""


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


class Forbid:
    """Makes each named keras API raise ForbiddenAPIError, through every alias of the object.

    The patched objects are remembered by ``(__module__, __qualname__)``, so a re-created copy
    (``importlib.reload`` of a keras module) is recognised and patched as well:
    :meth:`reapply` runs after every reload (``importlib.reload`` is wrapped) and before
    every call, over the keras modules and the submission's globals.
    """

    def __init__(self, results):
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
