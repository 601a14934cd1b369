"""The summary tables (``outputs.tables``) built from what the stages below write, on tiny known inputs."""

import logging

import numpy as np
import pandas as pd
import pytest
import torch

from rnn_dynamics.dynamics import fixed_points, linearization, solver
from rnn_dynamics.ground import storage
from rnn_dynamics.networks.cells import DynamicalSystem
from rnn_dynamics.outputs import catalogue, tables

MODEL = "gru-L1-E8-H3-s0"


def metrics(model, valid=0.9, **extra):
    splits = {f"{split}_{measure}": value for split in ("train", "valid", "test") for measure, value in
              (("loss", 0.3), ("accuracy", valid))}  # fmt: skip
    return {"model": model, **splits, "valid_chance_accuracy": 0.5, "at_chance": False, "chance_judged": True, **extra}


def test_the_accuracy_table_has_a_row_per_model_with_its_sizes_and_flags(caplog):
    with caplog.at_level(logging.WARNING):
        table = tables.accuracy_table(
            [metrics(MODEL), metrics("lstm-L2-E16-H32-s1", valid=0.5, at_chance=True, chance_judged=False)]
        )
    assert table["model"].tolist() == [MODEL, "lstm-L2-E16-H32-s1"]
    assert table["architecture"].tolist() == ["gru", "lstm"] and table["layers"].tolist() == [1, 2]
    assert table["hidden"].tolist() == [3, 32] and table["test_accuracy"].tolist() == [0.9, 0.5]
    assert "classes" not in table.columns  # binary models alone: no per-class columns
    assert "lstm-L2-E16-H32-s1 is at chance level (validation accuracy 0.5000)" in caplog.text
    assert "lstm-L2-E16-H32-s1: too few validation reviews to judge" in caplog.text and MODEL not in caplog.text


def test_a_model_of_three_classes_gives_every_row_the_per_class_columns():
    three = metrics(MODEL, classes=["bad", "okay", "good"], test_class_accuracy=[0.9, 0.75, 1.0])
    table = tables.accuracy_table([three, metrics("gru-L1-E8-H3-s1")])
    assert table.loc[0, "classes"] == 3 and table.loc[0, "test_class_accuracy"] == "bad: 0.9; okay: 0.75; good: 1"
    assert np.isnan(table.loc[1, "classes"])


def line_attractor() -> DynamicalSystem:
    """``h -> diag(1, 0.5, 0.2) h``: its fixed points are the first axis, each with eigenvalues 1, 0.5, 0.2."""
    a = torch.diag(torch.tensor([1.0, 0.5, 0.2], dtype=torch.float64))
    return DynamicalSystem(step=lambda h, x: h @ a.T, state_size=3, input_size=3, readout=lambda h: h)


def test_the_fixed_point_table_of_a_line_attractor(tmp_path):
    """Starts spread along the line end on it: one direction of variance, one slow mode, |lambda| 1."""
    system = line_attractor()
    starts = np.random.default_rng(0).uniform(-1, 1, (40, 3))
    found = solver.find(
        system, starts, method="lm", max_iterations=100, tolerance=1e-10, bounded=False, damping=1e-2,
        single_precision=False, progress=False,
    )  # fmt: skip
    gathered = fixed_points.gather([found.to_table()], fixed_points.GatherSettings(q_rule="absolute", q_tol=1e-10))
    paths = [tmp_path / kind / MODEL / "layer1.parquet" for kind in ("fixed_points", "linearization")]
    storage.write_table(gathered, paths[0])
    storage.write_table(linearization.linearize_table(system, gathered).to_table(), paths[1])

    (row,) = tables.fixed_point_table(paths).to_dict("records")
    assert (row["model"], row["system"], row["starts"], row["converged"], row["slow_points"]) == (
        MODEL, "layer1", 40, 40, 0,
    )  # fmt: skip
    assert 30 <= row["unique_fixed_points"] <= 40 and row["exact_roots"] == -1  # a few starts lie within 1e-3
    assert row["first_pc_share"] == pytest.approx(1.0, abs=1e-6) and row["pcs_90"] == 1
    assert row["median_largest_modulus"] == pytest.approx(1.0) and row["time_constant"] > 1e6
    assert row["slow_modes_stable_0.9_median"] + row["slow_modes_unstable_median"] == 1
    assert row["slow_modes_stable_0.99_median"] + row["slow_modes_unstable_median"] == 1
    assert list(tables.fixed_point_table(paths).columns) == catalogue.TABLES["fixed_points"].names
    with pytest.raises(ValueError, match=rf"{MODEL} layer1: no \['linearization'\] table among the inputs"):
        tables.fixed_point_table(paths[:1])


def test_the_comparison_sets_the_papers_accuracy_beside_one_layer_models_only():
    summaries = [
        {"model": model, "system": system, "architecture": "gru", "fixed_points": 7}
        for model, system in (("gru-L1-E8-H3-s0", "layer1"), ("gru-L2-E8-H3-s0", "layer2"))
    ]
    table = tables.comparison_table(
        summaries, [metrics("gru-L1-E8-H3-s0"), metrics("gru-L2-E8-H3-s0")], {("gru-L2-E8-H3-s0", 2): 0.8},
        dataset="imdb", kind="aclimdb",
    )  # fmt: skip
    assert table["paper_test_accuracy"].iloc[0] == tables.PAPER_TEST_ACCURACY["aclimdb"]["gru"]
    assert np.isnan(table["paper_test_accuracy"].iloc[1]) and table["explained_variance_2"].tolist()[1] == 0.8
    assert table["layers"].tolist() == [1, 2] and table["test_accuracy"].tolist() == [0.9, 0.9]
    other = table.assign(dataset="sst2", architecture="lstm")
    combined = tables.combine_comparisons([other, table, table.iloc[:0]])
    assert combined["dataset"].tolist() == ["imdb", "imdb", "sst2", "sst2"]
    assert list(tables.combine_comparisons([]).columns) == catalogue.TABLES["comparison"].names


def test_the_tolerance_table_shows_a_line_at_the_tolerance_that_becomes_a_plane_ten_times_above_it(tmp_path):
    """``h -> diag(1, 0.99, 0.2) h``: a line of fixed points along h1 and a slow mode along h2, where q =
    1e-4 h2^2 / 3, so a start stops once |h2| < sqrt(3 q_tol) / 0.01: within 0.17 of the line at q_tol 1e-6
    (a line), within 0.55 at 1e-5 (a plane). The sweep runs the search again at each tolerance."""
    a = torch.diag(torch.tensor([1.0, 0.99, 0.2], dtype=torch.float64))
    system = DynamicalSystem(step=lambda h, x: h @ a.T, state_size=3, input_size=3, readout=lambda h: h)
    starts = np.random.default_rng(0).uniform(-1, 1, (200, 3))
    search = fixed_points.SearchSettings(q_rule="absolute", q_tol=1e-6)
    found = fixed_points.solve(system, starts, search, progress=False)
    gathered = fixed_points.gather([found.to_table()], fixed_points.GatherSettings(q_rule="absolute", q_tol=1e-6))
    path = tmp_path / "fixed_points" / MODEL / "layer1.parquet"
    storage.write_table(gathered, path)
    swept = fixed_points.tolerance_sweep(gathered, [0.1, 1, 10], system, search)
    assert [tolerance for _, tolerance, _ in swept] == pytest.approx([1e-7, 1e-6, 1e-5])
    assert swept[1][2] is gathered  # the published set is the pipeline's own
    rows = [tables.set_measures(table, 2) | {"converged": table["converged"].to_numpy().sum()} for *_, table in swept]
    assert [row["shape"] for row in rows] == ["line", "line", "plane"], rows
    assert [row["converged"] for row in rows] == [200, 200, 200]
    assert rows[0]["first_pc_share"] > rows[1]["first_pc_share"] > rows[2]["first_pc_share"]
    assert list(catalogue.TABLES["tolerance"].names)[:6] == [
        "model",
        "split",
        "system",
        "multiple",
        "tolerance",
        "published",
    ]
    with pytest.raises(ValueError, match="must hold 1"):
        tables.tolerance_table([path], {}, search, [10, 100, 1000], {})


def test_a_set_whose_converged_starts_all_stop_on_the_bound_is_no_fixed_point_and_says_why():
    """``h -> 1.0001 clip(2 h, -1, 1)``, a saturated unit: its fixed point 1.0001 lies past the bound |h| <= 1,
    where the bounded search holds every start from h > 1/2 at q 5e-9, so all converge and none lies inside the
    state space; the sentence says so instead of that nothing converged."""
    system = DynamicalSystem(
        step=lambda h, x: 1.0001 * torch.clamp(2 * h, -1, 1), state_size=2, input_size=2, readout=lambda h: h,
        state_bound=np.ones(2),
    )  # fmt: skip
    starts = np.random.default_rng(0).uniform(0.6, 0.9, (20, 2))
    search = fixed_points.SearchSettings(q_rule="absolute", q_tol=1e-6)
    gathered = fixed_points.gather(
        [fixed_points.solve(system, starts, search, progress=False).to_table()],
        fixed_points.GatherSettings(q_rule="absolute", q_tol=1e-6),
    )
    assert gathered["converged"].to_numpy().all() and gathered["at_bound"].to_numpy().all()
    identity = {"model": MODEL, "split": "test", "system": "layer1"}
    rows = [identity | row for row in tables.sweep_rows(gathered, system, search, [0.1, 1], 2)]
    assert [row["shape"] for row in rows] == ["no fixed point"] * 2
    (sentence,) = tables.tolerance_sentences(pd.DataFrame(rows))
    assert "no fixed point: 20 starts converged below q 1e-06, none of them inside the state space" in sentence
    assert "the same word at every tolerance of the sweep" in sentence
