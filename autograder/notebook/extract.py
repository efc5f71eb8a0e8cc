"""Extract the code to run from a submission.

`extract` builds one module from the solution cells (matched to the released
notebook by grade_id, or by name when metadata was stripped) plus the
student's own imports and helpers from other code cells. It never runs code:
it filters top-level statements with `ast`.

- Other code cells keep only `import`, `def`, `class` and assignments to plain
  names of values without calls (constants, simple expressions).
- Solution cells keep `import`, `def`, `class` and every assignment (answers);
  bare expressions, `if __name__ == ...` blocks and loops are dropped.
- Test (grade) cells, read-only cells and manually graded answers (nbgrader's
  `grade` and `solution` cells, e.g. a plot) are never included.
- Imports of the `given` packages (the suite's `GIVEN_PACKAGES`, e.g. `course_lib` from a3
  on) are dropped from the code that runs: the grader injects the given names itself, so no
  cell can bring in the reference of a graded unit (solution cells keep them in `chunks`,
  so the forbidden-API scan still reports them by name).
- IPython magics and shell lines are removed before parsing; a cell that still
  does not parse is left out and reported.

The scans of the extracted code (forbidden APIs, suspicious constructs) are in
`autograder.notebook.scan`.
"""

import ast
import re
from dataclasses import dataclass, field

from autograder.notebook.read import Notebook, grade_id, is_grade, is_locked, is_solution
from autograder.notebook.validate import match_graded_cells
from autograder.sandbox.protocol import CELL_MARKER

CELL_MAGICS_WITH_PYTHON = {"time", "timeit", "capture", "prun"}
MAGIC_LINE = re.compile(r"^(\s*)(%|!|\?|[\w.]+\?\??\s*$|\w+\s*=\s*[%!])")


@dataclass
class Extraction:
    """The code to run for one submission.

    Attributes:
        source: one module; each kept chunk is preceded by `# --- cell <label> ---`,
            the label being the grade_id of a solution cell or the cell index.
        units_present: grade_ids of solution cells found and included.
        syntax_errors: grade_id -> "line N: message" for solution cells left out.
        notes: what was matched loosely or skipped, for the student's feedback.
        chunks: label -> the code kept from that cell (the pieces of `source`).
    """

    source: str
    units_present: set[str] = field(default_factory=set)
    syntax_errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    chunks: dict[str, str] = field(default_factory=dict)


def strip_magics(source):
    """Replaces IPython magics and shell lines by `pass`, keeping line numbers.

    Returns `None` for a cell magic whose body is not Python (`%%bash`, `%%writefile`).
    """
    lines = source.split("\n")
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split(maxsplit=1)
        if not magic or magic[0] not in CELL_MAGICS_WITH_PYTHON:
            return None
        lines[0] = "pass"
    out = []
    for line, starts_statement in zip(lines, _statement_starts(lines), strict=True):
        match = MAGIC_LINE.match(line) if starts_statement else None
        out.append(match.group(1) + "pass" if match else line)
    return "\n".join(out)


def _statement_starts(lines):
    """Yields, per line, whether it begins a new logical line (not inside brackets or a string).

    So `% x` continuing `("%d"` on the line before is not taken for a magic.
    """
    depth, quote, continued = 0, None, False
    for line in lines:
        yield depth == 0 and quote is None and not continued
        i = 0
        while i < len(line):
            if quote:
                if line.startswith(quote, i):
                    quote, i = None, i + len(quote)
                    continue
                i += 2 if line[i] == "\\" else 1
                continue
            char = line[i]
            if char == "#":
                break
            if char in "\"'":
                quote = char * 3 if line.startswith(char * 3, i) else char
                i += len(quote)
                continue
            depth += char in "([{"
            depth -= char in ")]}"
            i += 1
        if quote is not None and len(quote) == 1:
            quote = None  # an unterminated one-line string: a syntax error, reported later
        continued = line.rstrip().endswith("\\") and not line.rstrip().endswith("\\\\")
        depth = max(depth, 0)


def _is_simple_value(node):
    """True for literals and expressions that call nothing (no calls, lambdas, await, yield)."""
    banned = (ast.Call, ast.Lambda, ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)
    return not any(isinstance(n, banned) for n in ast.walk(node))


def _plain_targets(targets):
    def plain(t):
        return isinstance(t, ast.Name) or (
            isinstance(t, ast.Tuple | ast.List) and all(plain(e) for e in t.elts)
        )

    return all(plain(t) for t in targets)


def _keep_helper(node):
    if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef):
        return True
    if isinstance(node, ast.AsyncFunctionDef):
        return True
    if isinstance(node, ast.Assign):
        return _plain_targets(node.targets) and _is_simple_value(node.value)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and (
            node.value is None or _is_simple_value(node.value)
        )
    return False


def _keep_solution(node):
    kept = (
        ast.Import,
        ast.ImportFrom,
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.ClassDef,
        ast.Assign,
        ast.AnnAssign,
        ast.AugAssign,
    )
    return isinstance(node, kept)


def _imports_from(node, packages):
    """True if `node` imports from one of `packages` (top-level names)."""
    if isinstance(node, ast.Import):
        return any(a.name.partition(".")[0] in packages for a in node.names)
    if isinstance(node, ast.ImportFrom):
        return node.level == 0 and (node.module or "").partition(".")[0] in packages
    return False


def _pieces(source, keep):
    """The sources of the top-level statements of `source` that `keep` accepts."""
    tree = ast.parse(source)
    lines = source.split("\n")
    pieces = []
    for node in tree.body:
        if keep(node):
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            pieces.append("\n".join(lines[start - 1 : node.end_lineno]))
    return pieces


def _filter(source, keep):
    """Returns the source of the top-level statements of `source` that `keep` accepts."""
    return "\n".join(_pieces(source, keep))


def _syntax_message(error):
    return f"line {error.lineno}: {error.msg}"


def extract(submission, released, given=()):
    """Builds the module to run in the sandbox from a submission.

    Args:
        submission: the student's `Notebook` (from `read_notebook`).
        released: the released `Notebook` (defines which cells are graded).
        given: packages whose imports are dropped from non-solution cells.

    Returns:
        An `Extraction`.
    """
    if not isinstance(submission, Notebook):
        submission = Notebook(path=None, nb=submission)
    matches = match_graded_cells(submission, released)
    released_cells = released.cells if isinstance(released, Notebook) else released["cells"]
    solution_ids = {gid for gid, m in matches.items() if _is_released_solution(gid, released_cells)}
    unit_at = {matches[gid].index: gid for gid in solution_ids}
    locked_at = {m.index for gid, m in matches.items() if gid not in solution_ids}
    result = Extraction(source="")
    for gid in sorted(solution_ids):
        how = matches[gid].how
        if how != "grade_id":
            by = {"names": "the names it defines", "position": "its position"}.get(how, how)
            result.notes.append(f"The cell for '{gid}' was found by {by} (metadata missing).")
    parts = []
    for index, cell in enumerate(submission.cells):
        if cell.cell_type != "code":
            continue
        gid = unit_at.get(index)
        graded = is_solution(cell) or is_grade(cell) or is_locked(cell) or index in locked_at
        if gid is None and graded:
            continue  # tests, read-only cells, copies of a solution cell
        label = gid or str(index)
        source = strip_magics(cell.source)
        if source is None:
            result.notes.append(
                f"Cell {index} is a cell magic ({cell.source.split()[0]}): skipped."
            )
            continue
        try:
            if gid:
                code = _filter(source, _keep_solution)
                run = _filter(
                    source, lambda node: _keep_solution(node) and not _imports_from(node, given)
                )
            else:
                pieces = _pieces(
                    source, lambda node: _keep_helper(node) and not _imports_from(node, given)
                )
                code = "\n".join(pieces)
                # Each helper statement runs on its own: one that fails in the sandbox (a name
                # from a line that was left out) does not take the helpers after it along.
                run = f"\n{CELL_MARKER}{label} ---\n".join(pieces)
        except SyntaxError as error:
            if gid:
                result.syntax_errors[gid] = _syntax_message(error)
                result.notes.append(
                    f"The cell '{gid}' has a syntax error ({_syntax_message(error)}); it was "
                    f"left out, so '{gid}' cannot be graded. Other cells still run."
                )
            else:
                result.notes.append(
                    f"Cell {index} has a syntax error ({_syntax_message(error)}) and was skipped."
                )
            continue
        if gid:
            result.units_present.add(gid)
        if code.strip():
            result.chunks[label] = code  # what the scans read; `run` is what the sandbox runs
            parts.append(f"{CELL_MARKER}{label} ---\n{run}\n")
    result.source = "\n".join(parts)
    return result


def _is_released_solution(gid, released_cells):
    """A solution cell the grader runs: not a manually graded answer (grade and solution)."""
    return any(grade_id(c) == gid and is_solution(c) and not is_grade(c) for c in released_cells)
