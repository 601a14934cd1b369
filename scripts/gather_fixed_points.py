"""Rule gather_fixed_points: join a system's shards, mark converged starts and unique fixed points."""

from rnn_dynamics.dynamics import fixed_point_sets
from rnn_dynamics.ground import logs, stages, storage

with logs.to_file(snakemake.log[0]):
    settings = stages.GatherSettings.from_params(snakemake.params.settings)
    table = fixed_point_sets.gather_shards(list(snakemake.input), settings)
    storage.write_table(table, snakemake.output[0])
