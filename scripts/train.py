"""Rule train: fit one model of the grid, resuming from its checkpoint if one exists.

The job holds the model's lock for its whole life, so a second trainer of the same
model (an orphan of a killed Snakemake, a run after `--unlock`) stops at once.
"""

from pathlib import Path

from rnn_dynamics.data import batches
from rnn_dynamics.ground import logs, storage
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import training

with logs.to_file(snakemake.log[0]):
    spec = ModelSpec.parse(snakemake.wildcards.model)
    checkpoint = Path(snakemake.params.checkpoint)
    with training.model_lock(spec, checkpoint.parent):
        embeddings = storage.read_array(snakemake.input.embeddings)
        splits = {
            split: batches.read_split(snakemake.input[split], vocab_size=embeddings.shape[0])
            for split in ("train", "valid", "test")
        }
        training.train(
            spec,
            splits,
            embeddings,
            training.Settings.from_job(snakemake.params.settings, spec, snakemake.resources.device, snakemake.threads),
            training.Outputs(
                initial=Path(snakemake.output.initial),
                final=Path(snakemake.output.final),
                history=Path(snakemake.output.history),
                metrics=Path(snakemake.output.metrics),
                checkpoint=checkpoint,
            ),
        )
