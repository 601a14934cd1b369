import logging
import zipfile

import numpy as np
import pytest

from rnn_dynamics.data import embeddings
from rnn_dynamics.data.text import Vocabulary

GLOVE = {"the": [0.1, 0.2, 0.3], "good": [1.0, -1.0, 0.5], "film": [0.0, 0.5, -0.5], "unused": [9.0, 9.0, 9.0]}


@pytest.fixture
def vocab():
    return Vocabulary.build([["the", "the", "good", "film", "zzyzx"]]).to_table()


def write_glove_txt(path, dim=3):
    path.write_text("".join(f"{word} {' '.join(str(v) for v in vector[:dim])}\n" for word, vector in GLOVE.items()))
    return path


def check_aligned(matrix, vocab, dim=3):
    tokens = vocab.column("token").to_pylist()
    assert matrix.dtype == np.float32 and matrix.shape == (len(tokens), dim)
    assert not matrix[0].any()  # <pad>
    for i, token in enumerate(tokens):
        if token in GLOVE:
            np.testing.assert_array_equal(matrix[i], np.float32(GLOVE[token][:dim]))
    assert matrix[tokens.index("zzyzx")].any()


def test_glove_txt(tmp_path, vocab, caplog):
    with caplog.at_level(logging.INFO):
        matrix = embeddings.build(vocab, "glove", 3, seed=0, glove_path=write_glove_txt(tmp_path / "g.txt"))
    check_aligned(matrix, vocab)
    assert "3 of 6 vocabulary words (50.0%)" in caplog.text


def test_glove_zip_reads_only_the_member_of_the_dimension(tmp_path, vocab):
    zipped = tmp_path / "glove.6B.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.write(write_glove_txt(tmp_path / "three.txt"), "glove.6B.3d.txt")
        archive.write(write_glove_txt(tmp_path / "two.txt", dim=2), "glove.6B.2d.txt")
    check_aligned(embeddings.build(vocab, "glove", 3, seed=0, glove_path=zipped), vocab)
    check_aligned(embeddings.build(vocab, "glove", 2, seed=0, glove_path=zipped), vocab, dim=2)
    with pytest.raises(ValueError, match=r"glove\.6B\.zip: no member glove\.6B\.5d\.txt"):
        embeddings.build(vocab, "glove", 5, seed=0, glove_path=zipped)


def test_glove_of_another_dimension_is_an_error_naming_the_line(tmp_path, vocab):
    with pytest.raises(ValueError, match=r"g\.txt, line 1: a 3-d vector, expected 4-d"):
        embeddings.build(vocab, "glove", 4, seed=0, glove_path=write_glove_txt(tmp_path / "g.txt"))


def test_missing_words_are_seeded_and_scaled_like_the_found_vectors():
    words = ["<pad>", "<unk>"] + [f"w{i}" for i in range(2000)]
    found = {"w0": np.array([10.0, -10.0], np.float32), "w1": np.array([-10.0, 10.0], np.float32)}
    matrix = embeddings.aligned(words, found, 2, seed=1)
    assert np.std(matrix[4:]) == pytest.approx(10.0, rel=0.1)
    np.testing.assert_array_equal(matrix, embeddings.aligned(words, found, 2, seed=1))
    assert not np.array_equal(matrix, embeddings.aligned(words, found, 2, seed=2))


def test_kumo_package(vocab):
    matrix = embeddings.build(vocab, "kumo", 50, seed=0)
    assert matrix.shape == (6, 50)
    # The first row of GloVe 6B 50d is "the".
    np.testing.assert_allclose(matrix[2, :3], [0.418, 0.24968, -0.41242], rtol=1e-5)
    with pytest.raises(ValueError, match="50-d vectors only, not 100-d"):
        embeddings.build(vocab, "kumo", 100, seed=0)


def test_random_and_save(tmp_path, vocab):
    matrix = embeddings.build(vocab, "random", 8, seed=0)
    assert matrix.shape == (6, 8) and not matrix[0].any() and matrix[1:].any()
    embeddings.save(matrix, tmp_path / "random-8.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "random-8.npy"), matrix)
    assert [p.name for p in tmp_path.iterdir()] == ["random-8.npy"]
    with pytest.raises(ValueError, match="unknown embeddings source 'word2vec'"):
        embeddings.build(vocab, "word2vec", 8, seed=0)
