#!/usr/bin/env bash
# The one-node SLURM cluster for the `slurm` tests (tests/test_slurm.py).
# .ci/run calls `.ci/slurm.sh start` before pytest and `.ci/slurm.sh stop` after
# (also on failure). Needs root: installs slurm-wlm and munge if missing.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/../tests/slurm/cluster.sh" "$@"
