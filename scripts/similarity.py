"""Rule similarity: DSA, linear CKA and fixed-point geometry of every configured pair of systems, and each
system's DSA from its untrained network (the scale of the distances)."""

import torch

from rnn_dynamics.data import batches
from rnn_dynamics.dynamics import similarity
from rnn_dynamics.ground import logs
from rnn_dynamics.ground.storage import atomic_path
from rnn_dynamics.networks import model

with logs.to_file(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    settings = similarity.Settings.from_params(snakemake.params.settings)
    compared = [
        (axis, similarity.SystemName.parse(a), similarity.SystemName.parse(b)) for axis, a, b in snakemake.params.pairs
    ]
    # The trained and the initial networks by model id (results/{dataset}/models/{model}/*.pt).
    networks, untrained = (
        {path.split("/")[-2]: model.load(path, map_location="cpu") for path in paths}
        for paths in (snakemake.input.models, snakemake.input.initial)
    )
    splits = {
        name: batches.read_split(snakemake.input[name])
        for name in ("train", "valid", "test")
        if name in snakemake.input.keys()
    }
    tables = {
        name: (fixed, linear)
        for name, fixed, linear in zip(
            snakemake.params.systems, snakemake.input.fixed_points, snakemake.input.linearization
        )
    }
    table = similarity.similarity_table(compared, networks, splits, tables, settings, untrained)
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
