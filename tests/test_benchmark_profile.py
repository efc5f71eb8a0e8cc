"""benchmarks/grading_profile.py: its pstats reading, and one real profile of a small class."""

import cProfile
import io
import pstats

import pytest

from benchmarks import grading_profile


def _construct():  # named like the harness function the profile watches
    return sum(range(20000))


def test_watched_entries_are_read_from_a_real_pstats_text():
    profile = cProfile.Profile()
    profile.enable()
    _construct()
    sorted([3, 1, 2])
    profile.disable()
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats()
    found = grading_profile._watched(text.getvalue())
    assert set(found) == {grading_profile.WATCH["_construct"]}
    assert 0.0 <= found[grading_profile.WATCH["_construct"]] < 5.0


@pytest.mark.slow
def test_profile_of_one_a1_submission_names_every_cost():
    text = grading_profile.profile("a1_attention", 1)
    assert text.startswith("### a1_attention: 1 submissions")
    for cost in ("sandbox jobs (wall, one slot)", "zygote start", "parent plan_step"):
        assert cost in text
    rows = [line for line in text.splitlines() if line.startswith("| functions")]
    assert rows and all(float(r.split("|")[3].strip().rstrip(" s")) > 0 for r in rows)


@pytest.mark.parametrize("assignment", ["a1_attention"])
def test_no_adversarial_submission_is_ever_profiled_outside_the_sandbox(assignment, tmp_path):
    from autograder.assignments.registry import get_catalogs

    (catalog,) = [c for c in get_catalogs(assignment) if c.name == "catalog"]
    assert catalog.adversarial, "the catalog has attacks: the filter is tested for real"
    subs = grading_profile._students(assignment, 1000, tmp_path)
    assert subs and not {s.student for s in subs} & set(catalog.adversarial)
