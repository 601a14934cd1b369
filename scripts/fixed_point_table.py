"""Rule fixed_point_table: per model and system, converged starts, fixed points and the slowest mode."""

from rnn_dynamics.ground import logs
from rnn_dynamics.ground.storage import atomic_path
from rnn_dynamics.outputs import tables

with logs.to_file(snakemake.log[0]):
    with atomic_path(snakemake.output[0]) as tmp:
        tables.fixed_point_table(list(snakemake.input)).to_csv(tmp, index=False)
