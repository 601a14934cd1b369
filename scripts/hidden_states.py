"""Rule hidden_states: every layer's states over a split for the trained and the untrained weights.

The split is the job's (``{split_tag}``: none for test); the training split's states are those of the
reviews the model was trained on (``batches.trained_on``, its training fraction).

Writes the per-layer Parquet dumps of a sample of reviews, the PCA of every
(weights, layer), and the example reviews' trajectories through the trained model
(``states.write_hidden_states``).
"""

import torch

from rnn_dynamics.data import batches, text
from rnn_dynamics.dynamics import states
from rnn_dynamics.ground import logs
from rnn_dynamics.ground.grid import ModelSpec, split_of_tag
from rnn_dynamics.networks import model

with logs.to_file(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    device = model.resolve_device(snakemake.resources.device, "training.device")
    trained = model.load(snakemake.input.final, map_location=device)
    untrained = model.load(snakemake.input.initial, map_location=device)
    reviews = batches.read_split(snakemake.input.data, vocab_size=trained.vocab_size)
    if split_of_tag(snakemake.wildcards.split_tag) == "train":
        reviews = batches.trained_on(reviews, ModelSpec.parse(snakemake.wildcards.model))
    states.write_hidden_states(
        trained,
        untrained,
        reviews,
        text.read_vocabulary(snakemake.input.vocab).index,
        states.Settings.from_job(snakemake.params.settings),
        {name: snakemake.output[name] for name in ("states", "pca", "examples")},
        max_length=snakemake.params.max_length,
    )
