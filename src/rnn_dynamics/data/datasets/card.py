"""The data card of a prepared dataset (``results/{dataset}/data/card.json``): what its splits, vocabulary and
texts hold.

``prepare`` builds it from what it has already made (the splits' rows, every review's token ids and length,
the vocabulary) and one search per detector (``cleaning.DETECTORS``) in every text as read: ``splits`` (rows,
the count per class, the token length's median, 95th percentile and maximum, the share of unknown tokens),
``vocabulary`` (its size, the training tokens and the unknown ones among them), ``artefacts`` (per detector:
the texts it finds something in, the rule that removes it and up to ``EXAMPLES`` examples with their review
ids) and ``cleaning`` (the rules the texts went through, and the config key that chooses them). The embedding's
coverage of the vocabulary is the ``embeddings`` stage's (``embeddings.coverage``), beside the vectors, so that
prepare's outputs depend on the data and the prepare settings alone. The same input gives the same bytes.
"""

from __future__ import annotations

import json
import logging
from typing import Mapping, Sequence

import numpy as np
import pyarrow as pa

from rnn_dynamics.data.datasets.cleaning import DETECTORS
from rnn_dynamics.data.datasets.schema import CLEANING_KEY, Classes
from rnn_dynamics.data.text import UNK_INDEX, Vocabulary

__all__ = ["EXAMPLES", "EXCERPT", "artefacts", "cleaning_of", "data_card", "warn_of_artefacts"]

log = logging.getLogger(__name__)

# Examples kept per detector, and the most characters each shows: the match with the rest of the words it
# touches ("second\\team", not "d\\").
EXAMPLES = 5
EXCERPT = 60


def _excerpt(text: str, start: int, end: int) -> str:
    """The match ``text[start:end]`` widened to the whitespace around it, at most ``EXCERPT`` characters."""
    left, right = start, end
    while left > 0 and not text[left - 1].isspace() and start - left < EXCERPT // 2:
        left -= 1
    while right < len(text) and not text[right].isspace() and right - left < EXCERPT:
        right += 1
    return text[left:right][:EXCERPT]


def _share(part: float, whole: float) -> float:
    return round(float(part) / whole, 6) if whole else 0.0


def artefacts(ids: Sequence[str], texts: Sequence[str]) -> dict[str, dict]:
    """Per detector (``DETECTORS``): ``texts``, the number of texts it finds something in; ``rule``, the cleaning
    rule that removes it (or None); ``examples``, the first ``EXAMPLES`` of them in table order, each the review's
    ``id`` and the first ``match`` in it with the words it touches (at most ``EXCERPT`` characters)."""
    found = {name: {"texts": 0, "rule": detector.rule, "examples": []} for name, detector in DETECTORS.items()}
    for review_id, text in zip(ids, texts):
        lowered = text.lower()
        for name, detector in DETECTORS.items():
            match = detector.search(text, lowered)
            if match is None:
                continue
            entry = found[name]
            entry["texts"] += 1
            if len(entry["examples"]) < EXAMPLES:
                entry["examples"].append({"id": review_id, "match": _excerpt(text, *match.span())})
    return found


def cleaning_of(reviews: pa.Table) -> dict:
    """The cleaning a review table's texts went through, as ``read_reviews`` records it (``CLEANING_KEY``):
    ``rules`` and ``key``; none for a table read otherwise."""
    recorded = (reviews.schema.metadata or {}).get(CLEANING_KEY)
    return json.loads(recorded) if recorded else {"rules": [], "key": None}


def data_card(
    reviews: pa.Table,
    texts: Sequence[str],
    rows: Mapping[str, np.ndarray],
    lengths: np.ndarray,
    unknown: np.ndarray,
    vocab: Vocabulary,
    classes: Classes,
) -> dict:
    """The data card of a prepared dataset.

    Args:
        reviews: the review table prepare read (its ids, labels and recorded cleaning).
        texts: its texts, as a list.
        rows: each split's rows of ``reviews``.
        lengths: every review's token count (after ``max_length``).
        unknown: every review's count of unknown tokens.
        vocab: the vocabulary.
        classes: the classes, whose names key the counts per class.
    """
    labels = reviews.column("label").to_numpy()
    splits = {}
    for name, split_rows in rows.items():
        split_lengths = lengths[split_rows]
        counts = np.bincount(labels[split_rows].astype(np.int64), minlength=len(classes))
        splits[name] = {
            "rows": len(split_rows),
            "labels": {class_name: int(count) for class_name, count in zip(classes.names, counts)},
            "length_median": float(np.median(split_lengths)) if len(split_rows) else 0.0,
            "length_p95": round(float(np.percentile(split_lengths, 95)), 6) if len(split_rows) else 0.0,
            "length_max": int(split_lengths.max()) if len(split_rows) else 0,
            "unknown_share": _share(unknown[split_rows].sum(), split_lengths.sum()),
        }
    training_tokens = int(sum(vocab.counts))
    return {
        "splits": splits,
        "vocabulary": {
            "size": len(vocab),
            "training_tokens": training_tokens,
            "unknown_training_share": _share(vocab.counts[UNK_INDEX], training_tokens),
        },
        "artefacts": artefacts(reviews.column("id").to_pylist(), texts),
        "cleaning": cleaning_of(reviews),
    }


def warn_of_artefacts(data_card: Mapping, path) -> None:
    """Warn, naming the card's ``path``, when a detector found something: how many texts, an example of each,
    and what removes it: the cleaning rules to add to the dataset's ``clean`` key where the config chooses them,
    else the reader's rules, which leave them in."""
    found = {name: entry for name, entry in data_card["artefacts"].items() if entry["texts"]}
    if not found:
        return
    listed = "; ".join(
        f"{name} in {entry['texts']} texts (e.g. {entry['examples'][0]['match']!r} in {entry['examples'][0]['id']})"
        for name, entry in found.items()
    )
    cleaning = data_card["cleaning"]
    rules = sorted({entry["rule"] for entry in found.values() if entry["rule"]} - set(cleaning["rules"]))
    if cleaning["key"] and rules:
        advice = (
            f"the dataset's `{cleaning['key']}` key removes them: "
            f"`{cleaning['key']}: [{', '.join(sorted({*rules, *cleaning['rules']}))}]` (docs/configuration.md)"
        )
    elif cleaning["key"]:
        advice = "no cleaning rule removes these (docs/data.md)"
    else:
        advice = f"the reader's cleaning ({', '.join(cleaning['rules']) or 'none'}) leaves them in (docs/data.md)"
    without = [name for name, entry in found.items() if not entry["rule"]]
    if without and cleaning["key"] and rules:
        advice += f"; no rule removes {', '.join(without)}"
    log.warning("%s: texts hold artefacts that the tokenizer keeps as tokens: %s; %s", path, listed, advice)
