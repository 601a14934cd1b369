"""Rule fixed_point_figures: start states and fixed points on PC1-PC2, and eigenvalue spectra, per system."""

from rnn_dynamics import logs
from rnn_dynamics.figures.fixed_points import fixed_point_figures

with logs.to_file(snakemake.log[0]):
    fixed_point_figures(
        snakemake.wildcards.model,
        snakemake.params.systems,
        list(snakemake.input.tables),
        snakemake.input.pca,
        snakemake.input.states,
        snakemake.params.settings["eigen_points"],
        {"fixed_points": snakemake.output.fixed_points, "eigenvalues": snakemake.output.eigenvalues},
    )
