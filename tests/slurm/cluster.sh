#!/usr/bin/env bash
# A one-node SLURM cluster on localhost, for tests/test_slurm.py.
#
#   tests/slurm/cluster.sh start    install slurm-wlm + munge if missing, start
#                                   munged, slurmctld, slurmd; wait for an idle node
#   tests/slurm/cluster.sh stop     stop the daemons `start` started and kill the
#                                   jobs still running
#   tests/slurm/cluster.sh status   sinfo
#
# Runs as root. State (pid files, logs, spool) lives in $RNN_DYNAMICS_SLURM_STATE
# (default /tmp/rnn-dynamics-slurm). The configuration goes to the clients'
# default place, /etc/slurm/slurm.conf, so sbatch/squeue/scancel need no
# environment; a slurm.conf this script did not write is never overwritten.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
state=${RNN_DYNAMICS_SLURM_STATE:-/tmp/rnn-dynamics-slurm}
conf=/etc/slurm/slurm.conf
marker="# Written by tests/slurm/cluster.sh"

log() { echo "cluster.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v munged >/dev/null && command -v sbatch >/dev/null; then
        return
    fi
    log "installing slurm-wlm and munge"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge
}

write_config() {
    if [[ -e $conf ]] && ! grep -qF "$marker" "$conf"; then
        die "$conf exists and was not written by this script; refusing to overwrite it"
    fi
    # slurmd's own view of the machine, so the node registers without a mismatch.
    local hw cpus memory
    hw=$(slurmd -C | head -n 1)
    cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
    memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
    [[ -n $cpus && -n $memory ]] || die "could not read CPUs and RealMemory from 'slurmd -C': $hw"
    mkdir -p /etc/slurm "$state/slurmctld" "$state/slurmd"
    { echo "$marker"; sed -e "s|@STATE_DIR@|$state|g" -e "s|@CPUS@|$cpus|g" \
        -e "s|@REAL_MEMORY@|$memory|g" "$here/slurm.conf.in"; } >"$conf"
    log "node localhost: CPUs=$cpus RealMemory=${memory}MB"
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        log "munged already running"
        return
    fi
    if [[ ! -s /etc/munge/munge.key ]]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
    chown root:root /etc/munge/munge.key /etc/munge
    chmod 600 /etc/munge/munge.key
    chmod 700 /etc/munge
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown root:root /run/munge /var/lib/munge /var/log/munge
    munged --force --pid-file "$state/munged.pid"
    echo started >"$state/munged.started"
}

wait_for_idle_node() {
    local i
    for i in $(seq 60); do
        if [[ $(sinfo --noheader --nodes=localhost --format=%t 2>/dev/null) == idle ]]; then
            log "node localhost is idle"
            return
        fi
        sleep 1
    done
    sinfo >&2 || true
    tail -n 20 "$state/slurmctld.log" "$state/slurmd.log" >&2 || true
    die "node localhost did not become idle within 60 s"
}

start() {
    [[ $(id -u) == 0 ]] || die "must run as root (starts munged, slurmctld and slurmd)"
    install_packages
    mkdir -p "$state"
    if sinfo --noheader >/dev/null 2>&1 && [[ -e $state/slurmctld.pid ]]; then
        log "cluster already running"
        wait_for_idle_node
        return
    fi
    write_config
    start_munge
    clear_saved_state
    # -c: start with no jobs and no node states, whatever an earlier run saved;
    # -i: ignore errors in what is left of that state.
    slurmctld -c -i
    slurmd -N localhost
    wait_for_idle_node
}

# An earlier cluster killed mid-job (a cancelled CI run on the same runner) leaves
# its jobs in the controller's state and their scripts in slurmd's spool; recovered,
# they hold the node in `mix` and the tests' jobs wait behind them. Its stray daemons
# would keep the ports, and its jobs' steps (slurmstepd ignores SIGTERM) the CPUs.
# All of it goes before a fresh start.
clear_saved_state() {
    local daemon
    for daemon in slurmctld slurmd; do
        if pkill -x "$daemon" 2>/dev/null; then
            log "stopped a stray $daemon from an earlier run"
            sleep 1
        fi
    done
    kill_job_steps
    rm -rf "${state:?}/slurmctld" "${state:?}/slurmd" "$state/slurmctld.pid" "$state/slurmd.pid"
    mkdir -p "$state/slurmctld" "$state/slurmd"
}

# Job steps left running once their slurmd is gone, with everything they started.
kill_job_steps() {
    local pid
    for pid in $(pgrep -x slurmstepd); do
        log "killing job step $(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null) and its processes"
        kill_tree "$pid"
    done
}

kill_tree() {
    local child
    for child in $(pgrep -P "$1"); do
        kill_tree "$child"
    done
    kill -KILL "$1" 2>/dev/null || true
}

stop_pidfile() {
    local name=$1 pidfile=$2 pid i
    [[ -e $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
        for i in $(seq 20); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        log "stopped $name ($pid)"
    fi
    rm -f "$pidfile"
}

stop() {
    stop_pidfile slurmd "$state/slurmd.pid"
    stop_pidfile slurmctld "$state/slurmctld.pid"
    kill_job_steps
    if [[ -e $state/munged.started ]]; then
        stop_pidfile munged "$state/munged.pid"
        rm -f "$state/munged.started"
    fi
    if [[ -e $conf ]] && grep -qF "$marker" "$conf"; then
        rm -f "$conf"
    fi
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) sinfo ;;
    *) die "usage: $0 start|stop|status" ;;
esac
