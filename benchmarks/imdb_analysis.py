"""The hidden_states rule's work and the fixed-point search for trained models, timed on one device.

    python benchmarks/imdb_analysis.py SAMPLE OUT DATA_DIR MODELS_DIR DEVICE
    python benchmarks/imdb_analysis.py 32 /tmp/analysis results/imdb/data results/imdb/models cuda

For every model under MODELS_DIR: the same library call as scripts/hidden_states.py
(``states.write_hidden_states``: every layer's states over the test split, trained
and untrained weights, streaming PCA; the states of SAMPLE reviews dumped under OUT,
with config.yaml's ``states`` settings), then batched float64 Levenberg-Marquardt on
500 starts of each layer. Prints one JSON line per model and, last, one JSON object
with them all.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from rnn_dynamics.data import batches, text
from rnn_dynamics.dynamics import fixed_points, states
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import model

ROOT = Path(__file__).resolve().parents[1]
STARTS = 500


def analyze_model(folder: Path, data: Path, out: Path, settings: dict, device: torch.device) -> dict:
    """The hidden states of one trained model (timed), then the fixed points of each of its layers (timed)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    mid = folder.name
    trained = model.load(folder / "model.pt", map_location=device)
    untrained = model.load(folder / "initial.pt", map_location=device)
    split = batches.read_split(data / "test.parquet", vocab_size=trained.vocab_size)
    vocabulary = text.read_vocabulary(data / "vocab.parquet").index
    outputs = {
        "states": out / "states" / mid,
        "pca": out / "pca" / f"{mid}.parquet",
        "examples": out / "examples" / f"{mid}.parquet",
    }
    began = time.perf_counter()
    pcas = states.write_hidden_states(trained, untrained, split, vocabulary, settings, outputs, progress=False)
    sync()
    entry = {
        "hidden_states_seconds": round(time.perf_counter() - began, 1),
        "states": int(split.lengths.sum()),
        "explained_2": {f"{w}_layer{layer}": round(p.cumulative(2), 4) for (w, layer), p in pcas.items()},
    }
    for layer in range(1, ModelSpec.parse(mid).layers + 1):
        starts = fixed_points.sample_starts(
            fixed_points.system_states(outputs["states"], f"layer{layer}"), STARTS, 0.0, 0
        )
        system = trained.system(f"layer{layer}")
        fixed_points.solve(
            system, starts[:10], fixed_points.SearchSettings(max_iterations=5), progress=False, device=device
        )  # warm-up
        sync()
        result = fixed_points.solve(
            system, starts, fixed_points.SearchSettings(max_iterations=200), progress=False, device=device
        )
        entry[f"lm_layer{layer}"] = {
            "seconds": round(result.seconds, 2),
            "converged_1e-6": int(result.converged.sum()),
            "unique": len(fixed_points.approximate_set(result, fixed_points.GatherSettings())),
            "median_iterations": float(np.median(result.iterations)),
        }
    return entry


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sample", type=int, help="reviews whose states are dumped (states.sample_reviews)")
    parser.add_argument("out", type=Path, help="folder for the states, PCA and example tables")
    parser.add_argument("data", type=Path, help="a prepared dataset: results/{dataset}/data")
    parser.add_argument("models", type=Path, help="the trained models: results/{dataset}/models")
    parser.add_argument("device", help="cpu, cuda or cuda:N")
    args = parser.parse_args(argv)
    shown = yaml.safe_load((ROOT / "config.yaml").read_text())["states"]
    settings = states.Settings.from_config({**shown, "sample_reviews": args.sample})
    report = {}
    for folder in sorted(args.models.iterdir()):
        report[folder.name] = analyze_model(folder, args.data, args.out, settings, torch.device(args.device))
        print(folder.name, json.dumps(report[folder.name]), flush=True)
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
