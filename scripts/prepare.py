"""Rule prepare: token tables and vocabulary of a dataset's archive or table files."""

from rnn_dynamics.data import datasets
from rnn_dynamics.ground import logs

with logs.to_file(snakemake.log[0]):
    settings = datasets.PrepareSettings.from_config(snakemake.params.settings)
    reviews = datasets.read_reviews(snakemake.params.spec, list(snakemake.input), settings.split_seed)
    datasets.prepare(reviews, dict(snakemake.output.items()), settings)
