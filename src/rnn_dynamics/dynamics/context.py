"""Contextual processing (Maheswaranathan & Sussillo, ICML 2020): how a modifier word bends the line.

A modifier ("not", "very") kicks the state ``h0`` to ``h_mod = F(h0, x_m)``, off the line of fixed points;
there the next word's effect on the readout differs (flipped, scaled), and the state relaxes back. Per
(modifier, target, base context) this module measures, always as the step with the word minus the step
with no input (the drift of a state off the line is not the word's):

- the target's readout change alone (at ``h0``) and right after the modifier (at ``h_mod``), one step after
  it and once ``settle_steps`` input-free steps have passed, and their ratios (the gains);
- the speed q before and after the modifier, and the steps until the state is back near the fixed points;
- the first-order prediction ``w . J_inp x_w`` with the input Jacobian at ``h_mod`` and at its nearest fixed
  point, beside the true effect (where its sign is wrong, the summary says so);
- the modifier subspace (the top principal axes of the deflections ``h_mod - F(h0, 0)``), its alignment with
  the left eigenvectors of ``J_rec`` at the nearest fixed points, and the ablation curve: the share of the
  modifier's effect on the settled target that survives once the deflection's best-aligned k modes are
  removed;
- a contextual bag of words (word counts and modifier x word pairs within a window) beside the plain one
  and the network: the share of the network's gain over the plain bag of words the pairs recover.

Base contexts are states of test reviews after a random prefix (``reviews``) and approximate fixed points
(``fixed_points``). Only a binary system that reads the embedding and is read out (the stack, or layer1
of a one-layer model) has a word's readout change. Modifiers and targets missing from the vocabulary are
returned by name (``missing_modifiers``, ``missing_targets``), never dropped silently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from rnn_dynamics.data.batches import Reviews, padded_batch
from rnn_dynamics.dynamics import analyses, linearization, manifold
from rnn_dynamics.dynamics.linearization import Linearization
from rnn_dynamics.ground.stages import ABLATION_COLUMNS, BOW_COLUMNS, probed_systems
from rnn_dynamics.ground.stages import CONTEXT_COLUMNS as COLUMNS
from rnn_dynamics.ground.stages import ContextSettings as Settings
from rnn_dynamics.ground.storage import atomic_path, write_json
from rnn_dynamics.networks import training

__all__ = [
    "ABLATION_COLUMNS",
    "BASES",
    "BOW_COLUMNS",
    "COLUMNS",
    "Settings",
    "ablation_curve",
    "base_states",
    "contextual_bag_of_words",
    "context",
    "mode_alignment",
    "modifier_subspace",
    "probed_systems",
    "relax_steps",
    "target_effects",
    "target_words",
    "write",
]

BASES = ("reviews", "fixed_points")
# The split whose reviews give the base contexts and the bags of words' evaluation.
SPLIT = "test"


# ---------------------------------------------------------------------------
# Words and base contexts


def _in_vocabulary(words: list[str], tokens: list[str]) -> tuple[dict[str, int], list[str]]:
    """The words found in the vocabulary (word -> index, specials never) and those missing, in order."""
    index = {token: i for i, token in enumerate(tokens) if i >= 2}
    found = {word: index[word] for word in words if word in index}
    return found, [word for word in words if word not in index]


def target_words(
    train: Reviews, tokens: list[str], counts: np.ndarray, excluded: set[str], settings: Settings
) -> tuple[dict[str, int], list[str]]:
    """The targets (word -> index) and those of ``settings.targets`` missing from the vocabulary: the words
    given, or the ``target_count`` of largest positive and of largest negative bag-of-words coefficient
    (seen in training, ``excluded`` left out)."""
    if settings.targets:
        return _in_vocabulary(list(settings.targets), tokens)
    coefficients = analyses.bag_of_words_coefficients(train, len(tokens), settings.regularization)
    seen = np.asarray(counts) > 0
    seen[:2] = False
    seen &= np.array([token not in excluded for token in tokens])
    order = np.flatnonzero(seen)[np.argsort(-coefficients[seen], kind="stable")]
    chosen = list(order[: settings.target_count]) + list(order[::-1][: settings.target_count])
    return {tokens[i]: int(i) for i in dict.fromkeys(chosen)}, []


def base_states(model, system_name: str, lin: Linearization, reviews: Reviews, count: int, seed: int) -> dict:
    """``count`` base states (count, S) of each kind: test reviews' states after a random prefix (at least one
    token), and approximate fixed points drawn with replacement (none without fixed points)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(reviews), size=count, replace=count > len(reviews))
    prefixes = np.array([rng.integers(1, reviews.lengths[r] + 1) for r in rows])
    device = analyses.model_device(model)
    tokens, lengths, _ = padded_batch(reviews, rows, device)
    _, states = analyses.system_sequences(model, system_name, tokens, lengths)
    on_reviews = states[torch.arange(count, device=device), torch.as_tensor(prefixes - 1, device=device)]
    bases = {"reviews": on_reviews.cpu().numpy()}
    if len(lin.fixed_point):
        bases["fixed_points"] = lin.fixed_point[rng.choice(len(lin.fixed_point), size=count)]
    return bases


# ---------------------------------------------------------------------------
# Effects of one word


def _free(system, h: torch.Tensor, steps: int) -> torch.Tensor:
    zero = h.new_zeros(len(h), system.input_size)
    for _ in range(steps):
        h = system.step(h, zero)
    return h


def target_effects(system, weights: torch.Tensor, h: torch.Tensor, x: torch.Tensor, settle: int):
    """The readout change (B,) a word ``x`` (B, I) makes at states ``h`` (B, S), one step after it and after
    ``settle`` input-free steps more: the step with it minus the step with no input."""
    with torch.no_grad():
        with_word = system.step(h, x)
        without = system.step(h, torch.zeros_like(x))
        one = (with_word - without) @ weights
        settled = (_free(system, with_word, settle) - _free(system, without, settle)) @ weights
    return one.cpu().numpy(), settled.cpu().numpy()


def _first_order(system, weights: torch.Tensor, h: torch.Tensor, x: torch.Tensor) -> np.ndarray:
    """``w . J_inp(h, 0) x`` (B,): the word's one-step readout change to first order in the input."""
    with torch.no_grad():
        _, j_inp = system.jacobians(h, torch.zeros_like(x))
        return (weights @ (j_inp @ x.unsqueeze(-1)).squeeze(-1).T).cpu().numpy()


def _speed(system, h: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """q = |h - F(h, 0)|^2 / S and the one-step displacement |F(h, 0) - h| at each row."""
    with torch.no_grad():
        step = _free(system, h, 1) - h
    return (step.square().mean(dim=1)).cpu().numpy(), step.norm(dim=1).cpu().numpy()


def _distance(points: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    return torch.cdist(h, points).min(dim=1).values


def relax_steps(system, points: torch.Tensor, h0: torch.Tensor, h_mod: torch.Tensor, settings: Settings) -> np.ndarray:
    """Steps (B,) until the input-free state from ``h_mod`` is back within the larger of ``h0``'s distance to the
    fixed points and ``relax_fraction`` of ``h_mod``'s: the modifier's memory; NaN beyond ``relax_steps``."""
    with torch.no_grad():
        threshold = torch.maximum(_distance(points, h0), settings.relax_fraction * _distance(points, h_mod))
        steps = torch.full((len(h0),), float("nan"), dtype=h0.dtype, device=h0.device)
        h = h_mod
        for t in range(settings.relax_steps + 1):
            back = steps.isnan() & (_distance(points, h) <= threshold)
            steps[back] = t
            if not steps.isnan().any():
                break
            h = _free(system, h, 1)
    return steps.cpu().numpy()


# ---------------------------------------------------------------------------
# The modifier subspace and its modes


def modifier_subspace(deflections: np.ndarray, variance: float) -> np.ndarray:
    """Orthonormal columns (S, k): the fewest principal axes of the deflections (uncentred: the directions
    of the kicks) that hold ``variance`` of their summed square."""
    _, values, rows = np.linalg.svd(np.asarray(deflections, dtype=np.float64), full_matrices=False)
    shares = values**2 / max(float((values**2).sum()), np.finfo(float).tiny)
    return rows[: max(1, manifold.components_to_reach(shares, variance))].T


def _mode_groups(eigenvalues: np.ndarray) -> list[np.ndarray]:
    """The modes as groups of eigenvalue indices: a real eigenvalue alone, a complex pair together."""
    groups, used = [], set()
    for i, value in enumerate(eigenvalues):
        if i in used:
            continue
        if abs(value.imag) > 1e-12:
            partner = next(
                (j for j in range(len(eigenvalues)) if j not in used and j != i
                 and abs(eigenvalues[j] - np.conj(value)) < 1e-8 * max(1.0, abs(value))),
                None,
            )  # fmt: skip
            group = [i] if partner is None else [i, partner]
        else:
            group = [i]
        used.update(group)
        groups.append(np.array(group))
    return groups


def mode_alignment(left: np.ndarray, groups: list[np.ndarray], subspace: np.ndarray) -> np.ndarray:
    """Per mode group, the cosine of the smallest principal angle between the span of its left eigenvectors
    (real and imaginary parts) and the subspace (S, k)."""
    cosines = []
    for group in groups:
        span = np.concatenate([left[group].real, left[group].imag]).T
        basis, singular, _ = np.linalg.svd(span, full_matrices=False)
        basis = basis[:, singular > 1e-10 * singular.max()]
        cosines.append(float(np.linalg.svd(basis.T @ subspace, compute_uv=False).max()))
    return np.array(cosines)


def _decompositions(system, points: np.ndarray, device) -> list[dict]:
    """At each point, J_rec's eigenvalues, right eigenvectors (columns), left ones (rows) and mode groups."""
    j_rec, _ = linearization.jacobians(system, points, device=device)
    out = []
    for matrix in j_rec:
        eigenvalues, right = np.linalg.eig(matrix)
        order = np.argsort(-np.abs(eigenvalues), kind="stable")
        eigenvalues, right = eigenvalues[order], right[:, order]
        out.append({"eigenvalues": eigenvalues, "right": right, "left": np.linalg.inv(right)})
        out[-1]["groups"] = _mode_groups(eigenvalues)
    return out


def ablation_curve(
    effect, h_ref: np.ndarray, deflections: np.ndarray, modes: list[np.ndarray], maximum: int
) -> np.ndarray:
    """The share (k = 0..maximum) of the modifier's effect on the settled target that survives once each
    deflection's first k mode groups (``modes``: per probe, (right (S, S), left (S, S), groups in order of
    alignment)) are removed: sum of (E(h_ref + d_k) - E(h_ref)) signed as the full effect, over sum |E(h_ref + d)
    - E(h_ref)|. ``effect`` maps states (P, S) to the settled target effects (P, T)."""
    reference = effect(h_ref)
    full = effect(h_ref + deflections) - reference
    sign, total = np.sign(full), np.abs(full).sum()
    curve = []
    for k in range(maximum + 1):
        kept = deflections.copy()
        for p, (right, left, groups) in enumerate(modes):
            for group in groups[:k]:
                kept[p] -= (right[:, group] @ (left[group] @ deflections[p])).real
        curve.append(float(((effect(h_ref + kept) - reference) * sign).sum() / total) if total > 0 else np.nan)
    return np.array(curve)


# ---------------------------------------------------------------------------
# The contextual bag of words


def _features(reviews: Reviews, vocab_size: int, modifiers: np.ndarray, window: int, pairs: bool) -> sparse.csr_matrix:
    """Binary word features (N, V), and with ``pairs`` modifier x word features for the ``window`` words after
    each modifier (N, V + M V)."""
    counts = analyses.bag_of_words(reviews, vocab_size)
    counts.data[:] = 1.0
    if not pairs or len(modifiers) == 0:
        return counts
    slot = {int(token): k for k, token in enumerate(modifiers)}
    rows, columns = [], []
    for r, (begin, end) in enumerate(zip(reviews.offsets[:-1], reviews.offsets[1:])):
        tokens = reviews.tokens[begin:end]
        for i, token in enumerate(tokens):
            if int(token) in slot:
                for word in tokens[i + 1 : i + 1 + window]:
                    rows.append(r)
                    columns.append(vocab_size + slot[int(token)] * vocab_size + int(word))
    shape = (len(reviews), vocab_size * (1 + len(modifiers)))
    paired = sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=shape)
    paired.data[:] = 1.0
    paired.sum_duplicates()
    paired.data[:] = 1.0
    return (sparse.hstack([counts, sparse.csr_matrix((len(reviews), shape[1] - vocab_size))]) + paired).tocsr()


def contextual_bag_of_words(
    train: Reviews, test: Reviews, vocab_size: int, modifiers: np.ndarray, window: int, regularization: float
) -> dict:
    """Test accuracy of a logistic regression on binary word features, and on word and modifier x word
    features (the ``window`` words after a modifier)."""
    out = {}
    for name, pairs in (("bow_accuracy", False), ("contextual_bow_accuracy", True)):
        classifier = LogisticRegression(C=regularization, max_iter=2000)
        classifier.fit(_features(train, vocab_size, modifiers, window, pairs), train.labels.astype(int))
        predicted = classifier.predict(_features(test, vocab_size, modifiers, window, pairs))
        out[name] = float((predicted == test.labels.astype(int)).mean())
    return out


# ---------------------------------------------------------------------------
# Everything for one system


def _readout(model, system_name: str) -> tuple[np.ndarray, float]:
    """The system's logit as ``w . h + b``, raising where the stage has no word effects to measure."""
    reads = bool(probed_systems(model.spec, [system_name]))
    readout = analyses.system_readout(model, system_name) if model.classes == 2 else None
    if not reads or readout is None:
        raise ValueError(
            f"context: model {model.spec.id} system {system_name!r} is not a binary system that reads the "
            f"embedding and is read out (the stack, or layer1 of a one-layer model): it has no word's readout change"
        )
    return readout


def _agreement(predicted: np.ndarray, true: np.ndarray) -> dict:
    """Correlation and sign agreement of a prediction with the true effect, over probes."""
    finite = np.isfinite(predicted) & np.isfinite(true)
    predicted, true = predicted[finite], true[finite]
    spread = len(true) >= 3 and predicted.std() > 0 and true.std() > 0
    return {
        "correlation": float(np.corrcoef(predicted, true)[0, 1]) if spread else float("nan"),
        "sign_agreement": float((np.sign(predicted) == np.sign(true)).mean()) if len(true) else float("nan"),
        "n": int(len(true)),
    }


def _spread(values: np.ndarray) -> dict:
    values = values[np.isfinite(values)]
    if not len(values):
        return {"median": float("nan"), "q25": float("nan"), "q75": float("nan"), "n": 0}
    q25, median, q75 = np.quantile(values, [0.25, 0.5, 0.75])
    return {"median": float(median), "q25": float(q25), "q75": float(q75), "n": int(len(values))}


def context(
    model,
    system_name: str,
    lin: Linearization,
    train: Reviews,
    test: Reviews,
    tokens: list[str],
    counts: np.ndarray,
    settings: Settings,
) -> dict:
    """The contextual-processing measures of one system (see the module's docstring): ``rows`` (context.csv's
    columns), ``ablation``, ``bow`` (one row), ``summary`` (missing words, gains with their spread over probes
    and the null words', the first-order prediction's agreement and where its sign is wrong, the modes
    aligned with each modifier's subspace, the k that removes most of its effect) and ``deflections`` (the
    fixed points and each modifier's h_ref -> h_mod on the fixed points' top two principal axes)."""
    weights_np, _ = _readout(model, system_name)
    device = analyses.model_device(model)
    system = model.system(system_name)
    weights = torch.as_tensor(weights_np, dtype=torch.float64, device=device)
    embedding = model.embedding.weight.detach().double()
    modifiers, missing_modifiers = _in_vocabulary(list(settings.modifiers), tokens)
    nulls, missing_nulls = _in_vocabulary(list(settings.null_words), tokens)
    excluded = set(settings.modifiers) | set(settings.null_words)
    targets, missing_targets = target_words(train, tokens, counts, excluded, settings)
    probed = modifiers | {word: index for word, index in nulls.items() if word not in modifiers}
    bases = base_states(model, system_name, lin, test, settings.probes, settings.seed)
    points = torch.tensor(np.array(lin.fixed_point, dtype=np.float64), device=device)
    target_ids = torch.as_tensor(list(targets.values()), device=device)
    x_targets = embedding[target_ids]  # (T, I)
    n_targets = len(targets)

    def settled_effects(h: np.ndarray) -> np.ndarray:
        rows = torch.as_tensor(h, dtype=torch.float64, device=device).repeat_interleave(n_targets, dim=0)
        x = x_targets.repeat(len(h), 1)
        return target_effects(system, weights, rows, x, settings.settle_steps)[1].reshape(len(h), n_targets)

    records, ablation_rows, per_probe, deflection_rows, alignments, best_k = [], [], [], [], {}, {}
    for modifier, index in probed.items():
        x_mod = embedding[index]
        pooled_deflections, pooled_ref, pooled_mod = [], [], []
        for base, h0_np in bases.items():
            h0 = torch.as_tensor(h0_np, dtype=torch.float64, device=device)
            with torch.no_grad():
                h_mod = system.step(h0, x_mod.expand(len(h0), -1))
                h_ref = _free(system, h0, 1)
            rows0 = h0.repeat_interleave(n_targets, dim=0)
            rows_mod = h_mod.repeat_interleave(n_targets, dim=0)
            x = x_targets.repeat(len(h0), 1)
            alone, settled_alone = target_effects(system, weights, rows0, x, settings.settle_steps)
            after, settled_after = target_effects(system, weights, rows_mod, x, settings.settle_steps)
            linear_alone = _first_order(system, weights, rows0, x)
            linear_after = _first_order(system, weights, rows_mod, x)
            if len(points):
                nearest = points[torch.cdist(rows_mod, points).argmin(dim=1)]
                linear_fixed = _first_order(system, weights, nearest, x)
                relax = relax_steps(system, points, h0, h_mod, settings)
            else:
                linear_fixed = np.full(len(x), np.nan)
                relax = np.full(len(h0), np.nan)
            q_before, move_before = _speed(system, h0)
            q_after, move_after = _speed(system, h_mod)
            per_probe.append(
                pd.DataFrame(
                    {
                        "modifier": modifier,
                        "base": base,
                        "target": np.tile(list(targets), len(h0)),
                        "probe": np.repeat(np.arange(len(h0)), n_targets),
                        "effect_alone": alone,
                        "effect_after": after,
                        "settled_alone": settled_alone,
                        "settled_after": settled_after,
                        "linearized_alone": linear_alone,
                        "linearized_after": linear_after,
                        "linearized_at_fixed_point": linear_fixed,
                        "displacement_before": np.repeat(move_before, n_targets),
                        "displacement_after": np.repeat(move_after, n_targets),
                    }
                )
            )
            for t, target in enumerate(targets):
                column = slice(t, None, n_targets)
                mean = {
                    name: float(values[column].mean())
                    for name, values in [
                        ("effect_alone", alone), ("effect_after", after), ("settled_alone", settled_alone),
                        ("settled_after", settled_after), ("linearized_after", linear_after),
                        ("linearized_at_fixed_point", linear_fixed),
                    ]
                }  # fmt: skip
                records.append(
                    {
                        "model": model.spec.id,
                        "split": SPLIT,
                        "system": system_name,
                        "modifier": modifier,
                        "target": target,
                        "base": base,
                        **mean,
                        "gain": mean["effect_after"] / mean["effect_alone"],
                        "settled_gain": mean["settled_after"] / mean["settled_alone"],
                        "speed_before": float(q_before.mean()),
                        "speed_after": float(q_after.mean()),
                        "relax_steps": float(np.median(relax)) if np.isfinite(relax).mean() >= 0.5 else float("nan"),
                    }
                )
            pooled_deflections.append((h_mod - h_ref).cpu().numpy())
            pooled_ref.append(h_ref.cpu().numpy())
            pooled_mod.append(h_mod.cpu().numpy())
        deflections = np.concatenate(pooled_deflections)
        h_ref_all, h_mod_all = np.concatenate(pooled_ref), np.concatenate(pooled_mod)
        deflection_rows.append(pd.DataFrame({"modifier": modifier, "ref": list(h_ref_all), "mod": list(h_mod_all)}))
        if not len(points) or modifier not in modifiers:
            continue
        subspace = modifier_subspace(deflections, settings.subspace_variance)
        nearest = torch.cdist(torch.as_tensor(h_mod_all, device=device), points).argmin(dim=1).cpu().numpy()
        unique = np.unique(nearest)
        decomposed = dict(zip(unique, _decompositions(system, lin.fixed_point[unique], device)))
        best, ordered = [], {}
        for point, parts in decomposed.items():
            cosines = mode_alignment(parts["left"], parts["groups"], subspace)
            order = np.argsort(-cosines, kind="stable")
            ordered[point] = [parts["groups"][g] for g in order]
            top = parts["groups"][order[0]]
            value = parts["eigenvalues"][top[0]]
            best.append({"cos": cosines[order[0]], "modulus": abs(value), "complex": bool(abs(value.imag) > 1e-12)})
        best = pd.DataFrame(best)
        alignments[modifier] = {
            "subspace_dimension": int(subspace.shape[1]),
            "fixed_points": int(len(unique)),
            "best_mode_cos_median": float(best["cos"].median()),
            "best_mode_modulus_median": float(best["modulus"].median()),
            "best_mode_complex_share": float(best["complex"].mean()),
        }
        modes = [(decomposed[p]["right"], decomposed[p]["left"], ordered[p]) for p in nearest]
        curve = ablation_curve(settled_effects, h_ref_all, deflections, modes, settings.ablation_modes)
        for k, remaining in enumerate(curve):
            ablation_rows.append(
                {"model": model.spec.id, "system": system_name, "modifier": modifier, "k": k,
                 "effect_remaining": remaining}
            )  # fmt: skip
        below = np.flatnonzero(curve <= 0.5)
        best_k[modifier] = int(below[0]) if len(below) else None

    probes = pd.concat(per_probe, ignore_index=True) if per_probe else pd.DataFrame()
    summary = _summary(model, system_name, probes, modifiers, nulls, targets, alignments, best_k)
    summary |= {
        "missing_modifiers": missing_modifiers,
        "missing_null_words": missing_nulls,
        "missing_targets": missing_targets,
        "targets": list(targets),
        "null_words": list(nulls),
    }
    modifier_ids = np.array(list(modifiers.values()), dtype=np.int64)
    bow = contextual_bag_of_words(train, test, len(tokens), modifier_ids, settings.window, settings.regularization)
    bow["rnn_accuracy"] = training.evaluate(model, test, 64, device)[1]
    gap = bow["rnn_accuracy"] - bow["bow_accuracy"]
    bow["share_recovered"] = (bow["contextual_bow_accuracy"] - bow["bow_accuracy"]) / gap if gap > 0 else float("nan")
    return {
        "rows": pd.DataFrame(records, columns=COLUMNS),
        "ablation": pd.DataFrame(ablation_rows, columns=ABLATION_COLUMNS),
        "bow": pd.DataFrame([{"model": model.spec.id, "split": SPLIT, **bow}], columns=BOW_COLUMNS),
        "summary": summary,
        "deflections": _deflection_plane(lin, deflection_rows),
    }


def _summary(model, system_name, probes, modifiers, nulls, targets, alignments, best_k) -> dict:
    """Per modifier (and null word): the settled gain per probe (after / alone) with its spread over probes,
    the null's; the first-order prediction's agreement with the true effect, and its wrong-sign share per
    target sign."""
    summary = {"model": model.spec.id, "system": system_name, "split": SPLIT, "modifiers": {}}
    if probes.empty:
        return summary
    probes = probes.assign(
        settled_ratio=probes["settled_after"] / probes["settled_alone"],
        ratio=probes["effect_after"] / probes["effect_alone"],
    )
    null_rows = probes[probes["modifier"].isin(list(nulls)) & ~probes["modifier"].isin(list(modifiers))]
    null = {
        "settled_gain": _spread(null_rows["settled_ratio"].to_numpy()),
        "gain": _spread(null_rows["ratio"].to_numpy()),
    }
    summary["null"] = null
    positive = {word for word in targets if probes.loc[probes["target"] == word, "settled_alone"].mean() > 0}
    for modifier, rows in probes.groupby("modifier", sort=False):
        sign = np.where(rows["target"].isin(positive), "positive", "negative")
        first_order = {}
        for name, predicted, true in [
            ("alone_at_state", "linearized_alone", "effect_alone"),
            ("after_at_state", "linearized_after", "effect_after"),
            ("after_at_fixed_point", "linearized_at_fixed_point", "effect_after"),
        ]:
            entry = _agreement(rows[predicted].to_numpy(), rows[true].to_numpy())
            for side in ("positive", "negative"):
                part = rows[sign == side]
                wrong = np.sign(part[predicted]) != np.sign(part[true])
                entry[f"wrong_sign_share_{side}_targets"] = float(wrong.mean()) if len(part) else float("nan")
            first_order[name] = entry
        summary["modifiers"][modifier] = {
            "null_word": modifier not in modifiers,
            "gain": _spread(rows["ratio"].to_numpy()),
            "settled_gain": _spread(rows["settled_ratio"].to_numpy()),
            "displacement_before_median": float(rows["displacement_before"].median()),
            "displacement_after_median": float(rows["displacement_after"].median()),
            "first_order": first_order,
            "subspace": alignments.get(modifier, {}),
            "ablation_k_half": best_k.get(modifier),
        }
    return summary


def _deflection_plane(lin: Linearization, deflection_rows: list[pd.DataFrame]) -> dict:
    """The fixed points and each modifier's h_ref and h_mod on the fixed points' top two principal axes."""
    if len(lin.fixed_point) < 3 or not deflection_rows:
        return {"fixed_points": np.zeros((0, 2)), "modifiers": {}}
    centre = lin.fixed_point.mean(axis=0)
    axes = manifold.principal_axes(lin.fixed_point, 2)
    project = lambda states: (np.stack(states) - centre) @ axes  # noqa: E731
    return {
        "fixed_points": (lin.fixed_point - centre) @ axes,
        "modifiers": {
            str(rows["modifier"].iloc[0]): (project(rows["ref"]), project(rows["mod"])) for rows in deflection_rows
        },
    }


def write(result: dict, folder: str | Path) -> None:
    """context.csv, ablation.csv, bow.csv and summary.json, atomically, into ``folder``."""
    folder = Path(folder)
    write_json(result["summary"], folder / "summary.json")
    for name, table in (("context", result["rows"]), ("ablation", result["ablation"]), ("bow", result["bow"])):
        with atomic_path(folder / f"{name}.csv") as tmp:
            table.to_csv(tmp, index=False)
