"""Rule tolerance_table: per model, split and system, the fixed-point set at each multiple of the search's
tolerance, the search run again from the same starts."""

from rnn_dynamics.dynamics import fixed_points
from rnn_dynamics.ground import logs
from rnn_dynamics.ground.storage import atomic_path, read_json
from rnn_dynamics.outputs import tables

with logs.to_file(snakemake.log[0]):
    metrics = [read_json(path) for path in snakemake.input.metrics]
    classes = {entry["model"]: len(entry.get("classes", (0, 1))) for entry in metrics}
    search = fixed_points.SearchSettings.from_params(snakemake.params.settings, device="cpu")
    models = dict(zip(snakemake.params.models, snakemake.input.models))
    table = tables.tolerance_table(
        list(snakemake.input.fixed_points), models, search, snakemake.params.multiples, classes
    )
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
