"""Model ids and the experiment grid.

A model id names one trained network: ``{arch}-L{layers}-E{embedding}-H{hidden}-s{seed}``,
for example ``gru-L3-E100-H256-s0``. The batch size and the training fraction enter it
(``-B16``, ``-F0.3``, before the seed) only where they differ from the schema's defaults,
so that the ids of runs made before these axes existed stay as they were. Kept free of
torch so that the Snakefile (and ``snakemake -n``) stays fast.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from rnn_dynamics.ground import config

__all__ = ["MODEL_ID_PATTERN", "SPLIT_TAG_PATTERN", "ModelSpec", "model_grid", "split_of_tag", "split_tag", "untag"]

MODEL_ID_PATTERN = r"[a-z]+-L[0-9]+-E[0-9]+-H[0-9]+(?:-B[0-9]+)?(?:-F0\.[0-9]+)?-s[0-9]+"
_MODEL_ID = re.compile(r"^([a-z]+)-L([0-9]+)-E([0-9]+)-H([0-9]+)(?:-B([0-9]+))?(?:-F(0\.[0-9]+))?-s([0-9]+)$")
# The grid axes' defaults (each a one-entry list in the schema): a model at them leaves them out of its id.
(_DEFAULT_BATCH_SIZE,) = config.defaults("models")["batch_size"]
(_DEFAULT_TRAIN_FRACTION,) = config.defaults("models")["train_fraction"]
# The split analysed by default; its outputs' paths carry no tag.
(_UNTAGGED_SPLIT,) = config.defaults("states")["splits"]
SPLIT_TAG_PATTERN = r"|@train|@valid"


@dataclass(frozen=True)
class ModelSpec:
    architecture: str
    layers: int
    embedding: int
    hidden: int
    seed: int
    batch_size: int = _DEFAULT_BATCH_SIZE
    # The share of the training split trained on (``batches.trained_on``).
    train_fraction: float = _DEFAULT_TRAIN_FRACTION

    @property
    def id(self) -> str:
        axes = ""
        if self.batch_size != _DEFAULT_BATCH_SIZE:
            axes += f"-B{self.batch_size}"
        if self.train_fraction != _DEFAULT_TRAIN_FRACTION:
            axes += f"-F{_fraction_text(self.train_fraction)}"
        return f"{self.architecture}-L{self.layers}-E{self.embedding}-H{self.hidden}{axes}-s{self.seed}"

    @classmethod
    def parse(cls, model_id: str) -> "ModelSpec":
        match = _MODEL_ID.match(model_id)
        if match is None:
            raise ValueError(
                f"model id {model_id!r} is not of the form '{{arch}}-L{{layers}}-E{{embedding}}-H{{hidden}}"
                "[-B{batch_size}][-F{train_fraction}]-s{seed}', e.g. 'gru-L3-E100-H256-s0' or 'gru-L1-E50-H256-B16-s0'"
            )
        arch, layers, embedding, hidden, batch, fraction, seed = match.groups()
        spec = cls(
            arch,
            int(layers),
            int(embedding),
            int(hidden),
            int(seed),
            _DEFAULT_BATCH_SIZE if batch is None else int(batch),
            _DEFAULT_TRAIN_FRACTION if fraction is None else float(fraction),
        )
        if spec.id != model_id:
            raise ValueError(f"model id {model_id!r} writes a default batch size or fraction; its id is {spec.id!r}")
        return spec

    def systems(self, mode: str) -> list[str]:
        """Names of the dynamical systems analysed for fixed points: one per layer, or the whole stack."""
        if mode == "per_layer":
            return [f"layer{n}" for n in range(1, self.layers + 1)]
        if mode == "stack":
            return ["stack"]
        raise ValueError(f"fixed_points.mode must be 'per_layer' or 'stack', not {mode!r}")


def _fraction_text(fraction: float) -> str:
    """A training fraction as its id writes it (``0.3``): the shortest decimal that reads back as it."""
    text = repr(float(fraction))
    if not re.fullmatch(r"0\.[0-9]+", text):
        raise ValueError(f"models.train_fraction {fraction!r}: a fraction between 0 and 1, written as a decimal (0.3)")
    return text


def model_grid(models: dict) -> list[ModelSpec]:
    """Every combination of the ``models`` section of the config, in a stable order (one per combination, so a
    value listed twice is planned once)."""
    defaults = config.defaults("models")
    axes = {key: models.get(key, defaults.get(key)) for key in ("batch_size", "train_fraction")}
    for key, values in axes.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"models.{key} must be a non-empty list, not {values!r}")
    for fraction in axes["train_fraction"]:
        if fraction != _DEFAULT_TRAIN_FRACTION:
            _fraction_text(fraction)
    specs = [
        ModelSpec(arch, layers, emb, models["hidden"], seed, batch, float(fraction))
        for arch, layers, emb, batch, fraction, seed in itertools.product(
            models["architectures"],
            models["layers"],
            models["embedding"],
            axes["batch_size"],
            axes["train_fraction"],
            models["seeds"],
        )
    ]
    return list(dict.fromkeys(specs))


def split_tag(split: str) -> str:
    """The tag of a split's states and fixed points in their paths: none for the default split (``test``), whose
    paths are as they were before ``states.splits``; ``@train`` for the training split."""
    return "" if split == _UNTAGGED_SPLIT else f"@{split}"


def split_of_tag(tag: str) -> str:
    """The split a path's tag (``split_tag``) names."""
    return tag.removeprefix("@") if tag else _UNTAGGED_SPLIT


def untag(name: str) -> tuple[str, str]:
    """The model id and split of a path part ``{model}{split_tag}`` (``gru-L1-E50-H256-s0@train``)."""
    model_id, _, split = name.partition("@")
    return model_id, split or _UNTAGGED_SPLIT
