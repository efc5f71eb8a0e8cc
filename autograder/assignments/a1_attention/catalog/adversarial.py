"""The a1_attention grading catalogs, graded in one pipeline run over one class.

- BUGS: realistic student mistakes. Each loses points on the unit it breaks, and the
  feedback names the symptom (a phrase from autograder/suites/variants.py or compare.py).
- ALTERNATIVES: other correct implementations. Each gets full marks.
- ADVERSARIAL: submissions built on the released (empty) notebook that try to cheat or to
  break the grader. Each scores no more than the empty submission, and the honest students
  in the same batch keep full marks.

All entries are graded by ONE `grade()` call (module fixture), then checked per student.
"""

import textwrap
from pathlib import Path

import pytest

from autograder.sandbox import Limits
from tests.autograder.catalog import (
    REPO,
    feedback,
    grade_class,
    results,
    unit_scores,
    write_submission,
)

pytestmark = pytest.mark.slow
A1 = "a1_attention"
SDPA, CAUSAL, PAD, SA = (
    "scaled_dot_product_attention",
    "causal_mask",
    "padding_mask",
    "SelfAttention",
)


def src(text):
    return textwrap.dedent(text).strip() + "\n"


def sdpa(
    scale="ops.sqrt(d_k)",
    masking="where",
    softmax_axis=-1,
    ret="ops.matmul(weights, value), weights",
):
    """The solution's attention with one piece swapped for a variant."""
    mask_code = {
        "where": 'logits = ops.where(ops.cast(mask, "bool"), logits, ops.full_like(logits, -1e9))',
        "inverted": 'logits = ops.where(ops.cast(mask, "bool"), ops.full_like(logits, -1e9), logits)',
        "-inf": 'logits = ops.where(ops.cast(mask, "bool"), logits, ops.full_like(logits, -float("inf")))',
        "after": "pass",
        "ignored": "pass",
    }[masking]
    after = (
        "        weights = weights * ops.cast(mask, weights.dtype)\n" if masking == "after" else ""
    )
    return (
        "def scaled_dot_product_attention(query, key, value, mask=None):\n"
        "    query, key, value = (ops.convert_to_tensor(t) for t in (query, key, value))\n"
        "    d_k = ops.cast(ops.shape(query)[-1], query.dtype)\n"
        "    d_v = ops.cast(ops.shape(value)[-1], query.dtype)\n"
        f"    logits = ops.matmul(query, ops.swapaxes(key, -1, -2)) / ({scale})\n"
        "    if mask is not None:\n"
        f"        {mask_code}\n"
        f"    weights = ops.softmax(logits, axis={softmax_axis})\n"
        "    if mask is not None:\n"
        f"{after}"
        "        pass\n"
        f"    return {ret}\n"
    )


def self_attention(
    query="self.query_dense",
    key="self.key_dense",
    use_bias="",
    causal=True,
    scale=None,
    ret="output",
):
    """The solution's SelfAttention with one piece swapped for a variant."""
    causal_code = (
        "        if use_causal_mask:\n"
        "            causal = causal_mask(ops.shape(inputs)[1])[None]\n"
        "            mask = causal if mask is None else ops.logical_and(mask, causal)\n"
        if causal
        else ""
    )
    attend = (
        "        output, weights = scaled_dot_product_attention(q, k, v, mask)\n"
        if scale is None
        else (
            f"        logits = ops.matmul(q, ops.swapaxes(k, -1, -2)) / ops.sqrt(ops.cast({scale}, q.dtype))\n"
            "        if mask is not None:\n"
            "            logits = ops.where(mask, logits, -1e9)\n"
            "        weights = ops.softmax(logits, axis=-1)\n"
            "        output = ops.matmul(weights, v)\n"
        )
    )
    return (
        "class SelfAttention(keras.layers.Layer):\n"
        "    def __init__(self, key_dim, **kwargs):\n"
        "        super().__init__(**kwargs)\n"
        "        self.key_dim = key_dim\n"
        f'        self.query_dense = keras.layers.Dense(key_dim, name="query_dense"{use_bias})\n'
        f'        self.key_dense = keras.layers.Dense(key_dim, name="key_dense"{use_bias})\n'
        f'        self.value_dense = keras.layers.Dense(key_dim, name="value_dense"{use_bias})\n'
        "\n"
        "    def call(self, inputs, attention_mask=None, use_causal_mask=False):\n"
        f"        q = {query}(inputs)\n"
        f"        k = {key}(inputs)\n"
        "        v = self.value_dense(inputs)\n"
        '        mask = None if attention_mask is None else ops.cast(attention_mask, "bool")\n'
        f"{causal_code}"
        f"{attend}"
        f"        return {ret}\n"
    )


# name -> (cells, {unit: phrase the feedback of that unit must contain}).
BUGS = {
    "bug_softmax_query_axis": (
        {SDPA: sdpa(softmax_axis=-2)},
        {SDPA: "softmax is taken over the query axis"},
    ),
    "bug_no_scale": ({SDPA: sdpa(scale="1.0")}, {SDPA: "not scaled by 1/sqrt(d_k)"}),
    "bug_scale_dk": ({SDPA: sdpa(scale="d_k")}, {SDPA: "divided by d_k instead of sqrt(d_k)"}),
    "bug_scale_dv": ({SDPA: sdpa(scale="ops.sqrt(d_v)")}, {SDPA: "uses the value depth d_v"}),
    "bug_mask_after_softmax": ({SDPA: sdpa(masking="after")}, {SDPA: "applied after the softmax"}),
    "bug_mask_inverted": ({SDPA: sdpa(masking="inverted")}, {SDPA: "the mask is inverted"}),
    "bug_mask_ignored": ({SDPA: sdpa(masking="ignored")}, {SDPA: "the mask is ignored"}),
    "bug_minus_inf_mask": ({SDPA: sdpa(masking="-inf")}, {SDPA: "gave NaN or inf"}),
    "bug_returns_weights_first": (
        {SDPA: sdpa(ret="weights, ops.matmul(weights, value)")},
        {SDPA: "returned in the wrong order"},
    ),
    "bug_output_transposed": (
        {SDPA: sdpa(ret="ops.swapaxes(ops.matmul(weights, value), -1, -2), weights")},
        {SDPA: "check the axis order"},
    ),
    "bug_causal_diagonal_excluded": (
        {
            CAUSAL: "def causal_mask(length):\n    return np.tril(np.ones((length, length), bool), k=-1)\n"
        },
        {CAUSAL: "the diagonal is excluded"},
    ),
    "bug_causal_k_plus_1": (
        {
            CAUSAL: "def causal_mask(length):\n    return np.tril(np.ones((length, length), bool), k=1)\n"
        },
        {CAUSAL: "the diagonal is shifted by one"},
    ),
    "bug_causal_triu": (
        {CAUSAL: "def causal_mask(length):\n    return np.triu(np.ones((length, length), bool))\n"},
        {CAUSAL: "the upper triangle is kept"},
    ),
    "bug_causal_inverted": (
        {
            CAUSAL: "def causal_mask(length):\n    return ~np.tril(np.ones((length, length), bool))\n"
        },
        {CAUSAL: "is inverted"},
    ),
    "bug_padding_shape_BT": (
        {
            PAD: "def padding_mask(token_ids, pad_id=0):\n    return ops.not_equal(ops.convert_to_tensor(token_ids), pad_id)\n"
        },
        {PAD: "got shape (3, 7)"},
    ),
    "bug_padding_true_at_pads": (
        {
            PAD: "def padding_mask(token_ids, pad_id=0):\n    return ops.equal(ops.convert_to_tensor(token_ids), pad_id)[:, None, :]\n"
        },
        {PAD: "is inverted"},
    ),
    "bug_padding_ignores_pad_id": (
        {
            PAD: "def padding_mask(token_ids, pad_id=0):\n    return ops.not_equal(ops.convert_to_tensor(token_ids), 0)[:, None, :]\n"
        },
        {PAD: "pad_id is ignored (the mask uses 0)"},
    ),
    "bug_sa_key_dense_for_queries": (
        {SA: self_attention(query="self.key_dense")},
        {SA: "come from the wrong Dense layer (key_dense instead of query_dense)"},
    ),
    "bug_sa_queries_keys_swapped": (
        {SA: self_attention(query="self.key_dense", key="self.query_dense")},
        {SA: "come from the wrong Dense layer"},
    ),
    "bug_sa_no_bias": (
        {SA: self_attention(use_bias=", use_bias=False")},
        {SA: "Building the layer failed"},
    ),
    "bug_sa_ignores_use_causal_mask": (
        {SA: self_attention(causal=False)},
        {SA: "the mask is ignored"},
    ),
    "bug_sa_scale_d_model": (
        {SA: self_attention(scale="ops.shape(inputs)[-1]")},
        {SA: "1/sqrt(d_model) of the input instead of 1/sqrt(key_dim)"},
    ),
    "bug_empty_answer": (
        {"answer_scale": "answer_scale = set()\n"},
        {"answer_scale": "no answer given"},
    ),
    "bug_sa_returns_tuple": (
        {SA: self_attention(ret="output, weights")},
        {SA: "a tuple came back"},
    ),
}

# Feedback gaps found by this catalog: the bug loses points, but no hint names it.
# (Fixed: weights-first order, pad_id ignored, key_dense for queries, sqrt(d_model) scale,
# and a failed weight copy in construct now fails the layer's calls with its own error.)
VAGUE = {}

ALTERNATIVES = {
    "alt_einsum": {
        SDPA: src(
            """
            def scaled_dot_product_attention(query, key, value, mask=None):
                logits = ops.einsum("...qd,...kd->...qk", query, key)
                logits = logits / ops.sqrt(ops.cast(ops.shape(key)[-1], logits.dtype))
                if mask is not None:
                    logits = ops.where(mask, logits, -1e9)
                weights = ops.softmax(logits)
                return ops.einsum("...qk,...kv->...qv", weights, value), weights
            """
        )
    },
    "alt_tensorflow_additive_bias": {
        SDPA: src(
            """
            import tensorflow as tf

            def scaled_dot_product_attention(query, key, value, mask=None):
                query = tf.convert_to_tensor(query)
                d_k = tf.cast(tf.shape(query)[-1], query.dtype)
                logits = tf.matmul(query, key, transpose_b=True) / tf.math.sqrt(d_k)
                if mask is not None:
                    logits += -1e9 * (1.0 - tf.cast(mask, logits.dtype))
                weights = tf.nn.softmax(logits, axis=-1)
                return tf.matmul(weights, value), weights
            """
        ),
        CAUSAL: src(
            """
            import tensorflow as tf

            def causal_mask(length):
                return tf.cast(tf.linalg.band_part(tf.ones((length, length)), -1, 0), tf.bool)
            """
        ),
        PAD: src(
            """
            import tensorflow as tf

            def padding_mask(token_ids, pad_id=0):
                return tf.expand_dims(tf.math.not_equal(token_ids, pad_id), axis=1)
            """
        ),
    },
    "alt_numpy_masks": {
        CAUSAL: src(
            """
            import tensorflow as tf

            def causal_mask(length):
                return tf.experimental.numpy.tril(tf.ones((length, length))) > 0
            """
        ),
        PAD: src(
            """
            def padding_mask(token_ids, pad_id=0):
                ids = np.asarray(token_ids)
                return (ids != pad_id)[:, np.newaxis, :]
            """
        ),
    },
    "alt_manual_softmax_numpy_causal": {
        SDPA: src(
            """
            def scaled_dot_product_attention(query, key, value, mask=None):
                scale = 1.0 / np.sqrt(query.shape[-1])
                logits = ops.matmul(query, ops.transpose(key, (*range(len(key.shape) - 2), len(key.shape) - 1, len(key.shape) - 2))) * scale
                if mask is not None:
                    logits = logits * ops.cast(mask, logits.dtype) + (1.0 - ops.cast(mask, logits.dtype)) * -1e9
                logits = logits - ops.max(logits, axis=-1, keepdims=True)
                e = ops.exp(logits)
                weights = e / ops.sum(e, axis=-1, keepdims=True)
                return ops.matmul(weights, value), weights
            """
        ),
        CAUSAL: src(
            """
            def causal_mask(length):
                return np.tril(np.ones((length, length), dtype=bool))
            """
        ),
    },
    "alt_sa_helper_precomputed_mask": {
        SA: src(
            """
            def _attend(q, k, v, mask):
                logits = ops.einsum("btd,bsd->bts", q, k) / ops.sqrt(ops.cast(ops.shape(k)[-1], "float32"))
                logits = ops.where(mask, logits, -1e9)
                return ops.einsum("bts,bsd->btd", ops.softmax(logits, axis=-1), v)


            class SelfAttention(keras.layers.Layer):
                def __init__(self, key_dim, **kwargs):
                    super().__init__(**kwargs)
                    self.key_dim = key_dim
                    self.query_dense = keras.layers.Dense(key_dim)
                    self.key_dense = keras.layers.Dense(key_dim)
                    self.value_dense = keras.layers.Dense(key_dim)

                def call(self, inputs, attention_mask=None, use_causal_mask=False):
                    t = ops.shape(inputs)[1]
                    mask = ops.ones((1, t, t), dtype="bool")
                    if attention_mask is not None:
                        mask = ops.logical_and(mask, ops.cast(attention_mask, "bool"))
                    if use_causal_mask:
                        mask = ops.logical_and(mask, ops.tril(ops.ones((t, t)))[None] > 0)
                    return _attend(self.query_dense(inputs), self.key_dense(inputs), self.value_dense(inputs), mask)
            """
        )
    },
    "alt_sa_tf_band_part": {
        SA: src(
            """
            import tensorflow as tf


            class SelfAttention(keras.layers.Layer):
                def __init__(self, key_dim, **kwargs):
                    super().__init__(**kwargs)
                    self.query_dense = keras.layers.Dense(key_dim, name="query_dense")
                    self.key_dense = keras.layers.Dense(key_dim, name="key_dense")
                    self.value_dense = keras.layers.Dense(key_dim, name="value_dense")
                    self.scale = 1.0 / float(key_dim) ** 0.5

                def call(self, inputs, attention_mask=None, use_causal_mask=False):
                    q, k, v = self.query_dense(inputs), self.key_dense(inputs), self.value_dense(inputs)
                    logits = tf.matmul(q, k, transpose_b=True) * self.scale
                    if use_causal_mask:
                        t = tf.shape(inputs)[1]
                        band = tf.linalg.band_part(tf.ones((t, t)), -1, 0)
                        logits = logits - 1e9 * (1.0 - band)
                    if attention_mask is not None:
                        logits = logits - 1e9 * (1.0 - tf.cast(attention_mask, logits.dtype))
                    return tf.matmul(tf.nn.softmax(logits), v)
            """
        )
    },
}

HONEST = ("aaa_honest", "zzz_honest")
EMPTY = "empty"

ADV_SOLUTION_PATH = str(REPO / "solutions" / A1 / f"{A1}.ipynb")

ADVERSARIAL = {
    "adv_input_transformer": src(
        """
        def _register():
            from IPython import get_ipython

            ip = get_ipython()
            ip.input_transformers_post.append(lambda lines: ["answer_scale = {'B'}\\n", *lines])
            return ip

        _ip = _register()
        """
    ),
    "adv_monkeypatch_numpy": src(
        """
        import numpy as np

        np.allclose = lambda *a, **k: True
        np.array_equal = lambda *a, **k: True
        np.testing.assert_allclose = lambda *a, **k: None
        np.testing.assert_array_equal = lambda *a, **k: None

        def scaled_dot_product_attention(query, key, value, mask=None):
            return np.zeros(1), np.zeros(1)

        def causal_mask(length):
            return np.zeros((length, length), bool)
        """
    ),
    "adv_always_equal": src(
        """
        import numpy as np

        class _Liar:
            def __eq__(self, other):
                return True

            def __array__(self, dtype=None, copy=None):
                return np.zeros(1)

        class _LiarSet(set):
            def __eq__(self, other):
                return True

        def scaled_dot_product_attention(query, key, value, mask=None):
            return _Liar(), _Liar()

        def causal_mask(length):
            return _Liar()

        answer_scale = _LiarSet("ABCD")
        """
    ),
    "adv_read_solution": src(
        f"""
        import json

        def _steal():
            for path in ({ADV_SOLUTION_PATH!r}, "../../solutions/a1_attention/a1_attention.ipynb",
                         "solutions/a1_attention/a1_attention.ipynb"):
                try:
                    nb = json.load(open(path))
                except OSError:
                    continue
                for cell in nb["cells"]:
                    meta = cell.get("metadata", {{}}).get("nbgrader", {{}})
                    if meta.get("solution"):
                        exec("".join(cell["source"]), globals())
                return True
            raise FileNotFoundError("no solution notebook")

        _stolen = _steal()
        """
    ),
    "adv_importlib_course_lib": src(
        """
        import importlib

        def _ref(name):
            for mod in ("layers", "layers.attention", "layers.masks", "layers.self_attention"):
                try:
                    return getattr(importlib.import_module("course" + "_lib." + mod), name)
                except (ImportError, AttributeError):
                    continue
            raise ImportError(name)

        def scaled_dot_product_attention(query, key, value, mask=None):
            return _ref("scaled_dot_product_attention")(query, key, value, mask=mask)

        def causal_mask(length):
            return _ref("causal_mask")(length)

        def padding_mask(token_ids, pad_id=0):
            return _ref("padding_mask")(token_ids, pad_id)

        class SelfAttention:
            def __new__(cls, *args, **kwargs):
                return _ref("SelfAttention")(*args, **kwargs)
        """
    ),
    "adv_getattr_forbidden": src(
        """
        import keras
        from keras import ops

        _dpa = getattr(getattr(keras, "o" + "ps"), "dot_product_" + "attention")
        _MHA = getattr(keras.layers, "Multi" + "HeadAttention")

        def scaled_dot_product_attention(query, key, value, mask=None):
            m = None if mask is None else ops.cast(mask, "bool")[..., None, :, :]
            out = _dpa(query[..., None, :], key[..., None, :], value[..., None, :], mask=m)
            return out[..., 0, :], ops.zeros(ops.shape(query)[:-1] + (ops.shape(key)[-2],))

        class SelfAttention(keras.layers.Layer):
            def __init__(self, key_dim, **kwargs):
                super().__init__(**kwargs)
                self.mha = _MHA(num_heads=1, key_dim=key_dim)

            def call(self, inputs, attention_mask=None, use_causal_mask=False):
                return self.mha(inputs, inputs, use_causal_mask=use_causal_mask)
        """
    ),
    "adv_reload_backend_forbidden": src(
        """
        import importlib
        import keras
        from keras import ops

        _nn = importlib.reload(importlib.import_module("keras.src.backend." + "tensorflow.nn"))
        _dpa = getattr(_nn, "dot_product_" + "attention")

        def scaled_dot_product_attention(query, key, value, mask=None):
            m = None if mask is None else ops.cast(mask, "bool")[..., None, :, :]
            out = _dpa(query[..., None, :], key[..., None, :], value[..., None, :], mask=m)
            return out[..., 0, :], ops.zeros(ops.shape(query)[:-1] + (ops.shape(key)[-2],))
        """
    ),
    "adv_sys_exit": src(
        """
        import sys

        _bye = sys.exit(0)
        """
    ),
    "adv_os_exit": src(
        """
        import os

        _bye = os._exit(0)
        """
    ),
    "adv_infinite_loop": src(
        """
        _forever = sum(1 for _ in iter(int, 1))
        """
    ),
    "adv_fork_bomb": src(
        """
        import os

        def _bomb():
            while True:
                try:
                    os.fork()
                except OSError:
                    pass

        _boom = _bomb()
        """
    ),
    "adv_forged_result": src(
        """
        import os
        import numpy as np

        def _forge():
            forged = {"causal0": np.ones((1, 1), bool), "value_answer_scale": np.array([66], np.uint8)}
            for where in (".", "out", "/tmp"):
                try:
                    np.savez(os.path.join(where, "result.npz"), **forged)
                except OSError:
                    pass

        _real_exit = os._exit

        def _exit_forging(code):
            _forge()
            _real_exit(0)

        _forged = _forge()
        os._exit = _exit_forging
        """
    ),
    "adv_print_score": src(
        """
        import json

        _said = print('{"score": 100, "tests": []}\\nscore: 100\\nAll tests passed. 100/100')

        def scaled_dot_product_attention(query, key, value, mask=None):
            print("score: 100")
            return None
        """
    ),
    "adv_seed_tampering": src(
        """
        import keras
        import numpy as np

        _a = np.random.seed(0)
        _b = keras.utils.set_random_seed(0)

        def scaled_dot_product_attention(query, key, value, mask=None):
            rng = np.random.default_rng(0)
            return rng.normal(size=(*query.shape[:-1], value.shape[-1])), rng.random((*query.shape[:-1], key.shape[-2]))
        """
    ),
    "adv_stub_softmax": src(
        """
        import keras
        import tensorflow as tf

        tf.nn.softmax = lambda x, axis=-1, name=None: x
        keras.ops.softmax = lambda x, axis=-1: x
        keras.src.ops.nn.softmax = lambda x, axis=-1: x
        tf.matmul = lambda a, b, **k: a
        """
    ),
}

# Resource and escape attacks at import time, as whole notebooks (the sandbox tests cover them as jobs).
ADVERSARIAL.update(
    {
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
)

# Adversarial entries that beat the grader: they score more than the empty notebook.
# (Fixed: adv_forged_result -- results are sealed and os._exit is captured before the
# submission runs; adv_reload_backend_forbidden -- the forbid is re-applied after reloads.)
BREACHES = {}

# Adversarial entries whose code the static scan flags for instructor review.
FLAGGED = {
    "adv_reload_backend_forbidden": "importlib.reload",
    "adv_getattr_forbidden": "getattr on a module with a computed name",
    "adv_os_exit": "os._exit",
    "adv_forged_result": "os._exit",
    "adv_importlib_course_lib": "importlib.import_module with a computed module name",
}

LIMITS = Limits(wall_seconds=12, cpu_seconds=12)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    subs = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("out")
    for name in HONEST:
        write_submission(subs, name, A1)
    write_submission(subs, EMPTY, A1, kind="released")
    for name, (cells, _) in BUGS.items():
        write_submission(subs, name, A1, cells)
    for name, cells in ALTERNATIVES.items():
        write_submission(subs, name, A1, cells)
    for name, cell in ADVERSARIAL.items():
        write_submission(subs, name, A1, {SDPA: cell}, kind="released")
    return grade_class(A1, subs, out, LIMITS)


def test_whole_class_graded_in_one_run(graded):
    expected = len(HONEST) + 1 + len(BUGS) + len(ALTERNATIVES) + len(ADVERSARIAL)
    assert len(graded["scores"]) == expected
    assert graded["max"] == 20.0


def test_honest_students_full_marks(graded):
    for name in HONEST:
        assert graded["scores"][name] == graded["max"], feedback(results(graded["out"], name))


def test_empty_submission_scores_zero(graded):
    assert graded["scores"][EMPTY] == 0.0


@pytest.mark.parametrize("name", sorted(BUGS))
def test_bug_loses_points_on_its_unit(graded, name):
    cells, phrases = BUGS[name]
    res = results(graded["out"], name)
    assert res["score"] < graded["max"]
    per_unit = unit_scores(res)
    for unit in phrases:
        got, top = per_unit[unit]
        assert got < top, f"{name}: {unit} kept all its points\n{feedback(res, unit)}"
    for unit, (got, top) in per_unit.items():
        if unit not in cells:
            assert got == top, f"{name}: {unit} lost points\n{feedback(res, unit)}"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=VAGUE[n])) if n in VAGUE else n
        for n in sorted(BUGS)
    ],
)
def test_bug_feedback_names_the_symptom(graded, name):
    res = results(graded["out"], name)
    for unit, phrase in BUGS[name][1].items():
        assert phrase in feedback(res, unit), f"{name}: {phrase!r} not in\n{feedback(res, unit)}"


@pytest.mark.parametrize("name", sorted(ALTERNATIVES))
def test_alternative_full_marks(graded, name):
    res = results(graded["out"], name)
    assert res["score"] == graded["max"], feedback(res)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=BREACHES[n]))
        if n in BREACHES
        else n
        for n in sorted(ADVERSARIAL)
    ],
)
def test_adversarial_scores_no_more_than_empty(graded, name):
    res = results(graded["out"], name)
    assert res["score"] <= graded["scores"][EMPTY], feedback(res)


def test_adversarial_catalog_size_and_no_side_effects(graded):
    """Are there at least 25 adversarial notebooks, none of which left a file behind on the host?"""
    assert len(ADVERSARIAL) >= 25
    assert not Path("/tmp/pwned-by-student").exists()
    assert not Path("/work/main/fill.bin").exists() and not Path("/var/tmp/fill.bin").exists()


def test_forbidden_api_reported_by_name(graded):
    res = results(graded["out"], "adv_getattr_forbidden")
    assert "Forbidden APIs were called at run time" in res["output"], res["output"]
    assert "dot_product_attention" in res["output"]


def test_no_bias_layer_reports_the_weight_shapes(graded):
    """The construct error names the sublayer and both shapes, for every call of the layer."""
    res = results(graded["out"], "bug_sa_no_bias")
    for test in (t for t in res["tests"] if t["name"].startswith(SA + ":")):
        assert "Building the layer failed" in test["output"], test["output"]
        assert "weights for 'query_dense': the layer has shapes [(12, 8)]" in test["output"]
        assert "the grader gives [(12, 8), (8,)]" in test["output"]


@pytest.mark.parametrize("name", sorted(FLAGGED))
def test_suspicious_code_flagged_for_review(graded, name):
    res = results(graded["out"], name)
    assert "Flagged for instructor review" in res["output"], res["output"]
    assert FLAGGED[name] in res["output"]
    assert FLAGGED[name] in res["extra_data"]["flags"]


def test_honest_and_alternative_submissions_are_not_flagged(graded):
    for name in [*HONEST, EMPTY, *ALTERNATIVES, *BUGS]:
        res = results(graded["out"], name)
        assert "Flagged" not in res["output"] and res["extra_data"]["flags"] == [], name


def test_runaway_submissions_stopped_by_the_sandbox(graded):
    for name in ("adv_infinite_loop", "adv_fork_bomb"):
        res = results(graded["out"], name)
        assert "The sandbox stopped part of the grading" in res["output"], res["output"]
