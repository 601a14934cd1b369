"""The context stage's cost per system against the analyze stage's, on one trained model.

A one-layer GRU (E16, H32, 12 epochs) is trained on the synthetic rule (2000 reviews per split), its
approximate fixed points found from 100 visited states, and in one process ``analyses.analyze`` (the
schema's analyses settings; the baseline) and ``context.context`` (the schema's context settings) run on
its layer1, each timed once after one untimed warm-up of both.

    python benchmarks/context_cost.py [--quick]

The last line printed is one JSON object: the seconds of each and ``context_over_analyze``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from rnn_dynamics.dynamics import analyses, context, fixed_points, linearization  # noqa: E402
from rnn_dynamics.dynamics.states import visited_states  # noqa: E402
from rnn_dynamics.networks import model as model_lib  # noqa: E402
from trained import trained_synthetic  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="500 reviews per split, 10 probes")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        path, vocabulary, train, test = trained_synthetic(
            Path(folder), 500 if args.quick else 2000, "gru-L1-E16-H32-s0", epochs=12
        )
        network = model_lib.load(path)
    system = network.system("layer1")
    visited = visited_states(network, test, np.arange(64))[0]
    found = fixed_points.solve(
        system,
        fixed_points.sample_starts(visited, 100, noise=0.0, seed=0),
        fixed_points.SearchSettings(),
        progress=False,
    )
    lin = linearization.linearize(system, fixed_points.approximate_set(found, fixed_points.GatherSettings()))
    counts = np.array(vocabulary.counts)
    probes = context.Settings(probes=10) if args.quick else context.Settings()

    def run_analyze():
        analyses.analyze(network, "layer1", lin, train, test, vocabulary.tokens, counts, analyses.Settings(), False)

    def run_context():
        context.context(network, "layer1", lin, train, test, vocabulary.tokens, counts, probes)

    seconds = {}
    for name, job in (("analyze", run_analyze), ("context", run_context)):
        job()  # warm-up
    for name, job in (("analyze", run_analyze), ("context", run_context)):
        start = time.perf_counter()
        job()
        seconds[name] = time.perf_counter() - start
    print(
        json.dumps(
            {
                "model": "gru-L1-E16-H32-s0",
                "fixed_points": int(len(lin.fixed_point)),
                "probes": probes.probes,
                "analyze_seconds": round(seconds["analyze"], 3),
                "context_seconds": round(seconds["context"], 3),
                "context_over_analyze": round(seconds["context"] / seconds["analyze"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
