"""Rule data_table: the dataset's data card with the embeddings' coverage of its vocabulary, one row per number."""

from rnn_dynamics.ground import logs
from rnn_dynamics.ground.storage import atomic_path, read_json
from rnn_dynamics.outputs import tables

with logs.to_file(snakemake.log[0]):
    table = tables.data_table(read_json(snakemake.input.card), [read_json(path) for path in snakemake.input.coverage])
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
