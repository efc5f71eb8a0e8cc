"""Exports of a graded class for spreadsheets and an LMS: the per-check matrix and Canvas.

- OUT/checks.csv: one row per student, one column per check (points earned), with a
  first row `max_score` giving each check's points; the columns are in the suite's order.
- OUT/canvas.csv: Canvas's gradebook import format (Grades > Import): the columns
  `Student, ID, SIS User ID, SIS Login ID, Section`, then one assignment column holding
  the score after the late penalty, and a `Points Possible` row. Given Canvas's own
  gradebook export as a roster (`--canvas-roster`), each student is matched by SIS
  Login ID, SIS User ID, ID or name and the row carries Canvas's identifiers; without a
  roster the nbgrader student id goes in `SIS Login ID` (and `Student`).
"""

import csv
import io
import json
from pathlib import Path

from autograder.reports.results import write_atomic

CANVAS_IDS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MATCH_ON = ("SIS Login ID", "SIS User ID", "ID", "Student")


def load_results(out):
    """`{student: results.json dict}` of a grading output folder."""
    return {
        p.parent.name: json.loads(p.read_text()) for p in sorted(Path(out).glob("*/results.json"))
    }


def write_check_matrix(out, results=None):
    """Writes OUT/checks.csv (student x check, points); returns its path."""
    results = load_results(out) if results is None else results
    names, maxima = [], {}
    for res in results.values():
        for test in res.get("tests", []):
            if test["name"] not in maxima:
                names.append(test["name"])
                maxima[test["name"]] = float(test["max_score"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *names])
    writer.writerow(["max_score", *(f"{maxima[n]:.4g}" for n in names)])
    for student, res in sorted(results.items()):
        earned = {t["name"]: float(t["score"]) for t in res.get("tests", [])}
        writer.writerow([student, *(f"{earned[n]:.4g}" if n in earned else "" for n in names)])
    path = Path(out) / "checks.csv"
    write_atomic(path, buffer.getvalue())
    return path


def read_roster(path):
    """The rows of a Canvas gradebook export (its `Points Possible` and muted rows skipped)."""
    text = Path(path).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    missing = [c for c in ("Student", "ID") if rows and c not in rows[0]]
    if not rows or missing:
        raise ValueError(
            f"{path} is not a Canvas gradebook export (no {', '.join(missing) or 'rows'}). "
            "In Canvas: Grades > Export > Export Entire Gradebook, then pass that file."
        )
    return [r for r in rows if r.get("ID", "").strip() and "Points Possible" not in r["Student"]]


def _match(roster, student):
    for column in MATCH_ON:
        found = [r for r in roster if r.get(column, "").strip().lower() == student.lower()]
        if len(found) == 1:
            return found[0]
    return None


def write_canvas(out, rows, column, roster=None):
    """Writes OUT/canvas.csv from grade rows for the Canvas assignment `column`.

    `column` is the assignment's header in Canvas ("A1 attention (123456)" updates that
    assignment; a new name makes Canvas create one). Returns `(path, unmatched students)`.
    """
    entries = roster and read_roster(roster)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CANVAS_IDS, column])
    max_score = max((float(r["max_score"]) for r in rows), default=0.0)
    writer.writerow(["    Points Possible", "", "", "", "", f"{max_score:g}"])
    unmatched = []
    for row in sorted(rows, key=lambda r: r["student"]):
        score = f"{float(row['score']):.2f}"
        if entries:
            found = _match(entries, row["student"])
            if found is None:
                unmatched.append(row["student"])
                continue
            writer.writerow([*(found.get(c, "") for c in CANVAS_IDS), score])
        else:
            writer.writerow([row["student"], "", "", row["student"], "", score])
    path = Path(out) / "canvas.csv"
    write_atomic(path, buffer.getvalue())
    return path, unmatched
