"""The Snakefile: config validation and dry runs (no job runs)."""

import functools
import tempfile
from pathlib import Path

import pytest

from pipeline import copy_workflow, snakemake


@functools.cache
def clean_copy() -> Path:
    """A copy of the workflow without results, so a developer's own outputs do not change the plans."""
    return copy_workflow(Path(tempfile.mkdtemp(prefix="workflow_dry_run_")))


def dry_run(*args):
    return snakemake(clean_copy(), "-n", "--quiet", "rules", *args, timeout=300)


def planned_jobs(lines: list[str]) -> dict[str, str]:
    """Rule name -> job count, from the table a quiet dry run prints."""
    return {line.split()[0]: line.split()[1] for line in lines if len(line.split()) == 2 and line.split()[1].isdigit()}


def test_default_config_dry_run_plans_the_reproduction_grid():
    result = dry_run()
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    # GRU with 1-4 layers and embeddings 100 and 50: eight models.
    assert "train                           8" in out or any(
        line.split()[:2] == ["train", "8"] for line in out.splitlines()
    ), out


def test_quick_look_config_dry_run():
    result = dry_run("--configfile", "configs/synthetic.yaml")
    assert result.returncode == 0, result.stderr
    assert "synthesize" in result.stdout + result.stderr


def test_local_imdb_config_dry_run():
    result = dry_run("--configfile", "configs/imdb-local.yaml")
    assert result.returncode == 0, result.stderr


def test_paper_config_dry_run_plans_four_architectures_and_the_comparison():
    result = dry_run("--configfile", "configs/paper.yaml")
    assert result.returncode == 0, result.stderr
    out = (result.stdout + result.stderr).splitlines()
    counts = planned_jobs(out)
    assert counts["train"] == "4" and counts["analyze"] == "4" and counts["comparison_across_datasets"] == "1", out


def test_the_vanilla_recipe_config_plans_the_vanilla_rnn_alone():
    # configs/paper-vanilla-cpu.yaml on top of the paper's grid: one model, analysed end to end.
    result = dry_run(
        "--configfile", "configs/paper.yaml", "configs/paper-cpu.yaml", "configs/paper-vanilla-cpu.yaml"
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = (result.stdout + result.stderr).splitlines()
    counts = planned_jobs(out)
    assert counts["train"] == "1" and counts["analyze"] == "1" and counts["comparison_table"] == "1", out


def test_paper_config_plans_sst2_and_yelp_from_local_archives(tmp_path):
    archives = {"sst2": tmp_path / "SST-2.zip", "yelp": tmp_path / "yelp_review_polarity_csv.tgz"}
    result = dry_run(
        "--configfile", "configs/paper.yaml", "--config", "run_datasets=[imdb,sst2,yelp]",
        f"datasets={{sst2: {{local_archive: {archives['sst2']}}}, yelp: {{local_archive: {archives['yelp']}}}}}",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = (result.stdout + result.stderr).splitlines()
    counts = planned_jobs(out)
    # Three datasets of four architectures, one comparison table each, and one across them.
    assert (
        counts["train"] == "12" and counts["comparison_table"] == "3" and counts["comparison_across_datasets"] == "1"
    ), out


@pytest.mark.parametrize(
    "override, named",
    [
        ("training={'epochs': 0}", "epochs"),
        ("training={'epochs': 'ten'}", "epochs"),
        ("bogus_key=1", "bogus_key"),
        ("fixed_points={'mode': 'sideways'}", "mode"),
        ("training={'architecture_learning_rates': {'rnn': 0.001}}", "rnn"),
        ("training={'max_grad_norm': 0}", "max_grad_norm"),
        ("analyses={'device': 'gpu'}", "['analyses']['device']"),
        ("fixed_points={'device': 'cuda0'}", "['fixed_points']['device']"),
        ("models={'architectures': ['gru'], 'layers': [1], 'embedding': [8], 'hidden': -1, 'seeds': [0]}", "hidden"),
    ],
)
def test_bad_config_stops_with_the_key_named(override, named):
    result = dry_run("--config", override)
    assert result.returncode != 0
    assert named in result.stderr + result.stdout


def test_unknown_dataset_in_run_datasets_is_named():
    result = dry_run("--config", "run_datasets=['nope']")
    assert result.returncode != 0
    assert "'nope'" in result.stderr + result.stdout


def test_nested_command_line_override_is_read_as_numbers():
    result = dry_run(
        "--configfile", "configs/synthetic.yaml", "--config", "training={'epochs': 2, 'learning_rate': 1e-3}"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_coerce_scalars_reads_yaml_numbers_and_keeps_text():
    from rnn_dynamics.config import coerce_scalars

    assert coerce_scalars({"a": "3", "b": ["1e-3", "x"], "c": {"d": "null", "e": "true", "f": "10 stars"}}) == {
        "a": 3,
        "b": [1e-3, "x"],
        "c": {"d": None, "e": True, "f": "10 stars"},
    }


def test_config_yaml_shows_the_schema_defaults_unchanged():
    """The schema holds every default; config.yaml shows the default experiment, so where it sets a key that has
    a default, its value is that default (a changed default is changed in the schema, and here)."""
    import yaml

    from rnn_dynamics import config as config_lib

    shown = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())
    differing = {
        f"{section}.{key}": (value, config_lib.defaults(section)[key])
        for section, values in shown.items()
        if section in config_lib.schema()["properties"] and isinstance(values, dict) and section != "datasets"
        for key, value in values.items()
        if key in config_lib.defaults(section) and value != config_lib.defaults(section)[key]
    }
    # The example reviews are content of the default experiment: the schema's default is none ({}).
    assert differing.keys() == {"states.examples"}


def test_library_defaults_are_the_schema_defaults():
    """Code that takes a config section's values defaults to the schema's; the solver's named tolerance and damping
    for approximate fixed points are the config's defaults."""
    import inspect

    from rnn_dynamics import config as config_lib
    from rnn_dynamics import datasets, fixed_points, solver, training

    fixed = config_lib.defaults("fixed_points")
    assert (solver.APPROXIMATE_Q_TOL, solver.APPROXIMATE_DAMPING) == (fixed["q_tol"], fixed["damping"])
    find = inspect.signature(solver.find).parameters
    assert (find["max_iterations"].default, find["learning_rate"].default) == (
        fixed["max_iterations"],
        fixed["learning_rate"],
    )
    assert {
        name: p.default for name, p in inspect.signature(fixed_points.gather).parameters.items() if name != "shards"
    } == {key: fixed[key] for key in ("q_tol", "unique_tol", "unique_metric", "outlier_distance")}
    assert training.Settings().__dict__ == config_lib.defaults("training")
    prepare = inspect.signature(datasets.prepare).parameters
    assert {key: prepare[key].default for key in config_lib.defaults("prepare")} == config_lib.defaults("prepare")
