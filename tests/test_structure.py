"""The shape of the code: no file over 300 lines, no import circle, an engine that names no assignment.

Read from the source with `ast` (nothing is imported), over the packages and scripts:
course_lib/, autograder/, benchmarks/, tools/. Tests and notebook sources are not counted.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("course_lib", "autograder", "benchmarks", "tools")
MAX_LINES = 300


def _files():
    for package in PACKAGES:
        yield from sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path):
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


MODULES = {_module_name(p): p for p in _files()}
TEST_MODULES = {_module_name(p) for p in (ROOT / "tests").rglob("*.py")}


def _resolve(name):
    """The repository module `name` refers to, or None (a third-party or stdlib module)."""
    while name and name not in MODULES and name not in TEST_MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path):
    """The repository modules a file imports, at any depth of the file (lazy imports too)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(base) if node.level else ""
            source = ".".join(x for x in (base, node.module or "") if x)
            targets = [f"{source}.{a.name}" for a in node.names]  # a submodule, or a name
        else:
            continue
        for target in targets:
            found = _resolve(target)
            if found and found != module:
                yield found


def _graph():
    graph = {}
    for name, path in MODULES.items():
        edges = set(_imports(path))
        graph[name] = edges
    return graph


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_file_over_300_lines():
    """Is every module of the packages at most 300 lines?"""
    long = {
        str(p.relative_to(ROOT)): n
        for p in _files()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these files (at most {MAX_LINES} lines): {long}"


def test_no_import_circle():
    """Does no module import itself back through others (lazy imports inside functions count)?"""
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_planted_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_course_lib_never_imports_the_grader():
    for name, edges in _graph().items():
        if name.startswith("course_lib"):
            assert not [e for e in edges if e.startswith(("autograder", "benchmarks"))], name


@pytest.mark.parametrize(
    "package", ["autograder.notebook", "autograder.grading", "autograder.reports"]
)
def test_the_engine_names_no_assignment(package):
    """Do the engine's modules (notebook/, grading/, reports/) stay clear of every assignment?"""
    from autograder.assignments.registry import ASSIGNMENTS

    pattern = re.compile("|".join(re.escape(a) for a in ASSIGNMENTS) + r"|\ba[1-9]_")
    for name, path in MODULES.items():
        if name.startswith(package):
            named = [text for text in _code_strings(path) if pattern.search(text)]
            assert not named, (name, named)
            assert not [e for e in _graph()[name] if e.startswith("autograder.assignments")], name


def _code_strings(path):
    """The string constants and names of a module's code (docstrings, examples, left out)."""
    tree = ast.parse(path.read_text())
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.value
        elif isinstance(node, ast.Name):
            yield node.id


def test_nothing_in_the_packages_imports_the_tests():
    for name, edges in _graph().items():
        assert not [e for e in edges if e.startswith("tests")], name


def _top_level_definitions(path):
    """The public functions and classes a module defines at its top level."""
    tree = ast.parse(path.read_text(), str(path))
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {n.name for n in tree.body if isinstance(n, kinds) and not n.name.startswith("_")}


def _copies_of_course_lib(grading_files):
    """{file name: names} of grading files that define again a function or class of course_lib."""
    reference = set()
    for name, path in MODULES.items():
        if name.startswith("course_lib"):
            reference |= _top_level_definitions(path)
    reference -= {"main", "run"}  # entry points, not reference code
    copies = {}
    for path in grading_files:
        if found := _top_level_definitions(path) & reference:  # keyed by file name
            copies[path.name] = sorted(found)
    return copies


def test_no_grading_file_copies_course_lib():
    """Does no suite or support file define again what course_lib has (it ships course_lib instead)?"""
    grading = [
        p
        for p in (ROOT / "autograder" / "assignments").rglob("*.py")
        if {"suite", "support"} & set(p.parts)
    ]
    assert len(grading) > 20
    assert _copies_of_course_lib(grading) == {}


def test_the_copy_finder_finds_a_planted_copy(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def filter_logits(logits, top_k=0, top_p=1.0):\n    return logits\n")
    assert _copies_of_course_lib([planted]) == {"planted.py": ["filter_logits"]}
