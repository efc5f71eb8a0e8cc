"""Release (solutions/ -> assignments/) and the nbgrader round trip."""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.assignments import registry
from autograder.notebook.manual import manual_points
from autograder.notebook.read import grade_id, is_grade, is_locked, is_solution, nbgrader_meta
from autograder.release import (
    ReleaseError,
    notebook_text,
    release_assignment,
    release_cell,
    release_notebook,
)

ROOT = Path(__file__).resolve().parents[2]
FILES = Path(__file__).parent / "files"
SELFCHECK = registry.ROOT / "selfcheck.py"
MANUAL = {  # assignment -> its manually graded answers and their points
    "a1_attention": {"manual_gpu_speed": 3.0},
    "a3_gpt": {"manual_attention_maps": 2.0, "manual_sampling": 2.0},
    "a6_scaling": {
        "manual_measurements_plot": 2.0,
        "manual_measurements": 3.0,
        "manual_cost_plot": 1.0,
        "manual_cost": 2.0,
    },
}
ASSIGNMENTS = {
    "a1_attention": (
        20,
        ["scaled_dot_product_attention", "causal_mask", "padding_mask", "SelfAttention"],
    ),  # fmt: skip
    "a2_transformer": (
        30,
        [
            "split_heads",
            "merge_heads",
            "MultiHeadAttention",
            "positional_encoding",
            "FeedForward",
            "TransformerEncoderBlock",
        ],
    ),  # fmt: skip
    "a3_gpt": (
        37,
        [
            "TokenAndPositionEmbedding",
            "make_lm_example",
            "GPTBlock",
            "GPT",
            "lm_loss",
            "filter_logits",
            "generate",
        ],
    ),  # fmt: skip
    "a4_translation": (
        29,
        ["shift_right", "TransformerDecoderBlock", "Seq2SeqTransformer", "greedy_decode"],
    ),
    "a5_vit": (21, ["extract_patches", "PatchEmbedding", "ViTClassifier"]),
    "a6_scaling": (
        23,
        [
            "load_and_preprocess_image",
            "make_image_dataset",
            "evaluate_in_batches",
            "train_with_strategy",
        ],
    ),  # fmt: skip
}
# One distinctive line of each solution: none may appear in a released notebook.
SOLUTION_LINES = {
    "a1_attention": [
        "logits = ops.matmul(query, ops.swapaxes(key, -1, -2)) / ops.sqrt(d_k)  # (..., Tq, Tk)",
        "return ops.greater_equal(positions[:, None], positions[None, :])",
        "return ops.not_equal(ops.convert_to_tensor(token_ids), pad_id)[:, None, :]",
        'self.query_dense = keras.layers.Dense(key_dim, name="query_dense")',
        'answer_cost = {"A", "B", "D"}',
        "assert answer_masking == ",
    ],
    "a2_transformer": [
        "x = ops.reshape(x, (batch, length, num_heads, -1))  # (B, T, H, Dh)",
        "return ops.reshape(x, (shape[0], shape[1], shape[2] * shape[3]))",
        'self.wq = keras.layers.Dense(d_model, name="wq")',
        "table[:, 0::2] = np.sin(angles)",
        "return self.dense2(self.dropout(self.dense1(x), training=training))",
        "x = self.norm1(x + self.drop1(attended, training=training))",
        'answer_positions = {"A", "C"}',
        "assert answer_padding == ",
    ],
    "a3_gpt": [
        'self.position_embedding = keras.layers.Embedding(max_len, d_model, name="position_embedding")',
        "attended = self.attention(h, h, use_causal_mask=True, training=training)",
        "return ops.sum(losses * weights) / ops.maximum(ops.sum(weights), 1.0)",
        "before = ops.cumsum(probs, axis=-1) - probs  # probability of the tokens before each",
        "context = ids[:, -model.max_len :]  # the model sees its last max_len tokens",
        'answer_sampling = {"A", "B", "D"}',
        "assert answer_context == ",
    ],
    "a4_translation": [
        "return ops.concatenate([start, target_ids[:, :-1]], axis=1)  # (B, T)",
        "h = self.cross_attention(x, context, attention_mask=context_mask, training=training)",
        "context_mask = padding_mask(source_ids, self.pad_id)  # (B, 1, S)",
        'nxt = np.argmax(logits[:, -1, :], axis=-1).astype("int32")  # (B,)',
        'answer_decoding = {"B", "C"}',
        "assert answer_cross_attention == ",
    ],
    "a5_vit": [
        "x = ops.transpose(x, (0, 1, 3, 2, 4, 5))  # (B, rows, cols, P, P, C)",
        "tokens = ops.concatenate([cls, tokens], axis=1)  # (B, N + 1, D), CLS first",
        "return self.head(x[:, 0])  # (B, num_classes), from the CLS token",
        'answer_vit_vs_cnn = {"A", "C"}',
        "assert answer_cls == ",
    ],
    "a6_scaling": [
        "image = tf.image.convert_image_dtype(image, tf.float32)  # [0, 1]",
        "ds = ds.shuffle(len(paths), seed=seed)  # shuffle cheap (path, label) pairs",
        "correct += int(np.sum(predictions == np.asarray(labels)))",
        "with strategy.scope():  # weights and optimizer slots become mirrored variables",
        "assert answer_mirrored == ",
    ],
}


def _builder():
    spec = importlib.util.spec_from_file_location(
        "build_notebooks", ROOT / "tools/build_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_release_matches_the_golden_fixture():
    """Do solution regions, answers, markdown answers and hidden tests release as committed?"""
    source = nbformat.read(FILES / "release_source.ipynb", as_version=nbformat.NO_CONVERT)
    expected = (FILES / "release_expected.ipynb").read_text(encoding="utf-8")
    assert notebook_text(release_notebook(source)) == expected


def test_release_keeps_signatures_and_indents_stubs():
    source = nbformat.read(FILES / "release_source.ipynb", as_version=nbformat.NO_CONVERT)
    counter = release_cell(next(c for c in source.cells if grade_id(c) == "Counter"))
    assert counter.source.splitlines()[:4] == [
        "class Counter:",
        "    def __init__(self, start):",
        "        # YOUR CODE HERE",
        "        raise NotImplementedError()",
    ]
    assert counter.metadata["nbgrader"] == source.cells[4].metadata["nbgrader"]


def test_release_assignment_is_deterministic(tmp_path):
    """Does releasing twice write identical bytes, and return the path written?"""
    first = release_assignment(
        "a1_attention", source_root=ROOT / "solutions", release_root=tmp_path
    )
    assert first == tmp_path / "a1_attention" / "a1_attention.ipynb"
    data = first.read_bytes()
    again = release_assignment(
        "a1_attention", source_root=ROOT / "solutions", release_root=tmp_path
    )
    assert again.read_bytes() == data


def test_release_of_an_unknown_assignment_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="is 'a9_nothing' an assignment"):
        release_assignment("a9_nothing", source_root=tmp_path, release_root=tmp_path)


@pytest.mark.parametrize(
    "source, metadata, match",
    [
        ("### BEGIN SOLUTION\nx = 1", {"solution": True}, "without"),
        ("x = 1\n### END SOLUTION", {"solution": True}, "without"),
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", {}, "not marked as a solution"),
        ("### BEGIN HIDDEN TESTS\nassert 1\n### END HIDDEN TESTS", {}, "not marked as a grade"),
    ],
)
def test_release_refuses_broken_markers(source, metadata, match):
    cell = nbformat.v4.new_code_cell(source, metadata={"nbgrader": metadata} if metadata else {})
    with pytest.raises(ReleaseError, match=match):
        release_cell(cell)


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_released_notebooks_are_up_to_date(name, tmp_path):
    """Is the committed assignments/ exactly what release makes from solutions/ now?"""
    fresh = release_assignment(name, source_root=ROOT / "solutions", release_root=tmp_path)
    committed = ROOT / "assignments" / name / f"{name}.ipynb"
    assert committed.is_file(), f"{committed} is missing: run `python -m autograder release {name}`"
    assert fresh.read_bytes() == committed.read_bytes(), (
        f"Released notebooks are out of date: run `python -m autograder release {name}`"
    )


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_solution_notebooks_match_their_text_sources(name):
    """Were the solutions rebuilt after their notebook.txt source was edited?"""
    builder = _builder()
    committed = (ROOT / "solutions" / name / f"{name}.ipynb").read_text(encoding="utf-8")
    assert nbformat.writes(builder.notebook_for(name)) + "\n" == committed, (
        f"solutions/{name} is out of date: run `python tools/build_notebooks.py {name}` "
        f"and `python -m autograder release {name}`"
    )


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_released_notebooks_hold_no_solution(name):
    text = (ROOT / "assignments" / name / f"{name}.ipynb").read_text(encoding="utf-8")
    assert not re.search(r"### (BEGIN|END) (SOLUTION|HIDDEN TESTS)", text)
    solution = (ROOT / "solutions" / name / f"{name}.ipynb").read_text(encoding="utf-8")
    for line in SOLUTION_LINES[name]:
        assert line.replace('"', '\\"') in solution, f"stale distinctive line: {line}"
        assert line.replace('"', '\\"') not in text, f"solution code released: {line}"


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_graded_cells_ids_and_points(name):
    """Does each unit have a solution cell and a `test_<unit>` cell, with the stated total?"""
    total, units = ASSIGNMENTS[name]
    nb = nbformat.read(ROOT / "assignments" / name / f"{name}.ipynb", as_version=4)
    manual = {gid: p for gid, p in manual_points(nb).items()}
    assert manual == MANUAL.get(name, {})
    solutions = [grade_id(c) for c in nb.cells if is_solution(c) and grade_id(c) not in manual]
    tests = {
        grade_id(c): nbgrader_meta(c)["points"]
        for c in nb.cells
        if is_grade(c) and grade_id(c) not in manual
    }
    answers = [s for s in solutions if s.startswith("answer_")]
    assert solutions == units + answers and len(answers) == 3
    assert set(tests) == {f"test_{unit}" for unit in solutions}
    assert all(tests[f"test_{a}"] == 1 for a in answers)
    assert sum(tests.values()) == total
    intro = nb.cells[0].source
    if manual:
        stated = (
            f"({total} points in all, graded automatically, and {sum(manual.values()):g} points"
        )
        assert stated in intro.replace("\n", " ")
    else:
        assert f"({total} points in all)" in intro
    for unit in units:
        assert re.search(rf"\| `{unit}\(.*\| {tests['test_' + unit]} \|", intro), unit
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta:
            assert meta["schema_version"] == 3 and meta["grade_id"] == cell.id
    for gid in answers:
        assert next(c for c in nb.cells if grade_id(c) == gid).source.startswith(f"{gid} = set()")


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_test_cells_run_named_public_checks(name):
    """Does each unit's released test cell register named checks of that unit and end with check()?

    The self-check helpers (`public_check`, `check`) must be defined once, in a read-only
    cell before the first test cell; concept-question cells keep their plain asserts.
    """
    nb = nbformat.read(ROOT / "assignments" / name / f"{name}.ipynb", as_version=4)
    helpers = [i for i, c in enumerate(nb.cells) if "def public_check(unit):" in c.source]
    assert len(helpers) == 1, "the self-check helpers must be in exactly one cell"
    helper = nb.cells[helpers[0]]
    assert is_locked(helper) and not is_grade(helper) and not is_solution(helper)
    assert helper.source.startswith(SELFCHECK.read_text(encoding="utf-8").strip())
    assert helpers[0] < min(i for i, c in enumerate(nb.cells) if is_grade(c))
    _, units = ASSIGNMENTS[name]
    for unit in units:
        source = next(c for c in nb.cells if grade_id(c) == f"test_{unit}").source
        checks = re.findall(r'^@public_check\("(\w+)"\)\ndef (\w+)\(\):', source, re.MULTILINE)
        assert len(checks) >= 2, f"test_{unit}: split the public asserts into named checks"
        assert {u for u, _ in checks} == {unit}, f"test_{unit} registers checks of {checks}"
        assert len({label for _, label in checks}) == len(checks), f"test_{unit}: duplicate names"
        assert source.rstrip().endswith(f'check("{unit}")'), f"test_{unit} must end with check()"
        assert "Public tests passed." not in source, "check() prints it when every check passes"
    for cell in nb.cells:
        if (grade_id(cell) or "").startswith("test_answer_"):
            assert "check(" not in cell.source


@pytest.mark.parametrize("name", ["a1_attention", "a2_transformer"])
def test_notebooks_do_not_import_course_lib(name):
    """a1/a2 build what course_lib gives later: their notebooks must not import it."""
    for root in ("solutions", "assignments"):
        text = (ROOT / root / name / f"{name}.ipynb").read_text(encoding="utf-8")
        assert not re.search(r"(import|from) course_lib", text)


# --- nbgrader round trip (slow) -------------------------------------------------------------


def run_nbgrader(course, *args):
    """Runs the real `nbgrader <args> --force` in `course` (venv on PATH, its own gradebook)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    db = f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}"
    command = [sys.executable, "-m", "nbgrader", *args, "--force", db]
    done = subprocess.run(command, cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A temporary course directory with our nbgrader_config.py and the a1 source."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / "a1_attention", course / "solutions" / "a1_attention")
    return course


@pytest.mark.slow
def test_nbgrader_generate_assignment_agrees_with_our_release(course):
    """Does nbgrader's own release give the same cells as ours (sources compared)?"""
    run_nbgrader(course, "generate_assignment", "a1_attention")
    theirs = nbformat.read(course / "assignments/a1_attention/a1_attention.ipynb", as_version=4)
    ours = nbformat.read(ROOT / "assignments/a1_attention/a1_attention.ipynb", as_version=4)
    assert [c.cell_type for c in theirs.cells] == [c.cell_type for c in ours.cells]
    for mine, other in zip(ours.cells, theirs.cells, strict=True):
        assert grade_id(mine) == grade_id(other)
        if (grade_id(mine) or "").startswith("answer_"):
            # nbgrader stubs every solution cell with NotImplementedError; ours keep set().
            assert other.source == "# YOUR CODE HERE\nraise NotImplementedError()"
        else:
            assert mine.source == other.source, grade_id(mine)
    text = (course / "assignments/a1_attention/a1_attention.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text


@pytest.mark.slow
def test_nbgrader_autograde_gives_the_solution_full_marks(course):
    """Does nbgrader give 20/20 autograded (of 23 with the written answer) even when
    TensorFlow's first op runs inside a test cell?

    The setup cell's warm-up op is removed from the submission, so the cuInit
    message would land on stderr of the first test cell (scored 0 without our config).
    """
    if not (course / "assignments").exists():
        run_nbgrader(course, "generate_assignment", "a1_attention")
    submitted = course / "submitted" / "alice" / "a1_attention"
    submitted.mkdir(parents=True)
    nb = nbformat.read(course / "solutions/a1_attention/a1_attention.ipynb", as_version=4)
    assert "_ = ops.zeros(1)" in nb.cells[1].source
    nb.cells[1].source = nb.cells[1].source.replace("_ = ops.zeros(1)", "pass")
    nbformat.write(nb, submitted / "a1_attention.ipynb")
    run_nbgrader(course, "autograde", "a1_attention", "--create")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission("a1_attention", "alice")
        manual = sum(MANUAL["a1_attention"].values())  # the written answer, still ungraded
        assert (submission.score, submission.max_score) == (20.0, 20.0 + manual)
        assert submission.needs_manual_grade
