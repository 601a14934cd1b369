"""Rule fixed_point_shard: solve one shard of a system's fixed-point starts."""

import torch

from rnn_dynamics.dynamics import fixed_points
from rnn_dynamics.ground import logs, storage
from rnn_dynamics.networks import model

with logs.to_file(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    settings = fixed_points.SearchSettings.from_params(snakemake.params.settings, device=snakemake.resources.device)
    index, count = fixed_points.parse_scatteritem(snakemake.wildcards.scatteritem)
    device = model.resolve_device(settings.device, "fixed_points.device")
    system = model.load(snakemake.input.model, map_location=device).system(snakemake.wildcards.system)
    states = fixed_points.system_states(snakemake.input.states, snakemake.wildcards.system)
    table = fixed_points.solve_shard(system, states, settings, index, count, device=device)
    storage.write_table(table, snakemake.output[0])
