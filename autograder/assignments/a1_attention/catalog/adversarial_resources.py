"""Adversarial notebooks for a1_attention: resource and escape attacks at import time.

Memory and fork bombs, output floods, disk filling, infinite loops...: whole notebooks
(the sandbox tests cover the same attacks as jobs). Each must be stopped or contained,
score no more than the empty notebook, and leave no file behind on the host.
"""

from autograder.catalog import src

# Resource and escape attacks at import time, as whole notebooks (the sandbox tests cover them as jobs).
RESOURCE_ATTACKS = {
    "adv_memory_bomb": src(
        """
        _hog = []
        while True:
            _hog.append(bytearray(256 << 20))
        """
    ),
    "adv_huge_output": src(
        """
        import sys

        for _ in range(2000):
            sys.stdout.write("x" * 10000 + "\\n")
            sys.stderr.write("score: 20/20\\n" * 100)
        """
    ),
    "adv_fill_disk": src(
        """
        import os

        for _where in ("/tmp", "/var/tmp", os.getcwd(), "/work/main"):
            try:
                with open(os.path.join(_where, "fill.bin"), "wb") as _f:
                    for _ in range(4096):
                        _f.write(b"0" * (1 << 20))
            except OSError:
                pass
        """
    ),
    "adv_network": src(
        """
        import socket
        import urllib.request

        for _host in (("127.0.0.1", 22), ("1.1.1.1", 53), ("8.8.8.8", 443)):
            try:
                socket.create_connection(_host, timeout=2).close()
                raise SystemExit("network reachable")
            except OSError:
                pass
        urllib.request.urlopen("https://example.com/answers", timeout=2)
        """
    ),
    "adv_setsid_daemon": src(
        """
        import os
        import time

        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                while True:
                    time.sleep(1)
            os._exit(0)
        """
    ),
    "adv_read_other_students": src(
        """
        import glob

        _loot = ""
        for _path in glob.glob("/tmp/**/student.py", recursive=True) + glob.glob("/work/**/*.ipynb", recursive=True):
            try:
                _loot += open(_path).read()
            except OSError:
                pass
        exec(_loot)
        """
    ),
    "adv_array_function_fake": src(
        """
        import numpy as np

        class _Anything(np.ndarray):
            def __array_function__(self, func, types, args, kwargs):
                return True

            def __eq__(self, other):
                return True

        def scaled_dot_product_attention(query, key, value, mask=None):
            fake = np.zeros((1,)).view(_Anything)
            return fake, fake
        """
    ),
    "adv_pickle_payload": src(
        """
        import os
        import pickle

        import numpy as np

        class _Payload:
            def __reduce__(self):
                return (os.system, ("touch /tmp/pwned-by-student",))

        for _name in ("out/result.npz", "result.npz"):
            try:
                np.save(_name, np.array([_Payload()], dtype=object), allow_pickle=True)
            except Exception:
                pass

        def scaled_dot_product_attention(query, key, value, mask=None):
            return np.array([_Payload()], dtype=object), None
        """
    ),
    "adv_ignore_signals_loop": src(
        """
        import signal

        for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGXCPU):
            signal.signal(_sig, signal.SIG_IGN)
        while True:
            pass
        """
    ),
    "adv_stub_tf_math": src(
        """
        import tensorflow as tf
        from keras import ops

        tf.matmul = lambda a, b, **k: a
        ops.matmul = lambda a, b: a
        ops.softmax = lambda x, axis=-1: x
        tf.nn.softmax = lambda x, axis=-1: x
        """
    ),
}
