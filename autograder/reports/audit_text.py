"""The text of an audit report (autograder.audit.Report), as `python -m autograder audit` prints it."""

WIDTH = 100


def _short(text, width=WIDTH - 8):
    return text if len(text) <= width else text[: width - 3] + "..."


def _bugs(report):
    lines = [f"Bugs ({report.caught} of {len(report.bugs)} caught):"]
    for name, bug in sorted(report.bugs.items()):
        mark = "caught" if bug["caught"] else "MISSED"
        lines.append(f"  {name}  [{mark}, -{bug['lost']:g} points on {', '.join(bug['units'])}]")
        for check, lost in sorted(bug["checks"].items()):
            lines.append(f"      -{lost:g}  {_short(check)}")
        if bug["hint"]:
            named = "" if bug["named"] else "  (the hint does not name the bug)"
            lines.append(f"      hint: {_short(bug['hint'])}{named}")
    return lines


def _checks(report):
    lines = ["Checks (the bugs each catches):"]
    for check, bugs in sorted(report.checks.items()):
        caught = ", ".join(sorted(bugs)) if bugs else "-- catches no bug of the catalog --"
        lines.append(f"  {_short(check)}")
        lines.append(f"      {_short(caught)}")
    idle = report.idle_checks
    lines.append(
        f"{len(idle)} of {len(report.checks)} checks catch no bug" + (":" if idle else ".")
    )
    lines += [f"  {_short(check)}" for check in idle]
    return lines


def format_report(report):
    """The whole report: bugs, alternatives, attacks, checks, the mutation score, problems."""
    head = (
        f"audit {report.assignment} ({report.catalog}): {report.students} submissions graded "
        f"in one run, {report.wall_seconds:g} s"
    )
    lines = [head, "=" * min(WIDTH, len(head)), ""]
    honest = ", ".join(f"{s} {v:g}" for s, v in report.honest.items())
    lines.append(f"Reference: {honest} / {report.max_score:g}; released stub: {report.empty:g}")
    if report.bugs:
        lines += ["", *_bugs(report)]
    if report.alternatives:
        lines += ["", "Correct alternatives:"]
        for name, alt in sorted(report.alternatives.items()):
            lost = f"  loses {', '.join(sorted(alt['lost']))}" if alt["lost"] else ""
            lines.append(f"  {name}: {alt['score']:g} / {report.max_score:g}{lost}")
    if report.adversarial:
        lines += ["", f"Attacks (each must score <= the stub's {report.empty:g}):"]
        for name, adv in sorted(report.adversarial.items()):
            flags = f"  flagged: {', '.join(adv['flags'])}" if adv["flags"] else ""
            lines.append(f"  {name}: {adv['score']:g}{flags}")
    if report.malformed:
        lines += ["", "Malformed notebooks:"]
        for name, item in sorted(report.malformed.items()):
            lines.append(
                f"  {name}: {item['score']:g}, {'message' if item['named'] else 'NO message'}"
            )
    if report.bugs:
        lines += ["", *_checks(report), ""]
        lines.append(
            f"Mutation score: {report.caught}/{len(report.bugs)} = {report.mutation_score:.3f}"
        )
    lines.append("")
    if report.problems:
        lines.append(f"{len(report.problems)} problem(s):")
        lines += [f"  - {p}" for p in report.problems]
    else:
        lines.append(
            "No problems: every bug is caught and named, every alternative gets full marks."
        )
    return "\n".join(lines)
