"""Every stage's interface that the workflow reads while it plans: the settings that decide a stage's output
(typed from its config section, ``config.Section``), the approximate fixed points' tolerance rule, and the columns
of the tables the dynamics stages build.

Free of torch, scikit-learn and pandas, so that parsing the workflow (every ``snakemake`` call, every SLURM job)
imports none of them: the stage modules (``networks.training``, ``dynamics.states``, ...) re-export their settings
type under its short name (``training.Settings``) and compute with it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from rnn_dynamics.ground import config
from rnn_dynamics.ground.grid import ModelSpec, split_tag, untag

__all__ = [
    "ABLATION_COLUMNS",
    "BOW_COLUMNS",
    "CONTEXT_COLUMNS",
    "EXACT_Q_TOL",
    "GEOMETRY",
    "PAIR",
    "PER_SYSTEM",
    "SCALE",
    "SIMILARITY_COLUMNS",
    "TOLERANCE_RULES",
    "AnalysesSettings",
    "ContextSettings",
    "GatherSettings",
    "ImportSettings",
    "SearchSettings",
    "SimilaritySettings",
    "StatesSettings",
    "TrainingSettings",
    "AXIS_KEYS",
    "SystemName",
    "approximate_tolerance",
    "below_tolerance",
    "axis_pairs",
    "axis_value",
    "pairs",
    "probed_systems",
]

# ---------------------------------------------------------------------------
# The approximate fixed points' tolerance

# Exact roots of h = F(h, x): FixedPointFinder's tol_q, reached by nearly undamped LM.
EXACT_Q_TOL = 1e-12
# How the approximate fixed points' tolerance is set (``fixed_points.q_rule``): ``relative`` to the network's
# own speed scale, ``absolute`` (``q_tol`` as given).
TOLERANCE_RULES = ("relative", "absolute")


def approximate_tolerance(rule: str, q_tol: float, q_fraction: float, scale: float | None) -> float:
    """The q below which a start is an approximate fixed point: ``q_fraction`` of the network's speed scale
    (``speed_scale``, the visited states' median q) for the ``relative`` rule, never below ``EXACT_Q_TOL``
    (float64's floor for q); ``q_tol`` itself for ``absolute``.

    The one owner of that number: the search stops each start by it and the gather counts by it, so the set
    scales with the network (a network whose slowest points reach only q ~ 1e-6 is not judged by a 1e-6 knife
    edge) and does not flip on a machine whose floating-point sums round otherwise."""
    if rule not in TOLERANCE_RULES:
        raise ValueError(f"fixed_points.q_rule must be one of {TOLERANCE_RULES}, not {rule!r}")
    if rule == "absolute":
        return float(q_tol)
    if scale is None or not math.isfinite(scale):
        raise ValueError(
            "the relative tolerance (fixed_points.q_rule: relative) needs the starts' speed scale, which this "
            "result does not carry: search through fixed_points.solve, or set fixed_points.q_rule: absolute"
        )
    return max(float(q_fraction) * float(scale), EXACT_Q_TOL)


def below_tolerance(q, tolerance: float):
    """Which starts reached their goal: ``q`` strictly below ``tolerance`` (``q_tol`` for the approximate fixed
    points, ``EXACT_Q_TOL`` for the exact roots). A numpy array or a torch tensor of bools, as ``q`` is.

    The one owner of that verdict: the solver stops a start by it, and ``FixedPointResult.converged``,
    ``fixed_point_sets.gather`` and ``fixed_point_sets.counts`` read it, so a start that stopped is one that counts.
    """
    return q < tolerance


# ---------------------------------------------------------------------------
# Settings, in the order of the stages


@dataclass(frozen=True)
class TrainingSettings(config.Section, section="training"):
    """The ``training`` section of the config; a key left out takes the schema's default.

    Every field but ``device`` and ``threads`` decides the trained weights: those are the train
    rule's ``params``.
    """

    epochs: int
    learning_rate: float
    # Per-architecture learning rates replacing ``learning_rate`` (see ``learning_rate_for``).
    architecture_learning_rates: dict
    # Each epoch's learning rate is the previous one's times this: epoch e runs at rate * decay ** (e - 1).
    learning_rate_decay: float
    # Largest global L2 norm of the gradient per step (None: no clipping).
    max_grad_norm: float | None
    # An L2 penalty on every weight, as Adam's ``weight_decay`` (its gradient, weight_decay * w, added to the loss's).
    weight_decay: float
    # Keep the embedding at its initial vectors (GloVe's): only the recurrent layers and the readout learn.
    freeze_embeddings: bool
    dropout: float
    layer_dropout: float
    device: str = config.runtime()
    threads: int = config.runtime()

    def learning_rate_for(self, architecture: str) -> float:
        """The learning rate of ``architecture``: its entry in ``architecture_learning_rates``, else
        ``learning_rate``."""
        return self.architecture_learning_rates.get(architecture, self.learning_rate)

    def learning_rate_at(self, architecture: str, epoch: int) -> float:
        """The learning rate of ``architecture`` in ``epoch`` (from 1): ``learning_rate_for`` decayed
        ``epoch - 1`` times by ``learning_rate_decay``. A function of the epoch alone, so a resumed run
        continues the schedule where it stopped."""
        return self.learning_rate_for(architecture) * self.learning_rate_decay ** (epoch - 1)

    def params_for(self, spec: ModelSpec) -> dict:
        """The train rule's params for ``spec``: ``params`` with the model's batch size after ``epochs``. Snakemake
        compares params by their text, key order included: this order is the one existing results hold, so
        that they do not rerun."""
        params = self.params()
        return {"epochs": params.pop("epochs"), "batch_size": spec.batch_size, **params}

    @classmethod
    def from_job(cls, params: dict, spec: ModelSpec, device: str, threads: int) -> "TrainingSettings":
        """The settings of the train job of ``spec``: its rule's ``params`` (``params_for(spec)``, whose batch
        size must be the model's) and where it runs (the rule's ``device`` resource and ``threads``)."""
        params = dict(params)
        batch_size = params.pop("batch_size", None)
        if batch_size != spec.batch_size:
            raise ValueError(
                f"train params of {spec.id}: batch_size {batch_size!r} is not the model's ({spec.batch_size})"
            )
        return cls.from_params(params, device=device, threads=threads)

    def resumable_with(self) -> dict:
        """The settings a checkpoint must share to be continued (more epochs or another device are fine)."""
        return {key: value for key, value in self.params().items() if key != "epochs"}


@dataclass(frozen=True)
class ImportSettings(config.Section, section="models.import"):
    """One entry of ``models.import``: the declared sizes, the files and the state dict's key prefixes."""

    architecture: str
    layers: int
    embedding: int
    hidden: int
    weights: str
    vocabulary: str
    unk: str | None
    embedding_key: str
    recurrent_key: str
    readout_key: str
    seed: int

    def spec(self, name: str) -> ModelSpec:
        """The model this entry becomes, named ``name`` (its key in ``models.import``)."""
        return ModelSpec(self.architecture, self.layers, self.embedding, self.hidden, self.seed, imported=name)


@dataclass(frozen=True)
class StatesSettings(config.Section, section="states"):
    """The ``states`` section of the config; a key left out takes the schema's default."""

    # The splits whose states are extracted, each by its own hidden_states job.
    splits: list
    # Reviews whose states are dumped (a number, or "all").
    sample_reviews: int | str
    batch_size: int
    seed: int
    # Example reviews by name, whose trajectories are recorded.
    examples: dict

    @staticmethod
    def job_params(section: dict, split: str) -> dict:
        """The hidden_states rule's params for the job of ``split``: the section as given, its ``splits``
        replaced by ``split`` in the same place (Snakemake compares params by their text: the states made
        while the section named one split keep their params)."""
        return {
            ("split" if key == "splits" else key): split if key == "splits" else value for key, value in section.items()
        }

    @classmethod
    def from_job(cls, params: dict) -> "StatesSettings":
        """The settings of one hidden_states job from its rule's params (``job_params``): the job's split
        as the one split, every key left out the schema's default."""
        section = dict(params)
        split = section.pop("split")
        return cls.from_config({**section, "splits": [split]})


@dataclass(frozen=True)
class SearchSettings(config.Section, section="fixed_points"):
    """The ``fixed_points`` keys of one shard's search; a key left out takes the schema's default.

    Every field but ``device`` decides the solution: those are the fixed_point_shard rule's ``params``.
    """

    starts: int
    noise: float
    seed: int
    method: str
    max_iterations: int
    q_tol: float
    q_rule: str
    q_fraction: float
    damping: float
    learning_rate: float
    exact_roots: bool
    bounded: bool
    single_precision: bool
    device: str = config.runtime()

    def tolerance(self, scale: float | None) -> float:
        """Where each start stops for a search of speed scale ``scale`` (``approximate_tolerance``)."""
        return approximate_tolerance(self.q_rule, self.q_tol, self.q_fraction, scale)


@dataclass(frozen=True)
class GatherSettings(config.Section, section="fixed_points"):
    """The ``fixed_points`` keys of the verdicts on the gathered starts (converged, outlier, unique); a key
    left out takes the schema's default. All of them are the gather_fixed_points rule's ``params``."""

    q_tol: float
    unique_tol: float
    unique_metric: str
    outlier_distance: float | None
    q_rule: str
    q_fraction: float

    def tolerance(self, scale: float | None) -> float:
        """The approximate fixed points' tolerance at the speed scale ``scale`` (``approximate_tolerance``)."""
        return approximate_tolerance(self.q_rule, self.q_tol, self.q_fraction, scale)


@dataclass(frozen=True)
class AnalysesSettings(config.Section, section="analyses"):
    """The ``analyses`` section of the config; a key left out takes the schema's default.

    Every field but ``device`` decides the measures: those are the analyze rule's ``params``.
    """

    # Test reviews (a number, or "all") the linearized dynamics and the mode orientation are evaluated on.
    reviews: int | str
    # Random unit vectors in the alignment's null distribution.
    null_samples: int
    # Most positive and most negative words listed.
    top_words: int
    # C of the bag-of-words logistic regression.
    regularization: float
    seed: int
    # The space of the manifold's measures: "h" (what the layers output and the readout reads) or "state".
    manifold_space: str
    device: str = config.runtime()


@dataclass(frozen=True)
class SimilaritySettings(config.Section, section="similarity"):
    """The ``similarity`` section of the config; a key left out takes the schema's default."""

    pairs: list
    axes: list
    reviews: int
    steps: int
    seed: int
    n_delays: int
    delay_interval: int
    rank_variance: float
    rank: int | None
    iters: int


@dataclass(frozen=True)
class ContextSettings(config.Section, section="context"):
    """The ``context`` section of the config; a key left out takes the schema's default."""

    enabled: bool
    modifiers: list
    null_words: list
    targets: list
    target_count: int
    probes: int
    settle_steps: int
    relax_steps: int
    relax_fraction: float
    subspace_variance: float
    ablation_modes: int
    window: int
    regularization: float
    seed: int
    device: str = config.runtime()


# ---------------------------------------------------------------------------
# Columns of the dynamics stages' tables (the table catalogue describes them)

# The fixed-point geometry of one system, in the table's order (each twice: _a and _b).
GEOMETRY = [
    "unique_fixed_points",
    "manifold_dimension",
    "top_modulus_median",
    "top_modulus_iqr",
    "time_constant_median",
    "time_constant_iqr",
    "alignment_median",
]
# The measures of the pair (``compare``), in the table's order.
PAIR = ["reviews", "dsa", "dsa_eigenvalue_w2", "input_dsa_state", "input_dsa_control", "input_dsa_joint", "cka"]
# Each system's own scale over the pair's reviews (``scale``): from its untrained network, against itself.
SCALE = ["dsa_untrained", "cka_untrained", "dsa_floor"]
# Each system's columns of the table (each twice: _a and _b): its scale, its geometry.
PER_SYSTEM = [*SCALE, *GEOMETRY]
# The similarity table's columns: the pair, its measures, then each system's.
SIMILARITY_COLUMNS = ["axis", "a", "b", "value_a", "value_b", *PAIR] + [
    f"{key}_{side}" for key in PER_SYSTEM for side in ("a", "b")
]


# The context table's columns, and its ablation's and bags of words'.
CONTEXT_COLUMNS = [
    "model", "split", "system", "modifier", "target", "base", "effect_alone", "effect_after", "settled_alone",
    "settled_after", "gain", "settled_gain", "linearized_after", "linearized_at_fixed_point", "speed_before",
    "speed_after", "relax_steps",
]  # fmt: skip
ABLATION_COLUMNS = ["model", "system", "modifier", "k", "effect_remaining"]
BOW_COLUMNS = ["model", "split", "bow_accuracy", "contextual_bow_accuracy", "rnn_accuracy", "share_recovered"]


# ---------------------------------------------------------------------------
# The systems the similarity and context stages plan their jobs over


@dataclass(frozen=True)
class SystemName:
    """One system of one model on one split: ``{model}{split_tag}/{system}``."""

    model: ModelSpec
    split: str
    system: str

    @classmethod
    def parse(cls, name: str) -> "SystemName":
        tagged, slash, system = name.partition("/")
        model_id, split = untag(tagged)
        if not slash or not system:
            raise ValueError(f"similarity system {name!r} is not of the form '{{model}}{{split_tag}}/{{system}}'")
        return cls(ModelSpec.parse(model_id), split, system)

    @property
    def name(self) -> str:
        return f"{self.model.id}{split_tag(self.split)}/{self.system}"


# The value of an axis for a system, and the system with another value there.
_AXES = {
    "seed": lambda s: s.model.seed,
    "batch_size": lambda s: s.model.batch_size,
    "train_fraction": lambda s: s.model.train_fraction,
    "embedding": lambda s: s.model.embedding,
    "architecture": lambda s: s.model.architecture,
    "split": lambda s: s.split,
    "layer": lambda s: s.system,
}


# The config keys an axis's values come from: an axis of one value gives no pair to compare.
AXIS_KEYS = {
    "seed": "models.seeds",
    "batch_size": "models.batch_size",
    "train_fraction": "models.train_fraction",
    "embedding": "models.embedding",
    "architecture": "models.architectures",
    "split": "states.splits",
    "layer": "models.layers with fixed_points.mode per_layer",
}


def axis_value(system: SystemName, axis: str):
    return _AXES[axis](system)


def axis_pairs(systems: list[SystemName], axis: str) -> list[tuple[SystemName, SystemName]]:
    """Every pair of ``systems`` that differ in ``axis`` alone, in the order of ``systems``."""
    if axis not in _AXES:
        raise ValueError(f"similarity.axes: unknown axis {axis!r}; known: {sorted(_AXES)}")
    others = [name for name in _AXES if name != axis]

    def rest(system):
        key = {name: axis_value(system, name) for name in others}
        key["layers"] = system.model.layers  # two depths are two models, never one axis's pair
        key["imported"] = system.model.imported  # an imported network and a trained one differ in more than an axis
        return key

    return [(a, b) for a, b in itertools.combinations(systems, 2) if rest(a) == rest(b)]


def pairs(
    settings: SimilaritySettings, models: list[ModelSpec], splits: list[str], mode: str
) -> list[tuple[str, SystemName, SystemName]]:
    """The pairs to compare, as (axis, a, b): the configured ones (axis ``pair``), then each axis's.

    Raises ValueError, before any job is planned (the Snakefile calls this while it reads the config), naming a
    configured system that is not in the grid, a configured pair of a system with itself (DSA 0 and CKA 1 by
    construction: no measurement), or an axis of ``similarity.axes`` along which no two systems differ (one value
    in the grid: nothing to compare, no table, no figure).
    """
    systems = [
        SystemName(model, split, system) for model in models for split in splits for system in model.systems(mode)
    ]
    known = {system.name for system in systems}
    found = []
    for a, b in settings.pairs:
        for name in (a, b):
            if name not in known:
                raise ValueError(
                    f"similarity.pairs: {name!r} is not a system of the grid (models, states.splits, fixed_points.mode)"
                    f"; e.g. {sorted(known)[:3]}"
                )
        if a == b:
            raise ValueError(
                f"similarity.pairs: the pair [{a!r}, {b!r}] compares a system with itself (DSA 0 and CKA 1 by "
                "construction); name two different systems"
            )
        found.append(("pair", SystemName.parse(a), SystemName.parse(b)))
    for axis in settings.axes:
        along = axis_pairs(systems, axis)
        if not along:
            values = list(dict.fromkeys(axis_value(system, axis) for system in systems))
            remedy = (
                "list a model of 2 or more layers in models.layers, with fixed_points.mode per_layer"
                if axis == "layer"
                else f"give {AXIS_KEYS[axis]} a second value"
            )
            raise ValueError(
                f"similarity.axes: the axis {axis!r} has one value in the grid ({', '.join(map(repr, values))}, "
                f"from {AXIS_KEYS[axis]}), so no two systems differ in it alone and nothing would be compared; "
                f"{remedy}, or leave {axis!r} out of similarity.axes"
            )
        found += [(axis, a, b) for a, b in along]
    return found


def probed_systems(spec, systems: list[str]) -> list[str]:
    """The systems among ``systems`` of the model ``spec`` (a ``ModelSpec``) that read the embedding and are
    read out: the stack, or layer1 of a one-layer model; none for the layers of a deeper one (per_layer)."""
    return [name for name in systems if name == "stack" or (name == "layer1" and spec.layers == 1)]
