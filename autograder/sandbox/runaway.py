"""Runaway submissions in the jail: soft time limits that hold, and the processes a cell left.

Imported by the harness in the zygote, before any submission exists: the functions used
here are captured at import, so a submission cannot replace them.

- :class:`soft_limit`: SIGALRM raising :class:`CallTimeout` after a cell's or a call's share
  of the time, fired again until the block is left and with ``os.fork`` refused meanwhile,
  because a fork loop spends its time in at-fork callbacks that swallow exceptions;
- :func:`stop_strays`: under a slot uid, kill the processes the cells left running (a fork
  bomb) before the graded calls, which would otherwise run starved;
- :class:`Runaways`: once a call of a unit ran past its limit, the unit's later calls in the
  job fail at once, so one endless loop costs a quarter of the job's time, not all of it,
  and the other units' calls still run.
"""

import contextlib
import os
import signal
import time

from autograder.sandbox import uids

_kill, _waitpid, _getuid, _getpid = os.kill, os.waitpid, os.getuid, os.getpid
_sleep, _monotonic = time.sleep, time.monotonic
_fork = os.fork


SOFT_SHARE = 0.25  # a cell's and a call's soft limit: this share of the job's wall limit


class CallTimeout(Exception):
    """A call ran past its soft time limit."""


class Runaways:
    """The units of one job whose calls ran past their soft limit; their later calls are skipped.

    A unit is a function's or class's name; a call on an object counts for the class it was
    constructed from (its construct call's name).
    """

    def __init__(self):
        self.timed_out, self.class_of = {}, {}

    def unit(self, call: dict) -> str:
        if call.get("object") is not None:
            return self.class_of.get(str(call["object"]), str(call["object"]))
        return str(call.get("name"))

    def skip(self, call: dict) -> str | None:
        """Why `call` is not run (an earlier call of its unit timed out), or None.

        Asked of every call in order, so it also learns which class each object is of.
        """
        if call.get("kind") == "construct":
            self.class_of[str(call.get("id"))] = str(call.get("name"))
        unit = self.unit(call)
        if unit in self.timed_out:
            return f"not run: an earlier call timed out ({self.timed_out[unit]})"
        return None

    def record(self, call: dict, exc: BaseException):
        if isinstance(exc, CallTimeout):
            self.timed_out[self.unit(call)] = str(exc)


def stop_strays(seconds: float = 2.0) -> bool:
    """Kill the processes the cells left running (a fork bomb), before the graded calls.

    Only under a slot uid, which no process outside this job has: kill(-1) then reaches
    this job's processes and no other, and never the caller. Without one (an unprivileged
    grader) the supervisor's sweep at the end of the job is all there is. kill(-1) says
    nothing of whom it reached, so /proc tells whether any process of the uid is left;
    done when two looks in a row find none, zombies included (they count for RLIMIT_NPROC,
    and TensorFlow could not start a thread: the supervisor reaps the orphaned ones).
    """
    if _getuid() < uids.UID_BASE or not _others_of_uid():
        return False
    deadline, quiet = _monotonic() + seconds, 0
    while quiet < 2 and _monotonic() < deadline:
        with contextlib.suppress(OSError):
            _kill(-1, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while _waitpid(-1, os.WNOHANG)[0]:
                pass
        quiet = quiet + 1 if not _others_of_uid() else 0
        _sleep(0.005)
    return True


def _others_of_uid() -> int:
    """How many processes of this uid besides this one exist, zombies included."""
    return len(uids.tasks_of_uid(_getuid()).keys() - {_getpid()})


class soft_limit:
    """SIGALRM after `seconds`, raising CallTimeout, then again every REFIRE seconds.

    Again, because the first may land in code that swallows it: an at-fork or weakref
    callback ("Exception ignored in ...", what a fork bomb's loop spends its time in), or
    the submission's own `except Exception`; and `os.fork` raises it too until the block
    is left, so that a fork loop ends at its next fork. It stops when the block is left.
    """

    REFIRE = 0.05

    def __init__(self, seconds, what="call"):
        self.seconds, self.what, self.active = seconds, what, False

    def _alarm(self, signum, frame):
        if not self.active:
            return
        signal.setitimer(signal.ITIMER_REAL, self.REFIRE)
        os.fork = self._refuse_fork  # a fork loop spends its time in at-fork callbacks
        raise CallTimeout(self._message())

    def _message(self):
        return f"{self.what} exceeded its soft time limit of {self.seconds:.3g} s"

    def _refuse_fork(self):
        raise CallTimeout(self._message() + " (os.fork refused after it)")

    def __enter__(self):
        if self.seconds:
            self.active = True
            signal.signal(signal.SIGALRM, self._alarm)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        """Idempotent: also called by an except clause, in case a re-fire hit __exit__."""
        self.active = False
        if self.seconds:
            signal.setitimer(signal.ITIMER_REAL, 0)
            os.fork = _fork
