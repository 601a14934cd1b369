"""N classes: table labels of any number of classes, Zhang et al.'s N-class archives, the synthetic N-class
tasks, and the N-logit classifier; and that binary data and models stay exactly as they were."""

import gzip
import hashlib
import io
import json
import re
import tarfile
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import torch.nn.functional as F

from helpers import write_tar
from pipeline import copy_workflow, snakemake
from rnn_dynamics.data import batches, datasets, synthetic
from rnn_dynamics.dynamics import analyses, fixed_points, linearization
from rnn_dynamics.dynamics.states import visited_states
from rnn_dynamics.ground import storage
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import model as model_lib
from rnn_dynamics.networks import training
from rnn_dynamics.outputs import catalogue, tables

SPLITS = ("train", "valid", "test", "vocab")


def prepare_to(folder, reviews, **settings):
    outputs = {name: folder / f"{name}.parquet" for name in SPLITS}
    datasets.prepare(reviews, outputs, datasets.PrepareSettings(**settings))
    return outputs


def model_outputs(folder):
    names = ("initial.pt", "model.pt", "history.parquet", "metrics.json", "checkpoint.pt")
    return training.Outputs(*(folder / name for name in names))


def table_spec(path, **keys):
    return {"kind": "table", "path": str(path), "text_column": "text", "label_column": "topic", **keys}


def topics_csv(path, topics=("sport", "art", "food"), per_class=10):
    rows = [f"{topic} words {i},{topic}\n" for i in range(per_class) for topic in topics]
    path.write_text("text,topic\n" + "".join(rows))
    return path


# ---------------------------------------------------------------------------- table files of N classes


def test_a_table_of_three_string_classes_prepares_with_int16_labels_and_its_classes(tmp_path):
    path = topics_csv(tmp_path / "topics.csv")
    reviews = datasets.read_reviews(table_spec(path), [path], seed=0)
    assert reviews.schema.field("label").type == pa.int16()
    outputs = prepare_to(tmp_path, reviews, valid_fraction=0.25)
    for split in ("train", "valid", "test"):
        table = pq.read_table(outputs[split])
        assert table.schema.field("label").type == pa.int16()
        assert datasets.read_classes(outputs[split]) == datasets.Classes(("art", "food", "sport"), False)
    # Sorted class order: art 0, food 1, sport 2 (each text begins with its class).
    labels = dict(zip(reviews.column("text").to_pylist(), reviews.column("label").to_pylist()))
    assert {text.split()[0]: label for text, label in labels.items()} == {"art": 0, "food": 1, "sport": 2}
    split = batches.read_split(outputs["train"])
    assert split.classes.names == ("art", "food", "sport") and len(split.classes) == 3
    assert set(split.labels.tolist()) == {0.0, 1.0, 2.0}


def test_the_classes_key_orders_the_classes_and_ordered_is_recorded(tmp_path):
    path = tmp_path / "stars.csv"
    path.write_text("text,topic\n" + "".join(f"review {i},{stars}\n" for i in range(8) for stars in (1, 2, 10)))
    # Without the key: numerically sorted (10 after 2), not as text.
    reviews = datasets.read_reviews(table_spec(path), [path], seed=0)
    assert datasets.Classes.from_json(reviews.schema.metadata[datasets.CLASSES_KEY], "t").names == ("1", "2", "10")
    reviews = datasets.read_reviews(table_spec(path, classes=[10, 2, 1], ordered=True), [path], seed=0)
    outputs = prepare_to(tmp_path, reviews, valid_fraction=0.25)
    assert datasets.read_classes(outputs["test"]) == datasets.Classes(("10", "2", "1"), True)
    texts = reviews.column("text").to_pylist()
    assert Counter(reviews.column("label").to_pylist()) == {0: 8, 1: 8, 2: 8}
    assert len(texts) == 24


def test_a_label_outside_the_classes_key_is_named_with_file_column_and_counts(tmp_path):
    path = topics_csv(tmp_path / "topics.csv")
    with pytest.raises(datasets.LabelError) as error:
        datasets.read_reviews(table_spec(path, classes=["sport", "art"]), [path], seed=0)
    message = str(error.value)
    assert f"{path}, column 'topic'" in message and "['food']" in message and "'food': 10" in message


def test_a_class_absent_from_the_training_file_stops_prepare_naming_file_column_and_counts(tmp_path):
    train = topics_csv(tmp_path / "train.csv", topics=("sport", "art"))
    test = topics_csv(tmp_path / "test.csv", topics=("sport", "art", "food"), per_class=3)
    spec = {"kind": "table", "train": str(train), "test": str(test), "text_column": "text", "label_column": "topic"}
    reviews = datasets.read_reviews(spec, [train, test], seed=0)
    outputs = {name: tmp_path / "data" / f"{name}.parquet" for name in SPLITS}
    with pytest.raises(datasets.LabelError) as error:
        datasets.prepare(reviews, outputs, datasets.PrepareSettings(valid_fraction=0.2))
    assert str(error.value) == (
        f"{outputs['train']}: the train split, from {train}, has no review of label [1] (label 0 (art): 8, "
        f"label 1 (food): 0, label 2 (sport): 8); every split needs every label: check the labels in column "
        f"'topic' of {train}"
    )
    assert not (tmp_path / "data").exists()


def test_a_binary_table_prepares_as_it_always_did(tmp_path):
    """Labels int8 0/1, no class metadata: the tables' content as main wrote it before N classes (pinned)."""
    archive = tmp_path / "synthetic.tar.gz"
    synthetic.write_archive(archive, synthetic.Settings(reviews_per_split=60, seed=3))
    # The tar inside the gzip, as the generator wrote it before N classes.
    assert (
        hashlib.sha256(gzip.decompress(archive.read_bytes())).hexdigest()
        == "b1f785200af45f8fb01afb46bf749fb793a695af4ac21e75ff702dfc9f69ac44"
    )
    outputs = prepare_to(tmp_path, datasets.read_reviews({"kind": "synthetic"}, [archive], seed=0))
    before = {
        "train": "3a739a89030b863f81ffa6e42e98e3c8bab7bdca2b04d70301c18bc97106858d",
        "valid": "fe9021279ffa0ca1443aa668ecb3c4faa99b4d25fe32291c78ccb6090548119c",
        "test": "fbff8bdc1f463b4ac794cc2afd0061e805a3b49f53010046a31f2f242eaf0ad2",
        "vocab": "445d8358eceb44625f8260d56cb837b6efd7dc3e232ffeae967c3474b3b803a3",
    }
    for name, digest in before.items():
        table = pq.read_table(outputs[name])
        assert table.schema.metadata is None, name
        assert hashlib.sha256(json.dumps(table.to_pydict(), sort_keys=True).encode()).hexdigest() == digest, name
    assert pq.read_schema(outputs["train"]) == datasets.TOKENS_SCHEMA
    assert datasets.read_classes(outputs["train"]) == datasets.BINARY


# ---------------------------------------------------------------------------- Zhang et al.'s N-class archives


def write_csv_archive(path, folder, splits, extra=None):
    """A tgz of ``folder/{split}.csv`` (rows given as lists of fields) and ``extra`` members (name -> text)."""
    members = {f"{folder}/{split}.csv": _csv(rows) for split, rows in splits.items()} | (extra or {})
    return write_tar(path, members)


def _csv(rows):
    return "".join(",".join('"' + field.replace('"', '""') + '"' for field in row) + "\n" for row in rows)


DBPEDIA_CLASSES = "Company\nEducationalInstitution\nArtist\n"


def test_ag_news_joins_title_and_description_into_four_named_classes(tmp_path):
    path = write_csv_archive(tmp_path / "ag_news_csv.tgz", "ag_news_csv", {
        "train": [["3", "Wall St. Bears", "Short-sellers are \"back\"."], ["1", "Vote", "A poll.\\nMore"],
                  ["2", "Goal", "A match"], ["4", "Atoms", "A lab"]],
        "test": [["4", "Chips", "Faster"], ["2", "Cup", "Won"]],
    })  # fmt: skip
    table = datasets.read_reviews({"kind": "ag_news"}, [path], seed=0)
    assert table.column("label").to_pylist() == [2, 0, 1, 3, 3, 1]
    assert table.column("split").to_pylist() == ["train"] * 4 + ["test"] * 2
    assert table.column("text").to_pylist()[:2] == ['Wall St. Bears Short-sellers are "back".', "Vote A poll. More"]
    classes = datasets.Classes.from_json(table.schema.metadata[datasets.CLASSES_KEY], path)
    assert classes == datasets.Classes(("World", "Sports", "Business", "Sci/Tech"), False)
    assert set(datasets.ARCHIVES["ag_news"].check_layout(path)) == set(datasets.AG_NEWS_MEMBERS.values())
    assert datasets.ARCHIVES["ag_news"].file_name == "ag_news_csv.tgz"


def test_yelp_full_has_five_ordered_star_classes(tmp_path):
    path = write_csv_archive(tmp_path / "y.tgz", "yelp_review_full_csv", {
        "train": [[str(stars), f"{stars} stars"] for stars in (5, 1, 3, 2, 4)],
        "test": [["1", "bad"], ["5", "good"]],
    })  # fmt: skip
    table = datasets.ARCHIVES["yelp_full"].read(path)
    assert table.column("label").to_pylist() == [4, 0, 2, 1, 3, 0, 4]
    assert table.schema.field("label").type == pa.int16()
    classes = datasets.Classes.from_json(table.schema.metadata[datasets.CLASSES_KEY], path)
    assert classes == datasets.Classes(("1", "2", "3", "4", "5"), True)
    with pytest.raises(datasets.LabelError, match=r"train.csv row 1 is not \(label 1 to 5, text\): \['6', 'x'\]"):
        datasets.ARCHIVES["yelp_full"].read(write_csv_archive(tmp_path / "b.tgz", "yelp_review_full_csv", {
            "train": [["6", "x"]], "test": [["1", "y"]]}))  # fmt: skip


def test_dbpedia_names_its_classes_from_classes_txt(tmp_path):
    splits = {"train": [["2", "MIT", "A school"], ["1", "Acme", "A firm"], ["3", "Bach", "A composer"]],
              "test": [["3", "Liszt", "A pianist"]]}  # fmt: skip
    path = write_csv_archive(tmp_path / "d.tgz", "dbpedia_csv", splits, {"dbpedia_csv/classes.txt": DBPEDIA_CLASSES})
    table = datasets.ARCHIVES["dbpedia"].read(path)
    assert table.column("label").to_pylist() == [1, 0, 2, 2]
    assert table.column("text").to_pylist()[0] == "MIT A school"
    classes = datasets.Classes.from_json(table.schema.metadata[datasets.CLASSES_KEY], path)
    assert classes.names == ("Company", "EducationalInstitution", "Artist")
    assert set(datasets.ARCHIVES["dbpedia"].check_layout(path)) == {
        *datasets.DBPEDIA_MEMBERS.values(),
        "dbpedia_csv/classes.txt",
    }
    no_classes = write_csv_archive(tmp_path / "n.tgz", "dbpedia_csv", splits)
    for read in (datasets.ARCHIVES["dbpedia"].read, datasets.ARCHIVES["dbpedia"].check_layout):
        with pytest.raises(datasets.LayoutError, match=r"no member \['dbpedia_csv/classes.txt'\]"):
            read(no_classes)
    bad = {"train": [["4", "x", "y"]], "test": [["1", "a", "b"]]}
    bad = write_csv_archive(tmp_path / "b.tgz", "dbpedia_csv", bad, {"dbpedia_csv/classes.txt": DBPEDIA_CLASSES})
    with pytest.raises(datasets.LabelError, match=r"row 1 is not \(label 1 to 3, title, content\)"):
        datasets.ARCHIVES["dbpedia"].read(bad)


@pytest.mark.parametrize("kind, folder", [("ag_news", "ag_news_csv"), ("yelp_full", "yelp_review_full_csv"),
                                          ("dbpedia", "dbpedia_csv")])  # fmt: skip
def test_a_linked_member_is_refused(kind, folder, tmp_path):
    path = tmp_path / "linked.tgz"
    with tarfile.open(path, "w:gz") as tar:
        data = b'"1","a","b"\n'
        for name in (f"{folder}/test.csv", f"{folder}/classes.txt"):
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        link = tarfile.TarInfo(f"{folder}/train.csv")
        link.type, link.linkname = tarfile.SYMTYPE, "../../etc/passwd"
        tar.addfile(link)
    expected = rf"{re.escape(str(path))}: member {folder}/train.csv is a symbolic link to '../../etc"
    with pytest.raises(datasets.LayoutError, match=expected):
        datasets.read_reviews({"kind": kind}, [path], seed=0)
    with pytest.raises(datasets.LayoutError, match=expected):
        datasets.ARCHIVES[kind].check_layout(path)


def test_the_yelp_polarity_reader_is_unchanged_by_the_shared_code(tmp_path):
    path = write_csv_archive(tmp_path / "p.tgz", "yelp_review_polarity_csv", {
        "test": [["2", "Loved it"]], "train": [["1", "meh\\nno"], ["2", "ok"]]})  # fmt: skip
    table = datasets.ARCHIVES["yelp"].read(path)
    assert table.schema == datasets.REVIEWS_SCHEMA and table.schema.metadata is None
    # The archive's order: test first here.
    assert table.to_pydict() == {
        "id": ["test:0", "train:0", "train:1"],
        "split": ["test", "train", "train"],
        "label": [1, 0, 1],
        "text": ["Loved it", "meh no", "ok"],
    }


@pytest.mark.slow
def test_a_local_dbpedia_archive_runs_the_data_stage(tmp_path):
    rows = [[str(k + 1), f"name{i}", f"{word} thing {i}"] for i in range(8) for k, word in enumerate("abc")]
    source = write_csv_archive(tmp_path / "local.tgz", "dbpedia_csv", {"train": rows, "test": rows[:6]},
                               {"dbpedia_csv/classes.txt": DBPEDIA_CLASSES})  # fmt: skip
    directory = copy_workflow(tmp_path / "workflow")
    (directory / "tiny.yaml").write_text(
        f"run_datasets: [dbpedia]\ndatasets: {{dbpedia: {{local_archive: '{source}'}}}}\n"
        "prepare: {valid_fraction: 0.25}\nembeddings: {source: random}\n"
        "models: {architectures: [gru], layers: [1], embedding: [8], hidden: 8, seeds: [0]}\n"
    )
    targets = [f"results/dbpedia/data/{name}.parquet" for name in SPLITS]
    result = snakemake(directory, *targets, "--cores", "1", "--configfile", "tiny.yaml", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (directory / "resources/dbpedia/dbpedia_csv.tgz").read_bytes() == source.read_bytes()
    train = directory / targets[0]
    assert datasets.read_classes(train).names == ("Company", "EducationalInstitution", "Artist")
    assert Counter(pq.read_table(train).column("label").to_pylist()) == {0: 6, 1: 6, 2: 6}


# ---------------------------------------------------------------------------- synthetic N-class tasks


def test_the_categorical_task_labels_each_review_by_its_most_frequent_evidence(tmp_path):
    pairs = synthetic.reviews(200, 6, 12, seed=1, task="categorical", classes=4, evidence_words=3)
    assert Counter(label for _, label in pairs) == {0: 50, 1: 50, 2: 50, 3: 50}
    for tokens, label in pairs:
        counts = Counter(synthetic.CATEGORY[token] for token in tokens if token in synthetic.CATEGORY)
        (best, top), *rest = counts.most_common()
        assert best == label and all(count < top for _, count in rest)  # no ties
        assert max(counts) < 4  # only the first four categories' words
    assert synthetic.class_names("categorical", 4) == ["sports", "music", "food", "weather"]


def test_the_ordered_task_bins_the_summed_valence(tmp_path):
    pairs = synthetic.reviews(90, 6, 12, seed=2, task="ordered", classes=3, evidence_words=3)
    assert Counter(label for _, label in pairs) == {0: 30, 1: 30, 2: 30}
    for tokens, label in pairs:
        total = synthetic.valence(tokens)
        assert total != 0 and label == (0 if total <= -3 else 1 if total <= 2 else 2)
    assert synthetic.class_names("ordered", 3) == ["-6..-3", "-2..2", "3..6"]
    # Two ordered bins are the sign: the binary task.
    assert [synthetic.ordered_bin(total, 2) for total in (-6, -1, 1, 6)] == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="the categorical task has 2 to 8 classes, not 9"):
        synthetic.reviews(10, 6, 12, seed=0, task="categorical", classes=9, evidence_words=3)


@pytest.mark.parametrize("task", ["ordered", "categorical"])
def test_an_n_class_synthetic_archive_reads_with_its_classes_and_is_reproducible(task, tmp_path):
    settings = synthetic.Settings(reviews_per_split=40, seed=0, task=task, classes=4)
    synthetic.write_archive(tmp_path / "a.tar.gz", settings)
    synthetic.write_archive(tmp_path / "b.tar.gz", settings)
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    reviews = datasets.read_reviews({"kind": "synthetic"}, [tmp_path / "a.tar.gz"], seed=0)
    assert Counter(zip(reviews.column("split").to_pylist(), reviews.column("label").to_pylist())) == {
        (split, label): 10 for split in ("train", "test") for label in range(4)
    }
    outputs = prepare_to(tmp_path, reviews)
    expected = datasets.Classes(tuple(synthetic.class_names(task, 4)), task == "ordered")
    assert datasets.read_classes(outputs["train"]) == expected


# ---------------------------------------------------------------------------- the classifier


def test_a_binary_model_has_one_logit_and_binary_cross_entropy():
    torch.manual_seed(0)
    net = model_lib.SentimentClassifier(ModelSpec("gru", 1, 6, 8, 0), 20, dropout=0.0, layer_dropout=0.0).eval()
    assert net.readout.out_features == 1 and net.classes == 2
    tokens, lengths = torch.randint(1, 20, (4, 5)), torch.tensor([5, 3, 2, 1])
    logits = net(tokens, lengths)
    labels = torch.tensor([0.0, 1.0, 1.0, 0.0])
    assert logits.shape == (4,)
    torch.testing.assert_close(net.loss(logits, labels), F.binary_cross_entropy_with_logits(logits, labels))
    assert net.predict(logits).tolist() == (logits > 0).long().tolist()


@pytest.mark.train
def test_a_binary_model_trains_to_the_weights_and_metrics_it_always_did(tmp_path):
    """The same tiny run as on main before N classes (its numbers pinned here): same losses and weights."""
    archive = tmp_path / "synthetic.tar.gz"
    synthetic.write_archive(archive, synthetic.Settings(reviews_per_split=60, seed=3))
    outputs = prepare_to(tmp_path, datasets.read_reviews({"kind": "synthetic"}, [archive], seed=0))
    splits = {split: batches.read_split(outputs[split]) for split in ("train", "valid", "test")}
    embeddings = np.random.default_rng(0).normal(size=(pq.read_table(outputs["vocab"]).num_rows, 8))
    folder = tmp_path / "model"
    folder.mkdir()
    files = model_outputs(folder)
    settings = training.Settings(epochs=2, learning_rate=0.01, threads=1, device="cpu")
    metrics = training.train(
        ModelSpec("gru", 1, 8, 8, 0, batch_size=16), splits, embeddings.astype(np.float32), settings, files
    )
    expected = {
        "best_epoch": 1, "train_loss": 0.683985153834025, "train_accuracy": 0.5625, "valid_loss": 0.696083148320516,
        "valid_accuracy": 0.4166666666666667, "test_loss": 0.69536452293396, "test_accuracy": 0.4666666666666667,
        "at_chance": True, "valid_chance_accuracy": 0.5, "chance_judged": True,
    }  # fmt: skip
    assert {key: metrics[key] for key in expected} == pytest.approx(expected, rel=1e-6)
    assert not {"classes", "test_class_accuracy", "test_chance_accuracy"} & set(metrics)
    weights = {
        "embedding.weight": 265.22468535834923, "readout.bias": 0.2073121815919876,
        "readout.weight": 1.8322696201503277, "recurrent.bias_hh_l0": 4.889746222645044,
        "recurrent.bias_ih_l0": 4.066005268134177, "recurrent.weight_hh_l0": 35.12023400212638,
        "recurrent.weight_ih_l0": 36.95263336226344,
    }  # fmt: skip
    state = model_lib.load(files.final).state_dict()
    assert {key: float(value.double().abs().sum()) for key, value in state.items()} == pytest.approx(weights, rel=1e-6)
    assert state["readout.weight"].shape == (1, 8)


@pytest.fixture(scope="module")
def categorical_run(tmp_path_factory):
    """A GRU trained on the categorical task of four classes: its folder, splits and metrics."""
    folder = tmp_path_factory.mktemp("categorical")
    archive = folder / "synthetic.tar.gz"
    synthetic.write_archive(archive, synthetic.Settings(reviews_per_split=400, task="categorical", classes=4))
    outputs = prepare_to(folder, datasets.read_reviews({"kind": "synthetic"}, [archive], seed=0), max_vocab=None)
    splits = {split: batches.read_split(outputs[split]) for split in ("train", "valid", "test")}
    embeddings = np.random.default_rng(0).normal(size=(pq.read_table(outputs["vocab"]).num_rows, 16))
    files = model_outputs(folder)
    settings = training.Settings(epochs=6, learning_rate=0.01, dropout=0.0, threads=1, device="cpu")
    metrics = training.train(
        ModelSpec("gru", 1, 16, 32, 0, batch_size=32), splits, embeddings.astype(np.float32), settings, files
    )
    return files, splits, metrics


def test_an_n_class_model_has_n_logits_learns_and_reports_per_class_accuracy(categorical_run):
    files, splits, metrics = categorical_run
    net = model_lib.load(files.final)
    assert net.classes == 4 and net.readout.weight.shape == (4, 32)
    tokens, lengths, labels = batches.padded_batch(splits["test"], np.arange(5), torch.device("cpu"))
    logits = net(tokens, lengths)
    assert logits.shape == (5, 4)
    torch.testing.assert_close(net.loss(logits, labels), F.cross_entropy(logits, labels.long()))
    assert metrics["classes"] == ["sports", "music", "food", "weather"] and metrics["ordered"] is False
    assert metrics["test_chance_accuracy"] == 0.25 and metrics["valid_chance_accuracy"] == 0.25
    assert metrics["test_accuracy"] > 0.6 and not metrics["at_chance"]
    by_class = metrics["test_class_accuracy"]
    assert len(by_class) == 4
    # Each class holds a quarter of the test reviews: the mean per-class accuracy is the accuracy.
    assert np.mean(by_class) == pytest.approx(metrics["test_accuracy"])


def test_the_accuracy_table_adds_the_class_columns_only_where_a_model_has_n_classes(categorical_run):
    files, _, metrics = categorical_run
    # As the accuracy_table rule reads it: metrics.json, written with sorted keys.
    assert storage.read_json(files.metrics)["classes"] == ["sports", "music", "food", "weather"]
    metrics = storage.read_json(files.metrics)
    by_class = catalogue.TABLES["accuracy"].optional_columns
    binary = {**{key: value for key, value in metrics.items() if key not in by_class}, "model": "gru-L2-E16-H32-s0"}
    del binary["ordered"]
    table = tables.accuracy_table([metrics, binary])
    assert list(table.columns) == catalogue.TABLES["accuracy"].names
    assert table["classes"].tolist()[0] == 4 and np.isnan(table["classes"].tolist()[1])
    cell = table["test_class_accuracy"][0]
    assert [part.split(": ")[0] for part in cell.split("; ")] == ["sports", "music", "food", "weather"]
    assert float(cell.split("; ")[2].split(": ")[1]) == pytest.approx(metrics["test_class_accuracy"][2], abs=1e-4)
    assert list(tables.accuracy_table([binary]).columns) == catalogue.TABLES["accuracy"].expected_columns([])


def test_the_majority_class_rate_of_n_classes():
    assert training.majority_rate(np.array([0, 2, 2, 1, 2], dtype=np.float32)) == 0.6
    assert training.at_chance(0.6, np.array([0, 2, 2, 1, 2] * 20, dtype=np.float32))[:2] == (True, 0.6)


def test_an_n_class_model_is_analysed_with_the_one_direction_measures_left_empty(categorical_run, tmp_path):
    """Every geometry measure is computed for N classes; alignment, valence and the mode orientation (one
    readout direction) are NaN or empty, and the tables and figures are written all the same."""
    from rnn_dynamics.outputs.figures.analyses import FIGURES, analysis_figures

    files, splits, _ = categorical_run
    net = model_lib.load(files.final)
    with pytest.raises(ValueError, match=r"4 classes: its readout is a 4 x 32 matrix.*not yet supported"):
        net.readout_weights()
    system = net.system("layer1")
    visited = visited_states(net, splits["test"], np.arange(32))[0]
    starts = fixed_points.sample_starts(visited, 60, noise=0.0, seed=0)
    found = fixed_points.solve(system, starts, fixed_points.SearchSettings(), progress=False)
    lin = linearization.linearize(system, fixed_points.approximate_set(found, fixed_points.GatherSettings()))
    settings = analyses.Settings(reviews=100, null_samples=50)
    vocabulary = [f"w{i}" for i in range(net.embedding.num_embeddings)]
    result = analyses.analyze(
        net, "layer1", lin, splits["train"], splits["test"], vocabulary, np.ones(len(vocabulary)), settings, False
    )
    summary = result["summary"]
    assert summary["classes"] == 4 and summary["simplex_angle"] == pytest.approx(109.4712206)
    for key in ("alignment_median", "valence_correlation"):
        assert np.isnan(summary[key])
    for key in ("participation_ratio", "readout_angle_median", "readout_in_manifold_share", "shuffled_accuracy",
                "readout_in_slow_modes_median", "projected_accuracy_n_minus_1", "linearized_accuracy"):  # fmt: skip
        assert np.isfinite(summary[key]), key
    assert 0 < summary["readout_angle_median"] < 180 and summary["pcs_90"] >= 1
    accuracy = result["projected_accuracy"]
    assert accuracy["components"].tolist() == [1, 2, 3, 4] and accuracy["accuracy"].between(0, 1).all()
    table = result["manifold"]
    assert len(table) == summary["fixed_points"] and set(table["predicted_class"]) <= {0, 1, 2, 3}
    analyses.write(result, tmp_path / "tables", 5)
    assert (tmp_path / "tables" / "manifold.csv").exists() and (tmp_path / "tables" / "projected_accuracy.csv").exists()
    analysis_figures(result, {name: tmp_path / f"{name}.png" for name in FIGURES}, "gru 4 classes", 5)
    assert all((tmp_path / f"{name}.png").stat().st_size > 0 for name in FIGURES)


@pytest.mark.slow
def test_an_n_class_run_goes_through_every_stage_to_the_report(tmp_path):
    directory = copy_workflow(tmp_path / "workflow")
    (directory / "nclass.yaml").write_text(
        "run_datasets: [synthetic]\n"
        "datasets: {synthetic: {kind: synthetic, reviews_per_split: 200, task: categorical, classes: 3}}\n"
        "prepare: {max_vocab: null}\nembeddings: {source: random}\n"
        "models: {architectures: [gru], layers: [1], embedding: [8], hidden: 8, seeds: [0]}\n"
        "training: {epochs: 2, threads: 1, device: cpu}\nstates: {sample_reviews: 50}\n"
        "fixed_points: {starts: 20, shards: 1, max_iterations: 30, device: cpu}\n"
        "analyses: {reviews: 20, null_samples: 20, device: cpu}\n"
    )
    result = snakemake(directory, "--cores", "2", "--configfile", "nclass.yaml", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = directory / "results" / "synthetic"
    accuracy = (results / "tables" / "accuracy.csv").read_text().splitlines()
    assert accuracy[0].endswith(",classes,test_class_accuracy,test_chance_accuracy")
    assert ",3,sports: " in accuracy[1]
    comparison = pd.read_csv(results / "tables" / "comparison.csv")
    assert comparison["classes"].tolist() == [3] and comparison["simplex_angle"].tolist() == [pytest.approx(120.0)]
    assert np.isnan(comparison["alignment_median"][0]) and np.isfinite(comparison["participation_ratio"][0])
    assert {"pcs_90", "slow_modes_stable_0.9_median", "slow_modes_unstable_median"} <= set(
        pd.read_csv(results / "tables" / "fixed_points.csv").columns
    )
    assert (results / "figures" / "gru-L1-E8-H8-s0" / "layer1" / "manifold.png").exists()


@pytest.mark.slow
def test_an_ag_news_archive_without_a_sha256_downloads_checked_by_md5_and_size(tmp_path):
    rows = [[str(k + 1), f"title {i}", f"{word} story {i}"] for i in range(8) for k, word in enumerate("abcd")]
    source = write_csv_archive(tmp_path / "served.tgz", "ag_news_csv", {"train": rows, "test": rows[:8]})
    data = source.read_bytes()
    md5 = hashlib.md5(data).hexdigest()
    directory = copy_workflow(tmp_path / "workflow")
    (directory / "tiny.yaml").write_text(
        f"run_datasets: [ag_news]\ndatasets: {{ag_news: {{url: '{source.as_uri()}', sha256: null, md5: {md5}, "
        f"size: {len(data)}}}}}\nprepare: {{valid_fraction: 0.25}}\nembeddings: {{source: random}}\n"
        "models: {architectures: [gru], layers: [1], embedding: [8], hidden: 8, seeds: [0]}\n"
    )
    result = snakemake(directory, "results/ag_news/data/train.parquet", "--cores", "1", "--configfile", "tiny.yaml")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (directory / "resources/ag_news/ag_news_csv.tgz").read_bytes() == data
    assert "md5 verified" in (directory / "logs/ag_news/download/ag_news_csv.tgz.log").read_text()
    train = directory / "results/ag_news/data/train.parquet"
    assert datasets.read_classes(train).names == datasets.AG_NEWS_CLASSES
