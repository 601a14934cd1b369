"""Model ids and the experiment grid.

A model id names one trained network: ``{arch}-L{layers}-E{embedding}-H{hidden}-s{seed}``,
for example ``gru-L3-E100-H256-s0``. Kept free of torch so that the Snakefile
(and ``snakemake -n``) stays fast.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

__all__ = ["MODEL_ID_PATTERN", "ModelSpec", "model_grid"]

MODEL_ID_PATTERN = r"[a-z]+-L[0-9]+-E[0-9]+-H[0-9]+-s[0-9]+"
_MODEL_ID = re.compile(r"^([a-z]+)-L([0-9]+)-E([0-9]+)-H([0-9]+)-s([0-9]+)$")


@dataclass(frozen=True)
class ModelSpec:
    architecture: str
    layers: int
    embedding: int
    hidden: int
    seed: int

    @property
    def id(self) -> str:
        return f"{self.architecture}-L{self.layers}-E{self.embedding}-H{self.hidden}-s{self.seed}"

    @classmethod
    def parse(cls, model_id: str) -> "ModelSpec":
        match = _MODEL_ID.match(model_id)
        if match is None:
            raise ValueError(
                f"model id {model_id!r} is not of the form "
                "'{arch}-L{layers}-E{embedding}-H{hidden}-s{seed}', e.g. 'gru-L3-E100-H256-s0'"
            )
        arch, *numbers = match.groups()
        return cls(arch, *(int(n) for n in numbers))

    def systems(self, mode: str) -> list[str]:
        """Names of the dynamical systems analysed for fixed points: one per layer, or the whole stack."""
        if mode == "per_layer":
            return [f"layer{n}" for n in range(1, self.layers + 1)]
        if mode == "stack":
            return ["stack"]
        raise ValueError(f"fixed_points.mode must be 'per_layer' or 'stack', not {mode!r}")


def model_grid(models: dict) -> list[ModelSpec]:
    """Every combination of the ``models`` section of the config, in a stable order."""
    return [
        ModelSpec(arch, layers, emb, models["hidden"], seed)
        for arch, layers, emb, seed in itertools.product(
            models["architectures"], models["layers"], models["embedding"], models["seeds"]
        )
    ]
