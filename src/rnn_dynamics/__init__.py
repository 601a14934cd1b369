"""Train recurrent sentiment classifiers and reverse-engineer their dynamics.

Modules, one concept each; imports run one way, from the top of this list down:

- outputs: ``figures`` (one module per stage, shared look in ``figures.style``),
  ``tables`` (the summary tables), ``report`` (what the Snakemake report shows),
  ``timeline`` (the jobs' benchmark records);
- dynamics: ``analyses`` (the paper's line-attractor measures), ``linearization``
  (Jacobians and eigenvectors at the fixed points), ``fixed_points`` (the search:
  starts, shards, gather, deduplication), ``solver`` (the root finding),
  ``states`` (hidden states, Parquet dumps, streaming PCA);
- networks: ``training``, ``model`` (the classifier), ``cells`` (each
  architecture's update equations with their closed-form Jacobians);
- data: ``batches`` (reviews in memory, length buckets, padded batches),
  ``embeddings``, ``datasets`` (each raw format into one review table, then token
  tables), ``synthetic``, ``text`` (tokenizer, vocabulary), ``download``;
- ground: ``grid`` (model ids), ``storage`` (atomic writes, schema-checked
  reads), ``logs``, ``config`` (the config schema's defaults, config checks).
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
