"""The data layer: raw archives and tables into token tables, vectors and padded batches.

``download`` (checksum-verified archives), ``text`` (tokenizer and vocabulary), ``synthetic`` (generated
reviews with a known rule), ``datasets`` (a package: the label schema, one
module per archive family, the registry of dataset kinds, and ``prepare``), ``embeddings`` (vectors aligned to the
vocabulary), ``batches`` (the prepared splits in memory, length buckets, padded batches).
"""

# Bottom to top: a module imports only those before it and the ground layer (tests/test_layout.py reads this order).
__all__ = ["download", "text", "synthetic", "datasets", "embeddings", "batches"]
