"""Rule timeline: the benchmark records of a dataset's jobs gathered into one table."""

from rnn_dynamics.ground import logs
from rnn_dynamics.outputs import timeline

with logs.to_file(snakemake.log[0]):
    table = timeline.timeline_table(timeline.present(snakemake.params.records), snakemake.params.root)
    timeline.write(table, snakemake.output[0])
    print(timeline.per_rule(table).to_string(index=False))
