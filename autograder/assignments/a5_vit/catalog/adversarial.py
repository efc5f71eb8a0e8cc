"""The a1 adversarial catalog and the malformed-notebook catalog, graded on a5_vit.

Issue 7 asks that the attacks and malformed notebooks that the a1/a2 grader resists are
resisted by a later assignment's suite too, through the whole pipeline in ONE run:
- every a1 adversarial notebook (process-level attacks: memory and fork bombs, output floods,
  disk filling, exits, forged results, seed tampering, ...), with its paths pointed at
  a5_vit, plus attacks aimed at a5's own units (computed imports of the reference, objects
  whose `==` is always True, numpy monkeypatching, reading the solution): each scores no more
  than the empty notebook;
- malformed notebooks (invalid JSON, nbformat 3, non-UTF-8 bytes, stripped metadata, a huge
  output, a duplicated or deleted graded cell, a syntax error): each gets a message, honest
  work in them keeps its points where the cell is still there (a 60 MB notebook is graded
  with its outputs dropped and told to clear them next time), and the batch goes on.
"""

import json
from pathlib import Path

import nbformat

from autograder.assignments.a1_attention.catalog import ATTACKS as A1_ADVERSARIAL
from autograder.catalog import solved_notebook, src

A5 = "a5_vit"
PATCHES = "extract_patches"

ADVERSARIAL = {
    f"a1_{name}": source.replace("a1_attention", A5) for name, source in A1_ADVERSARIAL.items()
}
ADVERSARIAL.update(
    {
        "a5_computed_import_of_reference": src(
            """
            import importlib

            def _ref(name):
                module = importlib.import_module("course" + "_lib.layers.patch_embedding")
                return getattr(module, name)

            def extract_patches(images, patch_size):
                return _ref("extract_patches")(images, patch_size)

            class PatchEmbedding:
                def __new__(cls, *args, **kwargs):
                    return _ref("PatchEmbedding")(*args, **kwargs)
            """
        ),
        "a5_always_equal": src(
            """
            import numpy as np

            class _Liar(np.ndarray):
                def __eq__(self, other):
                    return np.ones(np.shape(other), bool)

            def extract_patches(images, patch_size):
                return np.zeros((1, 1)).view(_Liar)
            """
        ),
        "a5_monkeypatch_numpy": src(
            """
            import numpy as np

            np.allclose = lambda *a, **k: True
            np.testing.assert_allclose = lambda *a, **k: None

            def extract_patches(images, patch_size):
                return np.zeros(1)
            """
        ),
        "a5_read_solution": src(
            """
            import json

            def _solution_source(unit):
                for path in ("solutions/a5_vit/a5_vit.ipynb", "/work/main/solutions/a5_vit/a5_vit.ipynb",
                             "../../solutions/a5_vit/a5_vit.ipynb"):
                    try:
                        cells = json.load(open(path))["cells"]
                    except OSError:
                        continue
                    for cell in cells:
                        if cell["metadata"].get("nbgrader", {}).get("grade_id") == unit:
                            return "".join(cell["source"])
                raise FileNotFoundError("no solution")

            exec(_solution_source("extract_patches"))
            """
        ),
    }
)


def write_malformed(subs):
    """Writes the malformed-notebook catalog into `subs`; returns `{student: phrase its
    feedback must hold}`."""
    solved = solved_notebook(A5)

    def folder(student):
        path = Path(subs) / student / A5
        path.mkdir(parents=True)
        return path / f"{A5}.ipynb"

    expected = {}
    folder("invalid_json").write_text('{"cells": [')
    expected["invalid_json"] = "not valid notebook JSON"

    nb = nbformat.from_dict(json.loads(json.dumps(solved)))
    folder("nbformat3").write_text(nbformat.writes(nbformat.convert(nb, 3)))
    expected["nbformat3"] = "nbformat"

    raw = json.dumps(solved).encode()
    folder("non_utf8").write_bytes(raw.replace(b"Vision Transformer", b"Vision Tr\xe4nsformer", 1))
    expected["non_utf8"] = "UTF-8"

    stripped = json.loads(json.dumps(solved))
    for cell in stripped["cells"]:
        cell["metadata"] = {}
    folder("stripped_metadata").write_text(json.dumps(stripped))
    expected["stripped_metadata"] = "metadata missing"

    huge = json.loads(json.dumps(solved))
    first_code = next(c for c in huge["cells"] if c["cell_type"] == "code")
    first_code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * (60 << 20)}]
    folder("huge_output").write_text(json.dumps(huge))
    expected["huge_output"] = "Clear all outputs"

    duplicated = json.loads(json.dumps(solved))
    index = next(
        i
        for i, c in enumerate(duplicated["cells"])
        if c["metadata"].get("nbgrader", {}).get("grade_id") == PATCHES
    )
    duplicated["cells"].insert(index + 1, json.loads(json.dumps(duplicated["cells"][index])))
    folder("duplicated_cell").write_text(json.dumps(duplicated))
    expected["duplicated_cell"] = "share the grade_id"

    deleted = json.loads(json.dumps(solved))
    deleted["cells"] = [
        c for c in deleted["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") != PATCHES
    ]
    folder("deleted_cell").write_text(json.dumps(deleted))
    expected["deleted_cell"] = PATCHES

    syntax = json.loads(json.dumps(solved))
    for cell in syntax["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == PATCHES:
            cell["source"] = "def extract_patches(images, patch_size)\n    return images\n"
    folder("syntax_error").write_text(json.dumps(syntax))
    expected["syntax_error"] = "syntax error"
    return expected
