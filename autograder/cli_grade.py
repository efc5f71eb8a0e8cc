"""`python -m autograder grade`: its arguments and what it prints.

python -m autograder grade a1_attention submitted/ --out build/grades/a1
python -m autograder grade a1_attention submitted/ --out build/grades/a1 \
    --due "2026-03-02 00:00:00 UTC" --late-policy percent-per-day:10 --extensions ext.csv
python -m autograder grade a1_attention submitted/ --out build/grades/a1 --student alice
python -m autograder grade a1_attention submitted/ --out build/grades/a1 --unit causal_mask
"""

import sys
import tempfile
from pathlib import Path


def run(args):
    from autograder import batch
    from autograder.reports import exports
    from autograder.reports import results as reports
    from autograder.reports.late import LatePolicy

    try:
        policy = LatePolicy.parse(args.due, args.late_policy, args.extensions)
        if args.canvas_roster:
            exports.read_roster(args.canvas_roster)  # a bad roster stops before grading
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        extra = {}
        if args.time_limit:
            from autograder.sandbox import Limits

            extra["limits"] = Limits(wall_seconds=args.time_limit, cpu_seconds=int(args.time_limit))
        if args.answers:  # answer keys from JSON instead of the solution notebook
            from autograder.gradescope import answers_notebook

            extra["source_root"] = answers_notebook(args.answers, tmp, args.assignment)
        try:
            rows = batch.grade(
                args.assignment,
                args.submissions,
                args.out,
                jobs=args.jobs,
                force=args.force,
                isolation=args.isolation,
                allow_unisolated=args.allow_unisolated,
                progress=not args.quiet,
                late_policy=policy,
                students=args.student or (),
                units=args.unit or (),
                **extra,
            )
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    print(reports.summary_table(rows))
    out = Path(args.out)
    canvas, unmatched = exports.write_canvas(
        out, rows, args.canvas_column or args.assignment, args.canvas_roster
    )
    print(
        f"\ngrades: {out / 'grades.csv'} (a column per unit)\n"
        f"per check: {out / 'checks.csv'}\nCanvas import: {canvas}"
        + ("" if args.canvas_roster else " (give --canvas-roster to fill Canvas's ids)")
        + f"\nper student: {out}/<student>/results.json, feedback.html"
    )
    if unmatched:
        print(f"  not in the Canvas roster, left out of canvas.csv: {', '.join(unmatched)}")
    if args.gradebook:
        _record(args, out, policy)
    return 0


def _record(args, out, policy):
    from autograder.course import REPO
    from autograder.reports import gradebook

    name = f"{args.assignment}.ipynb"
    summary = gradebook.record(
        args.gradebook,
        args.assignment,
        REPO / "assignments" / args.assignment / name,
        out,
        submitted=args.submissions,
        force=args.force,
        duedate=args.due,
        late_penalty=policy.method if policy.method in ("none", "zero") else "none",
        extensions=policy.extensions,
    )
    print(f"gradebook {args.gradebook}: {summary.recorded} scores recorded")
    if policy.method == "percent-per-day":
        print(
            "  note: nbgrader's gradebook knows only the late policies 'none' and 'zero'; "
            "the percent-per-day penalty is in grades.csv only"
        )
    if summary.kept:
        print(f"  {len(summary.kept)} differing scores kept (use --force to replace them)")


def add_isolation_arguments(p):
    p.add_argument(
        "--isolation",
        choices=("auto", "landlock", "none"),
        default="auto",
        help="auto: the strongest sandbox layers this host allows (namespaces, else Landlock "
        "+ seccomp); landlock: skip namespaces; none: no sandbox layers, needs "
        "--allow-unisolated (default: %(default)s)",
    )
    p.add_argument(
        "--allow-unisolated",
        action="store_true",
        help="grade even when the host allows neither namespaces nor Landlock + seccomp: "
        "student code then runs with the grader's access to solutions and other students' "
        "work (see README)",
    )


def add_parser(sub):
    p = sub.add_parser("grade", help="grade submissions in the sandbox")
    p.add_argument("assignment")
    p.add_argument("submissions", help="nbgrader submitted/ folder, or a folder of <student>.ipynb")
    p.add_argument("--out", required=True, help="where grades.csv and per-student results go")
    p.add_argument("--jobs", type=int, default=2, help="sandboxes at once (default: %(default)s)")
    p.add_argument(
        "--force",
        action="store_true",
        help="regrade everyone on new hidden inputs, replacing recorded grades",
    )
    p.add_argument(
        "--student",
        action="append",
        metavar="NAME",
        help="regrade only this student (repeatable); with --unit, only those units",
    )
    p.add_argument(
        "--unit",
        action="append",
        metavar="NAME",
        help="regrade this unit (repeatable), on the run's same hidden inputs",
    )
    add_isolation_arguments(p)
    p.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="wall-clock and CPU limit of each sandbox job (default: 60; a suite may raise it "
        "for its training units); a cell or a graded call that runs past a quarter of it "
        "fails on its own",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--gradebook", metavar="DB_URL", help="also record the scores in this nbgrader gradebook"
    )
    p.add_argument(
        "--answers", metavar="JSON", help="concept-question keys (default: the solution notebook)"
    )
    p.add_argument(
        "--due",
        metavar="TIME",
        help="due date, e.g. '2026-03-02 00:00:00 UTC'; lateness is read from each "
        "submission's nbgrader timestamp.txt",
    )
    p.add_argument(
        "--late-policy",
        default="none",
        metavar="POLICY",
        help="none (record lateness only), zero, or percent-per-day:P (default: %(default)s)",
    )
    p.add_argument(
        "--extensions",
        metavar="CSV",
        help="per-student due dates: a CSV with the columns student,due (needs --due); "
        "used by the late policy and recorded in the gradebook",
    )
    p.add_argument(
        "--canvas-roster",
        metavar="CSV",
        help="Canvas's gradebook export, to fill canvas.csv with Canvas's student ids",
    )
    p.add_argument(
        "--canvas-column",
        metavar="NAME",
        help="the assignment's column in Canvas, e.g. 'A1 attention (123456)' "
        "(default: the assignment name; a new name creates the assignment)",
    )
    p.set_defaults(func=run)
