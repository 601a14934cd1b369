"""Rule data_figure: the histogram of each split's review lengths in tokens."""

from rnn_dynamics.ground import logs
from rnn_dynamics.ground.storage import read_table
from rnn_dynamics.outputs.figures.data import length_histogram

with logs.to_file(snakemake.log[0]):
    lengths = {
        split: read_table(snakemake.input[split], {"length": None}, columns=["length"]).column("length").to_numpy()
        for split in ("train", "valid", "test")
    }
    length_histogram(lengths, snakemake.output[0], f"{snakemake.wildcards.dataset}: review length in tokens")
