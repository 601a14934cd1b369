# Input functions and target lists. Logic beyond path bookkeeping lives in src/rnn_dynamics/.
import os
import re

# Planning imports no numerical library (tests/test_layout.py checks): the stages' settings and the systems they
# run over come from ground.stages, the tables' and figures' names from the catalogue.
from rnn_dynamics.ground import stages
from rnn_dynamics.outputs import catalogue
from rnn_dynamics.data.datasets.registry import ARCHIVES, downloaded
from rnn_dynamics.ground.grid import (
    IMPORTED_ID_PATTERN,
    MODEL_ID_PATTERN,
    SPLIT_TAG_PATTERN,
    TRAINED_ID_PATTERN,
    ModelSpec,
    model_grid,
    split_of_tag,
    split_tag,
)


wildcard_constraints:
    dataset="[A-Za-z0-9_]+",
    model=MODEL_ID_PATTERN,
    source="glove|kumo|random",
    dim="[0-9]+",
    split="train|valid|test",
    system="layer[0-9]+|stack",
    # After a model id in the paths of states, PCA, fixed points and linearization: "" for the test split.
    split_tag=SPLIT_TAG_PATTERN,


MODELS = model_grid(config["models"])
# The imported networks' settings by name, each checkpoint checked against its declared sizes now, before any job.
IMPORTED = {
    name: stages.ImportSettings.from_config(entry) for name, entry in config["models"].get("import", {}).items()
}
if IMPORTED:
    # Reading a checkpoint needs torch: only a run that imports networks loads it while it plans.
    from rnn_dynamics.networks import imported

    for name, settings in IMPORTED.items():
        imported.load(settings, name)
for name in config["run_datasets"]:
    if name not in config["datasets"]:
        raise ValueError(
            f"config key run_datasets names {name!r}, which is not among the configured "
            f"datasets {sorted(config['datasets'])}"
        )
SPLITS = ["train", "valid", "test"]
# The analysed splits' path tags (states.splits): states/{model}{tag}, fixed_points/{model}{tag}/...
SPLIT_TAGS = [split_tag(split) for split in config["states"]["splits"]]


def stage_params(settings_type):
    """A rule's ``params``: the keys of its config section that decide the stage's output (the settings type's
    ``params()``), so that editing another key, or where the stage runs, reruns nothing."""
    return settings_type.from_config(config.get(settings_type.SECTION, {})).params()


def train_params(wildcards):
    """The train rule's params: the training settings with the model's batch size (a grid axis)."""
    return stages.TrainingSettings.from_config(config["training"]).params_for(ModelSpec.parse(wildcards.model))


def imported_settings(wildcards):
    """The models.import entry of an imported model's id."""
    return IMPORTED[ModelSpec.parse(wildcards.model).imported]


def states_params(wildcards):
    """The hidden_states rule's params: the states section as given, with this job's split."""
    return stages.StatesSettings.job_params(config["states"], split_of_tag(wildcards.split_tag))


def split_data(wildcards):
    return f"results/{wildcards.dataset}/data/{split_of_tag(wildcards.split_tag)}.parquet"


def dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def raw_input(wildcards):
    """What `prepare` reads: the dataset's archive, or the user's table files."""
    spec = dataset_spec(wildcards)
    if spec["kind"] in ARCHIVES:
        return f"resources/{wildcards.dataset}/{ARCHIVES[spec['kind']].file_name}"
    return [spec["path"]] if "path" in spec else [spec["train"], spec["test"]]


def archive_spec(wildcards):
    """The dataset entry of a download, checked to be of the kind whose official file name was asked for."""
    spec = dataset_spec(wildcards)
    archive = downloaded().get(spec["kind"])
    if archive is None or archive.file_name != wildcards.archive:
        raise ValueError(
            f"resources/{wildcards.dataset}/{wildcards.archive}: dataset {wildcards.dataset!r} is of kind "
            f"{spec['kind']!r}, whose archive is {archive.file_name if archive else 'not downloaded'}"
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


def embedding_coverages(wildcards):
    """The coverage of the vocabulary by each embedding the models read (the data table shows it)."""
    source = config["embeddings"]["source"]
    dims = sorted({m.embedding for m in MODELS if m.imported is None})
    return [f"results/{wildcards.dataset}/embeddings/{source}-{dim}.json" for dim in dims]


def systems(wildcards):
    return ModelSpec.parse(wildcards.model).systems(config["fixed_points"]["mode"])


def analysis_tables(dataset, model_id, tags=("",)):
    """The fixed-point and linearization tables of one model, one per analysed system and split tag."""
    return expand(
        "results/{dataset}/{kind}/{model}{tag}/{system}.parquet",
        dataset=dataset,
        model=model_id,
        tag=tags,
        kind=["fixed_points", "linearization"],
        system=ModelSpec.parse(model_id).systems(config["fixed_points"]["mode"]),
    )


def fixed_point_tables(wildcards):
    return analysis_tables(wildcards.dataset, wildcards.model)


def all_fixed_point_tables(wildcards):
    return [path for m in MODELS for path in analysis_tables(wildcards.dataset, m.id, SPLIT_TAGS)]


def all_gathered_fixed_points(wildcards):
    """Every model's gathered fixed-point tables, one per system and split tag."""
    return [path for path in all_fixed_point_tables(wildcards) if "/fixed_points/" in path]


def all_pca_tables(wildcards):
    return [f"results/{wildcards.dataset}/pca/{m.id}{tag}.parquet" for m in MODELS for tag in SPLIT_TAGS]


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


def similarity_pairs():
    """The pairs of systems the similarity rule compares, as (axis, a, b)."""
    settings = stages.SimilaritySettings.from_config(config.get("similarity", {}))
    return stages.pairs(settings, MODELS, config["states"]["splits"], config["fixed_points"]["mode"])


def similarity_systems():
    """Every system the similarity rule compares, each once, by name."""
    return list(dict.fromkeys(system.name for _, a, b in similarity_pairs() for system in (a, b)))


def similarity_inputs(wildcards):
    """The similarity rule's inputs: each compared system's model (trained and initial) and tables, and the split
    tables they read."""
    systems = [stages.SystemName.parse(name) for name in similarity_systems()]
    root = f"results/{wildcards.dataset}"
    tagged = [f"{s.model.id}{split_tag(s.split)}/{s.system}.parquet" for s in systems]
    return {
        "models": list(dict.fromkeys(f"{root}/models/{s.model.id}/model.pt" for s in systems)),
        "initial": list(dict.fromkeys(f"{root}/models/{s.model.id}/initial.pt" for s in systems)),
        "fixed_points": [f"{root}/fixed_points/{path}" for path in tagged],
        "linearization": [f"{root}/linearization/{path}" for path in tagged],
        **{split: f"{root}/data/{split}.parquet" for split in sorted({s.split for s in systems})},
    }


def similarity_figures(dataset):
    """A similarity figure per axis, where the config asks for any pair."""
    if not similarity_pairs():
        return []
    axes = config.get("similarity", {}).get("axes", [])
    return [f"results/{dataset}/figures/similarity/{axis}.png" for axis in axes]


# Whether this run makes each optional table of the catalogue (what its `optional` names asks for it).
ASKED_FOR = {
    "similarity": lambda: bool(similarity_pairs()),
    **dict.fromkeys(["context", "context_ablation", "context_bow"], lambda: config["context"]["enabled"]),
}
for table in catalogue.TABLES.values():
    if table.optional and table.name not in ASKED_FOR:
        raise ValueError(f"workflow/rules/common.smk: ASKED_FOR has no entry for the optional table {table.name!r}")


def run_tables():
    """The summary tables (catalogue.TABLES entries) this run makes for each dataset, in order."""
    return [table for table in catalogue.TABLES.values() if not table.optional or ASKED_FOR[table.name]()]


def results_page_tables(wildcards):
    """The tables the results page shows (catalogue.page_tables()) that this run makes, by name."""
    shown = {table.name for table in catalogue.page_tables()}
    return {table.name: table.path(wildcards.dataset) for table in run_tables() if table.name in shown}


def context_systems(model):
    """The systems of a model that the context stage probes (stages.probed_systems), where it is enabled."""
    if not config["context"]["enabled"]:
        return []
    return stages.probed_systems(model, model.systems(config["fixed_points"]["mode"]))


def context_folders(wildcards):
    return [f"results/{wildcards.dataset}/context/{m.id}/{system}" for m in MODELS for system in context_systems(m)]


CONTEXT_FIGURES = catalogue.CONTEXT_FIGURES


# The figures of every model, as the results page shows them, and the analyze rule's of every system (the
# page shows the last, the integration manifold's).
MODEL_FIGURES = tuple(catalogue.FIGURES)
ANALYSIS_FIGURES = catalogue.ANALYSIS_FIGURES


def model_figures(wildcards):
    """Every model's figures of one dataset and each system's manifold (the ones the results page shows),
    and the similarity's per axis."""
    return [
        path
        for m in MODELS
        for path in [f"results/{wildcards.dataset}/figures/{m.id}/{name}.png" for name in MODEL_FIGURES]
        + [
            f"results/{wildcards.dataset}/figures/{m.id}/{system}/manifold.png"
            for system in m.systems(config["fixed_points"]["mode"])
        ]
        + [
            f"results/{wildcards.dataset}/figures/{m.id}/{system}/{name}.png"
            for system in context_systems(m)
            for name in CONTEXT_FIGURES
        ]
    ] + similarity_figures(wildcards.dataset)


def all_targets():
    """What a complete run makes: every figure and table of the report, and each dataset's results page."""
    return report_targets() + [f"results/{dataset}/RESULTS.md" for dataset in config["run_datasets"]]


def report_targets():
    """Every figure and summary table (as HTML for the report; the CSV beside it) of a complete run."""
    across = [table.name for table in catalogue.report_tables() if table.across_rule]
    targets = [f"results/{name}.html" for name in across] + ["results/comparison.png"]
    for dataset in config["run_datasets"]:
        targets += [f"results/{dataset}/tables/{table.name}.html" for table in run_tables() if table.report]
        targets.append(f"results/{dataset}/figures/data/lengths.png")
        targets += similarity_figures(dataset)
        for m in MODELS:
            targets += [f"results/{dataset}/figures/{m.id}/{name}.png" for name in MODEL_FIGURES]
            targets += [
                f"results/{dataset}/figures/{m.id}/{system}/{name}.png"
                for system in m.systems(config["fixed_points"]["mode"])
                for name in ANALYSIS_FIGURES
            ]
            targets += [
                f"results/{dataset}/figures/{m.id}/{system}/{name}.png"
                for system in context_systems(m)
                for name in CONTEXT_FIGURES
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
    if kind in downloaded():
        records.append(f"{root}/download/{ARCHIVES[kind].file_name}.tsv")
    elif kind == "synthetic":
        records.append(f"{root}/synthesize.tsv")
    source = config["embeddings"]["source"]
    trained = [m for m in MODELS if m.imported is None]
    if trained and source == "glove" and not config["embeddings"].get("glove", {}).get("local_file"):
        records.append("logs/benchmarks/download_glove.tsv")
    records += [f"{root}/embeddings/{source}-{dim}.tsv" for dim in sorted({m.embedding for m in trained})]
    shards = config["fixed_points"]["shards"]
    for m in MODELS:
        rules = ("train" if m.imported is None else "import_model", "state_figures", "fixed_point_figures")
        records += [f"{root}/{rule}/{m.id}.tsv" for rule in rules]
        records += [f"{root}/hidden_states/{m.id}{tag}.tsv" for tag in state_tags()]
        for system in m.systems(config["fixed_points"]["mode"]):
            records.append(f"{root}/analyze/{m.id}/{system}.tsv")
            if system in context_systems(m):
                records.append(f"{root}/context/{m.id}/{system}.tsv")
            for tag in state_tags():
                records += [
                    f"{root}/fixed_point_shard/{m.id}{tag}/{system}/shard-{index}-of-{shards}.tsv"
                    for index in range(1, shards + 1)
                ]
                records += [f"{root}/{rule}/{m.id}{tag}/{system}.tsv" for rule in ("gather_fixed_points", "linearize")]
    return records


def state_tags():
    """The split tags whose states a complete run makes: the listed splits', and the test split's, which the
    figures and the analyses read."""
    return list(dict.fromkeys([""] + SPLIT_TAGS))


def model_outputs(wildcards):
    """The last outputs of every model's jobs: once they exist, every benchmarked job of the dataset has run."""
    return (
        all_fixed_point_tables(wildcards)
        + [
            path
            for m in MODELS
            for path in (
                f"results/{wildcards.dataset}/figures/{m.id}/pca_trajectories.png",
                f"results/{wildcards.dataset}/figures/{m.id}/line.png",
            )
        ]
        + analysis_folders(wildcards)
    )
