# shellcheck shell=bash
# Shared by bench/peer.sh and bench/profile-intake.sh (sourced, not run).
#
# Everything here runs on this machine only: servers listen on 127.0.0.1, the load
# generator talks to 127.0.0.1, and every round is bounded by a duration.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)

say() { printf '==> %s\n' "$*" >&2; }
warn() { printf '==> WARNING: %s\n' "$*" >&2; }
die() {
  printf '==> ERROR: %s\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------

APT_UPDATED=0
apt_install() {
  [[ $EUID -eq 0 ]] || die "need to install $* (apt-get, as root)"
  if [[ $APT_UPDATED -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2
}

# Newest Debian PostgreSQL server bin dir with initdb and pg_ctl (they are off $PATH).
find_pg_bindir() {
  local d best=""
  # shellcheck disable=SC2012 # version-sorted directory names, no odd characters
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
    if [[ -x $d/initdb && -x $d/pg_ctl ]]; then best=$d; fi
  done
  [[ -n $best ]] && printf '%s\n' "$best"
}

# wrk, jq, curl, PostgreSQL server and python3 (for the venv), installed when missing.
ensure_tools() {
  local missing=()
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v jq >/dev/null 2>&1 || missing+=(jq)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  find_pg_bindir >/dev/null || missing+=(postgresql)
  if [[ ${NEED_PYTHON:-0} == 1 ]] && ! /usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null; then
    missing+=(python3-venv)
  fi
  if [[ ${#missing[@]} -gt 0 ]]; then
    say "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  PG_BIN=$(find_pg_bindir) || die "no PostgreSQL server in /usr/lib/postgresql/*/bin"
}

# The release binary, built when missing (OW_BIN overrides, e.g. a copy of the binary
# from before a change, to compare two builds with the same script).
ensure_onewindow() {
  OW_BIN=${OW_BIN:-$REPO_DIR/target/release/onewindow}
  if [[ ! -x $OW_BIN ]]; then
    [[ $OW_BIN == "$REPO_DIR/target/release/onewindow" ]] || die "OW_BIN=$OW_BIN is not executable"
    say "building $OW_BIN (cargo build --release)"
    (cd "$REPO_DIR" && cargo build --release -p onewindow) >&2
  fi
}

# django-helpdesk 2.6.1 and gunicorn in a virtual environment, once.
PEER_VENV=${PEER_VENV:-$HOME/.cache/onewindow/peer-venv}
PEER_PIP_PACKAGES=(django-helpdesk==2.6.1 gunicorn "psycopg[binary]")
ensure_peer_venv() {
  if "$PEER_VENV/bin/python" -c 'import helpdesk, gunicorn, psycopg, rest_framework' 2>/dev/null &&
    [[ $("$PEER_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("django-helpdesk"))') == 2.6.1 ]]; then
    return
  fi
  say "installing ${PEER_PIP_PACKAGES[*]} into $PEER_VENV"
  mkdir -p "$(dirname "$PEER_VENV")"
  # Debian's python3: the one apt can repair; any python3 on PATH otherwise.
  local py=/usr/bin/python3
  [[ -x $py ]] || py=$(command -v python3) || die "no python3"
  [[ -x $PEER_VENV/bin/python ]] || "$py" -m venv "$PEER_VENV"
  # django-helpdesk pins the Django it supports (5.2 or 6.0) and pulls in
  # djangorestframework; psycopg is for the PostgreSQL rounds.
  "$PEER_VENV/bin/pip" install -q "${PEER_PIP_PACKAGES[@]}" >&2
}

# ---------------------------------------------------------------------------
# Work directory and ports
# ---------------------------------------------------------------------------

# On the disk: fsync on tmpfs costs nothing and would make "durable" meaningless. The
# postgres user must reach it (PostgreSQL refuses to run as root).
make_work_dir() {
  WORK=$(mktemp -d "${BENCH_WORK_PARENT:-/var/tmp}/onewindow-bench.XXXXXX")
  chmod 755 "$WORK"
  local fs
  fs=$(stat -f -c %T "$WORK")
  [[ $fs != tmpfs && $fs != ramfs ]] || warn "$WORK is on $fs: fsync is free there, durability figures are meaningless"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# First free port at or above $1.
free_port() {
  local p=$1
  for _ in $(seq 1 200); do
    port_busy "$p" || {
      echo "$p"
      return
    }
    p=$((p + 1))
  done
  die "no free port from $1"
}

wait_http() { # URL SECONDS PID: until the URL answers (any status) or the process died
  local url=$1 secs=$2 pid=$3
  for _ in $(seq 1 $((secs * 5))); do
    curl -s -o /dev/null "$url" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

# Processes this script started, stopped by their pid in cleanup.
STARTED_PIDS=()
stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# CPU ticks used so far by a process and its children (gunicorn's workers).
cpu_ticks() {
  local pid total=0 t
  for pid in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
    # utime and stime, fields 14 and 15 (the name in field 2 has no spaces here).
    t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || continue
    total=$((total + t))
  done
  echo "$total"
}

# settle PID: wait (at most 120 s) until the server has gone idle. When wrk stops, the
# requests already sent are still served — gunicorn's sync workers take the queued
# connections from the listen backlog one by one — and that work must not run into the
# next round of the other system.
settle() {
  local prev cur
  prev=$(cpu_ticks "$1")
  for _ in $(seq 1 240); do
    sleep 0.5
    cur=$(cpu_ticks "$1")
    [[ $cur -gt $((prev + 2)) ]] || return 0
    prev=$cur
  done
  warn "pid $1 still busy after 120 s"
}

# ---------------------------------------------------------------------------
# fsync counting: the kernel's syscall tracepoints, counted by perf stat (cheap enough to
# run under load, unlike strace, which stops the process at every system call).
# ---------------------------------------------------------------------------

PERF=${PERF:-/usr/bin/perf}
FSYNC_EVENTS=syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync
# Sets FSYNC_OK=1 when perf can count the tracepoints here (root, tracefs mounted).
check_fsync_counting() {
  FSYNC_OK=0
  [[ -x $PERF ]] || PERF=$(command -v perf) || return 0
  "$PERF" stat -x, -e "$FSYNC_EVENTS" true 2>&1 | grep -q '^[0-9]*,,syscalls:sys_enter_fsync' && FSYNC_OK=1
  [[ $FSYNC_OK == 1 ]] || warn "perf cannot count fsync tracepoints here: no fsync figures"
}

# start_fsync_count PID...: count fsync + fdatasync of these processes (all threads).
start_fsync_count() {
  FSC_PID=
  [[ ${FSYNC_OK:-0} == 1 && $# -gt 0 ]] || return 0
  FSC_OUT=$(mktemp "$WORK/fsync.XXXXXX")
  local IFS=,
  "$PERF" stat -x, -e "$FSYNC_EVENTS" -p "$*" -o "$FSC_OUT" 2>/dev/null &
  FSC_PID=$!
  STARTED_PIDS+=("$FSC_PID")
  sleep 0.3 # perf attaches
}
# stop_fsync_count: sets FSYNC_COUNT (or "-"). Not used as $(…): a subshell cannot wait
# for perf, which writes its counts as it exits.
stop_fsync_count() {
  FSYNC_COUNT=-
  [[ -n ${FSC_PID:-} ]] || return 0
  kill -INT "$FSC_PID" 2>/dev/null
  wait "$FSC_PID" || true
  # shellcheck disable=SC2034 # read by the scripts that source this file
  FSYNC_COUNT=$(awk -F, '$3 ~ /^syscalls:sys_enter_f(data)?sync$/ { n += $1 } END { print n + 0 }' "$FSC_OUT")
}

# The processes that fsync for a system: the server itself (onewindow, gunicorn's
# workers) on SQLite; the PostgreSQL server processes on PostgreSQL (the cluster is
# shared, but one system runs at a time).
fsync_pids() { # SYSTEM BACKEND
  if [[ $2 == postgres ]]; then
    local pm
    pm=$(head -n1 "$PG_DATA/postmaster.pid")
    echo "$pm"
    ps -o pid= --ppid "$pm"
  elif [[ $1 == ours ]]; then
    echo "$OURS_PID"
  else
    ps -o pid= --ppid "$PEER_PID"
  fi
}

# ---------------------------------------------------------------------------
# Throwaway PostgreSQL with durable commits
# ---------------------------------------------------------------------------

as_pg() {
  if [[ $EUID -ne 0 ]]; then
    "$@"
  else
    runuser -u postgres -- "$@"
  fi
}

# PG_EXTRA_CONF: more postgresql.conf lines (profile-intake.sh adds pg_stat_statements).
start_pg() {
  PG_DATA=$WORK/pg/data
  mkdir -p "$WORK/pg"
  [[ $EUID -ne 0 ]] || chown postgres: "$WORK/pg"
  PG_PORT=$(free_port "${BENCH_PG_PORT:-56400}")
  say "PostgreSQL $(basename "$(dirname "$PG_BIN")") on 127.0.0.1:$PG_PORT (fsync=on, synchronous_commit=on) in $PG_DATA"
  # No --no-sync and no fsync=off: unlike scripts/test, commits here must be durable.
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 -A trust \
    >"$WORK/pg/initdb.log" 2>&1 || {
    cat "$WORK/pg/initdb.log" >&2
    die "initdb failed"
  }
  as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF

# --- onewindow bench ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$WORK/pg'
max_connections = 200
shared_buffers = 512MB
# Durable commits: every acknowledged commit is on disk (the defaults, stated).
fsync = on
synchronous_commit = on
full_page_writes = on
${PG_EXTRA_CONF:-}
EOF
  as_pg tee "$PG_DATA/pg_hba.conf" >/dev/null <<'EOF'
local   all       all                 trust
host    all       all   127.0.0.1/32  trust
EOF
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$WORK/pg/server.log" -w -t 60 start >/dev/null || {
    cat "$WORK/pg/server.log" >&2
    die "postgres failed to start"
  }
  PG_URL_BASE="postgres://postgres@127.0.0.1:$PG_PORT"
}

stop_pg() {
  [[ -n ${PG_DATA:-} && -f $PG_DATA/postmaster.pid ]] || return 0
  local pid
  pid=$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null)
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1; then
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
  fi
}

psql_q() { # DB SQL: one value per line, no decoration
  "$PG_BIN/psql" -X -q -t -A -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$1" -c "$2"
}

pg_fresh_db() { # NAME: drop if present, create empty
  psql_q postgres "drop database if exists \"$1\" with (force)" >/dev/null
  psql_q postgres "create database \"$1\"" >/dev/null
}

# ---------------------------------------------------------------------------
# onewindow
# ---------------------------------------------------------------------------

# start_ours BACKEND(sqlite|postgres) NAME [extra env assignments...]
# Sets OURS_PID, OURS_URL, OURS_TOKEN (the demo clerk's API key), OURS_BODY (intake body
# file), OURS_DB (database URL).
start_ours() {
  local backend=$1 name=$2
  shift 2
  local port
  port=$(free_port "${BENCH_OURS_PORT:-18080}")
  OURS_URL="http://127.0.0.1:$port"
  if [[ $backend == sqlite ]]; then
    rm -f "$WORK/$name.db"*
    OURS_DB="sqlite://$WORK/$name.db"
    OURS_SYNC=(--sqlite-sync full)
  else
    pg_fresh_db "$name"
    OURS_DB="$PG_URL_BASE/$name"
    OURS_SYNC=()
  fi
  say "onewindow serve --demo on $OURS_DB ${OURS_SYNC[*]} at $OURS_URL"
  env "$@" "$OW_BIN" --database "$OURS_DB" "${OURS_SYNC[@]}" serve --demo --listen "127.0.0.1:$port" \
    >"$WORK/$name.log" 2>&1 &
  OURS_PID=$!
  STARTED_PIDS+=("$OURS_PID")
  wait_http "$OURS_URL/healthz" 120 "$OURS_PID" || {
    tail -30 "$WORK/$name.log" >&2
    die "onewindow did not start"
  }
  OURS_TOKEN=$("$OW_BIN" --database "$OURS_DB" "${OURS_SYNC[@]}" apikey create --user clerk --name bench 2>>"$WORK/$name.log" | tail -n1)
  [[ -n $OURS_TOKEN ]] || die "could not create an API key for clerk (log: $WORK/$name.log)"
  # The intake body: item ITEM (default MZ-0101, 最低生活保障申请, 区民政局) with every
  # required material ticked as submitted, so intake accepts and routes it — as
  # crates/cli/examples/load.rs does.
  OURS_BODY=$WORK/$name-intake.json
  curl -sf "$OURS_URL/api/v1/catalog/items/${ITEM:-MZ-0101}" |
    jq -c --arg code "${ITEM:-MZ-0101}" '{
        item_code: $code,
        applicant_kind: "person",
        applicant_name: "张三",
        applicant_id: "11010519491231002X",
        applicant_phone: "13800138000",
        materials: ([.item.materials[] | select(.required) | {key: .name, value: "submitted"}] | from_entries)
      }' >"$OURS_BODY" || die "could not read catalog item ${ITEM:-MZ-0101}"
  check_request "ours intake" POST "$OURS_URL/api/v1/cases" "Bearer $OURS_TOKEN" "$OURS_BODY"
  check_request "ours list" GET "$OURS_URL/api/v1/cases?limit=25" "Bearer $OURS_TOKEN"
}

# ---------------------------------------------------------------------------
# The peer: django-helpdesk 2.6.1 under gunicorn
# ---------------------------------------------------------------------------

# start_peer BACKEND NAME. Sets PEER_PID, PEER_URL, PEER_TOKEN, PEER_BODY.
start_peer() {
  local backend=$1 name=$2 port
  port=$(free_port "${BENCH_PEER_PORT:-18180}")
  PEER_URL="http://127.0.0.1:$port"
  local run=$WORK/$name
  rm -rf "$run"
  mkdir -p "$run"
  # The project is generated per run from the committed settings; no peer code is kept.
  cp -r "$BENCH_DIR/peer/peerdesk" "$BENCH_DIR/peer/setup_peer.py" "$run/"
  local -a penv=(PEER_RUN_DIR="$run" PYTHONPATH="$run" DJANGO_SETTINGS_MODULE=peerdesk.settings)
  if [[ $backend == sqlite ]]; then
    penv+=(PEER_DB=sqlite PEER_SQLITE_PATH="$run/db.sqlite3")
  else
    pg_fresh_db "$name"
    penv+=(PEER_DB=postgres PEER_PG_NAME="$name" PEER_PG_PORT="$PG_PORT")
  fi
  # shellcheck disable=SC2034 # used by the scripts that source this file
  PEER_ENV=("${penv[@]}")
  env "${penv[@]}" "$PEER_VENV/bin/django-admin" migrate -v0 >"$run/migrate.log" 2>&1 || {
    cat "$run/migrate.log" >&2
    die "django-helpdesk migrate failed"
  }
  local out
  out=$(cd "$run" && env "${penv[@]}" "$PEER_VENV/bin/python" setup_peer.py) || die "setup_peer.py failed"
  PEER_TOKEN=${out%% *}
  local queue=${out##* }
  PEER_BODY=$run/ticket.json
  # The same applicant and content as our intake, as a ticket in the queue.
  jq -nc --argjson q "$queue" '{
      queue: $q,
      title: "最低生活保障申请 张三",
      description: "申请人：张三（居民身份证 11010519491231002X），电话 13800138000。材料：身份证、户口簿、收入证明、家庭财产申报表。",
      priority: 3
    }' >"$PEER_BODY"
  say "django-helpdesk 2.6.1, gunicorn ${PEER_WORKERS:-4} ${PEER_WORKER_CLASS:-sync} workers, $backend, at $PEER_URL"
  (cd "$run" && exec env "${penv[@]}" "$PEER_VENV/bin/gunicorn" --workers "${PEER_WORKERS:-4}" \
    --worker-class "${PEER_WORKER_CLASS:-sync}" --bind "127.0.0.1:$port" \
    --timeout 120 peerdesk.wsgi:application) >"$run/gunicorn.log" 2>&1 &
  PEER_PID=$!
  STARTED_PIDS+=("$PEER_PID")
  wait_http "$PEER_URL/api/" 60 "$PEER_PID" || {
    tail -30 "$run/gunicorn.log" >&2
    die "gunicorn did not start"
  }
  check_request "peer ticket" POST "$PEER_URL/api/tickets/" "Token $PEER_TOKEN" "$PEER_BODY"
  check_request "peer list" GET "$PEER_URL/api/tickets/" "Token $PEER_TOKEN"
}

# check_request LABEL METHOD URL AUTH [BODY_FILE]: one request must answer 2xx (wrk
# counts 3xx as success; a redirect here would mean the wrong URL).
check_request() {
  local label=$1 method=$2 url=$3 auth=$4 body=${5:-}
  local -a args=(-s -o "$WORK/check.out" -w '%{http_code}' -X "$method" -H "Authorization: $auth")
  [[ -z $body ]] || args+=(-H 'Content-Type: application/json' --data-binary "@$body")
  local code
  code=$(curl "${args[@]}" "$url")
  [[ $code == 2?? ]] || {
    head -c 600 "$WORK/check.out" >&2
    echo >&2
    die "$label: $method $url answered $code"
  }
}

# ---------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------

# run_wrk SCRIPT URL CONNECTIONS DURATION TOKEN [BODY_FILE] > output
run_wrk() {
  local script=$1 url=$2 conns=$3 dur=$4 token=$5 body=${6:-}
  BENCH_TOKEN=$token BENCH_BODY=$body wrk --threads "${THREADS:-2}" --connections "$conns" \
    --duration "$dur" --timeout "${WRK_TIMEOUT:-60s}" --latency \
    --script "$BENCH_DIR/wrk/$script" "$url"
}

# parse_wrk FILE: prints "requests req_per_s p50_ms p99_ms errors" where errors are
# non-2xx/3xx answers plus socket errors (connect, read, write, timeout).
parse_wrk() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /m$/) return substr(v, 1, length(v) - 1) * 60000
      if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
      return v + 0
    }
    /^ +50% / { p50 = ms($2) }
    /^ +99% / { p99 = ms($2) }
    / requests in / { n = $1 }
    /^Requests\/sec:/ { rps = $2 }
    /Socket errors:/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { err += $5 }
    END { printf "%d %.1f %.2f %.2f %d\n", n, rps, p50, p99, err }
  ' "$1"
}
