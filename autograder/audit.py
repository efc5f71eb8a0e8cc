"""`python -m autograder audit <assignment>`: what the suite catches, measured on its catalog.

    python -m autograder audit a3_gpt                 # prints the report, exits 1 on a problem
    python -m autograder audit a3_gpt --out build/audit/a3_gpt --json report.json

(The text report is written by autograder.reports.audit_text.)

Grades the assignment's catalog (autograder.catalog: the reference, the released stub, every
bug, correct alternative and adversarial entry) in ONE run of `autograder.batch.grade`, then
reports:
- for each bug: the checks that catch it, the points it loses and the hint shown;
- for each alternative: its score;
- for each check: the bugs it catches (a check that catches none is listed);
- the mutation score: bugs caught / bugs.
A problem is anything the grader promises and did not hold: a bug that keeps its unit's
points, loses points on another unit or whose hint does not name it (unless the catalog
calls it vague), an alternative or honest student below full marks, an empty notebook above
zero, an attack that scores more than the empty notebook, a flag that is missing or unfair.
The command exits 1 when there is one.
"""

import dataclasses
import json
import time
from pathlib import Path

from autograder.catalog import EMPTY, feedback, results, write_class

REVIEW = "Flagged for instructor review"


@dataclasses.dataclass
class Report:
    """The audit of one catalog; `problems` is empty when the grader kept every promise."""

    assignment: str
    catalog: str
    max_score: float
    wall_seconds: float
    students: int
    bugs: dict = dataclasses.field(default_factory=dict)  # name -> {checks, lost, hint, ...}
    alternatives: dict = dataclasses.field(default_factory=dict)  # name -> {score, lost}
    adversarial: dict = dataclasses.field(default_factory=dict)  # name -> {score, flags}
    malformed: dict = dataclasses.field(default_factory=dict)  # student -> {score, named}
    checks: dict = dataclasses.field(default_factory=dict)  # check -> [bugs it catches]
    honest: dict = dataclasses.field(default_factory=dict)  # student -> score
    leaks: dict = dataclasses.field(default_factory=dict)  # student -> checks of other units
    empty: float = 0.0
    problems: list = dataclasses.field(default_factory=list)

    @property
    def caught(self):
        return sum(1 for bug in self.bugs.values() if bug["caught"])

    @property
    def mutation_score(self):
        return self.caught / len(self.bugs) if self.bugs else None

    @property
    def idle_checks(self):
        """The checks that catch no bug of the catalog."""
        return sorted(name for name, bugs in self.checks.items() if not bugs)

    def to_json(self):
        data = dataclasses.asdict(self)
        data.update(mutation_score=self.mutation_score, idle_checks=self.idle_checks)
        return data


def _unit(test):
    return test["name"].split(":")[0]


def _lost(test):
    return round(test["max_score"] - test["score"], 6)


def _first_line(text, limit=240):
    line = next((x for x in text.splitlines() if x.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _audit_bugs(report, catalog, owner, out):
    by_student = {}
    for name in catalog.bugs:
        by_student.setdefault(owner[name], []).append(name)
    for student, names in sorted(by_student.items()):
        res = results(out, student)
        edits = {name: set(catalog.bugs[name][0]) for name in names}
        for test in res["tests"]:
            if _lost(test) <= 0:
                continue
            mine = [n for n in names if _unit(test) in edits[n]]
            for name in mine:
                report.checks[test["name"]].append(name)
            if not mine:
                report.leaks.setdefault(student, []).append(test["name"])
                report.problems.append(
                    f"{student} ({', '.join(names)}) lost {_lost(test):g} points on "
                    f"{test['name']!r}, a unit none of its bugs edits"
                )
        for name in names:
            _audit_bug(report, catalog, name, res, edits[name])


def _audit_bug(report, catalog, name, res, edited):
    phrases = catalog.bugs[name][1]
    caught = [t for t in res["tests"] if _unit(t) in edited and _lost(t) > 0]
    entry = {
        "student": res["extra_data"]["student"],
        "units": sorted(phrases),
        "checks": {t["name"]: _lost(t) for t in caught},
        "lost": round(sum(_lost(t) for t in caught), 6),
        "hint": _first_line(caught[0]["output"]) if caught else "",
        "named": True,
        "caught": bool(caught),
    }
    for unit, phrase in phrases.items():
        if not any(_unit(t) == unit for t in caught):
            report.problems.append(f"bug {name} is missed: {unit} keeps all its points")
            entry["caught"] = False
        named = phrase in feedback(res, unit)
        entry["named"] = entry["named"] and named
        if not named and name not in catalog.vague:
            report.problems.append(f"bug {name}: the feedback of {unit} does not say {phrase!r}")
    if name in catalog.vague and entry["named"]:
        report.problems.append(f"bug {name} is listed as vague but its feedback names it now")
    report.bugs[name] = entry


def _audit_others(report, catalog, owner, out):
    for name in catalog.alternatives:
        res = results(out, owner[name])
        lost = {t["name"]: _lost(t) for t in res["tests"] if _lost(t) > 0}
        report.alternatives[name] = {"score": res["score"], "lost": lost}
        if lost:
            report.problems.append(f"alternative {name} loses points: {sorted(lost)}")
    for name in catalog.adversarial:
        res = results(out, name)
        report.adversarial[name] = {"score": res["score"], "flags": res["extra_data"]["flags"]}
        above = res["score"] > report.empty
        if above and name not in catalog.breaches:
            report.problems.append(
                f"attack {name} scores {res['score']:g} > empty {report.empty:g}"
            )
        if not above and name in catalog.breaches:
            report.problems.append(
                f"attack {name} no longer beats the grader: drop it from breaches"
            )
    for name, construct in catalog.flagged.items():
        res = results(out, name)
        if REVIEW not in res["output"] or construct not in res["extra_data"]["flags"]:
            report.problems.append(f"attack {name} is not flagged for {construct!r}")


def _audit_flags(report, students, out):
    for student in students:
        if student in report.adversarial:
            continue
        res = results(out, student)
        if res["extra_data"]["flags"]:
            report.problems.append(f"{student} is flagged: {res['extra_data']['flags']}")


def audit(catalog, out, *, jobs=2):
    """Grades `catalog` in one run under `out` (submissions/, grades/); returns its `Report`."""
    from autograder.batch import grade

    out = Path(out)
    submitted = out / "submissions"
    students, owner, malformed = write_class(catalog, submitted)
    start = time.monotonic()
    rows = grade(
        catalog.assignment,
        submitted,
        out / "grades",
        jobs=jobs,
        force=True,
        progress=False,
        limits=catalog.limits,
    )
    graded = out / "grades"
    scores = {r["student"]: r["score"] for r in rows}
    report = Report(
        catalog.assignment,
        catalog.name,
        rows[0]["max_score"],
        round(time.monotonic() - start, 1),
        len(rows),
    )
    report.honest = {s: scores[s] for s in catalog.honest}
    report.empty = scores[EMPTY]
    for student, score in report.honest.items():
        if score != report.max_score:
            report.problems.append(
                f"{student} (the solution) scores {score:g}/{report.max_score:g}"
            )
    if report.empty != 0:
        report.problems.append(f"the released notebook scores {report.empty:g}, not 0")
    report.checks = {t["name"]: [] for t in results(graded, catalog.honest[0])["tests"]}
    _audit_bugs(report, catalog, owner, graded)
    _audit_others(report, catalog, owner, graded)
    _audit_flags(report, students, graded)
    for student, phrase in malformed.items():
        text = feedback(results(graded, student))
        named = phrase.lower() in text.lower()
        report.malformed[student] = {"score": scores[student], "named": named}
        if not named:
            report.problems.append(f"malformed notebook {student}: no message saying {phrase!r}")
    return report


def audit_assignment(assignment, out, *, jobs=2):
    """Audits every catalog of `assignment` (each its own run); returns their reports."""
    from autograder.assignments.registry import get_catalogs

    return [audit(c, Path(out) / c.name, jobs=jobs) for c in get_catalogs(assignment)]


def write_json(reports, path):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps([r.to_json() for r in reports], indent=1) + "\n")
