"""What the nulls of ``tables/evidence.csv`` cost per system, against the rest of the analysis.

A one-layer GRU (E16, H32, 12 epochs) is trained on the synthetic rule (2000 reviews per split), its
approximate fixed points found from ``fixed_points.starts`` (the schema's 500) visited states. In one
process, each part is timed ``REPEATS`` times (interleaved, the median reported) after one untimed warm-up
of all: ``analyses.analyze`` with the untrained null (the whole analyze job's library work), and apart the
two nulls it runs the network for, the untrained network's fixed-point search and its rows
(``analyses.untrained_rows``) and the shuffled words (``analyses.shuffled_words_rows``); the rest of the
analysis is analyze less those two, plus the trained system's fixed-point search (one process, not sharded)
and its linearisation. The similarity stage's nulls of one system (``similarity.scale``: its DSA and CKA
from its untrained network, its noise floor) are timed against one pair's DSA (``similarity.dsa_scores``),
at the schema's similarity settings but for the first 8 tokens of each review (the synthetic reviews are
shorter than the schema's 20 steps).

    python benchmarks/nulls_cost.py [--quick]

The last line printed is one JSON object: the seconds of each and the nulls' shares.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from rnn_dynamics.dynamics import analyses, fixed_points, linearization, similarity  # noqa: E402
from rnn_dynamics.networks import model as model_lib  # noqa: E402
from trained import trained_synthetic  # noqa: E402

SPEC = "gru-L1-E16-H32-s0"
# Timed runs of each part, after one warm-up: the median is reported.
REPEATS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="500 reviews per split, 100 starts, 200 DSA steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        path, vocabulary, train, test = trained_synthetic(Path(folder), 500 if args.quick else 2000, SPEC, epochs=12)
        network, initial = model_lib.load(path), model_lib.load(path.parent / "initial.pt")
    search = fixed_points.SearchSettings()
    if args.quick:
        search = dataclasses.replace(search, starts=100)
    gather = fixed_points.GatherSettings()
    settings = analyses.Settings()
    sample = analyses.subset(test, settings.reviews, settings.seed)
    _, starts = analyses.untrained_set(network, "layer1", sample, search, gather)
    found = fixed_points.solve(network.system("layer1"), starts, search, progress=False)
    table = fixed_points.gather([found.to_table()], gather)
    lin = linearization.linearize(network.system("layer1"), fixed_points.approximate_set(found, gather))
    untrained = analyses.Untrained(initial, table, search, gather)
    counts = np.array(vocabulary.counts)
    evaluation = analyses.evaluate_system(network, "layer1", lin, sample, progress=False)
    coordinates = analyses.manifold_coordinates(network, "layer1", settings.manifold_space)
    # The synthetic reviews are short: their first 8 tokens, not the schema's 20.
    scale_settings = similarity.Settings(steps=8, iters=200 if args.quick else similarity.Settings().iters)
    name = similarity.SystemName.parse(f"{SPEC}/layer1")
    rows = similarity.common_rows(test, [], "test", scale_settings)
    floor = similarity.other_rows(test, [], "test", scale_settings)
    x = similarity.trajectories(network, "layer1", test, rows, scale_settings.steps)
    y = similarity.trajectories(network, "layer1", test, floor, scale_settings.steps)

    jobs = {
        "trained_search": lambda: fixed_points.solve(network.system("layer1"), starts, search, progress=False),
        "linearize": lambda: linearization.linearize(network.system("layer1"), lin.fixed_point),
        "analyze": lambda: analyses.analyze(
            network, "layer1", lin, train, test, vocabulary.tokens, counts, settings, False, untrained=untrained
        ),
        "untrained_fixed_points": lambda: analyses.untrained_rows("layer1", sample, untrained, settings.seed),
        "shuffled_words": lambda: analyses.shuffled_words_rows(
            network, "layer1", sample, evaluation, coordinates, settings.seed
        ),
        "similarity_scale": lambda: similarity.scale(
            name, {SPEC: network}, {SPEC: initial}, test, rows, floor, scale_settings
        ),
        "pair_dsa": lambda: similarity.dsa_scores(x[: len(y)], y, scale_settings),
    }
    for job in jobs.values():
        job()  # warm-up
    times = {name_: [] for name_ in jobs}
    for _ in range(REPEATS):  # interleaved, so that a busy moment of the shared machine falls on every part
        for name_, job in jobs.items():
            start = time.perf_counter()
            job()
            times[name_].append(time.perf_counter() - start)
    seconds = {name_: float(np.median(values)) for name_, values in times.items()}
    nulls = seconds["untrained_fixed_points"] + seconds["shuffled_words"]
    rest = seconds["analyze"] - nulls + seconds["trained_search"] + seconds["linearize"]
    print(
        json.dumps(
            {
                "model": SPEC,
                "repeats": REPEATS,
                "starts": search.starts,
                "fixed_points": int(len(lin.fixed_point)),
                "reviews": int(len(sample)),
                "trained_search_seconds": round(seconds["trained_search"], 3),
                "linearize_seconds": round(seconds["linearize"], 3),
                "analyze_seconds": round(seconds["analyze"], 3),
                "untrained_fixed_points_seconds": round(seconds["untrained_fixed_points"], 3),
                "shuffled_words_seconds": round(seconds["shuffled_words"], 3),
                "rest_seconds": round(rest, 3),
                "nulls_over_rest": round(nulls / rest, 3),
                "similarity_scale_seconds": round(seconds["similarity_scale"], 3),
                "pair_dsa_seconds": round(seconds["pair_dsa"], 3),
                "scale_over_pair": round(seconds["similarity_scale"] / seconds["pair_dsa"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
