"""Rule accuracy_table: one row per model with the kept weights' loss and accuracy on each split."""

from rnn_dynamics import logs, tables
from rnn_dynamics.storage import atomic_path, read_json

with logs.to_file(snakemake.log[0]):
    table = tables.accuracy_table([read_json(path) for path in snakemake.input])
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
