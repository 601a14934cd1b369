"""The hidden_states rule's work and the fixed-point search for trained models, timed on one device.

    python benchmarks/imdb_analysis.py SAMPLE OUT DATA_DIR MODELS_DIR DEVICE
    python benchmarks/imdb_analysis.py 32 /tmp/analysis results/imdb/data results/imdb/models cuda

Runs the same library calls as scripts/hidden_states.py (every layer's states over
the test split, trained and untrained weights, streaming PCA; the states of SAMPLE
reviews dumped to OUT) for every model under MODELS_DIR, then times batched float64
Levenberg-Marquardt on 500 starts of each layer. Prints one JSON line per model and,
last, one JSON object with them all.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from rnn_dynamics import batches, fixed_points, model, solver, states, storage, text
from rnn_dynamics.grid import ModelSpec

SAMPLE, OUT, DATA, MODELS, DEVICE = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]), sys.argv[5]
EXAMPLES = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())["states"]["examples"]
device = torch.device(DEVICE)
sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
vocab = text.read_vocabulary(DATA / "vocab.parquet").index
report = {}
for folder in sorted(MODELS.iterdir()):
    mid = folder.name
    layers = ModelSpec.parse(mid).layers
    trained = model.load(folder / "model.pt", map_location=device)
    untrained = model.load(folder / "initial.pt", map_location=device)
    split = batches.read_split(DATA / "test.parquet", vocab_size=trained.vocab_size)
    sample = states.sample_reviews(len(split), SAMPLE, 0)
    began = time.perf_counter()
    pcas = states.extract(trained, untrained, split, OUT / "states" / mid, sample, 256, progress=False)
    sync()
    seconds = time.perf_counter() - began
    storage.write_table(states.pca_table(pcas), OUT / "pca" / f"{mid}.parquet")
    storage.write_table(states.example_states(trained, EXAMPLES, vocab), OUT / "examples" / f"{mid}.parquet")
    entry = {"extract_seconds": round(seconds, 1), "states": int(split.lengths.sum()),
             "explained_2": {f"{w}_layer{l}": round(p.cumulative(2), 4) for (w, l), p in pcas.items()}}
    for layer in range(1, layers + 1):
        visited = states.read_layer(OUT / "states" / mid / f"layer{layer}.parquet")["h"]
        starts = fixed_points.sample_starts(visited, 500, 0.0, 0)
        system = trained.system(f"layer{layer}")
        solver.find(system, starts[:10], max_iterations=5, progress=False, device=device)  # warm-up
        sync()
        result = solver.find(system, starts, max_iterations=200, progress=False, device=device)
        entry[f"lm_layer{layer}"] = {"seconds": round(result.seconds, 2), "converged_1e-6": int(result.converged.sum()),
                                     "unique": len(fixed_points.approximate_set(result)), "median_iterations": float(np.median(result.iterations))}
    report[mid] = entry
    print(mid, json.dumps(entry), flush=True)
print(json.dumps(report))
