"""Generating synthetic reviews (``synthetic.reviews``, the manifold controls' 8192 ordered reviews of five
classes): the words drawn from arrays built once (``synthetic._draw``) against ``rng.choice`` on the word
lists, the reference it replaced, on the same seed; the two must give the same reviews.

    python benchmarks/synthetic_reviews.py [--quick]

The last line printed is one JSON object: the seconds of each, their ratio and whether the reviews agree.
"""

from __future__ import annotations

import argparse
import json
import time
from unittest import mock

from rnn_dynamics.data import synthetic


def reference_draw(rng, words, size):
    """``rng.choice`` on the word list, as the generator drew before ``_draw``."""
    drawn = rng.choice(words.tolist(), size)
    return str(drawn) if size is None else drawn.tolist()


def timed(count: int) -> tuple[float, list]:
    began = time.perf_counter()
    made = synthetic.reviews(count, 20, 40, seed=0, task="ordered", classes=5, evidence_words=8)
    return time.perf_counter() - began, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=8192)
    parser.add_argument("--quick", action="store_true", help="1024 reviews")
    args = parser.parse_args()
    count = 1024 if args.quick else args.reviews
    ours_s, ours = timed(count)
    with mock.patch.object(synthetic, "_draw", reference_draw):
        reference_s, reference = timed(count)
    result = {"reviews": count, "draw_s": round(ours_s, 3), "rng_choice_s": round(reference_s, 3)}
    result |= {"same_reviews": ours == reference, "rng_choice_over_draw": round(reference_s / ours_s, 3)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
