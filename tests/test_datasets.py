import json
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import write_tar
from pipeline import snakemake
from rnn_dynamics.data import datasets, synthetic
from rnn_dynamics.data.datasets import LabelError, LayoutError
from rnn_dynamics.data.text import UNK_INDEX, tokenize

TOKENS_SCHEMA = pa.schema(
    [("id", pa.string()), ("label", pa.int8()), ("length", pa.int32()), ("tokens", pa.list_(pa.int32()))]
)
VOCAB_SCHEMA = pa.schema([("index", pa.int32()), ("token", pa.string()), ("count", pa.int64())])


def reviews_table(rows):
    """A review table from (id, split, label, text) rows."""
    ids, splits, labels, texts = zip(*rows)
    return pa.table([list(ids), list(splits), pa.array(labels, pa.int8()), list(texts)], schema=datasets.REVIEWS_SCHEMA)


def prepare_to(tmp_path, reviews, **settings):
    outputs = {name: tmp_path / f"{name}.parquet" for name in ("train", "valid", "test", "vocab")}
    datasets.prepare(reviews, outputs, datasets.PrepareSettings(**settings))
    return {name: pq.read_table(path) for name, path in outputs.items()}


def test_layout_of_the_generated_archive(synthetic_archive):
    counts = datasets.check_archive_layout(synthetic_archive)
    assert counts == {"test/neg": 100, "test/pos": 100, "train/neg": 100, "train/pos": 100}


def test_missing_split_and_label_are_named(tmp_path):
    archive = write_tar(
        tmp_path / "partial.tar.gz",
        {"aclImdb/train/pos/0_9.txt": "good", "aclImdb/train/neg/0_1.txt": "bad", "aclImdb/test/pos/0_8.txt": "ok"},
    )
    with pytest.raises(LayoutError, match=r"partial\.tar\.gz.*aclImdb/test/neg/") as error:
        datasets.check_archive_layout(archive)
    assert "train/pos" not in str(error.value).split("found")[0]
    with pytest.raises(LayoutError, match="test/neg"):
        datasets.read_archive(archive)


def test_an_archive_without_reviews_or_not_an_archive_is_rejected(tmp_path):
    with pytest.raises(LayoutError, match="no reviews at all"):
        datasets.check_archive_layout(write_tar(tmp_path / "empty.tar.gz", {"aclImdb/README": "x"}))
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not an archive")
    with pytest.raises(LayoutError, match="garbage.tar.gz: not a readable"):
        datasets.check_archive_layout(garbage)


def test_read_archive_in_place(tmp_path):
    archive = write_tar(
        tmp_path / "a.tar.gz",
        {
            "aclImdb/train/pos/3_9.txt": "Great!",
            "aclImdb/train/neg/1_2.txt": "Bad.",
            "aclImdb/test/pos/0_7.txt": "Fine",
            "aclImdb/test/neg/5_1.txt": "Dull<br />film",
            "aclImdb/train/unsup/0_0.txt": "unlabelled reviews are skipped",
            "aclImdb/imdb.vocab": "the",
        },
    )
    table = datasets.read_archive(archive)
    assert table.schema == datasets.REVIEWS_SCHEMA
    assert table.to_pydict() == {
        "id": ["test/neg/5_1", "test/pos/0_7", "train/neg/1_2", "train/pos/3_9"],
        "split": ["test", "test", "train", "train"],
        "label": [0, 1, 0, 1],
        "text": ["Dull<br />film", "Fine", "Bad.", "Great!"],
    }


@pytest.mark.parametrize(
    "values, mapping",
    [
        ([1, 0, 1], {0: 0, 1: 1}),
        (["pos", "neg"], {"neg": 0, "pos": 1}),
        (["Positive", "negative"], {"negative": 0, "Positive": 1}),
        (["good", "bad"], {"bad": 0, "good": 1}),
        ([5, 1], {1: 0, 5: 1}),
    ],
)
def test_two_label_values_map_to_zero_and_one(values, mapping):
    assert datasets.label_mapping(values, "f.csv", None) == mapping


def test_table_file_of_one_class_is_rejected_naming_file_column_and_counts(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("review,stars\ngood,5\nbad,5\nok,5\n")
    with pytest.raises(LabelError, match=r"reviews\.csv, column 'stars'.*found 1 \(5: 3\)"):
        datasets.read_table_files([path], "review", "stars", 0.2, 0, "utf-8", classes=None, ordered=False)


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("review,label\ngood,pos\n")
    with pytest.raises(ValueError, match=r"reviews\.csv: no column 'text'"):
        datasets.read_table_files([path], "text", "label", 0.2, 0, "utf-8", classes=None, ordered=False)


def test_one_table_file_is_split_into_train_and_test_by_label(tmp_path):
    path = tmp_path / "reviews.tsv"
    path.write_text("text\tsentiment\n" + "".join(f"review {i}\t{'pos' if i % 2 else 'neg'}\n" for i in range(20)))
    table = datasets.read_table_files(
        [path], "text", "sentiment", test_fraction=0.2, seed=0, encoding="utf-8", classes=None, ordered=False
    )
    assert table.schema == datasets.REVIEWS_SCHEMA
    pairs = Counter(zip(table.column("split").to_pylist(), table.column("label").to_pylist()))
    assert pairs == {("train", 0): 8, ("train", 1): 8, ("test", 0): 2, ("test", 1): 2}
    assert table.column("id").to_pylist()[:2] == ["reviews.tsv:2", "reviews.tsv:3"]  # the lines of the file


def test_train_and_test_files_share_one_label_mapping(tmp_path):
    train, test = tmp_path / "train.parquet", tmp_path / "test.csv"
    pq.write_table(pa.table({"t": ["a", "b"], "y": ["bad", "good"]}), train)
    test.write_text("t,y\nc,good\n")
    table = datasets.read_table_files([train, test], "t", "y", 0.2, 0, "utf-8", classes=None, ordered=False)
    assert table.to_pydict()["split"] == ["train", "train", "test"]
    assert table.to_pydict()["label"] == [0, 1, 1]


def test_prepare_on_a_generated_archive(prepared_synthetic, synthetic_archive):
    tables = {
        name: pq.read_table(prepared_synthetic / f"{name}.parquet") for name in ("train", "valid", "test", "vocab")
    }
    for name in ("train", "valid", "test"):
        assert tables[name].schema == TOKENS_SCHEMA
    assert tables["vocab"].schema == VOCAB_SCHEMA
    assert {name: t.num_rows for name, t in tables.items() if name != "vocab"} == {
        "train": 160,
        "valid": 40,
        "test": 200,
    }
    # Stratified: valid holds 20% of each label of the original train split.
    assert Counter(tables["valid"].column("label").to_pylist()) == {0: 20, 1: 20}
    assert not set(tables["valid"].column("id").to_pylist()) & set(tables["train"].column("id").to_pylist())
    # Token ids decode back to the tokenizer's output, and lengths match.
    vocab = tables["vocab"].column("token").to_pylist()
    texts = dict(zip(*datasets.read_archive(synthetic_archive).select(["id", "text"]).to_pydict().values()))
    row = tables["test"].slice(0, 1).to_pylist()[0]
    assert [vocab[i] for i in row["tokens"]] == tokenize(texts[row["id"]])
    assert row["length"] == len(row["tokens"])


def test_vocabulary_comes_from_train_only(tmp_path):
    reviews = reviews_table(
        [
            ("train/pos/0", "train", 1, "good good film"),
            ("train/pos/1", "train", 1, "good film"),
            ("train/neg/0", "train", 0, "bad film"),
            ("train/neg/1", "train", 0, "bad bad awful"),
            ("test/pos/0", "test", 1, "superb film"),
            ("test/neg/0", "test", 0, "dreadful"),
        ]
    )
    tables = prepare_to(tmp_path, reviews, valid_fraction=0.5, split_seed=0)
    train_texts = [
        t
        for i, t in zip(reviews["id"].to_pylist(), reviews["text"].to_pylist())
        if i in tables["train"]["id"].to_pylist()
    ]
    expected = Counter(token for text in train_texts for token in tokenize(text))
    vocab = dict(zip(tables["vocab"]["token"].to_pylist()[2:], tables["vocab"]["count"].to_pylist()[2:]))
    assert vocab == expected
    assert tables["vocab"]["token"].to_pylist()[:2] == ["<pad>", "<unk>"]
    assert tables["test"].to_pydict()["tokens"][1] == [UNK_INDEX]  # "dreadful" only in test


def test_truncation_and_empty_reviews(tmp_path):
    reviews = reviews_table(
        [
            ("train/pos/0", "train", 1, "one two three four five"),
            ("train/pos/1", "train", 1, "six seven"),
            ("train/neg/0", "train", 0, "eight"),
            ("train/neg/1", "train", 0, "<br /> ;"),  # no tokens: dropped
            ("train/neg/2", "train", 0, "nine ten eleven twelve"),
            ("test/pos/0", "test", 1, "a b c d"),
            ("test/neg/0", "test", 0, "e"),
        ]
    )
    tables = prepare_to(tmp_path, reviews, valid_fraction=0.5, max_length=3)
    lengths = dict(zip(tables["train"]["id"].to_pylist() + tables["valid"]["id"].to_pylist(),
                       tables["train"]["length"].to_pylist() + tables["valid"]["length"].to_pylist()))  # fmt: skip
    assert lengths == {"train/pos/0": 3, "train/pos/1": 2, "train/neg/0": 1, "train/neg/2": 3}
    assert tables["test"]["length"].to_pylist() == [3, 1]
    assert all(len(tokens) <= 3 for tokens in tables["train"]["tokens"].to_pylist())


def test_an_empty_split_is_an_error(tmp_path):
    reviews = reviews_table([("train/pos/0", "train", 1, "good"), ("train/neg/0", "train", 0, "bad"),
                             ("test/pos/0", "test", 1, "fine")])  # fmt: skip
    with pytest.raises(ValueError, match="valid split is empty.*valid_fraction"):
        prepare_to(tmp_path, reviews, valid_fraction=0.2)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["synthetic", "local_archive"])
def test_data_stage_runs_in_snakemake(kind, tmp_path, tmp_path_factory):
    """The data stage end to end without network: a generated or a local archive, prepare, random embeddings."""
    root = Path(__file__).resolve().parents[1]
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(root / name, tmp_path / name)
    for name in ("workflow", "scripts", "envs"):
        shutil.copytree(root / name, tmp_path / name)
    dataset = "{kind: synthetic, reviews_per_split: 50, seed: 0}"
    if kind == "local_archive":
        archive = tmp_path_factory.mktemp("local") / "aclImdb_local.tar.gz"
        synthetic.write_archive(archive, synthetic.Settings(reviews_per_split=50, seed=0))
        dataset = (
            f"{{kind: aclimdb, url: 'http://invalid.invalid/a.tar.gz', sha256: '{'f' * 64}', "
            f"local_archive: '{archive}'}}"
        )
    (tmp_path / "tiny.yaml").write_text(
        f"datasets:\n  tiny: {dataset}\n"
        "prepare: {valid_fraction: 0.2, max_vocab: 30}\n"
        "embeddings: {source: random, seed: 0}\n"
    )
    targets = [f"results/tiny/data/{name}.parquet" for name in ("train", "valid", "test", "vocab")]
    targets.append("results/tiny/embeddings/random-8.npy")
    card = ["results/tiny/data/card.json", "results/tiny/tables/data.csv", "results/tiny/figures/data/lengths.png"]
    result = snakemake(tmp_path, *targets, *card, "--cores", "2", "--configfile", "tiny.yaml", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    tables = {Path(t).stem: pq.read_table(tmp_path / t) for t in targets[:4]}
    assert {name: t.num_rows for name, t in tables.items()} == {"train": 40, "valid": 10, "test": 50, "vocab": 32}
    for name in ("train", "valid", "test"):
        assert tables[name].schema == TOKENS_SCHEMA
    assert tables["vocab"].schema == VOCAB_SCHEMA
    matrix = np.load(tmp_path / targets[4])
    assert matrix.dtype == np.float32 and matrix.shape == (32, 8)
    assert "prepared" in (tmp_path / "logs/tiny/prepare.log").read_text()
    assert json.loads((tmp_path / card[0]).read_text())["splits"]["train"]["rows"] == 40
    assert (tmp_path / card[2]).stat().st_size > 0
    shown = pd.read_csv(tmp_path / card[1], keep_default_na=False)
    assert set(shown["section"]) == {"splits", "vocabulary", "artefacts", "cleaning"}  # random vectors: no coverage


# ---------------------------------------------------------------------------- the registry of dataset kinds


def test_the_config_schema_names_every_kind_of_the_registry():
    """The schema's kinds, their definitions and the dispatch to them are the registry's kinds, and each
    downloaded kind's definition has the keys its download reads."""
    from rnn_dynamics.ground import config

    schema = config.schema()
    entry = schema["properties"]["datasets"]["additionalProperties"]
    assert sorted(entry["properties"]["kind"]["enum"]) == sorted(datasets.KINDS)
    assert sorted(branch["if"]["properties"]["kind"]["const"] for branch in entry["allOf"]) == sorted(datasets.KINDS)
    for branch in entry["allOf"]:
        kind = branch["if"]["properties"]["kind"]["const"]
        assert branch["then"] == {"$ref": f"#/$defs/{kind}"}
        assert schema["$defs"][kind]["properties"]["kind"] == {"const": kind}
    for kind, archive in datasets.downloaded().items():
        keys = schema["$defs"][kind]["properties"]
        assert {"url", "local_archive", *archive.checksums} <= set(keys), kind
        assert archive.check_layout is not None and archive.url.endswith(f"/{archive.file_name}")


def test_each_archive_reads_into_its_registered_classes(tmp_path, synthetic_archive):
    """A tiny archive of each kind whose classes the registry fixes is read into a table of those classes."""
    import zipfile

    sst2 = tmp_path / "SST-2.zip"
    with zipfile.ZipFile(sst2, "w") as archive:
        for member in datasets.SST2_MEMBERS.values():
            archive.writestr(member, "sentence\tlabel\na fine film\t1\na dull film\t0\n")
    paths = {"aclimdb": synthetic_archive, "sst2": sst2}
    for kind, csv_archive in {
        "yelp": datasets.YELP,
        "ag_news": datasets.AG_NEWS,
        "yelp_full": datasets.YELP_FULL,
    }.items():
        fields = ",".join(f'"{field}"' for field in csv_archive.fields)
        rows = "".join(f'"{label}",{fields}\n' for label in range(1, len(csv_archive.names) + 1))
        members = {member: rows for member in csv_archive.members.values()}
        paths[kind] = write_tar(tmp_path / csv_archive.name, members)
    assert sorted(paths) == sorted(kind for kind, archive in datasets.ARCHIVES.items() if archive.classes)
    for kind, path in paths.items():
        table = datasets.read_reviews({"kind": kind}, [path], seed=0)
        assert datasets.classes_of(table.schema, path) == datasets.ARCHIVES[kind].classes, kind


# ---------------------------------------------------------------------------- labels and rows of users' files


def table_spec(train, test=None, **keys):
    files = {"train": str(train), "test": str(test)} if test else {"path": str(train)}
    return {"kind": "table", **files, "text_column": "text", "label_column": "label", **keys}


def test_integer_and_text_labels_of_two_files_are_matched_as_text(tmp_path, caplog):
    train, test = tmp_path / "train.parquet", tmp_path / "test.parquet"
    pq.write_table(pa.table({"text": [f"review {i}" for i in range(9)], "label": [0, 1, 2] * 3}), train)
    pq.write_table(pa.table({"text": ["a", "b", "c"], "label": ["2", "0", "1"]}), test)
    with caplog.at_level("WARNING"):
        table = datasets.read_reviews(table_spec(train, test), [train, test], seed=0)
    assert f"{train} has numbers, {test} has text; matched as text" in caplog.text
    assert datasets.classes_of(table.schema, train).names == ("0", "1", "2")
    assert table.column("label").to_pylist() == [0, 1, 2] * 3 + [2, 0, 1]


def test_labels_of_two_types_that_differ_as_text_too_name_both_files_and_types(tmp_path):
    train, test = tmp_path / "train.parquet", tmp_path / "test.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c"], "label": [1, 3, 5]}), train)
    pq.write_table(pa.table({"text": ["a", "b", "c"], "label": ["one", "three", "five"]}), test)
    with pytest.raises(LabelError) as error:
        datasets.read_reviews(table_spec(train, test), [train, test], seed=0)
    message = str(error.value)
    assert f"{train} and {test}" in message and "column 'label'" in message
    assert f"{train} has numbers" in message and f"{test} has text" in message


def test_ordered_text_labels_without_classes_are_refused_asking_for_classes(tmp_path):
    path = tmp_path / "stars.csv"
    path.write_text("text,label\n" + "".join(f"review {i},{('bad', 'okay', 'good')[i % 3]}\n" for i in range(9)))
    with pytest.raises(LabelError, match=r"stars.csv, column 'label': `ordered: true` .*'bad'.*`classes` key"):
        datasets.read_reviews(table_spec(path, ordered=True), [path], seed=0)
    table = datasets.read_reviews(table_spec(path, ordered=True, classes=["bad", "okay", "good"]), [path], seed=0)
    assert datasets.classes_of(table.schema, path) == datasets.Classes(("bad", "okay", "good"), True)


def test_ordered_labels_that_spell_numbers_are_sorted_as_numbers(tmp_path):
    path = tmp_path / "stars.parquet"
    pq.write_table(pa.table({"text": [f"r{i}" for i in range(9)], "label": ["10", "2", "1"] * 3}), path)
    table = datasets.read_reviews(table_spec(path, ordered=True), [path], seed=0)
    assert datasets.classes_of(table.schema, path) == datasets.Classes(("1", "2", "10"), True)


@pytest.mark.parametrize("empty", ["train", "test"])
def test_a_file_with_a_header_only_is_named_as_having_no_rows(tmp_path, empty):
    files = {split: tmp_path / f"{split}.csv" for split in ("train", "test")}
    for split, path in files.items():
        path.write_text("text,label\n" + ("" if split == empty else "a fine film,1\na dull film,0\n"))
    with pytest.raises(ValueError, match=rf"{re.escape(str(files[empty]))}: has no rows"):
        datasets.read_reviews(table_spec(files["train"], files["test"]), list(files.values()), seed=0)


def test_rows_without_words_are_named_by_their_lines_in_every_warning(tmp_path, caplog):
    """The reader's warning and prepare's name a CSV's dropped rows by the lines they start on (a quoted
    review spanning two lines moves the later ones), and the reviews' ids carry the same numbers."""
    rows = [f"review {i},{i % 2}\n" for i in range(20)]
    rows[3] = '"a review over\ntwo lines",1\n'
    rows[6] = "   ,0\n"
    rows[9] = ",1\n"
    path = tmp_path / "ws.csv"
    path.write_text("text,label\n" + "".join(rows))
    # Line 1 the header, row i on line i + 2, and one line more from row 4 on.
    with caplog.at_level("WARNING"):
        reviews = datasets.read_reviews(table_spec(path), [path], seed=0)
        prepare_to(tmp_path, reviews)
    assert "2 reviews have no text in column 'text'" in caplog.text and "lines [9, 12]" in caplog.text
    assert "dropping 2 reviews with no tokens" in caplog.text
    assert "'ws.csv:9'" in caplog.text and "'ws.csv:12'" in caplog.text
    assert reviews.column("id").to_pylist()[:5] == ["ws.csv:2", "ws.csv:3", "ws.csv:4", "ws.csv:5", "ws.csv:7"]


def test_a_very_long_review_is_warned_of_with_its_training_memory(tmp_path, caplog):
    short = [(f"train/{i}", "train", i % 2, "a fine film" if i % 2 else "a dull film") for i in range(40)]
    short += [(f"test/{i}", "test", i % 2, "a fine film" if i % 2 else "a dull film") for i in range(10)]
    with caplog.at_level("WARNING"):
        prepare_to(tmp_path, reviews_table(short))
    assert "tokens, " not in caplog.text
    long = ("train/long", "train", 1, "word " * 5000)
    with caplog.at_level("WARNING"):
        prepare_to(tmp_path, reviews_table([*short, long]))
    assert "review train/long has 5000 tokens" in caplog.text and "GB of memory" in caplog.text
    assert "prepare.max_length" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        prepare_to(tmp_path, reviews_table([*short, long]), max_length=400)
    assert "train/long" not in caplog.text
