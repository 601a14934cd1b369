"""Rule import_model: a network the pipeline did not train (models.import) as the model files the train rule writes,
its accuracy measured on the dataset's splits."""

from pathlib import Path

import torch

from rnn_dynamics.data import batches, text
from rnn_dynamics.ground import logs
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import imported, model

with logs.to_file(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    vocabulary = text.read_vocabulary(snakemake.input.vocab)
    imported.import_network(
        imported.Settings.from_params(snakemake.params.settings),
        ModelSpec.parse(snakemake.wildcards.model).imported,
        {
            split: batches.read_split(snakemake.input[split], vocab_size=len(vocabulary))
            for split in ("train", "valid", "test")
        },
        vocabulary,
        snakemake.wildcards.dataset,
        imported.Outputs(*(Path(snakemake.output[name]) for name in ("initial", "final", "metrics"))),
        model.resolve_device(snakemake.resources.device, "training.device"),
    )
