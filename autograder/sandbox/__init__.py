"""Run untrusted student code in a jail and get plain numeric arrays back.

The parent prepares job directories with :func:`write_job` and runs them through a
:class:`Zygote` (``client.py``: a process with TensorFlow imported that forks one supervised
sandbox per job; a bundle runs several jobs in one sandbox, ``bundle.py``). ``protocol.py`` holds the job format, the seal and the constants both sides
share; ``isolation.py`` decides and applies the layers (namespaces, Landlock, seccomp, the uid
barrier); ``supervisor.py`` runs one job; ``harness.py`` runs the code inside.
"""

from autograder.sandbox.bundle import split_bundle
from autograder.sandbox.loading import ResultRejected, load_arrays
from autograder.sandbox.protocol import JobResult, Limits, write_bundle, write_job

__all__ = [
    "IsolationRefused",
    "JobResult",
    "Limits",
    "ResultRejected",
    "Zygote",
    "ZygoteError",
    "load_arrays",
    "load_result",
    "split_bundle",
    "write_bundle",
    "write_job",
]


def __getattr__(name):
    # Imported lazily so that `python -m autograder.sandbox.zygote` runs without a warning.
    if name in ("Zygote", "ZygoteError", "IsolationRefused", "load_result"):
        from autograder.sandbox import client

        return getattr(client, name)
    raise AttributeError(f"module 'autograder.sandbox' has no attribute {name!r}")
