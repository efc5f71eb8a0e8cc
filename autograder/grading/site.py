"""The files a sandbox job gets in its site/ directory: reference modules and support files.

A group names the course_lib modules whose references it injects (`Group.site_modules`)
and the trusted helper files it needs (`Group.support`). Every module they import from
course_lib is shipped too, followed through relative imports at any depth (`from .x`,
`from ..layers.y`) and through absolute `course_lib.` imports. Package `__init__` files are
shipped empty, so only the modules listed or imported are importable in the jail: injecting
`MultiHeadAttention` does not expose the reference `TransformerEncoderBlock` to the code
it grades. An import of a package's re-export (`from ..layers import X`) cannot be shipped
and raises `SiteError`: import X from its module instead.
"""

import ast
from pathlib import Path

COURSE_LIB = Path(__file__).resolve().parents[2] / "course_lib"
SUPPORT_PACKAGE = "grader_support"


class SiteError(ValueError):
    """A module cannot be shipped into the jail as it is; the message says what to change."""


def _module_path(dotted, importer):
    """`course_lib/<...>.py` for the dotted module name `course_lib.a.b` (a module, not a package)."""
    parts = dotted.split(".")
    path = COURSE_LIB.parent.joinpath(*parts)
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if path.is_dir():
        raise SiteError(
            f"{importer} imports from the package {dotted}, whose __init__ is not shipped into the "
            f"jail: import the names from their modules ({dotted}.<module>) instead."
        )
    raise SiteError(f"{importer} imports {dotted}, which is not a course_lib module.")


def _absolute(node, package):
    """The absolute module name an `ImportFrom` node refers to, from inside `package`."""
    if node.level == 0:
        return node.module
    base = package.split(".")
    if node.level > 1:
        base = base[: -(node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imported_modules(path, package):
    """The dotted names of the course_lib (or sibling support) modules a file imports."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "course_lib")
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            if module.split(".")[0] not in ("course_lib", SUPPORT_PACKAGE):
                continue
            if node.module is None:  # from . import x: x is a module
                yield from (f"{module}.{a.name}" for a in node.names)
            else:
                yield module


def site_files(modules=(), support=()):
    """`{"course_lib/layers/x.py": path, "grader_support/y.py": path, ...}` for a job's site/.

    Args:
        modules: paths under course_lib/ ("layers/multi_head_attention.py").
        support: paths of trusted helper files, shipped as `grader_support.<stem>`; their
            relative imports (`from . import other`) must name files also in `support`.
    """
    empty = _empty_init()
    files, todo = {}, [(COURSE_LIB / m, "course_lib") for m in modules]
    by_stem = {Path(p).stem: Path(p) for p in support}
    todo += [(path, SUPPORT_PACKAGE) for path in by_stem.values()]
    while todo:
        path, root = todo.pop()
        if root == SUPPORT_PACKAGE:
            rel, package = f"{SUPPORT_PACKAGE}/{path.name}", SUPPORT_PACKAGE
        else:
            rel = str(path.relative_to(COURSE_LIB.parent))
            package = ".".join(Path(rel).parent.parts)
        if rel in files:
            continue
        files[rel] = path
        parent = Path(rel).parent
        for folder in [parent, *parent.parents][:-1]:
            files.setdefault(f"{folder}/__init__.py", empty)
        for dotted in _imported_modules(path, package):
            if dotted.split(".")[0] == SUPPORT_PACKAGE:
                stem = dotted.split(".", 1)[1]
                if stem not in by_stem:
                    raise SiteError(f"{path} imports {dotted}, which the group does not ship.")
                todo.append((by_stem[stem], SUPPORT_PACKAGE))
            else:
                todo.append((_module_path(dotted, path), "course_lib"))
    return files


def group_site(group):
    """The site/ files of a group's job, or None when it ships nothing."""
    if not group.site_modules and not group.support:
        return None
    return site_files(group.site_modules, group.support)


def support_ref(path, attribute):
    """Where `attribute` of a shipped support file is in the jail, for `Group.inject`:
    "grader_support.<stem>:<attribute>"."""
    return f"{SUPPORT_PACKAGE}.{Path(path).stem}:{attribute}"


def support_name(path, attribute):
    """The name a call uses for `attribute` of a shipped support file ("site:grader_support...")."""
    return "site:" + support_ref(path, attribute)


# A package file in the repository (a fixed name in /tmp would be shared by every user).
EMPTY_INIT = Path(__file__).resolve().parent / "empty_init.py"


def _empty_init():
    return EMPTY_INIT
