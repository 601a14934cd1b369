#!/usr/bin/env bash
# The GPU checks of the fixed-point and architecture work, in one call on a lent GPU machine
# (no Snakemake needed: the package runs from src/):
#
#   bash benchmarks/gpu_checks.sh [INPUTS] [OUT]
#
# INPUTS (default .device, git-ignored: carry it with the call) holds fp/model.pt (a trained
# 1-layer GRU-256) with fp/test600.parquet (a split table whose reviews give the fixed-point
# starts; the benchmark reads its first 600, so those rows suffice:
# pq.write_table(pq.read_table(test).slice(0, 600), ...)), and imdb/{train,valid,test,vocab}.parquet
# with imdb/kumo-50.npy (a prepared IMDB, results/imdb/data, and its vectors,
# results/imdb/embeddings). OUT (default gpu_checks) gets one log per step and summary.txt.
# Steps, in the order they run (most wanted first), each under its own time limit:
#   fixed_points     benchmarks/fixed_points.py on the GPU (goal: 500 starts in under 0.5 s)
#   train_{gru,ugrnn}
#                    seconds per IMDB epoch (goal: the UGRNN, through scan.fused_ugrnn, within
#                    2x of the GRU)
#   pytest_cuda      the CUDA tests: the compiled scan and the fused UGRNN against the explicit
#                    equations, LM on the GPU against the CPU, linearize and analyze on the GPU
#   cell_throughput  forward + backward tokens/s: compiled scan, eager scan, fused kernel
#   train_vanilla    seconds per IMDB epoch of the vanilla RNN (cuDNN)
# DEVICE=cpu runs the same steps on the CPU (a smoke test of the script on small inputs).
set -u
inputs=${1:-.device}
out=${2:-gpu_checks}
device=${DEVICE:-cuda}
mkdir -p "$out"
export PYTHONPATH=$PWD/src:$PWD/tests${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
{
    date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
} >"$out/summary.txt" 2>&1
cat "$out/summary.txt"

step() {
    local name=$1 limit=$2
    shift 2
    local began=$SECONDS
    echo "== $name (limit ${limit} s): $*"
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    local rc=$?
    echo "$name: rc $rc, $((SECONDS - began)) s" | tee -a "$out/summary.txt"
    tail -n 4 "$out/$name.log"
}

training=(python3 benchmarks/training_imdb.py --data "$inputs/imdb" --embeddings "$inputs/imdb/kumo-50.npy"
    --embedding 50 --layers 1 --skip-baseline --device "$device" --architecture)

step fixed_points 120 python3 benchmarks/fixed_points.py --model "$inputs/fp/model.pt" \
    --reviews "$inputs/fp/test600.parquet" --device "$device" --per-start-sample 10
step train_gru 60 "${training[@]}" gru --epochs 2
step train_ugrnn 150 "${training[@]}" ugrnn --epochs 3
# Only the CUDA cases (their CPU twins run in CI): with the CPU's compiled scans they took over 90 s.
step pytest_cuda 120 python3 -m pytest -q -p no:cacheprovider tests/test_scan.py \
    tests/test_fixed_point_fidelity.py tests/test_linearization.py tests/test_analyses.py -k "cuda or gpu"
step cell_throughput 100 python3 benchmarks/cell_throughput.py --device "$device" --cells gru ugrnn vanilla
step train_vanilla 60 "${training[@]}" vanilla --epochs 2
