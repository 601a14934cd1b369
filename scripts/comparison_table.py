"""Rule comparison_table: one row per model and system with test accuracy, the top-2 PC variance of its
states and the line-attractor measures, beside the paper's accuracies."""

from pathlib import Path

from rnn_dynamics.ground import logs
from rnn_dynamics.ground.storage import atomic_path, read_json
from rnn_dynamics.outputs import tables

with logs.to_file(snakemake.log[0]):
    summaries = [read_json(Path(folder) / "summary.json") for folder in snakemake.input.analyses]
    metrics = [read_json(path) for path in snakemake.input.metrics]
    explained = tables.trained_explained_variance(dict(zip(snakemake.params.models, snakemake.input.pca)))
    table = tables.comparison_table(summaries, metrics, explained, snakemake.wildcards.dataset, snakemake.params.kind)
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
