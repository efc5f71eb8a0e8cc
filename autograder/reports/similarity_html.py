"""The similarity report as one self-contained HTML page (inline CSS, no script, no CDN).

An overall ranking of student pairs (units flagged, mean score), then per unit its pairs
best first, and side by side the two students' code of every flagged pair (and of each
unit's top pair) with the matched fragments marked. The data comes from
`autograder.similarity.compare`; the layout is `templates/similarity.html.j2` (Jinja2).
copydetect's own report is not used: it loads Bootstrap from a CDN and is not per unit.
"""

from datetime import datetime, timezone
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "similarity.html.j2"
LISTED = 15  # pairs listed per unit below the threshold


def segments(code, slices):
    """`code` cut into `[(text, matched)]` at the `(2, N)` [start, end) offsets of `slices`."""
    out, at = [], 0
    if len(slices) and len(slices[0]):
        for start, end in sorted(zip(slices[0].tolist(), slices[1].tolist())):
            start, end = max(int(start), at), min(int(end), len(code))
            if start >= end:
                continue
            if start > at:
                out.append((code[at:start], False))
            out.append((code[start:end], True))
            at = end
    if at < len(code):
        out.append((code[at:], False))
    return out


def anchor(*parts):
    return "-".join("".join(c if c.isalnum() else "_" for c in p) for p in parts)


def _unit_view(unit, pairs, codes, threshold):
    shown = [p for p in pairs if p.score > threshold] or pairs[:1]
    listed = [p for p in pairs if p.score > threshold] + [p for p in pairs if p.score <= threshold][
        :LISTED
    ]
    return {
        "name": unit,
        "anchor": anchor("u", unit),
        "pairs": [
            {
                "pair": p,
                "flagged": p.score > threshold,
                "anchor": anchor("p", unit, p.left, p.right),
            }
            for p in listed
        ],
        "more": len(pairs) - len(listed),
        "compared": sum(1 for c in codes.values() if c.strip()),
        "details": [
            {
                "pair": p,
                "flagged": p.score > threshold,
                "anchor": anchor("p", unit, p.left, p.right),
                "left": segments(codes[p.left], p.slices[0]),
                "right": segments(codes[p.right], p.slices[1]),
            }
            for p in shown
        ],
    }


def render(class_code, pairs_by_unit, ranking, *, threshold, parameters):
    """The page's HTML text."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    flagged = sum(p.score > threshold for pairs in pairs_by_unit.values() for p in pairs)
    first_flagged = {
        (p.left, p.right): anchor("p", unit, p.left, p.right)
        for unit, pairs in reversed(pairs_by_unit.items())
        for p in pairs
        if p.score > threshold
    }
    return env.get_template(TEMPLATE).render(
        assignment=class_code.assignment,
        students=class_code.students,
        skipped=class_code.skipped,
        threshold=threshold,
        parameters=parameters,
        flagged=flagged,
        compared=sum(len(p) for p in pairs_by_unit.values()),
        ranking=[o for o in ranking if o.flagged][:50],
        links=first_flagged,
        units=[
            _unit_view(u, pairs_by_unit[u], class_code.by_unit[u], threshold)
            for u in class_code.units
        ],
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
