"""The import blocker: in the jail, the grader's packages import only from the job's site/.

The jail's filesystem layers (a mount namespace, or Landlock) are the real guard: the
reference library is not readable there. This finder also makes ``import course_lib...``
fail with a clear message, and lets the job import the reference modules shipped to it.
"""

import importlib
import importlib.abc
import importlib.machinery
import os
import sys

# Top-level packages the submission may only import from the job's site/ directory.
BLOCKED_PACKAGES = ("course_lib", "autograder", "solutions", "tests", "benchmarks")


class ReferenceBlocker(importlib.abc.MetaPathFinder):
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


def isolate_imports(site: str | None):
    """Put site/ first on sys.path and make the reference packages unimportable otherwise."""
    for name in [n for n in sys.modules if n.partition(".")[0] in BLOCKED_PACKAGES]:
        del sys.modules[name]
    sys.meta_path[:] = [
        f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")
    ]
    sys.meta_path.insert(0, ReferenceBlocker(site))
    sys.path[:] = [p for p in sys.path if p and os.path.isdir(p)]
    if site:
        sys.path.insert(0, site)
    importlib.invalidate_caches()
