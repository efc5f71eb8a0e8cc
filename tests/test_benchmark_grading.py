"""benchmarks/grading.py: its class builder, its score comparison, and a smoke run of our side."""

import json

import pytest

from benchmarks import grading, grading_class, grading_report

A2 = "a2_transformer"


def _cells(path):
    nb = json.loads(path.read_text())
    return {
        c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"])
        for c in nb["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    }


def test_class_cycles_through_every_kind_in_nbgrader_layout(tmp_path):
    """Does the course hold nbgrader's config, the source, and each kind of submission, edited?"""
    labels = grading_class.build_course(tmp_path, 10)
    assert len(labels) == 10
    assert (tmp_path / "nbgrader_config.py").read_text() == (
        grading.REPO / "nbgrader_config.py"
    ).read_text()
    assert (tmp_path / "solutions" / A2 / f"{A2}.ipynb").exists()
    categories = [c for _, c in labels.values()]
    assert categories[:9] == ["reference"] + ["alternative"] * 3 + ["buggy"] * 4 + ["stub"]
    assert categories[9:] == ["reference"]  # the cycle starts again
    paths = {s: tmp_path / "submitted" / s / A2 / f"{A2}.ipynb" for s in labels}
    assert all(p.exists() and (p.parent / "timestamp.txt").exists() for p in paths.values())

    ref = _cells(paths["s000_reference"])
    assert "### BEGIN SOLUTION" in ref["MultiHeadAttention"]
    assert 'answer_padding = {"A", "C", "D"}' in ref["answer_padding"]
    stub = _cells(paths["s008_stub"])
    assert "raise NotImplementedError" in stub["MultiHeadAttention"]
    einsum = _cells(paths["s001_alt_einsum_attention"])
    assert "ops.einsum" in einsum["MultiHeadAttention"]
    assert "scaled_dot_product_attention(q, k, v" not in einsum["MultiHeadAttention"]
    assert "ops.split" in _cells(paths["s002_alt_split_stack"])["split_heads"]
    assert "np.stack" in _cells(paths["s003_alt_stacked_positions"])["positional_encoding"]
    bug = _cells(paths["s005_bug_merge_no_transpose"])["merge_heads"]
    assert "transpose" not in bug.split("### BEGIN SOLUTION")[1]
    # Each variant edits only its own cells: the others are the reference's.
    for student in paths:
        changed = {g for g, src in _cells(paths[student]).items() if src != ref[g]}
        expected = {
            "s000_reference": set(),
            "s001_alt_einsum_attention": {"MultiHeadAttention"},
            "s002_alt_split_stack": {"split_heads", "merge_heads"},
            "s003_alt_stacked_positions": {"positional_encoding"},
            "s004_bug_split_no_transpose": {"split_heads"},
            "s005_bug_merge_no_transpose": {"merge_heads"},
            "s006_bug_mha_dropout_always_on": {"MultiHeadAttention"},
            "s007_bug_pe_concatenated": {"positional_encoding"},
            "s009_reference": set(),
        }.get(student)
        if expected is not None:
            assert changed == expected, student


LABELS = {
    "a_ref": ("reference", "reference"),
    "b_alt": ("alt_x", "alternative"),
    "c_bug": ("bug_y", "buggy"),
    "d_stub": ("stub", "stub"),
}


def test_compare_lists_missing_full_marks_and_disagreements():
    """Are a reference below full marks and an ungraded alternative reported, buggy ones not?"""
    ours = {"a_ref": (30.0, 30.0), "b_alt": (30.0, 30.0), "c_bug": (22.0, 30.0), "d_stub": (0, 30)}
    theirs = {"a_ref": (28.0, 30.0), "b_alt": None, "c_bug": (25.0, 30.0), "d_stub": (0, 30)}
    per_kind, problems = grading_report.compare(LABELS, {"ours": ours, "nbgrader": theirs})
    assert problems == ["nbgrader gave a_ref (reference) 28/30", "nbgrader gave b_alt (alt_x) -"]
    assert per_kind["bug_y"] == ("buggy", {"ours": ["22/30"], "nbgrader": ["25/30"]})
    differ = grading_report.disagreements(LABELS, {"ours": ours, "nbgrader": theirs})
    assert [s for s, _, _ in differ] == ["a_ref", "b_alt", "c_bug"]

    _, problems = grading_report.compare(LABELS, {"ours": ours, "nbgrader": dict(ours)})
    assert problems == []


def test_report_gives_the_ratio_and_the_verdict():
    scores = {
        "a_ref": (30.0, 30.0),
        "b_alt": (30.0, 30.0),
        "c_bug": (22.0, 30.0),
        "d_stub": (0, 30),
    }
    graders = {"ours": scores, "nbgrader": dict(scores)}
    text, ratio, problems = grading_report.report(
        A2, LABELS, {"ours": 4.0, "nbgrader": 48.0}, graders, "python -m benchmarks.grading", 2
    )
    assert ratio == pytest.approx(12.0) and problems == []
    assert "**12.0x** (target >= 20: NOT met)" in text
    assert "yes, from every grader" in text
    assert "| nbgrader | 48.0 s | 12.00 s" in text
    text, ratio, _ = grading_report.report(
        A2, LABELS, {"ours": 2.0, "nbgrader": 48.0}, graders, "python -m benchmarks.grading", 2
    )
    assert "**24.0x** (target >= 20: met)" in text
    table = grading_report.summary(
        [
            (A2, 4, {"ours": 2.0, "nbgrader": 48.0}, ratio, []),
            ("a3_gpt", 4, {"ours": 3.0}, None, ["x"]),
        ],
        "python -m benchmarks.grading --assignment all",
    )
    rows = [line for line in table.splitlines() if line.startswith("| a")][1:]
    assert [r.split("|")[7].strip() for r in rows] == ["**24.0x**", "-"]
    assert [r.split("|")[8].strip() for r in rows] == ["yes", "NO"]


@pytest.mark.slow
def test_smoke_run_of_our_side_with_three_submissions(tmp_path):
    """Does the benchmark grade 3 submissions with our grader: reference and alternative 30/30?"""
    results = tmp_path / "RESULTS.md"
    ratio, problems = grading.main(
        [
            "--students",
            "3",
            "--skip-nbgrader",
            "--course",
            str(tmp_path / "c"),
            "--results",
            str(results),
        ]
    )
    assert ratio is None and problems == []
    text = results.read_text()
    assert "python -m benchmarks.grading --students 3" in text
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert rows["reference"].split("|")[3].strip() == "30/30"
    assert rows["alt_einsum_attention"].split("|")[3].strip() == "30/30"
    assert rows["alt_split_stack"].split("|")[3].strip() == "30/30"
    assert "not measured (nbgrader skipped)" in text
