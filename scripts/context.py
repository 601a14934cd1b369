"""Rule context: how modifier words change the next word's effect in one system of one model."""

import numpy as np

from rnn_dynamics.data import batches, text
from rnn_dynamics.dynamics import context, linearization
from rnn_dynamics.ground import logs
from rnn_dynamics.networks import model
from rnn_dynamics.outputs.figures.context import FIGURES, context_figures

with logs.to_file(snakemake.log[0]):
    settings = context.Settings.from_params(snakemake.params.settings, device=snakemake.resources.device)
    device = model.resolve_device(settings.device, "context.device")
    network = model.load(snakemake.input.model, map_location=device)
    vocabulary = text.read_vocabulary(snakemake.input.vocab)
    result = context.context(
        network,
        snakemake.wildcards.system,
        linearization.read(snakemake.input.linearization),
        batches.read_split(snakemake.input.train, len(vocabulary)),
        batches.read_split(snakemake.input.test, len(vocabulary)),
        vocabulary.tokens,
        np.asarray(vocabulary.counts),
        settings,
    )
    context.write(result, snakemake.output.tables)
    title = f"{snakemake.wildcards.model} {snakemake.wildcards.system}"
    context_figures(result, {name: getattr(snakemake.output, name) for name in FIGURES}, title)
