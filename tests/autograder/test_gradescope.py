"""The Gradescope archive: contents, run_autograder on a simulated /autograder root, schema, hiding."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest

from autograder import demo_class, gradescope

REPO = Path(__file__).resolve().parents[2]
A1 = "a1_attention"
PYTHON = REPO / ".venv" / "bin" / "python"

# Gradescope's results.json specification (https://gradescope-autograders.readthedocs.io),
# as {key: (types, required)}; enums checked separately.
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
TOP = {
    "score": ((int, float), False),
    "execution_time": ((int, float), False),
    "output": (str, False),
    "output_format": (str, False),
    "test_output_format": (str, False),
    "test_name_format": (str, False),
    "visibility": (str, False),
    "stdout_visibility": (str, False),
    "extra_data": (dict, False),
    "tests": (list, False),
    "leaderboard": (list, False),
}
TEST = {
    "score": ((int, float), False),
    "max_score": ((int, float), False),
    "status": (str, False),
    "name": (str, False),
    "name_format": (str, False),
    "number": (str, False),
    "output": (str, False),
    "output_format": (str, False),
    "tags": (list, False),
    "visibility": (str, False),
    "extra_data": (dict, False),
}


def schema_errors(doc):
    """What in `doc` breaks Gradescope's results.json specification (empty: valid)."""
    errors = []

    def check(obj, spec, where):
        if not isinstance(obj, dict):
            return errors.append(f"{where}: not an object")
        for key, value in obj.items():
            if key not in spec:
                errors.append(f"{where}.{key}: unknown key")
            elif isinstance(value, bool) or not isinstance(value, spec[key][0]):
                errors.append(f"{where}.{key}: wrong type {type(value).__name__}")
        for key in ("visibility", "stdout_visibility"):
            if key in obj and obj[key] not in VISIBILITY:
                errors.append(f"{where}.{key}: {obj[key]!r} not one of {sorted(VISIBILITY)}")
        if "status" in obj and obj["status"] not in ("passed", "failed"):
            errors.append(f"{where}.status: {obj['status']!r}")

    check(doc, TOP, "results")
    if "score" not in doc and not all("score" in t for t in doc.get("tests", [])):
        errors.append("results: a score is required, at the top or in every test")
    for i, test in enumerate(doc.get("tests", [])):
        check(test, TEST, f"tests[{i}]")
        for key in ("name", "score", "max_score", "output"):  # what our feedback needs
            if isinstance(test, dict) and key not in test:
                errors.append(f"tests[{i}].{key}: missing")
    return errors


def test_schema_validator_rejects_bad_results():
    good = {"score": 1.5, "tests": [{"name": "a", "score": 1.5, "max_score": 2, "output": ""}]}
    assert schema_errors(good) == []
    assert schema_errors({"score": "1"}) == ["results.score: wrong type str"]
    assert schema_errors({"tests": [{"name": "a", "max_score": 1, "output": ""}]})
    bad = {"score": 1, "visibility": "public", "tests": [{"name": "a", "score": True}]}
    errors = " ".join(schema_errors(bad))
    assert "visibility" in errors and "wrong type bool" in errors and "max_score: missing" in errors


@pytest.fixture
def outside_tmp():
    """A folder outside /tmp and outside the repository, which the sandbox hide anyway."""
    if not os.access("/opt", os.W_OK):
        pytest.skip("needs a writable /opt for a folder the sandbox does not hide by default")
    folder = Path(tempfile.mkdtemp(prefix="test-gradescope-", dir="/opt"))
    folder.chmod(0o755)  # as /autograder: readable by all, so only the sandbox hides it
    (folder / "visible.txt").write_text("not secret")
    (folder / "visible.txt").chmod(0o644)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _root(tmp_path, zip_path):
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    for name in ("run_autograder", "setup.sh"):  # zipfile drops the modes: restore them
        (root / "source" / name).chmod(0o755)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    return root


def _run(root):
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=str(PYTHON))
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [str(root / "run_autograder")],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    from autograder import cli

    path = tmp_path_factory.mktemp("zip") / "a1.zip"
    assert cli.main(["gradescope", A1, "--out", str(path)]) == 0
    return path


@pytest.mark.slow
def test_archive_holds_the_grader_and_no_solution(archive):
    """Does the zip follow Gradescope's layout, pin requirements, and carry only the answer keys?"""
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
        texts = {n: zf.read(n).decode() for n in names}
    assert {"setup.sh", "run_autograder", "requirements.txt", "answers.json"} <= names
    assert modes["run_autograder"] == 0o755 and modes["setup.sh"] == 0o755
    assert "autograder/pipeline.py" in names and "course_lib/layers/attention.py" in names
    assert not [n for n in names if n.startswith(("solutions/", "tests/", "course_lib/models/"))]
    assert [n for n in names if n.endswith(".ipynb")] == [f"assignments/{A1}/{A1}.ipynb"]
    assert "BEGIN SOLUTION" not in texts[f"assignments/{A1}/{A1}.ipynb"]
    assert texts["constraints.txt"] == (REPO / "requirements.lock").read_text()
    wanted = texts["requirements.txt"].splitlines()
    assert wanted == gradescope.grading_requirements()
    assert {"nbgrader", "tensorflow", "keras"} <= {re.split(r"[<>=!~;\[ ]", w)[0] for w in wanted}
    assert json.loads(texts["answers.json"])["answer_scale"] == ["B"]
    assert "pip install --no-cache-dir -c constraints.txt -r requirements.txt" in texts["setup.sh"]
    assert "python3.10" in texts["setup.sh"]  # Ubuntu 22.04's Python is in the range
    assert "AUTOGRADER_ROOT" in texts["run_autograder"]


def _probe_notebook(root, control):
    """A correct submission whose causal_mask fails if it can read the archive's files.

    `control`, a world-readable file next to the root, must stay readable: it shows
    the probe runs and that file permissions are not what hides the archive.
    """
    secrets = [
        str(root / "source" / "answers.json"),
        str(root / "source" / "course_lib" / "layers" / "attention.py"),
        str(root / "source" / "autograder" / "pipeline.py"),
        str(root / "run_autograder"),
    ]
    probe = (
        "import os\n\n"
        f"SECRETS = {secrets!r}\n\n"
        "def causal_mask(length):\n"
        "    seen = [p for p in SECRETS if os.path.exists(p)]\n"
        "    if seen:\n"
        "        raise RuntimeError('READABLE ' + repr(seen))\n"
        f"    if not os.path.exists({str(control)!r}):\n"
        "        raise RuntimeError('CONTROL: the control file is not visible, the probe proves nothing')\n"
        "    return np.tril(np.ones((length, length), bool))\n"
    )
    solved = demo_class.solved_notebook(
        REPO / "solutions" / A1 / f"{A1}.ipynb", REPO / "assignments" / A1 / f"{A1}.ipynb"
    )
    return demo_class.replace_cells(solved, {"causal_mask": probe})


@pytest.mark.slow
def test_run_autograder_on_a_simulated_root(archive, outside_tmp):
    """Full marks for a correct submission that probes the files; valid results.json; secrets hidden."""
    root = _root(outside_tmp, archive)
    for folder in [root, *root.rglob("*")]:
        folder.chmod(0o755 if folder.is_dir() or os.access(folder, os.X_OK) else 0o644)
    nb = _probe_notebook(root, outside_tmp / "visible.txt")
    (root / "submission" / "my_attention.ipynb").write_text(json.dumps(nb))
    res = _run(root)
    assert schema_errors(res) == []
    outputs = "\n".join(t["output"] for t in res["tests"])
    assert "READABLE" not in outputs and "CONTROL" not in outputs, outputs
    assert res["score"] == pytest.approx(20.0), outputs
    assert sum(t["max_score"] for t in res["tests"]) == pytest.approx(20.0)
    assert any(t["name"].startswith("causal_mask") for t in res["tests"])
    # The written answer is left to a person: pending in the output, on the answers page.
    assert res["extra_data"]["manual_pending"] == 3.0
    assert "manual: pending 3 points" in res["output"]
    assert res["extra_data"]["answers_page"] == "answers.html"
    page = (root / "results" / "answers.html").read_text()
    assert "manual_gpu_speed" in page and "FlashAttention" in page


@pytest.mark.slow
def test_run_autograder_without_a_notebook(archive, tmp_path):
    """No notebook in submission/: zero, with the reason, in a valid results.json."""
    root = _root(tmp_path, archive)
    res = _run(root)
    assert schema_errors(res) == []
    assert res["score"] == 0 and res["tests"]
    assert all("No notebook found" in t["output"] for t in res["tests"])


@pytest.mark.slow
@pytest.mark.parametrize(("assignment", "points"), [("a3_gpt", 37.0), ("a6_scaling", 23.0)])
def test_later_assignments_grade_from_their_archive(assignment, points, tmp_path):
    """The archive carries what a3's and a6's suites import (models, support files, logical CPUs)."""
    from autograder import cli

    path = tmp_path / f"{assignment}.zip"
    assert cli.main(["gradescope", assignment, "--out", str(path)]) == 0
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
    folder = f"autograder/assignments/{assignment}/"
    assert any(n.startswith(folder + "support/") for n in names)
    assert not [n for n in names if n.startswith(("solutions/", "tests/"))]
    # No catalog (it holds correct solutions), no notebook source, no other assignment.
    assert not [n for n in names if "/catalog/" in n or n.endswith("notebook.txt")]
    others = [n for n in names if n.startswith("autograder/assignments/a")]
    assert all(n.startswith(folder) for n in others), others
    root = _root(tmp_path, path)
    solved = demo_class.solved_notebook(
        REPO / "solutions" / assignment / f"{assignment}.ipynb",
        REPO / "assignments" / assignment / f"{assignment}.ipynb",
    )
    (root / "submission" / f"{assignment}.ipynb").write_text(json.dumps(solved))
    res = _run(root)
    assert schema_errors(res) == []
    assert res["score"] == pytest.approx(points), "\n".join(t["output"] for t in res["tests"])
