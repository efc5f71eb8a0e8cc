"""Late submissions: nbgrader's `timestamp.txt` against a due date, and a late policy.

nbgrader writes `submitted/<student>/<assignment>/timestamp.txt` when it collects a
submission (e.g. `2026-03-03 09:30:00.000000 UTC`). With a due date, a submission is late by
`timestamp - due`. The policies:

- `none`: lateness is recorded, no points are taken off (nbgrader's default);
- `zero`: a late submission scores 0 (nbgrader's `LateSubmissionPlugin.penalty_method="zero"`);
- `percent-per-day:P`: P% of the maximum off per started day late, never below 0 (what many
  syllabi state; nbgrader needs a custom plugin for it).

The penalty is applied to `grades.csv` (`raw_score` keeps the work's score), from the policy
of the run that writes it, so a resumed run with a new policy rewrites the file correctly.

Extensions (`--extensions FILE`): a CSV with the columns `student,due`, one row per student
with a later due date; that student's lateness is measured from it, in grades.csv and in
nbgrader's gradebook (as the submission's extension).
"""

import csv
import dataclasses
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

TIMESTAMP_FILE = "timestamp.txt"
POLICIES = ("none", "zero", "percent-per-day:P")


def parse_time(text):
    """A timezone-aware datetime from nbgrader's format or ISO 8601; naive times are UTC."""
    text = text.strip()
    value = text[:-4].strip() if text.upper().endswith(" UTC") else text
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"Cannot read the time {text!r}. Use nbgrader's format "
            "'2026-03-02 00:00:00 UTC' or ISO 8601 '2026-03-02T00:00:00+00:00'."
        ) from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def read_timestamp(notebook_path):
    """The submission's nbgrader timestamp (next to the notebook), or None."""
    if notebook_path is None:
        return None
    path = notebook_path.parent / TIMESTAMP_FILE
    if not path.is_file():
        return None
    try:
        return parse_time(path.read_text(encoding="utf-8", errors="replace")[:100])
    except ValueError:
        return None


@dataclasses.dataclass(frozen=True)
class LatePolicy:
    """A due date and what lateness costs."""

    due: datetime | None = None
    method: str = "none"
    percent_per_day: float = 0.0
    extensions: dict = dataclasses.field(default_factory=dict)  # student -> their due date

    @classmethod
    def parse(cls, due=None, policy="none", extensions=None):
        """From CLI strings: `due` as in `parse_time`, `policy` one of POLICIES, `extensions`
        the path of an extensions CSV (see `read_extensions`)."""
        method, _, arg = (policy or "none").partition(":")
        percent = 0.0
        if method == "percent-per-day":
            try:
                percent = float(arg)
            except ValueError:
                percent = -1.0
            if not 0 < percent <= 100:
                raise ValueError(
                    f"Late policy {policy!r}: give the percentage per day, e.g. percent-per-day:10"
                )
        elif method not in ("none", "zero") or arg:
            raise ValueError(f"Unknown late policy {policy!r}. Use one of: {', '.join(POLICIES)}")
        if method != "none" and due is None:
            raise ValueError(f"The late policy {policy!r} needs a due date (--due).")
        if extensions and due is None:
            raise ValueError("Extensions move a due date: give the assignment's with --due.")
        due_at = parse_time(due) if due else None
        granted = read_extensions(extensions, due_at) if extensions else {}
        return cls(due_at, method, percent, granted)

    def due_for(self, student=None):
        """The due date of `student` (their extension's, else the assignment's)."""
        return self.extensions.get(student, self.due)

    def lateness(self, timestamp, student=None):
        """`timedelta` late (zero when on time, unknown, or without a due date)."""
        due = self.due_for(student)
        if due is None or timestamp is None or timestamp <= due:
            return timedelta(0)
        return timestamp - due

    def penalty(self, raw_score, max_score, late):
        """Points taken off a submission `late` (a timedelta) with `raw_score`."""
        if late <= timedelta(0):
            return 0.0
        if self.method == "zero":
            return raw_score
        if self.method == "percent-per-day":
            days = math.ceil(late / timedelta(days=1))
            return min(raw_score, max_score * self.percent_per_day / 100 * days)
        return 0.0


def read_extensions(path, due):
    """`{student: due date}` from a CSV with the columns `student,due` (dates later than `due`)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as err:
        raise ValueError(f"Cannot read the extensions file {path}: {err.strerror}.") from None
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or not {"student", "due"} <= {f.strip() for f in reader.fieldnames}:
        raise ValueError(
            f"{path}: the first line must name the columns 'student,due', e.g.\n"
            "student,due\nalice,2026-03-05 00:00:00 UTC"
        )
    granted = {}
    for line, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        student = row["student"]
        if not student:
            continue
        if student in granted:
            raise ValueError(f"{path}, line {line}: {student} has two extensions; keep one.")
        try:
            moment = parse_time(row["due"])
        except ValueError as err:
            raise ValueError(f"{path}, line {line}: {err}") from None
        if due is not None and moment < due:
            raise ValueError(
                f"{path}, line {line}: {student}'s date {row['due']} is before the due date; "
                "an extension can only move it later."
            )
        granted[student] = moment
    return granted


def describe(late):
    """`late` as '2 d 9 h 30 min'."""
    minutes = int(late.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min"]
    return " ".join(p for p in parts if p) if minutes or hours or days else "under a minute"
