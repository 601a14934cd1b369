"""Rule fixed_point_figures: approximate fixed points over the visited states, spectra and the slowest mode along
the line."""

from rnn_dynamics.ground import logs
from rnn_dynamics.outputs.figures.fixed_points import fixed_point_figures

with logs.to_file(snakemake.log[0]):
    fixed_point_figures(
        snakemake.wildcards.model,
        snakemake.params.systems,
        list(snakemake.input.tables),
        snakemake.input.pca,
        snakemake.input.states,
        snakemake.params.eigen_points,
        {name: snakemake.output[name] for name in ("fixed_points", "eigenvalues", "line")},
    )
