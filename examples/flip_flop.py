"""The 3-bit flip-flop of Sussillo & Barak (2013), FixedPointFinder's own example, through rnn_dynamics' API.

A GRU reads three input channels of sparse +1/-1 pulses and must hold, on each of three outputs, the sign of
its channel's last pulse: it stores 3 bits, and a trained network does so on 8 stable fixed points, the
corners of a cube, with saddles between them. This script trains a small GRU (a minute on a CPU), finds its
fixed points from visited states, and draws them on the states' top two principal components.

    python examples/flip_flop.py [--out flip_flop.png] [--hidden 16] [--steps 300]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import torch
from torch import nn

import rnn_dynamics as rd

BITS = 3


def flip_flop_batch(batch: int, steps: int, pulse_probability: float, generator: torch.Generator):
    """Inputs (batch, steps, 3) of +1/-1 pulses at random times, and the targets: each channel's last pulse
    (0 before its first)."""
    pulses = torch.rand(batch, steps, BITS, generator=generator) < pulse_probability
    signs = torch.where(torch.rand(batch, steps, BITS, generator=generator) < 0.5, -1.0, 1.0)
    inputs = pulses * signs
    targets = torch.zeros_like(inputs)
    held = torch.zeros(batch, BITS)
    for t in range(steps):
        held = torch.where(pulses[:, t], signs[:, t], held)
        targets[:, t] = held
    return inputs, targets


class FlipFlop(nn.Module):
    """A one-layer GRU (batch_first) and a linear readout of its 3 bits."""

    def __init__(self, hidden: int):
        super().__init__()
        self.gru = nn.GRU(BITS, hidden, batch_first=True)
        self.readout = nn.Linear(hidden, BITS)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.readout(self.gru(inputs)[0])


def train(hidden: int = 16, steps: int = 300, seed: int = 0, time_steps: int = 30, batch: int = 64) -> FlipFlop:
    """A FlipFlop trained with Adam on the mean squared error of its outputs."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    network = FlipFlop(hidden)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-2)
    for _ in range(steps):
        inputs, targets = flip_flop_batch(batch, time_steps, 0.2, generator)
        loss = (network(inputs) - targets).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return network.eval()


def analyse(network: FlipFlop, starts: int = 256, seed: int = 0):
    """The network's fixed points at input zero from ``starts`` visited states, driven on to exact roots,
    and the visited states (N, H)."""
    inputs, _ = flip_flop_batch(64, 40, 0.2, torch.Generator().manual_seed(seed + 1))
    states = rd.trajectories(network.gru, inputs).reshape(-1, network.gru.hidden_size)
    found = rd.find_fixed_points(network.gru, rd.sample_starts(states, starts, noise=0.05, seed=seed), exact=True)
    return found, states


def corners(network: FlipFlop, points: np.ndarray) -> set[tuple[int, ...]]:
    """The sign patterns (one of the 8 corners) the readout gives at ``points`` (K, H)."""
    with torch.no_grad():
        outputs = network.readout(torch.as_tensor(points, dtype=torch.float32)).numpy()
    return {tuple(int(s) for s in np.sign(row)) for row in outputs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="flip_flop.png", help="the figure (PNG)")
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--steps", type=int, default=300, help="training steps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    began = time.perf_counter()
    network = train(args.hidden, args.steps, args.seed)
    trained = time.perf_counter()
    found, states = analyse(network, seed=args.seed)
    stable = found.unique_points[found.is_stable]
    print(f"trained in {trained - began:.1f} s; searched in {time.perf_counter() - trained:.1f} s")
    print(found)
    print(f"{len(stable)} stable fixed points, on corners {sorted(corners(network, stable))}")
    print(f"every corner held: {corners(network, stable) == set(itertools.product((-1, 1), repeat=BITS))}")
    import matplotlib

    matplotlib.use("Agg")
    ax = rd.plot_fixed_points(found.unique_points, found.eigenvalues, found.eigenvectors, states=states)
    ax.set_title(f"3-bit flip-flop, GRU-{args.hidden}: {len(stable)} stable, {len(found) - len(stable)} unstable")
    ax.figure.savefig(args.out, dpi=120, bbox_inches="tight")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
