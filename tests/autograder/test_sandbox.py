"""The sandbox contains real attacks, and an honest job in the same batch is unaffected.

One zygote (2 slots) serves the whole module. Every attack runs in a ``run_many`` batch next
to an honest job whose arrays must equal those of the honest job run alone; afterwards no
process of the sandbox uids may remain.
"""

import glob
import os
import shutil
import socket
import sys
import tempfile
import textwrap

import numpy as np
import pytest

from autograder.sandbox import Zygote, write_job
from tests.autograder import hosts

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the sandbox needs Linux"
)
B, T, S, D = 2, 5, 6, 8
TOL = 1e-5

HONEST_SOURCE = textwrap.dedent(
    """
    import keras
    from keras import ops

    def scaled_dot_product_attention(q, k, v, mask=None):
        scores = ops.matmul(q, ops.swapaxes(k, -1, -2)) / ops.sqrt(float(k.shape[-1]))
        if mask is not None:
            scores = ops.where(mask, scores, -1e9)
        weights = ops.softmax(scores, axis=-1)
        return ops.matmul(weights, v), weights

    class TwoLayer(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.dense1 = keras.layers.Dense(units, activation="relu", name="dense1")
            self.blocks = [keras.layers.Dense(units, name=f"block_{i}") for i in range(2)]

        def call(self, x):
            h = self.dense1(x)
            for block in self.blocks:
                h = block(h)
            return h

    def draw(x):
        return keras.random.normal((5,))

    answer_q1 = {"b", "D"}
    answer_q2 = 0.25
    """
)
HONEST_CALLS = [
    {
        "id": "sdpa",
        "kind": "function",
        "name": "scaled_dot_product_attention",
        "args": [{"array": "q"}, {"array": "k"}, {"array": "v"}],
        "kwargs": {"mask": {"array": "m"}},
    },
    {
        "id": "net",
        "kind": "construct",
        "name": "TwoLayer",
        "kwargs": {"units": 4},
        "build": {"args": [{"array": "x"}]},
        "weights": {"dense1": ["w1", "b1"], "blocks.0": ["w2", "b2"], "blocks.1": ["w3", "b3"]},
    },
    {"id": "net_out", "kind": "call", "object": "net", "args": [{"array": "x"}]},
    {
        "id": "grad",
        "kind": "grad",
        "name": "scaled_dot_product_attention",
        "args": [{"array": "q"}, {"array": "k"}, {"array": "v"}],
        "kwargs": {"mask": {"array": "m"}},
        "wrt": [0, 2],
    },
    {"id": "ans_q1", "kind": "value", "name": "answer_q1"},
    {"id": "ans_q2", "kind": "value", "name": "answer_q2"},
    {"id": "units", "kind": "attribute", "object": "net", "path": "units"},
    {"id": "draw", "kind": "function", "name": "draw", "args": [{"array": "x"}]},
]


def _honest_inputs(rng):
    mask = rng.random((B, T, S)) > 0.4
    mask[..., 0] = True  # every query attends to at least one key
    f32 = {
        "q": rng.normal(size=(B, T, D)),
        "k": rng.normal(size=(B, S, D)),
        "v": rng.normal(size=(B, S, D)),
        "x": rng.normal(size=(3, 5)),
        "w1": rng.normal(size=(5, 4)),
        "b1": rng.normal(size=4),
        "w2": rng.normal(size=(4, 4)),
        "b2": rng.normal(size=4),
        "w3": rng.normal(size=(4, 4)),
        "b3": rng.normal(size=4),
    }
    inputs = {k: v.astype(np.float32) for k, v in f32.items()}
    inputs["m"] = mask
    return inputs


def _sdpa_reference(q, k, v, m):
    """float64 attention and the gradients of sum(output) w.r.t. q and v."""
    q, k, v = (a.astype(np.float64) for a in (q, k, v))
    scores = np.where(m, q @ k.transpose(0, 2, 1) / np.sqrt(D), -1e9)
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    c = v.sum(-1)  # (B, S): d sum(out) / d p
    dscores = p * (c[:, None, :] - (p * c[:, None, :]).sum(-1, keepdims=True))
    grad_q = dscores @ k / np.sqrt(D)
    grad_v = np.broadcast_to(p.sum(1)[..., None], v.shape)
    return p @ v, p, grad_q, grad_v


@pytest.fixture(scope="module")
def nobody_tree():
    base = hosts.traversable_dir("sandbox-nobody-")
    yield hosts.readable_tree(base)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module", params=sorted(hosts.WRAPPERS))
def zygote(request, nobody_tree):
    """One zygote per kind of host: a bare machine, a container, an unprivileged user."""
    mode = request.param
    kwargs = {"wrapper": hosts.WRAPPERS[mode]}
    if mode == "nobody":
        python, repo = nobody_tree
        kwargs.update(python=python, pythonpath=repo)
    with Zygote(jobs=2, **kwargs) as z:
        if mode == "namespaces":
            assert z.mode == "namespaces" and z.isolation_missing == [], z.warning
        else:
            assert z.mode == "landlock", z.warning
        assert z.isolation == hosts.SUMMARIES[mode], z.warning
        z.host = mode
        yield z


@pytest.fixture
def tmp_path(zygote):
    """Shadows pytest's (0700): job dirs every uid can reach, the nobody user's own there."""
    path = hosts.traversable_dir("sandbox-test-")
    if zygote.host == "nobody":
        hosts.give_to_nobody(path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def honest(zygote):
    """Inputs of the honest job and its arrays when run alone."""
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"honest job seed = {seed}")
    inputs = _honest_inputs(np.random.default_rng(seed))
    root = hosts.traversable_dir("sandbox-honest-")
    result = zygote.run(_own(zygote, _write_honest(root / "alone", inputs)))
    shutil.rmtree(root, ignore_errors=True)
    assert result.status == "ok", (result.errors, result.stderr)
    return inputs, result.arrays


def _own(zygote, job_dir):
    """The job as its grader would have written it (the unprivileged user's, in that mode)."""
    if zygote.host == "nobody":
        hosts.give_to_nobody(job_dir)
    return job_dir


def _write_honest(job_dir, inputs, **kwargs):
    return write_job(
        job_dir, source=HONEST_SOURCE, calls=HONEST_CALLS, inputs=inputs, seed=7, **kwargs
    )


def _sandbox_processes(zygote):
    uids = {str(u) for u in zygote.uids}
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as f:
                real_uid = next(x.split()[1] for x in f if x.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if real_uid in uids:
            found.append(pid)
    return found


def _run_attack(zygote, honest, tmp_path, source, calls, **kwargs):
    """Run an attack next to an honest job; check the honest one and that nothing is left."""
    inputs, expected = honest
    kwargs.setdefault("inputs", {"x": np.arange(1, 5, dtype=np.float32)})
    attack = write_job(tmp_path / "attack", source=textwrap.dedent(source), calls=calls, **kwargs)
    honest_dir = _write_honest(tmp_path / "honest", inputs)
    _own(zygote, tmp_path)
    done = []
    attack_result, honest_result = zygote.run_many([attack, honest_dir], on_done=done.append)
    assert sorted(r.job_dir for r in done) == sorted([str(attack), str(honest_dir)])
    assert honest_result.status == "ok" and honest_result.errors == {}
    assert set(honest_result.arrays) == set(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(honest_result.arrays[key], value, err_msg=key)
    assert _sandbox_processes(zygote) == []
    return attack_result


def _fn(call_id, name=None, **kwargs):
    return {"id": call_id, "kind": "function", "name": name or call_id,
            "args": [{"array": "x"}], **kwargs}  # fmt: skip


def test_call_kinds_give_correct_numbers(honest):
    """Do function, construct, call, grad, value and attribute calls return the right numbers?"""
    inputs, arrays = honest
    out, weights, grad_q, grad_v = _sdpa_reference(*(inputs[n] for n in "qkvm"))
    np.testing.assert_allclose(arrays["sdpa.0"], out, atol=TOL, rtol=TOL)
    np.testing.assert_allclose(arrays["sdpa.1"], weights, atol=TOL, rtol=TOL)
    np.testing.assert_allclose(arrays["grad.0"], grad_q, atol=2 * TOL, rtol=2 * TOL)
    np.testing.assert_allclose(arrays["grad.2"], grad_v, atol=2 * TOL, rtol=2 * TOL)
    w = {n: inputs[n].astype(np.float64) for n in ("x", "w1", "b1", "w2", "b2", "w3", "b3")}
    hidden = np.maximum(w["x"] @ w["w1"] + w["b1"], 0)
    net = (hidden @ w["w2"] + w["b2"]) @ w["w3"] + w["b3"]
    np.testing.assert_allclose(arrays["net_out"], net, atol=TOL, rtol=TOL)
    np.testing.assert_array_equal(arrays["ans_q1"], [ord("B"), ord("D")])
    assert arrays["ans_q1"].dtype == np.uint8
    assert arrays["ans_q2"] == 0.25 and arrays["units"] == 4
    assert "net" not in arrays  # a construct's build output is not saved unless asked


def test_seed_makes_runs_reproducible(zygote, honest, tmp_path):
    """Does the job seed fix the submission's random draws (and a different seed change them)?"""
    inputs, arrays = honest
    other = write_job(tmp_path / "s", source=HONEST_SOURCE, calls=[_fn("draw")],
                      inputs=inputs, seed=8)  # fmt: skip
    result = zygote.run(_own(zygote, other))
    assert result.status == "ok"
    assert arrays["draw"].shape == (5,)
    assert not np.array_equal(result.arrays["draw"], arrays["draw"])


def test_sys_exit_is_a_clean_failure(zygote, honest, tmp_path):
    """Does sys.exit at module level or in a call fail only what it touches?"""
    source = """
        import sys
        def double(x):
            return x * 2
        def quit(x):
            sys.exit(3)
        sys.exit(0)
        def never(x):
            return x
    """
    calls = [_fn("double"), _fn("quit"), _fn("never"), _fn("double_again", "double")]
    result = _run_attack(zygote, honest, tmp_path, source, calls)
    assert result.status == "ok"
    assert "SystemExit: 0" in result.errors["__source__"]
    assert "SystemExit: 3" in result.errors["quit"]
    assert "not defined" in result.errors["never"]
    np.testing.assert_array_equal(result.arrays["double_again"], [2, 4, 6, 8])


def test_os_exit_keeps_earlier_calls(zygote, honest, tmp_path):
    """Does os._exit in call 2 crash the job cleanly while keeping call 1's result?"""
    source = """
        import os
        def double(x):
            return x * 2
        def leave(x):
            os._exit(3)
    """
    calls = [_fn("double"), _fn("leave"), _fn("after", "double")]
    result = _run_attack(zygote, honest, tmp_path, source, calls)
    assert result.status == "crashed" and "code 3" in result.exit_detail
    np.testing.assert_array_equal(result.arrays["double"], [2, 4, 6, 8])
    assert "sandbox stopped" in result.errors["leave"]
    assert "sandbox stopped" in result.errors["after"]


def test_infinite_loop_ignoring_signals_times_out(zygote, honest, tmp_path):
    """Is a loop that ignores SIGTERM, SIGINT and SIGALRM killed at the wall limit?"""
    source = """
        import signal
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
            signal.signal(sig, signal.SIG_IGN)
        def double(x):
            return x * 2
        def spin(x):
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            while True:
                pass
    """
    calls = [_fn("double"), _fn("spin"), _fn("after", "double")]
    result = _run_attack(zygote, honest, tmp_path, source, calls, limits={"wall_seconds": 3})
    assert result.status == "timeout" and "wall-clock limit" in result.exit_detail
    assert 3 <= result.wall_seconds < 10
    np.testing.assert_array_equal(result.arrays["double"], [2, 4, 6, 8])
    assert "sandbox stopped" in result.errors["spin"]


@pytest.mark.slow
def test_cpu_limit_stops_a_spinner_ignoring_sigxcpu(zygote, honest, tmp_path):
    """Is a job that ignores SIGXCPU stopped at the CPU limit and reported as a timeout?"""
    source = """
        import signal
        def spin(x):
            signal.signal(signal.SIGXCPU, signal.SIG_IGN)
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            while True:
                pass
    """
    limits = {"wall_seconds": 30, "cpu_seconds": 1}
    result = _run_attack(zygote, honest, tmp_path, source, [_fn("spin")], limits=limits)
    assert result.status == "timeout" and "CPU time limit" in result.exit_detail
    assert result.wall_seconds < 30


SPIN_AND_DOUBLE = """
    def spin(x):
        while True:
            pass
    def double(x):
        return x * 2
"""


def test_soft_call_limit_lets_later_calls_run(zygote, honest, tmp_path):
    """Does a per-call soft limit stop one slow call and let the next ones run?"""
    limits = {"wall_seconds": 20, "call_seconds": 1}
    result = _run_attack(zygote, honest, tmp_path, SPIN_AND_DOUBLE, [_fn("spin"), _fn("double")],
                         limits=limits)  # fmt: skip
    assert result.status == "ok"
    assert "CallTimeout" in result.errors["spin"]
    np.testing.assert_array_equal(result.arrays["double"], [2, 4, 6, 8])


def test_a_unit_whose_call_timed_out_is_not_called_again(zygote, honest, tmp_path):
    """Without call_seconds a call gets a quarter of the wall limit (2 s of 8); after one
    call of `spin` times out, its later calls fail at once, those of the class Spinner too
    (a call on another of its objects), and the other units still run: the job ends in
    about two soft limits, well inside the wall limit it would otherwise reach."""
    source = (
        SPIN_AND_DOUBLE
        + """
    class Spinner:
        def __init__(self, k):
            self.k = k
        def __call__(self, x):
            while self.k:
                pass
"""
    )
    new = [{"id": f"s{i}", "kind": "construct", "name": "Spinner", "kwargs": {"k": 1}}
           for i in (1, 2)]  # fmt: skip
    on = [{"id": f"c{i}", "kind": "call", "object": f"s{i}", "args": [{"array": "x"}]}
          for i in (1, 2)]  # fmt: skip
    calls = [_fn("spin"), {**_fn("spin"), "id": "spin2"}, _fn("double"), *new, *on]
    result = _run_attack(zygote, honest, tmp_path, source, calls, limits={"wall_seconds": 8})
    assert result.status == "ok", result.exit_detail
    assert "the call of spin exceeded its soft time limit of 2 s" in result.errors["spin"]
    assert result.errors["spin2"].startswith("not run: an earlier call timed out")
    assert "the call of Spinner exceeded" in result.errors["c1"]
    assert result.errors["c2"].startswith("not run: an earlier call timed out (the call of Spinner")
    np.testing.assert_array_equal(result.arrays["double"], [2, 4, 6, 8])
    assert result.wall_seconds < 6


def test_memory_bomb_is_contained(zygote, honest, tmp_path):
    """Does a submission that allocates without bound hit the address-space limit?"""
    source = """
        import numpy as np
        def hog(x):
            chunks = []
            while True:
                chunks.append(bytearray(64 << 20))
        def huge(x):
            return np.ones((1 << 20, 1 << 20))
        def double(x):
            return x * 2
    """
    calls = [_fn("hog"), _fn("huge"), _fn("double")]
    result = _run_attack(zygote, honest, tmp_path, source, calls,
                         limits={"memory_bytes": 3 << 30})  # fmt: skip
    assert result.status == "memory"
    assert "MemoryError" in result.errors["hog"] and "MemoryError" in result.errors["huge"]
    np.testing.assert_array_equal(result.arrays["double"], [2, 4, 6, 8])


@pytest.mark.slow
def test_fork_bomb_is_contained(zygote, honest, tmp_path):
    """Is a fork bomb in a call capped by RLIMIT_NPROC, cut by the call's soft limit (1 s
    of 4) or else by the wall limit, and every fork killed when the job ends?"""
    source = """
        import os
        def bomb(x):
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
    """
    limits = {"wall_seconds": 4, "nproc": 32}
    result = _run_attack(zygote, honest, tmp_path, source, [_fn("bomb")], limits=limits)
    assert result.status == "timeout" or "CallTimeout" in result.errors["bomb"], result.errors
    assert "bomb" not in result.arrays


@pytest.mark.slow
def test_processes_a_cell_leaves_are_stopped_before_the_calls(zygote, honest, tmp_path):
    """A fork bomb at a cell's top level, cut by the soft limit: with a slot uid its
    processes are killed before the calls, which then run unstarved; without one (the
    unprivileged host) the supervisor's sweep at the end is what stops them, all of them."""
    token = "agb" + os.urandom(4).hex()
    source = f"""
        # --- cell bomb
        import ctypes, os
        ctypes.CDLL(None).prctl(15, b"{token}", 0, 0, 0)  # PR_SET_NAME: every fork's name
        while True:
            try:
                os.fork()
            except OSError:
                pass
        # --- cell rest
        def double(x):
            return x * 2
    """
    limits = {"wall_seconds": 8, "nproc": 32}
    result = _run_attack(zygote, honest, tmp_path, source, [_fn("double")], limits=limits)
    assert _host_processes_with(token) == []  # on every host: the sweep stops them all
    if zygote.host == "nobody":  # starved calls: a timeout, most likely
        assert "__strays__" not in result.errors
        return
    assert result.status == "ok", result.exit_detail
    assert "cell bomb" in result.errors["__source__"]
    assert "were stopped" in result.errors["__strays__"]
    np.testing.assert_array_equal(result.arrays["double"], [2, 4, 6, 8])


def _host_processes_with(token: str) -> list[str]:
    """Processes whose command line or name (``comm``) holds ``token``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f, open(f"/proc/{pid}/comm", "rb") as g:
                if token.encode() in f.read() + g.read():
                    found.append(pid)
        except OSError:
            continue
    return found


def test_daemons_do_not_survive(zygote, honest, tmp_path, rng):
    """Are setsid'd and double-forked daemons, alive when the job ends, gone afterwards?

    Each daemon runs ``sleep <token>`` where exec is allowed; without exec (Landlock) it
    names itself ``<token>`` (prctl PR_SET_NAME) and sleeps in Python.
    """
    token = f"d{rng.integers(10**9):09d}"
    source = f"""
        import ctypes, os, time
        def _linger():
            try:
                os.execv("/bin/sleep", ["sleep", "{token}"])
            except OSError:
                ctypes.CDLL(None).prctl(15, b"{token}", 0, 0, 0)
                while True:
                    time.sleep(1)
        def _named(pid):
            with open(f"/proc/{{pid}}/cmdline", "rb") as f, open(f"/proc/{{pid}}/comm", "rb") as g:
                return b"{token}" in f.read() + g.read()
        def spawn(x):
            r, w = os.pipe()
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.write(w, f"{{os.getpid()}}\\n".encode())
                    _linger()
                os._exit(0)
            if os.fork() == 0:
                _linger()
            daemon = int(os.read(r, 100).split()[0])
            time.sleep(0.3)
            return [_named(daemon), os.getsid(daemon) != os.getsid(0)]
    """
    result = _run_attack(zygote, honest, tmp_path, source, [_fn("spawn")])
    assert result.status == "ok", result.errors
    assert result.arrays["spawn.0"] and result.arrays["spawn.1"]  # alive, in its own session
    assert _host_processes_with(token) == []


def test_huge_stdout_is_capped(zygote, honest, tmp_path):
    """Is 20 MB of stdout and stderr cut to the cap with a truncation marker?"""
    source = """
        import sys
        def shout(x):
            for _ in range(20000):
                print("y" * 1000)
                sys.stderr.write("z" * 1000)
            return x
    """
    result = _run_attack(zygote, honest, tmp_path, source, [_fn("shout")])
    assert result.status == "ok"
    for text in (result.stdout, result.stderr):
        assert len(text) < (64 << 10) + 100
        assert "[truncated" in text
    np.testing.assert_array_equal(result.arrays["shout"], [1, 2, 3, 4])
    assert os.path.getsize(tmp_path / "attack" / "out" / "stdout.txt") < (64 << 10) + 100


def test_filling_the_disk_is_bounded(zygote, honest, tmp_path):
    """Are writes bounded (tmpfs sizes, or the disk watch without namespaces), nothing outside?

    The job tries 1 GiB in 16 MiB files in its temp dir: a tmpfs stops it at 8 MiB; without
    a mount namespace the supervisor's watch (every 0.25 s) kills it past its budget.
    """
    outside = ["/tmp/sandbox-fill", "/var/tmp/sandbox-fill", "/work/sandbox-fill", "fill-in-job",
               "/etc/fill"]  # fmt: skip
    source = f"""
        import os
        import numpy as np
        def _write(target, mib):
            n = 0
            try:
                with open(target, "wb") as f:
                    for _ in range(mib):
                        f.write(b"\\0" * (1 << 20))
                        n += 1
            except OSError:
                pass
            return n
        def fill(x):
            many = sum(_write(f"{{os.environ['TMPDIR']}}/fill{{i}}", 16) for i in range(64))
            sizes = [many, _write("out/fill", 64)] + [_write(p, 64) for p in {outside!r}]
            os.remove("out/fill")
            return np.array(sizes)
    """
    limits = {"tmp_bytes": 8 << 20, "result_bytes": 4 << 20}
    result = _run_attack(zygote, honest, tmp_path, source, [_fn("fill")], limits=limits)
    if zygote.mode == "namespaces":  # tmpfs mounts: writes fail at their size
        assert result.status == "ok", result.errors
        tmp_mib, out_mib, *rest = result.arrays["fill"]
        assert tmp_mib <= 8 and out_mib <= 10
        assert list(rest) == [0] * len(outside)
    else:  # the supervisor watches out/ and tmp/ and kills the job past its budget
        assert result.status == "killed" and "bytes to disk" in result.exit_detail, result.arrays
        assert not glob.glob("/tmp/autograder-job-tmp-*/fill*")
    for path in outside:
        assert not os.path.exists(path if path.startswith("/") else tmp_path / "attack" / path)
    out_files = list((tmp_path / "attack" / "out").iterdir())
    assert sum(f.stat().st_size for f in out_files) < 32 << 20


def test_network_is_unreachable(zygote, honest, tmp_path):
    """Can a submission reach neither a listener on the host's loopback nor an outside IP?"""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    source = f"""
        import socket
        def connect(x):
            reached = []
            for address in [("127.0.0.1", {port}), ("1.1.1.1", 80), ("8.8.8.8", 53)]:
                try:
                    socket.create_connection(address, timeout=2).close()
                    reached.append(1)
                except OSError:
                    reached.append(0)
            return reached
    """
    with listener:
        result = _run_attack(zygote, honest, tmp_path, source, [_fn("connect")])
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert result.status == "ok"
    assert [int(result.arrays[f"connect.{i}"]) for i in range(3)] == [0, 0, 0]


@pytest.fixture
def secret_dir():
    """A world-readable secret in a tree every jail may read (/usr), outside the hidden paths."""
    path = tempfile.mkdtemp(prefix="sandbox-secret-", dir="/usr/local/share")
    os.chmod(path, 0o755)
    with open(os.path.join(path, "answers.txt"), "w") as f:
        f.write("42")
    os.chmod(os.path.join(path, "answers.txt"), 0o644)
    yield path
    os.remove(os.path.join(path, "answers.txt"))
    os.rmdir(path)


def test_hidden_paths_and_reference_are_unreachable(zygote, honest, tmp_path, secret_dir):
    """Are hidden dirs, solutions/, course_lib and other jobs invisible, and writes refused?"""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    source = f"""
        import importlib, os
        def can(fn):
            try:
                fn()
                return 1
            except Exception:
                return 0
        def probe(x):
            return [
                can(lambda: open("{secret_dir}/answers.txt").read()),
                can(lambda: os.listdir("{repo}/solutions")),
                can(lambda: open("{repo}/course_lib/__init__.py").read()),
                can(lambda: importlib.import_module("course" + "_lib")),
                can(lambda: importlib.import_module("autograder.assignments")),
                can(lambda: os.listdir("{tmp_path}/honest")),
                can(lambda: open("/root/.bashrc").read()),
                can(lambda: open("{repo}/pyproject.toml", "a")),
                can(lambda: open("written-in-job-dir", "w")),
            ]
    """
    calls = [_fn("probe")]
    control = write_job(tmp_path / "control", source=textwrap.dedent(source), calls=calls,
                        inputs={"x": np.ones(1)})  # fmt: skip
    result = _run_attack(zygote, honest, tmp_path, source, calls, hide=[secret_dir])
    assert result.status == "ok", result.errors
    flags = [int(result.arrays[f"probe.{i}"]) for i in range(9)]
    assert flags == [0] * 9
    assert not (tmp_path / "attack" / "written-in-job-dir").exists()
    # Control: without `hide` the same submission reads the secret (the test can fail).
    control_result = zygote.run(_own(zygote, control))
    assert int(control_result.arrays["probe.0"]) == 1


def test_forged_pickle_result_is_rejected(zygote, honest, tmp_path):
    """Is a result.npz forged with a pickle payload rejected without unpickling it?"""
    marker = tmp_path / "pwned"
    source = f"""
        import os
        import numpy as np
        class Boom:
            def __reduce__(self):
                return (open, ({str(marker)!r}, "w"))
        def forge(x):
            np.savez("out/result.npz", forge=np.ones(4), evil=np.array([Boom()], dtype=object))
            os._exit(0)
    """
    result = _run_attack(zygote, honest, tmp_path, source, [_fn("forge")])
    assert result.arrays == {}  # the job's own out/result.npz is never what the parent reads
    assert result.status == "crashed" and "final results" in result.exit_detail
    assert "sandbox stopped" in result.errors["forge"]
    assert not marker.exists()


FORGER = """
    import json, os, shutil
    import numpy as np

    FORGED = {"forged": np.ones(3), "double": np.zeros(4)}

    def forge_everything(*args, **kwargs):
        for where in ("out", ".", "/tmp"):
            for name in ("result.npz", ".results.sealed"):
                try:
                    np.save(os.path.join(where, name), np.ones(3))
                    with open(os.path.join(where, "errors.json"), "w") as f:
                        json.dump({}, f)
                except OSError:
                    pass
        try:
            _real_replace("out/result.npz", "out/.results.sealed")
        except OSError:
            pass

    _real_exit, _real_replace = os._exit, os.replace

    def _exit(code):
        forge_everything()
        _real_exit(0)

    def _savez(file, *args, **kwargs):
        forge_everything()
        return _real_savez(file, **FORGED)

    _real_savez = np.savez
    os._exit = _exit
    np.savez = _savez
    json.dumps = lambda *a, **k: "{}"
    os.replace = lambda *a, **k: forge_everything()
    forge_everything()

    def double(x):
        return x * 2

    def boom(x):
        raise ValueError("a real error")
"""


def test_results_cannot_be_forged_after_the_harness_writes(zygote, honest, tmp_path):
    """Do replaced os._exit/np.savez/os.replace/json.dumps and forged files change nothing?"""
    result = _run_attack(zygote, honest, tmp_path, FORGER, [_fn("double"), _fn("boom")])
    assert result.status == "ok", (result.exit_detail, result.errors, result.stderr)
    assert set(result.arrays) == {"double"}
    np.testing.assert_array_equal(result.arrays["double"], [2, 4, 6, 8])
    assert "ValueError: a real error" in result.errors["boom"]


def test_seal_rejects_other_keys_and_changes():
    from autograder.sandbox.protocol import SealError, seal, unseal

    key, other = os.urandom(32), os.urandom(32)
    data = seal(key, 3, True, b"npz-bytes", b"{}")
    assert unseal(key, data) == (3, True, b"npz-bytes", b"{}")
    with pytest.raises(SealError, match="does not verify"):
        unseal(other, data)
    flipped = bytearray(data)
    flipped[25] ^= 1  # a byte of the npz payload
    with pytest.raises(SealError):
        unseal(key, bytes(flipped))
    with pytest.raises(SealError):
        unseal(key, data[:-1])


def test_inject_replaces_student_definition(zygote, honest, tmp_path):
    """Does inject swap a buggy student helper for the reference, and site stay curated?"""
    (tmp_path / "ref.py").write_text("def helper(x):\n    return x * 3\n")
    (tmp_path / "init.py").write_text("")
    source = """
        import importlib
        def helper(x):
            return x * 0
        def scaled(x):
            return helper(x) + 1
        def other(x):
            importlib.import_module("course_lib.layers")
            return x
    """
    calls = [_fn("scaled"), _fn("ref", "site:course_lib.ref:helper"), _fn("other")]
    site = {
        "course_lib/__init__.py": tmp_path / "init.py",
        "course_lib/ref.py": tmp_path / "ref.py",
    }
    result = _run_attack(zygote, honest, tmp_path, source, calls, site=site,
                         inject={"helper": "course_lib.ref:helper"})  # fmt: skip
    np.testing.assert_array_equal(result.arrays["scaled"], [4, 7, 10, 13])
    np.testing.assert_array_equal(result.arrays["ref"], [3, 6, 9, 12])
    assert "No module named 'course_lib.layers'" in result.errors["other"]


def test_forbid_blocks_apis_through_aliases(zygote, honest, tmp_path):
    """Do forbidden keras APIs raise with their name, through tf.keras and keras.src aliases?"""
    source = """
        import keras
        import tensorflow as tf
        def mha(x):
            return keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
        def tf_mha(x):
            return tf.keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
        def dpa(x):
            return keras.ops.dot_product_attention(x, x, x)
        def src_dpa(x):
            from keras.src.ops import nn
            return nn.dot_product_attention(x, x, x)
        def own(x):
            return keras.ops.softmax(x)
    """
    calls = [_fn(n) for n in ("mha", "tf_mha", "dpa", "src_dpa", "own")]
    x = np.random.default_rng(0).normal(size=(1, 3, 2, 4)).astype(np.float32)
    forbid = ["keras.layers.MultiHeadAttention", "keras.ops.dot_product_attention"]
    result = _run_attack(zygote, honest, tmp_path, source, calls, inputs={"x": x}, forbid=forbid)
    for call_id, name in [("mha", forbid[0]), ("tf_mha", forbid[0]), ("dpa", forbid[1]),
                          ("src_dpa", forbid[1])]:  # fmt: skip
        assert "ForbiddenAPIError" in result.errors[call_id], result.errors[call_id]
        assert f"{name} is not allowed" in result.errors[call_id]
    assert "own" in result.arrays
    assert set(result.errors["__forbidden__"].split(", ")) == set(forbid)
    # Control: without forbid the same call works.
    control = write_job(tmp_path / "control", source=textwrap.dedent(source),
                        calls=[_fn("dpa")], inputs={"x": x})  # fmt: skip
    assert zygote.run(_own(zygote, control)).arrays["dpa"].shape == x.shape


def test_forbid_survives_reloading_the_backend(zygote, honest, tmp_path):
    """Do importlib.reload and a fresh exec of a keras module still give the forbidden API?"""
    source = """
        import importlib, importlib.util
        _nn = importlib.reload(importlib.import_module("keras.src.backend." + "tensorflow.nn"))
        _reloaded = getattr(_nn, "dot_product_" + "attention")
        _spec = importlib.util.find_spec("keras.src.backend.tensorflow.nn")
        _fresh = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(_fresh)
        _copied = getattr(_fresh, "dot_product_" + "attention")

        def reloaded(x):
            return _reloaded(x, x, x)

        def copied(x):
            return _copied(x, x, x)
    """
    x = np.random.default_rng(0).normal(size=(1, 3, 2, 4)).astype(np.float32)
    forbid = ["keras.ops.dot_product_attention"]
    calls = [_fn("reloaded"), _fn("copied")]
    result = _run_attack(zygote, honest, tmp_path, source, calls, inputs={"x": x}, forbid=forbid)
    assert "__source__" not in result.errors, result.errors["__source__"]
    for call_id in ("reloaded", "copied"):
        assert "ForbiddenAPIError" in result.errors[call_id], result.errors[call_id]
    assert result.errors["__forbidden__"] == forbid[0]


# --- harness units, in-process ------------------------------------------------------------


def test_empty_answer_set_is_saved_as_no_answer():
    from autograder.grading.compare import compare_set
    from autograder.sandbox.calls import _value, to_arrays

    for empty in (set(), frozenset(), [], ()):
        arrays = to_arrays(_value(empty), "value_answer_x")
        assert arrays["value_answer_x"].dtype == np.uint8 and arrays["value_answer_x"].size == 0
        verdict = compare_set(arrays["value_answer_x"], {"B"}, what="answer_x")
        assert not verdict.passed and "no answer given" in verdict.message
    np.testing.assert_array_equal(_value({"b", "D"}), [66, 68])


def test_construct_with_wrong_weight_shapes_stores_nothing():
    """A weight-shape error fails the construct (path and shapes named); later calls say so."""
    import keras

    from autograder.sandbox.calls import NotBuilt, run_call

    class NoBias(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = keras.layers.Dense(2, use_bias=False)

        def call(self, x):
            return self.inner(x)

    inputs = {"x": np.ones((1, 3), np.float32), "k": np.ones((3, 2), np.float32),
              "b": np.ones(2, np.float32)}  # fmt: skip
    construct = {"id": "obj", "kind": "construct", "name": "NoBias", "kwargs": {},
                 "build": {"args": [{"array": "x"}]}, "weights": {"inner": ["k", "b"]}}  # fmt: skip
    objects = {}
    with pytest.raises(ValueError, match=r"'inner'.*shapes \[\(3, 2\)\].*\[\(3, 2\), \(2,\)\]"):
        run_call(construct, {"NoBias": NoBias}, inputs, objects)
    assert objects == {}
    call = {"id": "out", "kind": "call", "object": "obj", "args": [{"array": "x"}]}
    with pytest.raises(NotBuilt, match="'obj' was not built"):
        run_call(call, {}, inputs, objects)


def test_construct_builds_an_unused_dense_with_the_given_weights():
    """A Dense sublayer the build call never used gets the grader's weights all the same."""
    import keras

    from autograder.sandbox.calls import run_call

    class Unused(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.used = keras.layers.Dense(2)
            self.unused = keras.layers.Dense(2)

        def call(self, x):
            return self.used(x)

    inputs = {"x": np.ones((1, 3), np.float32), "k": np.full((3, 2), 2.0, np.float32),
              "b": np.ones(2, np.float32)}  # fmt: skip
    construct = {"id": "obj", "kind": "construct", "name": "Unused", "kwargs": {},
                 "build": {"args": [{"array": "x"}]},
                 "weights": {"used": ["k", "b"], "unused": ["k", "b"]}}  # fmt: skip
    objects = {}
    run_call(construct, {"Unused": Unused}, inputs, objects)
    kernel, bias = objects["obj"].unused.get_weights()
    np.testing.assert_array_equal(kernel, inputs["k"])
    np.testing.assert_array_equal(bias, inputs["b"])
