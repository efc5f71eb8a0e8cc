"""What every assignment folder guarantees: the jail never gets the reference of a unit it
grades, support files copy nothing from course_lib, and every file shipped can be imported."""

import ast
from pathlib import Path

import numpy as np
import pytest

from autograder.assignments import registry
from autograder.grading.calls import construct
from autograder.grading.plan import Group
from autograder.grading.site import COURSE_LIB, SiteError, group_site, site_files

GRADED_KINDS = ("function", "construct", "grad")


def _defined(path):
    """Top-level function and class names of a file."""
    tree = ast.parse(Path(path).read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }


def _plan(assignment):
    suite = registry.get_suite(assignment)
    return suite, suite.plan(np.random.default_rng(0), {})


def _graded_in(group, units):
    """The units a group's calls run: by name, or as an argument of a support helper."""
    names = set()
    for call in group.calls:
        if call.get("kind") in GRADED_KINDS:
            names.add(call.get("name"))
            names.update(a for a in call.get("args", []) if isinstance(a, str))
    return names & set(units)


def _leaks(group, units):
    """`{shipped file: graded units it defines}` of one group."""
    graded = _graded_in(group, units)
    found = {rel: _defined(path) & graded for rel, path in (group_site(group) or {}).items()}
    return {rel: names for rel, names in found.items() if names}


@pytest.mark.parametrize("assignment", registry.ASSIGNMENTS)
def test_no_job_ships_the_reference_of_a_unit_it_grades(assignment):
    """Does no file shipped into a job define a unit that this job grades?"""
    suite, plan = _plan(assignment)
    for group in plan.groups:
        assert _leaks(group, suite.UNITS) == {}, (assignment, group.name)


def test_the_check_above_sees_a_shipped_reference():
    """A group that grades PatchEmbedding while shipping its module is caught."""
    group = Group(
        "leaky",
        [construct("pe", "PatchEmbedding", {}, [], {})],
        {},
        site_modules=("layers/patch_embedding.py",),
    )
    assert _leaks(group, ("PatchEmbedding",)) == {
        "course_lib/layers/patch_embedding.py": {"PatchEmbedding"}
    }


def _course_lib_names():
    names = set()
    for path in COURSE_LIB.rglob("*.py"):
        names |= {n for n in _defined(path) if not n.startswith("__")}
    return names


def _support_files():
    for assignment in registry.ASSIGNMENTS:
        yield from sorted((registry.folder(assignment) / "support").glob("*.py"))


def test_no_support_file_defines_again_what_course_lib_has():
    """Do the files shipped into the jail hold no copy of a course_lib function or class?"""
    ours = _course_lib_names()
    copies = {str(p): _defined(p) & ours for p in _support_files()}
    assert {p: c for p, c in copies.items() if c} == {}


@pytest.mark.parametrize("assignment", registry.ASSIGNMENTS)
def test_every_group_site_resolves(assignment):
    """Can every group's site be built (every import a shipped file makes is shipped too)?"""
    _, plan = _plan(assignment)
    for group in plan.groups:
        files = group_site(group) or {}
        for rel in files:
            parent = Path(rel).parent
            while str(parent) != ".":
                assert f"{parent}/__init__.py" in files, (group.name, rel)
                parent = parent.parent


def test_a_package_reexport_cannot_be_shipped(tmp_path):
    """`from course_lib.layers import X` in a shipped file is refused with what to do instead."""
    helper = tmp_path / "helper.py"
    helper.write_text("from course_lib.layers import FeedForward\n")
    with pytest.raises(SiteError, match="import the names from their modules"):
        site_files(support=(helper,))


def test_relative_imports_are_followed_at_any_depth():
    """models/seq2seq.py imports ..layers modules, which import their siblings: all shipped."""
    files = site_files(("models/seq2seq.py",))
    for rel in (
        "course_lib/models/seq2seq.py",
        "course_lib/layers/transformer_decoder_block.py",
        "course_lib/layers/multi_head_attention.py",
        "course_lib/layers/attention.py",
        "course_lib/models/__init__.py",
        "course_lib/layers/__init__.py",
    ):
        assert rel in files, rel
    assert "course_lib/models/gpt.py" not in files
    assert Path(files["course_lib/models/__init__.py"]).read_text() == ""
