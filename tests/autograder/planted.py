"""A planted set for the similarity check: disguised copies of the catalogs' solutions.

`disguise(source)` renames every local name and parameter, swaps adjacent independent
statements, and adds comments and blank lines; `write_planted_class` writes a class of the
reference, each correct alternative of the catalog, a disguised copy of each, and two
stub-only students, and returns who each student's code for each unit comes from.
"""

import ast
import io
import tokenize

from autograder.assignments.registry import get_catalog
from autograder.catalog import write_submission
from autograder.notebook.read import is_manual, is_solution

KEEP = {"self", "cls"}
STUB_A, STUB_B = "stub_a", "stub_b"
REFERENCE = "reference"


def _bound_names(func):
    """Parameters and names assigned inside `func` (its own locals)."""
    names = {a.arg for a in ast.walk(func.args) if isinstance(a, ast.arg)}
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names - KEEP


def _touched(stmt, ctx):
    """What `stmt` writes (`ast.Store`) or reads (`ast.Load`): names and attribute paths."""
    return {
        ast.unparse(n)
        for n in ast.walk(stmt)
        if isinstance(n, ast.Name | ast.Attribute) and isinstance(n.ctx, ctx)
    }


def _independent(a, b):
    """Two one-line assignments, neither of which reads or writes what the other writes."""
    simple = (ast.Assign, ast.AnnAssign, ast.AugAssign)
    if not all(isinstance(s, simple) and s.lineno == s.end_lineno for s in (a, b)):
        return False
    a_w, b_w = _touched(a, ast.Store), _touched(b, ast.Store)
    a_r, b_r = _touched(a, ast.Load), _touched(b, ast.Load)
    return not (a_w & (b_r | b_w)) and not (b_w & a_r)


def _swaps(body):
    """Line pairs to swap: adjacent independent assignments (left to right, not overlapping)."""
    swaps, i = [], 0
    while i + 1 < len(body):
        if _independent(body[i], body[i + 1]) and body[i + 1].lineno == body[i].lineno + 1:
            swaps.append(body[i].lineno - 1)
            i += 2
        else:
            i += 1
    for node in body:
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(node, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                swaps += _swaps(inner)
    return swaps


def _renamed_lines(source, mapping):
    """The lines of `source` with every name token in `mapping` renamed (not after a dot)."""
    lines = source.split("\n")
    edits, previous = [], None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and tok.string in mapping and previous != ".":
            edits.append((tok.start, tok.end, mapping[tok.string]))
        if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            previous = tok.string
    for (row, col), (_, end), new in reversed(edits):
        lines[row - 1] = lines[row - 1][:col] + new + lines[row - 1][end:]
    return lines


def disguise(source):
    """`source` with locals renamed, independent statements swapped, comments and blank lines.

    Works on the text (tokens and lines), so the rest of the formatting is the student's.
    """
    tree = ast.parse(source)
    top = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    mapping = {}
    for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        for name in _bound_names(func) - top:
            mapping[name] = f"my_{name[::-1]}"
    lines = _renamed_lines(source, mapping)
    for i in _swaps(tree.body):
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    starts = sorted({n.lineno for n in ast.walk(tree) if isinstance(n, ast.stmt)})
    comment_at = set(starts[1::2])
    returns = {n.end_lineno for n in ast.walk(tree) if isinstance(n, ast.Return)}
    out = []
    for number, line in enumerate(lines, start=1):
        if number in comment_at:
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# step {number}: as the lecture explains")
        out.append(line)
        if number in returns:
            out.append("")
    return "\n".join(out)


def write_planted_class(assignment, folder):
    """Writes the planted class; returns `({student: {unit: origin}}, {copy: source student})`.

    The origin of a unit's code is the catalog entry it comes from (an alternative's name, or
    "reference" for units the alternative leaves as the reference wrote them); a copy has
    the origins of its source. Stub-only students are not in the map (nothing to compare).
    """
    catalog = get_catalog(assignment)
    solved = {REFERENCE: {}, **catalog.alternatives}
    units = _solution_sources(assignment)
    origins, sources = {}, {}
    for name, cells in solved.items():
        full = {**units, **cells}
        origin = {u: (name if u in cells else REFERENCE) for u in units}
        write_submission(folder, name, assignment, cells)
        copy = f"copy_{name}"
        write_submission(folder, copy, assignment, {u: disguise(s) for u, s in full.items()})
        origins[name] = origins[copy] = origin
        sources[copy] = name
    for stub in (STUB_A, STUB_B):
        write_submission(folder, stub, assignment, kind="released")
    return origins, sources


def _solution_sources(assignment):
    from autograder.catalog import load_notebook

    return {
        cell["metadata"]["nbgrader"]["grade_id"]: "".join(cell["source"])
        for cell in load_notebook(assignment, "solution")["cells"]
        if is_solution(cell)
        and not is_manual(cell)  # a written answer or plot, graded by a person
        and not cell["metadata"]["nbgrader"]["grade_id"].startswith("answer_")
    }
