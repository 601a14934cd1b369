"""The whole pipeline on the synthetic dataset (the tests' tiny config), run for real with `snakemake --cores 2`."""

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline import CONFIG, snakemake
from rnn_dynamics.ground.grid import ModelSpec

pytestmark = pytest.mark.slow

MODELS = ["gru-L1-E16-H32-s0", "gru-L2-E16-H32-s0"]


def test_every_model_learns_the_synthetic_rule(synthetic_pipeline):
    """Well above chance (0.5) on the tiny config's 800 training reviews. The quick look's recipe reaching 0.95
    is test_training's ``test_a_small_gru_learns_the_synthetic_rule``."""
    table = pd.read_csv(synthetic_pipeline / "results/synthetic/tables/accuracy.csv")
    assert sorted(table["model"]) == MODELS
    assert (table["test_accuracy"] > 0.8).all(), table


def test_outputs_follow_the_data_contracts(synthetic_pipeline):
    results = synthetic_pipeline / "results/synthetic"
    for split in ("train", "valid", "test"):
        schema = pq.read_schema(results / "data" / f"{split}.parquet")
        assert [str(t) for t in schema.types][:3] == ["string", "int8", "int32"]
    for model in MODELS:
        layers = ModelSpec.parse(model).layers
        metrics = json.loads((results / "models" / model / "metrics.json").read_text())
        assert metrics["model"] == model
        for layer in range(1, layers + 1):
            states = pq.read_table(results / "states" / model / f"layer{layer}.parquet")
            assert states.schema.field("h").type.list_size == 32
            assert (results / "fixed_points" / model / f"layer{layer}.parquet").exists()
            assert (results / "linearization" / model / f"layer{layer}.parquet").exists()
        for figure in ("explained_variance", "pca_trajectories", "fixed_points", "eigenvalues"):
            png = results / "figures" / model / f"{figure}.png"
            assert png.stat().st_size > 10_000 and png.with_suffix(".pdf").exists()
    for table in ("accuracy", "explained_variance", "fixed_points"):
        assert len(pd.read_csv(results / "tables" / f"{table}.csv")) > 0
    # Each analysed system's measures beside the nulls the analysis runs the network for.
    evidence = pd.read_csv(results / "tables" / "evidence.csv")
    for (model, system), rows in evidence.groupby(["model", "system"]):
        assert {"untrained", "shuffled_words"} <= set(rows["null"]), (model, system)
        assert "fixed_points_extent" in set(rows["measure"]) and "network_accuracy" in set(rows["measure"])


def test_every_job_wrote_its_log(synthetic_pipeline):
    logs = list((synthetic_pipeline / "logs").rglob("*.log"))
    assert any("train" in str(p) for p in logs) and any("fixed_points" in str(p) for p in logs)
    assert not list((synthetic_pipeline / "results").rglob("*.tmp")), "temporary files left behind"


def test_a_second_run_has_nothing_to_do(synthetic_pipeline):
    result = snakemake(synthetic_pipeline, "--cores", "2", *CONFIG, "-n")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def planned_rules(directory, *config):
    """The rules a dry run would run after ``--config`` overrides of the tests' configuration."""
    result = snakemake(directory, "-n", "--quiet", "rules", *CONFIG, "--config", *config)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    if "Nothing to be done" in output:
        return set()
    # The "Job stats" table: a header, a rule, then one "rule count" line per rule until "total".
    lines = output[output.index("Job stats:") :].splitlines()[3:]
    return {line.split()[0] for line in lines[: next(i for i, line in enumerate(lines) if line.startswith("total"))]}


@pytest.mark.parametrize(
    "override, reruns, keeps",
    [
        # Spectra drawn: only the figure, never the search.
        (
            "fixed_points={eigen_points: 5}",
            {"fixed_point_figures"},
            {"fixed_point_shard", "gather_fixed_points", "linearize"},
        ),
        # Deduplication: gathering and what follows, not the shards.
        ("fixed_points={unique_tol: 0.01}", {"gather_fixed_points", "linearize"}, {"fixed_point_shard", "train"}),
    ],
)
def test_editing_a_later_stage_key_replans_only_that_stage_and_after(synthetic_pipeline, override, reruns, keeps):
    planned = planned_rules(synthetic_pipeline, override)
    assert reruns <= planned and not keeps & planned, planned


def test_moving_the_analysis_stages_to_another_device_reruns_nothing(synthetic_pipeline):
    # The device (a resource, not a param) changes nothing beyond rounding: no rerun of the search, linearize or
    # analyze; only the results page, which shows the configuration.
    planned = planned_rules(synthetic_pipeline, "fixed_points={'device': 'cpu'}", "analyses={'device': 'cpu'}")
    assert planned <= {"results_page", "all"}, planned


def test_moving_training_to_another_device_or_thread_count_reruns_nothing(synthetic_pipeline):
    # train and hidden_states take training.device as a resource and training.threads as their threads.
    planned = planned_rules(synthetic_pipeline, "training={'device': 'cpu', 'threads': 2}")
    assert planned <= {"results_page", "all"}, planned
