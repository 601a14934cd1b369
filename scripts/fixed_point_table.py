"""Rule fixed_point_table: per model and system, converged starts, fixed points and the slowest mode."""

from rnn_dynamics import logs, tables
from rnn_dynamics.storage import atomic_path

with logs.to_file(snakemake.log[0]):
    with atomic_path(snakemake.output[0]) as tmp:
        tables.fixed_point_table(list(snakemake.input)).to_csv(tmp, index=False)
