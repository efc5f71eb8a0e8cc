"""Which groups of a plan share one sandbox job (a bundle).

Every sandbox job pays for a fork and for TensorFlow's first ops (each kernel is set up on
first use in a fresh process), about a quarter of a second, which is most of what a small
group costs. A bundle runs several groups one after another in one job
(``autograder.sandbox.protocol.write_bundle``); a group the bundle did not finish is rerun
as its own job, so one unit's crash still costs only that unit.

Groups share a job only when the reference code of no graded unit is in it: none of their
sites (the reference modules and support files shipped into the jail) defines, at top
level, a function or class named after one of the assignment's units. In one process a
later group could otherwise reach an earlier group's references (they stay in memory), or
rewrite an earlier group's results with the help of its own. A group whose site holds a
unit's reference runs alone, as do groups that split the CPU into logical devices
(``logical_cpus``): TensorFlow allows that only at start-up.
"""

import ast
import functools
import math
from pathlib import Path


@functools.lru_cache(maxsize=256)
def _top_level_names(path):
    tree = ast.parse(Path(path).read_text(), path)
    return frozenset(
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    )


def holds_unit(files, units) -> bool:
    """Whether a site (`{path in the jail: source file}`) defines one of `units`."""
    return any(
        src is not None and str(src).endswith(".py") and _top_level_names(str(src)) & set(units)
        for src in (files or {}).values()
    )


def chains(groups, sites, units):
    """The groups in runs, `[[group, ...], ...]`: one run for every group that may share.

    Args:
        groups: the plan's groups, in plan order.
        sites: `{group name: {path in the jail: source file}}` (`grading.site.group_site`).
        units: the assignment's unit names.
    """
    shared, alone = [], []
    for group in groups:
        if group.logical_cpus or holds_unit(sites[group.name], units):
            alone.append([group])
        else:
            shared.append(group)
    return ([shared] if shared else []) + alone


def split(runs, parts):
    """Cut runs in two (the one with the most calls first) until there are `parts` of them."""
    runs = [list(r) for r in runs]
    while len(runs) < parts:
        longest = max(runs, key=lambda r: (len(r) > 1, sum(len(g.calls) for g in r)))
        if len(longest) < 2:
            break
        calls = [len(g.calls) for g in longest]
        half = sum(calls) / 2
        cut = min(range(1, len(longest)), key=lambda i: abs(sum(calls[:i]) - half))
        index = runs.index(longest)
        runs[index : index + 1] = [longest[:cut], longest[cut:]]
    return runs


def runs_per_student(students, jobs):
    """How many jobs each student's groups go in: enough to keep `jobs` slots busy."""
    return max(1, math.ceil(jobs / max(1, students)))
