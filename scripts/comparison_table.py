"""Rule comparison_table: one row per model and system with test accuracy and the line-attractor measures."""

import json
from pathlib import Path

from rnn_dynamics import analyses, logs
from rnn_dynamics.storage import atomic_path

with logs.to_file(snakemake.log[0]):
    summaries = [json.loads((Path(folder) / "summary.json").read_text()) for folder in snakemake.input.analyses]
    metrics = [json.loads(Path(path).read_text()) for path in snakemake.input.metrics]
    with atomic_path(snakemake.output[0]) as tmp:
        analyses.comparison_table(summaries, metrics).to_csv(tmp, index=False)
