"""What a rerun of `grade` regrades, and how a regrade is merged and reported.

The state file records, per student, the notebook's hash and the fingerprint of each unit
(autograder.grading.fingerprint) the recorded grade was computed with. A rerun:
- grades a new or changed notebook in full;
- regrades, for an unchanged notebook, the units whose fingerprint changed (a suite fix,
  a support file, reference code, an answer key, points), on the run's same hidden inputs;
- regrades what `--student` / `--unit` ask for, whatever changed;
- keeps every other unit's recorded score as it is.

Every regraded unit is printed (student, unit, old -> new) and appended to
OUT/regrades.csv: a recorded grade is never replaced silently.
"""

import csv
import dataclasses
import io
import json
from datetime import datetime, timezone
from pathlib import Path

from autograder.pipeline import TestResult

LOG_FILE = "regrades.csv"
LOG_COLUMNS = ("time", "student", "unit", "old", "new", "reason")


@dataclasses.dataclass
class Request:
    """What the instructor asked for: only these students / units (empty: all)."""

    students: tuple = ()
    units: tuple = ()

    def check(self, unit_points):
        unknown = [u for u in self.units if u not in unit_points]
        if unknown:
            raise ValueError(
                f"Unknown unit {', '.join(unknown)}. The units of this assignment: "
                f"{', '.join(unit_points)}."
            )


def decide(student, digest, previous, fingerprints, has_results, request):
    """`(units, reason)` to regrade: units None means grade in full; an empty set, keep all."""
    if request.students and student not in request.students:
        return set(), ""
    if not previous or previous["hash"] != digest or not has_results:
        return None, "new or changed notebook" if previous else "new submission"
    recorded = previous.get("units", {})
    if request.units:
        return set(request.units), "asked for (--unit)"
    if request.students:
        return set(fingerprints), "asked for (--student)"
    changed = {u for u, fp in fingerprints.items() if recorded.get(u) != fp}
    return changed, "the grading of the unit changed" if changed else ""


def unit_of(test):
    """The unit of a results.json test (older files: the name's part before ':')."""
    return (test.get("extra_data") or {}).get("unit") or test["name"].split(":")[0].strip()


def recorded_tests(out, student):
    """The student's recorded tests as `TestResult`s, from OUT/<student>/results.json."""
    data = json.loads((Path(out) / student / "results.json").read_text())
    return [
        TestResult(
            t["name"], float(t["score"]), float(t["max_score"]), t.get("output", ""), unit_of(t)
        )
        for t in data.get("tests", [])
    ]


def merge(new_tests, old_tests, units):
    """The new tests for `units`, the recorded ones for every other unit, in the new order."""
    kept = {t.unit for t in old_tests} - set(units)
    merged, placed = [], set()
    for test in new_tests:
        if test.unit not in kept:
            merged.append(test)
        elif test.unit not in placed:
            placed.add(test.unit)
            merged += [t for t in old_tests if t.unit == test.unit]
    merged += [t for t in old_tests if t.unit in kept and t.unit not in placed]
    return merged


def unit_scores(tests):
    scores = {}
    for test in tests:
        scores[test.unit] = scores.get(test.unit, 0.0) + test.score
    return scores


@dataclasses.dataclass
class Change:
    student: str
    unit: str
    old: float
    new: float
    reason: str


def changes(student, old_tests, new_tests, units, reason):
    """One `Change` per regraded unit (units None: every unit)."""
    old, new = unit_scores(old_tests), unit_scores(new_tests)
    chosen = sorted(set(old) | set(new)) if units is None else sorted(units)
    return [Change(student, u, old.get(u, 0.0), new.get(u, 0.0), reason) for u in chosen]


def report(out, regraded, stream):
    """Prints the regrades (changed scores first) and appends them to OUT/regrades.csv."""
    if not regraded:
        return
    moved = [c for c in regraded if abs(c.new - c.old) > 1e-9]
    students = sorted({c.student for c in regraded})
    print(
        f"regraded {len(regraded)} unit(s) of {len(students)} student(s); "
        f"{len(moved)} score(s) changed:",
        file=stream,
    )
    for c in moved:
        print(f"  {c.student}  {c.unit}: {c.old:.2f} -> {c.new:.2f}  ({c.reason})", file=stream)
    if not moved:
        print("  every regraded score is unchanged", file=stream)
    path = Path(out) / LOG_FILE
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if not path.exists():
        writer.writerow(LOG_COLUMNS)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for c in regraded:
        writer.writerow([now, c.student, c.unit, f"{c.old:.4f}", f"{c.new:.4f}", c.reason])
    with path.open("a", encoding="utf-8") as handle:
        handle.write(buffer.getvalue())
