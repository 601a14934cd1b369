"""Rule results_page: the run's summary tables and figures as one Markdown page, headed by its provenance."""

import os
from pathlib import Path

from rnn_dynamics.ground import logs
from rnn_dynamics.ground.storage import read_json
from rnn_dynamics.outputs import catalogue, results_page

with logs.to_file(snakemake.log[0]):
    page_dir = Path(snakemake.output[0]).parent
    # The inputs named after a table (catalogue.TABLES): those the page shows, and the timeline.
    tables = {name: catalogue.read(name, path) for name, path in snakemake.input.items() if name in catalogue.TABLES}
    timeline_table = tables.pop("timeline")
    figures = {}
    for path in map(Path, snakemake.input.figures):
        model_id = path.parts[path.parts.index("figures") + 1]  # figures/{model}/[{system}/]{name}.png
        figures.setdefault(model_id, []).append(os.path.relpath(path, page_dir))
    text = results_page.page(
        snakemake.wildcards.dataset,
        tables,
        timeline_table,
        [read_json(path) for path in snakemake.input.metrics],
        figures,
        snakemake.params.config,
        snakemake.params.models,
        os.path.relpath(snakemake.input.data_figure, page_dir),
    )
    results_page.write(text, snakemake.output[0])
