"""Rule table_html: a summary table's CSV as an HTML page, which the report can show, and as a bare table
for the report's first page."""

from rnn_dynamics.ground import logs
from rnn_dynamics.outputs import report

with logs.to_file(snakemake.log[0]):
    report.write_html_table(
        snakemake.input[0], snakemake.output.html, snakemake.wildcards.table, snakemake.output.fragment
    )
