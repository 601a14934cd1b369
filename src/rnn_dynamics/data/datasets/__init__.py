"""Every dataset's raw format read into one review table, and ``prepare``, which makes the token tables.

``cleaning`` (the named rules a reader puts its corpus's texts through, and the detectors of what a text
still holds), ``schema`` (the review and token tables' schemas, the label types, ``Classes`` and their
metadata, the label mapping), ``card`` (the data card: splits, vocabulary, artefacts), ``token_tables``
(``prepare``: holdout, tokenising, token tables, class checks), ``layout`` (the archive checks the readers
share), one module per archive family (``imdb``: aclImdb and the generated
archives; ``sst2``: GLUE's SST-2; ``zhang_csv``: Zhang et al.'s Yelp, Yelp full, AG News and DBpedia), and
``table_files`` (the users' own CSV, TSV or Parquet files), with ``registry``, the one table of dataset
kinds (``ARCHIVES``) and ``read_reviews``. The package re-exports the modules' public names.
"""

from rnn_dynamics.data.datasets import (
    card,
    cleaning,
    imdb,
    layout,
    registry,
    schema,
    sst2,
    table_files,
    token_tables,
    zhang_csv,
)
from rnn_dynamics.data.datasets.card import *  # noqa: F403
from rnn_dynamics.data.datasets.cleaning import *  # noqa: F403
from rnn_dynamics.data.datasets.imdb import *  # noqa: F403
from rnn_dynamics.data.datasets.layout import *  # noqa: F403
from rnn_dynamics.data.datasets.registry import *  # noqa: F403
from rnn_dynamics.data.datasets.schema import *  # noqa: F403
from rnn_dynamics.data.datasets.sst2 import *  # noqa: F403
from rnn_dynamics.data.datasets.table_files import *  # noqa: F403
from rnn_dynamics.data.datasets.token_tables import *  # noqa: F403
from rnn_dynamics.data.datasets.zhang_csv import *  # noqa: F403

# Bottom to top: a module imports only those before it (tests/test_layout.py reads this order); then the
# names re-exported from them, each module's own ``__all__``.
__all__ = ["cleaning", "schema", "card", "token_tables", "layout", "imdb", "sst2", "zhang_csv", "table_files"]
__all__ += ["registry"]
__all__ += cleaning.__all__
__all__ += schema.__all__
__all__ += card.__all__
__all__ += token_tables.__all__
__all__ += layout.__all__
__all__ += imdb.__all__
__all__ += sst2.__all__
__all__ += zhang_csv.__all__
__all__ += table_files.__all__
__all__ += registry.__all__
