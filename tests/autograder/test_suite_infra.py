"""What suites of a3-a6 rely on: given imports dropped, support packages, logical CPUs, limits."""

import json

import nbformat
import pytest

from autograder.assignments import registry
from autograder.grading import calls as base
from autograder.grading.plan import Group
from autograder.grading.site import group_site, site_files
from autograder.notebook import extract, scan
from autograder.sandbox import Zygote, write_job


def _notebook(helper, solution):
    cells = [nbformat.v4.new_code_cell(helper), nbformat.v4.new_code_cell(solution)]
    cells[1].metadata["nbgrader"] = {"grade_id": "GPT", "solution": True, "grade": False}
    return nbformat.v4.new_notebook(cells=cells)


def test_given_packages_are_not_run_but_still_reported():
    """course_lib imports are the grader's to inject: never run, but reported by name in a solution cell."""
    helper = (
        "import numpy as np\n"
        "from course_lib.layers import FeedForward, MultiHeadAttention\n"
        "import course_lib.models as cm\n"
        "from course_libx import thing\n"
    )
    solution = "from course_lib.models import GPT as _Ref\nclass GPT(_Ref):\n    pass\n"
    nb = _notebook(helper, solution)
    kept = extract.extract(nb, nb, given=("course_lib",))
    assert "import numpy as np" in kept.source and "course_libx" in kept.source
    assert "FeedForward" not in kept.chunks["0"] and "cm" not in kept.chunks["0"]
    assert "from course_lib.models import GPT" in kept.chunks["GPT"]  # the scan sees it
    assert "course_lib" not in kept.source.replace("course_libx", "")  # the sandbox does not
    assert scan.forbidden_uses(kept, ("course_lib.models",)) == {"GPT": ["course_lib.models"]}
    # Without `given` (a1/a2) helper imports stay, so they are reported by name.
    assert "from course_lib.layers import" in extract.extract(nb, nb).chunks["0"]


def test_registry_lists_every_assignment_folder():
    """Is every assignment folder in the explicit registry, and every registered name a folder?"""
    folders = {p.name for p in registry.ROOT.iterdir() if p.is_dir() and (p / "suite").is_dir()}
    assert folders == set(registry.ASSIGNMENTS)
    for name in registry.ASSIGNMENTS:
        assert registry.notebook_source(name).is_file()
        assert registry.get_suite(name).UNITS
        assert registry.get_catalog(name).assignment == name


def test_an_unknown_assignment_is_refused_with_the_known_ones():
    with pytest.raises(KeyError, match="a1_attention, a2_transformer"):
        registry.get_suite("a9_nothing")


def test_support_files_logical_cpus_and_limits_reach_the_job(tmp_path, monkeypatch):
    """A support module constructs in the jail, the CPU is split in two, limits override."""
    support = tmp_path / "support" / "infra_test_support.py"
    support.parent.mkdir()
    support.write_text(
        "import tensorflow as tf\n\n"
        "class Replicas:\n"
        "    def __init__(self, scale):\n"
        "        self.scale = scale\n\n"
        "    def __call__(self):\n"
        "        devices = [d.name for d in tf.config.list_logical_devices('CPU')]\n"
        "        strategy = tf.distribute.MirroredStrategy(devices)\n"
        "        return self.scale * strategy.num_replicas_in_sync\n"
    )
    group = Group(
        "g",
        calls=[
            base.construct("rep", "site:grader_support.infra_test_support:Replicas", {}, [], {}),
            base.call("n", "rep"),
            base.function("blocked", "site:course_lib.models.gpt:GPT"),
        ],
        inputs={},
        support=(support,),
        logical_cpus=2,
        limits={"wall_seconds": 77.0},
    )
    group.calls[0].update(kwargs={"scale": 10}, build=None)
    job = tmp_path / "job"
    write_job(
        job,
        source="x = 1\n",
        calls=group.calls,
        site=group_site(group),
        limits={"wall_seconds": 60.0, **group.limits},
        logical_cpus=group.logical_cpus,
    )
    spec = json.loads((job / "job.json").read_text())
    assert spec["limits"]["wall_seconds"] == 77.0 and spec["logical_cpus"] == 2
    with Zygote(jobs=1) as zygote:
        result = zygote.run(job)
    assert result.status == "ok", result.errors
    assert int(result.arrays["n"]) == 20
    assert "not available here" in result.errors["blocked"]  # support ships no reference code


def test_given_names_exist_while_the_submission_runs_and_modules_can_be_forbidden(tmp_path):
    """A student class may subclass a given layer; a forbidden *module* name does not break the job."""
    job = tmp_path / "job"
    source = (
        "class Wider(FeedForward):\n"
        "    pass\n\n"
        "def is_reference():\n"
        "    return int(FeedForward.__module__ == 'course_lib.layers.feed_forward')\n"
    )
    write_job(
        job,
        source=source,
        calls=[base.function("ref", "is_reference")],
        site=site_files(("layers/feed_forward.py",)),
        inject={"FeedForward": "course_lib.layers.feed_forward:FeedForward"},
        forbid=["course_lib.layers.feed_forward", "keras.ops.dot_product_attention"],
    )
    with Zygote(jobs=1) as zygote:
        result = zygote.run(job)
    assert result.status == "ok", result.errors
    assert "__source__" not in result.errors and int(result.arrays["ref"]) == 1
    assert not any(k.startswith("__forbid__") for k in result.errors), result.errors


def test_a_failing_cell_skips_only_itself(tmp_path):
    """Like a notebook: a cell that raises at import time does not take later cells with it."""
    source = (
        "# --- cell 3 ---\nimport numpy as np\n"
        "# --- cell first_unit ---\nfrom not_a_module import thing\ndef first():\n    return 1\n"
        "# --- cell second_unit ---\ndef second():\n    return np.int64(2)\n"
        "# --- cell 9 ---\nx = 1 / 0\n"
    )
    job = tmp_path / "job"
    calls = [base.function("first", "first"), base.function("second", "second")]
    write_job(job, source=source, calls=calls)
    with Zygote(jobs=1) as zygote:
        result = zygote.run(job)
    assert int(result.arrays["second"]) == 2
    assert "'first' is not defined" in result.errors["first"]
    assert result.errors["__source__"].splitlines() == [
        "cell first_unit: ModuleNotFoundError: No module named 'not_a_module'",
        "cell 9: ZeroDivisionError: division by zero",
    ]


def test_helper_statements_run_one_by_one():
    """A helper line that needs a dropped import fails alone; the helper defined after it survives."""
    helper = (
        "import course_lib.data as course_data\n"
        "PAD = course_data.PAD_ID\n"
        "def helper():\n"
        "    return 7\n"
    )
    nb = _notebook(helper, "class GPT:\n    pass\n")
    kept = extract.extract(nb, nb, given=("course_lib",))
    assert kept.source.count("# --- cell 0 ---") == 2  # one marker per kept helper statement
    from autograder.sandbox.harness import _cells  # how the sandbox cuts the source

    namespace, failed = {}, []
    for label, code in _cells(kept.source):
        try:
            exec(code, namespace)
        except NameError:
            failed.append(label)
    assert namespace["helper"]() == 7 and failed == ["0"]
