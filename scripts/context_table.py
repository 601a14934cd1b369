"""Rules context_table, context_ablation_table, context_bow_table: the context stage's tables of every system."""

from rnn_dynamics.ground import logs
from rnn_dynamics.ground.storage import atomic_path
from rnn_dynamics.outputs import tables

with logs.to_file(snakemake.log[0]):
    with atomic_path(snakemake.output[0]) as tmp:
        tables.context_table(snakemake.params.table, list(snakemake.input)).to_csv(tmp, index=False)
