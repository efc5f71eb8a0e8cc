"""Outputs of a grading run: grades.csv, per-student results.json (Gradescope) and feedback.html.

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

CSV_COLUMNS = (
    "student",
    "assignment",
    "score",
    "max_score",
    "percent",
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
        },
    }


def write_student(out_dir, result):
    """Writes OUT/<student>/results.json and feedback.html."""
    folder = Path(out_dir) / result.student
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


def write_grades_csv(out_dir, rows, units=()):
    """Writes OUT/grades.csv from grade rows (see `CSV_COLUMNS`; missing columns stay empty).

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


def feedback_html(result):
    esc = html.escape
    rows = "\n".join(
        f'<tr class="{"pass" if t.score >= t.max_score - 1e-9 else "fail"}"><td>{esc(t.name)}</td>'
        f"<td>{t.score:.2f} / {t.max_score:.2f}</td><td><pre>{esc(t.output)}</pre></td></tr>"
        for t in result.tests
    )
    general = result.general_feedback()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(result.assignment)}: {esc(result.student)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 70em; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border: 1px solid #ccc; padding: .4em; vertical-align: top; }}
tr.pass td:nth-child(2) {{ color: #176f2c; }} tr.fail td:nth-child(2) {{ color: #a01c1c; font-weight: bold; }}
pre {{ white-space: pre-wrap; margin: 0; }}
</style></head><body>
<h1>{esc(result.assignment)} &mdash; {esc(result.student)}</h1>
<p><strong>Score: {result.score:.2f} / {result.max_score:.2f}</strong></p>
{f"<pre>{esc(general)}</pre>" if general else ""}
<table><tr><th>test</th><th>points</th><th>feedback</th></tr>
{rows}
</table></body></html>
"""


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
