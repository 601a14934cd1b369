"""Rule train: fit one model of the grid, resuming from its checkpoint if one exists."""

from pathlib import Path

import numpy as np

from rnn_dynamics import logs, training
from rnn_dynamics.grid import ModelSpec

with logs.to_file(snakemake.log[0]):
    embeddings = np.load(snakemake.input.embeddings)
    splits = {
        split: training.read_reviews(snakemake.input[split], vocab_size=embeddings.shape[0])
        for split in ("train", "valid", "test")
    }
    training.train(
        ModelSpec.parse(snakemake.wildcards.model),
        splits,
        embeddings,
        training.Settings.from_config(snakemake.params.settings),
        training.Outputs(
            initial=Path(snakemake.output.initial),
            final=Path(snakemake.output.final),
            history=Path(snakemake.output.history),
            metrics=Path(snakemake.output.metrics),
            checkpoint=Path(snakemake.params.checkpoint),
        ),
    )
