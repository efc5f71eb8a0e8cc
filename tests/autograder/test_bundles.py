"""Bundles: several groups in one sandbox job, split back as if each had run alone.

The rule (autograder/grading/bundles.py): groups share a job only when no site in it holds a
graded unit's reference, and a group the bundle did not finish runs again alone.
"""

import dataclasses
import os
import sys
import textwrap

import numpy as np
import pytest

from autograder.grading import bundles
from autograder.grading.plan import Group
from autograder.sandbox import Zygote, protocol, split_bundle, write_bundle, write_job

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the sandbox needs Linux"
)

SOURCE = textwrap.dedent(
    """
    # --- cell helpers
    import os
    import numpy as np
    import keras

    def double(x):
        return 2 * np.asarray(x)

    class Net(keras.layers.Layer):  # no build(): built by its first call
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = keras.layers.Dense(3, name="inner")

        def call(self, x):
            return self.inner(x) * 2.0

    def die(x):
        os._exit(3)  # the process ends in the middle of the phase
    """
)
SLOW_CELL = "\n# --- cell slow\nwhile True:\n    pass\n"


def _phase(job_dir, calls, inputs, source=SOURCE, limits=None):
    write_job(job_dir, source=source, calls=calls, inputs=inputs, limits=limits or {})


def _double(name):
    return {"id": name, "kind": "function", "name": "double", "args": [{"array": "x"}]}


NET = [
    {
        "id": "net",
        "kind": "construct",
        "name": "Net",
        "build": {"args": [{"array": "x"}]},
        "weights": {"inner": ["w", "b"]},
    },
    {"id": "net_out", "kind": "call", "object": "net", "args": [{"array": "x"}]},
]


@pytest.fixture(scope="module")
def zygote():
    with Zygote(jobs=2, allow_unisolated=True) as z:
        yield z


@pytest.fixture()
def inputs():
    rng = np.random.default_rng()
    return {
        "x": rng.normal(size=(2, 4)).astype("float32"),
        "w": rng.normal(size=(4, 3)).astype("float32"),
        "b": rng.normal(size=(3,)).astype("float32"),
    }


def _specs(bundle, names):
    return {n: protocol.read_job(bundle / n) for n in names}


def test_bundle_results_equal_each_phase_run_alone(zygote, tmp_path, inputs):
    bundle = tmp_path / "bundle"
    _phase(bundle / "a", [_double("a1")], inputs)
    _phase(bundle / "b", NET, inputs)
    write_bundle(bundle, ["a", "b"])
    _phase(tmp_path / "alone_b", NET, inputs)
    result = zygote.run(bundle)
    assert result.status == "ok", result.errors
    finished, rerun = split_bundle(result, _specs(bundle, ["a", "b"]))
    assert rerun == [] and set(finished) == {"a", "b"}
    np.testing.assert_allclose(finished["a"].arrays["a1"], 2 * inputs["x"], rtol=1e-6)
    assert set(finished["b"].arrays) == {"net_out"}  # each phase gets its own calls only
    alone = zygote.run(tmp_path / "alone_b")
    expected = 2.0 * (inputs["x"].astype(np.float64) @ inputs["w"] + inputs["b"])
    for got in (finished["b"].arrays["net_out"], alone.arrays["net_out"]):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_a_phase_that_kills_the_bundle_is_rerun_alone_with_the_ones_after_it(
    zygote, tmp_path, inputs
):
    bundle = tmp_path / "bundle"
    _phase(bundle / "a", [_double("a1")], inputs)
    _phase(bundle / "b", [{"id": "b1", "kind": "function", "name": "die", "args": [1]}], inputs)
    _phase(bundle / "c", [_double("c1")], inputs)
    write_bundle(bundle, ["a", "b", "c"])
    result = zygote.run(bundle)
    assert result.status != "ok"
    finished, rerun = split_bundle(result, _specs(bundle, ["a", "b", "c"]))
    assert list(finished) == ["a"] and rerun == ["b", "c"]
    np.testing.assert_allclose(finished["a"].arrays["a1"], 2 * inputs["x"], rtol=1e-6)
    b, c = zygote.run_many([bundle / "b", bundle / "c"])
    assert b.status in ("crashed", "killed") and "b1" not in b.arrays
    assert c.status == "ok"
    np.testing.assert_allclose(c.arrays["c1"], 2 * inputs["x"], rtol=1e-6)


def test_a_cell_that_never_ends_fails_alone_under_the_soft_limit(zygote, tmp_path, inputs):
    job = tmp_path / "job"
    _phase(job, [_double("d")], inputs, source=SOURCE + SLOW_CELL, limits={"wall_seconds": 8})
    result = zygote.run(job)
    assert result.status == "ok", result.exit_detail
    assert "cell slow" in result.errors["__source__"]
    np.testing.assert_allclose(result.arrays["d"], 2 * inputs["x"], rtol=1e-6)


def test_a_cell_that_timed_out_is_not_run_again_by_the_later_phases(zygote, tmp_path, inputs):
    """Each phase executes the notebook again: a cell past its soft limit (4 s of the 8 s
    wall limit) in phase a fails at once in b and c, so the bundle ends well within it."""
    bundle = tmp_path / "bundle"
    for name in "abc":
        _phase(bundle / name, [_double(f"{name}1")], inputs, source=SOURCE + SLOW_CELL,
               limits={"wall_seconds": 8})  # fmt: skip
    write_bundle(bundle, list("abc"))
    result = zygote.run(bundle)
    assert result.status == "ok", result.exit_detail
    finished, rerun = split_bundle(result, _specs(bundle, list("abc")))
    assert rerun == [] and result.wall_seconds < 8
    for name in "abc":
        np.testing.assert_allclose(finished[name].arrays[f"{name}1"], 2 * inputs["x"], rtol=1e-6)
    assert "not rerun" in result.errors["__source__"]


def test_a_bundle_gets_the_largest_budget_and_the_sum_of_the_result_caps(tmp_path, inputs):
    bundle = tmp_path / "bundle"
    _phase(bundle / "a", [_double("a1")], inputs, limits={"wall_seconds": 5, "max_arrays": 10})
    _phase(bundle / "b", [_double("b1")], inputs, limits={"wall_seconds": 9, "max_arrays": 20})
    write_bundle(bundle, ["a", "b"])
    limits = protocol.read_job(bundle)["limits"]
    assert limits["wall_seconds"] == 9 and limits["max_arrays"] == 30
    with pytest.raises(ValueError, match="logical_cpus"):
        write_job(tmp_path / "c" / "x", source="", calls=[], logical_cpus=2)
        write_bundle(tmp_path / "c", ["x"])


def _group(name, calls=1, cpus=None):
    return Group(name, [{"id": f"{name}{i}"} for i in range(calls)], {}, logical_cpus=cpus)


def test_groups_holding_a_unit_reference_run_alone(tmp_path):
    ref = tmp_path / "ref.py"
    ref.write_text("class GPTBlock:\n    pass\n\ndef helper():\n    pass\n")
    other = tmp_path / "other.py"
    other.write_text("def helper():\n    pass\n")
    groups = [_group("f"), _group("blk"), _group("gpt"), _group("mirror", cpus=2)]
    sites = {"f": None, "blk": {"x/other.py": other}, "gpt": {"x/ref.py": ref}, "mirror": None}
    runs = bundles.chains(groups, sites, ["GPTBlock", "GPT"])
    assert [[g.name for g in r] for r in runs] == [["f", "blk"], ["gpt"], ["mirror"]]
    assert not bundles.holds_unit(sites["blk"], ["GPTBlock"])
    assert bundles.holds_unit(sites["gpt"], ["GPTBlock"])


def test_runs_are_split_to_keep_every_slot_busy():
    runs = [[_group("a", 4), _group("b", 1), _group("c", 3)], [_group("d")]]
    assert bundles.runs_per_student(students=1, jobs=2) == 2
    assert bundles.runs_per_student(students=30, jobs=2) == 1
    assert [len(r) for r in bundles.split(runs, 2)] == [3, 1]
    pieces = bundles.split(runs, 3)
    assert [[g.name for g in r] for r in pieces] == [["a"], ["b", "c"], ["d"]]
    assert len(bundles.split(runs, 9)) == 4  # never more runs than groups


@pytest.mark.parametrize(
    "assignment",
    ["a1_attention", "a2_transformer", "a3_gpt", "a4_translation", "a5_vit", "a6_scaling"],
)
def test_no_bundle_of_a_real_plan_holds_a_unit_reference(assignment):
    from autograder.course import Course
    from autograder.grading.site import group_site

    course = Course.load(assignment, secret=os.urandom(16))
    plan = course.suite.plan(np.random.default_rng(), course.answers)
    sites = {g.name: group_site(g) for g in plan.groups}
    runs = bundles.chains(plan.groups, sites, course.unit_points)
    assert sorted(g.name for r in runs for g in r) == sorted(g.name for g in plan.groups)
    for run in (r for r in runs if len(r) > 1):
        files = {k: v for g in run for k, v in (sites[g.name] or {}).items()}
        assert not bundles.holds_unit(files, course.unit_points), [g.name for g in run]


def test_split_keeps_one_entry_per_call_and_the_bundle_notes_once(tmp_path):
    result = protocol.JobResult(
        job_dir=str(tmp_path),
        status="ok",
        arrays={"a1": np.ones(1), "b1.0": np.ones(1), "b1.1": np.ones(1)},
        errors={"__source__": "cell x: boom", protocol.PHASES_KEY: "a,b"},
        stdout="printed",
    )
    specs = {"a": {"calls": [{"id": "a1"}]}, "b": {"calls": [{"id": "b1"}, {"id": "b2"}]}}
    finished, rerun = split_bundle(result, specs)
    assert rerun == []
    assert set(finished["a"].arrays) == {"a1"} and set(finished["b"].arrays) == {"b1.0", "b1.1"}
    assert finished["a"].errors == {"__source__": "cell x: boom"}
    assert finished["a"].stdout == "printed" and finished["b"].stdout == ""
    assert finished["b"].errors == {"b2": "not run: no result came back"}
    forged = dataclasses.replace(result, errors={protocol.PHASES_KEY: ["a"]})
    assert split_bundle(forged, specs)[1] == ["a", "b"]  # a malformed list: run each alone
