"""Rule linearize: Jacobians and eigendecomposition at a system's unique fixed points."""

from rnn_dynamics.dynamics import fixed_points, linearization
from rnn_dynamics.ground import logs, storage
from rnn_dynamics.networks import model

with logs.to_file(snakemake.log[0]):
    device = model.resolve_device(snakemake.resources.device, "fixed_points.device")
    system = model.load(snakemake.input.model, map_location=device).system(snakemake.wildcards.system)
    table = fixed_points.read_fixed_points(snakemake.input.fixed_points)
    result = linearization.linearize_table(system, table, device=device)
    storage.write_table(result.to_table(), snakemake.output[0])
