"""Rule comparison_table: one row per model and system with test accuracy and the line-attractor measures."""

from pathlib import Path

from rnn_dynamics import analyses, logs
from rnn_dynamics.storage import atomic_path, read_json

with logs.to_file(snakemake.log[0]):
    summaries = [read_json(Path(folder) / "summary.json") for folder in snakemake.input.analyses]
    metrics = [read_json(path) for path in snakemake.input.metrics]
    with atomic_path(snakemake.output[0]) as tmp:
        analyses.comparison_table(summaries, metrics).to_csv(tmp, index=False)
