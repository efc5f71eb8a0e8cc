# Self-checks (do not edit). `check("name")` runs the public checks of one unit in this
# kernel and prints each result; the test cells call it, and you may call it any time after
# the unit's test cell has run once. The grader runs its own, hidden, tests.
import traceback as _traceback

_PUBLIC_CHECKS = {}


def public_check(unit):
    """Registers the decorated function as a public check of `unit` (re-running replaces it)."""

    def register(fn):
        _PUBLIC_CHECKS.setdefault(unit, {})[fn.__name__] = fn
        return fn

    return register


def check(name):
    """Runs the public checks of `name`; prints pass/fail for each, raises if any failed."""
    checks = _PUBLIC_CHECKS.get(name)
    if not checks:
        known = ", ".join(sorted(_PUBLIC_CHECKS)) or "none yet"
        raise KeyError(f"No public checks named {name!r} (run its test cell first). Known: {known}")
    failed = []
    for label, fn in checks.items():
        try:
            fn()
        except NotImplementedError:
            print(
                f"  TODO  {name}: not implemented yet (the cell still raises NotImplementedError)"
            )
            raise
        except Exception as err:  # an assertion, or an error raised by the code under test
            where = _traceback.extract_tb(err.__traceback__)[-1]
            message = str(err).strip() or f"{type(err).__name__} at line {where.lineno}"
            if not isinstance(err, AssertionError):
                message = f"{type(err).__name__}: {message}"
            print(f"  FAIL  {label.replace('_', ' ')}: {message}")
            failed.append(label)
        else:
            print(f"  ok    {label.replace('_', ' ')}")
    if failed:
        raise AssertionError(
            f"{len(failed)} of {len(checks)} public checks of {name} failed: {', '.join(failed)}"
        )
    print("Public tests passed.")
