"""The run's timeline: Snakemake's benchmark records of the synthetic pipeline gathered into one table."""

import subprocess
import sys

import pandas as pd
import pytest

from rnn_dynamics.outputs import catalogue, timeline

MODELS = ["gru-L1-E16-H32-s0", "gru-L2-E16-H32-s0"]
SYSTEMS = [("gru-L1-E16-H32-s0", "layer1"), ("gru-L2-E16-H32-s0", "layer1"), ("gru-L2-E16-H32-s0", "layer2")]


def test_a_record_path_names_its_rule_and_job():
    root = "logs/benchmarks/imdb"
    assert timeline.describe(f"{root}/fixed_point_shard/gru-L3-E100-H256-s0/layer2/shard-3-of-4.tsv", root) == {
        "rule": "fixed_point_shard", "model": "gru-L3-E100-H256-s0", "system": "layer2", "shard": "3-of-4", "item": "",
    }  # fmt: skip
    assert timeline.describe(f"{root}/prepare.tsv", root)["rule"] == "prepare"
    assert timeline.describe(f"{root}/embeddings/glove-100.tsv", root)["item"] == "glove-100"
    assert timeline.describe(f"{root}/download/aclImdb_v1.tar.gz.tsv", root)["item"] == "aclImdb_v1.tar.gz"
    # A job of all datasets keeps its record beside the datasets' folders.
    assert timeline.describe("logs/benchmarks/download_glove.tsv", root)["rule"] == "download_glove"
    with pytest.raises(ValueError, match="a benchmark record is a .tsv file"):
        timeline.describe(f"{root}/train/x.log", root)


def test_a_file_that_is_no_benchmark_record_is_named(tmp_path):
    path = tmp_path / "train" / "m.tsv"
    path.parent.mkdir()
    path.write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match="m.tsv: not a Snakemake benchmark record"):
        timeline.read_benchmark(path)


@pytest.mark.slow
def test_the_pipeline_gathers_every_jobs_record(synthetic_pipeline):
    table = pd.read_csv(
        synthetic_pipeline / "results/synthetic/tables/timeline.csv", keep_default_na=False, na_values=[""]
    )
    assert list(table.columns) == catalogue.TABLES["timeline"].names
    jobs = table.groupby("rule").size().to_dict()
    assert jobs == {
        "synthesize": 1, "prepare": 1, "embeddings": 1, "train": 2, "hidden_states": 2, "state_figures": 2,
        "fixed_point_shard": 3 * 2, "gather_fixed_points": 3, "linearize": 3, "analyze": 3, "fixed_point_figures": 2,
    }, jobs  # fmt: skip
    assert sorted(table.loc[table["rule"] == "train", "model"]) == MODELS
    shards = table[table["rule"] == "fixed_point_shard"]
    assert sorted(zip(shards["model"], shards["system"], shards["shard"])) == sorted(
        (model, system, shard) for model, system in SYSTEMS for shard in ("1-of-2", "2-of-2")
    )
    assert sorted(zip(*table.loc[table["rule"] == "analyze", ["model", "system"]].T.values)) == SYSTEMS
    assert (table["s"] > 0).all() and (table.loc[table["rule"] == "train", "max_rss"] > 0).all()
    # Records are written as jobs end: training ends before the states of its model are taken.
    assert (table["start_s"] >= 0).all() and (table["end_s"] >= table["start_s"]).all()
    for model in MODELS:
        trained = table[(table["rule"] == "train") & (table["model"] == model)]["end_s"].item()
        states = table[(table["rule"] == "hidden_states") & (table["model"] == model)]["start_s"].item()
        assert trained <= states + 1.0, (model, trained, states)
    # The records live under logs/, not in the benchmarks/ source folder.
    assert not (synthetic_pipeline / "benchmarks").exists()
    assert (synthetic_pipeline / "logs/benchmarks/synthetic/train" / f"{MODELS[0]}.tsv").exists()
    fragment = (synthetic_pipeline / "results/synthetic/tables/timeline.fragment.html").read_text()
    assert "fixed_point_shard" in fragment and "jobs; from the first job's start" in fragment


@pytest.mark.slow
def test_the_command_line_prints_the_timeline(synthetic_pipeline, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "rnn_dynamics.outputs.timeline", "logs/benchmarks/synthetic",
         "--csv", str(tmp_path / "t.csv")],
        cwd=synthetic_pipeline, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "wall time from the first start to the last end" in result.stdout
    assert "fixed_point_shard" in result.stdout
    assert len(pd.read_csv(tmp_path / "t.csv")) == 26
