"""Rule accuracy_table: one row per model with the kept weights' loss and accuracy on each split."""

import json

from rnn_dynamics import logs, training
from rnn_dynamics.storage import atomic_path

with logs.to_file(snakemake.log[0]):
    metrics = [json.loads(open(path).read()) for path in snakemake.input]
    with atomic_path(snakemake.output[0]) as tmp:
        training.accuracy_table(metrics).to_csv(tmp, index=False)
