"""The Snakefile: config validation and dry runs (no job runs)."""

import contextlib
import functools
import tempfile
from argparse import Namespace
from pathlib import Path

import pytest

from pipeline import copy_workflow, snakemake


@functools.cache
def clean_copy() -> Path:
    """A copy of the workflow without results, so a developer's own outputs do not change the plans."""
    return copy_workflow(Path(tempfile.mkdtemp(prefix="workflow_dry_run_")))


@contextlib.contextmanager
def default_workflow():
    """The default config's workflow, parsed in this process by Snakemake's API (no job runs)."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings, StorageSettings

    root = clean_copy()
    with SnakemakeApi(OutputSettings()) as api:
        yield api.workflow(
            resource_settings=ResourceSettings(),
            config_settings=ConfigSettings(),
            storage_settings=StorageSettings(),
            snakefile=root / "Snakefile",
            workdir=root,
        )._workflow


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


@pytest.mark.parametrize("extra, models", [((), 18), (("configs/open-questions-cpu.yaml",), 18)])
def test_the_open_questions_config_plans_its_grid_and_the_similarity_along_each_axis(extra, models):
    result = dry_run("--configfile", "configs/open-questions.yaml", *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    counts = planned_jobs((result.stdout + result.stderr).splitlines())
    assert counts["train"] == str(models) and counts["hidden_states"] == str(2 * models), counts
    assert counts["similarity"] == "1" and counts["similarity_figure"] == "4", counts


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
        ("training={'batch_size': 16}", "models.batch_size"),
        ("states={'split': 'train'}", "states.splits"),
        (
            "models={'architectures': ['gru'], 'layers': [1], 'embedding': [8], 'hidden': 8, 'seeds': [0], "
            "'train_fraction': [1.5]}",
            "train_fraction",
        ),
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
    from rnn_dynamics.ground.config import coerce_scalars

    assert coerce_scalars({"a": "3", "b": ["1e-3", "x"], "c": {"d": "null", "e": "true", "f": "10 stars"}}) == {
        "a": 3,
        "b": [1e-3, "x"],
        "c": {"d": None, "e": True, "f": "10 stars"},
    }


def test_config_yaml_shows_the_schema_defaults_unchanged():
    """The schema holds every default; config.yaml shows the default experiment, so where it sets a key that has
    a default, its value is that default (a changed default is changed in the schema, and here)."""
    import yaml

    from rnn_dynamics.ground import config as config_lib

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


# What each rule's ``params: settings`` hold (key tuples, and the analyses section less its device):
# Snakemake compares params by their text, key order included, so existing results must not rerun.
STAGE_PARAMS = {
    "train": ("training", [
        "epochs", "batch_size", "learning_rate", "architecture_learning_rates", "learning_rate_decay",
        "max_grad_norm", "weight_decay", "freeze_embeddings", "dropout", "layer_dropout",
    ]),
    "fixed_point_shard": ("fixed_points", [
        "starts", "noise", "seed", "method", "max_iterations", "q_tol", "q_rule", "q_fraction", "damping",
        "learning_rate", "exact_roots", "bounded", "single_precision",
    ]),
    "gather_fixed_points": ("fixed_points", [
        "q_tol", "unique_tol", "unique_metric", "outlier_distance", "q_rule", "q_fraction",
    ]),
    "analyze": ("analyses", ["reviews", "null_samples", "top_words", "regularization", "seed", "manifold_space"]),
}  # fmt: skip


def test_each_stage_passes_the_params_it_always_did():
    """The train, fixed_point_shard, gather_fixed_points and analyze rules' params (from the stage's settings
    type) are, for the default config, the keys above in that order with the config's values."""
    with default_workflow() as workflow:
        for rule, (section, keys) in STAGE_PARAMS.items():
            params = workflow.get_rule(rule).params.settings
            if callable(params):  # the train rule's: its batch size is the model's (models.batch_size)
                params = params(Namespace(model="gru-L1-E100-H256-s0", dataset="imdb"))
            values = {**workflow.config[section], "batch_size": 64}
            expected = {key: values[key] for key in keys}
            assert repr(params) == repr(expected), rule
        # The states of the default split: the section as given, with the one split it named before states.splits.
        states = workflow.get_rule("hidden_states").params.settings(Namespace(split_tag=""))
        assert repr(states) == repr({"split": "test", **{k: v for k, v in workflow.config["states"].items()
                                                        if k != "splits"}})  # fmt: skip


def test_scripts_read_only_their_rules_params_inputs_and_resources():
    """No script reads ``snakemake.config``: what a job computes with is its rule's params (which Snakemake
    records and compares), and where it runs its rule's resources and threads."""
    scripts = Path(__file__).resolve().parents[1] / "scripts"
    readers = sorted(path.name for path in scripts.glob("*.py") if "snakemake.config" in path.read_text())
    assert readers == []


def test_the_rules_that_run_a_model_take_their_device_as_a_resource():
    with default_workflow() as workflow:
        for rule, section in [("train", "training"), ("hidden_states", "training"), ("fixed_point_shard",
                              "fixed_points"), ("linearize", "fixed_points"), ("analyze", "analyses")]:  # fmt: skip
            assert workflow.get_rule(rule).resources["device"] == workflow.config[section]["device"], rule
            assert "device" not in repr(workflow.get_rule(rule).params), rule


def test_a_grid_of_batch_sizes_fractions_and_splits_plans_one_model_per_combination():
    """Two batch sizes, three training fractions and two seeds: 12 models, each trained once, and the states,
    fixed points and linearization of each model per split (test, train): 24 of each."""
    result = dry_run(
        "--configfile", "configs/synthetic.yaml", "--config",
        "models={architectures: [gru], layers: [1], embedding: [16], hidden: 32, seeds: [0, 1], "
        "batch_size: [16, 64], train_fraction: [0.1, 0.3, 1.0]}",
        "states={splits: [test, train]}", "fixed_points={shards: 1}",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    counts = planned_jobs((result.stdout + result.stderr).splitlines())
    assert counts["train"] == "12" and counts["state_figures"] == "12" and counts["analyze"] == "12", counts
    assert counts["hidden_states"] == counts["fixed_point_shard"] == counts["linearize"] == "24", counts


@pytest.mark.parametrize("enabled", [True, False])
def test_the_context_stage_is_planned_only_when_enabled(enabled):
    """context.enabled plans one context job per probed system and its three tables; off (the default), none of
    them. The quick look's grid has a one-layer and a two-layer GRU (per_layer): only the first one's layer1
    reads the embedding and is read out."""
    result = dry_run(
        "--configfile", "configs/synthetic.yaml", "--config", f"context={{enabled: {str(enabled).lower()}}}"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    counts = planned_jobs((result.stdout + result.stderr).splitlines())
    rules = {"context", "context_table", "context_ablation_table", "context_bow_table"}
    if enabled:
        assert all(counts[rule] == "1" for rule in rules), counts
    else:
        assert not rules & set(counts), counts
