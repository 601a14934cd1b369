"""Rule seeds_table: each measure of the comparison table over the seeds of each grid point."""

from rnn_dynamics.ground import logs
from rnn_dynamics.ground.storage import atomic_path
from rnn_dynamics.outputs import catalogue, tables

with logs.to_file(snakemake.log[0]):
    table = tables.seeds_table(catalogue.read("comparison", snakemake.input[0]))
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
