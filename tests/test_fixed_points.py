"""The fixed-point solver, sharding and gathering, on systems whose fixed points are known."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from rnn_dynamics.api import systems as api_systems
from rnn_dynamics.dynamics import fixed_points, solver, spectra, states
from rnn_dynamics.ground import stages, storage
from rnn_dynamics.networks import cells


def linear_system(size=6, seed=0):
    """h' = A h + b with spectral radius 0.9: its one fixed point is (I - A)^-1 b."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((size, size))
    a *= 0.9 / np.abs(np.linalg.eigvals(a)).max()
    b = rng.standard_normal(size)
    a_t, b_t = torch.tensor(a), torch.tensor(b)
    system = cells.DynamicalSystem(
        step=lambda h, x: h @ a_t.T.to(h.dtype) + b_t.to(h.dtype),
        state_size=size,
        input_size=1,
        readout=lambda h: h,
    )
    return system, np.linalg.solve(np.eye(size) - a, b)


def gru_system(state_size=8, input_size=3, seed=0, scale=1.0):
    """A random GRU layer (cells.GRU's equations), float64."""
    generator = torch.Generator().manual_seed(seed)
    shapes = {
        "weight_ih": (3 * state_size, input_size),
        "weight_hh": (3 * state_size, state_size),
        "bias_ih": (3 * state_size,),
        "bias_hh": (3 * state_size,),
    }
    params = {
        name: scale * torch.randn(shape, generator=generator, dtype=torch.float64) / np.sqrt(state_size)
        for name, shape in shapes.items()
    }
    return cells.DynamicalSystem(
        step=lambda h, x: cells.GRU.step(params, h, x),
        state_size=state_size,
        input_size=input_size,
        readout=lambda h: h,
    )


def test_levenberg_marquardt_solves_a_linear_system_to_machine_precision():
    system, known = linear_system()
    starts = np.random.default_rng(1).standard_normal((20, system.state_size)) * 3
    result = fixed_points.solve(
        system, starts, fixed_points.SearchSettings(q_rule="absolute", q_tol=1e-20), progress=False
    )
    assert result.converged.all()
    assert (result.q < 1e-20).all()
    assert np.allclose(result.fixed_point, known, atol=1e-10)
    assert result.iterations.max() <= 10
    np.testing.assert_array_equal(result.start, starts)


def test_adam_batched_and_per_start_find_the_same_fixed_point():
    system, known = linear_system(size=4)
    starts = np.random.default_rng(2).standard_normal((3, system.state_size))
    batched = fixed_points.solve(
        system,
        starts,
        fixed_points.SearchSettings(
            method="adam", q_rule="absolute", q_tol=1e-10, max_iterations=5000, learning_rate=0.05
        ),
        progress=False,
    )
    one_by_one = fixed_points.solve(
        system,
        starts,
        fixed_points.SearchSettings(
            method="adam", q_rule="absolute", q_tol=1e-10, max_iterations=5000, learning_rate=0.05
        ),
        batched=False,
        progress=False,
    )
    for result in (batched, one_by_one):
        assert result.converged.all()
        assert np.allclose(result.fixed_point, known, atol=1e-3)
    assert one_by_one.method == "adam-per-start"
    # Adam needs far more iterations than Levenberg-Marquardt's handful.
    assert batched.iterations.min() > 10


def test_levenberg_marquardt_on_a_gru_stops_converged_starts():
    system = gru_system()
    starts = np.random.default_rng(0).uniform(-1, 1, (30, system.state_size))
    result = fixed_points.solve(
        system, starts, fixed_points.SearchSettings(q_rule="absolute", q_tol=1e-14), progress=False
    )
    assert result.converged.mean() > 0.8
    h = torch.tensor(result.fixed_point[result.converged])
    residual = (h - system.step(h, torch.zeros(len(h), system.input_size, dtype=torch.float64))).pow(2).mean(-1)
    np.testing.assert_allclose(residual.numpy(), result.q[result.converged], rtol=1e-3, atol=1e-24)
    assert (result.q[result.converged] < 1e-14).all()


def test_find_rejects_starts_of_the_wrong_size():
    system, _ = linear_system()
    with pytest.raises(ValueError, match=r"\(B, 6\)"):
        fixed_points.solve(system, np.zeros((2, 5)), fixed_points.SearchSettings(q_rule="absolute"), progress=False)
    with pytest.raises(ValueError, match="method"):
        fixed_points.solve(
            system, np.zeros((2, 6)), fixed_points.SearchSettings(q_rule="absolute", method="newton"), progress=False
        )


def test_sample_starts_is_seeded_distinct_and_noisy_on_request():
    states_ = np.arange(40, dtype=np.float32).reshape(20, 2)
    first = fixed_points.sample_starts(states_, 5, noise=0.0, seed=3)
    np.testing.assert_array_equal(first, fixed_points.sample_starts(states_, 5, noise=0.0, seed=3))
    assert first.dtype == np.float64 and len(np.unique(first[:, 0])) == 5
    noisy = fixed_points.sample_starts(states_, 5, noise=0.1, seed=3)
    assert 0 < np.abs(noisy - first).max() < 1
    with pytest.raises(ValueError, match="21 distinct starts from 20"):
        fixed_points.sample_starts(states_, 21, noise=0.0, seed=0)


def test_parse_scatteritem():
    assert fixed_points.parse_scatteritem("1-of-4") == (0, 4)
    assert fixed_points.parse_scatteritem("4-of-4") == (3, 4)
    for bad in ("0-of-4", "5-of-4", "2of4"):
        with pytest.raises(ValueError, match=bad):
            fixed_points.parse_scatteritem(bad)


def solve_in_shards(system, starts, count):
    tables = []
    for index in range(count):
        rows = fixed_points.shard_rows(len(starts), index, count)
        result = fixed_points.solve(
            system, starts[rows], fixed_points.SearchSettings(q_rule="absolute", q_tol=1e-14), progress=False
        )
        tables.append(result.to_table(np.arange(len(starts))[rows]))
    return fixed_points.gather(
        tables[::-1], fixed_points.GatherSettings(q_rule="absolute", q_tol=1e-10, unique_tol=1e-6)
    )


def test_the_gathered_result_does_not_depend_on_the_number_of_shards():
    system = gru_system()
    starts = np.random.default_rng(0).uniform(-1, 1, (13, system.state_size))
    one, three, five = (solve_in_shards(system, starts, count) for count in (1, 3, 5))
    for other in (three, five):
        np.testing.assert_array_equal(other["start_index"].to_numpy(), np.arange(13))
        np.testing.assert_allclose(
            storage.list_matrix(other["fixed_point"]), storage.list_matrix(one["fixed_point"]), atol=1e-12
        )
        for column in ("converged", "fixed_point_id", "representative"):
            np.testing.assert_array_equal(other[column].to_numpy(), one[column].to_numpy())


def test_the_solver_and_the_gather_give_one_verdict_below_q_tol():
    # A GRU's starts solved at one tolerance and gathered at it: the starts the solver stopped are the ones
    # gathered as converged, and approximate_set (a result in memory) keeps the gathered unique points.
    system = gru_system(scale=2.0)
    starts = np.random.default_rng(2).uniform(-1, 1, (24, system.state_size))
    settings = fixed_points.SearchSettings(q_rule="absolute", q_tol=1e-9, max_iterations=4)
    result = fixed_points.solve(system, starts, settings, progress=False)
    assert 0 < result.converged.sum() < len(starts)  # a few iterations leave some starts above q_tol
    np.testing.assert_array_equal(result.converged, stages.below_tolerance(result.q, settings.q_tol))
    gather_settings = fixed_points.GatherSettings(q_rule="absolute", q_tol=settings.q_tol)
    gathered = fixed_points.gather([result.to_table()], gather_settings)
    np.testing.assert_array_equal(gathered["converged"].to_numpy(), result.converged)
    unique = storage.list_matrix(fixed_points.unique_fixed_points(gathered)["fixed_point"])
    np.testing.assert_array_equal(fixed_points.approximate_set(result, gather_settings), unique)
    nothing = fixed_points.approximate_set(result, fixed_points.GatherSettings(q_rule="absolute", q_tol=1e-300))
    assert nothing.shape == (0, system.state_size)


def shard(points, q):
    points = np.asarray(points, dtype=np.float64)
    return solver.FixedPointResult(
        start=points,
        fixed_point=points,
        q=np.asarray(q),
        iterations=np.ones(len(q), dtype=int),
        converged=np.asarray(q) < 1e-12,
        method="lm",
        tolerance=1e-12,
        seconds=0.0,
    ).to_table()


def test_duplicates_merge_by_chebyshev_or_euclidean_distance_keeping_the_lowest_q():
    # Every coordinate within 1e-3 (Chebyshev 8e-4) but 1.13e-3 apart in Euclidean distance.
    table = shard([[0, 0], [8e-4, 8e-4], [1, 1]], [1e-9, 1e-10, 1e-7])
    chebyshev = fixed_points.gather(
        [table], fixed_points.GatherSettings(q_rule="absolute", q_tol=1e-6, unique_tol=1e-3, unique_metric="chebyshev")
    )
    assert chebyshev["fixed_point_id"].to_pylist() == [0, 0, 1]
    assert chebyshev["representative"].to_pylist() == [False, True, True]  # the lowest q stands for the pair
    euclidean = fixed_points.gather(
        [table], fixed_points.GatherSettings(q_rule="absolute", q_tol=1e-6, unique_tol=1e-3, unique_metric="euclidean")
    )
    assert euclidean["fixed_point_id"].to_pylist() == [1, 0, 2]
    assert euclidean["representative"].to_pylist() == [True, True, True]
    assert fixed_points.unique_fixed_points(chebyshev)["q"].to_pylist() == [1e-10, 1e-7]


def test_gather_counts_convergence_and_drops_outliers():
    table = shard([[0, 0], [0.1, 0], [5, 5], [0.2, 0]], [1e-9, 1e-7, 1e-9, 1e-3])
    gathered = fixed_points.gather(
        [table], fixed_points.GatherSettings(q_rule="absolute", q_tol=1e-6, unique_tol=1e-3, outlier_distance=1.0)
    )
    assert gathered["converged"].to_pylist() == [True, True, True, False]
    assert gathered["outlier"].to_pylist() == [False, False, True, False]
    assert gathered["fixed_point_id"].to_pylist() == [0, 1, -1, -1]
    counts = fixed_points.counts(gathered)
    assert np.isnan(counts.pop("slow_point_time_constant"))  # no modulus measured at the slow point
    assert np.isnan(counts.pop("speed_scale"))  # a table of no search: no speed scale
    assert counts == {
        "starts": 4, "tolerance": 1e-6, "converged": 3, "slow_points": 1, "slow_point_median_q": 1e-3,
        "converged_1e-8": 2, "outside_state_space": 0, "at_bound": 0, "unique_fixed_points": 2, "exact_roots": -1,
    }  # fmt: skip
    with pytest.raises(ValueError, match="overlap"):
        fixed_points.gather([table, table], fixed_points.GatherSettings(q_rule="absolute"))
    with pytest.raises(ValueError, match="unique_metric"):
        fixed_points.gather([table], fixed_points.GatherSettings(q_rule="absolute", unique_metric="cosine"))


def test_gathered_table_round_trips_through_parquet(tmp_path):
    gathered = fixed_points.gather(
        [shard([[0, 0], [1, 1]], [1e-9, 1e-9])], fixed_points.GatherSettings(q_rule="absolute")
    )
    pq.write_table(gathered, tmp_path / "layer1.parquet")
    back = fixed_points.read_fixed_points(tmp_path / "layer1.parquet")
    # Exact roots were not sought: NaN there, which equals() counts as different.
    nan_columns = ["exact_root", "exact_root_q", "slow_point_modulus"]
    assert back.drop_columns(nan_columns).equals(gathered.drop_columns(nan_columns))
    np.testing.assert_array_equal(storage.list_matrix(back["exact_root"]), storage.list_matrix(gathered["exact_root"]))
    pq.write_table(gathered.drop_columns(["q"]), tmp_path / "bad.parquet")
    with pytest.raises(Exception, match="bad.parquet.*'q'"):
        fixed_points.read_fixed_points(tmp_path / "bad.parquet")


def write_layer(path, review, t, h):
    table = pa.table(
        {
            "review": pa.array(review, pa.int32()),
            "t": pa.array(t, pa.int32()),
            "label": pa.array(np.zeros(len(review)), pa.int8()),
            "h": pa.FixedSizeListArray.from_arrays(pa.array(h.ravel(), pa.float32()), h.shape[1]),
        },
        schema=states.layer_schema(h.shape[1]),
    )
    pq.write_table(table, path)


def test_stack_states_join_the_layers_on_review_and_position(tmp_path):
    review, t = np.array([0, 0, 1]), np.array([0, 1, 0])
    layer1 = np.array([[1.0, 1], [2, 2], [3, 3]])
    layer2 = np.array([[10.0], [20], [30]])
    write_layer(tmp_path / "layer1.parquet", review, t, layer1)
    order = [2, 0, 1]  # the upper layer's rows in another order
    write_layer(tmp_path / "layer2.parquet", review[order], t[order], layer2[order])
    stack = fixed_points.system_states(tmp_path, "stack")
    np.testing.assert_array_equal(stack, [[1, 1, 10], [2, 2, 20], [3, 3, 30]])
    np.testing.assert_array_equal(fixed_points.system_states(tmp_path, "layer2"), layer2[order])


def test_fixed_points_outside_the_reachable_state_space_are_not_counted():
    # A GRU whose update gate is shut (z = 1): every h is fixed, also h = 2, which a GRU
    # started from h = 0 can never reach (its states stay in [-1, 1]).
    hidden = 2
    params = {
        "weight_ih": torch.zeros(3 * hidden, 1, dtype=torch.float64),
        "weight_hh": torch.zeros(3 * hidden, hidden, dtype=torch.float64),
        "bias_ih": torch.tensor([0.0, 0.0, 50.0, 50.0, 0.0, 0.0], dtype=torch.float64),
        "bias_hh": torch.zeros(3 * hidden, dtype=torch.float64),
    }
    system = cells.DynamicalSystem(
        step=lambda h, x: cells.GRU.step(params, h, x),
        state_size=hidden,
        input_size=1,
        readout=lambda h: h,
        state_bound=cells.GRU.state_bound(hidden),
    )
    starts = np.array([[0.5, 0.0], [2.0, 0.0]])
    result = fixed_points.solve(
        system, starts, fixed_points.SearchSettings(q_rule="absolute", bounded=False), progress=False
    )
    assert result.q.max() < 1e-20
    np.testing.assert_array_equal(result.in_state_space, [True, False])
    gathered = fixed_points.gather([result.to_table()], fixed_points.GatherSettings(q_rule="absolute"))
    assert gathered["fixed_point_id"].to_pylist() == [0, -1]
    assert fixed_points.counts(gathered)["outside_state_space"] == 1
    # The default, bounded search stops the second start on the bound (h = 1): in the state
    # space, but counted apart, not as a fixed point.
    bounded = fixed_points.solve(system, starts, fixed_points.SearchSettings(q_rule="absolute"), progress=False)
    np.testing.assert_array_equal(bounded.fixed_point, [[0.5, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(bounded.in_state_space, [True, True])
    np.testing.assert_array_equal(bounded.at_bound, [False, True])
    gathered = fixed_points.gather([bounded.to_table()], fixed_points.GatherSettings(q_rule="absolute"))
    assert gathered["fixed_point_id"].to_pylist() == [0, -1]
    counts = fixed_points.counts(gathered)
    assert (counts["outside_state_space"], counts["at_bound"], counts["unique_fixed_points"]) == (0, 1, 1)


def slow_slope(delta=1e-4):
    """h' = ((1 - delta) h1, 0.5 h2): one mode with a time constant of 1 / delta steps, one fast.

    Its fixed point is 0; q = delta^2 h1^2 / 2 along h1, so q < 1e-6 once |h1| < 1e-3 / delta
    (14.1 for delta = 1e-4), reached only by stepping along the slow mode.
    """
    scale = torch.tensor([1 - delta, 0.5], dtype=torch.float64)
    return cells.DynamicalSystem(step=lambda h, x: h * scale, state_size=2, input_size=1, readout=lambda h: h)


def test_a_start_on_a_slow_slope_goes_on_below_the_tolerance_where_adam_stops(monkeypatch):
    system = slow_slope()
    starts = np.array([[20.0, 0.3], [-18.0, -0.2]])
    lm = fixed_points.solve(system, starts, fixed_points.SearchSettings(q_rule="absolute"), progress=False)
    adam = fixed_points.solve(
        system,
        starts,
        fixed_points.SearchSettings(q_rule="absolute", method="adam", max_iterations=5000),
        progress=False,
    )
    assert lm.converged.all() and adam.converged.all()
    # Both stop just past the edge of the tolerance (|h1| = 14.1), not at the fixed point 0.
    assert np.all(np.abs(lm.fixed_point[:, 0]) > 13), lm.fixed_point
    np.testing.assert_allclose(lm.fixed_point[:, 0], adam.fixed_point[:, 0], atol=0.5)
    assert lm.iterations.max() < 100 < adam.iterations.min()
    # With the damping floor held at APPROXIMATE_MIN_DAMPING LM moves h1 by 2e-4 a step:
    # it stalls and would call these starts slow points.
    monkeypatch.setattr(solver, "STALL_MIN_DAMPING", solver.APPROXIMATE_MIN_DAMPING)
    held = fixed_points.solve(system, starts, fixed_points.SearchSettings(q_rule="absolute"), progress=False)
    assert not held.converged.any() and held.iterations.max() < 20


def test_a_start_at_a_minimum_of_q_above_the_tolerance_stops_there_as_a_slow_point():
    # h1' = h1 - eps (h1^2 + a): no fixed point, q has its minimum eps^2 a^2 / 2 = 2e-6 at h1 = 0.
    eps, a = 1e-2, 0.2
    system = cells.DynamicalSystem(
        step=lambda h, x: torch.stack([h[:, 0] - eps * (h[:, 0] ** 2 + a), 0.5 * h[:, 1]], dim=1),
        state_size=2, input_size=1, readout=lambda h: h,
    )  # fmt: skip
    result = solver.measure_slow_points(
        system,
        fixed_points.solve(
            system, np.array([[0.4, 0.1], [-0.3, 0.0]]), fixed_points.SearchSettings(q_rule="absolute"), progress=False
        ),
    )
    assert not result.converged.any()
    np.testing.assert_allclose(result.q, (eps * a) ** 2 / 2, rtol=1e-3)
    np.testing.assert_allclose(result.fixed_point, 0, atol=0.02)
    assert result.iterations.max() < 200  # it stopped: it did not run out of iterations
    counts = fixed_points.counts(
        fixed_points.gather([result.to_table()], fixed_points.GatherSettings(q_rule="absolute"))
    )
    assert (counts["converged"], counts["slow_points"]) == (0, 2)


def test_a_start_pressed_on_the_bound_slides_along_it_to_the_least_q_there():
    # h' = A h + b, whose fixed point (1.5, 0.2) lies beyond the state bound |h| <= 1: the
    # bounded search holds h1 on the bound and solves for h2, ending at the least q on the
    # face h1 = 1 (a slow point on the bound), where clipping the full step would creep.
    a = np.array([[0.5, 0.2], [0.1, 0.3]])
    residual_map = np.eye(2) - a
    b = residual_map @ np.array([1.5, 0.2])
    a_t, b_t = torch.tensor(a), torch.tensor(b)
    system = cells.DynamicalSystem(
        step=lambda h, x: h @ a_t.T + b_t, state_size=2, input_size=1, readout=lambda h: h,
        state_bound=np.ones(2),
    )  # fmt: skip
    # Least ||(I - A) h - b|| with h1 = 1: a one-variable least-squares problem in h2.
    column, target = residual_map[:, 1], b - residual_map[:, 0]
    best = np.array([1.0, column @ target / (column @ column)])
    result = fixed_points.solve(
        system,
        np.array([[0.0, 0.0], [0.9, -0.8], [-0.5, 0.9]]),
        fixed_points.SearchSettings(q_rule="absolute"),
        progress=False,
    )
    np.testing.assert_allclose(result.fixed_point, np.tile(best, (3, 1)), atol=1e-6)
    assert result.at_bound.all() and not result.converged.any()
    assert result.iterations.max() < 50


def test_extent_tells_one_stable_point_from_points_along_a_slow_mode():
    # Around the one root of a contracting linear system the approximate fixed points
    # (stopped at q < 1e-6 from different sides) scatter a little, and the deduplication
    # may count several; along a slow mode they stay spread like their starts.
    starts = np.random.default_rng(2).standard_normal((40, 6)) * 3
    system, known = linear_system()
    around_one = fixed_points.gather(
        [fixed_points.solve(system, starts, fixed_points.SearchSettings(q_rule="absolute"), progress=False).to_table()],
        fixed_points.GatherSettings(q_rule="absolute"),
    )
    points = np.stack(fixed_points.unique_fixed_points(around_one)["fixed_point"].to_numpy(zero_copy_only=False))
    assert np.abs(points - known).max() < 0.05
    assert spectra.extent(points, starts) < 0.01
    slope_starts = np.column_stack([np.linspace(-40, 40, 9), np.zeros(9)])
    slope_starts = slope_starts[np.abs(slope_starts[:, 0]) > 15]
    along = fixed_points.solve(
        slow_slope(), slope_starts, fixed_points.SearchSettings(q_rule="absolute"), progress=False
    )
    assert along.converged.all()
    assert spectra.extent(along.fixed_point, slope_starts) > 0.3
    assert np.isnan(spectra.extent(points[:1], starts))


def visiting_gru(seed=0, size=16):
    """A random GRU layer as a system, and 200 states it visits reading random inputs."""
    torch.manual_seed(seed)
    gru = torch.nn.GRU(3, size, batch_first=True).double()
    with torch.no_grad():
        states, _ = gru(torch.randn(20, 10, 3, dtype=torch.float64))
    return api_systems.as_system(gru, None, state_size=size), states.reshape(-1, size).numpy()


def test_the_relative_tolerance_is_a_fraction_of_the_starts_median_q_and_scales_with_them():
    system, states = visiting_gru()
    starts = fixed_points.sample_starts(states, 100, noise=0.0, seed=0)
    settings = fixed_points.SearchSettings()
    scale = solver.speed_scale(system, starts)
    result = fixed_points.solve(system, starts, settings, progress=False)
    assert settings.q_rule == "relative" and result.speed_scale == scale
    assert result.tolerance == pytest.approx(settings.q_fraction * scale)
    gathered = fixed_points.gather([result.to_table()], fixed_points.GatherSettings())
    assert float(gathered.schema.metadata[b"tolerance"]) == result.tolerance
    np.testing.assert_array_equal(gathered["converged"].to_numpy(), result.converged)
    # Absolute: q_tol as given, whatever the speed scale.
    assert fixed_points.SearchSettings(q_rule="absolute", q_tol=3e-7).tolerance(scale) == 3e-7
    with pytest.raises(ValueError, match="q_rule must be one of"):
        fixed_points.SearchSettings(q_rule="knee").tolerance(scale)
    with pytest.raises(ValueError, match="speed scale"):
        fixed_points.gather([shard([[0.0, 0.0]], [1e-9])], fixed_points.GatherSettings())


def test_the_relative_tolerance_gives_the_same_set_on_starts_perturbed_in_their_last_bits():
    """Every start moved by a few units in the last place (as another CPU's sums round): the same tolerance
    to ~1e-12 and the same starts below it, the same unique points."""
    system, states = visiting_gru(seed=1)
    starts = fixed_points.sample_starts(states, 200, noise=0.0, seed=0)
    ulps = np.random.default_rng(0).integers(-4, 5, starts.shape)
    perturbed = starts + ulps * np.spacing(starts)
    assert not np.array_equal(perturbed, starts)
    found = [
        fixed_points.solve(system, rows, fixed_points.SearchSettings(), progress=False) for rows in (starts, perturbed)
    ]
    assert found[0].tolerance == pytest.approx(found[1].tolerance, rel=1e-12)
    np.testing.assert_array_equal(found[0].converged, found[1].converged)
    assert found[0].converged.sum() > 0
    sets = [fixed_points.approximate_set(result, fixed_points.GatherSettings()) for result in found]
    assert sets[0].shape == sets[1].shape
    np.testing.assert_allclose(sets[0], sets[1], atol=1e-9)


def test_shards_of_one_search_share_its_speed_scale_and_shards_of_two_are_refused(tmp_path):
    system, states = visiting_gru(seed=2)
    settings = fixed_points.SearchSettings(starts=60)
    tables = [fixed_points.solve_shard(system, states, settings, index, 3) for index in range(3)]
    whole = fixed_points.solve(system, fixed_points.sample_starts(states, 60, 0.0, 0), settings, progress=False)
    gathered = fixed_points.gather(tables, fixed_points.GatherSettings())
    assert float(gathered.schema.metadata[b"tolerance"]) == pytest.approx(whole.tolerance, rel=1e-12)
    other = fixed_points.solve_shard(system, states, fixed_points.SearchSettings(starts=60, seed=1), 1, 3)
    with pytest.raises(ValueError, match="different speed scales"):
        fixed_points.gather([tables[0], other], fixed_points.GatherSettings())
