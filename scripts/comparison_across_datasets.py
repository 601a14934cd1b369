"""Rule comparison_across_datasets: the comparison tables of every dataset run as one table, its HTML page and a
figure."""

import pandas as pd

from rnn_dynamics.ground import logs
from rnn_dynamics.ground.storage import atomic_path
from rnn_dynamics.outputs import report, tables
from rnn_dynamics.outputs.figures.analyses import comparison_figure

with logs.to_file(snakemake.log[0]):
    table = tables.combine_comparisons(
        [pd.read_csv(path, keep_default_na=False, na_values=[""]) for path in snakemake.input]
    )
    with atomic_path(snakemake.output.table) as tmp:
        table.to_csv(tmp, index=False)
    report.write_html_table(snakemake.output.table, snakemake.output.html, "comparison")
    comparison_figure(table, snakemake.output.figure)
