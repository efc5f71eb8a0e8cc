"""benchmarks/notebook_targets.py reads the target line back from a notebook run in a kernel."""

import nbformat
import pytest

from benchmarks import notebook_targets
from course_lib.notebook import report_target


def test_target_line_round_trips(capsys, monkeypatch):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    assert report_target("test_accuracy", 0.9512, 0.9, higher_is_better=True, seconds=61.4)
    assert not report_target("val_perplexity", 14.2, 13, higher_is_better=False, seconds=5)
    monkeypatch.setenv("COURSE_QUICK", "1")
    assert report_target("val_perplexity", 14.2, 13, higher_is_better=False, seconds=5)
    found = [m.groupdict() for m in notebook_targets.TARGET_LINE.finditer(capsys.readouterr().out)]
    assert [(t["metric"], t["value"], t["op"], t["goal"], t["status"]) for t in found] == [
        ("test_accuracy", "0.9512", ">=", "0.9", "reached"),
        ("val_perplexity", "14.2", "<=", "13", "missed"),
        ("val_perplexity", "14.2", "<=", "13", "not checked in quick mode"),
    ]


@pytest.mark.slow
def test_a_notebook_run_in_a_kernel_reports_its_target(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "from course_lib.notebook import report_target\n"
                "report_target('test_accuracy', 0.93, 0.9, higher_is_better=True, seconds=12)"
            )
        ]
    )
    path = tmp_path / "t.ipynb"
    nbformat.write(nb, path)
    targets, seconds, error = notebook_targets.run_notebook(path, tmp_path)
    assert error == "" and seconds > 0
    assert [(t["metric"], t["status"], t["seconds"]) for t in targets] == [
        ("test_accuracy", "reached", "12")
    ]
