"""Adversarial notebooks for a1_attention: attacks on the grading itself.

Each is built on the released (empty) notebook and tries to cheat or to break the grader
(input transformers, monkeypatched comparisons, objects equal to everything, reading the
solution, computed imports of the reference, forbidden APIs through getattr or reload,
forged results, exits, seed tampering). Each scores no more than the empty submission, and
the honest students in the same batch keep full marks. Resource attacks are in
adversarial_resources.py.
"""

from autograder.assignments.a1_attention.catalog.bugs import A1
from autograder.catalog import REPO, src

HONEST = ("aaa_honest", "zzz_honest")

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
