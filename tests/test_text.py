import pyarrow as pa
import pytest

from rnn_dynamics.data.text import UNK_INDEX, Vocabulary, encode, tokenize


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("Hello World", ["hello", "world"]),
        ("Great film.<br /><br />Loved it!", ["great", "film", ".", "loved", "it", "!"]),
        ("a<br>b<br/>c<BR />d", ["a", "b", "c", "d"]),
        ("Don't stop", ["don", "'", "t", "stop"]),
        ('He said "wow" (twice), right?', ["he", "said", "wow", "(", "twice", ")", ",", "right", "?"]),
        ("one; two: three", ["one", "two", "three"]),  # torchtext drops ; and :
        ("well-made 10/10 ... <i>x</i>", ["well-made", "10/10", ".", ".", ".", "<i>x</i>"]),
        ("Café NAÏVE Ελληνικά", ["café", "naïve", "ελληνικά"]),
        ("non\u00a0breaking\ttab\nline", ["non", "breaking", "tab", "line"]),
        ("", []),
    ],
)
def test_tokenize_like_torchtext_basic_english(text, tokens):
    assert tokenize(text) == tokens


def test_vocabulary_orders_by_count_then_alphabetically_after_specials():
    vocab = Vocabulary.build([["b", "a", "c", "c"], ["b", "a", "d"]])
    assert vocab.tokens == ["<pad>", "<unk>", "a", "b", "c", "d"]
    assert vocab.counts == [0, 0, 2, 2, 2, 1]
    assert vocab.index["a"] == 2


def test_vocabulary_max_size_and_min_count_count_the_rest_as_unknown():
    tokens = [["x"] * 5 + ["y"] * 3 + ["z"] * 2 + ["w"]]
    assert Vocabulary.build(tokens, max_size=2).tokens == ["<pad>", "<unk>", "x", "y"]
    vocab = Vocabulary.build(tokens, min_count=2)
    assert vocab.tokens == ["<pad>", "<unk>", "x", "y", "z"]
    assert vocab.counts[UNK_INDEX] == 1


def test_literal_specials_in_text_are_unknown_words():
    vocab = Vocabulary.build([["<pad>", "<unk>", "ok"]])
    assert vocab.tokens == ["<pad>", "<unk>", "ok"]
    assert encode("<pad> ok nope", vocab.index) == [UNK_INDEX, 2, UNK_INDEX]


def test_encode_maps_unknown_and_truncates():
    index = Vocabulary.build([["good", "film", "."]]).index
    assert encode("Good film, bad film.", index) == [index["good"], index["film"], 1, 1, index["film"], index["."]]
    assert encode("Good film, bad film.", index, max_length=2) == [index["good"], index["film"]]


def test_vocabulary_table_round_trip():
    vocab = Vocabulary.build([["a", "b", "b"]])
    table = vocab.to_table()
    assert table.schema == pa.schema([("index", pa.int32()), ("token", pa.string()), ("count", pa.int64())])
    assert Vocabulary.from_table(table) == vocab
