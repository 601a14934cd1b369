"""Rule download_glove: the official glove.6B.zip, checksum-verified."""

from rnn_dynamics.data import download
from rnn_dynamics.ground import logs

with logs.to_file(snakemake.log[0]):
    glove = snakemake.params.glove
    download.fetch(glove["url"], snakemake.output[0], glove["sha256"], local_key="embeddings.glove.local_file")
