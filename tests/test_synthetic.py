import tarfile
from collections import Counter

import numpy as np
import pytest

from rnn_dynamics.data import datasets, synthetic
from rnn_dynamics.data.synthetic import valence
from rnn_dynamics.data.text import tokenize


@pytest.mark.parametrize(
    "text, score",
    [
        ("good film", 1),
        ("bad film", -1),
        ("very good", 2),
        ("not good", -1),
        ("not very bad", 2),
        ("good not bad very awful bad", -1),
        ("not the plot", 0),
    ],
)
def test_valence_rule(text, score):
    assert valence(text.split()) == score


def test_word_lists_are_disjoint():
    lists = [synthetic.POSITIVE_WORDS, synthetic.NEGATIVE_WORDS, synthetic.NEUTRAL_WORDS, synthetic.NEGATORS,
             synthetic.INTENSIFIERS]  # fmt: skip
    words = [word for words in lists for word in words]
    assert len(words) == len(set(words))


def test_a_word_is_drawn_as_numpys_choice_draws_it_so_a_seed_keeps_its_reviews():
    """``_draw`` (the word lists as arrays, built once) takes the same numbers from the generator as
    ``rng.choice`` on the lists: the same words, and the generator left in the same state."""
    ours, numpys = np.random.default_rng(7), np.random.default_rng(7)
    for size in (None, 0, 1, 5, None, 12):
        for words in (synthetic.NEUTRAL_WORDS, synthetic.POSITIVE_WORDS, synthetic.CATEGORY_WORDS[3]):
            drawn = synthetic._draw(ours, np.array(words), size)
            expected = numpys.choice(words, size)
            assert drawn == (str(expected) if size is None else expected.tolist())
    assert ours.random() == numpys.random()


def test_reviews_are_balanced_unambiguous_and_within_length():
    reviews = synthetic.reviews(101, min_length=5, max_length=9, seed=3, task="ordered", classes=2, evidence_words=3)
    assert Counter(label for _, label in reviews) == {1: 51, 0: 50}
    for tokens, label in reviews:
        assert 5 <= len(tokens) <= 9
        assert valence(tokens) != 0
        assert (valence(tokens) > 0) == bool(label)
    assert synthetic.reviews(101, 5, 9, seed=3, task="ordered", classes=2, evidence_words=3) == reviews
    assert synthetic.reviews(101, 5, 9, seed=4, task="ordered", classes=2, evidence_words=3) != reviews


def test_archive_has_the_aclimdb_layout_and_is_reproducible(tmp_path, synthetic_archive):
    synthetic.write_archive(tmp_path / "again.tar.gz", synthetic.Settings(reviews_per_split=200, seed=0))
    assert (tmp_path / "again.tar.gz").read_bytes() == synthetic_archive.read_bytes()
    with tarfile.open(synthetic_archive) as tar:
        names = tar.getnames()
    assert len(names) == 400
    assert all(datasets.REVIEW_MEMBER.match(name) for name in names)
    table = datasets.read_archive(synthetic_archive)
    for text, label in zip(table.column("text").to_pylist()[:50], table.column("label").to_pylist()[:50]):
        tokens = [token for token in tokenize(text) if token != "."]
        assert (valence(tokens) > 0) == bool(label)
