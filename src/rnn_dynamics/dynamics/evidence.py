"""What stands beside a measured value: its spread over seeds, a test of two values over seeds, and its nulls.

``spread`` summarises one measure over seeds (n, mean, sd, min, max and a Student-t interval of the mean,
``INTERVAL``); ``permutation_test`` says whether two sets of seeds differ (exact over every relabelling where
there are at most ``PERMUTATIONS`` of them, else that many random ones), and ``different`` applies
``SIGNIFICANCE``: with three seeds a side the smallest two-sided p is 0.1 (``smallest_p``), so no two values
of three seeds each are called different, whatever their means, and the pages say so rather than "not
different". The nulls (``random_readout_angles``, ``random_subspace_shares``)
are the same measure of what did not learn: random readouts centred as the trained one is, random subspaces
of the same size, the same network at its initial weights through the same fixed-point search
(``untrained_set_rows``), the same network on its reviews with their words shuffled (``SHUFFLES``, read by
``analyses.shuffled_words_rows``), and, for DSA, the same network over other reviews (its noise floor, read by
``outputs.tables.evidence_table``). ``words.beyond_null`` reads a value against them.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import special

from rnn_dynamics.dynamics import manifold, words

__all__ = [
    "COLUMNS",
    "CONFIDENCE",
    "INTERVAL",
    "NULLS",
    "BOOTSTRAP",
    "PERMUTATIONS",
    "SET_SIDES",
    "SHUFFLES",
    "SIGNIFICANCE",
    "different",
    "smallest_p",
    "null_summary",
    "permutation_test",
    "random_readout_angles",
    "random_subspace_shares",
    "row",
    "spread",
    "untrained_set_rows",
]

# The interval of a mean over seeds: Student's t at this confidence (NaN below two seeds).
CONFIDENCE = 0.95
INTERVAL = "student-t 95% of the mean"
# Two sets of seeds are called different where the permutation test's two-sided p is below this.
SIGNIFICANCE = 0.05
# Relabellings a permutation test enumerates at most; beyond, it draws this many at random.
PERMUTATIONS = 10000
# The random relabellings' generator, fixed so that a p repeats.
_RELABELLING_STREAM = 0


def spread(values) -> dict:
    """n, mean, sd (ddof 1), min, max and the ``INTERVAL`` (ci_low, ci_high) of the finite ``values``."""
    values = np.asarray([value for value in values if value is not None and math.isfinite(value)], dtype=float)
    n = len(values)
    if n == 0:
        nan = float("nan")
        return {"n": 0, "mean": nan, "sd": nan, "min": nan, "max": nan, "ci_low": nan, "ci_high": nan}
    mean = float(values.mean())
    sd = float(values.std(ddof=1)) if n > 1 else float("nan")
    half = float(special.stdtrit(n - 1, 0.5 + CONFIDENCE / 2) * sd / math.sqrt(n)) if n > 1 else float("nan")
    return {
        "n": n, "mean": mean, "sd": sd, "min": float(values.min()), "max": float(values.max()),
        "ci_low": mean - half, "ci_high": mean + half,
    }  # fmt: skip


def permutation_test(a, b) -> float:
    """The two-sided p of the difference of the means of ``a`` and ``b`` (each a set of seeds' values) under
    relabelling: the share of relabellings whose |difference| reaches the observed one (the observed labelling
    among them). NaN where a side has no value."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    pooled = np.concatenate([a, b])
    observed = abs(a.mean() - b.mean())
    tolerance = 1e-12 * max(1.0, observed)
    if math.comb(len(pooled), len(a)) <= PERMUTATIONS:
        labellings = [list(rows) for rows in itertools.combinations(range(len(pooled)), len(a))]
    else:
        rng = np.random.default_rng(_RELABELLING_STREAM)
        labellings = [rng.permutation(len(pooled))[: len(a)] for _ in range(PERMUTATIONS)]
    total = pooled.sum()
    reached = 0
    for rows in labellings:
        first = pooled[rows].sum()
        difference = abs(first / len(a) - (total - first) / len(b))
        reached += difference >= observed - tolerance
    return reached / len(labellings)


def smallest_p(n_a: int, n_b: int) -> float:
    """The smallest two-sided p ``permutation_test`` can give with ``n_a`` and ``n_b`` seeds (distinct values):
    the observed labelling alone reaches its difference, with its mirror where both sides are the same size.
    Where it is not below ``SIGNIFICANCE`` no difference can be called, whatever the values."""
    if n_a == 0 or n_b == 0:
        return float("nan")
    labellings = min(math.comb(n_a + n_b, n_a), PERMUTATIONS)
    return min(1.0, (2 if n_a == n_b else 1) / labellings)


def different(a, b) -> tuple[bool, float]:
    """Whether two sets of seeds' values differ (``permutation_test`` below ``SIGNIFICANCE``), and its p."""
    p = permutation_test(a, b)
    return bool(math.isfinite(p) and p < SIGNIFICANCE), p


# The nulls a measure stands beside: the same network at its initial weights, random readouts centred as the
# trained one, random subspaces of the same size, the same network over other reviews, shuffled words.
NULLS = ("untrained", "random_readout", "random_subspace", "other_reviews", "shuffled_words")
# An evidence row's columns after (model, split, system): the measure, its value, its null and the verdict.
COLUMNS = ["measure", "value", "null", "null_median", "null_low", "null_high", "null_n", "beyond_null", "side"]


def row(measure: str, value: float, null: str, samples, side: str) -> dict:
    """One evidence row: ``value`` of ``measure`` beside the ``samples`` of its ``null`` (``null_summary``),
    and whether it lies beyond them on ``side`` (``words.beyond_null``)."""
    if null not in NULLS:
        raise ValueError(f"null must be one of {NULLS}, not {null!r}")
    summary = null_summary(samples)
    beyond = words.beyond_null(float(value), summary["null_low"], summary["null_high"], side)
    return {"measure": measure, "value": float(value), "null": null, **summary, "beyond_null": beyond, "side": side}


def null_summary(samples) -> dict:
    """A null's median, 5th and 95th percentiles and sample count."""
    samples = np.asarray(samples, dtype=float)
    samples = samples[np.isfinite(samples)]
    if len(samples) == 0:
        return {"null_median": float("nan"), "null_low": float("nan"), "null_high": float("nan"), "null_n": 0}
    low, median, high = np.percentile(samples, [5, 50, 95])
    return {"null_median": float(median), "null_low": float(low), "null_high": float(high), "null_n": len(samples)}


def random_readout_angles(classes: int, size: int, samples: int, seed: int) -> np.ndarray:
    """The median pairwise angle (degrees) between ``classes`` Gaussian readout vectors of ``size`` centred as
    a trained readout is (``manifold.readout_angles``), once per sample: centring alone pulls the mean cosine of
    N vectors to -1/(N - 1), so the simplex angle is no evidence unless the trained angles leave this null."""
    rng = np.random.default_rng(seed)
    return np.array(
        [float(np.median(manifold.readout_angles(rng.standard_normal((classes, size))))) for _ in range(samples)]
    )


def random_subspace_shares(vectors: np.ndarray, dimension: int, samples: int, seed: int) -> np.ndarray:
    """The share of ``vectors``' squared norm in random subspaces of ``dimension``
    (``manifold.random_span_shares``): the null of a share in a span of that size."""
    return manifold.random_span_shares(vectors, dimension, samples, seed)


# The fixed-point set's measures (``manifold.set_measures``) read against the untrained network's, each with the
# side that means structure. A trained integrator's set spreads along its visited states (extent larger). Its
# shape differs from the untrained set's on either side: a two-class line has fewer dimensions than an untrained
# cloud, but an N-class manifold can have more than an untrained set collapsed near one point, so neither
# direction is assumed.
SET_SIDES = {"extent": "larger", "first_pc_share": "either", "participation_ratio": "either", "pcs_90": "either"}
# Bootstrap resamples of the untrained network's fixed-point set: its null's samples.
BOOTSTRAP = 200
# Shufflings of the reviews' words (each review's own tokens, another order each time): the shuffled_words
# null's samples. With 20, a value exchangeable with them lies outside their 5th-95th percentiles about as
# often as those percentiles say; with 5, near half the time on the ``either`` side.
SHUFFLES = 20


def untrained_set_rows(trained: dict, points: np.ndarray, starts: np.ndarray, seed: int) -> list[dict]:
    """Each ``SET_SIDES`` measure of a trained system's fixed-point set (``trained``, ``manifold.set_measures``)
    beside the same measure of the same network at its initial weights, whose unique fixed points ``points``
    (K, S) the same search found from ``starts`` (B, S). One untrained network: the null's samples are its set's
    measure over ``BOOTSTRAP`` resamples of its points (and of its starts, for the extent), drawn with ``seed``,
    so the interval is how far that one set's measure moves with the points the search happened to find
    (``null_n`` the resamples). A set of one point has extent 0 and no dimension: one sample for the extent,
    none (not measured) for the rest."""
    points, starts = np.asarray(points, dtype=np.float64), np.asarray(starts, dtype=np.float64)
    rng = np.random.default_rng(seed)
    samples = {measure: [] for measure in SET_SIDES}
    if len(points) >= 2:
        for _ in range(BOOTSTRAP):
            found = manifold.set_measures(
                points[rng.integers(len(points), size=len(points))], starts[rng.integers(len(starts), size=len(starts))]
            )
            for measure in SET_SIDES:
                samples[measure].append(found[measure])
    elif len(points) == 1:
        samples["extent"] = [0.0]
    return [
        row(f"fixed_points_{measure}", trained[measure], "untrained", samples[measure], side)
        for measure, side in SET_SIDES.items()
    ]
