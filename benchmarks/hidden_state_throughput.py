"""CPU forward pass for hidden states, no grad: the project's scan (``cells.scan``) against torch's ``nn.GRU``.

``SentimentClassifier.layer_states`` on a CPU runs each layer through ``cells.scan``:
the input projection of all time steps in one product, then a loop over the explicit
equations. The baseline is the fused CPU kernel of ``nn.GRU`` (which the GRU's states
came from before). Both in one process, on the same random inputs: batch 256,
300 steps, embedding 100, hidden 256 (the figures in docs/DESIGN's "measured so far").
Every architecture's scan is timed too, beside its old path (``nn.LSTM`` with its
cell states recomputed by ``LSTM.state_sequence``, ``nn.RNN``; the UGRNN has none).

    python benchmarks/hidden_state_throughput.py [--quick] [--threads N]

The last line printed is one JSON object; ``tokens_per_s`` and ``speedup`` are the
GRU's (scan over ``nn.GRU``).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

from rnn_dynamics import cells

EMBEDDING = 100


def tokens_per_second(run, inputs: torch.Tensor, repeats: int) -> float:
    run(inputs)  # warm up: the CPU kernels are set up once per shape
    start = time.perf_counter()
    for _ in range(repeats):
        run(inputs)
    return repeats * inputs.shape[0] * inputs.shape[1] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 64, 100 steps, hidden 128 (seconds)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    batch, steps, hidden, repeats = (64, 100, 128, 2) if args.quick else (256, 300, 256, 3)
    torch.manual_seed(0)
    inputs = torch.randn(batch, steps, EMBEDDING)
    figures = {}
    with torch.no_grad():
        for name, cell in cells.CELLS.items():
            module = cell.module(EMBEDDING, hidden, batch_first=True).eval()
            params = cells.layer_parameters(module, 0)
            figures[f"{name}_scan_tokens_per_s"] = tokens_per_second(lambda x: cells.scan(cell, params, x), inputs, repeats)
            if cell.module is not cells.UGRNNModule:
                # The path layer_states took before: the fused module, then (LSTM) the cell states from its outputs.
                figures[f"{name}_fused_tokens_per_s"] = tokens_per_second(
                    lambda x: cell.state_sequence(params, x, module(x)[0]), inputs, repeats
                )
            print(name, {key: round(value) for key, value in figures.items() if key.startswith(name)}, flush=True)
    figures = {key: round(value, 1) for key, value in figures.items()}
    figures |= {
        "tokens_per_s": figures["gru_scan_tokens_per_s"],
        "baseline_tokens_per_s": figures["gru_fused_tokens_per_s"],
        "speedup": round(figures["gru_scan_tokens_per_s"] / figures["gru_fused_tokens_per_s"], 2),
        "batch": batch,
        "steps": steps,
        "hidden": hidden,
        "threads": args.threads,
        "torch": torch.__version__,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
