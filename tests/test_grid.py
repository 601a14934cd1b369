"""Model ids and the grid: the batch-size and training-fraction axes, and the split tags of analysed states."""

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from rnn_dynamics.data import batches
from rnn_dynamics.ground import config
from rnn_dynamics.ground.grid import (
    ID_BATCH_SIZE,
    ID_TRAIN_FRACTION,
    MODEL_ID_PATTERN,
    SPLIT_TAG_PATTERN,
    UNTAGGED_SPLIT,
    ModelSpec,
    model_grid,
    split_of_tag,
    split_tag,
    untag,
)

ROOT = Path(__file__).resolve().parents[1]


def test_the_ids_of_a_grid_at_the_default_axes_are_as_they_were():
    """config.yaml's grid (batch size and fraction at their defaults) keeps the ids made before the axes."""
    models = yaml.safe_load((ROOT / "config.yaml").read_text())["models"]
    ids = [spec.id for spec in model_grid(models)]
    assert ids == [f"gru-L{n}-E{e}-H256-s0" for n in (1, 2, 3, 4) for e in (100, 50)]
    without_axes = {key: value for key, value in models.items() if key not in ("batch_size", "train_fraction")}
    assert [spec.id for spec in model_grid(without_axes)] == ids


@pytest.mark.parametrize(
    "spec, expected",
    [
        (ModelSpec("gru", 3, 100, 256, 0), "gru-L3-E100-H256-s0"),
        (ModelSpec("gru", 1, 50, 256, 2, batch_size=16), "gru-L1-E50-H256-B16-s2"),
        (ModelSpec("lstm", 1, 50, 256, 0, train_fraction=0.3), "lstm-L1-E50-H256-F0.3-s0"),
        (ModelSpec("gru", 1, 50, 256, 1, 16, 0.25), "gru-L1-E50-H256-B16-F0.25-s1"),
    ],
)
def test_an_axis_enters_the_id_only_off_the_id_rules_constant_and_the_id_parses_back(spec, expected):
    assert spec.id == expected
    assert ModelSpec.parse(expected) == spec
    # The pattern of the wildcard constraints and of the timeline matches every id, and the split tags after it.
    assert re.fullmatch(MODEL_ID_PATTERN, expected)
    assert re.fullmatch(f"{MODEL_ID_PATTERN}(?:{SPLIT_TAG_PATTERN})", expected + "@train")


@pytest.mark.parametrize("model_id", ["gru-L1-E50-H256-B64-s0", "gru-L1-E50-H256-s0-B16", "gru-L1-E50-H256-F1.0-s0"])
def test_an_id_that_is_not_the_canonical_one_is_refused(model_id):
    with pytest.raises(ValueError, match="model id"):
        ModelSpec.parse(model_id)


def test_the_grid_plans_one_model_per_combination():
    models = {
        "architectures": ["gru"], "layers": [1], "embedding": [50], "hidden": 256, "seeds": [0, 1, 2],
        "batch_size": [16, 64], "train_fraction": [0.1, 0.3, 1.0],
    }  # fmt: skip
    ids = [spec.id for spec in model_grid(models)]
    assert len(ids) == len(set(ids)) == 18
    assert "gru-L1-E50-H256-s0" in ids and "gru-L1-E50-H256-B16-F0.1-s2" in ids


def test_a_fraction_the_id_cannot_write_is_named():
    models = {"architectures": ["gru"], "layers": [1], "embedding": [8], "hidden": 8, "seeds": [0]}
    with pytest.raises(ValueError, match=r"models.train_fraction 1e-05"):
        model_grid({**models, "train_fraction": [1e-5]})


def test_changing_a_schema_default_renames_no_model(monkeypatch):
    """The id rule's constants are its own: with the schema's defaults moved (batch size 32, fraction 0.5, states
    of train), an id keeps its model and its paths, and a grid that leaves the axes out gets ids naming the new
    defaults (-B32-F0.5), never the ids of models trained at 64 and 1.0."""
    ids = ["gru-L1-E8-H8-s0", "gru-L1-E8-H8-B16-s0", "gru-L1-E8-H8-F0.3-s0"]
    before = [ModelSpec.parse(model_id) for model_id in ids]
    moved = copy.deepcopy(config.schema())
    moved["properties"]["models"]["properties"]["batch_size"]["default"] = [32]
    moved["properties"]["models"]["properties"]["train_fraction"]["default"] = [0.5]
    moved["properties"]["states"]["properties"]["splits"]["default"] = ["train"]
    monkeypatch.setattr(config, "schema", lambda: moved)
    assert config.defaults("models")["batch_size"] == [32]  # the schema the grid reads has moved
    assert [ModelSpec.parse(model_id) for model_id in ids] == before
    assert [spec.id for spec in before] == ids
    assert (before[0].batch_size, before[0].train_fraction) == (ID_BATCH_SIZE, ID_TRAIN_FRACTION) == (64, 1.0)
    models = {"architectures": ["gru"], "layers": [1], "embedding": [8], "hidden": 8, "seeds": [0]}
    assert [spec.id for spec in model_grid(models)] == ["gru-L1-E8-H8-B32-F0.5-s0"]
    assert [spec.id for spec in model_grid({**models, "batch_size": [64], "train_fraction": [1.0]})] == ids[:1]
    assert (split_tag("test"), split_of_tag(""), untag("gru-L1-E8-H8-s0")[1]) == ("", "test", "test")


def test_the_test_split_is_untagged_and_others_carry_their_name():
    assert config.defaults("states")["splits"] == ["test"] == [UNTAGGED_SPLIT]
    assert (split_tag("test"), split_tag("train")) == ("", "@train")
    assert split_of_tag("") == "test" and split_of_tag("@valid") == "valid"
    assert untag("gru-L1-E50-H256-B16-s0@train") == ("gru-L1-E50-H256-B16-s0", "train")
    assert untag("gru-L1-E50-H256-s0") == ("gru-L1-E50-H256-s0", "test")


def test_training_subsamples_are_nested_per_seed_and_drawn_once():
    n = 1000
    quarter, half, whole = (batches.training_rows(n, f, seed=3) for f in (0.25, 0.5, 1.0))
    assert (len(quarter), len(half)) == (250, 500) and np.array_equal(whole, np.arange(n))
    assert set(quarter) <= set(half)
    assert np.array_equal(quarter, batches.training_rows(n, 0.25, seed=3))
    assert not np.array_equal(quarter, batches.training_rows(n, 0.25, seed=4))
    with pytest.raises(ValueError, match="models.train_fraction 0"):
        batches.training_rows(n, 0, seed=0)


def test_a_model_is_trained_on_its_subsample_of_the_reviews():
    lengths = np.arange(1, 21)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    tokens = np.repeat(np.arange(20), lengths)  # review i is i repeated i + 1 times
    train = batches.Reviews(tokens, offsets, (np.arange(20) % 2).astype(np.float32))
    subset = batches.trained_on(train, ModelSpec("gru", 1, 8, 8, 5, train_fraction=0.3))
    rows = batches.training_rows(20, 0.3, seed=5)
    assert len(subset) == 6 and np.array_equal(subset.lengths, lengths[rows])
    assert np.array_equal(subset.tokens, np.repeat(rows, lengths[rows])) and np.array_equal(subset.labels, rows % 2)
    assert batches.trained_on(train, ModelSpec("gru", 1, 8, 8, 5)) is train


@pytest.mark.parametrize(
    "section, old, new", [("training", "batch_size", "models.batch_size"), ("states", "split", "states.splits")]
)
def test_a_moved_key_names_where_it_went(tmp_path, section, old, new):
    settings = yaml.safe_load((ROOT / "config.yaml").read_text())
    settings[section][old] = settings[section].get(old, 64)
    with pytest.raises(ValueError, match=rf"unknown config key '{section}.{old}' \(in --config\); it is now {new}"):
        config.check_keys(settings, config.SCHEMA, [])
