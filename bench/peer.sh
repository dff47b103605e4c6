#!/usr/bin/env bash
# onewindow side by side with the peer, django-helpdesk 2.6.1, in one run on this machine.
#
#   bench/peer.sh                              the full measurement (~15 min)
#   DURATION=3s WARMUP=2s ROUNDS=1 CONNS=16 LIST_ROWS=100 bench/peer.sh   a smoke run
#
# Both systems on both databases with power-loss durability, driven by the same external
# load generator (wrk, the scripts in bench/wrk/), rounds interleaved ours, peer, ours,
# peer so drift affects both. Prints a markdown table and the ratios ours/peer, and writes
# them to bench/results/peer-<date>.md. See bench/README.md for every variable.
set -euo pipefail

export NEED_PYTHON=1
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-5s}
CONNS=${CONNS:-64 16}
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-2}
BACKENDS=${BACKENDS:-sqlite postgres}
REQUESTS=${REQUESTS:-list intake}
LIST_ROWS=${LIST_ROWS:-1000}
MAX_ERROR_PCT=${MAX_ERROR_PCT:-1}
PEER_WORKERS=${PEER_WORKERS:-4}
PEER_WORKER_CLASS=${PEER_WORKER_CLASS:-sync}
STAMP=$(date -u +%Y%m%d-%H%M%S)
RESULTS=${RESULTS:-$BENCH_DIR/results/peer-$STAMP.md}
export THREADS PEER_WORKERS PEER_WORKER_CLASS

for b in $BACKENDS; do [[ $b == sqlite || $b == postgres ]] || die "BACKENDS: unknown backend $b"; done
for r in $REQUESTS; do [[ $r == intake || $r == list ]] || die "REQUESTS: unknown request $r"; done

ensure_tools
ensure_onewindow
ensure_peer_venv
make_work_dir
check_fsync_counting

cleanup() {
  local rc=$?
  set +e
  for pid in "${STARTED_PIDS[@]}"; do stop_pid "$pid"; done
  stop_pg
  if [[ $rc -eq 0 || ${KEEP_WORK:-0} != 1 ]]; then rm -rf "$WORK"; else say "work directory kept: $WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [[ " $BACKENDS " == *" postgres "* ]]; then start_pg; fi

ROWS=$WORK/rounds.tsv # system backend request conns round requests rps p50 p99 errors fsync/req
: >"$ROWS"

# What each request is, for each system.
req_label() { # SYSTEM REQUEST
  case $1/$2 in
  ours/intake) echo 'POST /api/v1/cases' ;;
  ours/list) echo 'GET /api/v1/cases?limit=25' ;;
  peer/intake) echo 'POST /api/tickets/' ;;
  peer/list) echo 'GET /api/tickets/' ;;
  esac
}
# round SYSTEM BACKEND REQUEST CONNS DURATION ROUND(0 = warm-up)
round() {
  local system=$1 backend=$2 request=$3 conns=$4 dur=$5 n=$6
  local out=$WORK/wrk-$system-$backend-$request-$conns-$n.txt
  local -a a
  case $system/$request in
  ours/intake) a=(ours-intake.lua "$OURS_URL/api/v1/cases" "$conns" "$dur" "$OURS_TOKEN" "$OURS_BODY") ;;
  ours/list) a=(ours-list.lua "$OURS_URL/api/v1/cases?limit=25" "$conns" "$dur" "$OURS_TOKEN") ;;
  peer/intake) a=(peer-ticket.lua "$PEER_URL/api/tickets/" "$conns" "$dur" "$PEER_TOKEN" "$PEER_BODY") ;;
  peer/list) a=(peer-list.lua "$PEER_URL/api/tickets/" "$conns" "$dur" "$PEER_TOKEN") ;;
  esac
  # shellcheck disable=SC2046 # one pid per word
  start_fsync_count $(fsync_pids "$system" "$backend")
  run_wrk "${a[@]}" >"$out" 2>&1 || {
    cat "$out" >&2
    die "wrk failed"
  }
  stop_fsync_count
  if [[ $system == ours ]]; then settle "$OURS_PID"; else settle "$PEER_PID"; fi
  local reqs rps p50 p99 errs fsyncs
  read -r reqs rps p50 p99 errs < <(parse_wrk "$out")
  fsyncs=$(awk -v f="$FSYNC_COUNT" -v n="$reqs" 'BEGIN { if (f == "-" || n == 0) print "-"; else printf "%.2f", f / n }')
  local what="round $n"
  [[ $n -gt 0 ]] || what="warm-up"
  say "$(printf '%-4s %-8s %-6s c=%-3s %-7s %9s req/s  p50 %8s ms  p99 %8s ms  fsync/req %5s  errors %s/%s' \
    "$system" "$backend" "$request" "$conns" "$what" "$rps" "$p50" "$p99" "$fsyncs" "$errs" "$reqs")"
  # A warm-up may answer nothing (the peer's list of a large table is slower than a
  # request per warm-up); a measured round must answer.
  if [[ $reqs -eq 0 && $n -gt 0 ]] || awk -v e="$errs" -v n="$reqs" -v m="$MAX_ERROR_PCT" 'BEGIN { exit !(e * 100 > n * m) }'; then
    cat "$out" >&2
    for log in "$WORK"/*.log "$WORK"/*/gunicorn.log; do
      [[ -f $log ]] && {
        echo "--- tail $log" >&2
        tail -5 "$log" >&2
      }
    done
    die "$system $backend $request c=$conns: $errs errors in $reqs requests (over ${MAX_ERROR_PCT}%): the figures would be meaningless"
  fi
  [[ $n -eq 0 ]] || printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$system" "$backend" "$request" "$conns" "$n" "$reqs" "$rps" "$p50" "$p99" "$errs" "$fsyncs" >>"$ROWS"
}

max_conns=0
for c in $CONNS; do if ((c > max_conns)); then max_conns=$c; fi; done

for backend in $BACKENDS; do
  say "=== $backend"
  start_ours "$backend" "ow_$backend"
  start_peer "$backend" "peer_$backend"
  # The list first, so both lists hold the same rows: LIST_ROWS filed through each
  # system's own API (+1 from the start-up check); the intake rounds then add more.
  for request in list intake; do
    [[ " $REQUESTS " == *" $request "* ]] || continue
    if [[ $request == list ]]; then
      say "filing $LIST_ROWS cases / tickets for the list rounds"
      python3 "$BENCH_DIR/seed.py" "$OURS_URL/api/v1/cases" "Bearer $OURS_TOKEN" "$OURS_BODY" "$LIST_ROWS" 8 ||
        die "seeding ours failed"
      python3 "$BENCH_DIR/seed.py" "$PEER_URL/api/tickets/" "Token $PEER_TOKEN" "$PEER_BODY" "$LIST_ROWS" 8 ||
        die "seeding the peer failed"
    fi
    round ours "$backend" "$request" "$max_conns" "$WARMUP" 0
    round peer "$backend" "$request" "$max_conns" "$WARMUP" 0
    for conns in $CONNS; do
      for n in $(seq 1 "$ROUNDS"); do
        round ours "$backend" "$request" "$conns" "$DURATION" "$n"
        round peer "$backend" "$request" "$conns" "$DURATION" "$n"
      done
    done
  done
  stop_pid "$OURS_PID"
  stop_pid "$PEER_PID"
done

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

pg_version() { [[ -n ${PG_BIN:-} ]] && "$PG_BIN/postgres" --version | awk '{print $3}'; }
report() {
  local commit
  commit=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [[ -z $(git -C "$REPO_DIR" status --porcelain -- crates 2>/dev/null) ]] || commit="$commit (crates/ modified)"
  echo "# onewindow vs django-helpdesk 2.6.1 ($(date -u +'%Y-%m-%d %H:%M UTC'))"
  echo
  echo "- onewindow: $("$OW_BIN" --version) at $commit, \`serve --demo\`, SQLite \`--sqlite-sync full\` / PostgreSQL, default pool (8)"
  echo "- peer: django-helpdesk $("$PEER_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("django-helpdesk"), "on Django", m.version("Django"), "+ DRF", m.version("djangorestframework"), "+ gunicorn", m.version("gunicorn"))'), $PEER_WORKERS $PEER_WORKER_CLASS workers; SQLite WAL + synchronous=FULL / PostgreSQL; token auth; persistent DB connections"
  echo "- PostgreSQL $(pg_version || echo -) on loopback, fsync=on, synchronous_commit=on"
  echo "- load: $(wrk -v 2>&1 | awk 'NR == 1 {print $1, $2}'), $THREADS threads, rounds of $DURATION after a $WARMUP warm-up, $ROUNDS round(s) per system and connection count, interleaved ours/peer"
  echo "- lists: $LIST_ROWS cases / tickets filed through each system's API before the list rounds (plus one from the start-up check)"
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -r); load generator and servers share the cores"
  echo "- command: \`$(for v in DURATION WARMUP CONNS ROUNDS BACKENDS REQUESTS LIST_ROWS PEER_WORKERS; do printf '%s=%q ' "$v" "${!v}"; done)bench/peer.sh\`"
  echo
  echo "fsync/req: fsync + fdatasync calls per answered request during the round (perf stat on the syscall tracepoints) — of the server on SQLite, of the PostgreSQL server processes on PostgreSQL."
  echo
  echo "| system | backend | request | connections | round | req/s | p50 ms | p99 ms | fsync/req | errors |"
  echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  while IFS=$'\t' read -r s b r c n reqs rps p50 p99 e f; do
    local name=onewindow
    [[ $s == ours ]] || name="django-helpdesk"
    echo "| $name | $b | $(req_label "$s" "$r") | $c | $n | $rps | $p50 | $p99 | $f | $e / $reqs |"
  done <"$ROWS"
  echo
  echo "Mean over the rounds, and ours / peer:"
  echo
  echo "| backend | request | connections | onewindow req/s | peer req/s | req/s ours/peer | onewindow p99 ms | peer p99 ms | p99 ours/peer | onewindow fsync/req | peer fsync/req |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  awk -F'\t' '
    { k = $2 "\t" $3 "\t" $4; if (!(k in seen)) { seen[k] = 1; order[++m] = k }
      rps[$1, k] += $7; p99[$1, k] += $9; cnt[$1, k]++
      if ($11 != "-") { fs[$1, k] += $11; fc[$1, k]++ } }
    function fsync(s, k) { return fc[s, k] ? sprintf("%.2f", fs[s, k] / fc[s, k]) : "-" }
    END {
      for (i = 1; i <= m; i++) {
        k = order[i]; split(k, f, "\t")
        if (!cnt["ours", k] || !cnt["peer", k]) continue
        ro = rps["ours", k] / cnt["ours", k]; rp = rps["peer", k] / cnt["peer", k]
        po = p99["ours", k] / cnt["ours", k]; pp = p99["peer", k] / cnt["peer", k]
        req = f[2] == "intake" ? "intake / ticket creation" : "list of 25"
        printf "| %s | %s | %s | %.0f | %.1f | %.1f× | %.2f | %.2f | %.3f | %s | %s |\n", f[1], req, f[3], ro, rp, rp ? ro / rp : 0, po, pp, pp ? po / pp : 0, fsync("ours", k), fsync("peer", k)
      }
    }' "$ROWS"
  echo
  echo "Statements, transactions and fsyncs per request of both systems, counted one request at a time: bench/profile-intake.sh."
}

mkdir -p "$(dirname "$RESULTS")"
report | tee "$RESULTS"
say "written to $RESULTS"
