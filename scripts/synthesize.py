"""Rule synthesize: a generated archive in the aclImdb layout."""

from rnn_dynamics.data import synthetic
from rnn_dynamics.ground import logs

with logs.to_file(snakemake.log[0]):
    synthetic.write_archive(snakemake.output[0], synthetic.Settings.from_config(snakemake.params.spec))
