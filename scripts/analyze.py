"""Rule analyze: the line-attractor measures of one system of one model, as tables and figures."""

import numpy as np

from rnn_dynamics.data import batches, text
from rnn_dynamics.dynamics import analyses, fixed_points, linearization
from rnn_dynamics.ground import logs
from rnn_dynamics.networks import model
from rnn_dynamics.outputs.figures.analyses import FIGURES, analysis_figures

with logs.to_file(snakemake.log[0]):
    settings = analyses.Settings.from_params(snakemake.params.settings, device=snakemake.resources.device)
    device = model.resolve_device(settings.device, "analyses.device")
    network = model.load(snakemake.input.model, map_location=device)
    vocabulary = text.read_vocabulary(snakemake.input.vocab)
    untrained = analyses.Untrained(
        model.load(snakemake.input.initial, map_location=device),
        fixed_points.read_fixed_points(snakemake.input.fixed_points),
        fixed_points.SearchSettings.from_params(snakemake.params.search, device=snakemake.resources.device),
        fixed_points.GatherSettings.from_params(snakemake.params.gather),
    )
    result = analyses.analyze(
        network,
        snakemake.wildcards.system,
        linearization.read(snakemake.input.linearization),
        batches.read_split(snakemake.input.train, len(vocabulary)),
        batches.read_split(snakemake.input.test, len(vocabulary)),
        vocabulary.tokens,
        np.asarray(vocabulary.counts),
        settings,
        untrained=untrained,
    )
    analyses.write(result, snakemake.output.tables, settings.top_words)
    title = f"{snakemake.wildcards.model} {snakemake.wildcards.system}"
    analysis_figures(result, {name: getattr(snakemake.output, name) for name in FIGURES}, title, settings.top_words)
