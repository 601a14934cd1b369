"""Rule table_html: a summary table's CSV as an HTML page, which the report can show."""

from rnn_dynamics import logs, report

with logs.to_file(snakemake.log[0]):
    report.write_html_table(snakemake.input[0], snakemake.output[0], snakemake.wildcards.table)
