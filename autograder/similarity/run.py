"""`python -m autograder similarity`: compare a class's submissions per unit, write the report.

    python -m autograder similarity a1_attention submitted/ --out build/similarity/a1
    python -m autograder similarity a3_gpt submitted/ --threshold 0.7

Writes OUT/similarity.html (self-contained) and OUT/similarity.json (every pair's score),
prints the report's path and how many pairs are above the threshold. It flags pairs for a
person to review; no score is changed.
"""

import dataclasses
import json
import sys
from pathlib import Path

from autograder.reports import similarity_html
from autograder.reports.results import write_atomic
from autograder.similarity import compare, units


@dataclasses.dataclass
class SimilarityResult:
    report: Path
    flagged: int  # pairs (unit, two students) above the threshold
    pairs: dict  # unit -> [Pair], best first


def check(
    assignment,
    submitted,
    *,
    out=None,
    threshold=compare.THRESHOLD,
    release_root=units.REPO / "assignments",
):
    """Compares the submissions of `assignment` under `submitted`; returns a `SimilarityResult`."""
    out = Path(out or f"build/similarity/{assignment}")
    class_code = units.collect(assignment, submitted, release_root=release_root)
    pairs = compare.compare_class(class_code)
    ranking = compare.overall(pairs, threshold)
    parameters = {"k": compare.NOISE, "window": compare.GUARANTEE - compare.NOISE + 1}
    html = similarity_html.render(
        class_code, pairs, ranking, threshold=threshold, parameters=parameters
    )
    report = out / "similarity.html"
    write_atomic(report, html)
    rows = [
        {
            "unit": p.unit,
            "left": p.left,
            "right": p.right,
            "score": round(p.score, 4),
            "similarities": [round(s, 4) for s in p.similarities],
            "flagged": p.score > threshold,
        }
        for unit_pairs in pairs.values()
        for p in unit_pairs
    ]
    summary = {"assignment": assignment, "threshold": threshold, **parameters, "pairs": rows}
    write_atomic(out / "similarity.json", json.dumps(summary, indent=1))
    flagged = sum(r["flagged"] for r in rows)
    return SimilarityResult(report, flagged, pairs)


def add_parser(subparsers):
    """Registers `similarity` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "similarity",
        help="compare students per unit (copydetect); an HTML report of pairs to review",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("assignment")
    p.add_argument("submitted", metavar="SUBMITTED", help="nbgrader's submitted/ folder")
    p.add_argument("--out", metavar="DIR", help="default: build/similarity/<assignment>")
    p.add_argument(
        "--threshold",
        type=float,
        default=compare.THRESHOLD,
        help="flag pairs whose score is above it (default: %(default)s)",
    )
    p.add_argument(
        "--release",
        default=str(units.REPO / "assignments"),
        help="released notebooks root (default: the repository's assignments/)",
    )
    p.set_defaults(func=main)


def main(args):
    if not 0 <= args.threshold <= 1:
        print(f"error: --threshold must be in [0, 1]. Received: {args.threshold}", file=sys.stderr)
        return 2
    result = check(
        args.assignment,
        args.submitted,
        out=args.out,
        threshold=args.threshold,
        release_root=args.release,
    )
    print(result.report)
    print(f"{result.flagged} pair(s) above the threshold {args.threshold}")
    return 0
