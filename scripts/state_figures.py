"""Rule state_figures: explained variance (trained vs untrained) and PC1-PC2 trajectories of one model."""

from rnn_dynamics.dynamics import pca, state_dumps
from rnn_dynamics.ground import logs
from rnn_dynamics.outputs.figures import states as figures

with logs.to_file(snakemake.log[0]):
    model_id = snakemake.wildcards.model
    pcas = pca.read_pca(snakemake.input.pca)
    figures.explained_variance(pcas, model_id, snakemake.output.explained_variance)
    figures.pca_trajectories(
        pcas,
        snakemake.input.states,
        state_dumps.read_examples(snakemake.input.examples),
        model_id,
        snakemake.output.pca_trajectories,
        seed=snakemake.params.seed,
    )
