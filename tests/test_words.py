"""The words for a fixed-point set or a measure (``dynamics.words``), on measures whose word is known."""

import math

import pytest

from rnn_dynamics.dynamics import words


@pytest.mark.parametrize(
    "count, extent, pcs_90, ratio, classes, word",
    [
        (0, math.nan, math.nan, math.nan, 2, "no fixed point"),
        (1, math.nan, math.nan, math.nan, 2, "point"),
        (300, 0.04, 1, 1.02, 2, "point"),  # a line's shares, but no spread: one point
        (300, 0.3, 1, 1.02, 2, "segment"),
        (300, 0.9, 1, 1.06, 5, "line"),
        (300, 0.9, 2, 1.94, 4, "plane"),
        (300, 0.9, 2, 1.74, 3, "N - 1 manifold"),
        (300, 0.9, 3, 2.53, 4, "N - 1 manifold"),
        (300, 0.9, 3, 2.03, 4, "between 2 and 3 dimensions"),  # pcs_90 alone would say N - 1
        (300, 0.9, 4, 3.9, 8, "4-dimensional manifold"),
    ],
)
def test_each_set_gets_the_one_word_its_measures_decide(count, extent, pcs_90, ratio, classes, word):
    assert words.shape(count, extent, pcs_90, ratio, classes) == word


def test_a_set_the_rule_calls_a_point_is_never_called_a_line():
    for extent in (0.0, 0.02, 0.06, words.POINT_EXTENT * 0.999):
        assert words.shape(500, extent, 1, 1.0, 2) == "point"
    assert words.shape(500, words.POINT_EXTENT, 1, 1.0, 2) == "segment"
    assert words.shape(500, words.LINE_EXTENT, 1, 1.0, 2) == "line"


def test_beyond_its_null_is_on_the_side_that_means_structure():
    assert words.beyond_null(0.99, 0.1, 0.5) and not words.beyond_null(0.3, 0.1, 0.5)
    assert words.beyond_null(1.2, 3.0, 9.0, "smaller") and not words.beyond_null(12.0, 3.0, 9.0, "smaller")
    assert words.beyond_null(12.0, 3.0, 9.0, "either") and not words.beyond_null(5.0, 3.0, 9.0, "either")
    assert words.beyond_null(0.99, float("nan"), 0.5)  # a null of its 95th percentile alone
    assert not words.beyond_null(math.nan, 0.1, 0.5)
    assert words.null_word(True) == "beyond its null" and words.null_word(False) == "within its null"
    assert words.chance_word(True) == "at chance" and words.chance_word(False) == "above chance"


def test_a_modifier_gain_is_named_only_beyond_its_null():
    assert words.gain_word(-0.6, True) == "flips"
    assert words.gain_word(0.4, True) == "scales down"
    assert words.gain_word(words.GAIN_SCALES_UP, True) == "scales up"
    assert words.gain_word(-0.6, False) == words.gain_word(3.0, False) == "within its null"
    assert words.gain_word(float("nan"), True) == "n/a"


@pytest.mark.parametrize(
    ("word", "phrase"),
    [("line", "a line"), ("N - 1 manifold", "an N - 1 manifold"), ("between 2 and 3 dimensions",
     "a set between 2 and 3 dimensions"), ("3-dimensional manifold", "a 3-dimensional manifold"), ("plane", "a plane")],
)  # fmt: skip
def test_a_shape_word_reads_with_its_article(word, phrase):
    assert words.with_article(word) == phrase
