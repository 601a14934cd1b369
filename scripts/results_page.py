"""Rule results_page: the run's summary tables and figures as one Markdown page, headed by its provenance."""

import os
from pathlib import Path

import pandas as pd

from rnn_dynamics.ground import logs
from rnn_dynamics.ground.storage import read_json
from rnn_dynamics.outputs import results_page

with logs.to_file(snakemake.log[0]):
    page_dir = Path(snakemake.output[0]).parent
    tables = {name: pd.read_csv(snakemake.input[name]) for name in results_page.TABLES}
    figures = {}
    for path in map(Path, snakemake.input.figures):
        model_id = path.parts[path.parts.index("figures") + 1]  # figures/{model}/[{system}/]{name}.png
        figures.setdefault(model_id, []).append(os.path.relpath(path, page_dir))
    text = results_page.page(
        snakemake.wildcards.dataset,
        tables,
        pd.read_csv(snakemake.input.timeline),
        [read_json(path) for path in snakemake.input.metrics],
        figures,
        snakemake.config,
        pd.read_csv(snakemake.input.similarity[0]) if snakemake.input.similarity else None,
        pd.read_csv(snakemake.input.data, keep_default_na=False),
        os.path.relpath(snakemake.input.data_figure, page_dir),
    )
    results_page.write(text, snakemake.output[0])
