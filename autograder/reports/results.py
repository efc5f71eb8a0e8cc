"""Outputs of a grading run: grades.csv, per-student results.json (Gradescope) and feedback.html.

Manually graded answers (autograder.notebook.manual) are never in `score`: grades.csv's
`max_score` is the autograded points only (`percent` is of those), `manual_pending` says
how many points a person still grades ("3 points"), and `max_with_manual` is the
assignment's whole total (autograded + manual). results.json keeps Gradescope's format
(`score` = the autograded score, no test for a manual answer) with the pending points in
its `output` ("manual: pending N points") and `extra_data.manual_pending`; each student's
written answers and plots are on one page, OUT/<student>/answers.html (reports/answers.py).

Every file is written atomically (a temporary file renamed into place), so a
grader killed mid-run leaves either the old file or the new one, never half.
"""

import csv
import html
import io
import json
import os
import tempfile
from pathlib import Path

from autograder.notebook.manual import pending_text

CSV_COLUMNS = (
    "student",
    "assignment",
    "score",
    "max_score",
    "percent",
    "manual_pending",
    "max_with_manual",
    "raw_score",
    "late",
    "penalty",
    "status",
    "isolation",
    "timestamp",
    "due",
    "notes",
)


def write_atomic(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def gradescope_results(result):
    """The Gradescope results.json dictionary for one student's `StudentResult`."""
    return {
        "score": round(result.score, 4),
        "execution_time": round(result.seconds, 2),
        "output": result.general_feedback(),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": t.name,
                "score": round(t.score, 4),
                "max_score": round(t.max_score, 4),
                "status": "passed" if t.score >= t.max_score - 1e-9 else "failed",
                "output": t.output,
                "visibility": "visible",
                "extra_data": {"unit": t.unit},
            }
            for t in result.tests
        ],
        "extra_data": {
            "assignment": result.assignment,
            "student": result.student,
            "status": result.status,
            "flags": list(result.flags),
            "isolation": result.isolation,
            "isolation_layers": list(result.isolation_layers),
            "manual_pending": result.manual_pending,
            "manual_unanswered": list(result.manual_unanswered),
        },
    }


def write_student(out_dir, result, *, notebook=None, released=None):
    """Writes OUT/<student>/results.json and feedback.html (and answers.html, see `answers`).

    `notebook` (the submission's path) and `released` give the page of the student's
    manually graded answers, written when the assignment has any.
    """
    from autograder.reports import answers

    folder = Path(out_dir) / result.student
    if released is not None and notebook is not None:
        page = answers.page_for(notebook, released, title=result.assignment, student=result.student)
        if page is not None:
            write_atomic(folder / "answers.html", page)
    write_atomic(folder / "feedback.html", feedback_html(result))
    write_atomic(folder / "results.json", json.dumps(gradescope_results(result), indent=1))


def apply_late_policy(rows, policy):
    """Rows with the late penalty of `policy` (a `late.LatePolicy`) applied to `score`.

    `raw_score` keeps the score of the work; `late` says by how much the submission was late
    (empty when on time or without a due date) and `penalty` the points taken off.
    """
    from autograder.reports import late as late_mod

    policy = policy or late_mod.LatePolicy()
    applied = []
    for row in rows:
        raw = row.get("raw_score", row["score"])
        stamp = row.get("timestamp") or ""
        lateness = policy.lateness(late_mod.parse_time(stamp) if stamp else None, row["student"])
        penalty = policy.penalty(raw, row["max_score"], lateness)
        applied.append(
            {
                **row,
                "raw_score": raw,
                "score": round(raw - penalty, 4),
                "late": late_mod.describe(lateness) if lateness else "",
                "due": _due_text(policy.due_for(row["student"])),
                "penalty": round(penalty, 4),
            }
        )
    return applied


def _due_text(due):
    return due.isoformat() if due else ""


def write_grades_csv(out_dir, rows, units=(), manual_max=0.0):
    """Writes OUT/grades.csv from grade rows (see `CSV_COLUMNS`; missing columns stay empty).

    `manual_max`: the points of the manually graded answers; `max_with_manual` is
    `max_score + manual_max`, `manual_pending` each row's pending points ("3 points").

    After `CSV_COLUMNS`, one column per unit of `units` (named `unit:<name>`): the unit's
    points before any late penalty (the penalty is on the total).
    """
    buffer = io.StringIO()
    columns = [*CSV_COLUMNS, *(f"unit:{u}" for u in units)]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: r["student"]):
        percent = 100.0 * row["score"] / row["max_score"] if row["max_score"] else 0.0
        raw = row.get("raw_score", row["score"])
        writer.writerow(
            {
                **row,
                "score": f"{row['score']:.2f}",
                "max_score": f"{row['max_score']:.2f}",
                "percent": f"{percent:.1f}",
                "manual_pending": pending_text(row.get("manual_pending", 0.0)),
                "max_with_manual": f"{row['max_score'] + manual_max:.2f}",
                "raw_score": f"{raw:.2f}",
                "penalty": f"{row.get('penalty', 0.0):.2f}",
                **{
                    f"unit:{u}": f"{row['units'][u]:.2f}"
                    for u in units
                    if u in row.get("units", {})
                },
            }
        )
    write_atomic(Path(out_dir) / "grades.csv", buffer.getvalue())


def test_unit(test):
    """The unit a `TestResult` belongs to: its `unit`, else its name before ':'."""
    return getattr(test, "unit", None) or test.name.split(":")[0].strip()


def _passed(test):
    return test.score >= test.max_score - 1e-9


FEEDBACK_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2733;
       margin: 0 auto; padding: 1.5em 2em 3em; max-width: 64em; }
h1 { margin: 0 0 .3em; font-size: 1.6em; } h2 { margin: 1.6em 0 .4em; font-size: 1.15em; }
table { border-collapse: collapse; width: 100%; margin: .3em 0 1em; }
th, td { border: 1px solid #d5dbe3; padding: .35em .6em; text-align: left; vertical-align: top; }
th { background: #f1f4f8; }
td.pts, th.pts { width: 8em; text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.check { width: 34%; overflow-wrap: anywhere; }
tr.pass td.pts { color: #1f6f33; } tr.fail td.pts { color: #a32626; font-weight: 600; }
tr.pass td.hint { color: #5b6776; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; font-size: .92em; }
.score { font-size: 1.2em; font-weight: 600; }
.general { background: #fff4d6; border: 1px solid #e0b13a; border-radius: 6px; padding: .6em .8em; }
"""


def feedback_html(result):
    """The student's page: the score, a subtotal per unit, then each unit's checks and hints."""
    esc = html.escape
    units = {}
    for t in result.tests:
        units.setdefault(test_unit(t), []).append(t)
    percent = 100 * result.score / result.max_score if result.max_score else 0.0
    overview = "\n".join(
        f'<tr class="{"pass" if all(map(_passed, tests)) else "fail"}"><td class="check">'
        f'<a href="#u{i}">{esc(unit)}</a></td><td>{sum(map(_passed, tests))} of {len(tests)}'
        f' passed</td><td class="pts">{sum(t.score for t in tests):.2f} / '
        f"{sum(t.max_score for t in tests):.2f}</td></tr>"
        for i, (unit, tests) in enumerate(units.items())
    )
    sections = []
    for i, (unit, tests) in enumerate(units.items()):
        rows = "\n".join(
            f'<tr class="{"pass" if _passed(t) else "fail"}"><td class="check">'
            f'{esc(short_check_name(t.name, unit))}</td><td class="pts">{t.score:.2f} / '
            f'{t.max_score:.2f}</td><td class="hint"><pre>{esc(t.output)}</pre></td></tr>'
            for t in tests
        )
        subtotal = f"{sum(t.score for t in tests):.2f} / {sum(t.max_score for t in tests):.2f}"
        sections.append(
            f'<h2 id="u{i}">{esc(unit)} <small>({subtotal})</small></h2>\n'
            f'<table>\n<tr><th>check</th><th class="pts">points</th><th>feedback</th></tr>\n'
            f"{rows}\n</table>"
        )
    general = result.general_feedback(manual=False)  # the manual line is under the score
    title = f"{esc(result.assignment)}: {esc(result.student)}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>{FEEDBACK_CSS}</style></head><body>
<h1>{esc(result.assignment)} &mdash; {esc(result.student)}</h1>
<p class="score">Score: {result.score:.2f} / {result.max_score:.2f} ({percent:.0f}%)</p>
{f'<p class="manual">{esc(result.manual_note)}</p>' if result.manual_note else ""}
{f'<div class="general"><pre>{esc(general)}</pre></div>' if general else ""}
<table>
<tr><th>unit</th><th>checks passed</th><th class="pts">points</th></tr>
{overview}
</table>
{chr(10).join(sections)}
</body></html>
"""


def short_check_name(name, unit):
    """A check's name without its unit's prefix ("causal_mask: length 5" -> "length 5")."""
    head, sep, rest = name.partition(":")
    return rest.strip() if sep and head.strip() == unit else name


def summary_table(rows):
    """A plain-text table of scores for the terminal."""
    width = max([len("student")] + [len(r["student"]) for r in rows])
    lines = [f"{'student':<{width}}  {'score':>13}  status", "-" * (width + 25)]
    for r in sorted(rows, key=lambda r: r["student"]):
        late = f" (late {r['late']}: -{r['penalty']:.2f})" if r.get("late") else ""
        lines.append(
            f"{r['student']:<{width}}  {r['score']:6.2f} / {r['max_score']:<5.2f}  {r['status']}{late}"
        )
    return "\n".join(lines)
