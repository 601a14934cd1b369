"""Training throughput of the cells through their explicit equations and through fused kernels.

Any cell can run through its explicit equations (``scan.scan``); the UGRNN, which has
no kernel of its own, trains through the GRU kernel with its reset gate held open
(``scan.fused_ugrnn``) on a GPU and through the eager scan on a CPU. Timed here,
forward + backward of one layer on random inputs, in one process: the scan with each
step compiled (``scan.compiled_chunk``: ``SCAN_CHUNK`` steps per compiled call), the
same scan eager, and the fused kernel (the cell's torch module, cuDNN's on a GPU; for
the UGRNN ``fused_ugrnn``). Compilation is warmed up before timing and reported apart.

    python benchmarks/cell_throughput.py [--quick] [--device cuda|cpu] [--cells ugrnn vanilla]

Made for a GPU; on a CPU it runs too (inductor's C++ kernels), but there the eager
scan is the default. The last line printed is one JSON object with the figures;
``speedup`` is the UGRNN's compiled over eager scan, ``ugrnn_fused_speedup`` its fused
kernel over the compiled scan, ``ugrnn_fused_over_gru_fused`` its fused tokens/s over the GRU's.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from rnn_dynamics.networks import cells, scan


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def tokens_per_second(run, inputs: torch.Tensor, repeats: int) -> float:
    """Tokens per second of ``run(inputs)`` followed by a backward pass."""
    start = time.perf_counter()
    for _ in range(repeats):
        run(inputs).sum().backward()
    synchronize(inputs.device)
    return repeats * inputs.shape[0] * inputs.shape[1] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 16, 50 steps, hidden 64")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--cells", nargs="+", default=["ugrnn", "vanilla"], choices=sorted(cells.CELLS))
    parser.add_argument("--embedding", type=int, default=100)
    args = parser.parse_args()
    device = torch.device(args.device)
    # As training does on a CPU: gradients fading back through time reach subnormal floats.
    torch.set_flush_denormal(True)
    batch, steps, hidden, repeats = (16, 50, 64, 3) if args.quick else (64, 250, 256, 10)
    torch.manual_seed(0)
    inputs = torch.randn(batch, steps, args.embedding, device=device)
    figures = {}
    for name in args.cells:
        cell = cells.get(name)
        # The module of an architecture with a cuDNN kernel is that kernel; its parameters feed the scan.
        module = scan.recurrent_module(cell)(args.embedding, hidden, batch_first=True).to(device)
        params = cells.layer_parameters(module, 0)
        start = time.perf_counter()
        for _ in range(2):  # the first call compiles; the second checks that nothing recompiles
            scan.scan(cell, params, inputs, compiled=True).sum().backward()
        synchronize(device)
        figures[f"{name}_compile_seconds"] = time.perf_counter() - start
        figures[f"{name}_compiled_tokens_per_s"] = tokens_per_second(
            lambda x: scan.scan(cell, params, x, compiled=True), inputs, repeats
        )
        scan.scan(cell, params, inputs, compiled=False).sum().backward()
        figures[f"{name}_eager_tokens_per_s"] = tokens_per_second(
            lambda x: scan.scan(cell, params, x, compiled=False), inputs, repeats
        )
        # The fused kernel: the cell's cuDNN module, or for the UGRNN the GRU kernel with its reset gate open.
        fused = (lambda x: scan.fused_ugrnn(params, x)) if cell is cells.UGRNN else (lambda x: module(x)[0])
        fused(inputs).sum().backward()
        figures[f"{name}_fused_tokens_per_s"] = tokens_per_second(fused, inputs, repeats)
        print(name, {key: round(value, 1) for key, value in figures.items() if key.startswith(name)}, flush=True)
    figures = {key: round(value, 1) for key, value in figures.items()}
    if "ugrnn" in args.cells:
        figures["speedup"] = round(figures["ugrnn_compiled_tokens_per_s"] / figures["ugrnn_eager_tokens_per_s"], 2)
        figures["ugrnn_fused_speedup"] = round(
            figures["ugrnn_fused_tokens_per_s"] / figures["ugrnn_compiled_tokens_per_s"], 2
        )
        if "gru" in args.cells:  # the goal: the UGRNN within 2x of the GRU, each through its fused kernel
            figures["ugrnn_fused_over_gru_fused"] = round(
                figures["ugrnn_fused_tokens_per_s"] / figures["gru_fused_tokens_per_s"], 2
            )
    figures |= {"device": str(device), "batch": batch, "steps": steps, "hidden": hidden, "torch": torch.__version__}
    if device.type == "cuda":
        figures["gpu"] = torch.cuda.get_device_name(device)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
