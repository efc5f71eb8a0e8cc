"""The tables of benchmarks/grading.py: scores per kind, the ratio, the per-assignment summary."""

from benchmarks.grading_class import CATEGORIES, FULL_MARKS

TARGET = 20.0  # nbgrader autograde's wall time / ours, on every assignment


def _fmt(score):
    return "-" if score is None else f"{score[0]:g}/{score[1]:g}"


def compare(labels, graders):
    """Scores per kind and the full-marks check.

    Args:
        labels: `{student: (kind, category)}`.
        graders: `{grader name: {student: (score, max) or None}}`.

    Returns:
        `(per_kind, problems)`: `per_kind` = `{kind: (category, {grader: sorted distinct
        scores})}`; `problems` lists every student of a full-marks category that a grader
        did not give full marks (or did not grade).
    """
    per_kind, problems = {}, []
    for student, (kind, category) in labels.items():
        _, by_grader = per_kind.setdefault(kind, (category, {g: set() for g in graders}))
        for grader, scores in graders.items():
            score = scores.get(student)
            by_grader[grader].add(_fmt(score))
            full = score is not None and score[1] > 0 and abs(score[0] - score[1]) < 1e-6
            if category in FULL_MARKS and not full:
                problems.append(f"{grader} gave {student} ({kind}) {_fmt(score)}")
    per_kind = {
        kind: (category, {g: sorted(s) for g, s in by.items()})
        for kind, (category, by) in per_kind.items()
    }
    return per_kind, problems


def disagreements(labels, graders):
    """Students the graders score differently: `[(student, kind, {grader: score})]`."""
    out = []
    for student, (kind, _) in labels.items():
        seen = {g: _fmt(s.get(student)) for g, s in graders.items()}
        if len(set(seen.values())) > 1:
            out.append((student, kind, seen))
    return out


def report(assignment, labels, seconds, graders, command, jobs):
    """The markdown section: timing table, full-marks check, scores per kind."""
    from benchmarks.common import table

    n = len(labels)
    rows = [
        [name, f"{sec:.1f} s", f"{sec / n:.2f} s"]
        for name, sec in seconds.items()
        if sec is not None
    ]
    ours, theirs = seconds.get("ours"), seconds.get("nbgrader")
    ratio = None if not (ours and theirs) else theirs / ours
    counts = {c: sum(1 for _, cat in labels.values() if cat == c) for c in CATEGORIES}
    lines = [
        f"## Grading: our grader vs nbgrader autograde ({assignment}, {n} submissions)",
        "",
        f"Command: `{command}`",
        "",
        "Submissions: "
        + ", ".join(f"{counts[c]} {c}" for c in CATEGORIES)
        + f"; our grader with `jobs={jobs}` (zygote start-up included), then "
        "`nbgrader autograde --force` (one kernel per notebook, in sequence); "
        "`generate_assignment` not timed.",
        "",
        table(rows, ["grader", "wall", "per submission"]),
        "",
    ]
    if ratio is not None:
        verdict = "met" if ratio >= TARGET else "NOT met"
        lines.append(f"Ratio nbgrader / ours: **{ratio:.1f}x** (target >= {TARGET:g}: {verdict}).")
    else:
        lines.append("Ratio nbgrader / ours: not measured (nbgrader skipped).")
    per_kind, problems = compare(labels, graders)
    lines += ["", "Full marks to the reference and the correct alternatives: "]
    lines[-1] += "yes, from every grader." if not problems else "NO:"
    lines += [f"- {p}" for p in problems]
    names = list(graders)
    kind_rows = [
        [kind, category, *[", ".join(by[g]) for g in names]]
        for kind, (category, by) in per_kind.items()
    ]
    lines += ["", table(kind_rows, ["submission", "category", *names]), ""]
    if len(graders) > 1:
        differ = disagreements(labels, graders)
        kinds_differ = sorted({k for _, k, _ in differ})
        lines.append(
            "Scores that differ between graders: "
            + (", ".join(kinds_differ) if kinds_differ else "none")
            + " (hidden tests and our checks weigh bugs differently; expected on buggy ones)."
        )
    return "\n".join(lines), ratio, problems


def summary(rows, command):
    """The per-assignment table of an `--assignment all` run."""
    from benchmarks.common import table

    body = []
    for assignment, n, seconds, ratio, problems in rows:
        ours, theirs = seconds.get("ours"), seconds.get("nbgrader")
        body.append(
            [
                assignment,
                str(n),
                f"{ours:.1f} s",
                f"{ours / n:.2f} s",
                "-" if theirs is None else f"{theirs:.1f} s",
                "-" if theirs is None else f"{theirs / n:.2f} s",
                "-" if ratio is None else f"**{ratio:.1f}x**",
                "yes" if not problems else "NO",
            ]
        )
    head = ["assignment", "students", "ours", "ours / sub", "nbgrader", "nbgrader / sub"]
    return "\n".join(
        [
            "## Grading: our grader vs nbgrader autograde, every assignment",
            "",
            f"Command: `{command}` (each assignment side by side, ours first, then nbgrader; "
            f"target >= {TARGET:g}x).",
            "",
            table(body, [*head, "ratio", "full marks to honest work (both)"]),
        ]
    )
