"""The autograder's command line.

python -m autograder release a1_attention
python -m autograder grade a1_attention submitted/ --out build/grades/a1 --jobs 2
python -m autograder grade a1_attention submitted/ --out build/grades/a1 \
    --due "2026-03-02 00:00:00 UTC" --late-policy percent-per-day:10
python -m autograder validate assignments/a1_attention/a1_attention.ipynb
python -m autograder audit a3_gpt              # what the suite catches, on its catalog
python -m autograder report build/grades/a1    # the class's HTML page (several: the term)
python -m autograder similarity a1_attention submitted/ --out build/similarity/a1
python -m autograder gradescope a1_attention --out build/gradescope/a1_attention.zip
python -m autograder demo --out build/demo
"""

import argparse
import sys
from pathlib import Path

from autograder import cli_grade
from autograder.cli_grade import add_isolation_arguments
from autograder.reports import report_html
from autograder.similarity import run as similarity
from autograder.submissions import SubmissionsError


def release(args):
    from autograder import settings as course
    from autograder.release import release_assignment

    try:
        settings = course.load_settings(args.settings)
    except course.CourseSettingsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for name in args.assignment:
        path = release_assignment(
            name, source_root=args.source, release_root=args.release, settings=settings
        )
        print(f"released {name} -> {path}")
    for warning in course.release_warnings(settings):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def gradescope(args):
    from autograder.gradescope import build_archive

    path = build_archive(
        args.assignment,
        args.out,
        hidden_visibility=args.hidden_visibility,
        allow_unisolated=args.allow_unisolated,
    )
    print(f"Gradescope autograder archive: {path}")


def demo(args):
    from autograder import demo as demo_mod

    demo_mod.run(
        args.out,
        assignments=args.assignments or demo_mod.ASSIGNMENTS,
        jobs=args.jobs,
        isolation=args.isolation,
        allow_unisolated=args.allow_unisolated,
    )


def audit(args):
    from autograder import audit as audit_mod
    from autograder.reports.audit_text import format_report

    reports = audit_mod.audit_assignment(
        args.assignment, args.out or f"build/audit/{args.assignment}", jobs=args.jobs
    )
    for report in reports:
        print(format_report(report), end="\n\n")
    if args.json:
        audit_mod.write_json(reports, args.json)
    return 1 if any(r.problems for r in reports) else 0


def validate(args):
    from autograder.notebook import read as nb_mod
    from autograder.notebook.validate import validate as validate_notebook

    path = Path(args.notebook)
    assignment = args.assignment or path.stem
    released = Path(args.release) / assignment / f"{assignment}.ipynb"
    try:
        submission = nb_mod.read_notebook(path)
    except nb_mod.NotebookError as err:
        print(f"error: {err}")
        return 1
    problems = validate_notebook(submission, nb_mod.read_notebook(released), filename=path.name)
    for note in submission.notes:
        print(f"note: {note}")
    for problem in problems:
        print(f"problem: {problem.message}")
    print(
        "OK: every graded cell is in place."
        if not problems
        else f"{len(problems)} problem(s) found."
    )
    return 1 if problems else 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="write student notebooks from solutions/ into assignments/")
    p.add_argument("assignment", nargs="+")
    p.add_argument(
        "--source", default="solutions", help="solution notebooks root (default: %(default)s)"
    )
    p.add_argument(
        "--release", default="assignments", help="released notebooks root (default: %(default)s)"
    )
    p.add_argument(
        "--settings",
        default="course.toml",
        help="the course's settings: install line and Colab repo (default: %(default)s)",
    )
    p.set_defaults(func=release)

    cli_grade.add_parser(sub)

    p = sub.add_parser("gradescope", help="build a Gradescope autograder archive")
    p.add_argument("assignment")
    p.add_argument("--out", required=True, help="the .zip to write")
    p.add_argument(
        "--hidden-visibility",
        default="after_due_date",
        choices=("hidden", "after_due_date", "after_published", "visible"),
        help="when students see the results of the hidden checks (default: %(default)s); "
        "the notebook's public checks are always visible",
    )
    p.add_argument(
        "--allow-unisolated",
        action="store_true",
        help="let the archive grade even where its container offers no isolation (risky)",
    )
    p.set_defaults(func=gradescope)

    p = sub.add_parser("demo", help="release, grade a simulated class, fill the gradebook")
    p.add_argument("--out", default="build/demo", help="(default: %(default)s)")
    p.add_argument(
        "--assignments", nargs="+", help="default: every assignment (a1_attention ... a6_scaling)"
    )
    p.add_argument("--jobs", type=int, default=2)
    add_isolation_arguments(p)
    p.set_defaults(func=demo)

    p = sub.add_parser(
        "audit", help="grade the assignment's catalog of bugs; report what each check catches"
    )
    p.add_argument("assignment")
    p.add_argument("--out", help="where the catalog class is graded (default: build/audit/<a>)")
    p.add_argument("--jobs", type=int, default=2, help="sandboxes at once (default: %(default)s)")
    p.add_argument("--json", metavar="PATH", help="also write the reports as JSON")
    p.set_defaults(func=audit)

    p = sub.add_parser("validate", help="check a notebook before submitting it")
    p.add_argument("notebook")
    p.add_argument("--assignment", help="defaults to the notebook's file name")
    p.add_argument(
        "--release", default="assignments", help="released notebooks root (default: %(default)s)"
    )
    p.set_defaults(func=validate)
    report_html.add_parser(sub)
    similarity.add_parser(sub)

    args = parser.parse_args(argv)
    from autograder.sandbox import IsolationRefused

    try:
        return args.func(args) or 0
    except (SubmissionsError, KeyError, FileNotFoundError, IsolationRefused) as err:
        print(f"error: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2
