"""Approximate fixed points of a GRU layer of 256 units from 500 starts: the default LM against Adam.

Times, in one process, from the same starts and to the same tolerance (the
reproduction's q < 1e-6), the project's default solver (Levenberg-Marquardt on
all starts at once, closed-form Jacobians, float64 residuals and normal equations
in float32, through LAPACK one matrix per call on a CPU; LM runs three times and its
median time counts; the same LM all in float64 is timed beside it, with how far apart
their endpoints end, and on a CPU the same LM with its normal equations by batched
torch calls, a GPU's way) against the reproduction's way (Adam on q, one start at a
time; a sample of starts is timed, on the benchmark's threads and on one thread,
and its seconds per iteration multiplied by the iterations batched Adam gave
every start, the same starts' own counts; the speedup is against the faster of
the two thread counts) and FixedPointFinder's way (Adam on all starts at once),
and says how well the endpoint sets agree: converged starts,
unique points in the reachable states, their range along the visited states' PC1
and their first PC's share of variance (keys ending in ``_agreement``: 1 is
perfect, the smaller of two numbers over the larger, or for the range the overlap
over the union).

The network: ``--model PATH --reviews SPLIT.parquet`` (a trained 1-layer model and
the split whose reviews give the visited states), or else a 1-layer GRU with 256
units trained here on a generated dataset.

    python benchmarks/fixed_points.py [--quick] [--model PATH --reviews SPLIT.parquet] [--device cuda]

On a GPU (``--device cuda``) every solver runs there; an untimed LM search (both
precisions) warms CUDA up (context, cuBLAS and cuSOLVER handles, kernel loading)
first, and per-start Adam is timed on the GPU alone (the thread count is the CPU's).

With ``--against-fixed-point-finder`` it compares instead the API's default (``rnn_dynamics.find_fixed_points``
on the model's ``nn.GRU``, as a user calls it) with FixedPointFinder's way on the same starts: Adam on q for
all starts at once from learning rates 1.0 (FixedPointFinder's default) and 0.01, 5,000 iterations, stopping
at its default ``tol_q`` 1e-12 and free to leave the states the network can reach. For each: its time, its
unique endpoints as FixedPointFinder dedupes them (``tol_unique`` 1e-3, Euclidean, converged or not), how many
end outside the state bound, what the API's verdicts keep of them (below its tolerance, inside the bound,
deduplicated), and how many of those and of the API's unique points lie within 1e-3, 1e-2 and 1e-1
(Chebyshev) of a point of the other set. The project's Adam is plain Adam: FixedPointFinder's adaptive
learning rate and gradient-norm clipping are not reproduced.

    python benchmarks/fixed_points.py --against-fixed-point-finder [--epochs 3] [--adam-iterations 5000]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

import rnn_dynamics as rd
from rnn_dynamics.data import batches, datasets, embeddings, synthetic
from rnn_dynamics.dynamics import fixed_points, linearization, solver
from rnn_dynamics.dynamics import states as states_lib
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import model as model_lib
from rnn_dynamics.networks import training


def train_on_synthetic(folder: Path, epochs: int) -> tuple[Path, Path]:
    """A 1-layer GRU (E16, H256) trained on generated reviews of 16-40 words; its model.pt and test split."""
    synthetic.write_archive(
        folder / "synthetic.tar.gz", synthetic.Settings(reviews_per_split=2000, seed=0, min_length=16, max_length=40)
    )
    outputs = {name: folder / f"{name}.parquet" for name in ("train", "valid", "test", "vocab")}
    datasets.prepare(
        datasets.read_archive(folder / "synthetic.tar.gz"),
        outputs,
        datasets.PrepareSettings(valid_fraction=0.2, split_seed=0),
    )
    spec = ModelSpec.parse("gru-L1-E16-H256-s0")
    splits = {split: batches.read_split(outputs[split]) for split in ("train", "valid", "test")}
    matrix = embeddings.build(pq.read_table(outputs["vocab"]), "random", spec.embedding, seed=0)
    settings = training.Settings(
        epochs=epochs, learning_rate=0.01, dropout=0.1, device="cpu", threads=torch.get_num_threads()
    )
    names = ("initial.pt", "model.pt", "history.parquet", "metrics.json", "checkpoint.pt")
    training.train(spec, splits, matrix, settings, training.Outputs(*(folder / name for name in names)))
    return folder / "model.pt", outputs["test"]


def ratio(a: float, b: float) -> float:
    """The smaller over the larger (1 when both are 0)."""
    return 1.0 if max(a, b) == 0 else float(min(a, b) / max(a, b))


def agreement(lm: dict, adam: dict, lm_result, adam_result) -> dict:
    overlap = max(0.0, min(lm["axis_max"], adam["axis_max"]) - max(lm["axis_min"], adam["axis_min"]))
    union = max(lm["axis_max"], adam["axis_max"]) - min(lm["axis_min"], adam["axis_min"])
    return {
        "converged_agreement": round(ratio(lm_result.converged.sum(), adam_result.converged.sum()), 3),
        "unique_agreement": round(ratio(lm["count"], adam["count"]), 3),
        "pc1_range_agreement": round(overlap / union, 3) if union > 0 else float("nan"),
        "first_pc_share_agreement": round(ratio(lm["first_pc_share"], adam["first_pc_share"]), 3),
    }


# FixedPointFinder's defaults (its default_hps): the stopping q, the deduplication distance, the learning
# rate of its Adam; 0.01 beside it, the reproduction's.
FPF_TOL_Q = 1e-12
FPF_TOL_UNIQUE = 1e-3
FPF_LEARNING_RATES = (1.0, 0.01)
MATCH_DISTANCES = (1e-3, 1e-2, 1e-1)


def matched(points: np.ndarray, others: np.ndarray, distance: float) -> int:
    """How many of ``points`` lie within ``distance`` (Chebyshev) of one of ``others``."""
    if not len(points) or not len(others):
        return 0
    gaps = np.abs(points[:, None, :] - others[None, :, :]).max(axis=2).min(axis=1)
    return int((gaps < distance).sum())


def against_fixed_point_finder(model, system, starts: np.ndarray, iterations: int) -> dict:
    """The API's default on the model's ``nn.GRU`` against FixedPointFinder's batched Adam from the same
    ``starts``, at each of ``FPF_LEARNING_RATES``; prints a line for each and returns the figures."""
    began = time.perf_counter()
    found = rd.find_fixed_points(model.recurrent, starts)
    api_seconds = time.perf_counter() - began
    api = found.unique_points
    bound = np.asarray(system.state_bound)
    figures = {
        "api_seconds": round(api_seconds, 3),
        "api_converged": int(found.converged.sum()),
        "api_unique": len(api),
        "api_at_bound": int(found.at_bound.sum()),
    }
    print(
        f"API default (find_fixed_points, LM): {api_seconds:.2f} s, {found.converged.sum()} of {len(starts)} "
        f"below its tolerance, {found.at_bound.sum()} of them stopped at the state bound (not fixed points), "
        f"{len(api)} unique"
    )
    for rate in FPF_LEARNING_RATES:
        settings = fixed_points.SearchSettings(
            method="adam", learning_rate=rate, max_iterations=iterations, q_rule="absolute", q_tol=FPF_TOL_Q,
            bounded=False,
        )  # fmt: skip
        adam = fixed_points.solve(system, starts, settings, progress=False, device=model.readout.weight.device)
        ends = adam.fixed_point
        outside = (np.abs(ends) > bound + 1e-12).any(axis=1)
        _, representatives = fixed_points.merge_duplicates(ends, adam.q, FPF_TOL_UNIQUE, "euclidean")
        kept = fixed_points.approximate_set(adam, fixed_points.GatherSettings())
        tag = f"adam_lr{rate:g}"
        row = {
            f"{tag}_seconds": round(adam.seconds, 3),
            f"{tag}_below_tol_q": int((adam.q < FPF_TOL_Q).sum()),
            f"{tag}_median_q": float(np.median(adam.q)),
            f"{tag}_outside_bound": int(outside.sum()),
            f"{tag}_max_abs_state": round(float(np.abs(ends).max()), 3),
            f"{tag}_fpf_unique": len(representatives),
            f"{tag}_fpf_unique_inside_bound": int((~outside[representatives]).sum()),
            f"{tag}_kept_by_api_verdicts": len(kept),
            **{f"{tag}_within_{d:g}_of_api": matched(kept, api, d) for d in MATCH_DISTANCES},
            **{f"api_within_{d:g}_of_{tag}": matched(api, kept, d) for d in MATCH_DISTANCES},
        }
        figures |= row
        print(
            f"adam, batched, learning rate {rate:g}, {iterations} iterations, unbounded, stopping at q < "
            f"{FPF_TOL_Q:g}: {adam.seconds:.2f} s, {row[f'{tag}_below_tol_q']} below it (median q "
            f"{row[f'{tag}_median_q']:.1e}), {outside.sum()} ending outside the state bound (|h| up to "
            f"{row[f'{tag}_max_abs_state']}); FixedPointFinder's unique set {len(representatives)} "
            f"({row[f'{tag}_fpf_unique_inside_bound']} inside the bound); the API's verdicts keep {len(kept)}; "
            + ", ".join(
                f"within {d:g}: {row[f'{tag}_within_{d:g}_of_api']} of them near an API point, "
                f"{row[f'api_within_{d:g}_of_{tag}']} API points near one of them"
                for d in MATCH_DISTANCES
            )
        )
    figures["speedup_vs_adam_lr1"] = round(figures["adam_lr1_seconds"] / api_seconds, 1)
    figures["speedup_vs_adam_lr0.01"] = round(figures["adam_lr0.01_seconds"] / api_seconds, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="100 starts, 3 per-start samples, a model trained 2 epochs"
    )
    parser.add_argument("--model", type=Path, help="a trained model.pt (its layer 1 is solved)")
    parser.add_argument("--reviews", type=Path, help="the split table whose reviews give the visited states")
    parser.add_argument("--starts", type=int)
    parser.add_argument("--adam-iterations", type=int, help="default 20,000; 5,000 against FixedPointFinder")
    parser.add_argument("--per-start-sample", type=int)
    parser.add_argument("--state-reviews", type=int, default=600, help="reviews whose states are the visited states")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (the GPU when there is one)")
    parser.add_argument(
        "--unbounded", action="store_true", help="let every solver leave the state bound (the reproduction's Adam)"
    )
    parser.add_argument(
        "--against-fixed-point-finder",
        action="store_true",
        help="the API's default against FixedPointFinder's batched Adam at learning rates 1.0 and 0.01",
    )
    parser.add_argument("--epochs", type=int, help="epochs of the GRU trained here (default 6, 2 with --quick)")
    args = parser.parse_args()
    if (args.model is None) != (args.reviews is None):
        parser.error("--model and --reviews go together")
    args.adam_iterations = args.adam_iterations or (5000 if args.against_fixed_point_finder else 20000)
    starts_n = args.starts or (100 if args.quick else 500)
    sample = args.per_start_sample or (3 if args.quick else 10)
    torch.manual_seed(0)

    workdir = None
    if args.model:
        model_path, reviews_path = args.model, args.reviews
    else:
        workdir = tempfile.TemporaryDirectory(prefix="benchmark_fixed_points_")
        print("no --model given: training a GRU (E16, H256) on generated data")
        epochs = args.epochs or (2 if args.quick else 6)
        model_path, reviews_path = train_on_synthetic(Path(workdir.name), epochs=epochs)
    device = model_lib.resolve_device(args.device, "--device")
    model = model_lib.load(model_path, map_location=device)
    system = model.system("layer1")
    reviews = batches.read_split(reviews_path)
    states = states_lib.visited_states(model, reviews, np.arange(min(args.state_reviews, len(reviews))))[0]  # layer 1
    starts = fixed_points.sample_starts(states, starts_n, noise=0.0, seed=0)
    origin = states.mean(axis=0)
    axis = np.linalg.svd(states - origin, full_matrices=False)[2][0]
    on_gpu = device.type == "cuda"
    where = torch.cuda.get_device_name(device) if on_gpu else f"{torch.get_num_threads()} threads"
    print(f"model {model_path} ({model.spec.id}), {len(states)} visited states, {starts_n} starts, {where}")
    if args.against_fixed_point_finder:
        figures = {"model": model.spec.id, "model_path": str(model_path), "starts": starts_n, "device": str(device)}
        figures |= {"threads": torch.get_num_threads(), "adam_iterations": args.adam_iterations}
        metrics = Path(model_path).parent / "metrics.json"
        if metrics.exists():
            figures["test_accuracy"] = round(json.loads(metrics.read_text())["test_accuracy"], 4)
        figures |= against_fixed_point_finder(model, system, starts, args.adam_iterations)
        if workdir is not None:
            workdir.cleanup()
        print(json.dumps(figures))
        return
    bounded = not args.unbounded
    if on_gpu:  # the first full search pays for CUDA's handles and kernel loading
        for precision in (True, False):
            fixed_points.solve(
                system,
                starts,
                fixed_points.SearchSettings(bounded=bounded, single_precision=precision),
                progress=False,
                device=device,
            )

    def report(name, result):
        points = fixed_points.approximate_set(result, fixed_points.GatherSettings())
        summary = fixed_points.line_summary(points, axis, origin)
        print(
            f"{name}: {result.seconds:.2f} s, {result.converged.sum()} of {len(result.q)} below q 1e-6, "
            f"{summary['count']} unique in the reachable states, "
            f"PC1 {summary['axis_min']:.2f}..{summary['axis_max']:.2f}, "
            f"first-PC share {summary['first_pc_share']:.3f}, median iterations {np.median(result.iterations):.0f}"
        )
        return summary

    # LM takes seconds, so one run is at the mercy of the machine's other work: it runs three
    # times (the same search each time) and its median time is the one compared.
    repeats = [
        fixed_points.solve(system, starts, fixed_points.SearchSettings(bounded=bounded), progress=False, device=device)
        for _ in range(3)
    ]
    assert all(np.array_equal(run.fixed_point, repeats[0].fixed_point) for run in repeats)
    lm = sorted(repeats, key=lambda run: run.seconds)[1]
    lm_summary = report("levenberg-marquardt (default)", lm)
    print(f"levenberg-marquardt, three runs: {', '.join(f'{run.seconds:.2f}' for run in repeats)} s")
    lm_torch = lapack_speedup = lm_torch_difference = None
    if not on_gpu:
        # The GPU's way of solving the normal equations (batched torch calls), here on the CPU,
        # against the CPU's default (LAPACK one matrix per call, normal_equations).
        lm_torch = fixed_points.solve(
            system, starts, fixed_points.SearchSettings(bounded=bounded), progress=False, linear_algebra="torch"
        )
        report("levenberg-marquardt, normal equations by batched torch calls", lm_torch)
        lapack_speedup = lm_torch.seconds / lm.seconds
        lm_torch_difference = float(np.abs(lm.fixed_point - lm_torch.fixed_point).max())
        print(
            f"lapack against batched torch calls: {lapack_speedup:.2f}x faster, endpoints within "
            f"{lm_torch_difference:.1e}"
        )
    # The reference for the default's float32 normal equations: the same LM all in float64.
    lm64 = fixed_points.solve(
        system,
        starts,
        fixed_points.SearchSettings(bounded=bounded, single_precision=False),
        progress=False,
        device=device,
    )
    report("levenberg-marquardt in float64 (the reference)", lm64)
    lm64_difference = float(np.abs(lm.fixed_point - lm64.fixed_point).max())
    lm64_same_converged = bool((lm.converged == lm64.converged).all())
    single_precision_speedup = lm64.seconds / lm.seconds
    print(
        f"float32 normal equations against float64: {single_precision_speedup:.2f}x faster, endpoints within "
        f"{lm64_difference:.1e}, the same starts converged: {lm64_same_converged}"
    )
    adam = fixed_points.solve(
        system,
        starts,
        fixed_points.SearchSettings(method="adam", max_iterations=args.adam_iterations, bounded=bounded),
        progress=False,
        device=device,
    )
    adam_summary = report("adam, batched", adam)
    chosen = np.random.default_rng(0).choice(starts_n, size=sample, replace=False)

    def one_at_a_time():
        return fixed_points.solve(
            system,
            starts[chosen],
            fixed_points.SearchSettings(method="adam", max_iterations=args.adam_iterations, bounded=bounded),
            batched=False,
            progress=False,
            device=device,
        )

    # One start's Adam step is a handful of tiny operations: on a CPU, handing them to several
    # threads costs more than it saves, so the baseline is also timed on one thread and the
    # faster of the two is the one the speedup is measured against.
    per_start = one_at_a_time()
    threads = torch.get_num_threads()
    per_start_one_thread = None
    if threads > 1 and not on_gpu:
        try:
            torch.set_num_threads(1)
            per_start_one_thread = one_at_a_time()
        finally:
            torch.set_num_threads(threads)

    # Adam's iterations differ by start (hundreds to thousands), so a small sample's mean time per
    # start is a noisy guess. Batched Adam is per-start Adam run side by side (q and Adam's update act
    # start by start), so its iteration count per start is each start's own: the sample's seconds per
    # iteration times the iterations of every start is the time for all of them.
    def extrapolated(result):
        return result.seconds / result.iterations.sum() * adam.iterations.sum()

    per_start_seconds = extrapolated(per_start)
    per_start_by_mean = per_start.seconds / sample * starts_n
    print(
        f"adam, one start at a time: {per_start.seconds:.2f} s for {sample} starts "
        f"({per_start.iterations.sum()} iterations; batched Adam's for the same starts: "
        f"{adam.iterations[chosen].sum()}), {per_start_seconds:.1f} s for {starts_n} extrapolated by "
        f"batched Adam's {adam.iterations.sum()} iterations ({per_start_by_mean:.1f} s by the mean per start), "
        f"{per_start.converged.sum()} of {sample} below q 1e-6; the same endpoints as batched Adam within "
        f"{np.abs(per_start.fixed_point - adam.fixed_point[chosen]).max():.1e}"
    )
    one_thread_seconds = None if per_start_one_thread is None else extrapolated(per_start_one_thread)
    if one_thread_seconds is not None:
        print(
            f"adam, one start at a time on one thread: {per_start_one_thread.seconds:.2f} s for {sample} starts, "
            f"{one_thread_seconds:.1f} s for {starts_n} extrapolated likewise"
        )
    baseline = min(per_start_seconds, one_thread_seconds or np.inf)
    roots = solver.polish(system, lm, max_iterations=200, bounded=bounded, progress=False, device=device).exact_roots
    exact = fixed_points.approximate_set(
        roots, fixed_points.GatherSettings(q_rule="absolute", q_tol=solver.EXACT_Q_TOL)
    )
    print(f"exact roots (polish, an extension): {roots.seconds:.2f} s, {len(exact)} unique in the reachable states")

    unique = fixed_points.approximate_set(lm, fixed_points.GatherSettings())
    median, tau = linearization.largest_modulus(linearization.linearize(system, unique, modes=1, device=device).modulus)
    figures = {
        "model": model.spec.id,
        "model_path": str(model_path),
        "starts": starts_n,
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if on_gpu else None,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "bounded": bounded,
        "lm_seconds": round(lm.seconds, 3),
        "lm_seconds_runs": [round(run.seconds, 3) for run in repeats],
        "lm_float64_seconds": round(lm64.seconds, 3),
        "lm_torch_linear_algebra_seconds": None if lm_torch is None else round(lm_torch.seconds, 3),
        "speedup_lapack_over_torch": None if lapack_speedup is None else round(lapack_speedup, 2),
        "lm_torch_linear_algebra_max_endpoint_difference": lm_torch_difference,
        "speedup_single_precision": round(single_precision_speedup, 2),
        "lm_float64_max_endpoint_difference": lm64_difference,
        "lm_float64_same_converged": lm64_same_converged,
        "adam_batched_seconds": round(adam.seconds, 3),
        "adam_per_start_seconds_extrapolated": round(per_start_seconds, 1),
        "adam_per_start_one_thread_seconds_extrapolated": None
        if one_thread_seconds is None
        else round(one_thread_seconds, 1),
        "adam_per_start_seconds_by_sample_mean": round(per_start_by_mean, 1),
        "adam_per_start_sample": sample,
        "adam_per_start_sample_iterations": int(per_start.iterations.sum()),
        "adam_batched_iterations_of_sample": int(adam.iterations[chosen].sum()),
        "adam_iterations": int(adam.iterations.sum()),
        "speedup_vs_adam_batched": round(adam.seconds / lm.seconds, 1),
        # Against per-start Adam at its faster thread count.
        "speedup_vs_adam_per_start": round(baseline / lm.seconds, 1),
        "speedup_vs_adam_per_start_same_threads": round(per_start_seconds / lm.seconds, 1),
        **agreement(lm_summary, adam_summary, lm, adam),
        "lm_unique": lm_summary["count"],
        "adam_unique": adam_summary["count"],
        "lm_first_pc_share": round(lm_summary["first_pc_share"], 3),
        "adam_first_pc_share": round(adam_summary["first_pc_share"], 3),
        "lm_median_iterations": float(np.median(lm.iterations)),
        "exact_roots": len(exact),
        "exact_roots_seconds": round(roots.seconds, 2),
        "median_largest_modulus": round(median, 5),
        "time_constant": round(float(tau), 1),
    }
    if workdir is not None:
        workdir.cleanup()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
