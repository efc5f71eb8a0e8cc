"""The per-check matrix and the Canvas gradebook import, from a graded class's files."""

import csv
import json

import pytest

from autograder.reports import exports

TESTS = {  # student -> [(check, score, max)]
    "ann": [("sdpa: values", 3.0, 3.0), ("sdpa: weights", 3.0, 3.0), ("mask: causal", 2.0, 2.0)],
    "bob": [("sdpa: values", 0.0, 3.0), ("sdpa: weights", 1.5, 3.0), ("mask: causal", 2.0, 2.0)],
    "cy": [("sdpa", 0.0, 6.0), ("mask", 0.0, 2.0)],  # no notebook: one test per unit
}


def _graded(tmp_path):
    for student, tests in TESTS.items():
        folder = tmp_path / student
        folder.mkdir()
        data = {"tests": [{"name": n, "score": s, "max_score": m} for n, s, m in tests]}
        (folder / "results.json").write_text(json.dumps(data))
    return tmp_path


def _rows():
    return [
        {"student": "ann", "score": 8.0, "max_score": 8.0},
        {"student": "bob", "score": 1.75, "max_score": 8.0},
        {"student": "cy", "score": 0.0, "max_score": 8.0},
    ]


def test_check_matrix_has_a_column_per_check_and_each_students_points(tmp_path):
    path = exports.write_check_matrix(_graded(tmp_path))
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["student", "sdpa: values", "sdpa: weights", "mask: causal", "sdpa", "mask"]
    assert rows[1] == ["max_score", "3", "3", "2", "6", "2"]
    table = {r[0]: r[1:] for r in rows[2:]}
    assert table["bob"] == ["0", "1.5", "2", "", ""]
    assert table["cy"] == ["", "", "", "0", "0"]
    assert sum(float(x) for x in table["ann"] if x) == 8.0


def test_canvas_csv_without_a_roster_uses_the_student_id_as_login(tmp_path):
    path, unmatched = exports.write_canvas(tmp_path, _rows(), "A1 attention")
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "A1 attention"]
    assert rows[1][0].strip() == "Points Possible" and rows[1][-1] == "8"
    assert rows[3] == ["bob", "", "", "bob", "", "1.75"] and not unmatched


def test_canvas_csv_takes_canvas_ids_from_its_own_export(tmp_path):
    roster = tmp_path / "canvas_export.csv"
    roster.write_text(
        "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Quiz 1 (11)\n"
        "    Points Possible,,,,,10\n"
        '"Lovelace, Ann",101,S-101,ann,Sec A,9\n'
        '"Babbage, Bob",102,S-102,BOB,Sec B,7\n'
    )
    path, unmatched = exports.write_canvas(tmp_path, _rows(), "A1 (555)", roster)
    rows = list(csv.reader(path.open()))
    assert rows[2] == ["Lovelace, Ann", "101", "S-101", "ann", "Sec A", "8.00"]
    assert rows[3] == ["Babbage, Bob", "102", "S-102", "BOB", "Sec B", "1.75"]  # case-blind
    assert unmatched == ["cy"] and len(rows) == 4


def test_a_file_that_is_not_a_canvas_export_is_refused(tmp_path):
    bad = tmp_path / "roster.csv"
    bad.write_text("name,email\nann,a@x\n")
    with pytest.raises(ValueError, match="Export Entire Gradebook"):
        exports.write_canvas(tmp_path, _rows(), "A1", bad)
    assert not (tmp_path / "canvas.csv").exists()
