"""Reading, validating and extracting submissions: the malformed-notebook catalog."""

import ast
import copy
import json
from pathlib import Path

import nbformat
import pytest

from autograder.notebook.extract import extract, strip_magics
from autograder.notebook.read import NotebookError, grade_id, read_notebook
from autograder.notebook.scan import forbidden_uses, suspicious_uses
from autograder.notebook.validate import validate

ROOT = Path(__file__).resolve().parents[2]
FILES = Path(__file__).parent / "files"
RELEASED = ROOT / "assignments" / "a1_attention" / "a1_attention.ipynb"
SOLUTION = ROOT / "solutions" / "a1_attention" / "a1_attention.ipynb"
UNITS = {"scaled_dot_product_attention", "causal_mask", "padding_mask", "SelfAttention"}
ANSWERS = {"answer_scale", "answer_cost", "answer_masking"}
FORBIDDEN = (
    "keras.layers.MultiHeadAttention",
    "keras.layers.Attention",
    "keras.ops.dot_product_attention",
    "tf.keras.layers.MultiHeadAttention",
    "course_lib",
)


@pytest.fixture(scope="module")
def released():
    return read_notebook(RELEASED)


def student_notebook():
    """The released a1 notebook with the instructor's solutions in its solution cells."""
    student = nbformat.read(RELEASED, as_version=4)
    solution = nbformat.read(SOLUTION, as_version=4)
    answers = {grade_id(c): c.source for c in solution.cells if grade_id(c)}
    for cell in student.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers[grade_id(cell)]
    return student


def save(nb, tmp_path, name="a1_attention.ipynb"):
    path = tmp_path / name
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


def cell_of(nb, gid):
    return next(c for c in nb.cells if grade_id(c) == gid)


def kinds(problems):
    return sorted(p.kind for p in problems)


# --- read_notebook ------------------------------------------------------------------------


def test_invalid_json_gives_a_student_message():
    """Does a truncated file raise NotebookError saying where the JSON breaks and what to do?"""
    with pytest.raises(NotebookError) as error:
        read_notebook(FILES / "invalid_json.json")
    message = str(error.value)
    assert "not valid notebook JSON" in message and "line " in message
    assert "download it again" in message


def test_json_that_is_not_a_notebook_is_refused(tmp_path):
    """Is a JSON list or a dict without cells refused with a message, not a KeyError?"""
    for payload in ([1, 2], {"hello": "world"}):
        path = tmp_path / "a1_attention.ipynb"
        path.write_text(json.dumps(payload))
        with pytest.raises(NotebookError, match="not a"):
            read_notebook(path)


def test_missing_file_gives_a_message(tmp_path):
    with pytest.raises(NotebookError, match="Could not read"):
        read_notebook(tmp_path / "nope.ipynb")


def test_nbformat3_is_upgraded_and_says_so():
    """Is an nbformat 3 notebook upgraded to 4 with its cells and nbgrader metadata kept?"""
    notebook = read_notebook(FILES / "nbformat3.json")
    assert notebook.nb.nbformat == 4
    assert any("nbformat 3" in note for note in notebook.notes)
    assert [grade_id(c) for c in notebook.cells] == [None, None, "causal_mask"]
    assert notebook.cells[2].source.startswith("def causal_mask(length):")


def test_non_utf8_bytes_are_replaced_and_reported(tmp_path):
    """Does a Latin-1 byte in a comment become U+FFFD, with a note, and the notebook still read?"""
    nb = student_notebook()
    cell_of(nb, "causal_mask").source += "\n# caf\u00e9"
    path = tmp_path / "a1_attention.ipynb"
    path.write_bytes(nbformat.writes(nb, version=4).encode("utf-8").replace(b"\xc3\xa9", b"\xe9"))
    notebook = read_notebook(path)
    assert any("not valid UTF-8" in note for note in notebook.notes)
    assert "caf\ufffd" in cell_of(notebook.nb, "causal_mask").source
    assert extract(notebook, read_notebook(RELEASED)).units_present >= UNITS


def test_huge_file_is_graded_with_advice_or_refused_over_the_hard_cap(tmp_path):
    """A big notebook loses nothing (graded, outputs dropped, advice given); a giant one is refused."""
    nb = student_notebook()
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 3000)]
    path = save(nb, tmp_path)
    notebook = read_notebook(path, max_bytes=2000)
    assert any("Clear all outputs" in note and "graded" in note for note in notebook.notes)
    assert extract(notebook, read_notebook(RELEASED)).units_present >= UNITS
    with pytest.raises(NotebookError, match="Clear all outputs"):
        read_notebook(path, max_bytes=1000, hard_max_bytes=2000)


def test_outputs_are_dropped_on_read(tmp_path):
    """Are (possibly large) outputs ignored: read back empty, the code intact?"""
    nb = student_notebook()
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="y" * 200_000)]
    notebook = read_notebook(save(nb, tmp_path))
    assert all(c.get("outputs", []) == [] for c in notebook.cells)
    assert notebook.cells[1].source == nb.cells[1].source


def test_list_sources_and_missing_metadata_are_normalised(tmp_path):
    """Are list-of-lines sources joined and a missing cell metadata dict tolerated?"""
    raw = json.loads(nbformat.writes(student_notebook()))
    for cell in raw["cells"]:
        source = cell["source"]
        cell["source"] = source.splitlines(keepends=True) if isinstance(source, str) else source
    assert isinstance(raw["cells"][3]["source"], list)
    del raw["cells"][0]["metadata"]
    path = tmp_path / "a1_attention.ipynb"
    path.write_text(json.dumps(raw))
    notebook = read_notebook(path)
    assert isinstance(notebook.cells[3].source, str)
    assert notebook.cells[0].metadata == {}


# --- validate -----------------------------------------------------------------------------


def test_an_untouched_submission_has_no_problems(tmp_path, released):
    assert validate(read_notebook(save(student_notebook(), tmp_path)), released) == []


def test_renamed_notebook_names_the_expected_file(tmp_path, released):
    notebook = read_notebook(save(student_notebook(), tmp_path, "a1_attention (1).ipynb"))
    (problem,) = validate(notebook, released)
    assert problem.kind == "renamed_notebook"
    assert (
        "a1_attention (1).ipynb" in problem.message
        and "expected a1_attention.ipynb" in problem.message
    )


def test_deleted_solution_cell_costs_that_unit_only(tmp_path, released):
    """Is a deleted solution cell reported, and do the other units still extract?"""
    nb = student_notebook()
    nb.cells = [c for c in nb.cells if grade_id(c) != "padding_mask"]
    notebook = read_notebook(save(nb, tmp_path))
    (problem,) = validate(notebook, released)
    assert (problem.kind, problem.grade_id) == ("missing_cell", "padding_mask")
    assert "0 points" in problem.message and "rest of the notebook" in problem.message
    assert extract(notebook, released).units_present == (UNITS | ANSWERS) - {"padding_mask"}


def test_deleted_test_cell_is_reported(tmp_path, released):
    nb = student_notebook()
    nb.cells = [c for c in nb.cells if grade_id(c) != "test_causal_mask"]
    (problem,) = validate(read_notebook(save(nb, tmp_path)), released)
    assert (problem.kind, problem.grade_id) == ("missing_cell", "test_causal_mask")


def test_duplicated_grade_id_is_reported_and_the_last_copy_is_used(tmp_path, released):
    nb = student_notebook()
    original = cell_of(nb, "causal_mask")
    copy_ = copy.deepcopy(original)
    copy_.source = original.source.replace("def causal_mask", "def causal_mask_v2", 1)
    copy_.id = "copied-cell"
    nb.cells.insert(nb.cells.index(original) + 1, copy_)
    notebook = read_notebook(save(nb, tmp_path))
    problems = validate(notebook, released)
    assert kinds(problems) == ["duplicate_grade_id"]
    assert "2 cells share the grade_id 'causal_mask'" in problems[0].message
    extraction = extract(notebook, released)
    assert "def causal_mask_v2" in extraction.source
    assert "def causal_mask(" not in extraction.source


def test_edited_test_cell_is_reported(tmp_path, released):
    """Is a locked test cell whose asserts were removed reported as edited?"""
    nb = student_notebook()
    cell_of(nb, "test_causal_mask").source = "pass"
    (problem,) = validate(read_notebook(save(nb, tmp_path)), released)
    assert (problem.kind, problem.grade_id) == ("locked_cell_edited", "test_causal_mask")


def test_changed_solution_grade_id_is_matched_by_name(tmp_path, released):
    nb = student_notebook()
    cell_of(nb, "SelfAttention").metadata["nbgrader"]["grade_id"] = "my_cell"
    notebook = read_notebook(save(nb, tmp_path))
    (problem,) = validate(notebook, released)
    assert (problem.kind, problem.grade_id) == ("grade_id_changed", "SelfAttention")
    assert "'my_cell'" in problem.message
    assert "SelfAttention" in extract(notebook, released).units_present


def test_stripped_metadata_falls_back_to_names(tmp_path, released):
    """With every cell's metadata stripped, are the units still found, and is it said?"""
    nb = student_notebook()
    for cell in nb.cells:
        cell.metadata = {}
    notebook = read_notebook(save(nb, tmp_path))
    assert any("metadata is missing" in note for note in notebook.notes)
    assert kinds(validate(notebook, released)) == ["stripped_metadata"]
    extraction = extract(notebook, released)
    assert extraction.units_present == UNITS | ANSWERS
    assert any("found by the names it defines" in note for note in extraction.notes)
    assert "def reference_attention" not in extraction.source, "test helpers are matched, left out"
    assert "assert" not in extraction.source, "test cells must never be extracted"


# --- extract ------------------------------------------------------------------------------


def test_extraction_of_the_solution_runs_and_defines_every_unit(tmp_path, released):
    """Does the extracted module compile, define every unit, and leave tests/plots out?"""
    extraction = extract(read_notebook(save(student_notebook(), tmp_path)), released)
    assert extraction.units_present == UNITS | ANSWERS
    assert extraction.syntax_errors == {}
    namespace = {}
    exec(compile(extraction.source, "<extracted>", "exec"), namespace)
    assert set(namespace) >= UNITS | ANSWERS
    assert namespace["answer_cost"] == {"A", "B", "D"}
    for forbidden in ("plt.show", "test_rng", "Public tests passed", "%pip", "set_random_seed"):
        assert forbidden not in extraction.source
    assert "# --- cell scaled_dot_product_attention ---" in extraction.source


def test_extraction_keeps_helpers_and_drops_training_loops_and_prints(tmp_path, released):
    nb = student_notebook()
    helper = nbformat.v4.new_code_cell(
        "%matplotlib inline\n!pip install something\nimport math\nfrom functools import partial\n"
        "SCALE = 1 / 8\nNAMES = ('a', 'b')\nmodel = build_model()\n"
        "def my_helper(x):\n    return x * SCALE\n\nclass Thing:\n    pass\n"
        "for step in range(1000):\n    train(step)\nprint('hello')\nmy_helper(3)\n"
        "if __name__ == '__main__':\n    main()\n"
    )
    nb.cells.insert(2, helper)
    cell_of(nb, "causal_mask").source += "\nprint(causal_mask(3))\nfor i in range(3):\n    pass"
    extraction = extract(read_notebook(save(nb, tmp_path)), released)
    kept = extraction.chunks["2"]
    for expected in ("import math", "from functools import partial", "SCALE = 1 / 8",
                     "NAMES = ('a', 'b')", "def my_helper", "class Thing"):  # fmt: skip
        assert expected in kept
    for dropped in ("build_model", "train(step)", "print('hello')", "my_helper(3)", "main()",
                    "pip", "matplotlib"):  # fmt: skip
        assert dropped not in kept
    assert "print(causal_mask(3))" not in extraction.chunks["causal_mask"]
    assert "for i in range" not in extraction.chunks["causal_mask"]


def test_syntax_error_in_one_cell_leaves_the_others(tmp_path, released):
    nb = student_notebook()
    cell_of(nb, "padding_mask").source = "def padding_mask(token_ids, pad_id=0):\n    return (("
    extraction = extract(read_notebook(save(nb, tmp_path)), released)
    assert set(extraction.syntax_errors) == {"padding_mask"}
    assert extraction.syntax_errors["padding_mask"].startswith("line 2: ")
    assert "padding_mask" not in extraction.units_present
    assert extraction.units_present == (UNITS | ANSWERS) - {"padding_mask"}
    ast.parse(extraction.source)


def test_strip_magics_keeps_line_numbers():
    source = "%time x = 1\n!ls\nfiles = !ls\nnp.mean?\nif True:\n    %pip install x\ny = 2"
    stripped = strip_magics(source)
    assert stripped.count("\n") == source.count("\n")
    assert "pip" not in stripped and "!" not in stripped and "?" not in stripped
    ast.parse(stripped)
    assert strip_magics("%%bash\necho hi") is None
    assert strip_magics("%%time\nz = 3") == "pass\nz = 3"


def test_strip_magics_leaves_continuation_lines_and_strings_alone():
    """Is `% x` continuing a bracket, or `!` inside a docstring, kept as Python?"""
    source = 'msg = ("%d items"\n       % 3)\ndef f():\n    """Note:\n!important\n"""\n    return 1'
    assert strip_magics(source) == source
    namespace = {}
    exec(strip_magics(source), namespace)
    assert namespace["msg"] == "3 items"
    assert strip_magics("%%time\nz = 3") == "pass\nz = 3"


# --- forbidden_uses -----------------------------------------------------------------------

ALIASES = {
    "keras.layers.MultiHeadAttention": "keras.layers.MultiHeadAttention(2, 8)",
    "from keras import layers": "from keras import layers\nlayers.MultiHeadAttention(2, 8)",
    "import as M": "from keras.layers import MultiHeadAttention as M\nM(2, 8)",
    "ops.dot_product_attention": "from keras import ops\nops.dot_product_attention(q, k, v)",
    "tf.keras": "import tensorflow as tf\ntf.keras.layers.MultiHeadAttention(2, 8)",
    "keras.layers.Attention": "import keras as K\nK.layers.Attention()",
    "import course_lib": "import course_lib.layers as cl",
    "from course_lib": "from course_lib.layers import MultiHeadAttention",
    "getattr": "import keras\ngetattr(keras.layers, 'MultiHeadAttention')",
}
EXPECTED = {
    "keras.layers.MultiHeadAttention": "keras.layers.MultiHeadAttention",
    "from keras import layers": "keras.layers.MultiHeadAttention",
    "import as M": "keras.layers.MultiHeadAttention",
    "ops.dot_product_attention": "keras.ops.dot_product_attention",
    "tf.keras": "tf.keras.layers.MultiHeadAttention",
    "keras.layers.Attention": "keras.layers.Attention",
    "import course_lib": "course_lib",
    "from course_lib": "course_lib",
    "getattr": "keras.layers.MultiHeadAttention",
}


@pytest.mark.parametrize("case", sorted(ALIASES))
def test_forbidden_use_is_reported_by_name_in_its_cell(case, tmp_path, released):
    nb = student_notebook()
    cell = cell_of(nb, "SelfAttention")
    cell.source = cell.source.replace(
        "        output, _ = scaled_dot_product_attention",
        "        " + ALIASES[case].replace("\n", "\n        ") + "\n        output, _ = "
        "scaled_dot_product_attention",
    )
    extraction = extract(read_notebook(save(nb, tmp_path)), released)
    report = forbidden_uses(extraction, FORBIDDEN)
    assert report == {"SelfAttention": [EXPECTED[case]]}


def test_alias_imported_in_another_cell_is_resolved(tmp_path, released):
    """`from keras import layers` in a helper cell, `layers.MultiHeadAttention` in a unit cell."""
    nb = student_notebook()
    nb.cells.insert(2, nbformat.v4.new_code_cell("from keras import layers as L"))
    cell = cell_of(nb, "SelfAttention")
    cell.source = cell.source.replace(
        "        self.key_dim = key_dim", "        self.mha = L.MultiHeadAttention(1, key_dim)"
    )
    report = forbidden_uses(extract(read_notebook(save(nb, tmp_path)), released), FORBIDDEN)
    assert report == {"SelfAttention": ["keras.layers.MultiHeadAttention"]}


@pytest.mark.parametrize("name", ["a1_attention", "a2_transformer"])
def test_no_false_positive_on_the_solutions(name):
    """Do the reference solutions (Dense, ops.matmul, ops.softmax...) report nothing?"""
    released = read_notebook(ROOT / "assignments" / name / f"{name}.ipynb")
    solution = read_notebook(ROOT / "solutions" / name / f"{name}.ipynb")
    extraction = extract(solution, released)
    assert extraction.syntax_errors == {}
    assert forbidden_uses(extraction, FORBIDDEN) == {}


# --- suspicious_uses ----------------------------------------------------------------------

SUSPICIOUS = {
    "reload": ("import importlib\nimportlib.reload(keras)", "importlib.reload"),
    "from importlib import reload": (
        "from importlib import reload\nreload(keras)",
        "importlib.reload",
    ),  # fmt: skip
    "computed import": (
        "import importlib\nm = importlib.import_module('keras.src.' + key_dim.__class__.__name__)",
        "importlib.import_module with a computed module name",
    ),
    "computed __import__": (
        "m = __import__('ker' + 'as')",
        "__import__ with a computed module name",
    ),
    "getattr computed": (
        "import keras\nf = getattr(keras.ops, 'dot_product_' + 'attention')",
        "getattr on a module with a computed name",
    ),
    "getattr on imported module": (
        "import importlib\nnn = importlib.import_module('keras.src.ops.nn')\nf = getattr(nn, name)",
        "getattr on a module with a computed name",
    ),
    "sys.modules": ("import sys\nnn = sys.modules['keras.src.ops.nn']", "sys.modules"),
    "ctypes": ("import ctypes", "ctypes"),
    "os._exit": ("import os\nos._exit(0)", "os._exit"),
    "signal": ("from signal import signal, SIGALRM, SIG_IGN\nsignal(SIGALRM, SIG_IGN)", "signal"),
    "gc.get_objects": ("import gc\nobjs = gc.get_objects()", "gc.get_objects"),
}


@pytest.mark.parametrize("case", sorted(SUSPICIOUS))
def test_suspicious_construct_is_flagged_in_its_cell(case, tmp_path, released):
    code, expected = SUSPICIOUS[case]
    nb = student_notebook()
    cell = cell_of(nb, "SelfAttention")
    cell.source = cell.source.replace(
        "        self.key_dim = key_dim",
        "        self.key_dim = key_dim\n        " + code.replace("\n", "\n        "),
    )
    extraction = extract(read_notebook(save(nb, tmp_path)), released)
    assert expected in suspicious_uses(extraction)["SelfAttention"]


def test_ordinary_getattr_and_literal_imports_are_not_flagged(tmp_path, released):
    nb = student_notebook()
    cell = cell_of(nb, "SelfAttention")
    cell.source = cell.source.replace(
        "        self.key_dim = key_dim",
        "        self.key_dim = getattr(self, 'k' + 'ey', key_dim)\n"
        "        import importlib\n        ops2 = importlib.import_module('keras.ops')",
    )
    extraction = extract(read_notebook(save(nb, tmp_path)), released)
    assert suspicious_uses(extraction) == {}


@pytest.mark.parametrize("name", ["a1_attention", "a2_transformer"])
def test_no_suspicious_flags_on_the_solutions(name):
    released = read_notebook(ROOT / "assignments" / name / f"{name}.ipynb")
    solution = read_notebook(ROOT / "solutions" / name / f"{name}.ipynb")
    assert suspicious_uses(extract(solution, released)) == {}
