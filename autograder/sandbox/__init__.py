"""Run untrusted student code in a jail and get plain numeric arrays back.

The parent prepares job directories with :func:`write_job` and runs them through a
:class:`Zygote` (a process with TensorFlow imported that forks one jailed child per job).
See ``protocol.py`` for the job format and ``jail.py`` for the isolation applied.
"""

from autograder.sandbox.protocol import JobResult, Limits, ResultRejected, load_arrays, write_job

__all__ = [
    "JobResult",
    "Limits",
    "ResultRejected",
    "Zygote",
    "ZygoteError",
    "load_arrays",
    "load_result",
    "write_job",
]


def __getattr__(name):
    # Imported lazily so that `python -m autograder.sandbox.zygote` runs without a warning.
    if name in ("Zygote", "ZygoteError", "load_result"):
        from autograder.sandbox import zygote

        return getattr(zygote, name)
    raise AttributeError(f"module 'autograder.sandbox' has no attribute {name!r}")
