"""Pairwise similarity of the students' code per unit, with copydetect's winnowing.

copydetect tokenises Python with Pygments and replaces every name by one letter (variables
`V`, functions `F`, classes `O`) and every string by `S`, drops comments and whitespace, then
fingerprints k-grams of that text (winnowing; Schleimer, Wilkerson and Aiken 2003, as MOSS).
Renamed variables, added comments and blank lines change nothing; reordered statements only
break the k-grams across the moved lines. The fingerprints of a unit's boilerplate (its
stub and the notebook's own cells) are removed before comparing (copydetect's `boilerplate`).

A pair's score is the smaller of its two copydetect similarities (the share of each side's
fingerprinted code found in the other): a short unit entirely contained in a long one is
not flagged unless the long one is mostly the short one too.
"""

import dataclasses
import io
import itertools

import numpy as np
from copydetect import CodeFingerprint, compare_files

NOISE = 15  # k: matches shorter than this many filtered characters are ignored
GUARANTEE = 19  # every match at least this long is found (window = GUARANTEE - NOISE + 1)
THRESHOLD = 0.6  # pairs scoring above it are flagged for review (see tests/.../test_similarity)


@dataclasses.dataclass
class Pair:
    """Two students' code for one unit, compared.

    Attributes:
        unit, left, right: the unit and the two students (left < right).
        score: min of `similarities`, in [0, 1].
        similarities: the share of each side's fingerprinted code found in the other.
        slices: for each side, a `(2, N)` array of [start, end) character offsets of the
            matched fragments in its code.
        tokens: the number of matching filtered characters.
    """

    unit: str
    left: str
    right: str
    score: float
    similarities: tuple
    slices: tuple
    tokens: int


def _fingerprint(code, boilerplate=()):
    if not code.strip():
        return None
    try:
        print_ = CodeFingerprint(
            "unit.py",
            NOISE,
            GUARANTEE - NOISE + 1,
            boilerplate=boilerplate,
            language="python",
            fp=io.StringIO(code),
        )
    except (ValueError, IndexError):  # shorter than one k-gram
        return None
    return print_ if print_.hashes else None


def boilerplate_hashes(text):
    """Every k-gram hash of `text` (window 1, as copydetect does for its boilerplate files)."""
    if not text.strip():
        return np.array([], dtype=np.int64)
    fingerprint = CodeFingerprint(
        "boilerplate.py", NOISE, 1, language="python", fp=io.StringIO(text)
    )
    return np.unique(np.array(sorted(fingerprint.hashes), dtype=np.int64))


def compare_unit(unit, codes, boilerplate=""):
    """Every pair of students in `codes` ({student: code}) for `unit`, best first.

    Students whose code leaves no fingerprint once the boilerplate is removed (an untouched
    stub, a one-liner shorter than k) are in no pair.
    """
    skip = boilerplate_hashes(boilerplate)
    prints = {s: _fingerprint(code, skip) for s, code in sorted(codes.items())}
    prints = {s: p for s, p in prints.items() if p is not None}
    pairs = []
    for left, right in itertools.combinations(sorted(prints), 2):
        tokens, sims, slices = compare_files(prints[left], prints[right])
        sims = tuple(float(min(s, 1.0)) for s in sims)
        pairs.append(Pair(unit, left, right, min(sims), sims, slices, int(tokens)))
    pairs.sort(key=lambda p: (-p.score, p.left, p.right))
    return pairs


def compare_class(class_code):
    """`{unit: [Pair, ...]}` for every unit of a `units.ClassCode`, each list best first."""
    return {
        unit: compare_unit(unit, class_code.by_unit[unit], class_code.boilerplate[unit])
        for unit in class_code.units
    }


@dataclasses.dataclass
class Overall:
    """Two students over the whole assignment: how many units and how much they share."""

    left: str
    right: str
    flagged: tuple  # units whose pair is above the threshold
    mean: float  # mean score over the units both students wrote
    units: int  # how many units both students wrote


def overall(pairs_by_unit, threshold=THRESHOLD):
    """The student pairs ranked by flagged units, then by mean score; pairs with no unit left out."""
    by_pair = {}
    for unit, pairs in pairs_by_unit.items():
        for p in pairs:
            by_pair.setdefault((p.left, p.right), []).append((unit, p.score))
    ranked = [
        Overall(
            left,
            right,
            tuple(u for u, s in scores if s > threshold),
            sum(s for _, s in scores) / len(scores),
            len(scores),
        )
        for (left, right), scores in by_pair.items()
    ]
    ranked.sort(key=lambda o: (-len(o.flagged), -o.mean, o.left, o.right))
    return ranked
