"""SST-2 and Yelp polarity archives read in place, from small archives generated in the official layouts."""

import io
import tarfile
import zipfile

import pytest

from rnn_dynamics import datasets


def write_sst2(path, dev_label="1"):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("SST-2/train.tsv", 'sentence\tlabel\nhide new secretions \t0\na "wonderful" film \t1\nso bad \t0\n')
        archive.writestr("SST-2/dev.tsv", f"sentence\tlabel\nit 's a charming journey \t{dev_label}\n")
        archive.writestr("SST-2/test.tsv", "index\tsentence\n0\tno label here\n")
    return path


def write_yelp(path, rows=None):
    rows = rows or {
        "train": '"1","Terrible service.\\nNever again."\n"2","Great food, ""best"" tacos."\n',
        "test": '"2","Loved it"\n"1","meh"\n',
    }
    with tarfile.open(path, "w:gz") as tar:
        for split, text in rows.items():
            data = text.encode()
            member = tarfile.TarInfo(f"yelp_review_polarity_csv/{split}.csv")
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return path


def test_sst2_dev_split_serves_as_test_and_unlabelled_test_is_ignored(tmp_path):
    table = datasets.read_reviews({"kind": "sst2"}, [write_sst2(tmp_path / "SST-2.zip")])
    assert table.column("split").to_pylist() == ["train"] * 3 + ["test"]
    assert table.column("label").to_pylist() == [0, 1, 0, 1]
    assert table.column("id").to_pylist() == ["train:0", "train:1", "train:2", "dev:0"]
    assert table.column("text")[1].as_py() == 'a "wonderful" film '


def test_yelp_labels_one_and_two_map_to_negative_and_positive(tmp_path):
    table = datasets.read_reviews({"kind": "yelp"}, [write_yelp(tmp_path / "yelp.tgz")])
    assert table.column("split").to_pylist() == ["train", "train", "test", "test"]
    assert table.column("label").to_pylist() == [0, 1, 1, 0]
    assert table.column("text")[0].as_py() == "Terrible service. Never again."
    assert table.column("text")[1].as_py() == 'Great food, "best" tacos.'


def test_new_kinds_go_through_the_same_prepare_path(tmp_path):
    reviews = datasets.read_reviews({"kind": "sst2"}, [write_sst2(tmp_path / "SST-2.zip")])
    outputs = {name: tmp_path / f"{name}.parquet" for name in ("train", "valid", "test", "vocab")}
    summary = datasets.prepare(reviews, outputs, valid_fraction=0.4, max_vocab=None)
    assert summary["test"] == 1 and summary["train"] + summary["valid"] == 3


def test_bad_archives_are_named(tmp_path):
    with pytest.raises(datasets.LabelError, match="dev.tsv row 1.*'2'"):
        datasets.read_sst2_archive(write_sst2(tmp_path / "SST-2.zip", dev_label="2"))
    with pytest.raises(datasets.LabelError, match="train.csv row 1"):
        datasets.read_yelp_archive(write_yelp(tmp_path / "bad.tgz", {"train": '"3","x"\n', "test": '"1","y"\n'}))
    with pytest.raises(datasets.LayoutError, match="test.csv"):
        datasets.read_yelp_archive(write_yelp(tmp_path / "half.tgz", {"train": '"1","x"\n'}))
