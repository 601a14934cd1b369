"""Rule evidence_table: each published measure beside its null."""

from rnn_dynamics.ground import logs
from rnn_dynamics.ground.storage import atomic_path
from rnn_dynamics.outputs import catalogue, tables

with logs.to_file(snakemake.log[0]):
    explained = catalogue.read("explained_variance", snakemake.input.explained_variance)
    compared = [catalogue.read("similarity", path) for path in snakemake.input.similarity]
    table = tables.evidence_table(list(snakemake.input.analyses), explained, compared[0] if compared else None)
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
