"""The zygote: TensorFlow imported once, one forked supervisor per job.

Started by :class:`autograder.sandbox.client.Zygote` as ``python -m autograder.sandbox.zygote
--jobs 2 --isolation auto``; it talks JSON lines on stdin/stdout:

    parent -> zygote   {"op": "run", "id": "7", "job_dir": "/abs/job"}   {"op": "shutdown"}
    zygote -> parent   {"event": "ready", "mode": "landlock", "summary": ..., "missing": [...]}
                       {"event": "done", "id": "7", "status": "ok", "exit_detail": ..., ...}

It imports numpy, tensorflow, keras and the harness but runs no TensorFlow op (forking after
one hangs the child), and refuses to start if ``course_lib`` got imported. It probes the host
once (``isolation.probe``) and runs up to ``--jobs`` jobs at once, each in a supervisor
(``supervisor.py``) on its own slot, whose uid is ``uids.slot_uid`` when running as root.
"""

import argparse
import json
import os
import select
import signal
import sys
import time


def _send(message: dict) -> None:
    data = (json.dumps(message) + "\n").encode()
    try:
        while data:
            data = data[os.write(1, data) :]
    except BrokenPipeError:  # the parent is gone: nobody to tell
        pass


def zygote_main(jobs: int, requested: str, hides: list[str]) -> None:
    start = time.monotonic()
    import keras  # noqa: F401
    import numpy  # noqa: F401
    import tensorflow  # noqa: F401

    from autograder.sandbox import harness, isolation, supervisor, uids  # noqa: F401

    if any(name.partition(".")[0] == "course_lib" for name in sys.modules):
        _send({"event": "error", "message": "course_lib was imported in the zygote: refusing"})
        sys.exit(3)
    plan = isolation.probe(requested, hides)
    zygote_pid = os.getpid()
    slots = [uids.slot_uid(zygote_pid, s) if plan.uid_drop else None for s in range(jobs)]
    _send(
        {
            "event": "ready",
            "pid": zygote_pid,
            "import_seconds": time.monotonic() - start,
            "mode": plan.mode,
            "summary": plan.summary,
            "isolation_missing": plan.missing,
            "uids": slots,
        }
    )
    _serve(jobs, plan, slots)


def _serve(jobs: int, plan, slots) -> None:
    from autograder.sandbox import supervisor

    queue: list[dict] = []
    running: dict[int, tuple[dict, int, int]] = {}  # status fd -> (request, pid, slot)
    buffer = b""
    stdin_open = True
    while stdin_open or queue or running:
        free = sorted(set(range(jobs)) - {slot for _, _, slot in running.values()})
        while queue and free and stdin_open:
            request, slot = queue.pop(0), free.pop(0)
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                for fd in [r, *running]:
                    os.close(fd)
                devnull = os.open(os.devnull, os.O_RDWR)
                os.dup2(devnull, 0)
                os.dup2(devnull, 1)
                supervisor.supervise(request["job_dir"], slots[slot], plan, w)
            os.close(w)
            running[r] = (request, pid, slot)
        fds = list(running) + ([0] if stdin_open else [])
        ready, _, _ = select.select(fds, [], [])
        for fd in ready:
            if fd == 0:
                chunk = os.read(0, 1 << 16)
                buffer += chunk
                if not chunk:
                    stdin_open = False
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    message = json.loads(line)
                    if message.get("op") == "run":
                        queue.append(message)
                    elif message.get("op") == "shutdown":
                        stdin_open = False
                continue
            request, pid, _ = running.pop(fd)
            data = b""
            while chunk := os.read(fd, 1 << 16):
                data += chunk
            os.close(fd)
            os.waitpid(pid, 0)
            try:
                status = json.loads(data)
            except ValueError:
                status = {"status": "crashed", "exit_detail": "the supervisor died"}
            _send({"event": "done", "id": request["id"], **status})
        if not stdin_open:  # the parent is gone or asked to stop: kill what still runs
            queue.clear()
            for _, pid, _ in running.values():
                os.kill(pid, signal.SIGKILL)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="jobs run at once")
    parser.add_argument(
        "--isolation",
        choices=("auto", "landlock", "none"),
        default="auto",
        help="auto: the strongest layers the host allows; landlock: skip namespaces; "
        "none: no namespaces, Landlock or seccomp (the parent must allow unisolated grading)",
    )
    parser.add_argument("--hide", action="append", default=[], help="a path no job may read")
    args = parser.parse_args(argv)
    zygote_main(args.jobs, args.isolation, args.hide)
    os._exit(0)  # skip TensorFlow's slow interpreter teardown


if __name__ == "__main__":
    main()
