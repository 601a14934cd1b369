# Input functions and target lists. Logic beyond path bookkeeping lives in src/rnn_dynamics/.
import os
import re

from rnn_dynamics import analyses, fixed_points, results_page, training
from rnn_dynamics.datasets import DOWNLOADED_ARCHIVES
from rnn_dynamics.grid import MODEL_ID_PATTERN, ModelSpec, model_grid


wildcard_constraints:
    dataset="[A-Za-z0-9_]+",
    model=MODEL_ID_PATTERN,
    source="glove|kumo|random",
    dim="[0-9]+",
    split="train|valid|test",
    system="layer[0-9]+|stack",


MODELS = model_grid(config["models"])
for name in config["run_datasets"]:
    if name not in config["datasets"]:
        raise ValueError(
            f"config key run_datasets names {name!r}, which is not among the configured "
            f"datasets {sorted(config['datasets'])}"
        )
SPLITS = ["train", "valid", "test"]


def stage_params(settings_type):
    """A rule's ``params``: the keys of its config section that decide the stage's output (the settings type's
    ``params()``), so that editing another key, or where the stage runs, reruns nothing."""
    return settings_type.from_config(config[settings_type.SECTION]).params()


def dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def raw_input(wildcards):
    """What `prepare` reads: the dataset's archive, or the user's table files."""
    spec = dataset_spec(wildcards)
    if spec["kind"] in DOWNLOADED_ARCHIVES:
        return f"resources/{wildcards.dataset}/{DOWNLOADED_ARCHIVES[spec['kind']]}"
    if spec["kind"] == "synthetic":
        return f"resources/{wildcards.dataset}/synthetic.tar.gz"
    return [spec["path"]] if "path" in spec else [spec["train"], spec["test"]]


def archive_spec(wildcards):
    """The dataset entry of a download, checked to be of the kind whose official file name was asked for."""
    spec = dataset_spec(wildcards)
    if DOWNLOADED_ARCHIVES.get(spec["kind"]) != wildcards.archive:
        raise ValueError(
            f"resources/{wildcards.dataset}/{wildcards.archive}: dataset {wildcards.dataset!r} is of kind "
            f"{spec['kind']!r}, whose archive is {DOWNLOADED_ARCHIVES.get(spec['kind'], 'not downloaded')}"
        )
    return spec


def glove_input(wildcards):
    """The GloVe file the `embeddings` rule reads (nothing for other sources)."""
    if wildcards.source != "glove":
        return []
    glove = config["embeddings"].get("glove", {})
    return glove.get("local_file") or "resources/glove/glove.6B.zip"


def embeddings_for(wildcards):
    spec = ModelSpec.parse(wildcards.model)
    source = config["embeddings"]["source"]
    return f"results/{wildcards.dataset}/embeddings/{source}-{spec.embedding}.npy"


def systems(wildcards):
    return ModelSpec.parse(wildcards.model).systems(config["fixed_points"]["mode"])


def analysis_tables(dataset, model_id):
    """The fixed-point and linearization tables of one model, one per analysed system."""
    return expand(
        "results/{dataset}/{kind}/{model}/{system}.parquet",
        dataset=dataset,
        model=model_id,
        kind=["fixed_points", "linearization"],
        system=ModelSpec.parse(model_id).systems(config["fixed_points"]["mode"]),
    )


def fixed_point_tables(wildcards):
    return analysis_tables(wildcards.dataset, wildcards.model)


def all_fixed_point_tables(wildcards):
    return [path for m in MODELS for path in analysis_tables(wildcards.dataset, m.id)]


def analysis_folders(wildcards):
    return [
        f"results/{wildcards.dataset}/analyses/{m.id}/{system}"
        for m in MODELS
        for system in m.systems(config["fixed_points"]["mode"])
    ]


def per_model(pattern):
    """An input function: ``pattern`` for every model of the grid, for one dataset."""

    def inputs(wildcards):
        return [pattern.format(dataset=wildcards.dataset, model=m.id) for m in MODELS]

    return inputs


# The figures of every model, as the results page shows them, and the analyze rule's of every system (the
# page shows the last, the integration manifold's).
MODEL_FIGURES = tuple(results_page.FIGURES)
ANALYSIS_FIGURES = ("dimensionality", "time_constants", "alignment", "valence", "linearized", "manifold")


def model_figures(wildcards):
    """Every model's figures of one dataset and each system's manifold (the ones the results page shows)."""
    return [
        path
        for m in MODELS
        for path in [f"results/{wildcards.dataset}/figures/{m.id}/{name}.png" for name in MODEL_FIGURES]
        + [
            f"results/{wildcards.dataset}/figures/{m.id}/{system}/manifold.png"
            for system in m.systems(config["fixed_points"]["mode"])
        ]
    ]


def all_targets():
    """What a complete run makes: every figure and table of the report, and each dataset's results page."""
    return report_targets() + [f"results/{dataset}/RESULTS.md" for dataset in config["run_datasets"]]


def report_targets():
    """Every figure and summary table (as HTML for the report; the CSV beside it) of a complete run."""
    targets = ["results/comparison.html", "results/comparison.png"]
    for dataset in config["run_datasets"]:
        targets += [
            f"results/{dataset}/tables/{name}.html"
            for name in ("accuracy", "explained_variance", "fixed_points", "comparison", "timeline")
        ]
        for m in MODELS:
            targets += [f"results/{dataset}/figures/{m.id}/{name}.png" for name in MODEL_FIGURES]
            targets += [
                f"results/{dataset}/figures/{m.id}/{system}/{name}.png"
                for system in m.systems(config["fixed_points"]["mode"])
                for name in ANALYSIS_FIGURES
            ]
    return targets


def present_targets(wildcards):
    """The outputs of report_targets() that exist now, which a report after a partial run shows.

    The results page is left out: its job asks for every figure, so a page left from an earlier
    run would bring the missing figures' jobs into the report."""
    return [path for path in report_targets() if os.path.exists(path)]


def benchmark_records(wildcards):
    """The benchmark records (``benchmark:`` files) of every job a complete run of one dataset makes."""
    root = f"logs/benchmarks/{wildcards.dataset}"
    kind = dataset_spec(wildcards)["kind"]
    records = [f"{root}/prepare.tsv"]
    if kind in DOWNLOADED_ARCHIVES:
        records.append(f"{root}/download/{DOWNLOADED_ARCHIVES[kind]}.tsv")
    elif kind == "synthetic":
        records.append(f"{root}/synthesize.tsv")
    source = config["embeddings"]["source"]
    if source == "glove" and not config["embeddings"].get("glove", {}).get("local_file"):
        records.append("logs/benchmarks/download_glove.tsv")
    records += [f"{root}/embeddings/{source}-{dim}.tsv" for dim in sorted({m.embedding for m in MODELS})]
    shards = config["fixed_points"]["shards"]
    for m in MODELS:
        records += [
            f"{root}/{rule}/{m.id}.tsv" for rule in ("train", "hidden_states", "state_figures", "fixed_point_figures")
        ]
        for system in m.systems(config["fixed_points"]["mode"]):
            records += [
                f"{root}/fixed_point_shard/{m.id}/{system}/shard-{index}-of-{shards}.tsv"
                for index in range(1, shards + 1)
            ]
            records += [
                f"{root}/{rule}/{m.id}/{system}.tsv" for rule in ("gather_fixed_points", "linearize", "analyze")
            ]
    return records


def model_outputs(wildcards):
    """The last outputs of every model's jobs: once they exist, every benchmarked job of the dataset has run."""
    return [
        path
        for m in MODELS
        for path in (
            f"results/{wildcards.dataset}/figures/{m.id}/pca_trajectories.png",
            f"results/{wildcards.dataset}/figures/{m.id}/line.png",
        )
    ] + analysis_folders(wildcards)
