"""Rule accuracy_table: one row per model with the kept weights' loss and accuracy on each split."""

from rnn_dynamics.ground import logs
from rnn_dynamics.ground.storage import atomic_path, read_json
from rnn_dynamics.outputs import tables

with logs.to_file(snakemake.log[0]):
    table = tables.accuracy_table([read_json(path) for path in snakemake.input])
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
