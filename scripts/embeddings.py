"""Rule embeddings: vectors aligned to the vocabulary, {source}-{dim}.npy, and their coverage of it, {source}-{dim}.json
(which the data table shows)."""

from rnn_dynamics.data import embeddings, text
from rnn_dynamics.ground import logs, storage

with logs.to_file(snakemake.log[0]):
    source, dim = snakemake.wildcards.source, int(snakemake.wildcards.dim)
    vocab = storage.read_table(snakemake.input.vocab, text.VOCAB_SCHEMA)
    glove = str(snakemake.input.glove) if source == "glove" else None
    matrix, coverage = embeddings.build_with_coverage(vocab, source, dim, seed=snakemake.params.seed, glove_path=glove)
    embeddings.save(matrix, snakemake.output.matrix)
    storage.write_json(coverage, snakemake.output.coverage)
