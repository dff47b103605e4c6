#!/usr/bin/env bash
# Where the time of our intake goes: a CPU profile of `onewindow serve` while wrk drives
# POST /api/v1/cases, and the SQL statements (and on PostgreSQL the transactions) one
# intake request costs. Run it before and after a change to the write path.
#
#   bench/profile-intake.sh
#   PROFILE_DURATION=5s STMT_REQUESTS=50 BACKENDS=sqlite bench/profile-intake.sh   quick
#
# Writes bench/results/profile-<date>/ (perf data, reports, summary.md) and prints the
# summary. See bench/README.md for every variable.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROFILE_DURATION=${PROFILE_DURATION:-15s}
WARMUP=${WARMUP:-3s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
BACKENDS=${BACKENDS:-sqlite postgres}
STMT_REQUESTS=${STMT_REQUESTS:-200}
PEER=${PEER:-1}
TOP=${TOP:-40}
PERF_FREQ=${PERF_FREQ:-999}
# -g walks frame pointers (cheap; Rust release code mostly omits them, so the stacks are
# short but the self time per symbol is exact); PERF_CALLGRAPH=dwarf for full stacks.
PERF_CALLGRAPH=${PERF_CALLGRAPH:-fp}
PERF_ALL=${PERF_ALL:-0}
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=${OUT:-$BENCH_DIR/results/profile-$STAMP}
export THREADS

[[ $PEER == 1 ]] && export NEED_PYTHON=1
ensure_tools
ensure_onewindow
[[ $PEER != 1 ]] || ensure_peer_venv
[[ -x $PERF ]] || PERF=$(command -v perf) || die "perf not found (Debian: apt-get install linux-perf)"
make_work_dir
check_fsync_counting
mkdir -p "$OUT"

cleanup() {
  local rc=$?
  set +e
  for pid in "${STARTED_PIDS[@]}"; do stop_pid "$pid"; done
  stop_pg
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Hardware counters are often missing in a VM (`perf stat -e instructions true` says
# <not supported>); the software clock works everywhere and samples CPU time the same way.
PERF_EVENT=${PERF_EVENT:-}
if [[ -z $PERF_EVENT ]]; then
  if "$PERF" stat -x, -e cycles true 2>&1 | grep -q '^[0-9]'; then PERF_EVENT=cycles; else PERF_EVENT=cpu-clock; fi
fi
say "perf event: $PERF_EVENT"

if [[ " $BACKENDS " == *" postgres "* ]]; then
  # pg_stat_statements counts every statement the client sends (BEGIN and COMMIT too:
  # track_utility), not those run inside the server (foreign-key checks: track = top).
  PG_EXTRA_CONF="shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = top
pg_stat_statements.track_utility = on
pg_stat_statements.max = 10000"
  start_pg
  psql_q postgres 'create extension if not exists pg_stat_statements' >/dev/null
fi

SUMMARY=$OUT/summary.md
{
  echo "# Intake profile ($(date -u +'%Y-%m-%d %H:%M UTC'))"
  echo
  echo "- onewindow: $("$OW_BIN" --version) at $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown), binary $OW_BIN"
  echo "- profile: \`perf record -e $PERF_EVENT -F $PERF_FREQ --call-graph $PERF_CALLGRAPH\` on $([[ $PERF_ALL == 1 ]] && echo 'the whole machine' || echo 'the serve process') for $PROFILE_DURATION while wrk drives intake ($CONNS connections, $THREADS threads)"
  echo "- statements: $STMT_REQUESTS intake requests one at a time after the start-up"
  echo
} >"$SUMMARY"

# perf pads the symbol column to the longest name and ends lines with empty columns.
strip_cols() { sed -E 's/( +-)+ *$//; s/ +$//'; }

# profile BACKEND: perf while wrk drives intake.
profile() {
  local backend=$1
  start_ours "$backend" "prof_$backend"
  run_wrk ours-intake.lua "$OURS_URL/api/v1/cases" "$CONNS" "$WARMUP" "$OURS_TOKEN" "$OURS_BODY" >/dev/null
  local data=$OUT/perf-$backend.data
  local -a target=(-p "$OURS_PID")
  [[ $PERF_ALL != 1 ]] || target=(-a)
  local secs=${PROFILE_DURATION%s}
  "$PERF" record -q -e "$PERF_EVENT" -F "$PERF_FREQ" --call-graph "$PERF_CALLGRAPH" "${target[@]}" \
    -o "$data" -- sleep "$secs" 2>"$OUT/perf-record-$backend.log" &
  local perf_pid=$!
  STARTED_PIDS+=("$perf_pid")
  # shellcheck disable=SC2046 # one pid per word
  start_fsync_count $(fsync_pids ours "$backend")
  run_wrk ours-intake.lua "$OURS_URL/api/v1/cases" "$CONNS" "$PROFILE_DURATION" "$OURS_TOKEN" "$OURS_BODY" \
    >"$OUT/wrk-$backend.txt" 2>&1
  stop_fsync_count
  wait "$perf_pid" || die "perf record failed: $(cat "$OUT/perf-record-$backend.log")"
  local reqs rps p50 p99 errs
  read -r reqs rps p50 p99 errs < <(parse_wrk "$OUT/wrk-$backend.txt")
  [[ $reqs -gt 0 && $((errs * 100)) -le $reqs ]] || {
    cat "$OUT/wrk-$backend.txt" >&2
    die "intake under load failed: $errs errors in $reqs requests"
  }
  # Self time per symbol without call chains (the table), and the full report with them.
  "$PERF" report -i "$data" --stdio --no-children --sort dso,symbol -g none 2>/dev/null |
    strip_cols >"$OUT/report-$backend.txt"
  "$PERF" report -i "$data" --stdio --no-children 2>/dev/null >"$OUT/report-callgraph-$backend.txt"
  "$PERF" report -i "$data" --stdio --no-children --sort dso -g none 2>/dev/null |
    strip_cols >"$OUT/report-dso-$backend.txt"
  "$PERF" report -i "$data" --stdio --no-children --dsos "$(basename "$OW_BIN")" --sort symbol -g none 2>/dev/null |
    strip_cols >"$OUT/report-own-$backend.txt"
  {
    echo "## $backend: CPU profile under load"
    echo
    echo "wrk while profiling: $rps req/s, p50 $p50 ms, p99 $p99 ms, $errs errors in $reqs requests; $(awk -v f="$FSYNC_COUNT" -v n="$reqs" 'BEGIN { if (f == "-") print "-"; else printf "%.2f", f / n }') fsync/fdatasync per request ($([[ $backend == sqlite ]] && echo 'in onewindow' || echo 'in the PostgreSQL server processes'))."
    echo
    echo "Self time by shared object:"
    echo
    echo '```'
    # awk, not head: head would close the pipe early and pipefail would stop the script.
    awk '/^ +[0-9]+\.[0-9]+%/ && ++n <= 12' "$OUT/report-dso-$backend.txt"
    echo '```'
    echo
    echo "Top $TOP symbols by self time (\`perf report --stdio --no-children\`; with call chains: report-callgraph-$backend.txt):"
    echo
    echo '```'
    awk -v top="$TOP" '/^ +[0-9]+\.[0-9]+%/ && ++n <= top' "$OUT/report-$backend.txt"
    echo '```'
    echo
    echo "Top $TOP symbols inside the onewindow binary (percent of the binary's own samples):"
    echo
    echo '```'
    awk -v top="$TOP" '/^ +[0-9]+\.[0-9]+%/ && ++n <= top' "$OUT/report-own-$backend.txt"
    echo '```'
    echo
    if [[ $PERF_CALLGRAPH == dwarf* ]]; then
      # Whole stacks: time inside each of our functions, callees included.
      "$PERF" report -i "$data" --stdio --children --sort symbol -g none 2>/dev/null |
        strip_cols >"$OUT/report-inclusive-$backend.txt"
      echo "Our functions by inclusive time (callees included; \`--children\`):"
      echo
      echo '```'
      awk -v top="$TOP" '/^ +[0-9]+\.[0-9]+%/ && /onewindow_/ && ++n <= top' "$OUT/report-inclusive-$backend.txt"
      echo '```'
      echo
    fi
  } >>"$SUMMARY"
  stop_pid "$OURS_PID"
}

# Sequential intakes, one connection: what N requests cost, divided by N.
sequential_intakes() { # URL AUTH BODY N
  python3 "$BENCH_DIR/seed.py" "$1" "$2" "$3" "$4" 1 || die "intake requests failed"
}

# statements_sqlite: sqlx logs every statement at DEBUG under the target sqlx::query; count
# the log lines the N requests add. (Logging slows the server, hence a separate run.)
statements_sqlite() {
  start_ours sqlite stmt_sqlite RUST_LOG='warn,sqlx::query=debug' NO_COLOR=1
  local log=$WORK/stmt_sqlite.log
  sleep 1
  local before syncs
  before=$(wc -l <"$log")
  start_fsync_count "$OURS_PID"
  sequential_intakes "$OURS_URL/api/v1/cases" "Bearer $OURS_TOKEN" "$OURS_BODY" "$STMT_REQUESTS"
  stop_fsync_count
  syncs=$FSYNC_COUNT
  sleep 1
  tail -n +$((before + 1)) "$log" >"$OUT/statements-sqlite.log"
  stop_pid "$OURS_PID"
  # One event per statement; its summary field is the statement's first words.
  local total
  total=$(grep -c 'sqlx::query' "$OUT/statements-sqlite.log" || true)
  {
    echo "## sqlite: statements per intake"
    echo
    echo "$STMT_REQUESTS intake requests, one at a time: **$(awk -v t="$total" -v n="$STMT_REQUESTS" 'BEGIN { printf "%.2f", t / n }') statements per request** logged by sqlx (sqlx::query events; BEGIN and COMMIT are not among them — on PostgreSQL below they are counted), and **$(awk -v t="$syncs" -v n="$STMT_REQUESTS" 'BEGIN { printf "%.2f", t / n }') fsync/fdatasync calls per request** (perf stat, syscall tracepoints). Background work of the server in that time is included."
    echo
    echo "| statement (sqlx summary) | per request |"
    echo "| --- | ---: |"
    grep 'sqlx::query' "$OUT/statements-sqlite.log" |
      sed -E 's/.*summary="([^"]*)".*/\1/' | sort | uniq -c | sort -rn |
      awk -v n="$STMT_REQUESTS" '{ c = $1; $1 = ""; sub(/^ /, ""); gsub(/\|/, "\\|"); printf "| `%s` | %.2f |\n", $0, c / n }'
    echo
  } >>"$SUMMARY"
}

# syncs_peer_sqlite: fsync/fdatasync calls per ticket of django-helpdesk on SQLite (WAL,
# synchronous=FULL), counted in its gunicorn workers.
syncs_peer_sqlite() {
  start_peer sqlite syncs_peer
  # shellcheck disable=SC2046 # one pid per word
  start_fsync_count $(fsync_pids peer sqlite)
  sequential_intakes "$PEER_URL/api/tickets/" "Token $PEER_TOKEN" "$PEER_BODY" "$STMT_REQUESTS"
  stop_fsync_count
  local syncs=$FSYNC_COUNT
  stop_pid "$PEER_PID"
  {
    echo "## sqlite: django-helpdesk 2.6.1, fsyncs per ticket"
    echo
    echo "$STMT_REQUESTS tickets (POST /api/tickets/), one at a time: **$(awk -v t="$syncs" -v n="$STMT_REQUESTS" 'BEGIN { printf "%.2f", t / n }') fsync/fdatasync calls per ticket** in the gunicorn workers (perf stat, syscall tracepoints)."
    echo
  } >>"$SUMMARY"
}

# statements_pg SYSTEM DB LABEL URL AUTH BODY: pg_stat_statements and xact_commit deltas
# over N requests; the server is stopped before reading, so every backend has reported.
statements_pg() {
  local system=$1 db=$2 label=$3 url=$4 auth=$5 body=$6 pid=$7
  psql_q postgres 'select pg_stat_statements_reset()' >/dev/null
  psql_q postgres "select pg_stat_reset_shared('wal')" >/dev/null
  local x0
  x0=$(psql_q postgres "select xact_commit from pg_stat_database where datname = '$db'")
  sequential_intakes "$url" "$auth" "$body" "$STMT_REQUESTS"
  stop_pid "$pid"
  sleep 1
  local x1 total syncs
  x1=$(psql_q postgres "select xact_commit from pg_stat_database where datname = '$db'")
  # WAL flushes to disk in the whole cluster: only this system ran since the reset.
  syncs=$(psql_q postgres 'select wal_sync from pg_stat_wal')
  local dbfilter="dbid = (select oid from pg_database where datname = '$db')"
  total=$(psql_q postgres "select coalesce(sum(calls), 0) from pg_stat_statements where $dbfilter")
  {
    echo "## postgres: $label"
    echo
    per() { awk -v t="$1" -v n="$STMT_REQUESTS" 'BEGIN { printf "%.2f", t / n }'; }
    echo "$STMT_REQUESTS requests, one at a time: per request **$(per "$total") statements**, **$(per $((x1 - x0))) transactions** committed and **$(per "$syncs") WAL flushes** (pg_stat_statements; pg_stat_database.xact_commit, where every autocommit statement is its own transaction; pg_stat_wal.wal_sync). Background work of the server in that time is included."
    echo
    echo "By kind, per request: $(psql_q postgres "select string_agg(k || ' ' || round(c::numeric / $STMT_REQUESTS, 2), ', ' order by c desc)
        from (select upper(split_part(ltrim(query), ' ', 1)) k, sum(calls) c from pg_stat_statements where $dbfilter group by 1) s")."
    echo
    echo "| statement | per request |"
    echo "| --- | ---: |"
    psql_q postgres "select calls, regexp_replace(left(query, 110), '\s+', ' ', 'g') from pg_stat_statements
        where $dbfilter order by calls desc, query limit 30" |
      awk -F'|' -v n="$STMT_REQUESTS" '{ q = substr($0, length($1) + 2); gsub(/\|/, "\\|", q); printf "| `%s` | %.2f |\n", q, $1 / n }'
    echo
  } >>"$SUMMARY"
  say "$system: $total statements, $((x1 - x0)) transactions, $syncs WAL flushes for $STMT_REQUESTS requests"
}

for backend in $BACKENDS; do
  say "=== $backend: profile"
  profile "$backend"
  say "=== $backend: statements"
  if [[ $backend == sqlite ]]; then
    statements_sqlite
    [[ $PEER != 1 ]] || syncs_peer_sqlite
  else
    start_ours postgres stmt_pg
    statements_pg ours stmt_pg "onewindow, statements per intake (POST /api/v1/cases)" \
      "$OURS_URL/api/v1/cases" "Bearer $OURS_TOKEN" "$OURS_BODY" "$OURS_PID"
    if [[ $PEER == 1 ]]; then
      start_peer postgres stmt_peer
      statements_pg peer stmt_peer "django-helpdesk 2.6.1, statements per ticket (POST /api/tickets/)" \
        "$PEER_URL/api/tickets/" "Token $PEER_TOKEN" "$PEER_BODY" "$PEER_PID"
    fi
  fi
done

cat "$SUMMARY"
say "written to $OUT (summary.md, perf-*.data: perf report -i FILE)"
