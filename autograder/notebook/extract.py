"""Extract the code to run from a submission, and spot forbidden APIs statically.

`extract` builds one module from the solution cells (matched to the released
notebook by grade_id, or by name when metadata was stripped) plus the
student's own imports and helpers from other code cells. It never runs code:
it filters top-level statements with `ast`.

- Other code cells keep only `import`, `def`, `class` and assignments to plain
  names of values without calls (constants, simple expressions).
- Solution cells keep `import`, `def`, `class` and every assignment (answers);
  bare expressions, `if __name__ == ...` blocks and loops are dropped.
- Test (grade) cells and read-only cells are never included.
- Imports of the `given` packages (the suite's `GIVEN_PACKAGES`, e.g. `course_lib` from a3
  on) are dropped from the code that runs: the grader injects the given names itself, so no
  cell can bring in the reference of a graded unit (solution cells keep them in `chunks`,
  so the forbidden-API scan still reports them by name).
- IPython magics and shell lines are removed before parsing; a cell that still
  does not parse is left out and reported.

`forbidden_uses` resolves import aliases and attribute chains to report, per
cell, uses of APIs the assignment forbids (`keras.layers.MultiHeadAttention`,
`course_lib`, ...). The sandbox blocks them at run time; this gives feedback.
`suspicious_uses` reports constructs that can undo the sandbox's runtime guards
(`importlib.reload`, computed imports, `sys.modules`, `ctypes`, `gc.get_objects`...),
for the instructor's review only.
"""

import ast
import re
from dataclasses import dataclass, field

from autograder.notebook import (
    Notebook,
    grade_id,
    is_grade,
    is_locked,
    is_solution,
    match_graded_cells,
)

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
                run = f"\n# --- cell {label} ---\n".join(pieces)
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
            parts.append(f"# --- cell {label} ---\n{run}\n")
    result.source = "\n".join(parts)
    return result


def _is_released_solution(gid, released_cells):
    return any(grade_id(c) == gid and is_solution(c) for c in released_cells)


# --- Forbidden APIs -------------------------------------------------------------------------


def _canonical(name):
    """`tensorflow.keras.x` and `tf.keras.x` read as `keras.x`; `tensorflow.x` as `tf.x`."""
    for prefix in ("tensorflow.keras.", "tf.keras."):
        if name.startswith(prefix):
            return "keras." + name[len(prefix) :]
    if name.startswith("tensorflow."):
        return "tf." + name[len("tensorflow.") :]
    return {"tensorflow": "tf"}.get(name, name)


def _matches(qualified, forbidden):
    """True if the resolved name `qualified` is (or lies inside) the forbidden API."""
    qualified, target = _canonical(qualified), _canonical(forbidden)
    if qualified == target or qualified.startswith(target + "."):
        return True
    # keras.src.layers.attention.multi_head_attention.MultiHeadAttention and friends.
    head, _, last = target.rpartition(".")
    return (
        head.startswith("keras")
        and qualified.startswith("keras.src.")
        and qualified.rpartition(".")[2] == last
    )


def _aliases(tree):
    """Maps every name bound by an import anywhere in `tree` to the dotted name it stands for."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    aliases[a.asname] = a.name
                else:
                    root = a.name.split(".")[0]
                    aliases[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def _dotted(node):
    """`a.b.c` for a chain of attributes on a name (also `getattr(a.b, "c")`), else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    ):
        base = _dotted(node.args[0])
        return f"{base}.{node.args[1].value}" if base else None
    return None


def _names_used(tree, aliases):
    """Yields the fully qualified names an AST refers to through imports."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)
        elif (
            isinstance(node, ast.Call)
            and _dotted(node.func) in ("importlib.import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            yield str(node.args[0].value)
        if isinstance(node, ast.Attribute | ast.Name | ast.Call):
            dotted = _dotted(node)
            if dotted:
                root, _, rest = dotted.partition(".")
                if root in aliases:
                    yield aliases[root] + ("." + rest if rest else "")


def forbidden_uses(extraction, forbidden_names):
    """Static report of forbidden APIs, per cell label.

    Args:
        extraction: an `Extraction`.
        forbidden_names: dotted names, e.g. `["keras.layers.MultiHeadAttention", "course_lib"]`.

    Returns:
        `{label: sorted forbidden names used in that cell}`, only cells with a use.
    """

    def find(tree, aliases):
        found = set()
        for qualified in _names_used(tree, aliases):
            candidates = [f for f in forbidden_names if _matches(qualified, f)]
            if candidates:
                spelled = re.sub(r"^tensorflow\.", "tf.", qualified)
                same_root = [f for f in candidates if spelled == f or spelled.startswith(f + ".")]
                found.add((same_root or candidates)[0])
        return found

    return _report_per_cell(extraction, find)


def _report_per_cell(extraction, find):
    """`{label: sorted findings}` of `find(tree, aliases)` over each parsable cell."""
    try:
        aliases = _aliases(ast.parse(extraction.source))
    except SyntaxError:
        aliases = {}
    report = {}
    for label, code in extraction.chunks.items():
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        found = find(tree, aliases)
        if found:
            report[label] = sorted(found)
    return report


# --- Suspicious constructs ----------------------------------------------------------------

# Resolved names (through imports) that let code undo the sandbox's runtime guards or reach
# into the grader's memory; prefixes match submodules and attributes ("signal.signal").
SUSPICIOUS_NAMES = {
    "importlib.reload": "importlib.reload",
    "ctypes": "ctypes",
    "os._exit": "os._exit",
    "signal": "signal",
    "gc.get_objects": "gc.get_objects",
    "gc.get_referrers": "gc.get_referrers",
    "sys._getframe": "sys._getframe",
    "inspect.currentframe": "inspect.currentframe",
}
_IMPORTERS = ("importlib.import_module", "__import__", "importlib.reload")


def _resolve(dotted, aliases):
    root, _, rest = dotted.partition(".")
    if root in aliases:
        return aliases[root] + ("." + rest if rest else "")
    return dotted


def _module_names(tree, aliases):
    """Names bound to modules: import aliases, and names assigned from an import call."""
    names = set(aliases)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = _dotted(node.value.func)
            if func and _resolve(func, aliases) in _IMPORTERS:
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _suspicious_in(tree, aliases):
    found = set()
    for qualified in _names_used(tree, aliases):
        for prefix, label in SUSPICIOUS_NAMES.items():
            if qualified == prefix or qualified.startswith(prefix + "."):
                found.add(label)
    membership = {  # `"google.colab" in sys.modules` only reads: not flagged
        id(c) for n in ast.walk(tree) if isinstance(n, ast.Compare)
        for op, c in zip(n.ops, n.comparators, strict=True) if isinstance(op, ast.In | ast.NotIn)
    }  # fmt: skip
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute | ast.Name) and id(node) not in membership:
            dotted = _dotted(node)
            if dotted and _resolve(dotted, aliases) == "sys.modules":
                found.add("sys.modules")
    modules = _module_names(tree, aliases)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = _dotted(node.func)
        func = _resolve(func, aliases) if func else None
        literal = isinstance(node.args[0], ast.Constant)
        if func in ("importlib.import_module", "__import__") and not literal:
            found.add(f"{func} with a computed module name")
        if func == "getattr" and len(node.args) >= 2:
            name_literal = isinstance(node.args[1], ast.Constant)
            base = _dotted(node.args[0]) or ""
            on_module = base.partition(".")[0] in modules or (
                isinstance(node.args[0], ast.Call)
                and _dotted(node.args[0].func) in ("getattr", *_IMPORTERS)
            )
            if on_module and not name_literal:
                found.add("getattr on a module with a computed name")
    return found


def suspicious_uses(extraction):
    """Static report of constructs that can undo the sandbox's guards, per cell label.

    They are flagged for the instructor's review, never penalised automatically:
    `importlib.reload`, `importlib.import_module`/`__import__` with a computed name,
    `getattr` on a module with a computed name, `sys.modules`, `ctypes`, `os._exit`,
    `signal`, `gc.get_objects`/`gc.get_referrers`, `sys._getframe`, `inspect.currentframe`.

    Returns:
        `{label: sorted descriptions}`, only cells with a finding.
    """
    return _report_per_cell(extraction, _suspicious_in)
