#!/usr/bin/env bash
# Issue 11 (好差评): rating submissions per second over HTTP, on SQLite (`--sqlite-sync
# full`) and on a throwaway durable PostgreSQL, each on a fresh database.
#
#   bench/ratings.sh                                         # both backends, both requests
#   BACKENDS=sqlite REQUESTS=online DURATION=3s WARMUP=1s ROUND_CASES=4000 WARMUP_CASES=1500 bench/ratings.sh   # smoke run
#
# A rating needs a finished case (issued or closed) and a case is rated once (a second
# rating is 409), so the fixture is CASES finished cases, made through the API by
# bench/finish_cases.py (intake, take, approve, result_ready, issue: five requests per
# case, as crates/cli/tests/ratings.rs `finished_case`), and every wrk run gets its own
# block of them, cut into one slice per wrk thread (bench/wrk/ours-rating.lua): no two
# requests rate the same case. Requests measured:
#
#   online  POST /api/v1/ratings/online — the resident's path: no authentication, case
#           number + query code (the tracking lookup), level very_satisfied
#   staff   POST /api/v1/ratings — staff entry of a phone-callback rating (level satisfied)
#           as the demo `guide` (EnterRatings at the hall) with an API key
#
# Every answer that is not 201 is counted (and every request sent after a thread's slice
# ran out): a measured round with any stops the run. No peer: django-helpdesk has no
# ratings. After the rounds, STMT_REQUESTS online ratings one at a time count the SQL
# statements per rating (SQLite: sqlx's statement log; PostgreSQL: pg_stat_statements,
# the cluster restarted with it after the rounds so it does not weigh on them) and the
# fsyncs (SQLite) or commits and WAL flushes (PostgreSQL) per rating.
#
# Variables (defaults in brackets): BACKENDS ["sqlite postgres"], REQUESTS ["online
# staff"], CONNS [64], ROUNDS [1], DURATION [10s], WARMUP [3s], THREADS [2],
# ROUND_CASES_SQLITE [30000] / ROUND_CASES_POSTGRES [12000] cases per measured round,
# WARMUP_CASES_SQLITE [9000] / WARMUP_CASES_POSTGRES [4000] per warm-up (ROUND_CASES and
# WARMUP_CASES set both),
# STMT_REQUESTS [100], FIXTURE_PROCS [4] x FIXTURE_THREADS [8] fixture workers, ITEM
# [MZ-0104, 高龄津贴申请], OW_BIN, RESULTS [bench/results/ratings-<UTC date>.md],
# KEEP_WORK, BENCH_WORK_PARENT, BENCH_PG_PORT, BENCH_OURS_PORT (as bench/peer.sh).
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BACKENDS=${BACKENDS:-sqlite postgres}
REQUESTS=${REQUESTS:-online}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-1}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
THREADS=${THREADS:-2}
# Cases per measured round and per warm-up, per backend (ROUND_CASES / WARMUP_CASES set
# both): ~1.5x what a round answered on this machine when idle.
ROUND_CASES_SQLITE=${ROUND_CASES:-${ROUND_CASES_SQLITE:-30000}}
ROUND_CASES_POSTGRES=${ROUND_CASES:-${ROUND_CASES_POSTGRES:-12000}}
WARMUP_CASES_SQLITE=${WARMUP_CASES:-${WARMUP_CASES_SQLITE:-9000}}
WARMUP_CASES_POSTGRES=${WARMUP_CASES:-${WARMUP_CASES_POSTGRES:-4000}}
STMT_REQUESTS=${STMT_REQUESTS:-100}
FIXTURE_PROCS=${FIXTURE_PROCS:-4}
FIXTURE_THREADS=${FIXTURE_THREADS:-8}
export ITEM=${ITEM:-MZ-0104}
STAMP=$(date -u +%Y%m%d-%H%M%S)
RESULTS=${RESULTS:-$BENCH_DIR/results/ratings-$STAMP.md}
export THREADS

for b in $BACKENDS; do [[ $b == sqlite || $b == postgres ]] || die "BACKENDS: unknown backend $b"; done
for r in $REQUESTS; do [[ $r == online || $r == staff ]] || die "REQUESTS: unknown request $r"; done
n_conns=$(wc -w <<<"$CONNS")
n_requests=$(wc -w <<<"$REQUESTS")
CONNS_MAX=0
for c in $CONNS; do if ((c > CONNS_MAX)); then CONNS_MAX=$c; fi; done
# Per backend: two for the start-up checks, the statement count, and a block per wrk run.
cases_for() { # ROUND_CASES WARMUP_CASES
  echo $((2 + STMT_REQUESTS + n_requests * ($2 + ROUNDS * n_conns * $1)))
}

ensure_tools
ensure_onewindow
make_work_dir
# perf's tracepoint check has failed once here while other perf users ran: try again.
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

ROWS=$WORK/rounds.tsv # backend request conns round requests rps p50 p99 non201 fsync/req lock-waits load
: >"$ROWS"
NOTES=$WORK/notes.md
: >"$NOTES"

apikey() { # USER: a fresh API key of a demo user on the running database
  "$OW_BIN" --database "$OURS_DB" "${OURS_SYNC[@]}" apikey create --user "$1" --name bench 2>>"$WORK/apikey.log" | tail -n1
}

# The next block of COUNT lines of the case file: sets BLOCK_FIRST, advances NEXT_CASE.
take_block() { # COUNT
  BLOCK_FIRST=$NEXT_CASE
  NEXT_CASE=$((NEXT_CASE + $1))
  [[ $((NEXT_CASE - 1)) -le $CASES ]] || die "fixture too small: need line $((NEXT_CASE - 1)) of $CASES"
}

rate_one() { # MODE LINE: one rating with curl; prints the HTTP status
  local mode=$1 line no code body url
  line=$(sed -n "${2}p" "$CASE_FILE")
  no=${line%%$'\t'*}
  code=${line##*$'\t'}
  local -a auth=()
  if [[ $mode == staff ]]; then
    url=$OURS_URL/api/v1/ratings
    body='{"case_no":"'$no'","channel":"phone_callback","level":"satisfied","comment":""}'
    auth=(-H "Authorization: Bearer $GUIDE_TOKEN")
  else
    url=$OURS_URL/api/v1/ratings/online
    body='{"case_no":"'$no'","code":"'$code'","level":"very_satisfied","scores":{},"tags":[],"comment":""}'
  fi
  curl -s -o "$WORK/rate.out" -w '%{http_code}' -X POST "${auth[@]}" -H 'Content-Type: application/json' \
    --data-binary "$body" "$url"
}

# round BACKEND REQUEST CONNS DURATION ROUND(0 = warm-up) CASES_IN_BLOCK
round() {
  local backend=$1 request=$2 conns=$3 dur=$4 n=$5 count=$6
  local out=$WORK/wrk-$backend-$request-$conns-$n.txt
  take_block "$count"
  # shellcheck disable=SC2046 # one pid per word
  start_fsync_count $(fsync_pids ours "$backend")
  local sampler=
  if [[ $backend == postgres ]]; then
    # Twice a second: how many of our server's sessions are active, and how many of them
    # wait for a lock held by another transaction (a row lock shows as `transactionid`).
    (while sleep 0.5; do
      psql_q postgres "select count(*) filter (where state = 'active'), count(*) filter (where wait_event_type = 'Lock')
        from pg_stat_activity where datname = '$NAME' and pid <> pg_backend_pid()" 2>/dev/null
      # What the waiting ones run (statement text, first words), to the side.
      psql_q postgres "select regexp_replace(left(query, 60), '\s+', ' ', 'g') from pg_stat_activity
        where datname = '$NAME' and wait_event_type = 'Lock'" >>"$WORK/lockq-$request-$conns-$n.txt" 2>/dev/null
    done) >"$WORK/locks-$request-$conns-$n.txt" &
    sampler=$!
    STARTED_PIDS+=("$sampler")
  fi
  BENCH_MODE=$request BENCH_CASES=$CASE_FILE BENCH_FIRST=$BLOCK_FIRST BENCH_COUNT=$count \
    BENCH_THREADS=$THREADS BENCH_TOKEN=$GUIDE_TOKEN \
    wrk --threads "$THREADS" --connections "$conns" --duration "$dur" --timeout "${WRK_TIMEOUT:-60s}" \
    --latency --script "$BENCH_DIR/wrk/ours-rating.lua" "$OURS_URL" >"$out" 2>&1 || {
    cat "$out" >&2
    die "wrk failed"
  }
  stop_fsync_count
  [[ -z $sampler ]] || stop_pid "$sampler"
  settle "$OURS_PID"
  local load1 waiting=-
  load1=$(cut -d' ' -f1 /proc/loadavg)
  [[ -z $sampler ]] || waiting=$(awk -F'|' '{ a += $1; w += $2; n++ } END { if (n) printf "%.1f of %.1f", w / n, a / n; else print "-" }' "$WORK/locks-$request-$conns-$n.txt")
  local reqs rps p50 p99 errs fsyncs answered created non201 exhausted statuses
  read -r reqs rps p50 p99 errs < <(parse_wrk "$out")
  read -r answered created non201 exhausted statuses < <(awk '/^rating: / { print $3, $5, $7, $9, $11 }' "$out")
  [[ -n ${answered:-} ]] || {
    cat "$out" >&2
    die "no rating: line in wrk's output"
  }
  fsyncs=$(awk -v f="$FSYNC_COUNT" -v n="$reqs" 'BEGIN { if (f == "-" || n == 0) print "-"; else printf "%.2f", f / n }')
  local what="round $n"
  [[ $n -gt 0 ]] || what="warm-up"
  say "$(printf '%-8s %-6s c=%-3s %-7s %9s req/s  p50 %8s ms  p99 %8s ms  fsync/req %5s  lock waits %s  load %s  non-201 %s/%s %s  exhausted %s  (block of %s)' \
    "$backend" "$request" "$conns" "$what" "$rps" "$p50" "$p99" "$fsyncs" "$waiting" "$load1" "$non201" "$answered" "$statuses" "$exhausted" "$count")"
  if [[ $exhausted -gt 0 ]]; then
    die "$backend $request c=$conns: the block of $count cases ran out ($exhausted requests past it): raise ROUND_CASES_${backend^^} / WARMUP_CASES_${backend^^}"
  fi
  if [[ $n -gt 0 && ($non201 -gt 0 || $errs -gt 0 || $reqs -eq 0) ]]; then
    cat "$out" >&2
    tail -20 "$OURS_LOG" >&2
    die "$backend $request c=$conns: $non201 non-201 answers, $errs wrk errors in $reqs requests"
  fi
  if [[ -n $sampler && $n -gt 0 && -s $WORK/lockq-$request-$conns-$n.txt ]]; then
    {
      echo "What the sessions waiting for a lock were running ($backend, $request, $conns connections, round $n; samples):"
      echo
      sort "$WORK/lockq-$request-$conns-$n.txt" | uniq -c | sort -rn | head -5 | awk '{ c = $1; $1 = ""; printf "- %d × `%s…`\n", c, substr($0, 2) }'
      echo
    } >>"$NOTES"
  fi
  [[ $n -eq 0 ]] || printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$backend" "$request" "$conns" "$n" "$reqs" "$rps" "$p50" "$p99" "$non201" "$fsyncs" "$waiting" "$load1" >>"$ROWS"
}

# Restart onewindow on the database it has (start_ours would make a fresh one).
restart_ours() { # [env assignments...]
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

sequential_ratings() { # COUNT: online ratings one at a time, from the next block
  take_block "$1"
  local i code
  for i in $(seq "$BLOCK_FIRST" $((BLOCK_FIRST + $1 - 1))); do
    code=$(rate_one online "$i")
    [[ $code == 201 ]] || {
      cat "$WORK/rate.out" >&2
      die "sequential rating $i answered $code"
    }
  done
}

per() { awk -v t="$1" -v n="$2" 'BEGIN { printf "%.2f", t / n }'; }

statements_sqlite() {
  restart_ours RUST_LOG='warn,sqlx::query=debug' NO_COLOR=1
  sleep 1
  local before total
  before=$(wc -l <"$OURS_LOG")
  start_fsync_count "$OURS_PID"
  sequential_ratings "$STMT_REQUESTS"
  stop_fsync_count
  sleep 1
  tail -n +$((before + 1)) "$OURS_LOG" | grep 'sqlx::query' >"$WORK/statements-sqlite.log" || true
  total=$(wc -l <"$WORK/statements-sqlite.log")
  {
    echo "### sqlite: statements per online rating"
    echo
    echo "$STMT_REQUESTS online ratings one at a time: **$(per "$total" "$STMT_REQUESTS") statements per rating** logged by sqlx (the group-commit writer's \`BEGIN IMMEDIATE\` / \`COMMIT\` and the request's \`SAVEPOINT\` / \`RELEASE\` among them), **$(per "$FSYNC_COUNT" "$STMT_REQUESTS") fsync/fdatasync per rating**. Background work of the server in that time is included."
    echo
    echo "| statement (sqlx summary) | per rating |"
    echo "| --- | ---: |"
    sed -E 's/.*summary="([^"]*)".*/\1/' "$WORK/statements-sqlite.log" | sort | uniq -c | sort -rn |
      awk -v n="$STMT_REQUESTS" '{ c = $1; $1 = ""; sub(/^ /, ""); gsub(/\|/, "\\|"); printf "| `%s` | %.2f |\n", $0, c / n }'
    echo
  } >>"$NOTES"
}

statements_pg() {
  stop_pid "$OURS_PID"
  # pg_stat_statements only now, so it weighed on no measured round.
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$WORK/pg/server.log" -w -t 60 \
    -o "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=top -c pg_stat_statements.track_utility=on -c pg_stat_statements.max=10000" \
    restart >/dev/null || die "postgres restart failed"
  psql_q postgres 'create extension if not exists pg_stat_statements' >/dev/null
  restart_ours
  sleep 1
  psql_q postgres 'select pg_stat_statements_reset()' >/dev/null
  psql_q postgres "select pg_stat_reset_shared('wal')" >/dev/null
  local db=$NAME x0 x1 syncs total
  x0=$(psql_q postgres "select xact_commit from pg_stat_database where datname = '$db'")
  sequential_ratings "$STMT_REQUESTS"
  stop_pid "$OURS_PID"
  sleep 1
  x1=$(psql_q postgres "select xact_commit from pg_stat_database where datname = '$db'")
  syncs=$(psql_q postgres 'select wal_sync from pg_stat_wal')
  local dbfilter="dbid = (select oid from pg_database where datname = '$db')"
  total=$(psql_q postgres "select coalesce(sum(calls), 0) from pg_stat_statements where $dbfilter")
  {
    echo "### postgres: statements per online rating"
    echo
    echo "$STMT_REQUESTS online ratings one at a time: per rating **$(per "$total" "$STMT_REQUESTS") statements** (BEGIN and COMMIT included), **$(per $((x1 - x0)) "$STMT_REQUESTS") transactions** committed, **$(per "$syncs" "$STMT_REQUESTS") WAL flushes** (pg_stat_statements, track = top; pg_stat_database.xact_commit; pg_stat_wal.wal_sync). Background work of the server in that time is included."
    echo
    echo "| statement | per rating |"
    echo "| --- | ---: |"
    psql_q postgres "select calls, regexp_replace(left(query, 120), '\s+', ' ', 'g') from pg_stat_statements
        where $dbfilter order by calls desc, query limit 40" |
      awk -F'|' -v n="$STMT_REQUESTS" '{ q = substr($0, length($1) + 2); gsub(/\|/, "\\|", q); printf "| `%s` | %.2f |\n", q, $1 / n }'
    echo
  } >>"$NOTES"
}

FIXTURE=$WORK/fixture.tsv # backend cases seconds
: >"$FIXTURE"
for backend in $BACKENDS; do
  say "=== $backend"
  NAME=ow_rating_$backend
  if [[ $backend == sqlite ]]; then
    ROUND_CASES=$ROUND_CASES_SQLITE WARMUP_CASES=$WARMUP_CASES_SQLITE
  else
    ROUND_CASES=$ROUND_CASES_POSTGRES WARMUP_CASES=$WARMUP_CASES_POSTGRES
  fi
  CASES=$(cases_for "$ROUND_CASES" "$WARMUP_CASES")
  start_ours "$backend" "$NAME"
  OURS_LOG=$WORK/$NAME.log
  APPROVER_TOKEN=$(apikey approver)
  GUIDE_TOKEN=$(apikey guide)
  [[ -n $APPROVER_TOKEN && -n $GUIDE_TOKEN ]] || die "could not create API keys for approver and guide"
  CASE_FILE=$WORK/$NAME-cases.tsv
  say "finishing $CASES cases of $ITEM through the API (5 requests each, $FIXTURE_PROCS x $FIXTURE_THREADS workers)"
  t0=$(date +%s.%N)
  python3 "$BENCH_DIR/finish_cases.py" "$OURS_URL" "$OURS_TOKEN" "$APPROVER_TOKEN" "$OURS_BODY" "$CASES" \
    "$CASE_FILE" "$FIXTURE_PROCS" "$FIXTURE_THREADS" || die "the fixture failed"
  t1=$(date +%s.%N)
  printf '%s\t%s\t%s\n' "$backend" "$CASES" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')" >>"$FIXTURE"
  settle "$OURS_PID"
  NEXT_CASE=1
  # Start-up checks: an online rating is 201 and a second one of the same case 409; a
  # staff entry of a case finished just now is 422 too_early (staff enter callback
  # ratings only `rating.invite_after_days` after finishing), so `staff` rounds measure
  # that refusal unless the cases are old enough.
  take_block 2
  c=$(rate_one online 1)
  [[ $c == 201 ]] || die "online rating answered $c: $(head -c 400 "$WORK/rate.out")"
  c=$(rate_one online 1)
  [[ $c == 409 ]] || die "a second online rating of the same case answered $c, not 409: $(head -c 400 "$WORK/rate.out")"
  if [[ " $REQUESTS " == *" staff "* ]]; then
    c=$(rate_one staff 2)
    [[ $c == 201 ]] || die "staff entry answered $c (staff enter a callback rating only N days after finishing): $(head -c 400 "$WORK/rate.out")"
  fi
  for request in $REQUESTS; do
    round "$backend" "$request" "$CONNS_MAX" "$WARMUP" 0 "$WARMUP_CASES"
    for conns in $CONNS; do
      for n in $(seq 1 "$ROUNDS"); do
        round "$backend" "$request" "$conns" "$DURATION" "$n" "$ROUND_CASES"
      done
    done
  done
  say "=== $backend: statements per rating, $STMT_REQUESTS one at a time"
  if [[ $backend == sqlite ]]; then statements_sqlite; else statements_pg; fi
  stop_pid "$OURS_PID"
done

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

req_label() {
  case $1 in
  online) echo 'POST /api/v1/ratings/online (resident, case number + query code)' ;;
  staff) echo 'POST /api/v1/ratings (staff entry, phone callback, API key)' ;;
  esac
}
report() {
  local commit
  commit=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [[ -z $(git -C "$REPO_DIR" status --porcelain -- crates 2>/dev/null) ]] || commit="$commit (crates/ modified)"
  echo "# onewindow: rating submissions over HTTP ($(date -u +'%Y-%m-%d %H:%M UTC'))"
  echo
  echo "- onewindow: $("$OW_BIN" --version) at $commit, \`serve --demo\`, SQLite \`--sqlite-sync full\` / PostgreSQL, default pool (8)"
  [[ -z ${PG_BIN:-} ]] || echo "- PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on loopback, fsync=on, synchronous_commit=on, full_page_writes=on"
  echo "- load: $(wrk -v 2>&1 | awk 'NR == 1 {print $1, $2}'), $THREADS threads, rounds of $DURATION after a $WARMUP warm-up, $ROUNDS round(s) per connection count"
  echo "- fixture: finished cases of $ITEM made through the API (intake, take, approve, result_ready, issue), each rated once: $(awk -F'\t' '{ printf "%s%s: %s cases in %s s (%.0f cases/s)", sep, $1, $2, $3, $2 / ($3 ? $3 : 1); sep = "; " }' "$FIXTURE")"
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; load generator and servers share the cores"
  echo "- command: \`$(for v in BACKENDS REQUESTS CONNS ROUNDS DURATION WARMUP ROUND_CASES_SQLITE WARMUP_CASES_SQLITE ROUND_CASES_POSTGRES WARMUP_CASES_POSTGRES; do printf '%s=%q ' "$v" "${!v}"; done)bench/ratings.sh\`"
  echo
  echo "| backend | request | connections | round | req/s | p50 ms | p99 ms | non-201 | fsync/req | sessions waiting for a lock | load average (1 min) after |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  while IFS=$'\t' read -r b r c n reqs rps p50 p99 non f w l; do
    echo "| $b | $(req_label "$r") | $c | $n | $rps | $p50 | $p99 | $non / $reqs | $f | $w | $l |"
  done <"$ROWS"
  echo
  echo "fsync/req: fsync + fdatasync calls per answered rating during the round (perf stat on the syscall tracepoints) — of the server on SQLite, of the PostgreSQL server processes on PostgreSQL. Sessions waiting for a lock (PostgreSQL): the mean, over samples twice a second during the round, of our server's sessions in \`pg_stat_activity\` with \`wait_event_type = 'Lock'\`, of the mean active ones (the pool holds 8)."
  echo
  cat "$NOTES"
}

mkdir -p "$(dirname "$RESULTS")"
report | tee "$RESULTS"
say "written to $RESULTS"
