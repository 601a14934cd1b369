"""SST-2 and Yelp polarity archives read in place, from small archives generated in the official layouts,
and downloaded or copied into place by the workflow."""

import io
import tarfile
import zipfile

import pyarrow.parquet as pq
import pytest

from pipeline import copy_workflow, snakemake
from rnn_dynamics.data import datasets

SST2_TRAIN = 'sentence\tlabel\nhide new secretions \t0\na "wonderful" film \t1\nso bad \t0\n'


# A dev split of both labels, as prepare needs of every split.
SST2_DEV = "sentence\tlabel\nit 's a charming journey \t1\na tedious slog \t0\n"


def write_sst2(path, dev_label="1", train=SST2_TRAIN, dev=None):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("SST-2/train.tsv", train)
        archive.writestr("SST-2/dev.tsv", dev or f"sentence\tlabel\nit 's a charming journey \t{dev_label}\n")
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
    table = datasets.read_reviews({"kind": "sst2"}, [write_sst2(tmp_path / "SST-2.zip")], seed=0)
    assert table.column("split").to_pylist() == ["train"] * 3 + ["test"]
    assert table.column("label").to_pylist() == [0, 1, 0, 1]
    assert table.column("id").to_pylist() == ["train:0", "train:1", "train:2", "dev:0"]
    assert table.column("text")[1].as_py() == 'a "wonderful" film '


def test_yelp_labels_one_and_two_map_to_negative_and_positive(tmp_path):
    table = datasets.read_reviews({"kind": "yelp"}, [write_yelp(tmp_path / "yelp.tgz")], seed=0)
    assert table.column("split").to_pylist() == ["train", "train", "test", "test"]
    assert table.column("label").to_pylist() == [0, 1, 1, 0]
    assert table.column("text")[0].as_py() == "Terrible service. Never again."
    assert table.column("text")[1].as_py() == 'Great food, "best" tacos.'


def test_new_kinds_go_through_the_same_prepare_path(tmp_path):
    train = "sentence\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in TRAIN_SENTENCES)
    reviews = datasets.read_reviews(
        {"kind": "sst2"}, [write_sst2(tmp_path / "SST-2.zip", train=train, dev=SST2_DEV)], seed=0
    )
    outputs = {name: tmp_path / f"{name}.parquet" for name in ("train", "valid", "test", "vocab")}
    summary = datasets.prepare(reviews, outputs, datasets.PrepareSettings(valid_fraction=0.25, max_vocab=None))
    assert summary["test"] == 2 and summary["train"] + summary["valid"] == len(TRAIN_SENTENCES)


def test_bad_archives_are_named(tmp_path):
    with pytest.raises(datasets.LabelError, match="dev.tsv row 1.*'2'"):
        datasets.read_sst2_archive(write_sst2(tmp_path / "SST-2.zip", dev_label="2"))
    with pytest.raises(datasets.LabelError, match="train.csv row 1"):
        datasets.ARCHIVES["yelp"].read(write_yelp(tmp_path / "bad.tgz", {"train": '"3","x"\n', "test": '"1","y"\n'}))
    with pytest.raises(datasets.LayoutError, match="test.csv"):
        datasets.ARCHIVES["yelp"].read(write_yelp(tmp_path / "half.tgz", {"train": '"1","x"\n'}))


def test_layout_checks_name_the_missing_members(tmp_path):
    assert datasets.check_sst2_layout(write_sst2(tmp_path / "SST-2.zip")) == {
        "SST-2/train.tsv": len(SST2_TRAIN),
        "SST-2/dev.tsv": 43,
    }
    assert set(datasets.ARCHIVES["yelp"].check_layout(write_yelp(tmp_path / "yelp.tgz"))) == set(
        datasets.YELP_MEMBERS.values()
    )
    with pytest.raises(datasets.LayoutError, match=r"yelp.tgz: not a readable zip"):
        datasets.check_sst2_layout(tmp_path / "yelp.tgz")
    with pytest.raises(datasets.LayoutError, match=r"SST-2.zip: not a readable tar"):
        datasets.ARCHIVES["yelp"].check_layout(tmp_path / "SST-2.zip")
    with pytest.raises(datasets.LayoutError, match=r"half.tgz: no member \['yelp_review_polarity_csv/test.csv'\]"):
        datasets.ARCHIVES["yelp"].check_layout(write_yelp(tmp_path / "half.tgz", {"train": '"1","x"\n'}))


# ---------------------------------------------------------------------------- through the workflow

# Enough sentences that a 25% validation split holds both labels.
TRAIN_SENTENCES = [("a fine warm film", 1), ("a dull cold film", 0)] * 4
LOCAL_ARCHIVES = {
    "sst2": lambda path: write_sst2(
        path,
        train="sentence\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in TRAIN_SENTENCES),
        dev=SST2_DEV,
    ),
    "yelp": lambda path: write_yelp(path, {
        "train": "".join(f'"{label + 1}","{text}"\n' for text, label in TRAIN_SENTENCES),
        "test": '"2","Loved it"\n"1","meh"\n',
    }),
}  # fmt: skip
TINY_GRID = "models: {architectures: [gru], layers: [1], embedding: [8], hidden: 8, seeds: [0]}\n"


def workflow_with(tmp_path, name, dataset):
    """A workflow copy whose config runs dataset ``name`` only (``dataset``: its entry, YAML)."""
    directory = copy_workflow(tmp_path / "workflow")
    (directory / "tiny.yaml").write_text(
        f"run_datasets: [{name}]\ndatasets: {{{name}: {dataset}}}\n"
        "prepare: {valid_fraction: 0.25, max_vocab: 30}\nembeddings: {source: random}\n" + TINY_GRID
    )
    return directory


def local_archive(tmp_path, name):
    path = LOCAL_ARCHIVES[name](tmp_path / f"local-{name}.archive")
    return path, workflow_with(tmp_path, name, f"{{local_archive: '{path}'}}")


@pytest.mark.parametrize("name, archive", [("sst2", "SST-2.zip"), ("yelp", "yelp_review_polarity_csv.tgz")])
def test_dry_run_plans_download_under_the_official_name_then_prepare(name, archive, tmp_path):
    _, directory = local_archive(tmp_path, name)
    result = snakemake(directory, "-n", "--configfile", "tiny.yaml", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"output: resources/{name}/{archive}\n" in result.stdout
    assert f"input: resources/{name}/{archive}\n" in result.stdout  # what prepare reads
    stats = dict(line.split() for line in result.stdout.split("Job stats:")[1].splitlines()[3:8])
    assert stats["download"] == stats["prepare"] == "1"


def test_an_archive_of_another_kind_is_refused(tmp_path):
    directory = copy_workflow(tmp_path / "workflow")
    result = snakemake(directory, "-n", "resources/imdb/SST-2.zip", timeout=120)
    assert result.returncode != 0
    assert "'imdb' is of kind 'aclimdb', whose archive is aclImdb_v1.tar.gz" in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name, archive", [("sst2", "SST-2.zip"), ("yelp", "yelp_review_polarity_csv.tgz")])
def test_data_stage_runs_on_a_local_archive(name, archive, tmp_path):
    source, directory = local_archive(tmp_path, name)
    targets = [f"results/{name}/data/{split}.parquet" for split in ("train", "valid", "test", "vocab")]
    result = snakemake(directory, *targets, "--cores", "1", "--configfile", "tiny.yaml", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (directory / "resources" / name / archive).read_bytes() == source.read_bytes()
    assert "train" in (directory / f"logs/{name}/download/{archive}.log").read_text()  # the layout check's report
    rows = {
        split: pq.read_table(directory / target).num_rows for split, target in zip(("train", "valid", "test"), targets)
    }
    assert rows == {"train": 6, "valid": 2, "test": 2}
    vocab = pq.read_table(directory / targets[3]).column("token").to_pylist()
    assert {"fine", "dull", "film"} <= set(vocab)


@pytest.mark.slow
def test_a_null_checksum_refuses_to_download_and_names_the_keys(tmp_path):
    directory = workflow_with(tmp_path, "yelp", "{sha256: null, url: 'http://127.0.0.1:9/never-fetched.tgz'}")
    result = snakemake(
        directory,
        "resources/yelp/yelp_review_polarity_csv.tgz",
        "--cores",
        "1",
        "--configfile",
        "tiny.yaml",
        timeout=120,
    )
    assert result.returncode != 0
    log = (directory / "logs/yelp/download/yelp_review_polarity_csv.tgz.log").read_text()
    assert "refusing to download http://127.0.0.1:9/never-fetched.tgz unverified" in log
    assert "`datasets.yelp.sha256` is null" in log and "`datasets.yelp.local_archive`" in log
    assert not (directory / "resources/yelp/yelp_review_polarity_csv.tgz").exists()
