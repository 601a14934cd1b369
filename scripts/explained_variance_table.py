"""Rule explained_variance_table: variance explained by 1, 2 and 3 PCs, per model, layer and weights."""

from pathlib import Path

from rnn_dynamics.ground import logs
from rnn_dynamics.ground.storage import atomic_path
from rnn_dynamics.outputs import tables

with logs.to_file(snakemake.log[0]):
    # Inputs are results/{dataset}/pca/{model}.parquet: the file name is the model id.
    table = tables.explained_variance_table({Path(path).stem: path for path in snakemake.input})
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
