#!/usr/bin/env bash
# Issue 14: the Open311 GeoReport v2 API under concurrent load, on SQLite (`--sqlite-sync
# full`) and on a throwaway durable PostgreSQL (bench/lib.sh), one fresh database each.
#
#   bench/open311.sh                                                     # ~15 minutes
#   BACKENDS=sqlite CONNS=16 DURATION=3s WARMUP=1s HISTORY=5000 STMT_REQUESTS=10 bench/open311.sh   # smoke run
#
# Requests measured (wrk, bench/wrk/open311-*.lua):
#
#   post  POST /open311/v2/requests.<POST_FORMAT> — a form as a third-party client sends
#         it: service_code (the demo's five, in turn), lat/long (a new point inside the demo
#         street's six grids for every request), description, first_name/last_name and
#         api_key, an API key of the demo `dispatcher` (a service account of 幸福街道, as
#         crates/cli/tests/grid.rs makes one). Every answer that is not 201 is counted.
#   list  GET /open311/v2/requests.<LIST_FORMAT> — public, no key, the spec's defaults (the
#         most recent 90 days, newest first), which the server caps at 1,000 requests
#         (MAX_REQUESTS): checked with curl + jq to hold exactly 1,000 before the rounds.
#
# Per backend, two phases on the same server and database:
#
#   fresh    the demo database: post rounds (their events are the list's rows), then list
#            rounds (every event in the 90-day window).
#   history  filled through the same POST (wrk) to HISTORY events, then those events'
#            reported_at spread evenly over HISTORY_DAYS days in id order (an old history,
#            ~90/HISTORY_DAYS of it inside the default window; the PostgreSQL table then
#            VACUUM ANALYZEd, as autovacuum would); then post rounds at the largest
#            connection count (the new events "now") and list rounds at each.
#
# After each phase: EXPLAIN (SQLite: EXPLAIN QUERY PLAN and the query timed in sqlite3;
# PostgreSQL: EXPLAIN (ANALYZE, BUFFERS)) of the list's query and of the duplicate check
# (since c948fe1 the staff's, after the commit; the Open311 POST no longer runs it), with
# the parameters the server binds. At the end: statements per POST, STMT_REQUESTS
# POSTs one at a time (SQLite: sqlx's statement log; PostgreSQL: pg_stat_statements, the
# cluster restarted with it so it weighed on no round).
#
# Variables (defaults in brackets): BACKENDS ["sqlite postgres"], CONNS ["16 64"], ROUNDS
# [1], DURATION [10s], WARMUP [3s], THREADS [2], POST_FORMAT [json], LIST_FORMAT [json],
# HISTORY [100000] events (0: no history phase), HISTORY_DAYS [365], FILL_CONNS [64],
# MAX_ERROR_PCT [1], STMT_REQUESTS [50] (0: none), OW_BIN [$CARGO_TARGET_DIR or target/,
# release/onewindow], RESULTS [bench/results/open311-<UTC date>.md], KEEP_WORK,
# BENCH_WORK_PARENT, BENCH_PG_PORT, BENCH_OURS_PORT (as bench/peer.sh).
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BACKENDS=${BACKENDS:-sqlite postgres}
CONNS=${CONNS:-16 64}
ROUNDS=${ROUNDS:-1}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
THREADS=${THREADS:-2}
POST_FORMAT=${POST_FORMAT:-json}
LIST_FORMAT=${LIST_FORMAT:-json}
HISTORY=${HISTORY:-100000}
HISTORY_DAYS=${HISTORY_DAYS:-365}
FILL_CONNS=${FILL_CONNS:-64}
MAX_ERROR_PCT=${MAX_ERROR_PCT:-1}
STMT_REQUESTS=${STMT_REQUESTS:-50}
STAMP=$(date -u +%Y%m%d-%H%M%S)
RESULTS=${RESULTS:-$BENCH_DIR/results/open311-$STAMP.md}
export THREADS

for b in $BACKENDS; do [[ $b == sqlite || $b == postgres ]] || die "BACKENDS: unknown backend $b"; done
for f in $POST_FORMAT $LIST_FORMAT; do [[ $f == json || $f == xml ]] || die "format: json or xml, not $f"; done
CONNS_MAX=0
for c in $CONNS; do if ((c > CONNS_MAX)); then CONNS_MAX=$c; fi; done

# The release binary of this checkout, in CARGO_TARGET_DIR when set (lib.sh's
# ensure_onewindow knows only target/).
OW_BIN=${OW_BIN:-${CARGO_TARGET_DIR:-$REPO_DIR/target}/release/onewindow}
if [[ ! -x $OW_BIN ]]; then
  say "building $OW_BIN (cargo build --release -p onewindow)"
  (cd "$REPO_DIR" && cargo build --release -p onewindow) >&2
fi
[[ -x $OW_BIN ]] || die "OW_BIN=$OW_BIN is not executable"

ensure_tools
command -v sqlite3 >/dev/null 2>&1 || apt_install sqlite3
make_work_dir
for _ in 1 2 3; do
  check_fsync_counting 2>/dev/null
  [[ $FSYNC_OK == 1 ]] && break
  sleep 2
done
[[ $FSYNC_OK == 1 ]] || warn "perf cannot count fsync tracepoints here: no fsync figures"

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

ROWS=$WORK/rounds.tsv # backend phase request conns round requests rps p50 p99 errors fsync/req events load
: >"$ROWS"
NOTES=$WORK/notes.md
: >"$NOTES"
FILLS=$WORK/fills.tsv # backend events seconds
: >"$FILLS"

sql() { # SQL: one statement on the current backend's database, values separated by |
  if [[ $BACKEND == sqlite ]]; then
    sqlite3 -batch -noheader -cmd '.timeout 30000' "$WORK/$NAME.db" "$1"
  else
    psql_q "$NAME" "$1"
  fi
}
event_count() { sql 'SELECT count(*) FROM grid_events'; }
now_micros() { date +%s%6N; }

# post_one: one POST with curl; prints the HTTP status (the body in $WORK/post.out).
POST_N=0
post_one() {
  POST_N=$((POST_N + 1))
  local lon lat
  lon=$(awk -v n="$POST_N" 'BEGIN { printf "%.6f", 116.3903 + (n * 7919 % 17400) / 1000000 }')
  lat=$(awk -v n="$POST_N" 'BEGIN { printf "%.6f", 39.9043 + (n * 104729 % 7400) / 1000000 }')
  curl -s -o "$WORK/post.out" -w '%{http_code}' -X POST \
    --data-urlencode service_code=lights --data-urlencode "lat=$lat" --data-urlencode "long=$lon" \
    --data-urlencode "description=路灯不亮（curl $POST_N）" --data-urlencode first_name=bench \
    --data-urlencode "api_key=$KEY" "$OURS_URL/open311/v2/requests.$POST_FORMAT"
}

LIST_URL_PATH=/open311/v2/requests.$LIST_FORMAT
# list_size: the number of requests in the list answer and its size in bytes.
list_size() {
  curl -sf -o "$WORK/list.out" "$OURS_URL$LIST_URL_PATH" || die "GET $LIST_URL_PATH failed"
  local n
  if [[ $LIST_FORMAT == json ]]; then
    n=$(jq length "$WORK/list.out")
  else
    n=$(grep -o '<request>' "$WORK/list.out" | wc -l)
  fi
  echo "$n $(stat -c %s "$WORK/list.out")"
}

SEED=311
# round PHASE REQUEST CONNS DURATION ROUND(0 = warm-up, -1 = fill: not recorded)
round() {
  local phase=$1 request=$2 conns=$3 dur=$4 n=$5
  local out=$WORK/wrk-$BACKEND-$phase-$request-$conns-$n.txt
  SEED=$((SEED + 1))
  if [[ $request == post ]]; then
    # shellcheck disable=SC2046 # one pid per word
    start_fsync_count $(fsync_pids ours "$BACKEND")
    BENCH_KEY=$KEY BENCH_FORMAT=$POST_FORMAT BENCH_SEED=$SEED \
      wrk --threads "$THREADS" --connections "$conns" --duration "$dur" --timeout "${WRK_TIMEOUT:-60s}" \
      --latency --script "$BENCH_DIR/wrk/open311-post.lua" "$OURS_URL" >"$out" 2>&1 || {
      cat "$out" >&2
      die "wrk failed"
    }
  else
    # shellcheck disable=SC2046
    start_fsync_count $(fsync_pids ours "$BACKEND")
    wrk --threads "$THREADS" --connections "$conns" --duration "$dur" --timeout "${WRK_TIMEOUT:-60s}" \
      --latency --script "$BENCH_DIR/wrk/open311-list.lua" "$OURS_URL$LIST_URL_PATH" >"$out" 2>&1 || {
      cat "$out" >&2
      die "wrk failed"
    }
  fi
  stop_fsync
  settle "$OURS_PID"
  local load1 reqs rps p50 p99 errs fsyncs events
  load1=$(cut -d' ' -f1 /proc/loadavg)
  read -r reqs rps p50 p99 errs < <(parse_wrk "$out")
  if [[ $request == post ]]; then
    local answered non201 statuses
    read -r answered _ non201 statuses < <(awk '/^open311: / { print $3, $5, $7, $9 }' "$out")
    [[ -n ${answered:-} ]] || {
      cat "$out" >&2
      die "no open311: line in wrk's output"
    }
    # parse_wrk's errors already hold wrk's non-2xx count; a 200 or 3xx is not a report.
    local non2xx
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { n = $5 } END { print n + 0 }' "$out")
    errs=$((errs - non2xx + non201))
  fi
  fsyncs=$(awk -v f="$FSYNC_COUNT" -v n="$reqs" 'BEGIN { if (f == "-" || n == 0) print "-"; else printf "%.2f", f / n }')
  events=$(event_count)
  local what="round $n"
  [[ $n -gt 0 ]] || what="warm-up"
  [[ $n -ge 0 ]] || what="fill"
  say "$(printf '%-8s %-7s %-4s c=%-3s %-7s %9s req/s  p50 %8s ms  p99 %8s ms  errors %s/%s %s  fsync/req %5s  events %s  load %s' \
    "$BACKEND" "$phase" "$request" "$conns" "$what" "$rps" "$p50" "$p99" "$errs" "$reqs" "${statuses:-}" "$fsyncs" "$events" "$load1")"
  if [[ $n -gt 0 ]] && awk -v e="$errs" -v r="$reqs" -v m="$MAX_ERROR_PCT" 'BEGIN { exit !(r == 0 || e * 100 > m * r) }'; then
    cat "$out" >&2
    tail -20 "$OURS_LOG" >&2
    die "$BACKEND $phase $request c=$conns: $errs errors in $reqs requests (over $MAX_ERROR_PCT%): not a valid figure"
  fi
  [[ $n -le 0 ]] || printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$BACKEND" "$phase" "$request" "$conns" "$n" "$reqs" "$rps" "$p50" "$p99" "$errs" "$fsyncs" "$events" "$load1" >>"$ROWS"
}

# The list's query as public_list (crates/store/src/grid/events.rs) sends it for the spec's
# defaults, with the values the server binds (the last 90 days in UTC microseconds, 1000).
list_sql() {
  local now_s from to
  now_s=$(date +%s)
  from=$(((now_s - 90 * 86400) * 1000000))
  to=$((now_s * 1000000 + 999999))
  echo "SELECT e.*, s.path AS street_path, cm.path AS community_path, g.name AS grid_name, c.code AS category_code, c.name AS category_name, d.name AS lead_name, d.path AS lead_path FROM grid_events e JOIN orgs s ON s.id = e.street_org_id LEFT JOIN orgs cm ON cm.id = e.community_org_id LEFT JOIN grid_areas g ON g.id = e.grid_id JOIN grid_categories c ON c.id = e.category_id LEFT JOIN orgs d ON d.id = e.lead_department_id WHERE e.visibility = 'public' AND e.reported_at >= $from AND e.reported_at <= $to ORDER BY e.reported_at DESC, e.id DESC LIMIT 1000"
}
# The duplicate check (duplicates_near; since c948fe1 run after the commit for the staff's
# pages and API only, not for the Open311 POST) for a point in the middle of the street,
# 50 m (grid.duplicate_metres' default) as the server computes the box.
dup_sql() {
  local cat
  cat=$(sql "SELECT id FROM grid_categories WHERE code = 'lights'")
  awk -v c="$cat" 'BEGIN {
    lon = 116.399; lat = 39.908; dlat = 50 / 111000 * 1.1; dlon = dlat / cos(lat * 3.14159265358979 / 180)
    printf "SELECT id, state, lon, lat, description FROM grid_events WHERE category_id = %d AND lon BETWEEN %.9f AND %.9f AND lat BETWEEN %.9f AND %.9f AND state NOT IN ('"'"'closed'"'"', '"'"'rejected_duplicate'"'"') LIMIT 200\n", c, lon - dlon, lon + dlon, lat - dlat, lat + dlat
  }'
}

explain() { # PHASE
  local phase=$1 total inwin
  total=$(event_count)
  inwin=$(sql "SELECT count(*) FROM grid_events WHERE visibility = 'public' AND reported_at >= $((($(date +%s) - 90 * 86400) * 1000000))")
  {
    echo "### $BACKEND, $phase: the list's query ($total events, $inwin public ones in the 90-day window)"
    echo
    echo '```'
    if [[ $BACKEND == sqlite ]]; then
      sqlite3 -batch "$WORK/$NAME.db" "EXPLAIN QUERY PLAN $(list_sql)"
      local t0 t1
      sqlite3 -batch "$WORK/$NAME.db" "$(list_sql)" >/dev/null # warm the page cache
      t0=$(date +%s%N)
      sqlite3 -batch "$WORK/$NAME.db" "$(list_sql)" >/dev/null
      t1=$(date +%s%N)
      echo "-- run in sqlite3: $(((t1 - t0) / 1000000)) ms (process start included)"
    else
      psql_q "$NAME" "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $(list_sql)"
    fi
    echo '```'
    echo
    echo "### $BACKEND, $phase: the staff duplicate check (lights, 50 m around lon 116.399 lat 39.908)"
    echo
    echo '```'
    if [[ $BACKEND == sqlite ]]; then
      sqlite3 -batch "$WORK/$NAME.db" "EXPLAIN QUERY PLAN $(dup_sql)"
      echo "-- rows: $(sqlite3 -batch "$WORK/$NAME.db" "SELECT count(*) FROM ($(dup_sql))")"
    else
      psql_q "$NAME" "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $(dup_sql)"
    fi
    echo '```'
    echo
  } >>"$NOTES"
}

# Fill to HISTORY events through the POST, then spread their reported_at (and
# updated_at) over HISTORY_DAYS days in id order: the newest now, the oldest HISTORY_DAYS
# ago. The chain, audit, engine items and rollups keep the moments of the fill.
make_history() {
  local t0 t1 have
  t0=$(date +%s.%N)
  have=$(event_count)
  while [[ $have -lt $HISTORY ]]; do
    round history post "$FILL_CONNS" 30s -1
    have=$(event_count)
  done
  t1=$(date +%s.%N)
  printf '%s\t%s\t%s\n' "$BACKEND" "$have" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')" >>"$FILLS"
  local max now step
  max=$(sql 'SELECT max(id) FROM grid_events')
  now=$(now_micros)
  step=$((HISTORY_DAYS * 86400 * 1000000 / max))
  say "spreading reported_at of $have events over $HISTORY_DAYS days"
  sql "UPDATE grid_events SET reported_at = $now - ($max - id) * $step, updated_at = $now - ($max - id) * $step" >/dev/null
  if [[ $BACKEND == postgres ]]; then psql_q "$NAME" 'VACUUM ANALYZE grid_events' >/dev/null; fi
}

# lib.sh's stop_fsync_count under `set -e`: perf stat exits at once when one of the pids
# it was given is gone before it attaches (a PostgreSQL backend or autovacuum worker that
# just ended), and the `kill -INT` of the finished perf would then end this script. Here
# a perf that counted nothing gives "-", not 0.
stop_fsync() {
  stop_fsync_count || true
  if [[ -n ${FSC_OUT:-} && -n ${FSC_PID:-} ]] && ! grep -q 'sys_enter_fsync' "$FSC_OUT" 2>/dev/null; then
    FSYNC_COUNT=-
  fi
}

per() { awk -v t="$1" -v n="$2" 'BEGIN { printf "%.2f", t / n }'; }

restart_ours() { # [env assignments...]: onewindow again on the database it has
  stop_pid "$OURS_PID"
  local port
  port=$(free_port "${BENCH_OURS_PORT:-18080}")
  OURS_URL="http://127.0.0.1:$port"
  OURS_LOG=$WORK/$NAME-restart.log
  env "$@" "$OW_BIN" --database "$OURS_DB" "${OURS_SYNC[@]}" serve --demo --listen "127.0.0.1:$port" \
    >"$OURS_LOG" 2>&1 &
  OURS_PID=$!
  STARTED_PIDS+=("$OURS_PID")
  wait_http "$OURS_URL/healthz" 120 "$OURS_PID" || {
    tail -30 "$OURS_LOG" >&2
    die "onewindow did not restart"
  }
}

sequential_posts() { # COUNT
  local i code
  for i in $(seq 1 "$1"); do
    code=$(post_one)
    [[ $code == 201 ]] || {
      cat "$WORK/post.out" >&2
      die "sequential POST $i answered $code"
    }
  done
}

statements_sqlite() {
  restart_ours RUST_LOG='warn,sqlx::query=debug' NO_COLOR=1
  sleep 1
  local before total
  before=$(wc -l <"$OURS_LOG")
  start_fsync_count "$OURS_PID"
  sequential_posts "$STMT_REQUESTS"
  stop_fsync
  sleep 1
  tail -n +$((before + 1)) "$OURS_LOG" | grep 'sqlx::query' >"$WORK/statements-sqlite.log" || true
  total=$(wc -l <"$WORK/statements-sqlite.log")
  {
    echo "### sqlite: statements per POST requests.$POST_FORMAT"
    echo
    echo "$STMT_REQUESTS POSTs one at a time on the database of the history phase ($(event_count) events at the end): **$(per "$total" "$STMT_REQUESTS") statements per POST** logged by sqlx (the group-commit writer's \`BEGIN IMMEDIATE\` / \`COMMIT\` and the request's \`SAVEPOINT\` / \`RELEASE\` among them), **$(per "$FSYNC_COUNT" "$STMT_REQUESTS") fsync/fdatasync per POST**. Background work of the server in that time is included."
    echo
    echo "| statement (sqlx summary) | per POST | mean ms (sqlx elapsed) |"
    echo "| --- | ---: | ---: |"
    sed -nE 's/.*summary="([^"]*)".*elapsed_secs=([0-9.e-]+).*/\2\t\1/p' "$WORK/statements-sqlite.log" |
      awk -F'\t' -v n="$STMT_REQUESTS" '{ c[$2]++; t[$2] += $1 } END { for (k in c) { q = k; gsub(/\|/, "\\|", q); printf "%d\t| `%s` | %.2f | %.3f |\n", c[k], q, c[k] / n, t[k] / c[k] * 1000 } }' |
      sort -t$'\t' -k1,1nr | cut -f2-
    echo
  } >>"$NOTES"
}

statements_pg() {
  stop_pid "$OURS_PID"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$WORK/pg/server.log" -w -t 60 \
    -o "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=top -c pg_stat_statements.track_utility=on -c pg_stat_statements.max=10000" \
    restart >/dev/null || die "postgres restart failed"
  psql_q postgres 'create extension if not exists pg_stat_statements' >/dev/null
  restart_ours
  sleep 1
  psql_q postgres 'select pg_stat_statements_reset()' >/dev/null
  psql_q postgres "select pg_stat_reset_shared('wal')" >/dev/null
  local x0 x1 syncs total
  x0=$(psql_q postgres "select xact_commit from pg_stat_database where datname = '$NAME'")
  sequential_posts "$STMT_REQUESTS"
  stop_pid "$OURS_PID"
  sleep 1
  x1=$(psql_q postgres "select xact_commit from pg_stat_database where datname = '$NAME'")
  syncs=$(psql_q postgres 'select wal_sync from pg_stat_wal')
  local dbfilter="dbid = (select oid from pg_database where datname = '$NAME')"
  total=$(psql_q postgres "select coalesce(sum(calls), 0) from pg_stat_statements where $dbfilter")
  {
    echo "### postgres: statements per POST requests.$POST_FORMAT"
    echo
    echo "$STMT_REQUESTS POSTs one at a time on the database of the history phase: per POST **$(per "$total" "$STMT_REQUESTS") statements** (BEGIN and COMMIT included), **$(per $((x1 - x0)) "$STMT_REQUESTS") transactions** committed, **$(per "$syncs" "$STMT_REQUESTS") WAL flushes** (pg_stat_statements, track = top; pg_stat_database.xact_commit; pg_stat_wal.wal_sync). Background work of the server in that time is included."
    echo
    echo "| statement | per POST | mean ms |"
    echo "| --- | ---: | ---: |"
    psql_q postgres "select calls, round(mean_exec_time::numeric, 3), regexp_replace(left(query, 140), '\s+', ' ', 'g') from pg_stat_statements
        where $dbfilter order by calls desc, query limit 40" |
      awk -F'|' -v n="$STMT_REQUESTS" '{ q = substr($0, length($1) + length($2) + 3); gsub(/\|/, "\\|", q); printf "| `%s` | %.2f | %s |\n", q, $1 / n, $2 }'
    echo
  } >>"$NOTES"
}

LISTS=$WORK/lists.tsv # backend phase requests bytes
: >"$LISTS"
check_list() { # PHASE: the list holds 1,000 requests (filled through the POST when fewer)
  local n bytes
  read -r n bytes < <(list_size)
  [[ -n ${n:-} ]] || die "GET $LIST_URL_PATH: no answer"
  while [[ $n -lt 1000 ]]; do
    say "the list holds $n requests: filling through the POST"
    round "$1" post 16 5s -1
    read -r n bytes < <(list_size)
    [[ -n ${n:-} ]] || die "GET $LIST_URL_PATH: no answer"
  done
  [[ $n -eq 1000 ]] || die "GET $LIST_URL_PATH answered $n requests, not the cap of 1000"
  printf '%s\t%s\t%s\t%s\n' "$BACKEND" "$1" "$n" "$bytes" >>"$LISTS"
}

for BACKEND in $BACKENDS; do
  say "=== $BACKEND"
  NAME=ow_open311_$BACKEND
  start_ours "$BACKEND" "$NAME"
  OURS_LOG=$WORK/$NAME.log
  KEY=$("$OW_BIN" --database "$OURS_DB" "${OURS_SYNC[@]}" apikey create --user dispatcher --name open311-bench 2>>"$WORK/apikey.log" | tail -n1)
  [[ -n $KEY ]] || die "could not create an API key for dispatcher"
  # Start-up checks: the five services; a POST without a key is 403, with it 201 and an id.
  curl -sf "$OURS_URL/open311/v2/services.json" >"$WORK/services.json" || die "GET services.json failed"
  for code in lights building firelane garbage dispute; do
    jq -e --arg c "$code" 'any(.[]; .service_code == $c)' "$WORK/services.json" >/dev/null ||
      die "service $code not in services.json: $(head -c 400 "$WORK/services.json")"
  done
  c=$(curl -s -o "$WORK/post.out" -w '%{http_code}' -X POST --data 'service_code=lights&lat=39.9056&long=116.3918' \
    "$OURS_URL/open311/v2/requests.$POST_FORMAT")
  [[ $c == 403 ]] || die "a POST without api_key answered $c, not 403"
  c=$(post_one)
  [[ $c == 201 ]] || die "POST requests.$POST_FORMAT answered $c: $(head -c 400 "$WORK/post.out")"
  grep -q 'service_request_id' "$WORK/post.out" || die "no service_request_id in $(head -c 400 "$WORK/post.out")"

  round fresh post "$CONNS_MAX" "$WARMUP" 0
  for conns in $CONNS; do
    for n in $(seq 1 "$ROUNDS"); do round fresh post "$conns" "$DURATION" "$n"; done
  done
  check_list fresh
  round fresh list "$CONNS_MAX" "$WARMUP" 0
  for conns in $CONNS; do
    for n in $(seq 1 "$ROUNDS"); do round fresh list "$conns" "$DURATION" "$n"; done
  done
  explain fresh

  if [[ $HISTORY -gt 0 ]]; then
    make_history
    round history post "$CONNS_MAX" "$WARMUP" 0
    for n in $(seq 1 "$ROUNDS"); do round history post "$CONNS_MAX" "$DURATION" "$n"; done
    check_list history
    round history list "$CONNS_MAX" "$WARMUP" 0
    for conns in $CONNS; do
      for n in $(seq 1 "$ROUNDS"); do round history list "$conns" "$DURATION" "$n"; done
    done
    explain history
  fi

  if [[ $STMT_REQUESTS -gt 0 ]]; then
    say "=== $BACKEND: statements per POST, $STMT_REQUESTS one at a time"
    if [[ $BACKEND == sqlite ]]; then statements_sqlite; else statements_pg; fi
  fi
  stop_pid "$OURS_PID"
done

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

req_label() {
  case $1 in
  post) echo "POST /open311/v2/requests.$POST_FORMAT" ;;
  list) echo "GET /open311/v2/requests.$LIST_FORMAT (1,000)" ;;
  esac
}
report() {
  local commit
  commit=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [[ -z $(git -C "$REPO_DIR" status --porcelain -- crates 2>/dev/null) ]] || commit="$commit (crates/ modified)"
  echo "# onewindow: Open311 GeoReport v2 under load ($(date -u +'%Y-%m-%d %H:%M UTC'))"
  echo
  echo "- onewindow: $("$OW_BIN" --version) at $commit, \`serve --demo\`, SQLite \`--sqlite-sync full\` / PostgreSQL, default pool"
  [[ -z ${PG_BIN:-} ]] || echo "- PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on loopback, fsync=on, synchronous_commit=on, full_page_writes=on"
  echo "- load: $(wrk -v 2>&1 | awk 'NR == 1 {print $1, $2}'), $THREADS threads, rounds of $DURATION after a $WARMUP warm-up, $ROUNDS round(s) per connection count"
  echo "- list answers: $(awk -F'\t' '{ printf "%s%s %s: %s requests, %.0f KB", sep, $1, $2, $3, $4 / 1024; sep = "; " }' "$LISTS")"
  if [[ -s $FILLS ]]; then
    echo "- history: filled through the POST at $FILL_CONNS connections — $(awk -F'\t' '{ printf "%s%s: %s events in %s s", sep, $1, $2, $3; sep = "; " }' "$FILLS") — then reported_at spread over $HISTORY_DAYS days in id order"
  fi
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; load generator and servers share the cores"
  echo "- command: \`$(for v in BACKENDS CONNS ROUNDS DURATION WARMUP POST_FORMAT LIST_FORMAT HISTORY HISTORY_DAYS STMT_REQUESTS; do printf '%s=%q ' "$v" "${!v}"; done)bench/open311.sh\`"
  echo
  echo "| backend | phase | request | connections | round | req/s | p50 ms | p99 ms | errors | fsync/req | events after | load average (1 min) after |"
  echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  while IFS=$'\t' read -r b ph r c n reqs rps p50 p99 e f ev l; do
    echo "| $b | $ph | $(req_label "$r") | $c | $n | $rps | $p50 | $p99 | $e / $reqs | $f | $ev | $l |"
  done <"$ROWS"
  echo
  echo "errors: answers other than 201 (POST) / 2xx (GET) plus wrk's socket errors and timeouts. fsync/req: fsync + fdatasync calls per answered request during the round (perf stat on the syscall tracepoints) — of the server on SQLite, of the PostgreSQL server processes on PostgreSQL."
  echo
  cat "$NOTES"
}

mkdir -p "$(dirname "$RESULTS")"
report | tee "$RESULTS"
say "written to $RESULTS"
