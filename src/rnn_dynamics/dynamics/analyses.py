"""The original paper's line-attractor measures of one system (a layer, or the stack) of a trained model.

Given the system's linearization at its fixed points (``linearization.Linearization``):

- dimensionality: the fraction of the fixed points' variance on their first principal component;
- the top eigenvalues of ``J_rec`` and their time constants, against the mean review length
  (an integrator needs tau longer than a review);
- alignment: ``|cos|`` between the readout direction (in the system's state space) and the top
  right eigenvector, against random unit vectors;
- word valence: ``l_1^T J_inp x_w`` for every word embedding ``x_w`` (systems that read the
  embedding), next to a bag-of-words logistic regression's coefficients;
- linearized dynamics: the one-step error of the linear model around the nearest fixed point,
  and a classifier that runs the linear model over whole reviews.

The top mode is oriented per fixed point so that positive reviews' final states project higher
on ``l_1`` than negative ones': a positive valence pushes a review towards "positive".

For every number of classes, the geometry of integration of Aitken et al. (2021) (``manifold``): the
fixed-point manifold's dimension, the readout's simplex and its share in the manifold and the slow
modes, the slow modes along the manifold, the accuracy from the final state projected on the visited
states' top k PCs and with each review's words shuffled. The manifold is measured in h, the space each
layer outputs and the readout reads (an LSTM's h, not its state [h, c]; ``Settings.manifold_space``).
The measures that read one readout direction (alignment, valence, the mode orientation) are binary
only: NaN, or empty tables, for N > 2 classes.

Beside the measures, their nulls (``evidence``): the readout's against random readouts and subspaces, the
accuracy and the visited states' dimension against the same network on shuffled words
(``shuffled_words_rows``) and, where the network's initial weights are given (``Untrained``), the fixed-point
set's dimension and extent against the same search on the untrained network (``untrained_rows``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from tqdm import tqdm

from rnn_dynamics.data.batches import Reviews, bucketed_batches, padded_batch
from rnn_dynamics.dynamics import evidence, fixed_points, linearization, manifold, spectra
from rnn_dynamics.dynamics.linearization import Linearization
from rnn_dynamics.dynamics.spectra import time_constant, variance_fractions
from rnn_dynamics.ground.stages import AnalysesSettings as Settings
from rnn_dynamics.ground.storage import atomic_path, list_matrix, write_json
from rnn_dynamics.networks import training

__all__ = [
    "CPU",
    "LinearModel",
    "Settings",
    "Untrained",
    "VisitedMoments",
    "alignment",
    "analyze",
    "bag_of_words",
    "bag_of_words_coefficients",
    "eigenvalue_table",
    "evaluate_system",
    "linearized_logits",
    "manifold_coordinates",
    "manifold_measures",
    "mode_orientation",
    "model_device",
    "output_coordinates",
    "predicted_classes",
    "projected_accuracy",
    "shuffled",
    "shuffled_words_rows",
    "slow_mode_readout_shares",
    "subset",
    "system_readout",
    "system_readout_matrix",
    "system_sequences",
    "top_words",
    "unit",
    "untrained_rows",
    "untrained_set",
    "valence_correlation",
    "valence_table",
    "visited_moments",
    "word_valence",
    "write",
]

CPU = torch.device("cpu")


# ---------------------------------------------------------------------------
# Fixed-point set and eigenvalues


def eigenvalue_table(lin: Linearization, mean_length: float, top: int = 3) -> pd.DataFrame:
    """The ``top`` eigenvalues of ``J_rec`` at each fixed point with their time constants (steps)."""
    top = min(top, lin.eigenvalues.shape[1]) if len(lin.eigenvalues) else 0
    rows = [
        {
            "fixed_point_id": int(fixed_point_id),
            "rank": rank + 1,
            "eigenvalue_real": float(values[rank].real),
            "eigenvalue_imag": float(values[rank].imag),
            "modulus": float(abs(values[rank])),
            "time_constant": float(time_constant(abs(values[rank]))),
            "mean_review_length": mean_length,
        }
        for fixed_point_id, values in zip(lin.fixed_point_id, lin.eigenvalues)
        for rank in range(top)
    ]
    columns = [
        "fixed_point_id",
        "rank",
        "eigenvalue_real",
        "eigenvalue_imag",
        "modulus",
        "time_constant",
        "mean_review_length",
    ]
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------------
# Readout alignment


def system_readout(model, system_name: str) -> tuple[np.ndarray, float] | None:
    """The classifier's logit as ``w . h + b`` in the system's state space, or None when its state is not read out.

    Only the top layer's state (or the stack's) reaches the readout directly.
    """
    if system_name not in ("stack", f"layer{model.spec.layers}"):
        return None
    w, b = model.readout_weights()
    return pulled_back(model.system(system_name), w[None])[0], b


def pulled_back(system, rows: torch.Tensor) -> np.ndarray:
    """``rows`` (C, R) of a readout of ``system.readout(h)`` as rows (C, S) of the state: the readout map picks
    part of the state (an LSTM's h of [h, c]), so each row is pulled back through it (autograd's vector-Jacobian
    product at h = 0; the map is linear)."""
    origin = torch.zeros(system.state_size, dtype=torch.float64, device=rows.device, requires_grad=True)
    with torch.enable_grad():
        picked = system.readout(origin)
        pulled = [torch.autograd.grad(picked, origin, row.to(torch.float64), retain_graph=True)[0] for row in rows]
    return torch.stack(pulled).cpu().numpy()


def system_readout_matrix(model, system_name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The classifier's logits as ``W h + b`` in the system's state space (W (C, S), b (C,); C = 1 for a
    binary model), or None when the system's state is not read out."""
    if system_name not in ("stack", f"layer{model.spec.layers}"):
        return None
    rows = pulled_back(model.system(system_name), model.readout.weight.detach())
    return rows, model.readout.bias.detach().to(torch.float64).cpu().numpy()


def predicted_classes(logits: np.ndarray) -> np.ndarray:
    """The class of each row of logits (B, C): the sign of one logit, the largest of N (``model.predict``)."""
    logits = np.asarray(logits)
    return (logits[:, 0] > 0).astype(np.int64) if logits.shape[1] == 1 else logits.argmax(axis=1)


def unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors)
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def alignment(lin: Linearization, direction: np.ndarray, null_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """|cos| of ``direction`` with the top right eigenvector at each fixed point (K,), and with random unit vectors."""
    direction = unit(direction)
    top_mode = unit(lin.right[:, 0].real) if len(lin.right) else np.zeros((0, len(direction)))
    random = unit(np.random.default_rng(seed).standard_normal((null_samples, len(direction))))
    return np.abs(top_mode @ direction), np.abs(random @ direction)


# ---------------------------------------------------------------------------
# Word valence


def mode_orientation(lin: Linearization, final_states: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """+1 or -1 per fixed point: the sign making positive reviews' final states project higher on ``l_1``."""
    labels = np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        raise ValueError("orienting the top mode needs final states of both labels")
    projections = final_states @ lin.left[:, 0].real.T  # (N, K)
    difference = projections[labels].mean(axis=0) - projections[~labels].mean(axis=0)
    return np.where(difference >= 0, 1.0, -1.0)


def word_valence(lin: Linearization, embeddings: np.ndarray, orientation: np.ndarray) -> np.ndarray:
    """``l_1^T J_inp x_w`` for every row ``x_w`` of ``embeddings`` (V, I), oriented, averaged over fixed points."""
    if len(lin.left_input) == 0:
        return np.full(len(embeddings), np.nan)
    projected_input = lin.left_input[:, 0].real * orientation[:, None]  # (K, I)
    return (np.asarray(embeddings, dtype=np.float64) @ projected_input.T).mean(axis=1)


def bag_of_words(reviews: Reviews, vocab_size: int) -> sparse.csr_matrix:
    """Word counts (N, V) of each review."""
    rows = np.repeat(np.arange(len(reviews)), reviews.lengths)
    counts = sparse.csr_matrix((np.ones(len(reviews.tokens)), (rows, reviews.tokens)), shape=(len(reviews), vocab_size))
    counts.sum_duplicates()
    return counts


def bag_of_words_coefficients(reviews: Reviews, vocab_size: int, regularization: float) -> np.ndarray:
    """The coefficient of each word (V,) in a logistic regression on binary bag-of-words features."""
    features = bag_of_words(reviews, vocab_size)
    features.data[:] = 1.0
    classifier = LogisticRegression(C=regularization, max_iter=2000)
    classifier.fit(features, reviews.labels.astype(int))
    return classifier.coef_[0]


def valence_table(valence: np.ndarray, coefficients: np.ndarray, tokens: list[str], counts: np.ndarray) -> pd.DataFrame:
    """Every word seen in training (specials excluded) with its valence and regression coefficient, by valence."""
    seen = np.asarray(counts) > 0
    seen[:2] = False  # <pad>, <unk>
    index = np.flatnonzero(seen)
    table = pd.DataFrame(
        {
            "index": index,
            "token": [tokens[i] for i in index],
            "count": np.asarray(counts)[index],
            "valence": valence[index],
            "regression_coefficient": coefficients[index],
        }
    )
    return table.sort_values("valence", ascending=False, kind="stable").reset_index(drop=True)


def valence_correlation(table: pd.DataFrame) -> float:
    """Pearson correlation of the valences with the regression coefficients (NaN below 3 words)."""
    if len(table) < 3 or table["valence"].isna().any():
        return float("nan")
    return float(np.corrcoef(table["valence"], table["regression_coefficient"])[0, 1])


# ---------------------------------------------------------------------------
# Linearized dynamics


class LinearModel:
    """``h' = h* + J_rec (h - h*) + J_inp x`` around the fixed point ``h*`` nearest to ``h``.

    The Jacobians are never formed: ``J_rec (h - h*) + J_inp x`` is one
    Jacobian-vector product of the system's update at ``(h*, 0)``, batched over
    states, whatever the number of fixed points. It is autograd's (two backward passes),
    not ``torch.func.jvp``: the same numbers at about the same speed, without loading
    ``torch._dynamo``, which ``torch.func`` does on its first call in every job
    (``benchmarks/linear_step.py``).
    """

    def __init__(self, lin: Linearization, system, device: str | torch.device = CPU):
        if len(lin.fixed_point) == 0:
            raise ValueError("no fixed points to linearize around")
        # A copy: the array may be a read-only view of a Parquet table. On ``device``, where the system's weights are.
        self.points = torch.tensor(lin.fixed_point, device=device)
        self.system = system

    def nearest(self, h: torch.Tensor) -> torch.Tensor:
        return torch.cdist(h, self.points).argmin(dim=1)

    def step(self, h: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The next states (B, S), and the fixed point each one was linearized around."""
        points = self.points[self.nearest(h)]
        _, change = torch.autograd.functional.jvp(self.system.step, (points, torch.zeros_like(x)), (h - points, x))
        return points + change, points


def system_sequences(
    model, system_name: str, tokens: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The system's inputs (B, T, I) and states (B, T, S) over a padded batch, float64."""
    with torch.no_grad():
        layer_states = model.layer_states(tokens, lengths)
        embedded = model.embedding(tokens)
    if system_name == "stack":
        return embedded.double(), torch.cat(layer_states, dim=-1).double()
    layer = int(system_name.removeprefix("layer"))
    inputs = embedded if layer == 1 else model.cell.output(layer_states[layer - 2])
    return inputs.double(), layer_states[layer - 1].double()


def _run(step, h: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    states = []
    for t in range(inputs.shape[1]):
        h = step(h, inputs[:, t])
        states.append(h)
    return torch.stack(states, dim=1)


def linearized_logits(
    model, system_name: str, linear: LinearModel, tokens: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """Logits (B,) or (B, N) of the network with the system replaced by its linear model (from a zero state).

    Layers below a linearized layer run exactly; layers above it step their own
    equations on the linearized layer's output.
    """
    inputs, _ = system_sequences(model, system_name, tokens, lengths)
    zeros = inputs.new_zeros(len(tokens), linear.points.shape[1])
    states = _run(lambda h, x: linear.step(h, x)[0], zeros, inputs)
    system = model.system(system_name)
    outputs = system.readout(states)
    if system_name != "stack":
        for layer in range(int(system_name.removeprefix("layer")) + 1, model.spec.layers + 1):
            upper = model.system(f"layer{layer}")
            outputs = upper.readout(_run(upper.step, outputs.new_zeros(len(tokens), upper.state_size), outputs))
    last = outputs[torch.arange(len(tokens), device=tokens.device), lengths - 1]
    logits = last @ model.readout.weight.detach().double().T + model.readout.bias.detach().double()
    return logits.squeeze(-1) if model.classes == 2 else logits


def model_device(model) -> torch.device:
    """The device the model's weights are on."""
    return next(model.parameters()).device


class VisitedMoments:
    """The mean and covariance of states seen in batches (float64 sums): every state a set of reviews visits."""

    def __init__(self):
        self.count, self.sum, self.outer = 0, 0.0, 0.0

    def add(self, states: torch.Tensor) -> None:
        """Add a batch of states (N, S)."""
        self.count += len(states)
        self.sum = self.sum + states.sum(dim=0).cpu().numpy()
        self.outer = self.outer + (states.T @ states).cpu().numpy()

    def mean_covariance(self) -> tuple[np.ndarray, np.ndarray]:
        mean = self.sum / self.count
        return mean, (self.outer - self.count * np.outer(mean, mean)) / max(self.count - 1, 1)


def visited_moments(model, system_name: str, reviews: Reviews, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """The mean (S,) and covariance (S, S) of every state the system visits over ``reviews``."""
    device = model_device(model)
    moments = VisitedMoments()
    for indices in bucketed_batches(reviews.lengths, batch_size):
        tokens, lengths, _ = padded_batch(reviews, indices, device)
        _, states = system_sequences(model.eval(), system_name, tokens, lengths)
        moments.add(states[torch.arange(tokens.shape[1], device=device)[None, :] < lengths[:, None]])
    return moments.mean_covariance()


def evaluate_system(
    model, system_name: str, lin: Linearization, reviews: Reviews, batch_size: int = 64, progress: bool = True
) -> dict:
    """Over ``reviews``: final states and labels (for orienting modes), the mean and covariance of every
    state visited (their principal components), one-step errors of the linear model, and the accuracies
    of the network and of its linearized version.

    Runs on the device of ``model``'s weights; the results are numpy arrays (on the CPU) and numbers."""
    device = model_device(model)
    linear = LinearModel(lin, model.system(system_name), device) if len(lin.fixed_point) else None
    finals, labels, errors, network_correct, linear_correct = [], [], [], 0, 0
    moments = VisitedMoments()
    model.eval()
    for indices in tqdm(
        bucketed_batches(reviews.lengths, batch_size), desc=f"{model.spec.id} {system_name}", disable=not progress
    ):
        tokens, lengths, batch_labels = padded_batch(reviews, indices, device)
        inputs, states = system_sequences(model, system_name, tokens, lengths)
        finals.append(states[torch.arange(len(tokens), device=device), lengths - 1].cpu().numpy())
        labels.append(batch_labels.cpu().numpy())
        valid = torch.arange(tokens.shape[1], device=device)[None, :] < lengths[:, None]
        moments.add(states[valid])
        with torch.no_grad():
            network_correct += int((model.predict(model(tokens, lengths)) == batch_labels.long()).sum())
            if linear is None:
                continue
            previous = torch.cat([torch.zeros_like(states[:, :1]), states[:, :-1]], dim=1)
            predicted, points = linear.step(previous[valid], inputs[valid])
            actual = states[valid]
            errors.append(((predicted - actual).norm(dim=1) / (actual - points).norm(dim=1)).cpu().numpy())
            linear_logits = linearized_logits(model, system_name, linear, tokens, lengths)
            linear_correct += int((model.predict(linear_logits) == batch_labels.long()).sum())
    mean, covariance = moments.mean_covariance()
    return {
        "final_states": np.concatenate(finals),
        "labels": np.concatenate(labels),
        "visited_mean": mean,
        "visited_covariance": covariance,
        "one_step_error": np.concatenate(errors) if errors else np.zeros(0),
        "network_accuracy": network_correct / len(reviews),
        "linearized_accuracy": linear_correct / len(reviews) if linear is not None else float("nan"),
    }


def subset(reviews: Reviews, count: int | str, seed: int) -> Reviews:
    """``count`` reviews chosen with ``seed`` (all of them for "all" or a count at least their number)."""
    if count == "all" or count >= len(reviews):
        return reviews
    rows = np.sort(np.random.default_rng(seed).choice(len(reviews), size=count, replace=False))
    pieces = [reviews.tokens[reviews.offsets[r] : reviews.offsets[r + 1]] for r in rows]
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in pieces])]).astype(np.int64)
    return Reviews(np.concatenate(pieces), offsets, reviews.labels[rows], reviews.classes)


def shuffled(reviews: Reviews, seed: int) -> Reviews:
    """``reviews`` with each one's words in a random order (what the order of words adds to accuracy)."""
    rng = np.random.default_rng(seed)
    tokens = reviews.tokens.copy()
    for begin, end in zip(reviews.offsets[:-1], reviews.offsets[1:]):
        tokens[begin:end] = rng.permutation(tokens[begin:end])
    return Reviews(tokens, reviews.offsets, reviews.labels, reviews.classes)


# ---------------------------------------------------------------------------
# The geometry of integration (any number of classes)


def projected_accuracy(
    final_states: np.ndarray,
    labels: np.ndarray,
    readout: tuple[np.ndarray, np.ndarray],
    components: int,
    visited: tuple[np.ndarray, np.ndarray],
) -> pd.DataFrame:
    """The readout's accuracy on the final states (N, S) projected on the visited states' top k principal
    components (about their mean), for k = 1..``components``: the PCs the state figures show, of every
    state the reviews pass through, not of the final states alone. ``visited``: the visited states' mean
    (S,) and covariance (S, S); NaN where a state is not finite."""
    weights, bias = readout
    centre, covariance = visited
    if not (np.isfinite(final_states).all() and np.isfinite(covariance).all()):  # a blown-up network: no PCs
        return pd.DataFrame({"components": np.arange(1, components + 1), "accuracy": np.nan})
    variances, vectors = np.linalg.eigh(covariance)
    axes = vectors[:, np.argsort(variances)[::-1][: min(components, len(variances))]]
    rows = []
    for k in range(1, axes.shape[1] + 1):
        projected = centre + (final_states - centre) @ axes[:, :k] @ axes[:, :k].T
        correct = predicted_classes(projected @ weights.T + bias) == np.asarray(labels).astype(np.int64)
        rows.append({"components": k, "accuracy": float(correct.mean())})
    return pd.DataFrame(rows, columns=["components", "accuracy"])


def output_coordinates(model, system_name: str) -> np.ndarray:
    """The coordinates of the system's state that its layers output (``cell.output``, a selection: an
    LSTM's h of [h, c], every coordinate of the other cells), each layer's for the stack: the space the
    readout reads."""
    size = model.cell.state_size(model.spec.hidden)
    index = torch.arange(size, dtype=torch.float64)
    picked = model.cell.output(index).numpy().astype(np.int64)
    layers = model.spec.layers if system_name == "stack" else 1
    return np.concatenate([picked + layer * size for layer in range(layers)])


def manifold_coordinates(model, system_name: str, space: str) -> np.ndarray:
    """The coordinates of the system's state the manifold's measures read: its layers' output (``h``,
    ``output_coordinates``) or the whole state (``state``; ``Settings.manifold_space``)."""
    if space == "h":
        return output_coordinates(model, system_name)
    return np.arange(model.system(system_name).state_size)


def slow_mode_readout_shares(
    system, lin: Linearization, vectors: np.ndarray, threshold: float, device=CPU, chunk: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Per fixed point, ``manifold.span_share`` of ``vectors`` (C, S) in the span of its slow right
    eigenvectors (|lambda| > threshold, stable or not) and that span's dimension (a random subspace of
    dimension d holds d / S of them on average: the null). The stored linearization keeps too few modes
    for N classes, so the eigenvectors are recomputed, ``chunk`` points at a time (their Jacobians on
    ``device``, where ``system``'s weights are)."""
    shares, sizes = [], []
    for begin in range(0, len(lin.fixed_point), chunk):
        j_rec, _ = linearization.jacobians(system, lin.fixed_point[begin : begin + chunk], device=device)
        values, right, _ = linearization.eigendecomposition(j_rec, modes=None)
        for v, r in zip(values, right):
            span = manifold.slow_subspace(v, r, threshold)
            shares.append(manifold.span_share(vectors, span))
            sizes.append(np.linalg.matrix_rank(span) if span.size else 0)
    return np.array(shares), np.array(sizes)


def manifold_measures(model, system_name: str, lin: Linearization, evaluation: dict, settings: Settings) -> dict:
    """The geometry of integration of one system (see ``manifold``): summary numbers, a table per fixed
    point (top 3 PC coordinates, slow-mode counts, predicted class, readout share in its slow modes) and
    the accuracy from the final states projected on the visited states' top k PCs; and the final states
    on the fixed points' top 3 PCs with the readout's class (``visited``, for the figure).

    The manifold's dimension and the readout's geometry are measured in ``settings.manifold_space``: h
    (``output_coordinates``, what the readout reads) or the whole state; the slow modes are the
    system's, in its whole state."""
    classes = model.classes
    coordinates_kept = manifold_coordinates(model, system_name, settings.manifold_space)
    points = lin.fixed_point[:, coordinates_kept]
    fractions = spectra.variance_fractions(points)
    summary = {
        "classes": classes,
        "manifold_space": "[h, c]" if settings.manifold_space == "state" and model.spec.architecture == "lstm" else "h",
        **manifold.dimensions(points, lin.modulus),
        "pcs_class_share": manifold.components_to_reach(fractions, classes / (classes + 1)),
        "local_participation_ratio": manifold.local_participation_ratio(points, classes, seed=settings.seed),
        "simplex_angle": manifold.simplex_angle(classes),
    }
    coordinates = np.full((len(points), 3), np.nan)
    finals = evaluation["final_states"][:, coordinates_kept]
    visited = np.full((len(finals), 3), np.nan)
    if len(points) >= 2:
        axes = manifold.principal_axes(points, 3)
        coordinates[:, : axes.shape[1]] = (points - points.mean(axis=0)) @ axes
        visited[:, : axes.shape[1]] = (finals - points.mean(axis=0)) @ axes
    table = pd.DataFrame(
        {
            "fixed_point_id": lin.fixed_point_id,
            **{f"pc{k + 1}": coordinates[:, k] for k in range(3)},
            **manifold.mode_counts(lin.modulus),
        }
    )
    readout = system_readout_matrix(model, system_name)
    accuracy = pd.DataFrame(columns=["components", "accuracy"])
    summary |= dict.fromkeys(
        ["readout_angle_median", "readout_in_manifold_share", "null_readout_in_manifold_median",
         "null_readout_in_manifold_95", "readout_in_slow_modes_median", "null_readout_in_slow_modes_median",
         "projected_accuracy_n_minus_1"],
        float("nan"),
    )  # fmt: skip
    rows = []  # the evidence rows (``evidence.row``): each readout measure beside its null
    table["predicted_class"] = -1
    table["readout_in_slow_modes"] = np.nan
    visited = pd.DataFrame({f"pc{k + 1}": visited[:, k] for k in range(3)}).assign(predicted_class=-1)
    if readout is not None:
        # The readout in the measured space: it reads h alone, so nothing of it is lost there.
        weights = readout[0][:, coordinates_kept]
        vectors = manifold.centred_class_vectors(weights)
        summary["readout_angle_median"] = float(np.median(manifold.readout_angles(weights)))
        if classes >= 3:  # two classes' centred vectors are opposite whatever the readout: no null to read
            angles = evidence.random_readout_angles(classes, weights.shape[1], settings.null_samples, settings.seed)
            rows.append(
                evidence.row(
                    "readout_angle_median", summary["readout_angle_median"], "random_readout", angles, "either"
                )
            )
        if len(points) >= 2:
            span = manifold.principal_axes(points, classes - 1)
            null = manifold.random_span_shares(vectors, span.shape[1], settings.null_samples, settings.seed)
            summary["readout_in_manifold_share"] = manifold.span_share(vectors, span)
            summary["null_readout_in_manifold_median"] = float(np.median(null))
            summary["null_readout_in_manifold_95"] = float(np.quantile(null, 0.95))
            rows.append(
                evidence.row(
                    "readout_in_manifold_share", summary["readout_in_manifold_share"], "random_subspace", null, "larger"
                )
            )
        if len(points):
            table["predicted_class"] = predicted_classes(lin.fixed_point @ readout[0].T + readout[1])
            shares, sizes = slow_mode_readout_shares(
                model.system(system_name),
                lin,
                manifold.centred_class_vectors(readout[0]),
                manifold.SLOW_MODULI[0],
                model_device(model),
            )
            table["readout_in_slow_modes"] = shares
            summary["readout_in_slow_modes_median"] = float(np.median(shares))
            summary["null_readout_in_slow_modes_median"] = float(np.median(sizes / lin.fixed_point.shape[1]))
            # The null of the median share: random subspaces of the median slow span's size.
            slow_null = evidence.random_subspace_shares(
                manifold.centred_class_vectors(readout[0]), int(np.median(sizes)), settings.null_samples, settings.seed
            )
            rows.append(
                evidence.row(
                    "readout_in_slow_modes_median", summary["readout_in_slow_modes_median"], "random_subspace",
                    slow_null, "larger",
                )
            )  # fmt: skip
        visited["predicted_class"] = predicted_classes(finals @ weights.T + readout[1])
        moments = (
            evaluation["visited_mean"][coordinates_kept],
            evaluation["visited_covariance"][np.ix_(coordinates_kept, coordinates_kept)],
        )
        accuracy = projected_accuracy(finals, evaluation["labels"], (weights, readout[1]), classes, moments)
        if len(accuracy) >= classes - 1:  # a state of fewer dimensions than N - 1 has no such projection
            summary["projected_accuracy_n_minus_1"] = float(accuracy["accuracy"].iloc[classes - 2])
    return {
        "summary": summary, "manifold": table, "visited": visited, "projected_accuracy": accuracy,
        "evidence": rows,
    }  # fmt: skip


# ---------------------------------------------------------------------------
# Nulls that need the network run again


def shuffled_words_rows(
    model, system_name: str, sample: Reviews, evaluation: dict, coordinates: np.ndarray, seed: int
) -> list[dict]:
    """The network's accuracy on ``sample`` and the participation ratio of the states its system visits there
    (in ``coordinates``, the manifold's space), beside the same network on ``sample`` with each review's words
    in another order (``evidence.SHUFFLES`` shufflings, seeds ``seed``, ``seed + 1``, ...).

    What this null tests: whether the measure depends on the order of the words. A network that sums its
    words' evidence (a bag of words: the synthetic tasks' labels, much of sentiment) reaches the same accuracy
    and visits states of the same dimension in any order, so its rows lie within this null; a row beyond it
    says that the order changes what the network concludes (accuracy, larger) or where its states go (their
    dimension, either side): a modifier acting on the next word, a memory of position."""
    device = model_device(model)
    kept = np.ix_(coordinates, coordinates)

    def dimension(covariance: np.ndarray) -> float:
        """NaN for the states of a network whose weights are not finite (nothing to measure, as elsewhere)."""
        covariance = covariance[kept]
        if not np.isfinite(covariance).all():
            return float("nan")
        return spectra.variance_participation_ratio(np.linalg.eigvalsh(covariance))

    ratio, accuracy, ratios = dimension(evaluation["visited_covariance"]), [], []
    for shuffle in range(evidence.SHUFFLES):
        reviews = shuffled(sample, seed + shuffle)
        accuracy.append(training.evaluate(model, reviews, 64, device)[1])
        ratios.append(dimension(visited_moments(model, system_name, reviews)[1]))
    return [
        evidence.row("network_accuracy", evaluation["network_accuracy"], "shuffled_words", accuracy, "larger"),
        evidence.row("states_participation_ratio", ratio, "shuffled_words", ratios, "either"),
    ]


@dataclass(frozen=True)
class Untrained:
    """What the fixed points' untrained null needs: the network at its initial weights (``initial.pt``), the
    trained system's gathered fixed-point table, and the search's and the gather's settings (the fixed_points
    section, as the trained system's shards and gather read it)."""

    network: object
    fixed_points: pa.Table
    search: fixed_points.SearchSettings
    gather: fixed_points.GatherSettings


def untrained_set(
    untrained, system_name: str, reviews: Reviews, search: fixed_points.SearchSettings,
    gather: fixed_points.GatherSettings,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The unique approximate fixed points (K, S) of ``untrained``'s system and their starts (B, S), found as
    the trained system's are: ``search.starts`` of the states it visits over ``reviews`` (all of them where
    fewer; the trained search draws from its states' dump of the same split), the same solver, tolerance rule
    and gather verdicts. One call of the library search, not the sharded rules: the null is one search per
    system inside the analysis, and the workflow keeps one fixed-point DAG, the trained networks'."""
    device = model_device(untrained)
    visited = []
    for indices in bucketed_batches(reviews.lengths, 64):
        tokens, lengths, _ = padded_batch(reviews, indices, device)
        _, states = system_sequences(untrained.eval(), system_name, tokens, lengths)
        # Kept in float32, as the trained states' dump is: the starts are drawn in float64.
        visited.append(
            states[torch.arange(tokens.shape[1], device=device)[None, :] < lengths[:, None]].float().cpu().numpy()
        )
    visited = np.concatenate(visited)
    starts = fixed_points.sample_starts(visited, min(search.starts, len(visited)), search.noise, search.seed)
    system = untrained.system(system_name)
    result = fixed_points.solve(system, starts, search, device, progress=False)
    unique = fixed_points.unique_fixed_points(fixed_points.gather([result.to_table()], gather))
    return list_matrix(unique["fixed_point"], system.state_size), starts


def untrained_rows(system_name: str, reviews: Reviews, untrained: Untrained, seed: int) -> list[dict]:
    """The trained system's fixed-point set measures (``manifold.set_measures`` of its gathered table) beside the
    untrained network's (``untrained_set`` over ``reviews``, ``evidence.untrained_set_rows``)."""
    table = untrained.fixed_points
    trained = manifold.set_measures(
        list_matrix(fixed_points.unique_fixed_points(table)["fixed_point"]), list_matrix(table["start"])
    )
    points, starts = untrained_set(untrained.network, system_name, reviews, untrained.search, untrained.gather)
    return evidence.untrained_set_rows(trained, points, starts, seed)


# ---------------------------------------------------------------------------
# Everything for one system


def analyze(
    model,
    system_name: str,
    lin: Linearization,
    train: Reviews,
    test: Reviews,
    tokens: list[str],
    counts: np.ndarray,
    settings: Settings,
    progress: bool = True,
    untrained: Untrained | None = None,
) -> dict:
    """All measures of one system: a summary (plain numbers) and one table per analysis, and the evidence rows
    (each measure beside its null; the fixed points' untrained null where ``untrained`` is given).

    The network runs on the device its weights are on (``model.load(..., map_location=device)``);
    every result is on the CPU. For more than two classes the measures reading one readout direction
    (alignment, valence, mode orientation) are NaN or empty."""
    binary = model.classes == 2
    sample = subset(test, settings.reviews, settings.seed)
    evaluation = evaluate_system(model, system_name, lin, sample, progress=progress)
    mean_length = float(train.lengths.mean())
    fractions = variance_fractions(lin.fixed_point)
    summary = {
        "model": model.spec.id,
        "architecture": model.spec.architecture,
        "system": system_name,
        "fixed_points": int(len(lin.fixed_point)),
        "pc1_fraction": float(fractions[0]) if len(fractions) else float("nan"),
        "mean_review_length": mean_length,
    }
    eigenvalues = eigenvalue_table(lin, mean_length)
    top = eigenvalues[eigenvalues["rank"] == 1]
    summary["top_modulus_median"] = float(top["modulus"].median()) if len(top) else float("nan")
    summary["time_constant_median"] = float(top["time_constant"].median()) if len(top) else float("nan")

    readout = system_readout(model, system_name) if binary else None
    aligned, null = (
        alignment(lin, readout[0], settings.null_samples, settings.seed) if readout else (np.zeros(0), np.zeros(0))
    )
    alignment_table = pd.DataFrame({"fixed_point_id": lin.fixed_point_id[: len(aligned)], "abs_cos_top_mode": aligned})
    summary["alignment_median"] = float(np.median(aligned)) if len(aligned) else float("nan")
    summary["null_alignment_median"] = float(np.median(null)) if len(null) else float("nan")
    summary["null_alignment_95"] = float(np.quantile(null, 0.95)) if len(null) else float("nan")
    alignment_rows = (
        [evidence.row("alignment_median", summary["alignment_median"], "random_readout", null, "larger")]
        if len(null)
        else []
    )

    reads_embedding = system_name in ("stack", "layer1")
    if binary and reads_embedding and len(lin.fixed_point):
        orientation = mode_orientation(lin, evaluation["final_states"], evaluation["labels"])
        embeddings = model.embedding.weight.detach().double().cpu().numpy()
        valence = word_valence(lin, embeddings, orientation)
        coefficients = bag_of_words_coefficients(train, len(tokens), settings.regularization)
        words = valence_table(valence, coefficients, tokens, counts)
    else:
        words = valence_table(np.full(len(tokens), np.nan), np.full(len(tokens), np.nan), tokens, np.zeros(len(tokens)))
    summary["valence_correlation"] = valence_correlation(words)

    errors = evaluation["one_step_error"]
    summary["one_step_error_median"] = float(np.median(errors)) if len(errors) else float("nan")
    summary["one_step_error_90"] = float(np.quantile(errors, 0.9)) if len(errors) else float("nan")
    summary["network_accuracy"] = evaluation["network_accuracy"]
    summary["linearized_accuracy"] = evaluation["linearized_accuracy"]
    summary["reviews_evaluated"] = int(len(sample))
    device = model_device(model)
    summary["shuffled_accuracy"] = training.evaluate(model, shuffled(sample, settings.seed), 64, device)[1]
    geometry = manifold_measures(model, system_name, lin, evaluation, settings)
    summary |= geometry["summary"]
    coordinates = manifold_coordinates(model, system_name, settings.manifold_space)
    rows = alignment_rows + geometry["evidence"]
    rows += shuffled_words_rows(model, system_name, sample, evaluation, coordinates, settings.seed)
    if untrained is not None:
        rows += untrained_rows(system_name, sample, untrained, settings.seed)
    linearized = pd.DataFrame({"one_step_relative_error": errors})
    dimensionality = pd.DataFrame({"component": np.arange(1, len(fractions) + 1), "variance_fraction": fractions})
    return {
        "summary": summary,
        "dimensionality": dimensionality,
        "eigenvalues": eigenvalues,
        "alignment": alignment_table,
        "null_alignment": null,
        "valence": words,
        "linearized": linearized,
        "manifold": geometry["manifold"],
        "visited": geometry["visited"],
        "class_names": list(test.classes.names),
        "projected_accuracy": geometry["projected_accuracy"],
        "evidence": pd.DataFrame(rows, columns=evidence.COLUMNS),
    }


def top_words(valence: pd.DataFrame, count: int) -> pd.DataFrame:
    """The ``count`` most positive and ``count`` most negative words of a valence table, with their side."""
    valence = valence.dropna(subset=["valence"])
    positive = valence.head(count).assign(side="positive")
    negative = valence.tail(count).iloc[::-1].assign(side="negative")
    return pd.concat([positive, negative], ignore_index=True)


def write(result: dict, folder: str | Path, top_word_count: int) -> None:
    """The summary (summary.json) and one CSV per analysis, atomically, into ``folder``."""
    folder = Path(folder)
    write_json(result["summary"], folder / "summary.json")
    names = (
        "dimensionality", "eigenvalues", "alignment", "valence", "linearized", "manifold", "projected_accuracy",
        "evidence",
    )  # fmt: skip
    tables = {name: result[name] for name in names}
    tables["null_alignment"] = pd.DataFrame({"abs_cos_random": result["null_alignment"]})
    tables["top_words"] = top_words(result["valence"], top_word_count)
    for name, table in tables.items():
        with atomic_path(folder / f"{name}.csv") as tmp:
            table.to_csv(tmp, index=False)
