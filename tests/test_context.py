"""The contextual-processing stage on the session's GRU trained on the synthetic rule ("not" flips the next
sentiment word, "very" doubles it): the known answer, the bookkeeping of missing words, the ablation's ends."""

import numpy as np
import pandas as pd
import pytest
import torch

from rnn_dynamics.data import batches, text
from rnn_dynamics.dynamics import context, fixed_points, linearization
from rnn_dynamics.dynamics.states import visited_states
from rnn_dynamics.networks import model as model_lib
from rnn_dynamics.outputs import tables

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def setup(trained_synthetic_model, prepared_synthetic_large):
    """The trained GRU, its approximate fixed points' linearization, the splits and the vocabulary."""
    torch.set_num_threads(1)
    network = model_lib.load(trained_synthetic_model)
    vocabulary = text.read_vocabulary(prepared_synthetic_large / "vocab.parquet")
    train = batches.read_split(prepared_synthetic_large / "train.parquet")
    test = batches.read_split(prepared_synthetic_large / "test.parquet")
    system = network.system("layer1")
    visited = visited_states(network, test, np.arange(64))[0]
    starts = fixed_points.sample_starts(visited, 100, noise=0.0, seed=0)
    found = fixed_points.solve(system, starts, fixed_points.SearchSettings(), progress=False)
    lin = linearization.linearize(system, fixed_points.approximate_set(found, fixed_points.GatherSettings()))
    assert len(lin.fixed_point) >= 3
    return network, lin, train, test, vocabulary


def run(setup, **settings):
    network, lin, train, test, vocabulary = setup
    values = {"probes": 16, "modifiers": ["not", "very", "hardly"], "ablation_modes": 4} | settings
    return context.context(
        network, "layer1", lin, train, test, vocabulary.tokens, np.array(vocabulary.counts), context.Settings(**values)
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_known_answer_negator_flips_and_intensifier_scales_once_settled(setup, seed):
    result = run(setup, seed=seed)
    gains = result["summary"]["modifiers"]
    null = result["summary"]["null"]["settled_gain"]["median"]
    assert gains["not"]["settled_gain"]["median"] < 0 < null
    assert gains["very"]["settled_gain"]["median"] > max(1.0, null)
    rows = result["rows"]
    for base in context.BASES:
        part = rows[rows["base"] == base]
        # Per (target, base), over probes: every target flipped by "not" once settled.
        assert (part.loc[part["modifier"] == "not", "settled_gain"] < 0).all(), base
    assert list(rows.columns) == context.COLUMNS
    assert set(rows["base"]) == set(context.BASES)
    assert set(rows["modifier"]) == {"not", "very", "the", "a", "and"}
    # The first-order prediction is reported with its wrong-sign shares, whatever they are.
    first_order = gains["not"]["first_order"]
    for name in ("alone_at_state", "after_at_state", "after_at_fixed_point"):
        assert 0 <= first_order[name]["sign_agreement"] <= 1
        assert 0 <= first_order[name]["wrong_sign_share_positive_targets"] <= 1


def test_missing_words_are_listed_not_dropped(setup):
    result = run(setup, modifiers=["not", "hardly"], targets=["good", "zzz-unseen"], null_words=["the", "qqq"])
    summary = result["summary"]
    assert summary["missing_modifiers"] == ["hardly"]
    assert summary["missing_targets"] == ["zzz-unseen"]
    assert summary["missing_null_words"] == ["qqq"]
    assert set(result["rows"]["target"]) == {"good"}


def test_default_targets_are_the_planted_sentiment_words(setup):
    from rnn_dynamics.data import synthetic

    targets = run(setup, target_count=3)["summary"]["targets"]
    assert len(targets) == 6
    assert set(targets) <= set(synthetic.POSITIVE_WORDS) | set(synthetic.NEGATIVE_WORDS)


def test_ablation_curve_runs_from_all_of_the_effect_to_none(setup):
    network, lin, *_ = setup
    result = run(setup, ablation_modes=network.spec.hidden)
    for modifier, curve in result["ablation"].groupby("modifier"):
        remaining = curve.sort_values("k")["effect_remaining"].to_numpy()
        assert remaining[0] == pytest.approx(1.0)
        assert abs(remaining[-1]) < 1e-6, modifier  # every mode removed: the deflection is gone
    subspace = result["summary"]["modifiers"]["not"]["subspace"]
    assert 1 <= subspace["subspace_dimension"] <= network.spec.hidden
    assert 0 < subspace["best_mode_cos_median"] <= 1 + 1e-9


def test_contextual_bag_of_words_recovers_part_of_the_gap(setup):
    bow = run(setup)["bow"].iloc[0]
    # "not good" is the one thing a plain bag of words cannot read; the pairs can.
    assert bow["contextual_bow_accuracy"] > bow["bow_accuracy"]
    assert bow["rnn_accuracy"] > bow["bow_accuracy"]
    assert bow["share_recovered"] > 0.3


def test_relax_steps_count_the_return_to_the_fixed_points(setup):
    network, lin, *_ = setup
    system = network.system("layer1")
    points = torch.tensor(lin.fixed_point)
    h0 = points[:4]
    settings = context.Settings(relax_steps=300)
    assert (context.relax_steps(system, points, h0, h0, settings) == 0).all()
    kicked = h0 + 0.5
    steps = context.relax_steps(system, points, h0, kicked, settings)
    assert np.isfinite(steps).all() and (steps > 0).all()


def test_a_system_without_the_readout_or_the_embedding_is_refused(setup):
    network, lin, train, test, vocabulary = setup
    with pytest.raises(ValueError, match="layer2"):
        context.context(
            network, "layer2", lin, train, test, vocabulary.tokens, np.array(vocabulary.counts), context.Settings()
        )


@pytest.mark.slow
def test_the_stage_runs_in_the_tiny_pipeline(pristine_pipeline, tmp_path):
    """context.enabled on the tests' pipeline config, in a copy of its finished run: the rule and its three tables
    run, with the catalogue's columns, for the one-layer GRU's layer1 alone."""
    from pipeline import CONFIG, copy_run, snakemake
    from rnn_dynamics.outputs import catalogue

    directory = copy_run(pristine_pipeline, tmp_path / "workflow")
    until = ["--until", "context_table", "context_ablation_table", "context_bow_table"]
    result = snakemake(directory, "--cores", "2", *CONFIG, "--config", "context={enabled: true, probes: 8}", *until)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    for name in ("context", "context_ablation", "context_bow"):
        table = catalogue.read(name, directory / catalogue.TABLES[name].path("synthetic"))
        assert set(table["model"]) == {"gru-L1-E16-H32-s0"}, name
    figures = directory / "results/synthetic/figures/gru-L1-E16-H32-s0/layer1"
    assert {path.stem for path in figures.glob("context_*.png")} == {"context_deflections", "context_gain",
                                                                        "context_ablation"}  # fmt: skip


def test_the_page_says_each_modifier_against_the_null_and_lists_the_missing_ones(setup):
    table = run(setup, modifiers=["not", "hardly"])["rows"]
    sentences = tables.context_sentences(table, ["not", "hardly"], ["the", "a", "and"])
    assert sentences[0].startswith('"not" flips: settled gain -')
    assert "wrong sign in" in sentences[0]
    assert sentences[-1] == "Not probed (not in the vocabulary, or no system probed): hardly."


def test_the_page_pools_the_seeds_of_a_grid_point_and_never_two_grid_points(setup):
    """The same rows under another seed and under another architecture whose gains have the other sign: the two
    seeds make one sentence (twice the rows), the other architecture its own, "not" flips in one and not in
    the other, each against its own null words."""
    rows = run(setup, modifiers=["not"])["rows"]
    model = rows["model"].iloc[0]
    seed = rows.assign(model=model.replace("-s0", "-s1"))
    other = rows.assign(model=model.replace("gru", "lstm"))
    turned = other["modifier"] == "not"
    other.loc[turned, "settled_gain"] = -other.loc[turned, "settled_gain"]
    sentences = tables.context_sentences(pd.concat([rows, seed, other]), ["not"], ["the", "a", "and"])
    count = int((rows["modifier"] == "not").sum())
    assert len(sentences) == 2, sentences
    point = model.removesuffix("-s0")
    assert sentences[0].startswith(f'{point} (test) layer1, "not" flips: settled gain -'), sentences[0]
    assert f"n = {2 * count} of 2 seeds)" in sentences[0], sentences[0]
    lstm = point.replace("gru", "lstm")
    assert sentences[1].startswith(f'{lstm} (test) layer1, "not" ') and "flips" not in sentences[1], sentences[1]
