"""CPU forward pass for hidden states, no grad: ``SentimentClassifier.layer_states`` against torch's fused modules.

Hidden-state extraction runs ``layer_states`` on every batch. On a CPU it takes, per
cell, the faster of two ways (``model.CPU_SCAN``): ``scan.scan`` (the input projection
of all time steps in one product, then a loop over the explicit equations) or the
fused module (``nn.GRU``, ``nn.LSTM``, ``nn.RNN``; an LSTM's cell states then come from
``LSTM.state_sequence``, a second pass). Timed here in one process on the same random
reviews, for every architecture: both ways, and ``layer_states`` itself. Batch 256,
300 steps, embedding 100, hidden 256 (the DESIGN brief's "measured so far"), each
batch a few steps shorter than the last, as length-bucketed batches are (a fused CPU
kernel sets itself up for every new shape).

    python benchmarks/hidden_state_throughput.py [--quick] [--threads N]

The last line printed is one JSON object. ``tokens_per_s`` is ``layer_states`` of the
GRU and ``speedup`` its ratio to ``nn.GRU``; ``{cell}_speedup`` the same per cell (the
UGRNN's is against its scan's old form, a per-step loop over ``UGRNN.step``).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import cells, scan
from rnn_dynamics.networks.model import SentimentClassifier

EMBEDDING = 100
VOCAB = 5000


def tokens_per_second(run, tokens: torch.Tensor, repeats: int) -> float:
    """Tokens per second of ``run`` over ``repeats`` batches a few steps shorter each, as length buckets are."""
    run(tokens[:, :2])  # warm up the allocator and the thread pool
    batches = [tokens[:, : tokens.shape[1] - 7 * k] for k in range(repeats)]
    start = time.perf_counter()
    for batch in batches:
        run(batch)
    return sum(b.numel() for b in batches) / (time.perf_counter() - start)


def stepped(cell, params, inputs):
    """The UGRNN's old way: ``cell.step`` per time step, the input product inside the loop."""
    h = inputs.new_zeros(inputs.shape[0], cell.state_size(params["weight_hh"].shape[1]))
    states = []
    for t in range(inputs.shape[1]):
        h = cell.step(params, h, inputs[:, t])
        states.append(h)
    return torch.stack(states, dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 64, 100 steps, hidden 128 (seconds)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    batch, steps, hidden, repeats = (64, 100, 128, 2) if args.quick else (256, 300, 256, 3)
    tokens = torch.randint(2, VOCAB, (batch, steps), generator=torch.Generator().manual_seed(0))
    figures = {}
    with torch.no_grad():
        for name, cell in cells.CELLS.items():
            torch.manual_seed(0)
            model = SentimentClassifier(
                ModelSpec(name, 1, EMBEDDING, hidden, 0), VOCAB, dropout=0.0, layer_dropout=0.0
            ).eval()
            params = cells.layer_parameters(model.recurrent, 0)
            module = model._single_layer(0)
            lengths = lambda t: torch.full((t.shape[0],), t.shape[1])  # noqa: E731
            figures[f"{name}_layer_states_tokens_per_s"] = tokens_per_second(
                lambda t: model.layer_states(t, lengths(t)), tokens, repeats
            )
            figures[f"{name}_scan_tokens_per_s"] = tokens_per_second(
                lambda t: scan.scan(cell, params, model.embedding(t)), tokens, repeats
            )
            if cell.module is None:  # the UGRNN: torch has no module of its own
                baseline = lambda t: stepped(cell, params, model.embedding(t))  # noqa: E731
            else:
                baseline = lambda t: cell.state_sequence(params, model.embedding(t), module(model.embedding(t))[0])  # noqa: E731
            figures[f"{name}_fused_tokens_per_s"] = tokens_per_second(baseline, tokens, repeats)
            figures[f"{name}_speedup"] = (
                figures[f"{name}_layer_states_tokens_per_s"] / figures[f"{name}_fused_tokens_per_s"]
            )
            print(name, {key: round(value, 2) for key, value in figures.items() if key.startswith(name)}, flush=True)
    figures = {key: round(value, 2 if key.endswith("speedup") else 1) for key, value in figures.items()}
    figures |= {
        "tokens_per_s": figures["gru_layer_states_tokens_per_s"],
        "baseline_tokens_per_s": figures["gru_fused_tokens_per_s"],
        "speedup": figures["gru_speedup"],
        "batch": batch,
        "steps": steps,
        "hidden": hidden,
        "threads": args.threads,
        "torch": torch.__version__,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
