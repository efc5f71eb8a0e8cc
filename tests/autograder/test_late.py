"""Late submissions: nbgrader's timestamp.txt, the due date and the late policy in grades.csv."""

import csv
from datetime import datetime, timedelta, timezone

import pytest

from autograder import cli
from autograder.reports import late
from autograder.reports import results as reports

DUE = "2026-03-02 00:00:00.000000 UTC"


def _row(student, raw, stamp, max_score=20.0):
    return {
        "student": student,
        "assignment": "a1_attention",
        "score": raw,
        "max_score": max_score,
        "status": "graded",
        "timestamp": stamp,
        "notes": "",
    }


def test_times_in_nbgrader_and_iso_formats_are_the_same_instant():
    want = datetime(2026, 3, 3, 9, 30, tzinfo=timezone.utc)
    assert late.parse_time("2026-03-03 09:30:00.000000 UTC") == want
    assert late.parse_time("2026-03-03T10:30:00+01:00") == want
    assert late.parse_time("2026-03-03 09:30") == want  # naive: UTC
    with pytest.raises(ValueError, match="nbgrader's format"):
        late.parse_time("next tuesday")


def test_read_timestamp_next_to_the_notebook(tmp_path):
    nb = tmp_path / "alice" / "a1" / "a1.ipynb"
    nb.parent.mkdir(parents=True)
    assert late.read_timestamp(nb) is None  # no timestamp.txt: lateness unknown, never late
    (nb.parent / "timestamp.txt").write_text("2026-03-03 09:30:00.000000 UTC\n")
    assert late.read_timestamp(nb) == datetime(2026, 3, 3, 9, 30, tzinfo=timezone.utc)
    (nb.parent / "timestamp.txt").write_text("garbage")
    assert late.read_timestamp(nb) is None


@pytest.mark.parametrize(
    ("policy", "hours_late", "raw", "penalty"),
    [
        ("none", 33.5, 17.0, 0.0),
        ("zero", 33.5, 17.0, 17.0),
        ("zero", 0.0, 17.0, 0.0),  # exactly at the due date is on time
        ("percent-per-day:10", 0.1, 17.0, 2.0),  # a started day counts: 10% of 20
        ("percent-per-day:10", 33.5, 17.0, 4.0),  # two started days
        ("percent-per-day:25", 24 * 5, 17.0, 17.0),  # never below zero
    ],
)
def test_penalties(policy, hours_late, raw, penalty):
    rule = late.LatePolicy.parse(DUE, policy)
    stamp = rule.due + timedelta(hours=hours_late)
    assert rule.penalty(raw, 20.0, rule.lateness(stamp)) == pytest.approx(penalty)


@pytest.mark.parametrize(
    ("due", "policy", "message"),
    [
        (DUE, "half", "Unknown late policy 'half'"),
        (DUE, "percent-per-day", "give the percentage per day"),
        (DUE, "percent-per-day:150", "give the percentage per day"),
        (None, "zero", "needs a due date"),
    ],
)
def test_bad_policies_say_what_to_write(due, policy, message):
    with pytest.raises(ValueError, match=message):
        late.LatePolicy.parse(due, policy)


def test_grades_csv_keeps_the_raw_score_and_shows_the_penalty(tmp_path):
    rows = [
        _row("on_time", 18.0, "2026-03-01T12:00:00+00:00"),
        _row("late", 18.0, "2026-03-03T09:30:00+00:00"),
        _row("unknown", 18.0, ""),
    ]
    applied = reports.apply_late_policy(rows, late.LatePolicy.parse(DUE, "percent-per-day:10"))
    reports.write_grades_csv(tmp_path, applied)
    with open(tmp_path / "grades.csv") as f:
        got = {r["student"]: r for r in csv.DictReader(f)}
    assert (got["late"]["raw_score"], got["late"]["score"], got["late"]["penalty"]) == (
        "18.00",
        "14.00",
        "4.00",
    )
    assert got["late"]["late"] == "1 d 9 h 30 min" and got["late"]["percent"] == "70.0"
    for student in ("on_time", "unknown"):
        assert (got[student]["score"], got[student]["late"]) == ("18.00", "")
    assert "(late 1 d 9 h 30 min: -4.00)" in reports.summary_table(applied)
    # Without a policy nothing changes (no due date: nobody is late).
    assert [r["score"] for r in reports.apply_late_policy(rows, None)] == [18.0, 18.0, 18.0]


def test_cli_rejects_a_bad_policy_before_grading(tmp_path, capsys):
    code = cli.main(
        ["grade", "a1_attention", str(tmp_path), "--out", str(tmp_path / "o"), "--late-policy", "x"]
    )
    assert code == 2
    assert "Unknown late policy 'x'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def _extensions(tmp_path, text):
    path = tmp_path / "extensions.csv"
    path.write_text(text)
    return str(path)


def test_an_extension_moves_one_students_due_date(tmp_path):
    ext = _extensions(tmp_path, "student,due\nlate,2026-03-04 00:00:00 UTC\n")
    policy = late.LatePolicy.parse(DUE, "percent-per-day:10", ext)
    rows = [
        _row("late", 18.0, "2026-03-03T09:30:00+00:00"),  # within the extension
        _row("other", 18.0, "2026-03-03T09:30:00+00:00"),  # the same time, no extension
        _row("later", 18.0, "2026-03-05T09:30:00+00:00"),
    ]
    applied = {r["student"]: r for r in reports.apply_late_policy(rows, policy)}
    assert (applied["late"]["score"], applied["late"]["late"]) == (18.0, "")
    assert applied["late"]["due"] == "2026-03-04T00:00:00+00:00"
    assert (applied["other"]["score"], applied["other"]["late"]) == (14.0, "1 d 9 h 30 min")
    assert applied["other"]["due"] == "2026-03-02T00:00:00+00:00"
    ext2 = _extensions(tmp_path, "student,due\nlater,2026-03-04 00:00:00 UTC\n")
    later = reports.apply_late_policy(rows[2:], late.LatePolicy.parse(DUE, "zero", ext2))[0]
    assert (later["score"], later["late"]) == (0.0, "1 d 9 h 30 min")  # late past its own date


@pytest.mark.parametrize(
    "text, message",
    [
        ("name,date\nann,2026-03-05\n", "must name the columns 'student,due'"),
        ("student,due\nann,soon\n", "line 2: Cannot read the time 'soon'"),
        ("student,due\nann,2026-03-01 00:00:00 UTC\n", "line 2: ann's date .* is before"),
        ("student,due\nann,2026-03-05\nann,2026-03-06\n", "line 3: ann has two extensions"),
    ],
)
def test_bad_extension_files_say_what_to_fix(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        late.LatePolicy.parse(DUE, "none", _extensions(tmp_path, text))


def test_extensions_need_a_due_date_and_a_readable_file(tmp_path):
    with pytest.raises(ValueError, match="give the assignment's with --due"):
        late.LatePolicy.parse(None, "none", _extensions(tmp_path, "student,due\n"))
    with pytest.raises(ValueError, match="Cannot read the extensions file"):
        late.LatePolicy.parse(DUE, "none", str(tmp_path / "missing.csv"))
