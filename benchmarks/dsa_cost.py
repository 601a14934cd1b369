"""The cost per pair of systems of the published DSA against the eigenvalue variant, and how it grows.

Two GRU-256 layers (the project's network, random weights) read the same random reviews; their states
over each review's first ``--steps`` tokens are compared, in one process for each number of reviews, by
the similarity stage's published DSA (``similarity.dsa_scores``' angular Procrustes score of the
delay-embedded operators of ``pair_rank``, the schema's defaults: 4 delays, the rank reaching 95% of
the variance, at most 50, 1500 steps), by the eigenvalue variant it replaces as ``dsa`` (the package's
``DSA`` with ``similarity.EIGENVALUE_W2``: no delays, rank 10, the Wasserstein distance of the
eigenvalues; the fastest of three runs; the baseline), by InputDSA (``similarity.input_dsa``, the
token embeddings as input) and by linear CKA.

    python benchmarks/dsa_cost.py [--quick] [--reviews 50 100 200 400] [--steps 20]

The last line printed is one JSON object: seconds per pair for each measure and number of reviews, the
rank the rule gave, the growth exponent of the published DSA's seconds against reviews (log-log slope),
and ``published_over_eigenvalue``, the published DSA's time over the variant's at the largest number.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from rnn_dynamics.data import batches
from rnn_dynamics.dynamics import similarity
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks.model import SentimentClassifier

VOCAB = 1000
HIDDEN = 256


def random_reviews(n: int, steps: int, seed: int) -> batches.Reviews:
    tokens = np.random.default_rng(seed).integers(2, VOCAB, size=n * steps)
    return batches.Reviews(tokens, np.arange(n + 1, dtype=np.int64) * steps, np.zeros(n, dtype=np.float32))


def seconds(run, repeats: int = 3) -> float:
    """The fastest of ``repeats`` runs, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="25 and 50 reviews of 12 tokens, 200 angular steps")
    parser.add_argument("--reviews", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--steps", type=int, default=20, help="tokens per review (similarity.steps' default)")
    parser.add_argument("--iters", type=int, default=1500, help="the angular score's optimisation steps")
    args = parser.parse_args(argv)
    if args.quick:
        args.reviews, args.steps, args.iters = [25, 50], 12, 200
    torch.set_num_threads(1)
    networks = [
        SentimentClassifier(ModelSpec("gru", 1, 50, HIDDEN, seed), VOCAB, dropout=0.0, layer_dropout=0.0).eval()
        for seed in (0, 1)
    ]
    published = similarity.Settings(steps=args.steps, iters=args.iters)
    # Warm up: the first call imports the package and its dependencies.
    warm = np.random.default_rng(0).standard_normal((4, args.steps, 8))
    similarity.dsa_scores(warm, warm, similarity.Settings(steps=args.steps, iters=10))

    def eigenvalue_variant(x, y):
        from DSA import DSA

        return DSA(x, y, score_method="wasserstein", **similarity.EIGENVALUE_W2).fit_score()

    result = {"steps": args.steps, "hidden": HIDDEN, "n_delays": published.n_delays, "angular_iters": args.iters}
    for n in args.reviews:
        reviews = random_reviews(n, args.steps, seed=n)
        x, y = (similarity.trajectories(net, "layer1", reviews, np.arange(n), args.steps) for net in networks)
        u = similarity.embedded_inputs(networks[0], reviews, np.arange(n), args.steps)
        row = {
            "rank": similarity.pair_rank(x, y, published),
            "published_s": seconds(lambda: similarity.dsa_distance(x, y, published), repeats=1),
            "eigenvalue_s": seconds(lambda: eigenvalue_variant(x, y)),
            "input_dsa_s": seconds(lambda: similarity.input_dsa(x, u, y, u, published), repeats=1),
            "cka_s": seconds(lambda: similarity.linear_cka(x, y)),
        }
        result[f"reviews_{n}"] = {key: round(value, 4) for key, value in row.items()}
        print(f"{n} reviews x {args.steps} tokens: {result[f'reviews_{n}']}", flush=True)
    counts = np.array(args.reviews, dtype=float)
    times = np.array([result[f"reviews_{n}"]["published_s"] for n in args.reviews])
    result["published_growth_exponent"] = round(float(np.polyfit(np.log(counts), np.log(times), 1)[0]), 2)
    last = result[f"reviews_{args.reviews[-1]}"]
    result["published_over_eigenvalue"] = round(last["published_s"] / last["eigenvalue_s"], 1)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
