"""Rule similarity_figure: the similarity measures along one grid axis."""

import pandas as pd

from rnn_dynamics.ground import logs
from rnn_dynamics.outputs.figures.similarity import axis_figure

with logs.to_file(snakemake.log[0]):
    axis_figure(pd.read_csv(snakemake.input[0]), snakemake.wildcards.axis, snakemake.output[0])
