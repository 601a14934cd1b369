"""The words a results page may use for a measured set or a measure, each decided here from thresholds written once.

A fixed-point set is called a **point**, a **segment**, a **line**, a **plane**, an **N - 1 manifold**, a
``d``-dimensional manifold, or **between** two dimensions where its two dimension measures disagree; a set
with no unique point inside the state space (no start passed the tolerance, or every one that did stopped on
the state's bound or outside it) is **no fixed point**. A model is **at chance** or **above chance**
(``networks.training.at_chance`` decides; the word only names its flag). A measure is **beyond its null** or
**within its null** (``beyond_null``). A modifier word **flips**, **scales down** or **scales up** its target
(``gain_word``). docs/method.md lists the thresholds; a page or table that describes
a set in words calls ``shape`` and nothing else, so a set the rule calls a point is never called a line.
"""

from __future__ import annotations

import math

__all__ = [
    "DIMENSION_MARGIN",
    "GAIN_SCALES_UP",
    "LINE_EXTENT",
    "NO_FIXED_POINT",
    "POINT_EXTENT",
    "SIDES",
    "beyond_null",
    "chance_word",
    "gain_word",
    "dimension",
    "null_word",
    "shape",
    "with_article",
]

# A set whose rms spread is below this fraction of its starts' (``spectra.extent``) is one point, however many
# the deduplication counts: approximate points around one stable point scatter by ~sqrt(tolerance) / (1 - |lambda|).
POINT_EXTENT = 0.1
# A one-dimensional set spreading less than this fraction of its starts is a segment; at least this, a line.
LINE_EXTENT = 0.5
# The PCs reaching 90% of the variance (``pcs_90``) name a dimension only where the participation ratio lies
# within this of it: a participation ratio of 1.6 with 2 PCs is called a plane, 1.4 with 2 PCs is not.
DIMENSION_MARGIN = 0.5
NO_FIXED_POINT = "no fixed point"


def dimension(pcs_90: float, participation_ratio: float) -> tuple[int, int] | None:
    """The dimension both measures support, as (low, high): equal where they agree (``pcs_90`` within
    ``DIMENSION_MARGIN`` of the participation ratio), the two apart where they do not; None where either is
    missing."""
    if not all(map(math.isfinite, (pcs_90, participation_ratio))) or pcs_90 < 1:
        return None
    pcs = int(pcs_90)
    if abs(participation_ratio - pcs) <= DIMENSION_MARGIN:
        return pcs, pcs
    ratio = max(1, round(participation_ratio))
    return min(pcs, ratio), max(pcs, ratio)


def shape(count: int, extent: float, pcs_90: float, participation_ratio: float, classes: int) -> str:
    """The word for a set of ``count`` unique fixed points of ``extent`` (``spectra.extent``), ``pcs_90`` and
    ``participation_ratio``, in a classifier of ``classes`` classes.

    No points: ``NO_FIXED_POINT``. One point, or an extent below ``POINT_EXTENT``: ``point``. One dimension:
    ``segment`` below ``LINE_EXTENT``, else ``line``. Two, or N - 1 for N >= 3 classes: ``N - 1 manifold``
    where the dimension is N - 1, else ``plane`` (2) or ``{d}-dimensional manifold``. Measures that disagree:
    ``between {low} and {high} dimensions``."""
    if count == 0:
        return NO_FIXED_POINT
    if count == 1 or (math.isfinite(extent) and extent < POINT_EXTENT):
        return "point"
    found = dimension(pcs_90, participation_ratio)
    if found is None:
        return "point"
    low, high = found
    if low != high:
        return f"between {low} and {high} dimensions"
    if low == 1:
        return "segment" if math.isfinite(extent) and extent < LINE_EXTENT else "line"
    if classes >= 3 and low == classes - 1:
        return "N - 1 manifold"
    return "plane" if low == 2 else f"{low}-dimensional manifold"


def with_article(shape_word: str) -> str:
    """A ``shape`` word as a sentence reads it: "a line", "an N - 1 manifold", "a set between 2 and 3
    dimensions"."""
    if shape_word.startswith("between "):
        return f"a set {shape_word}"
    # Of the words ``shape`` gives, only "N - 1 manifold" and an 8-, 11- or 18-dimensional one read with "an".
    return f"an {shape_word}" if shape_word.startswith(("N ", "8-", "11-", "18-")) else f"a {shape_word}"


SIDES = ("larger", "smaller", "either")


def beyond_null(value: float, low: float, high: float, side: str = "larger") -> bool:
    """Whether ``value`` lies beyond its null's 5th-95th percentile interval (``low``, ``high``) on the side
    that means structure: above ``high`` (``larger``: a share, an alignment), below ``low`` (``smaller``: a
    dimension, a distance) or either (an angle a random readout also takes). False where the value or the
    end it is read against is missing."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, not {side!r}")
    finite = {name: math.isfinite(number) for name, number in (("value", value), ("low", low), ("high", high))}
    if not finite["value"]:
        return False
    above = finite["high"] and value > high
    below = finite["low"] and value < low
    return above if side == "larger" else below if side == "smaller" else above or below


def chance_word(at_chance: bool) -> str:
    """``at chance`` or ``above chance``, as ``networks.training.at_chance`` flags the model."""
    return "at chance" if at_chance else "above chance"


def null_word(beyond: bool) -> str:
    """``beyond its null`` or ``within its null``, as ``beyond_null`` decides."""
    return "beyond its null" if beyond else "within its null"


# A modifier's settled gain (the target's effect after the modifier over its effect alone): below 0 the modifier
# flips the target's sign, from 0 to this it scales the target down, from this on it scales it up.
GAIN_SCALES_UP = 1.0


def gain_word(gain: float, beyond: bool) -> str:
    """``flips``, ``scales down`` or ``scales up`` for a modifier's median settled ``gain`` that lies beyond its
    null words' (``beyond``, decided by the caller from the spreads); ``within its null`` where it does not;
    ``n/a`` where the gain is missing."""
    if not beyond:
        return null_word(False)
    if not math.isfinite(gain):
        return "n/a"
    return "flips" if gain < 0 else "scales down" if gain < GAIN_SCALES_UP else "scales up"
