#!/usr/bin/env bash
# Issue 11: the escalation job over 1,000,000 open tracked items of which 1% are due —
# time per run and items handled per second, on SQLite and on a throwaway durable
# PostgreSQL. The measurement itself is crates/store/benches/escalation_job.rs (its header
# describes the fixture); this script runs it on each backend and prints both.
#
#   bench/escalation.sh                                  # both backends, ~10 minutes
#   BACKENDS=sqlite ITEMS=100000 bench/escalation.sh     # quick
#
# Variables: BACKENDS ["sqlite postgres"], ITEMS [1000000], DUE_PERCENT [1],
# SQLITE_SYNC [full] (SQLite's synchronous: full = an fsync per commit, as
# `--sqlite-sync full`; normal), RESULTS [bench/results/escalation-<UTC date>.md],
# BENCH_WORK_PARENT [/var/tmp], BENCH_PG_PORT [56400], PG_EXTRA_CONF (more postgresql.conf
# lines, e.g. 'synchronous_commit = off' to see what the commit's WAL flush costs).
#
# PostgreSQL: started as in peer.sh (lib.sh's start_pg) in a directory on the disk, on a
# free loopback port, with durable commits (fsync=on, synchronous_commit=on,
# full_page_writes=on); stopped and removed at the end, whatever happens.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BACKENDS=${BACKENDS:-sqlite postgres}
ITEMS=${ITEMS:-1000000}
DUE_PERCENT=${DUE_PERCENT:-1}
SQLITE_SYNC=${SQLITE_SYNC:-full}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=${RESULTS:-$BENCH_DIR/results/escalation-$STAMP.md}

cleanup() {
  local rc=$?
  stop_pg || true
  [[ -z ${WORK:-} ]] || rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT INT TERM

if [[ " $BACKENDS " == *" postgres "* ]]; then
  PG_BIN=$(find_pg_bindir) || {
    say "installing postgresql"
    apt_install postgresql
    PG_BIN=$(find_pg_bindir) || die "no PostgreSQL server in /usr/lib/postgresql/*/bin"
  }
fi
make_work_dir

# Built once (release profile: `cargo bench` uses `bench`, which inherits `release`).
say "building the benchmark (cargo bench --no-run)"
(cd "$REPO_DIR" && cargo bench -p onewindow-store --bench escalation_job --no-run) >&2

run_bench() { # BACKEND
  local -a env_=(ONEWINDOW_BENCH_ITEMS="$ITEMS" ONEWINDOW_BENCH_DUE_PERCENT="$DUE_PERCENT")
  if [[ $1 == sqlite ]]; then
    env_+=(ONEWINDOW_BENCH_DIR="$WORK" ONEWINDOW_BENCH_SQLITE_SYNC="$SQLITE_SYNC" ONEWINDOW_BENCH_PG_URL=)
  else
    [[ -n ${PG_PORT:-} ]] || start_pg
    pg_fresh_db owbench
    env_+=(ONEWINDOW_BENCH_PG_URL="$PG_URL_BASE/owbench")
  fi
  say "$1: $ITEMS items, $DUE_PERCENT% due"
  (cd "$REPO_DIR" && env "${env_[@]}" cargo bench -q -p onewindow-store --bench escalation_job) \
    >"$WORK/out-$1.txt"
  cat "$WORK/out-$1.txt" >&2
}

for b in $BACKENDS; do run_bench "$b"; done

mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Escalation job, $ITEMS open items, $DUE_PERCENT% due ($STAMP)"
  echo
  echo "- onewindow $(git -C "$REPO_DIR" rev-parse --short HEAD)$(git -C "$REPO_DIR" diff --quiet || echo ' (dirty)')"
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  [[ -z ${PG_BIN:-} ]] || echo "- PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') (fsync=on, synchronous_commit=on, full_page_writes=on${PG_EXTRA_CONF:+; then: $PG_EXTRA_CONF}); SQLite synchronous=$SQLITE_SYNC, WAL"
  echo "- command: ${PG_EXTRA_CONF:+PG_EXTRA_CONF='$PG_EXTRA_CONF' }BACKENDS=\"$BACKENDS\" ITEMS=$ITEMS DUE_PERCENT=$DUE_PERCENT SQLITE_SYNC=$SQLITE_SYNC bench/escalation.sh"
  echo
  echo "| backend | items | due | first run s | items/s | second run ms |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  for b in $BACKENDS; do
    grep '^RESULT|' "$WORK/out-$b.txt" | awk -F'|' '{printf "| %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, $7}'
  done
  for b in $BACKENDS; do
    echo
    echo "## $b"
    echo
    grep -v '^RESULT|' "$WORK/out-$b.txt" | sed 's/^/    /'
  done
} >"$RESULTS"
echo
cat "$RESULTS"
say "written to $RESULTS"
