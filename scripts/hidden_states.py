"""Rule hidden_states: every layer's states over a split for the trained and the untrained weights.

Writes the per-layer Parquet dumps of a sample of reviews, the PCA of every
(weights, layer), and the example reviews' trajectories through the trained model.
"""

import torch

from rnn_dynamics import batches, logs, model, states, storage, text, training

with logs.to_file(snakemake.log[0]):
    settings = snakemake.params.settings
    torch.set_num_threads(snakemake.threads)
    device = training.resolve_device(snakemake.config["training"]["device"])
    trained = model.load(snakemake.input.final, map_location=device)
    untrained = model.load(snakemake.input.initial, map_location=device)
    split = batches.read_split(snakemake.input.data, vocab_size=trained.vocab_size)
    sample = states.sample_reviews(len(split), settings["sample_reviews"], settings["seed"])
    pcas = states.extract(trained, untrained, split, snakemake.output.states, sample, settings["batch_size"])
    storage.write_table(states.pca_table(pcas), snakemake.output.pca)
    examples = states.example_states(
        trained,
        settings["examples"],
        text.read_vocabulary(snakemake.input.vocab).index,
        max_length=snakemake.params.max_length,
    )
    storage.write_table(examples, snakemake.output.examples)
