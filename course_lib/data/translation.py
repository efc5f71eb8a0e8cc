"""A generated translation task: numbers 0..9999 written in English words -> French words.

The task is small and exactly learnable, so a tiny encoder-decoder reaches a
high exact-match score on unseen numbers in a few CPU minutes, yet it has real
translation structure: reordering-free but not word-for-word (French says
"quatre-vingt-dix-sept" = 4x20+17 for ninety-seven, "soixante et onze" for
seventy-one, "deux cents" but "deux cent un").

English follows US usage without "and" ("one thousand two hundred thirty-four");
French follows the traditional spelling (hyphens under one hundred only, "et"
in 21, 31, ... 71, plural "vingts"/"cents" only when nothing follows, "mille"
invariable). The splits are fixed: a permutation of 0..9999 with seed 2024 gives
8,000 train, 1,000 validation and 1,000 test numbers.

Example:
    >>> english_words(1971), french_words(1971)
    ('one thousand nine hundred seventy-one', 'mille neuf cent soixante et onze')
"""

import numpy as np

SPLIT_SIZES = {"train": 8000, "validation": 1000, "test": 1000}
SPLIT_SEED = 2024
MAX_NUMBER = 9999

_EN_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_EN_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_FR_UNITS = [
    "zéro",
    "un",
    "deux",
    "trois",
    "quatre",
    "cinq",
    "six",
    "sept",
    "huit",
    "neuf",
    "dix",
    "onze",
    "douze",
    "treize",
    "quatorze",
    "quinze",
    "seize",
    "dix-sept",
    "dix-huit",
    "dix-neuf",
]
_FR_TENS = ["_", "_", "vingt", "trente", "quarante", "cinquante", "soixante"]


def _check(n: int) -> None:
    if not isinstance(n, int | np.integer) or not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"Numbers must be ints in 0..{MAX_NUMBER}. Received: {n!r}")


def english_words(n: int) -> str:
    """Writes 0 <= n <= 9999 in US English words."""
    _check(n)
    n = int(n)
    if n == 0:
        return "zero"
    words = []
    thousands, rest = divmod(n, 1000)
    hundreds, rest = divmod(rest, 100)
    if thousands:
        words += [_EN_UNITS[thousands], "thousand"]
    if hundreds:
        words += [_EN_UNITS[hundreds], "hundred"]
    if rest >= 20:
        tens, units = divmod(rest, 10)
        words.append(_EN_TENS[tens] + (f"-{_EN_UNITS[units]}" if units else ""))
    elif rest:
        words.append(_EN_UNITS[rest])
    return " ".join(words)


def _french_below_100(n: int, final: bool) -> str:
    """1..99 in French; `final` says the number ends here (for "quatre-vingts")."""
    if n < 20:
        return _FR_UNITS[n]
    tens, units = divmod(n, 10)
    if tens in (7, 9):  # 70-79 = 60 + 10..19, 90-99 = 80 + 10..19.
        base = "soixante" if tens == 7 else "quatre-vingt"
        joiner = " et " if n == 71 else "-"
        return base + joiner + _FR_UNITS[10 + units]
    if tens == 8:
        return (
            "quatre-vingt-" + _FR_UNITS[units]
            if units
            else "quatre-vingts"
            if final
            else "quatre-vingt"
        )
    if units == 0:
        return _FR_TENS[tens]
    if units == 1:
        return _FR_TENS[tens] + " et un"
    return _FR_TENS[tens] + "-" + _FR_UNITS[units]


def french_words(n: int) -> str:
    """Writes 0 <= n <= 9999 in French words (traditional spelling)."""
    _check(n)
    n = int(n)
    if n == 0:
        return "zéro"
    words = []
    thousands, rest = divmod(n, 1000)
    hundreds, rest = divmod(rest, 100)
    if thousands:
        words += ["mille"] if thousands == 1 else [_FR_UNITS[thousands], "mille"]
    if hundreds:
        if hundreds > 1:
            words.append(_FR_UNITS[hundreds])
        words.append("cents" if hundreds > 1 and rest == 0 else "cent")
    if rest:
        words.append(_french_below_100(rest, final=True))
    return " ".join(words)


def split_numbers(split: str) -> np.ndarray:
    """The numbers of a fixed split ("train", "validation" or "test"), in a fixed order."""
    if split not in SPLIT_SIZES:
        raise ValueError(f"Unknown split {split!r}; expected one of {sorted(SPLIT_SIZES)}.")
    order = np.random.default_rng(SPLIT_SEED).permutation(MAX_NUMBER + 1)
    start = 0
    for name, size in SPLIT_SIZES.items():
        if name == split:
            return order[start : start + size]
        start += size
    raise AssertionError("unreachable")


def translation_pairs(split: str = "train") -> list[tuple[str, str]]:
    """`(english, french)` string pairs of a split."""
    return [(english_words(int(n)), french_words(int(n))) for n in split_numbers(split)]
