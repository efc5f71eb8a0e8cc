"""The generated English -> French numbers task: spelling rules and fixed splits."""

import numpy as np
import pytest

from course_lib.data.translation import (
    SPLIT_SIZES,
    english_words,
    french_words,
    split_numbers,
    translation_pairs,
)

KNOWN = {
    0: ("zero", "zéro"),
    17: ("seventeen", "dix-sept"),
    21: ("twenty-one", "vingt et un"),
    71: ("seventy-one", "soixante et onze"),
    80: ("eighty", "quatre-vingts"),
    81: ("eighty-one", "quatre-vingt-un"),
    99: ("ninety-nine", "quatre-vingt-dix-neuf"),
    200: ("two hundred", "deux cents"),
    201: ("two hundred one", "deux cent un"),
    1000: ("one thousand", "mille"),
    1971: ("one thousand nine hundred seventy-one", "mille neuf cent soixante et onze"),
    5080: ("five thousand eighty", "cinq mille quatre-vingts"),
    9999: ("nine thousand nine hundred ninety-nine", "neuf mille neuf cent quatre-vingt-dix-neuf"),
}


@pytest.mark.parametrize("n", sorted(KNOWN))
def test_known_spellings(n):
    """Do the generators spell checked numbers as a dictionary would?"""
    assert (english_words(n), french_words(n)) == KNOWN[n]


def test_translations_are_unique_and_short():
    """Is each number spelt differently in each language, in under 30 words and hyphen parts?"""
    english = {english_words(n) for n in range(10000)}
    french = [french_words(n) for n in range(10000)]
    assert len(english) == len(set(french)) == 10000
    assert max(len(f.replace("-", " - ").split()) for f in french) < 30


def test_splits_are_fixed_and_disjoint():
    """Do the splits partition 0..9999 with the stated sizes, the same on every call?"""
    parts = {s: split_numbers(s) for s in SPLIT_SIZES}
    assert {s: len(p) for s, p in parts.items()} == SPLIT_SIZES
    assert np.array_equal(np.sort(np.concatenate(list(parts.values()))), np.arange(10000))
    np.testing.assert_array_equal(split_numbers("test"), parts["test"])
    assert translation_pairs("test")[0] == (
        english_words(int(parts["test"][0])),
        french_words(int(parts["test"][0])),
    )


def test_out_of_range_numbers_are_rejected():
    """Do numbers outside 0..9999 raise a ValueError naming the range?"""
    with pytest.raises(ValueError, match="0..9999"):
        french_words(10000)
    with pytest.raises(ValueError, match="Unknown split"):
        split_numbers("dev")
