"""The instructor's view of a class: what `python -m autograder report` shows, as plain data.

    python -m autograder report build/grades/a1               # one assignment
    python -m autograder report build/grades/a* --out term.html  # the term

`load` reads one grading run's output (OUT/grades.csv and OUT/<student>/results.json, as
`python -m autograder grade` writes them); `summarize` turns it into an `AssignmentSummary`
(score distribution, pass rate per unit and per check, the most frequent hints, late work,
submissions to review, the isolation that applied); `term_table` puts several together.
Pure functions over dictionaries: autograder.reports.report_html draws and renders them.
"""

import collections
import csv
import dataclasses
import json
from pathlib import Path

from autograder.reports.results import CSV_COLUMNS

GRADED = "graded"  # the status of a submission that ran in the sandbox
NO_HINT = ("", "Passed.")
# How autograder.grading.compare names the likely bug after the numbers of a difference.
DIAGNOSIS = "Your output matches what you get when "


class ReportError(ValueError):
    """Input a report cannot be built from; the message says what to do next."""


@dataclasses.dataclass
class Assignment:
    """One grading run as read from disk: grades.csv rows and each student's results.json."""

    folder: Path
    rows: list  # grades.csv rows (dicts of strings), sorted by student
    results: dict  # student -> results.json dict


@dataclasses.dataclass
class CheckRate:
    unit: str
    name: str
    passed: list  # students who passed
    graded: int  # graded students who had this check


@dataclasses.dataclass
class Hint:
    text: str  # the likely bug the checks named, else the whole output
    students: list  # sorted
    checks: list  # the checks that gave it, sorted
    example: str = ""  # one whole output (its numbers differ from check to check)


def hint_key(output):
    """What groups failed checks into one hint: the likely bug they name, else the output.

    "The output: not within tolerance of the reference; max |difference| = 1.4 ... Your
    output matches what you get when the mask is applied after the softmax." -> "Your output
    matches what you get when the mask is applied after the softmax." (the numbers differ
    per check).
    """
    start = output.find(DIAGNOSIS)
    if start < 0:
        return output
    end = output.find(".\n", start)
    return output[start : end + 1 if end >= 0 else len(output)].strip()


@dataclasses.dataclass
class AssignmentSummary:
    name: str
    folder: Path
    students: list  # one dict per grades.csv row, numbers parsed, plus "flags"
    graded: int  # students whose status is "graded"
    units: dict  # unit -> [CheckRate] in the order the checks appear
    unit_passed: dict  # unit -> students who passed every check of the unit
    hints: list  # [Hint], most frequent first
    late: list  # rows with a non-empty `late`
    review: list  # {"student", "status", "flags", "notes"} for flagged or ungraded
    isolation: dict  # isolation value -> number of students, most frequent first

    @property
    def percents(self):
        return [s["percent"] for s in self.students]


def load(folder):
    """Reads FOLDER/grades.csv and every listed student's results.json; raises ReportError."""
    folder = Path(folder)
    csv_path = folder / "grades.csv"
    again = f"run `python -m autograder grade ASSIGNMENT SUBMISSIONS --out {folder}` first"
    if not csv_path.is_file():
        raise ReportError(f"No grades.csv in {folder}: {again}.")
    with csv_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [
            c for c in ("student", "score", "max_score") if c not in (reader.fieldnames or ())
        ]
        if missing:
            raise ReportError(
                f"{csv_path} has no column {', '.join(missing)} (expected {', '.join(CSV_COLUMNS)}): "
                f"it was not written by the grader; {again}."
            )
        rows = sorted(reader, key=lambda r: r["student"])
    results = {}
    for row in rows:
        path = folder / row["student"] / "results.json"
        try:
            results[row["student"]] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ReportError(
                f"{path} is missing although grades.csv lists {row['student']}: "
                f"{again.replace('first', 'again')} (grading resumes, it regrades only what is missing)."
            ) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ReportError(
                f"Cannot read {path} ({err}): regrade the class with "
                f"`python -m autograder grade ... --out {folder} --force`."
            ) from None
        if not isinstance(results[row["student"]].get("tests"), list):
            raise ReportError(f"{path} has no list of tests: it is not the grader's results.json.")
    return Assignment(folder, rows, results)


def unit_of(test):
    """The unit a results.json test belongs to (`extra_data.unit`, else the name before ':')."""
    return (test.get("extra_data") or {}).get("unit") or test["name"].split(":")[0].strip()


def passed(test):
    return test.get("status") == "passed" or test["score"] >= test["max_score"] - 1e-9


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return 0.0


def _student_row(row, result):
    extra = result.get("extra_data") or {}
    score, max_score = _number(row["score"]), _number(row["max_score"])
    return {
        "student": row["student"],
        "score": score,
        "max_score": max_score,
        "percent": _number(row.get("percent"))
        if row.get("percent")
        else 100 * score / (max_score or 1),
        "raw_score": _number(row.get("raw_score") or row["score"]),
        "late": row.get("late") or "",
        "penalty": _number(row.get("penalty")),
        "status": row.get("status") or extra.get("status") or "",
        "isolation": extra.get("isolation") or row.get("isolation") or "",
        "notes": row.get("notes") or "",
        "flags": list(extra.get("flags") or ()),
    }


def summarize(assignment):
    """An `AssignmentSummary` of a loaded `Assignment`.

    Pass rates and hints count graded students only (a student without a notebook has
    nothing to pass; they are listed for review instead); a hint is counted once per
    student however many checks gave it.
    """
    students = [_student_row(r, assignment.results[r["student"]]) for r in assignment.rows]
    graded = [s["student"] for s in students if s["status"] == GRADED]
    checks, by_hint, unit_failed = {}, collections.defaultdict(lambda: (set(), set(), [])), {}
    for student in graded:
        for test in assignment.results[student]["tests"]:
            unit = unit_of(test)
            rate = checks.setdefault(test["name"], CheckRate(unit, test["name"], [], 0))
            rate.graded += 1
            unit_failed.setdefault(unit, set())
            if passed(test):
                rate.passed.append(student)
                continue
            unit_failed[unit].add(student)
            text = (test.get("output") or "").strip()
            if text not in NO_HINT:
                who, names, examples = by_hint[hint_key(text)]
                who.add(student)
                names.add(test["name"])
                examples.append(text)
    units = {}
    for rate in checks.values():
        units.setdefault(rate.unit, []).append(rate)
    hints = [Hint(t, sorted(s), sorted(c), min(e)) for t, (s, c, e) in by_hint.items()]
    hints.sort(key=lambda h: (-len(h.students), h.text))
    isolation = collections.Counter(s["isolation"] or "(not run)" for s in students)
    return AssignmentSummary(
        name=_assignment_name(assignment),
        folder=assignment.folder,
        students=students,
        graded=len(graded),
        units=units,
        unit_passed={u: [s for s in graded if s not in unit_failed[u]] for u in units},
        hints=hints,
        late=[s for s in students if s["late"]],
        review=[
            {k: s[k] for k in ("student", "status", "flags", "notes")}
            for s in students
            if s["flags"] or s["status"] != GRADED
        ],
        isolation=dict(sorted(isolation.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def _assignment_name(assignment):
    names = {r.get("assignment") for r in assignment.rows if r.get("assignment")}
    names |= {
        (res.get("extra_data") or {}).get("assignment")
        for res in assignment.results.values()
        if (res.get("extra_data") or {}).get("assignment")
    }
    return names.pop() if len(names) == 1 else assignment.folder.name


def term_table(summaries):
    """`(assignments, rows)` of the term: rows are {"student", "percents": {a: % or None}, "term"}.

    The term percent is the mean over the assignments, one not graded counting 0.
    """
    names = [s.name for s in summaries]
    if len(set(names)) != len(names):
        raise ReportError(
            f"The same assignment appears twice ({', '.join(names)}): give each grading "
            "run's folder once."
        )
    table = collections.defaultdict(dict)
    for summary in summaries:
        for s in summary.students:
            table[s["student"]][summary.name] = s["percent"]
    rows = []
    for student in sorted(table):
        percents = {name: table[student].get(name) for name in names}
        term = sum(p or 0.0 for p in percents.values()) / len(names)
        rows.append({"student": student, "percents": percents, "term": term})
    return names, rows
