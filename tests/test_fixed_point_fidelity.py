"""The default search finds the paper's object: LM's approximate fixed points agree with Adam's.

The reproduction descends q with Adam from visited states and stops each start once
q < 1e-6. The pipeline's default, Levenberg-Marquardt with damping 1e-2 (see
``solver.find``), must give the same *set* of endpoints from the same starts,
only faster. Both search where the network's states can be (``bounded``: a step that
would leave is cut back to |h| <= 1); about half of this small GRU's starts end on
the bound with either method and are left out. Tolerances, from the trained GRU
below (from 200 other starts LM and Adam gave 199 and 200 converged, 97 and 104
strictly inside, 73 and 76 unique points there, PC1 ranges -4.28..2.54 and
-4.74..1.98 of a start span of 6.9, first-PC shares 0.896 and 0.916; from the 100
starts of the test 99 and 100, 47 and 50, 42 and 40, -3.99..2.49 and -3.92..2.06
of 6.4, 0.862 and 0.926). The same recipe trains a different GRU on another machine
(floating-point sums differ between CPUs): there, from the test's 100 starts, 100 and
100 converged, 39 and 50 strictly inside, 32 and 47 unique, -3.67..1.46 and
-3.74..1.97, 0.924 and 0.928. LM's Newton-like first steps take some starts on to the
bound where Adam's small steps stop inside first; both leave those out.

- converged: both at least 95% of the starts, within 5 points of each other;
- unique approximate fixed points strictly inside the state space: within a factor 1.5;
- each end of their range along the visited states' PC1: within 15% of the starts' span;
- the first PC's share of their variance: within 0.1;
- starts ending strictly inside: LM's share at least Adam's less 0.15.

Every endpoint lies in the state space, and every point the gather step counts as
a fixed point lies strictly inside it.
"""

import copy

import numpy as np
import pytest
import torch

from rnn_dynamics.data import batches
from rnn_dynamics.dynamics import fixed_points, solver, states
from rnn_dynamics.networks import model as model_lib
from trained import SHARED_LSTM, prepare_synthetic, train_synthetic

STARTS = 100


@pytest.fixture(scope="module")
def integrating_gru(tmp_path_factory):
    """A GRU (E16, H32) trained on synthetic reviews of 16-40 words, long enough that it must integrate."""
    data = prepare_synthetic(tmp_path_factory.mktemp("integrating_gru"), 2000, min_length=16, max_length=40)
    model = model_lib.load(train_synthetic(data, data / "model", "gru-L1-E16-H32-s0", epochs=20))
    (visited,) = states.visited_states(model, batches.read_split(data / "test.parquet"), np.arange(400))
    return model, visited


def test_lm_matches_adam(integrating_gru):
    model, visited = integrating_gru
    system = model.system("layer1")
    starts = fixed_points.sample_starts(visited, STARTS, noise=0.0, seed=0)
    origin = visited.mean(axis=0)
    axis = np.linalg.svd(visited - origin, full_matrices=False)[2][0]

    # The reproduction's tolerance (q < 1e-6), where these bounds were measured. At the relative default
    # (5.6e-5 on this network) the counts and ranges agree as well, the first-PC shares less (0.91 and 0.77).
    absolute = {"q_rule": "absolute"}
    lm = fixed_points.solve(system, starts, fixed_points.SearchSettings(**absolute), progress=False)
    adam = fixed_points.solve(
        system, starts, fixed_points.SearchSettings(method="adam", max_iterations=10000, **absolute), progress=False
    )
    summary = {
        name: fixed_points.line_summary(
            fixed_points.approximate_set(result, fixed_points.GatherSettings(**absolute)), axis, origin
        )
        for name, result in (("lm", lm), ("adam", adam))
    }
    span = np.ptp((starts - origin) @ axis)
    assert lm.converged.mean() >= 0.95 and adam.converged.mean() >= 0.95, summary
    assert abs(int(lm.converged.sum()) - int(adam.converged.sum())) <= 5
    assert 1 / 1.5 <= summary["lm"]["count"] / summary["adam"]["count"] <= 1.5, summary
    for end in ("axis_min", "axis_max"):
        assert abs(summary["lm"][end] - summary["adam"][end]) <= 0.15 * span, (summary, span)
    assert abs(summary["lm"]["first_pc_share"] - summary["adam"]["first_pc_share"]) <= 0.1, summary
    assert lm.in_state_space.all() and adam.in_state_space.all()
    assert lm.inside().mean() >= adam.inside().mean() - 0.15
    # LM gets there in a handful of iterations where Adam needs thousands.
    assert np.median(lm.iterations) < 20 < np.median(adam.iterations)

    gathered = fixed_points.gather([lm.to_table()], fixed_points.GatherSettings())
    counted = gathered.filter(gathered["fixed_point_id"].to_numpy() >= 0)
    assert counted["in_state_space"].to_numpy().all() and not counted["at_bound"].to_numpy().any()
    assert fixed_points.counts(gathered)["unique_fixed_points"] == summary["lm"]["count"]


def test_exact_roots_are_a_separate_polish_of_the_approximate_points(integrating_gru):
    model, visited = integrating_gru
    system = model.system("layer1")
    approximate = fixed_points.solve(
        system,
        fixed_points.sample_starts(visited, 40, noise=0.0, seed=1),
        fixed_points.SearchSettings(),
        progress=False,
    )
    polished = solver.polish(system, approximate, max_iterations=200, bounded=True, progress=False)
    # The approximate points are kept as they were; the roots sit beside them.
    np.testing.assert_array_equal(polished.fixed_point, approximate.fixed_point)
    roots = polished.exact_roots
    # Some starts stall at slow points above 1e-12 (35% reach a root here): they keep no root.
    assert (roots.q[roots.converged] < solver.EXACT_Q_TOL).all() and roots.converged.sum() >= 5
    gathered = fixed_points.gather([polished.to_table()], fixed_points.GatherSettings())
    counts = fixed_points.counts(gathered)
    # Many approximate points lead to one root: fewer roots than points.
    assert 0 < counts["exact_roots"] < counts["unique_fixed_points"], counts
    assert (
        fixed_points.counts(fixed_points.gather([approximate.to_table()], fixed_points.GatherSettings()))["exact_roots"]
        == -1
    )


@pytest.mark.slow
def test_an_lstm_reaches_the_tolerance_wherever_adam_does_and_its_slow_points_are_counted_apart(
    synthetic_model, prepared_synthetic_large
):
    """The paper's claim is universal: LSTM fixed points too. On the quick-look set an LSTM-2's
    layer 1 reached q < 1e-6 for 5 of 100 starts with the earlier exact-root search. Whether
    q < 1e-6 can be reached at all is the trained model's: on one machine LM and Adam reached
    it for 100 and 100 of 100 starts (layer 1), on another the same recipe trained a layer 1
    whose slow manifold bottoms out at q = 9.2e-6, and both stopped there (17 and 14 of 100;
    layer 2: 93 and 94). So the search is held to the reference: from the same starts LM
    reaches the tolerance wherever Adam does (within 5 starts), and every start that does
    not is a slow point, counted apart, at a q no higher than Adam's."""
    model = model_lib.load(synthetic_model(*SHARED_LSTM))
    test = batches.read_split(prepared_synthetic_large / "test.parquet")
    for layer, visited in enumerate(states.visited_states(model, test, np.arange(300)), start=1):
        system = model.system(f"layer{layer}")
        starts = fixed_points.sample_starts(visited, 100, noise=0.0, seed=0)
        result = solver.measure_slow_points(
            system, fixed_points.solve(system, starts, fixed_points.SearchSettings(), progress=False)
        )
        adam = fixed_points.solve(
            system, starts, fixed_points.SearchSettings(method="adam", max_iterations=10000), progress=False
        )
        counts = fixed_points.counts(fixed_points.gather([result.to_table()], fixed_points.GatherSettings()))
        assert counts["converged"] >= int(adam.converged.sum()) - 5, (layer, counts, int(adam.converged.sum()))
        assert counts["converged"] + counts["slow_points"] == 100
        slow = ~result.converged
        if slow.any():
            assert counts["slow_point_median_q"] >= counts["tolerance"]
            assert counts["slow_point_time_constant"] > 0, counts
            # LM stops at the bottom of q, not above where Adam got to.
            assert np.median(result.q[slow]) <= 1.5 * np.median(adam.q[slow]), (layer, counts)
        assert np.isnan(result.slow_point_modulus[result.converged]).all()


def assert_same_endpoints(result, reference, atol):
    """The same starts converge and end strictly inside, and those inside end within ``atol`` (L-inf)."""
    np.testing.assert_array_equal(result.converged, reference.converged)
    np.testing.assert_array_equal(result.inside(), reference.inside())
    kept = reference.inside()
    assert kept.sum() >= STARTS // 4, "too few points strictly inside to compare"
    np.testing.assert_allclose(result.fixed_point[kept], reference.fixed_point[kept], rtol=0, atol=atol)


def test_single_precision_normal_equations_give_the_float64_endpoints(integrating_gru):
    """LM forms and solves J^T J + mu I in float32 by default (``single_precision``; residuals, q
    and the test that accepts a step stay float64). From the same starts it must end where the
    float64 reference does: the same starts converge and the same end on the bound, and every
    point the gather keeps (strictly inside) is within 1e-4. A start cut back to the bound
    may stop elsewhere on it (here one of 100, 0.019 away): the gather leaves those out."""
    model, visited = integrating_gru
    system = model.system("layer1")
    starts = fixed_points.sample_starts(visited, STARTS, noise=0.0, seed=0)
    single = fixed_points.solve(system, starts, fixed_points.SearchSettings(), progress=False)
    double = fixed_points.solve(system, starts, fixed_points.SearchSettings(single_precision=False), progress=False)
    assert_same_endpoints(single, double, atol=1e-4)
    assert abs(int(single.iterations.sum()) - int(double.iterations.sum())) <= 0.05 * double.iterations.sum()
    counts = [
        fixed_points.counts(fixed_points.gather([r.to_table()], fixed_points.GatherSettings()))["unique_fixed_points"]
        for r in (single, double)
    ]
    assert counts[0] == counts[1]
    # Exact roots need mu far below float32's reach: polish runs in float64 whatever is asked.
    roots = solver.polish(system, single, max_iterations=200, bounded=True, progress=False).exact_roots
    assert roots.converged.any() and (roots.q[roots.converged] < solver.EXACT_Q_TOL).all()


@pytest.mark.parametrize("single_precision", [True, False])
def test_lapack_and_batched_torch_normal_equations_end_every_start_alike(integrating_gru, single_precision):
    """On a CPU LM solves its normal equations through LAPACK one matrix at a time (normal_equations),
    on a GPU by batched torch calls: run on the same CPU from the same starts, the two end every
    start alike (the points the gather keeps within 1e-4 in float32, 1e-9 in float64)."""
    model, visited = integrating_gru
    system = model.system("layer1")
    starts = fixed_points.sample_starts(visited, STARTS, noise=0.0, seed=0)
    found = {
        way: fixed_points.solve(
            system,
            starts,
            fixed_points.SearchSettings(single_precision=single_precision),
            progress=False,
            linear_algebra=way,
        )
        for way in ("lapack", "torch")
    }
    assert_same_endpoints(found["lapack"], found["torch"], atol=1e-4 if single_precision else 1e-9)
    counts = [
        fixed_points.counts(fixed_points.gather([r.to_table()], fixed_points.GatherSettings()))["unique_fixed_points"]
        for r in found.values()
    ]
    assert counts[0] == counts[1]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_lm_on_a_gpu_ends_where_it_does_on_the_cpu(integrating_gru):
    """fixed_points.device: the same search on a GPU (cuBLAS and cuSOLVER round differently) ends every start
    where the CPU does, counts the same approximate fixed points, and polishes to exact roots there too."""
    model, visited = integrating_gru
    starts = fixed_points.sample_starts(visited, STARTS, noise=0.0, seed=0)
    cpu = fixed_points.solve(model.system("layer1"), starts, fixed_points.SearchSettings(), progress=False)
    gpu_system = copy.deepcopy(model).to("cuda").system("layer1")
    gpu = fixed_points.solve(gpu_system, starts, fixed_points.SearchSettings(), progress=False, device="cuda")
    np.testing.assert_array_equal(gpu.converged, cpu.converged)
    np.testing.assert_allclose(gpu.fixed_point, cpu.fixed_point, rtol=0, atol=1e-4)
    counts = [
        fixed_points.counts(fixed_points.gather([r.to_table()], fixed_points.GatherSettings()))["unique_fixed_points"]
        for r in (gpu, cpu)
    ]
    assert counts[0] == counts[1]
    roots = solver.polish(gpu_system, gpu, max_iterations=200, bounded=True, progress=False, device="cuda").exact_roots
    assert roots.converged.any() and (roots.q[roots.converged] < solver.EXACT_Q_TOL).all()
