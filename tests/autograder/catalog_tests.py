"""The checks every grading catalog makes, read from ONE `audit` run per catalog.

`audited(assignment, name)` grades a catalog with `autograder.audit.audit` once per test
session (and xdist worker: the catalog tests of one assignment share an `xdist_group`, so
they run on one worker) and keeps its `Report`. `CatalogTests` turns the report into one
named test per bug and per alternative, so a failure names the entry.
"""

import pytest

from autograder.assignments.registry import get_catalogs
from autograder.audit import audit
from autograder.catalog import results

_REPORTS = {}


def catalog_named(assignment, name="catalog"):
    (catalog,) = [c for c in get_catalogs(assignment) if c.name == name]
    return catalog


def audited(assignment, name, tmp_path_factory):
    """The audit `Report` of catalog `name` of `assignment`, graded once per session."""
    key = (assignment, name)
    if key not in _REPORTS:
        out = tmp_path_factory.mktemp(f"audit-{assignment}-{name}")
        report = audit(catalog_named(assignment, name), out)
        report.out = out / "grades"
        _REPORTS[key] = report
        print(
            f"\naudit {assignment} {name}: {report.students} submissions, {report.wall_seconds} s"
        )
    return _REPORTS[key]


def _params(assignment, kind):
    catalog = catalog_named(assignment)
    if kind == "alternatives":
        return sorted(catalog.alternatives)
    return [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=catalog.vague[n]))
        if kind == "named" and n in catalog.vague
        else n
        for n in sorted(catalog.bugs)
    ]


class CatalogTests:
    """Subclass as `class Test...(CatalogTests)` with `assignment`, `max_score`, `min_bugs`,
    `min_alternatives`, and mark it `pytest.mark.xdist_group("audit_<assignment>")`."""

    assignment = None
    max_score = None
    min_bugs = 15
    min_alternatives = 5

    def pytest_generate_tests(self, metafunc):
        kind = {
            "test_bug_loses_points_only_on_its_unit": "bugs",
            "test_bug_feedback_names_the_symptom": "named",
            "test_alternative_full_marks": "alternatives",
        }.get(metafunc.function.__name__)
        if kind:
            metafunc.parametrize("name", _params(self.assignment, kind))

    @pytest.fixture(scope="class")
    def report(self, tmp_path_factory):
        return audited(self.assignment, "catalog", tmp_path_factory)

    def test_whole_class_graded_in_one_run(self, report):
        catalog = catalog_named(self.assignment)
        students, _ = catalog.students()
        assert report.students == len(students)
        assert report.max_score == self.max_score
        assert len(catalog.bugs) >= self.min_bugs
        assert len(catalog.alternatives) >= self.min_alternatives

    def test_packing_keeps_one_entry_per_unit(self):
        catalog = catalog_named(self.assignment)
        students, owner = catalog.students()
        entries = {**{n: c for n, (c, _) in catalog.bugs.items()}, **catalog.alternatives}
        for student in set(owner.values()):
            units = [u for name, cells in entries.items() if owner[name] == student for u in cells]
            assert len(units) == len(set(units)), (student, units)

    def test_reference_full_marks_and_empty_zero(self, report):
        assert set(report.honest.values()) == {report.max_score}, report.problems
        assert report.empty == 0.0, report.problems

    def test_bug_loses_points_only_on_its_unit(self, report, name):
        bug = report.bugs[name]
        assert bug["caught"], f"{name} keeps the points of {bug['units']}"
        assert bug["student"] not in report.leaks, report.leaks[bug["student"]]

    def test_bug_feedback_names_the_symptom(self, report, name):
        bug = report.bugs[name]
        assert bug["named"], (name, bug["hint"], results(report.out, bug["student"])["tests"])

    def test_alternative_full_marks(self, report, name):
        assert not report.alternatives[name]["lost"], report.alternatives[name]

    def test_catalog_is_not_flagged(self, report):
        assert not [p for p in report.problems if " is flagged: " in p]

    def test_audit_finds_no_problem(self, report):
        """`python -m autograder audit` would exit 0: every promise of the catalog holds."""
        assert report.problems == []
