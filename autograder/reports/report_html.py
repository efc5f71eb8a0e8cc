"""The class report as one self-contained HTML page: `python -m autograder report`.

    python -m autograder report build/grades/a1_attention            # -> build/grades/a1_attention/report.html
    python -m autograder report build/grades/a1 build/grades/a2 --out build/grades/term.html

The page embeds its plots as PNG `data:` URIs and its CSS inline: it loads nothing, so it
opens from disk, from a mail attachment or from an archive. Each student's name links to
their feedback.html by a path relative to the report. The data comes from
autograder.reports.class_report; the layout is `templates/class_report.html.j2` (Jinja2).
"""

import base64
import io
import os
import sys
import textwrap
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path

from autograder.reports import class_report
from autograder.reports.results import short_check_name, write_atomic

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "class_report.html.j2"
PASS, FAIL, INK = "#2b7a3d", "#b03030", "#2f4b7c"


def _png(fig, tight=True):
    """`fig` as a `data:image/png;base64,...` URI."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight" if tight else None)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def histogram_png(percents, title):
    """The score distribution in bins of 10% (the last bin holds 100%)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.0))
    ax = fig.add_subplot()
    ax.hist(percents, bins=range(0, 101, 10), color=INK, edgecolor="white")
    ax.set_xlim(0, 100)
    ax.set_xlabel("score (% of the maximum)")
    ax.set_ylabel("students")
    ax.set_title(title)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def unit_png(unit, rates):
    """One horizontal bar per check of `unit`: the share of graded students who passed it.

    Every chart is 560 px wide with its axis at the same place, so the tables beside line up.
    """
    from matplotlib.figure import Figure

    labels = [textwrap.fill(short_check_name(r.name, unit), 32) for r in rates]
    values = [100 * len(r.passed) / r.graded if r.graded else 0 for r in rates]
    height = 0.6 + 0.2 * sum(label.count("\n") + 1.4 for label in labels)  # inches
    fig = Figure(figsize=(5.6, height))
    fig.subplots_adjust(left=0.42, right=0.97, bottom=0.45 / height, top=1 - 0.08 / height)
    ax = fig.add_subplot()
    ax.barh(
        range(len(rates)), values, height=0.7, color=[PASS if v >= 50 else FAIL for v in values]
    )
    ax.set_yticks(range(len(rates)), labels, fontsize=8.5)
    ax.set_ylim(len(rates) - 0.5, -0.5)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of graded students who passed", fontsize=8.5)
    ax.tick_params(axis="x", labelsize=8)
    for y, (value, rate) in enumerate(zip(values, rates)):
        ax.text(min(value, 84) + 1, y, f"{len(rate.passed)}/{rate.graded}", va="center", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig, tight=False)


def _sources(checks):
    """Where a hint came from: the check's name, or per unit how many of its checks gave it."""
    if len(checks) == 1:
        return checks[0]
    units = {}
    for name in checks:
        units.setdefault(name.split(":")[0].strip(), []).append(name)
    return "; ".join(
        f"{len(names)} checks of {unit}" if len(names) > 1 else names[0]
        for unit, names in units.items()
    )


def _link(path, base):
    """`path` relative to the folder `base`, as a URL path (quoted)."""
    return urllib.parse.quote(Path(os.path.relpath(path, base)).as_posix())


def _section(summary, out_dir):
    """What the template shows of one assignment."""
    links = {}
    for student in summary.students:
        page = summary.folder / student["student"] / "feedback.html"
        links[student["student"]] = _link(page, out_dir) if page.is_file() else ""
    scores = sorted(summary.percents)
    n = len(scores)
    median = (scores[(n - 1) // 2] + scores[n // 2]) / 2 if n else 0.0
    return {
        "summary": summary,
        "links": links,
        "anchor": "a-" + "".join(c if c.isalnum() else "-" for c in summary.name),
        "mean": sum(scores) / n if n else 0.0,
        "median": median,
        "histogram": histogram_png(summary.percents, f"{summary.name}: {n} students"),
        "units": [
            {
                "name": unit,
                "chart": unit_png(unit, rates),
                "checks": [{"rate": r, "short": short_check_name(r.name, unit)} for r in rates],
                "passed": summary.unit_passed[unit],
            }
            for unit, rates in summary.units.items()
        ],
        "hint_sources": [_sources(h.checks) for h in summary.hints],
        "unisolated": summary.isolation.get("unisolated", 0),
    }


def render(summaries, out_path):
    """The HTML text of the report of `summaries` (AssignmentSummary), to be written at `out_path`."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    out_dir = Path(out_path).resolve().parent
    term = class_report.term_table(summaries) if len(summaries) > 1 else None
    title = (
        f"Class report: {summaries[0].name}"
        if term is None
        else f"Term report: {len(summaries)} assignments"
    )
    return env.get_template(TEMPLATE).render(
        title=title,
        sections=[_section(s, out_dir) for s in summaries],
        term=term,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def build_report(grades_dirs, out=None):
    """Reads each grading run in `grades_dirs`, writes the report; returns its path.

    `out` defaults to GRADES_DIR/report.html for one run and is required for several.
    Every input is read before anything is written: bad input raises
    `class_report.ReportError` and leaves no file behind.
    """
    grades_dirs = [Path(d) for d in grades_dirs]
    if not grades_dirs:
        raise class_report.ReportError("Give at least one folder that `grade --out` wrote.")
    if out is None:
        if len(grades_dirs) > 1:
            raise class_report.ReportError(
                "A term report of several assignments needs --out FILE (e.g. --out "
                f"{grades_dirs[0].parent / 'report.html'})."
            )
        out = grades_dirs[0] / "report.html"
    summaries = [class_report.summarize(class_report.load(d)) for d in grades_dirs]
    out = Path(out)
    write_atomic(out, render(summaries, out))
    return out


def add_parser(subparsers):
    """Registers `report` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "report",
        help="an HTML page of a class (one grades folder) or of the term (several)",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("grades_dirs", nargs="+", metavar="GRADES_DIR", help="what `grade --out` wrote")
    p.add_argument(
        "--out", metavar="FILE", help="the page to write (default: GRADES_DIR/report.html)"
    )
    p.set_defaults(func=main)


def main(args):
    try:
        path = build_report(args.grades_dirs, args.out)
    except class_report.ReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0
