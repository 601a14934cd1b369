"""Fault injection: each way a run can go wrong ends in a clear error or a flagged result, never a silent one.

Resuming a checkpoint of a longer run, a diverging loss, a model at chance level,
non-finite values in the analysis, damaged files, a text file in another encoding,
two trainers of one model, reviews dropped for having no words, a misspelt config
key, and the archive's file name; config values that do not go
together, a split of one label, hints that must work as written, a full disk, odd
or missing text, one review that outweighs the rest, and too few reviews to judge.
"""

import errno
import io
import logging
import os
import re
import signal
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml

from helpers import fill, small_disk
from rnn_dynamics.data import batches, datasets, embeddings, text
from rnn_dynamics.dynamics import analyses, fixed_points, linearization, states
from rnn_dynamics.ground import config as config_lib
from rnn_dynamics.ground import logs, storage
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import model as model_lib
from rnn_dynamics.networks import training
from rnn_dynamics.outputs import tables
from rnn_dynamics.outputs.figures.analyses import FIGURES, analysis_figures

ROOT = Path(__file__).resolve().parents[1]
SPEC = ModelSpec("gru", 1, 8, 8, 0, batch_size=32)
SETTINGS = training.Settings(epochs=3, learning_rate=0.01, dropout=0.1, device="cpu", threads=1)
MODEL_DIR = f"results/synth/models/{SPEC.id}"


@pytest.fixture(scope="module")
def data(prepared_synthetic):
    vocabulary = text.read_vocabulary(prepared_synthetic / "vocab.parquet")
    splits = {
        split: batches.read_split(prepared_synthetic / f"{split}.parquet", len(vocabulary))
        for split in ("train", "valid", "test")
    }
    return vocabulary, splits


def train(folder, data, settings=SETTINGS, **kwargs):
    vocabulary, splits = data
    embeddings = np.random.default_rng(0).normal(size=(len(vocabulary), SPEC.embedding)).astype(np.float32)
    names = ("initial.pt", "model.pt", "history.parquet", "metrics.json", "checkpoint.pt")
    return training.train(SPEC, splits, embeddings, settings, training.Outputs(*(folder / n for n in names)), **kwargs)


class Killed(Exception):
    pass


def kill_after(last):
    def on_epoch_end(epoch, model):
        if epoch == last:
            raise Killed

    return on_epoch_end


# ---------------------------------------------------------------------------- 1. resuming


@pytest.mark.train
def test_a_checkpoint_of_more_epochs_than_asked_is_not_resumed(data, tmp_path, caplog):
    with pytest.raises(Killed):
        train(tmp_path, data, on_epoch_end=kill_after(2))
    assert len(torch.load(tmp_path / "checkpoint.pt", weights_only=True)["history"]) == 2
    fewer = training.Settings(**{**SETTINGS.__dict__, "epochs": 1})
    with caplog.at_level(logging.WARNING):
        metrics = train(tmp_path, data, settings=fewer)
    assert "not resuming" in caplog.text and "holds 2 epochs, more than the 1 now asked for" in caplog.text
    assert metrics["epochs"] == 1 and metrics["best_epoch"] == 1
    assert pd.read_parquet(tmp_path / "history.parquet")["epoch"].tolist() == [1]
    # Started over: the same weights as a one-epoch run that never saw the checkpoint.
    fresh = tmp_path / "fresh"
    train(fresh, data, settings=fewer)
    for key, value in model_lib.load(fresh / "model.pt").state_dict().items():
        assert torch.equal(value, model_lib.load(tmp_path / "model.pt").state_dict()[key]), key


@pytest.mark.train
def test_an_unreadable_checkpoint_is_not_resumed(data, tmp_path, caplog):
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with caplog.at_level(logging.WARNING):
        metrics = train(tmp_path, data, settings=training.Settings(**{**SETTINGS.__dict__, "epochs": 1}))
    assert "checkpoint.pt: unreadable" in caplog.text and "training from the start" in caplog.text
    assert metrics["best_epoch"] == 1


# ---------------------------------------------------------------------------- 2. divergence


@pytest.mark.train
@pytest.mark.parametrize("learning_rate", [1e6, 1e40])
def test_a_diverging_run_stops_naming_model_and_epoch(data, tmp_path, learning_rate):
    settings = training.Settings(**{**SETTINGS.__dict__, "learning_rate": learning_rate, "epochs": 1})
    with pytest.raises(training.TrainingDiverged, match=f"model {SPEC.id} diverged in epoch 1.*learning_rate"):
        train(tmp_path, data, settings=settings)
    assert not (tmp_path / "model.pt").exists() and not (tmp_path / "metrics.json").exists()


@pytest.mark.train
def test_an_exploding_loss_keeps_the_last_good_checkpoint(data, tmp_path):
    def blow_up_after_first_epoch(epoch, model):
        if epoch == 1:
            with torch.no_grad():
                model.readout.weight.mul_(1e6)  # finite, but every logit is enormous

    with pytest.raises(
        training.TrainingDiverged, match=r"epoch 2, batch 1 of .*above 69.3.*checkpoint.pt, after epoch 1\) is kept"
    ):
        train(tmp_path, data, on_epoch_end=blow_up_after_first_epoch)
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert len(checkpoint["history"]) == 1
    assert checkpoint["weights"]["readout.weight"].abs().max() < 100


@pytest.mark.train
def test_a_model_at_chance_level_is_flagged_in_the_table_and_the_log(data, tmp_path, caplog):
    frozen = training.Settings(**{**SETTINGS.__dict__, "learning_rate": 1e-12, "epochs": 1})
    with caplog.at_level(logging.WARNING):
        metrics = train(tmp_path, data, settings=frozen)
    assert metrics["at_chance"] is True and metrics["valid_chance_accuracy"] == pytest.approx(0.5, abs=0.05)
    assert f"{SPEC.id} is at chance level" in caplog.text
    learned = {**metrics, "model": "gru-L2-E8-H8-s0", "valid_accuracy": 0.95, "at_chance": False}
    table = tables.accuracy_table([metrics, learned])
    assert table["at_chance"].tolist() == [True, False]


def test_analysis_tables_and_figures_survive_non_finite_values(data, tmp_path):
    """A network blown up to saturation: eigenvalues exactly 0 or 1 (time constants 0 and inf), NaN Jacobians."""
    vocabulary, splits = data
    settings = analyses.Settings(reviews=40, null_samples=50, top_words=5, regularization=1.0, seed=0)
    for scale in (1e6, 1e40):  # 1e40 overflows float32 weights to inf
        torch.manual_seed(0)
        network = model_lib.SentimentClassifier(SPEC, len(vocabulary), dropout=0.0, layer_dropout=0.0).eval()
        with torch.no_grad():
            for parameter in network.parameters():
                parameter.mul_(scale)
        lin = linearization.linearize(
            network.system("layer1"), np.random.default_rng(0).uniform(-1, 1, (4, SPEC.hidden))
        )
        tau = lin.time_constants
        assert not np.isfinite(tau).all()
        result = analyses.analyze(
            network,
            "layer1",
            lin,
            splits["train"],
            splits["test"],
            vocabulary.tokens,
            np.asarray(vocabulary.counts),
            settings,
            progress=False,
        )
        folder = tmp_path / f"scale{scale:g}"
        analyses.write(result, folder, settings.top_words)
        analysis_figures(result, {name: folder / f"{name}.png" for name in FIGURES}, "blown up", settings.top_words)
        assert all((folder / f"{name}.png").stat().st_size > 0 for name in FIGURES)
        assert (folder / "eigenvalues.csv").exists() and (folder / "summary.json").exists()
    comparison = tables.comparison_table([result["summary"]], [{"model": SPEC.id, "test_accuracy": 0.5}])
    assert len(comparison) == 1


# ---------------------------------------------------------------------------- 3. damaged files


def garbage(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00garbage, not what this file should hold\n" * 4)
    return path


@pytest.mark.parametrize(
    "relative, read, rule",
    [
        (f"{MODEL_DIR}/model.pt", model_lib.load, "train"),
        (f"{MODEL_DIR}/metrics.json", storage.read_json, "train"),
        ("results/synth/states/{SPEC}/layer1.parquet", states.read_layer, "hidden_states"),
        ("results/synth/data/train.parquet", batches.read_split, "prepare"),
        ("results/synth/data/vocab.parquet", text.read_vocabulary, "prepare"),
        ("results/synth/embeddings/random-8.npy", storage.read_array, "embeddings"),
        ("results/synth/linearization/{SPEC}/layer1.parquet", linearization.read, "linearize"),
        ("results/synth/pca/{SPEC}.parquet", states.read_pca, "hidden_states"),
    ],
)
def test_a_damaged_file_is_named_with_the_rule_that_makes_it(tmp_path, relative, read, rule):
    path = garbage(tmp_path / relative.format(SPEC=SPEC.id))
    with pytest.raises(storage.UnreadableFile) as error:
        read(path)
    message = str(error.value)
    assert message.startswith(f"{path}: unreadable (")
    assert f"made by rule `{rule}`" in message and f"--forcerun {rule}" in message
    assert "weights_only" not in message and "\n" not in message


def test_a_model_file_of_something_else_is_named(tmp_path):
    path = tmp_path / MODEL_DIR / "model.pt"
    path.parent.mkdir(parents=True)
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(
        storage.UnreadableFile, match=r"model.pt: unreadable \(expected a dict with keys .*rule `train`"
    ):
        model_lib.load(path)


def test_a_table_of_the_wrong_schema_names_the_rule(tmp_path):
    path = tmp_path / "results/synth/data/test.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({"id": ["a"]}), path)
    with pytest.raises(storage.SchemaError, match=r"test.parquet: missing column 'label'.*--forcerun prepare"):
        batches.read_split(path)


# ---------------------------------------------------------------------------- 4. text encodings


def latin1_csv(path):
    rows = ["review,sentiment", "a fine film,pos", "a dull film,neg", "un café crème superb,pos", "dreadful,neg"]
    path.write_bytes("\n".join(rows).encode("latin-1") + b"\n")
    return path


def test_a_latin1_file_is_named_with_line_and_encoding(tmp_path):
    path = latin1_csv(tmp_path / "reviews.csv")
    spec = {"kind": "table", "path": str(path), "text_column": "review", "label_column": "sentiment"}
    with pytest.raises(ValueError, match=r"reviews.csv: line 4 is not valid utf-8 .*b'\\xe9'.*encoding: latin-1"):
        datasets.read_reviews(spec, [path], seed=0)


def test_a_latin1_file_reads_with_its_encoding(tmp_path):
    path = latin1_csv(tmp_path / "reviews.csv")
    spec = {
        "kind": "table",
        "path": str(path),
        "text_column": "review",
        "label_column": "sentiment",
        "encoding": "latin-1",
    }
    table = datasets.read_reviews(spec, [path], seed=0)
    assert "un café crème superb" in table.column("text").to_pylist()


# ---------------------------------------------------------------------------- 5. two trainers


def test_a_second_trainer_of_one_model_fails_while_the_first_holds_the_lock(tmp_path):
    folder = tmp_path / MODEL_DIR
    with training.model_lock(SPEC, folder):
        with pytest.raises(
            RuntimeError, match=rf"model {SPEC.id} .*already being written by process {os.getpid()}.*\.lock"
        ):
            with training.model_lock(SPEC, folder):
                pass
    with training.model_lock(SPEC, folder):  # released with the block
        pass


def test_the_lock_of_a_killed_trainer_is_released(tmp_path):
    """Another process holds the lock; killed with SIGKILL it cannot clean up, yet the lock is free again."""
    lock = tmp_path / ".lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import time
            from rnn_dynamics.ground.storage import exclusive_lock
            with exclusive_lock({str(lock)!r}, "model x"):
                print("locked", flush=True)
                time.sleep(60)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RuntimeError, match=rf"model x is already being written by process {holder.pid}"):
            with storage.exclusive_lock(lock, "model x"):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with storage.exclusive_lock(lock, "model x"):
        pass


# ---------------------------------------------------------------------------- 6. smaller cases


def test_reviews_dropped_for_having_no_words_are_counted_on_the_console(tmp_path, capfd):
    rows = [(f"train/{i}", "train", i % 2, "good" if i % 2 else "bad") for i in range(20)]
    rows += [(f"test/{i}", "test", i % 2, "good" if i % 2 else "bad") for i in range(10)]
    rows += [("train/empty", "train", 0, "   "), ("test/empty", "test", 1, "")]
    reviews = pa.table([list(column) for column in zip(*rows)], schema=datasets.REVIEWS_SCHEMA)
    outputs = {name: tmp_path / f"{name}.parquet" for name in ("train", "valid", "test", "vocab")}
    with logs.to_file(tmp_path / "prepare.log"):
        summary = datasets.prepare(reviews, outputs, datasets.PrepareSettings())
    assert summary["dropped_empty"] == 2
    assert summary["train"] + summary["valid"] == 20 and summary["test"] == 10
    console = capfd.readouterr().err
    assert "dropping 2 reviews with no tokens" in console and "train/empty" in console
    assert "'dropped_empty': 2" in (tmp_path / "prepare.log").read_text()


def test_an_unknown_config_key_is_named_with_its_file_and_the_allowed_keys(tmp_path):
    schema = ROOT / "workflow/schemas/config.schema.yaml"
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    extra = tmp_path / "mine.yaml"
    extra.write_text("trainig: {epochs: 3}\ntraining: {epoch: 3}\n")
    config.update(trainig={"epochs": 3}, bogus=1)
    config["training"]["epoch"] = 3
    with pytest.raises(ValueError) as error:
        config_lib.check_keys(config, schema, [ROOT / "config.yaml", extra])
    lines = str(error.value).splitlines()
    assert len(lines) == 4
    assert lines[0].startswith(f"unknown config key 'trainig' (in {extra}); allowed keys: analyses, context, datasets,")
    assert lines[1].startswith("unknown config key 'bogus' (in --config)")
    assert lines[2].startswith(
        f"unknown config key 'training.epoch' (in {extra}); "
        "allowed keys under training: architecture_learning_rates, device,"
    )
    assert "config.schema.yaml" in lines[3]
    config_lib.check_keys(yaml.safe_load((ROOT / "config.yaml").read_text()), schema, [ROOT / "config.yaml"])


def test_an_unknown_config_key_stops_snakemake_in_a_few_lines(tmp_path):
    from pipeline import copy_workflow, snakemake

    result = snakemake(copy_workflow(tmp_path), "-n", "--config", "bogus_key=1", timeout=120)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "unknown config key 'bogus_key' (in --config); allowed keys: analyses," in output
    assert len(output.splitlines()) < 15, output


def test_downloaded_archives_keep_their_official_file_names():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for entry in config["datasets"].values():
        if entry["kind"] in datasets.downloaded():
            archive = datasets.ARCHIVES[entry["kind"]]
            assert archive.file_name == entry["url"].rsplit("/", 1)[1] == archive.url.rsplit("/", 1)[1]
            assert entry["url"] == archive.url


def test_every_file_a_rule_writes_is_traced_to_that_rule(tmp_path):
    """The rule named in an 'unreadable' error follows the rules themselves (a dry run's plan)."""
    from pipeline import copy_workflow, snakemake

    result = snakemake(
        copy_workflow(tmp_path), "-n", "--forceall", "--configfile", "configs/synthetic.yaml", timeout=120
    )
    assert result.returncode == 0, result.stderr
    traced = set()
    for block in result.stdout.split("\nrule ")[1:]:
        rule = block.split(":", 1)[0]
        outputs = [line for line in block.split("\n\n")[0].splitlines() if line.startswith("    output: ")]
        for path in outputs[0].removeprefix("    output: ").split(", ") if outputs else []:
            path = path.removesuffix(" (update)")  # the flag of an output kept while its job runs
            read_back = path if Path(path).suffix else f"{path}/x.parquet"  # a directory output: a file in it
            if path.startswith("results/") and not path.endswith((".png", ".html")):
                assert storage.producing_rule(read_back) == rule, path
                # What a hint tells --forcerun is an output of the plan (the folder, for a file in one).
                assert storage.forcerun_target(tmp_path / read_back) == path, path
                traced.add(rule)
    assert {"prepare", "embeddings", "train", "hidden_states", "fixed_point_shard", "linearize", "analyze"} <= traced


# ---------------------------------------------------------------------------- 7. config values that do not go together


@pytest.mark.parametrize(
    "override, expected",
    [
        # More shards than starts: shard 13 of 20 had no starts and crashed in the solver.
        (
            "fixed_points={starts: 10, shards: 20}",
            "fixed_points.shards (20) is larger than fixed_points.starts (10)",
        ),
        # One hidden unit: the figures (PC1 against PC2) crashed; the schema refuses it.
        ("models={hidden: 1}", "On instance['models']['hidden']"),
        # A similarity axis of one value (one seed): the run made no table and said nothing.
        (
            "similarity={axes: [seed, layer]}",
            "similarity.axes: the axis 'seed' has one value in the grid (0, from models.seeds)",
        ),
        # A system compared with itself: a row of DSA 0 and CKA 1.
        (
            "similarity={pairs: [[gru-L1-E16-H32-s0/layer1, gru-L1-E16-H32-s0/layer1]]}",
            "similarity.pairs: the pair ['gru-L1-E16-H32-s0/layer1', 'gru-L1-E16-H32-s0/layer1'] compares a system "
            "with itself",
        ),
    ],
)
def test_config_values_that_cannot_run_stop_snakemake_before_any_job(tmp_path, override, expected):
    from pipeline import copy_workflow, snakemake

    result = snakemake(
        copy_workflow(tmp_path), "-n", "--configfile", "configs/synthetic.yaml", "--config", override, timeout=120
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0 and expected in output, output[-3000:]
    assert "Job stats" not in output and len(output.splitlines()) < 25, output


def test_more_shards_than_starts_is_refused_by_the_config_check_and_the_shard():
    config = yaml.safe_load((ROOT / "configs/synthetic.yaml").read_text())
    config_lib.check_values(config)
    config["fixed_points"].update(starts=10, shards=20)
    with pytest.raises(ValueError, match=r"shards \(20\) is larger than fixed_points.starts \(10\).*at most 10"):
        config_lib.check_values(config)
    settings = fixed_points.SearchSettings(starts=10)
    with pytest.raises(ValueError, match=r"shard 13 of 20: fixed_points.shards \(20\) is larger"):
        fixed_points.solve_shard(None, np.zeros((40, 8)), settings, 12, 20)


def test_a_similarity_axis_of_one_value_or_a_pair_of_one_system_is_refused_naming_the_axis_or_pair():
    from rnn_dynamics.dynamics import similarity

    one_layer = [ModelSpec("gru", 1, 8, 8, 0)]
    cases = [
        ({"axes": ["seed"]}, one_layer, "per_layer", r"axis 'seed' has one value in the grid \(0, from models.seeds\)"),
        (
            {"axes": ["layer"]},
            one_layer,
            "per_layer",
            r"axis 'layer' has one value in the grid \('layer1', from models",
        ),
        ({"axes": ["layer"]}, [ModelSpec("gru", 2, 8, 8, 0)], "stack", r"axis 'layer' has one value .*'stack'"),
        ({"axes": ["split"]}, one_layer, "per_layer", r"axis 'split' has one value .*'test', from states.splits"),
        ({"pairs": [["gru-L1-E8-H8-s0/layer1"] * 2]}, one_layer, "per_layer", r"compares a system with itself"),
    ]
    for section, models, mode, expected in cases:
        with pytest.raises(ValueError, match=expected):
            similarity.pairs(similarity.Settings(**section), models, ["test"], mode)
    two_seeds = [ModelSpec("gru", 2, 8, 8, seed) for seed in (0, 1)]
    found = similarity.pairs(similarity.Settings(axes=["seed", "layer"]), two_seeds, ["test"], "per_layer")
    assert [axis for axis, _, _ in found] == ["seed", "seed", "layer", "layer"]


# ---------------------------------------------------------------------------- 8. a split of one label


def labelled_csv(path, labels):
    words = {0: "a dull film", 1: "a fine film"}
    path.write_text("text,label\n" + "".join(f"{words[label]} {i},{label}\n" for i, label in enumerate(labels)))
    return path


@pytest.mark.parametrize("one_label", ["train", "test"])
def test_a_split_of_one_label_stops_prepare_naming_the_file_and_the_counts(tmp_path, one_label):
    files = {
        split: labelled_csv(tmp_path / f"{split}.csv", [1] * 30 if split == one_label else [0, 1] * 10)
        for split in ("train", "test")
    }
    spec = {"kind": "table", "train": str(files["train"]), "test": str(files["test"])}
    reviews = datasets.read_reviews(
        {**spec, "text_column": "text", "label_column": "label"}, list(files.values()), seed=0
    )
    outputs = {name: tmp_path / "data" / f"{name}.parquet" for name in ("train", "valid", "test", "vocab")}
    counts = "label 0: 0, label 1: 24" if one_label == "train" else "label 0: 0, label 1: 30"
    with pytest.raises(datasets.LabelError) as error:
        datasets.prepare(reviews, outputs, datasets.PrepareSettings())
    assert str(error.value) == (
        f"{outputs[one_label]}: the {one_label} split, from {files[one_label]}, has no review of label [0] "
        f"({counts}); every split needs every label: check the labels in column 'label' of {files[one_label]}"
    )
    assert not (tmp_path / "data").exists()  # nothing written


def test_a_validation_split_of_one_label_names_valid_fraction(tmp_path):
    files = [labelled_csv(tmp_path / "train.csv", [0] * 30 + [1] * 5), labelled_csv(tmp_path / "test.csv", [0, 1] * 5)]
    spec = {
        "kind": "table",
        "train": str(files[0]),
        "test": str(files[1]),
        "text_column": "text",
        "label_column": "label",
    }
    reviews = datasets.read_reviews(spec, files, seed=0)
    outputs = {name: tmp_path / "data" / f"{name}.parquet" for name in ("train", "valid", "test", "vocab")}
    # 10% of each label held out: 3 of label 0, round(0.5) = 0 of label 1.
    with pytest.raises(datasets.LabelError) as error:
        datasets.prepare(reviews, outputs, datasets.PrepareSettings(valid_fraction=0.1))
    assert str(error.value) == (
        f"{outputs['valid']}: the valid split, drawn from the train reviews of {files[0]} (prepare.valid_fraction "
        f"0.1), has no review of label [1] (label 0: 3, label 1: 0); every split needs every label: check the "
        f"labels in column 'label' of {files[0]}, or raise prepare.valid_fraction"
    )


def test_a_training_fraction_that_leaves_a_label_almost_no_review_is_refused_before_training(tmp_path):
    """0.001 of 240 reviews is one review of one label: refused before any training step, naming the model, the
    counts and models.train_fraction, with a fraction that is enough for this seed."""
    lengths = np.full(240, 3)
    train_split = batches.Reviews(
        np.arange(720) % 20, np.concatenate([[0], np.cumsum(lengths)]), (np.arange(240) % 2).astype(np.float32)
    )
    splits = {"train": train_split, "valid": train_split, "test": train_split}
    spec = ModelSpec("gru", 1, 8, 8, 0, train_fraction=0.001)
    names = ("initial.pt", "model.pt", "history.parquet", "metrics.json", "checkpoint.pt")
    with pytest.raises(ValueError) as error:
        training.train(
            spec, splits, np.zeros((20, 8), np.float32), SETTINGS, training.Outputs(*(tmp_path / n for n in names))
        )
    message = str(error.value)
    assert message.startswith(
        "gru-L1-E8-H8-F0.001-s0: models.train_fraction 0.001 trains on 1 of the 240 reviews of the training split"
    ), message
    assert "at least 2 of each are needed" in message and not list(tmp_path.iterdir())  # nothing written
    enough = float(re.search(r"raise models.train_fraction to at least ([0-9.]+)$", message).group(1))
    subset = batches.trained_on(train_split, ModelSpec("gru", 1, 8, 8, 0, train_fraction=enough))
    assert np.bincount(subset.labels.astype(int)).min() >= batches.MIN_TRAINING_REVIEWS_PER_LABEL
    # A fraction of a label-rich split trains as before: 0.1 of 240 is 24 reviews of both labels.
    assert len(batches.trained_on(train_split, ModelSpec("gru", 1, 8, 8, 0, train_fraction=0.1))) == 24


# ---------------------------------------------------------------------------- 9. hints that work as written


def forcerun_hint(message: str) -> str:
    """The --forcerun target a damaged file's message proposes for its job."""
    match = re.search(r"`--forcerun ([^`]+)` added \(this job", message)
    assert match, message
    return match.group(1)


SYNTHETIC = "gru-L1-E16-H32-s0"
# One file of every kind the storage layer reads back, with its reader and the rule whose job makes it.
DAMAGED = [
    ("results/synthetic/data/train.parquet", batches.read_split, "prepare"),
    ("results/synthetic/data/vocab.parquet", text.read_vocabulary, "prepare"),
    ("results/synthetic/embeddings/random-16.npy", storage.read_array, "embeddings"),
    (f"results/synthetic/models/{SYNTHETIC}/model.pt", model_lib.load, "train"),
    (f"results/synthetic/models/{SYNTHETIC}/metrics.json", storage.read_json, "train"),
    (f"results/synthetic/models/{SYNTHETIC}/checkpoint.pt", storage.read_torch, "train"),  # not an output
    (f"results/synthetic/states/{SYNTHETIC}/layer1.parquet", states.read_layer, "hidden_states"),  # in a folder
    (f"results/synthetic/pca/{SYNTHETIC}.parquet", states.read_pca, "hidden_states"),
    (f"results/synthetic/examples/{SYNTHETIC}.parquet", states.read_examples, "hidden_states"),
    (f"results/synthetic/fixed_points/{SYNTHETIC}/layer1/shard-1-of-2.parquet", fixed_points.read_shard,
     "fixed_point_shard"),
    (f"results/synthetic/fixed_points/{SYNTHETIC}/layer1.parquet", fixed_points.read_fixed_points,
     "gather_fixed_points"),
    (f"results/synthetic/linearization/{SYNTHETIC}/layer1.parquet", linearization.read, "linearize"),
    (f"results/synthetic/analyses/{SYNTHETIC}/layer1/summary.json", storage.read_json, "analyze"),  # in a folder
]  # fmt: skip


@pytest.fixture(scope="module")
def damaged_run(synthetic_pipeline, tmp_path_factory):
    """A copy of the synthetic run in which one file of every kind in ``DAMAGED`` is garbage.

    Damaged in place, with their times kept: Snakemake sees no newer input, so a dry run plans only
    what a hint forces.
    """
    run = tmp_path_factory.mktemp("damaged_run") / "run"
    from pipeline import copy_run

    copy_run(synthetic_pipeline, run, "report.*")
    for relative, _, _ in DAMAGED:
        path = run / relative
        times = (path.stat().st_atime, path.stat().st_mtime) if path.exists() else None
        assert times or path.name == "checkpoint.pt", relative  # checkpoint.pt is gone once training ends
        garbage(path)
        if times:
            os.utime(path, times)
    return run


@pytest.mark.slow
@pytest.mark.parametrize("relative, read, rule", DAMAGED, ids=[entry[0].split("/", 2)[2] for entry in DAMAGED])
def test_the_forcerun_hint_of_a_damaged_file_plans_its_job(damaged_run, relative, read, rule):
    with pytest.raises(storage.UnreadableFile) as error:
        read(damaged_run / relative)
    target = forcerun_hint(str(error.value))
    assert f"--forcerun {rule}` (every job of the rule)" in str(error.value)
    # The hint, added to the run's own command (a dry run of it): the job that makes the file is planned.
    from pipeline import CONFIG, snakemake

    result = snakemake(damaged_run, "-n", *CONFIG, "--forcerun", target, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    job = next(block for block in output.split("\nrule ")[1:] if target in block.split("reason:")[0])
    assert job.startswith(f"{rule}:") and "reason: Forced execution" in job, job


@pytest.mark.slow
def test_the_forcerun_hint_for_a_damaged_state_dump_makes_it_again(synthetic_pipeline, tmp_path):
    """A file inside the states folder, a directory() output, damaged and made again by its hint: the hint's
    target, forced, is the job that writes the folder (the jobs after it, which the run's own command would
    also make again, are the dry runs' business above)."""
    from pipeline import CONFIG, copy_run, snakemake

    run = tmp_path / "run"
    copy_run(synthetic_pipeline, run, "report.*")
    path = garbage(run / f"results/synthetic/states/{SYNTHETIC}/layer1.parquet")
    with pytest.raises(storage.UnreadableFile) as error:
        states.read_layer(path)
    target = forcerun_hint(str(error.value))
    assert target == f"results/synthetic/states/{SYNTHETIC}"
    result = snakemake(run, target, "--cores", "2", *CONFIG, "--forcerun", target)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "hidden_states" in out and "1 of 1 steps (100%) done" in out, out[-3000:]
    assert len(states.read_layer(path)["h"]) > 0


# ---------------------------------------------------------------------------- 10. a full disk


@pytest.mark.train
def test_a_full_disk_during_training_says_so_keeps_the_last_checkpoint_and_resumes(data, tmp_path, caplog):
    with small_disk(tmp_path / "disk") as disk:
        folder = disk / MODEL_DIR

        def fill_disk_after_first_epoch(epoch, model):
            if epoch == 1:
                fill(disk)

        with pytest.raises(storage.NoSpaceLeft) as error:
            train(folder, data, on_epoch_end=fill_disk_after_first_epoch)
        message = str(error.value)
        checkpoint = folder / "checkpoint.pt"
        # torch.save itself says only "unexpected pos ... vs ..." (a RuntimeError of its zip writer).
        assert message.startswith(f"{checkpoint}: no space left on device (")
        assert re.search(rf"\(\d[\d,]* bytes free in {re.escape(str(folder))}; the write failed with", message)
        assert f"the last good checkpoint ({checkpoint}, after epoch 1) is kept" in message
        assert message.endswith(
            "Free some space, then rerun the same snakemake command: training resumes from checkpoint.pt after epoch 1"
        )
        assert error.value.errno == errno.ENOSPC
        assert len(torch.load(checkpoint, weights_only=True)["history"]) == 1
        assert sorted(path.name for path in folder.iterdir()) == ["checkpoint.pt", "initial.pt"]  # no partial file

        (disk / "ballast").unlink()  # space again: the same call resumes after epoch 1
        with caplog.at_level(logging.INFO):
            metrics = train(folder, data)
        assert f"resuming from {checkpoint} after epoch 1" in caplog.text
        assert metrics["epochs"] == 3 and not checkpoint.exists()
        assert pd.read_parquet(folder / "history.parquet")["epoch"].tolist() == [1, 2, 3]


def write_model(path):
    model_lib.save(model_lib.SentimentClassifier(SPEC, 50, dropout=0.0, layer_dropout=0.0), path)


@pytest.mark.parametrize(
    "name, write",
    [
        ("table.parquet", lambda path: storage.write_table(pa.table({"x": np.arange(50_000)}), path)),
        ("metrics.json", lambda path: storage.write_json({"x": list(range(50_000))}, path)),
        ("model.pt", write_model),
        ("vectors.npy", lambda path: embeddings.save(np.zeros((1000, 100), np.float32), path)),
    ],
)
def test_every_write_on_a_full_disk_says_so_and_keeps_the_earlier_file(tmp_path, name, write):
    with small_disk(tmp_path / "disk", "4m") as disk:
        path = disk / "results" / name
        path.parent.mkdir()
        path.write_bytes(b"an earlier, complete file")
        fill(disk)
        with pytest.raises(storage.NoSpaceLeft) as error:
            write(path)
        message = str(error.value)
        assert message.startswith(f"{path}: no space left on device (") and "bytes free in" in message
        assert "nothing was replaced" in message and "rerun the same snakemake command" in message
        assert path.read_bytes() == b"an earlier, complete file"
        assert [p.name for p in path.parent.iterdir()] == [name]  # no temporary file left


# ---------------------------------------------------------------------------- 11. text that looks empty or odd


def test_invisible_characters_and_decomposed_letters_do_not_make_new_words():
    assert text.tokenize("\u200bgood \ufeffthe e\u0301xcellent \u202egood\u202c wo\u00adrd") == [
        "good", "the", "\u00e9xcellent", "good", "word",
    ]  # fmt: skip
    assert text.tokenize("e\u0301xcellent") == text.tokenize("\u00e9xcellent")
    assert text.tokenize("\u200b\u200c\ufeff \u2066") == []


def test_a_review_of_only_invisible_characters_is_dropped_and_counted(tmp_path):
    rows = [(f"train/{i}", "train", i % 2, "good" if i % 2 else "bad") for i in range(20)]
    rows += [(f"test/{i}", "test", i % 2, "good" if i % 2 else "bad") for i in range(10)]
    rows += [("train/invisible", "train", 0, "\u200b\u200b\ufeff")]
    reviews = pa.table([list(column) for column in zip(*rows)], schema=datasets.REVIEWS_SCHEMA)
    outputs = {name: tmp_path / f"{name}.parquet" for name in ("train", "valid", "test", "vocab")}
    assert datasets.prepare(reviews, outputs, datasets.PrepareSettings())["dropped_empty"] == 1


MISSING_TEXTS = ["NaN", "nan", "null", ""]


def table_file(path, texts, labels):
    """A CSV or Parquet file of ``texts`` and ``labels`` (None: a null cell)."""
    if path.suffix == ".csv":
        cell = lambda value: "" if value is None else str(value)  # noqa: E731
        path.write_text("text,label\n" + "".join(f"{cell(t)},{cell(y)}\n" for t, y in zip(texts, labels)))
    else:
        pq.write_table(pa.table({"text": texts, "label": labels}), path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_missing_text_is_dropped_and_counted_alike_in_csv_and_parquet(tmp_path, suffix, caplog):
    texts = ["a fine film", "a dull film"] * 10 + MISSING_TEXTS + [None]
    labels = [1, 0] * 10 + [1, 0, 1, 0, 1]
    path = table_file(tmp_path / f"reviews{suffix}", texts, labels)
    spec = {"kind": "table", "path": str(path), "text_column": "text", "label_column": "label"}
    with caplog.at_level(logging.WARNING):
        reviews = datasets.read_reviews(spec, [path], seed=0)
    # A CSV's rows are named by their lines (the header is line 1), a Parquet file's by their rows from 1.
    where = "lines [22, 23, 24, 25, 26]" if suffix == ".csv" else "rows [21, 22, 23, 24, 25]"
    assert f"{path}: 5 reviews have no text in column 'text'" in caplog.text and where in caplog.text
    assert "nan" not in reviews.column("text").to_pylist()
    outputs = {name: tmp_path / f"{name}.parquet" for name in ("train", "valid", "test", "vocab")}
    assert datasets.prepare(reviews, outputs, datasets.PrepareSettings())["dropped_empty"] == 5
    assert "nan" not in text.read_vocabulary(outputs["vocab"]).tokens


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_missing_labels_are_an_error_alike_in_csv_and_parquet(tmp_path, suffix):
    labels = [1.0, 0.0] * 5 + [float("nan"), None, float("nan")]
    path = table_file(tmp_path / f"reviews{suffix}", ["a fine film"] * 13, labels)
    spec = {"kind": "table", "path": str(path), "text_column": "text", "label_column": "label"}
    where = r"lines \[12, 13, 14\]" if suffix == ".csv" else r"rows \[11, 12, 13\]"
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: column 'label' has 3 empty values .*{where}"):
        datasets.read_reviews(spec, [path], seed=0)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_repeated_column_is_named_with_its_file(tmp_path, suffix):
    path = tmp_path / f"reviews{suffix}"
    if suffix == ".csv":
        path.write_text("text,label,text\ngood,1,x\nbad,0,y\n")
    else:
        pq.write_table(pa.Table.from_arrays([pa.array(["good", "bad"]), pa.array([1, 0]), pa.array(["x", "y"])],
                                            names=["text", "label", "text"]), path)  # fmt: skip
    spec = {"kind": "table", "path": str(path), "text_column": "text", "label_column": "label"}
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: column 'text' occurs 2 times in the header"):
        datasets.read_reviews(spec, [path], seed=0)


def test_a_yelp_archive_with_a_linked_member_is_named(tmp_path):
    path = tmp_path / "yelp_review_polarity_csv.tgz"
    with tarfile.open(path, "w:gz") as tar:
        data = b'"1","meh"\n"2","great"\n'
        member = tarfile.TarInfo("yelp_review_polarity_csv/test.csv")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
        link = tarfile.TarInfo("yelp_review_polarity_csv/train.csv")
        link.type, link.linkname = tarfile.SYMTYPE, "../../etc/passwd"
        tar.addfile(link)
    expected = rf"{re.escape(str(path))}: member yelp_review_polarity_csv/train.csv is a symbolic link to '../../etc"
    with pytest.raises(datasets.LayoutError, match=expected):
        datasets.read_reviews({"kind": "yelp"}, [path], seed=0)
    with pytest.raises(datasets.LayoutError, match=expected):
        datasets.ARCHIVES["yelp"].check_layout(path)


# ---------------------------------------------------------------------------- 12. one review among many; few to judge


def subset(reviews, rows):
    """Reviews ``rows`` of ``reviews``, in that order."""
    pieces = [reviews.tokens[reviews.offsets[row] : reviews.offsets[row + 1]] for row in rows]
    offsets = np.concatenate([[0], np.cumsum([len(piece) for piece in pieces])]).astype(np.int64)
    return batches.Reviews(np.concatenate(pieces), offsets, reviews.labels[list(rows)])


def test_one_review_that_supplies_most_states_is_warned_of(data, tmp_path, caplog):
    vocabulary, splits = data
    short = subset(splits["test"], range(30))
    long_review = np.tile(short.tokens[: short.offsets[1]], 400)  # one review of thousands of words
    split = batches.Reviews(
        np.concatenate([long_review, short.tokens]), np.concatenate([[0], short.offsets + len(long_review)]),
        np.concatenate([[1.0], short.labels]).astype(np.float32),
    )  # fmt: skip
    torch.manual_seed(0)
    network = model_lib.SentimentClassifier(SPEC, len(vocabulary), dropout=0.0, layer_dropout=0.0).eval()
    settings = states.Settings(sample_reviews="all", seed=0, batch_size=64, examples={})
    outputs = {"states": tmp_path / "states", "pca": tmp_path / "pca.parquet", "examples": tmp_path / "ex.parquet"}
    with caplog.at_level(logging.WARNING):
        states.write_hidden_states(network, network, short, vocabulary.index, settings, outputs, None, progress=False)
    assert "supplies" not in caplog.text
    with caplog.at_level(logging.WARNING):
        states.write_hidden_states(network, network, split, vocabulary.index, settings, outputs, None, progress=False)
    share = len(long_review) / len(split.tokens)
    assert f"review 0 of the split (`review` 0 in the layer dumps) supplies {len(long_review)} of the " in caplog.text
    assert f"({100 * share:.0f}%, above 10%)" in caplog.text
    assert "dumped, which the fixed-point starts are drawn from" in caplog.text and "the PCA" in caplog.text


@pytest.mark.train
def test_too_few_validation_reviews_are_not_called_at_chance(data, tmp_path, caplog):
    vocabulary, splits = data
    valid = splits["valid"]
    two = subset(valid, [int(np.flatnonzero(valid.labels == label)[0]) for label in (0, 1)])
    with caplog.at_level(logging.WARNING):
        metrics = train(tmp_path, (vocabulary, {**splits, "valid": two}), settings=training.Settings(
            **{**SETTINGS.__dict__, "epochs": 1}))  # fmt: skip
    assert metrics["chance_judged"] is False and metrics["at_chance"] is False
    assert f"{SPEC.id}: too few validation reviews to judge whether it is at chance level: 2" in caplog.text
    assert "5 or more" in caplog.text and f"{SPEC.id} is at chance level" not in caplog.text
    table = tables.accuracy_table([metrics])
    assert table[["at_chance", "chance_judged"]].values.tolist() == [[False, False]]
    # The minimum follows the two-standard-error rule: a perfect score must clear it.
    assert training.reviews_to_judge(0.5) == 5
    assert training.at_chance(1.0, np.array([0, 1, 0, 1])) == (False, 0.5, False)
    assert training.at_chance(1.0, np.array([0, 1, 0, 1, 0, 1])) == (False, 0.5, True)
