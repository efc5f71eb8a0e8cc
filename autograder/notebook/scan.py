"""Static scans of the extracted code: forbidden APIs by name, and suspicious constructs.

`forbidden_uses` resolves import aliases and attribute chains to report, per
cell, uses of APIs the assignment forbids (`keras.layers.MultiHeadAttention`,
`course_lib`, ...). The sandbox blocks them at run time; this gives feedback.
`suspicious_uses` reports constructs that can undo the sandbox's runtime guards
(`importlib.reload`, computed imports, `sys.modules`, `ctypes`, `gc.get_objects`...),
for the instructor's review only.
"""

import ast
import re


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
