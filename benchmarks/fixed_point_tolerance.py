"""A finished run's fixed-point shards gathered again at other tolerances, without solving again.

    python benchmarks/fixed_point_tolerance.py results/imdb [--q-tol 1e-6 1e-5] [--system layer1]

Every shard keeps each start's endpoint and q, converged or not, so a looser ``q_tol``
can be read off them: for each model of the run and each tolerance, the converged
starts, the unique approximate fixed points, their first PC's share of variance and
the median largest |lambda| of dF/dh at them with its time constant. Starts that
stopped above ``q_tol`` in the run (slow points) count when they are below the looser
one: how the slow points of, say, an LSTM lie. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from rnn_dynamics.dynamics import fixed_points, linearization, spectra
from rnn_dynamics.ground import storage
from rnn_dynamics.networks import model as model_lib


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a dataset's results folder, e.g. results/imdb")
    parser.add_argument("--q-tol", type=float, nargs="+", default=[1e-6, 1e-5])
    parser.add_argument("--system", default="layer1")
    args = parser.parse_args(argv)
    folders = sorted(path for path in (args.run / "fixed_points").glob("*") if (path / args.system).is_dir())
    if not folders:
        raise SystemExit(f"no fixed-point shards under {args.run / 'fixed_points'}/*/{args.system}")
    result = {}
    for folder in folders:
        shards = [fixed_points.read_shard(path) for path in sorted((folder / args.system).glob("shard-*.parquet"))]
        system = model_lib.load(args.run / "models" / folder.name / "model.pt").system(args.system)
        for q_tol in args.q_tol:
            table = fixed_points.gather(shards, fixed_points.GatherSettings(q_rule="absolute", q_tol=q_tol))
            counts = fixed_points.counts(table)
            points = storage.list_matrix(fixed_points.unique_fixed_points(table)["fixed_point"])
            modulus = linearization.linearize(system, points, modes=1).modulus if len(points) else np.empty((0, 1))
            top, tau = linearization.largest_modulus(modulus)
            row = {
                "converged": counts["converged"],
                "unique": counts["unique_fixed_points"],
                "first_pc_share": round(spectra.first_pc_share(points), 3) if len(points) > 2 else float("nan"),
                "median_largest_modulus": round(top, 5),
                "time_constant": round(tau, 1),
            }
            result[f"{folder.name} {args.system} q<{q_tol:g}"] = row
            print(f"{folder.name} {args.system} q < {q_tol:g}: {row}", flush=True)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
