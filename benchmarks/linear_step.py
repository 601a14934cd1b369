"""The linearized dynamics' Jacobian-vector product (``analyses.LinearModel.step``): autograd's, against
``torch.func.jvp``, the reference it replaced.

Two costs are timed. The first call in a fresh Python process (what every analyze and context job pays
once): ``torch.func`` loads ``torch._dynamo`` on it. And the cost per step in one process, interleaved,
on a GRU of ``--hidden`` units at ``--states`` states (the analysed reviews' batch), both after a warm-up;
the two products are compared on the same inputs.

    python benchmarks/linear_step.py [--quick]

The last line printed is one JSON object: the seconds of each and their ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch

from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import model as model_lib

FIRST_CALL = """
import sys, time
import torch
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import model as model_lib
network = model_lib.SentimentClassifier(ModelSpec("gru", 1, 8, 16, 0), 20, dropout=0.0, layer_dropout=0.0)
system = network.system("layer1")
h, x = torch.zeros(4, 16, dtype=torch.float64), torch.zeros(4, 8, dtype=torch.float64)
began = time.perf_counter()
{call}
print(time.perf_counter() - began, "torch._dynamo" in sys.modules)
"""
CALLS = {
    "autograd": "torch.autograd.functional.jvp(system.step, (h, x), (h, x))",
    "torch_func": "torch.func.jvp(system.step, (h, x), (h, x))",
}


def first_call(name: str) -> tuple[float, bool]:
    """Seconds of the first product in a fresh process, and whether it loaded torch._dynamo."""
    out = subprocess.run(
        [sys.executable, "-c", FIRST_CALL.format(call=CALLS[name])], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), out[1] == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--states", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="hidden 32, 50 states, 3 repeats")
    args = parser.parse_args()
    if args.quick:
        args.hidden, args.states, args.repeats = 32, 50, 3
    torch.set_num_threads(1)
    firsts = {name: [first_call(name) for _ in range(args.repeats)] for name in CALLS}

    torch.manual_seed(0)
    spec = ModelSpec("gru", 1, 50, args.hidden, 0)
    system = model_lib.SentimentClassifier(spec, 100, dropout=0.0, layer_dropout=0.0).eval().system("layer1")
    points = 0.3 * torch.randn(args.states, args.hidden, dtype=torch.float64)
    dh = 0.1 * torch.randn(args.states, args.hidden, dtype=torch.float64)
    x = torch.randn(args.states, 50, dtype=torch.float64)
    zeros = torch.zeros_like(x)
    products = {
        "autograd": lambda: torch.autograd.functional.jvp(system.step, (points, zeros), (dh, x))[1],
        "torch_func": lambda: torch.func.jvp(system.step, (points, zeros), (dh, x))[1],
    }
    difference = float((products["autograd"]() - products["torch_func"]()).abs().max())
    steps, times = 20, {name: [] for name in products}
    for _ in range(args.repeats):
        for name, product in products.items():
            began = time.perf_counter()
            for _ in range(steps):
                product()
            times[name].append((time.perf_counter() - began) / steps)
    step = {name: statistics.median(values) for name, values in times.items()}
    first = {name: statistics.median(seconds for seconds, _ in values) for name, values in firsts.items()}
    print(
        json.dumps(
            {
                "hidden": args.hidden,
                "states": args.states,
                "repeats": args.repeats,
                "first_call_autograd_s": first["autograd"],
                "first_call_torch_func_s": first["torch_func"],
                "autograd_loads_dynamo": any(loaded for _, loaded in firsts["autograd"]),
                "torch_func_loads_dynamo": all(loaded for _, loaded in firsts["torch_func"]),
                "step_autograd_ms": 1000 * step["autograd"],
                "step_torch_func_ms": 1000 * step["torch_func"],
                "max_abs_difference": difference,
                "first_call_saved_s": first["torch_func"] - first["autograd"],
                "step_autograd_over_torch_func": step["autograd"] / step["torch_func"],
            }
        )
    )


if __name__ == "__main__":
    main()
