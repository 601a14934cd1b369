"""Rule report_status: which of a complete run's figures and tables exist (the inputs) and which are missing."""

from rnn_dynamics.ground import logs
from rnn_dynamics.outputs import report

with logs.to_file(snakemake.log[0]):
    table = report.write_status(list(snakemake.params.expected), list(snakemake.input), snakemake.output[0])
    print(table["status"].value_counts().to_string())
