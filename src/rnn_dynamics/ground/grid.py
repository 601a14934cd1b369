"""Model ids and the experiment grid.

A model id names one trained network: ``{arch}-L{layers}-E{embedding}-H{hidden}-s{seed}``,
for example ``gru-L3-E100-H256-s0``. The batch size and the training fraction enter it
(``-B16``, ``-F0.3``, before the seed) unless they are the id rule's own constants,
``ID_BATCH_SIZE`` (64) and ``ID_TRAIN_FRACTION`` (1.0): fixed here, not read from the
schema, so that changing a default of the config renames no model already trained (a
model trained at another default batch size gets its ``-B``). Likewise the split whose
paths carry no tag is ``UNTAGGED_SPLIT`` (test), whatever ``states.splits`` defaults to.
A network the pipeline imports (``models.import``) has the id of its sizes, its name and the
seed of its untrained counterpart: ``gru-L1-E100-H256-Imine-s0``; its name takes the place of
the training axes, which it has none of.
Kept free of torch so that the Snakefile (and ``snakemake -n``) stays fast.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from rnn_dynamics.ground import config

__all__ = [
    "ID_BATCH_SIZE",
    "ID_TRAIN_FRACTION",
    "IMPORTED_ID_PATTERN",
    "MODEL_ID_PATTERN",
    "SPLIT_TAG_PATTERN",
    "TRAINED_ID_PATTERN",
    "UNTAGGED_SPLIT",
    "ModelSpec",
    "grid_point",
    "model_grid",
    "split_of_tag",
    "split_tag",
    "untag",
]

TRAINED_ID_PATTERN = r"[a-z]+-L[0-9]+-E[0-9]+-H[0-9]+(?:-B[0-9]+)?(?:-F0\.[0-9]+)?-s[0-9]+"
IMPORTED_ID_PATTERN = r"[a-z]+-L[0-9]+-E[0-9]+-H[0-9]+-I[a-z0-9]+-s[0-9]+"
MODEL_ID_PATTERN = f"(?:{TRAINED_ID_PATTERN}|{IMPORTED_ID_PATTERN})"
_MODEL_ID = re.compile(
    r"^([a-z]+)-L([0-9]+)-E([0-9]+)-H([0-9]+)(?:-B([0-9]+))?(?:-F(0\.[0-9]+))?(?:-I([a-z0-9]+))?-s([0-9]+)$"
)
# What an imported model's name may be: it is part of the id (models.import's keys).
IMPORTED_NAME = re.compile(r"^[a-z0-9]+$")
# Constants of the id rule, never the schema's defaults: a model at this batch size and training fraction leaves
# them out of its id, so every id ever written keeps its meaning whatever the config's defaults become.
ID_BATCH_SIZE = 64
ID_TRAIN_FRACTION = 1.0
# The split whose outputs' paths carry no tag (a constant of the path rule, like the two above).
UNTAGGED_SPLIT = "test"
SPLIT_TAG_PATTERN = r"|@train|@valid"


@dataclass(frozen=True)
class ModelSpec:
    architecture: str
    layers: int
    embedding: int
    hidden: int
    seed: int
    # The id's constants, the values an id without -B or -F means (not the schema's defaults: see model_grid).
    batch_size: int = ID_BATCH_SIZE
    # The share of the training split trained on (``batches.trained_on``).
    train_fraction: float = ID_TRAIN_FRACTION
    # The name of an imported network (``models.import``), None for one the pipeline trains.
    imported: str | None = None

    def __post_init__(self):
        if self.imported is not None:
            if not IMPORTED_NAME.match(self.imported):
                raise ValueError(
                    f"models.import: the name {self.imported!r} is part of a model id: lower-case letters and "
                    "digits only"
                )
            if (self.batch_size, self.train_fraction) != (ID_BATCH_SIZE, ID_TRAIN_FRACTION):
                raise ValueError(f"imported model {self.imported!r}: it has no batch size or training fraction")

    @property
    def id(self) -> str:
        if self.imported is not None:
            return f"{self.architecture}-L{self.layers}-E{self.embedding}-H{self.hidden}-I{self.imported}-s{self.seed}"
        axes = ""
        if self.batch_size != ID_BATCH_SIZE:
            axes += f"-B{self.batch_size}"
        if self.train_fraction != ID_TRAIN_FRACTION:
            axes += f"-F{_fraction_text(self.train_fraction)}"
        return f"{self.architecture}-L{self.layers}-E{self.embedding}-H{self.hidden}{axes}-s{self.seed}"

    @classmethod
    def parse(cls, model_id: str) -> "ModelSpec":
        match = _MODEL_ID.match(model_id)
        if match is None:
            raise ValueError(
                f"model id {model_id!r} is not of the form '{{arch}}-L{{layers}}-E{{embedding}}-H{{hidden}}"
                "[-B{batch_size}][-F{train_fraction}]-s{seed}', e.g. 'gru-L3-E100-H256-s0' or "
                "'gru-L1-E50-H256-B16-s0', or an imported model's "
                "'{arch}-L{layers}-E{embedding}-H{hidden}-I{name}-s{seed}'"
            )
        arch, layers, embedding, hidden, batch, fraction, name, seed = match.groups()
        if name is not None and (batch, fraction) != (None, None):
            raise ValueError(f"model id {model_id!r}: an imported model (-I{name}) has no -B or -F")
        spec = cls(
            arch,
            int(layers),
            int(embedding),
            int(hidden),
            int(seed),
            ID_BATCH_SIZE if batch is None else int(batch),
            ID_TRAIN_FRACTION if fraction is None else float(fraction),
            name,
        )
        if spec.id != model_id:
            raise ValueError(
                f"model id {model_id!r} writes the batch size {ID_BATCH_SIZE} or the fraction {ID_TRAIN_FRACTION}, "
                f"which an id leaves out; its id is {spec.id!r}"
            )
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
    value listed twice is planned once), then the imported networks (``imported_models``). An axis left out takes
    the schema's default; the ids do not depend on it (``ModelSpec.id``). ``architectures: []`` trains none."""
    specs = _trained_grid(models) + imported_models(models)
    if not specs:
        raise ValueError("models: no model to run: models.architectures is empty and models.import names none")
    return specs


def imported_models(models: dict) -> list[ModelSpec]:
    """The networks of ``models.import``, by name, in the config's order."""
    defaults = config.defaults("models.import")
    specs = []
    for name, entry in (models.get("import") or {}).items():
        entry = {**defaults, **entry}
        sizes = [entry[key] for key in ("architecture", "layers", "embedding", "hidden", "seed")]
        specs.append(ModelSpec(*sizes, imported=name))
    return specs


def _trained_grid(models: dict) -> list[ModelSpec]:
    defaults = config.defaults("models")
    axes = {key: models.get(key, defaults.get(key)) for key in ("batch_size", "train_fraction")}
    for key, values in axes.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"models.{key} must be a non-empty list, not {values!r}")
    for fraction in axes["train_fraction"]:
        if fraction != ID_TRAIN_FRACTION:
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


def grid_point(model_id: str) -> str:
    """A model id less its seed: the grid point whose seeds are pooled (the seeds table, the context sentences)."""
    return re.sub(r"-s[0-9]+$", "", ModelSpec.parse(model_id).id)


def split_tag(split: str) -> str:
    """The tag of a split's states and fixed points in their paths: none for ``UNTAGGED_SPLIT`` (test), ``@train``
    for the training split."""
    return "" if split == UNTAGGED_SPLIT else f"@{split}"


def split_of_tag(tag: str) -> str:
    """The split a path's tag (``split_tag``) names."""
    return tag.removeprefix("@") if tag else UNTAGGED_SPLIT


def untag(name: str) -> tuple[str, str]:
    """The model id and split of a path part ``{model}{split_tag}`` (``gru-L1-E50-H256-s0@train``)."""
    model_id, _, split = name.partition("@")
    return model_id, split or UNTAGGED_SPLIT
