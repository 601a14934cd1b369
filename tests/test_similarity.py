"""Similarity of two systems' dynamics: DSA and CKA checked on known answers, pairs along grid axes, the geometry,
and the similarity stage run for real on a small grid."""

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline import copy_workflow, snakemake
from rnn_dynamics.data import batches
from rnn_dynamics.dynamics import similarity
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import model
from rnn_dynamics.outputs import catalogue
from trained import SHARED_LSTM

SETTINGS = similarity.Settings(steps=8, reviews=200)


@pytest.fixture(scope="module")
def networks(synthetic_model, trained_synthetic_model):
    """Three trained networks (GRU seeds 0 and 1, the shared two-layer LSTM; E16 H32) and the untrained GRU seed 0;
    each system compared is a layer 1."""
    torch.set_num_threads(1)
    return {
        "gru-s0": model.load(trained_synthetic_model),
        "untrained": model.load(trained_synthetic_model.parent / "initial.pt"),
        "gru-s1": model.load(synthetic_model("gru-L1-E16-H32-s1", 12)),
        "lstm-s0": model.load(synthetic_model(*SHARED_LSTM)),
    }


@pytest.fixture(scope="module")
def states(networks, prepared_synthetic_large):
    """Each network's layer-1 trajectories over the same 200 test reviews (their first 8 tokens)."""
    test = batches.read_split(prepared_synthetic_large / "test.parquet")
    rows = similarity.common_rows(test, [], "test", SETTINGS)
    return {name: similarity.trajectories(net, "layer1", test, rows, SETTINGS.steps) for name, net in networks.items()}


def test_linear_cka_is_one_under_rotation_and_scale_and_low_for_unrelated_states():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 6))
    rotation, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    assert similarity.linear_cka(x, 3.0 * x @ rotation + 1.0) == pytest.approx(1.0)
    assert similarity.linear_cka(x, rng.standard_normal((500, 6))) < 0.1


def test_dsa_scores_a_rotated_copy_as_identical_and_the_untrained_network_as_far(states):
    """The known answers, before relying on DSA: the states under a random orthogonal map are the same dynamics
    (the distance is ~0, rounding), while the untrained network's are far (measured ~0.04 here, against ~6e-9)."""
    trained = states["gru-s0"]
    rotation, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((32, 32)))
    itself = similarity.dsa_distance(trained, trained @ rotation.T, SETTINGS)
    untrained = similarity.dsa_distance(trained, states["untrained"], SETTINGS)
    assert itself < 1e-6 and untrained > 1e-2, (itself, untrained)
    assert similarity.linear_cka(trained, trained @ rotation.T) == pytest.approx(1.0)
    assert similarity.linear_cka(trained, states["untrained"]) < 0.5


def test_two_architectures_score_further_apart_than_two_seeds_of_one(states):
    """GRU seed 0 against seed 1, and against the LSTM's layer 1: the LSTM is further by both measures (an order,
    not the distances, which differ between torch versions and machines)."""
    gru, seed, lstm = states["gru-s0"], states["gru-s1"], states["lstm-s0"]
    assert similarity.dsa_distance(gru, seed, SETTINGS) < similarity.dsa_distance(gru, lstm, SETTINGS)
    assert similarity.linear_cka(gru, seed) > similarity.linear_cka(gru, lstm)


def test_axis_pairs_pair_the_systems_that_differ_in_that_axis_alone():
    models = [ModelSpec("gru", 1, 8, 8, seed, batch) for batch in (16, 64) for seed in (0, 1, 2)]
    systems = [similarity.SystemName(m, split, "layer1") for m in models for split in ("test", "train")]
    seeds = similarity.axis_pairs(systems, "seed")
    assert len(seeds) == 2 * 2 * 3  # per batch size and split, 3 pairs of seeds
    assert all(a.model.batch_size == b.model.batch_size and a.split == b.split for a, b in seeds)
    batch = similarity.axis_pairs(systems, "batch_size")
    assert len(batch) == 3 * 2 and all(a.model.seed == b.model.seed for a, b in batch)
    assert [(a.name, b.name) for a, b in similarity.axis_pairs(systems[:2], "split")] == [
        ("gru-L1-E8-H8-B16-s0/layer1", "gru-L1-E8-H8-B16-s0@train/layer1")
    ]


def test_a_configured_pair_outside_the_grid_is_named():
    settings = similarity.Settings(pairs=[["gru-L1-E8-H8-s0/layer1", "gru-L1-E8-H8-s9/layer1"]])
    with pytest.raises(ValueError, match=r"'gru-L1-E8-H8-s9/layer1' is not a system of the grid"):
        similarity.pairs(settings, [ModelSpec("gru", 1, 8, 8, 0)], ["test"], "per_layer")


@pytest.mark.slow
def test_the_similarity_stage_compares_seeds_and_splits_on_a_small_grid(tmp_path):
    """Two seeds of a GRU trained on half the training split, states of test and train: one row per pair along
    each axis, with DSA, CKA (NaN across splits, which read different reviews) and both systems' geometry."""
    directory = copy_workflow(tmp_path)
    result = snakemake(
        directory, "results/synthetic/tables/similarity.csv", "results/synthetic/tables/similarity.html",
        "results/synthetic/figures/similarity/seed.png", "--cores", "2", "--configfile", "configs/synthetic.yaml",
        "--config", "datasets={synthetic: {kind: synthetic, reviews_per_split: 400}}",
        "models={architectures: [gru], layers: [1], embedding: [8], hidden: 16, seeds: [0, 1], train_fraction: [0.5]}",
        "training={epochs: 3}", "states={splits: [test, train], sample_reviews: 50}",
        "fixed_points={starts: 20, shards: 1}", "similarity={axes: [seed, split], reviews: 50, steps: 6}",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = pd.read_csv(directory / "results/synthetic/tables/similarity.csv")
    assert sorted(table["axis"]) == ["seed", "seed", "split", "split"]
    seeds = table[table["axis"] == "seed"]
    assert set(seeds["a"]) == {"gru-L1-E8-H16-F0.5-s0/layer1", "gru-L1-E8-H16-F0.5-s0@train/layer1"}
    assert (seeds["dsa"] > 0).all() and seeds["cka"].between(0, 1).all() and (seeds["reviews"] == 50).all()
    assert table[table["axis"] == "split"]["cka"].isna().all()
    # DSA's scale on the run's own data, each system from its untrained network. These 3-epoch models of 16 units
    # moved little from it, less than the distance between seeds or splits; test_dsa_scores_... holds the known
    # answer on models that learnt the task.
    assert (table[["dsa_untrained_a", "dsa_untrained_b"]] > 0).all().all()
    assert (table["unique_fixed_points_a"] >= 1).all() and table["time_constant_median_b"].notna().all()
    # The train split's states are those of the reviews each model was trained on: half of the 320.
    train_pca = directory / "results/synthetic/pca/gru-L1-E8-H16-F0.5-s0@train.parquet"
    assert train_pca.exists()
    assert (directory / "results/synthetic/figures/similarity/seed.png").stat().st_size > 10_000
    assert "<table" in (directory / "results/synthetic/tables/similarity.html").read_text()
    # The results page's answers: one sentence per axis, the split's beside the seed-to-seed distance.
    sentences = similarity.answers(table)
    assert [sentence.split(":")[0] for sentence in sentences] == ["Along seed", "Along split"]
    assert sentences[1].startswith("Along split: test against train: DSA ") and "; seed to seed: DSA " in sentences[1]
    assert all("; each system from its untrained network: DSA " in sentence for sentence in sentences)
    assert list(catalogue.TABLES["similarity"].columns) == list(table.columns)
