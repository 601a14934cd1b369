"""Rule synthesize: a generated archive in the aclImdb layout."""

from rnn_dynamics import logs, synthetic

with logs.to_file(snakemake.log[0]):
    settings = {key: value for key, value in snakemake.params.spec.items() if key != "kind"}
    synthetic.write_archive(snakemake.output[0], **settings)
