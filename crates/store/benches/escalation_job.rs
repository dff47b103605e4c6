//! Issue 11: the escalation job (`store::escalation::run`) over 1,000,000 open tracked items
//! of which 1% are due — time per run and items handled per second, on SQLite and
//! PostgreSQL. Not a test: `cargo test` never runs it (it exits at once without `--bench`).
//!
//!     cargo bench -p onewindow-store --bench escalation_job                 # SQLite
//!     ONEWINDOW_BENCH_PG_URL=postgres://postgres@127.0.0.1:56400/owbench \
//!       cargo bench -p onewindow-store --bench escalation_job               # PostgreSQL
//!
//! `bench/escalation.sh` runs both, PostgreSQL on a throwaway durable cluster.
//!
//! Environment:
//! - `ONEWINDOW_BENCH_PG_URL`: an empty PostgreSQL database (migrated here); without it a
//!   SQLite file in a temp dir under `ONEWINDOW_BENCH_DIR` (default `/var/tmp`: on the disk,
//!   so fsync costs what it costs).
//! - `ONEWINDOW_BENCH_SQLITE_SYNC` [full]: SQLite's `synchronous` (`full` | `normal`).
//! - `ONEWINDOW_BENCH_ITEMS` [1000000], `ONEWINDOW_BENCH_DUE_PERCENT` [1].
//!
//! The fixture. A fresh store (migrations, shipped calendar), the demo seed (organisations
//! for the foreign key and the tiers' people), and one kind registered through
//! `escalation::register_kind`: stage 办理 of 5 working days, tiers department handler →
//! supervisor one level up → two levels up, the installation's 200‰ warning share — the
//! test kind of `crates/cli/tests/escalation.rs`. The items are bulk-loaded in SQL (one
//! multi-row `INSERT … SELECT` over a generated series per block of 100 items, 100 blocks
//! per transaction) with exactly the row `escalation::track` writes: the clock is computed
//! per block by the same domain functions `track` uses (`DeadlineRule::schedule`,
//! `ItemClock::start`, `next_check_at`), `stage_started_at = created_at`, tier 0,
//! `warned = 0`, `version = 1`. Not loaded: the assignment notice, `tracked_events` row and
//! audit entry `track` writes beside each item (they do not take part in the due selection;
//! the run only appends to those tables). Every 100th block is due at `now`
//! (Thursday 2026-12-03 10:00 Beijing time), alternately:
//! - *warn*: created Thursday 2026-11-26, yellow since 2026-12-03 00:00 — one warning each;
//! - *escalate*: created Wednesday 2026-11-25, already warned (the row a run's warning step
//!   writes: `warned = 1`, `version = 2`), overdue since 2026-12-03 00:00 — one escalation
//!   each to tier 1 with a fresh 5-working-day deadline.
//!
//! The other blocks were created between 2026-12-01 and 2026-12-03 09:00 and are next
//! looked at on 2026-12-08 or later. So the due items are spread over the table, as in life.
//!
//! Then at the fixed `now`: the first run (handles the due items: each in its own
//! transaction, with its clock, event, audit entry and notice), and a second run right
//! after, which must find nothing — a run reads only due items by the index, never the
//! other 990,000. Also printed: the plan of the run's due-selection query.

use chrono::NaiveDate;
use onewindow_domain::access::Role;
use onewindow_domain::calendar::WorkCalendar;
use onewindow_domain::escalation::{
    local_midnight, step, Action, DeadlineRule, ItemClock, KindSpec, StageSpec, Tier,
    MICROS_PER_HOUR,
};
use onewindow_store::audit::{Change, Who};
use onewindow_store::{calendar, demo, escalation, orgs, Backend, SqliteSync, Store, StoreOptions};
use sqlx::{Connection, Row};
use std::time::Instant;

const KIND: &str = "bench.loop";
const BLOCK: i64 = 100;
const BLOCKS_PER_TX: i64 = 100;

/// The run's due-selection query, the very one `store::escalation::run` sends.
const DUE_SQL: &str = onewindow_store::escalation::DUE_SELECTION;

fn bj(y: i32, m: u32, d: u32, h: u32) -> i64 {
    local_midnight(NaiveDate::from_ymd_opt(y, m, d).unwrap()) + i64::from(h) * MICROS_PER_HOUR
}

fn kind_spec() -> KindSpec {
    KindSpec {
        kind: KIND.into(),
        label: "基准闭环".into(),
        stages: vec![StageSpec {
            name: "handle".into(),
            label: "办理".into(),
            rule: DeadlineRule::WorkingDays(5),
            notice: None,
        }],
        tiers: vec![
            Tier {
                role: Role::DeptHandler,
                up: 0,
            },
            Tier {
                role: Role::Supervisor,
                up: 1,
            },
            Tier {
                role: Role::Supervisor,
                up: 2,
            },
        ],
        warn_permille: None,
    }
}

fn env_num(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .map(|v| v.replace(['_', ','], "").parse().expect(name))
        .unwrap_or(default)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cohort {
    Future,
    Warn,
    Escalate,
}

/// The row of one block: the clock `track` computes at `created`, and for the escalate
/// cohort the row after the warning step (as `run` writes it).
struct BlockRow {
    created: i64,
    clock: ItemClock,
    next: i64,
    version: i64,
}

fn block_row(spec: &KindSpec, cal: &WorkCalendar, cohort: Cohort, b: i64, now: i64) -> BlockRow {
    let stage = &spec.stages[0];
    // Spread over working hours of the cohort's day(s), one block a few seconds apart.
    let (created, check) = match cohort {
        Cohort::Warn => (bj(2026, 11, 26, 9) + (b % 28_800) * 1_000_000, true),
        Cohort::Escalate => (bj(2026, 11, 25, 9) + (b % 28_800) * 1_000_000, true),
        Cohort::Future => (
            bj(2026, 12, 1, 9) + (b * 17 % (48 * 3600)) * 1_000_000,
            false,
        ),
    };
    let schedule = stage
        .rule
        .schedule(cal, created, spec.permille())
        .expect("schedule");
    let mut clock = ItemClock::start(&stage.name, created, schedule, 0);
    let mut next = clock.next_check_at(created).expect("a deadline");
    let mut version = 1;
    if cohort == Cohort::Escalate {
        let warned = step(spec, &clock, cal, next)
            .expect("step")
            .expect("a warning");
        assert_eq!(warned.action, Action::Warn);
        clock = warned.after;
        next = warned.next_check_at.expect("the deadline");
        version = 2;
    }
    assert_eq!(
        next <= now,
        check,
        "block {b}: next check {next} vs now {now}"
    );
    BlockRow {
        created,
        clock,
        next,
        version,
    }
}

fn insert_sql(backend: Backend) -> String {
    let series = match backend {
        Backend::Postgres => "generate_series($1::BIGINT, $2::BIGINT) AS s(g)",
        Backend::Sqlite => "s",
    };
    let with = match backend {
        Backend::Postgres => "",
        Backend::Sqlite => {
            "WITH RECURSIVE s(g) AS (SELECT $1 UNION ALL SELECT g + 1 FROM s WHERE g < $2) "
        }
    };
    format!(
        "{with}INSERT INTO tracked_items (kind, subject_ref, title, link, owner_org_id, stage, \
         stage_started_at, due_at, pending_year, warn_at, warned, state, next_check_at, \
         created_at, version) \
         SELECT $3, 'B-' || g, '督办基准事项B-' || g, '/bench/items/' || g, $4, $5, $6, $7, NULL, \
         $8, $9, 'open', $10, $6, $11 FROM {series}"
    )
}

/// The keyset position of a batch: after (next_check_at, id) of the `n`th due item (in
/// the run's order), or the start for `n = 0`.
async fn keyset_after(store: &Store, now: i64, n: i64) -> (i64, i64) {
    if n == 0 {
        return (i64::MIN, 0);
    }
    let r = sqlx::query(
        "SELECT id, next_check_at FROM tracked_items WHERE state = 'open' \
         AND next_check_at <= $1 ORDER BY next_check_at, id LIMIT 1 OFFSET $2",
    )
    .bind(now)
    .bind(n - 1)
    .fetch_one(store.reader())
    .await
    .expect("keyset");
    (r.get("next_check_at"), r.get("id"))
}

/// The due selection at a keyset position: rows and milliseconds (best of 5).
async fn time_due(store: &Store, now: i64, after: (i64, i64)) -> (usize, f64) {
    let mut best = f64::MAX;
    let mut rows = 0;
    for _ in 0..5 {
        let t = Instant::now();
        rows = sqlx::query(DUE_SQL)
            .bind(now)
            .bind(after.0)
            .bind(after.1)
            .bind(escalation::BATCH)
            .fetch_all(store.reader())
            .await
            .expect("due")
            .len();
        best = best.min(t.elapsed().as_secs_f64() * 1000.0);
    }
    (rows, best)
}

/// The plan of the due selection at the first batch and at the last batch of a run.
async fn explain(store: &Store, now: i64, batches: &[(&str, (i64, i64))]) -> Vec<String> {
    let mut out = Vec::new();
    match store.backend() {
        Backend::Sqlite => {
            let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {DUE_SQL}"))
                .bind(now)
                .bind(i64::MIN)
                .bind(0i64)
                .bind(escalation::BATCH)
                .fetch_all(store.reader())
                .await
                .expect("explain");
            out.push("EXPLAIN QUERY PLAN (the same for every batch):".into());
            for r in rows {
                out.push(r.get::<String, _>("detail"));
            }
        }
        Backend::Postgres => {
            // The run sends the query as a prepared statement 50 times a run: after five
            // executions PostgreSQL may switch to a generic plan (no parameter values), so
            // both are shown, each with what it read (PREPARE/EXECUTE: PostgreSQL 15 has no
            // EXPLAIN (GENERIC_PLAN)).
            let mut conn = store.reader().acquire().await.expect("conn");
            sqlx::query(&format!(
                "PREPARE ow_due(BIGINT, BIGINT, BIGINT, BIGINT) AS {DUE_SQL}"
            ))
            .execute(&mut *conn)
            .await
            .expect("prepare");
            for mode in ["force_custom_plan", "force_generic_plan"] {
                sqlx::query(&format!("SET plan_cache_mode = {mode}"))
                    .execute(&mut *conn)
                    .await
                    .expect("set");
                for (label, (at, id)) in batches {
                    out.push(format!("-- {label}, plan_cache_mode = {mode}"));
                    let rows = sqlx::query(&format!(
                        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) \
                         EXECUTE ow_due({now}, {at}, {id}, {})",
                        escalation::BATCH
                    ))
                    .fetch_all(&mut *conn)
                    .await
                    .expect("explain");
                    for r in rows {
                        out.push(r.get::<String, _>(0));
                    }
                }
            }
            sqlx::query("RESET plan_cache_mode")
                .execute(&mut *conn)
                .await
                .expect("reset");
            sqlx::query("DEALLOCATE ow_due")
                .execute(&mut *conn)
                .await
                .expect("deallocate");
        }
    }
    out
}

/// CPU time (user + system) of this process so far, from /proc/self/stat (clock ticks).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are the
    // 12th and 13th of them.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    if f.len() < 13 {
        return 0.0;
    }
    (f[11] + f[12]) / 100.0
}

/// PostgreSQL's cumulative counters: transactions committed in this database, WAL syncs.
async fn pg_counters(conn: &mut sqlx::AnyConnection) -> (i64, i64) {
    let r = sqlx::query(
        "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS c, \
         (SELECT wal_sync FROM pg_stat_wal) AS s",
    )
    .fetch_one(&mut *conn)
    .await
    .expect("pg counters");
    (r.get("c"), r.get("s"))
}

async fn count(store: &Store, sql: &str, now: i64) -> i64 {
    sqlx::query(sql)
        .bind(now)
        .fetch_one(store.reader())
        .await
        .expect("count")
        .get(0)
}

async fn bench() {
    let items = env_num("ONEWINDOW_BENCH_ITEMS", 1_000_000);
    let due_percent = env_num("ONEWINDOW_BENCH_DUE_PERCENT", 1);
    assert!(
        items % BLOCK == 0,
        "ONEWINDOW_BENCH_ITEMS must be a multiple of {BLOCK}"
    );
    assert!((1..=100).contains(&due_percent));
    let blocks = items / BLOCK;
    let due_every = 100 / due_percent;

    let _dir;
    let (url, label) = match std::env::var("ONEWINDOW_BENCH_PG_URL") {
        Ok(url) if !url.is_empty() => (url, "postgres".to_string()),
        _ => {
            let parent = std::env::var("ONEWINDOW_BENCH_DIR").unwrap_or("/var/tmp".into());
            let dir = tempfile::Builder::new()
                .prefix("ow-bench-escalation.")
                .tempdir_in(parent)
                .expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            _dir = dir;
            (url, String::new())
        }
    };
    let sync: SqliteSync = std::env::var("ONEWINDOW_BENCH_SQLITE_SYNC")
        .unwrap_or("full".into())
        .parse()
        .expect("ONEWINDOW_BENCH_SQLITE_SYNC");
    let label = if label.is_empty() {
        format!("sqlite (synchronous={sync:?})").to_lowercase()
    } else {
        label
    };
    let opts = StoreOptions {
        sqlite_sync: sync,
        ..StoreOptions::default()
    };
    let store = Store::open(&url, &opts).await.expect("open store");
    let backend = store.backend();
    let now = bj(2026, 12, 3, 10);
    let setup_at = bj(2026, 11, 20, 9);
    demo::seed(&store, setup_at).await.expect("demo seed");
    let cal = calendar::load(store.reader()).await.expect("calendar");
    let change = Change {
        backend,
        at: setup_at,
        who: Who::system("bench"),
    };
    let mut tx = store.begin().await.expect("begin");
    escalation::register_kind(&mut tx, &change, &kind_spec())
        .await
        .expect("register kind");
    tx.commit().await.expect("commit");
    // The kind as the run reads it (the installation's warning share filled in).
    let mut spec = kind_spec();
    spec.warn_permille = Some(
        onewindow_store::settings::get_int(store.reader(), escalation::WARN_SETTING)
            .await
            .expect("setting") as u32,
    );
    let mut owners = Vec::new();
    for code in ["mz", "rs", "yb", "sj", "sw", "ga", "zj", "cg", "wj", "cl"] {
        let org = orgs::find_by_code(store.reader(), &format!("dept-{code}"))
            .await
            .expect("org")
            .expect("demo department");
        owners.push(org.id);
    }

    // --- the fixture ---
    let sql = insert_sql(backend);
    let t = Instant::now();
    let mut due = 0i64;
    let mut tx = store.begin().await.expect("begin");
    for b in 0..blocks {
        let cohort = if b % due_every == due_every / 2 {
            if (b / due_every) % 2 == 0 {
                Cohort::Warn
            } else {
                Cohort::Escalate
            }
        } else {
            Cohort::Future
        };
        if cohort != Cohort::Future {
            due += BLOCK;
        }
        let row = block_row(&spec, &cal, cohort, b, now);
        let first = b * BLOCK + 1;
        sqlx::query(&sql)
            .bind(first)
            .bind(first + BLOCK - 1)
            .bind(KIND)
            .bind(owners[b as usize % owners.len()])
            .bind(&row.clock.stage)
            .bind(row.created)
            .bind(row.clock.due_at.expect("due"))
            .bind(row.clock.warn_at.expect("warn"))
            .bind(i64::from(row.clock.warned))
            .bind(row.next)
            .bind(row.version)
            .execute(&mut *tx)
            .await
            .expect("bulk insert");
        if (b + 1) % BLOCKS_PER_TX == 0 {
            tx.commit().await.expect("commit");
            tx = store.begin().await.expect("begin");
        }
    }
    tx.commit().await.expect("commit");
    if backend == Backend::Postgres {
        // What autovacuum does shortly after a bulk load (statistics, visibility map).
        sqlx::query("VACUUM (ANALYZE) tracked_items")
            .execute(store.reader())
            .await
            .expect("vacuum");
    }
    let load_secs = t.elapsed().as_secs_f64();
    let open = count(
        &store,
        "SELECT COUNT(*) FROM tracked_items WHERE state = 'open' AND $1 > 0",
        now,
    )
    .await;
    let due_now = count(
        &store,
        "SELECT COUNT(*) FROM tracked_items WHERE state = 'open' AND next_check_at <= $1",
        now,
    )
    .await;
    assert_eq!(open, items);
    assert_eq!(due_now, due);

    let cap = escalation::BATCH * escalation::MAX_BATCHES as i64;
    let last_batch = keyset_after(&store, now, (due.min(cap) - escalation::BATCH).max(0)).await;
    let plan = explain(
        &store,
        now,
        &[("first batch", (i64::MIN, 0)), ("last batch", last_batch)],
    )
    .await;
    let (first_rows, first_ms) = time_due(&store, now, (i64::MIN, 0)).await;
    let (last_rows, last_ms) = time_due(&store, now, last_batch).await;

    // --- the job ---
    // PostgreSQL: commits and WAL syncs of the runs, from the cumulative statistics. A
    // backend flushes its counters at exit at the latest, so the pool is closed (and a
    // fresh one opened) around the runs; the counters are read on a connection of its own.
    let mut pg_stats = None;
    let store = if backend == Backend::Postgres {
        store.close().await;
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let mut conn = sqlx::AnyConnection::connect(&url)
            .await
            .expect("stats conn");
        let before = pg_counters(&mut conn).await;
        pg_stats = Some((conn, before));
        Store::connect(&url, &opts).await.expect("reconnect")
    } else {
        store
    };
    let run_change = Change {
        backend,
        at: now,
        who: Who::system("escalation-job"),
    };
    let stats0 = store.writer_stats().await;
    let cpu0 = cpu_secs();
    let t = Instant::now();
    let first = escalation::run(&store, &run_change, &cal)
        .await
        .expect("first run");
    let first_secs = t.elapsed().as_secs_f64();
    let first_cpu = cpu_secs() - cpu0;
    let stats1 = store.writer_stats().await;
    let t = Instant::now();
    let second = escalation::run(&store, &run_change, &cal)
        .await
        .expect("second run");
    let second_secs = t.elapsed().as_secs_f64();
    // PostgreSQL chains the run's audit events in the background, after each commit: what
    // was left when the run returned.
    let t = Instant::now();
    let chained_after = store.settle_audit().await.expect("settle audit");
    let settle_secs = t.elapsed().as_secs_f64();
    let pg_delta = match pg_stats {
        Some((mut conn, before)) => {
            store.close().await;
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            let after = pg_counters(&mut conn).await;
            Some((after.0 - before.0, after.1 - before.1))
        }
        None => None,
    };
    let store = if backend == Backend::Postgres {
        Store::connect(&url, &opts).await.expect("reconnect")
    } else {
        store
    };

    // One run handles at most BATCH × MAX_BATCHES items (the rest waits for the next).
    let handled = first.warned.len() + first.escalated.len() + first.exhausted.len();
    assert_eq!(handled as i64, due.min(cap), "every due item handled once");
    if due <= cap {
        assert!(
            second.is_empty() && second.rechecked.is_empty(),
            "second run touched nothing"
        );
    }
    let notices = count(
        &store,
        "SELECT COUNT(*) FROM notices WHERE created_at = $1",
        now,
    )
    .await;
    assert_eq!(notices, handled as i64);

    println!("## escalation job bench: {label}");
    println!("database           {url}");
    println!(
        "items loaded       {items} open ({due} due at now = 2026-12-03 10:00 +08:00) in {load_secs:.1} s"
    );
    println!(
        "first run          {first_secs:.3} s: {} warned, {} escalated, {} exhausted — {:.0} items/s ({:.2} ms/item)",
        first.warned.len(),
        first.escalated.len(),
        first.exhausted.len(),
        handled as f64 / first_secs,
        first_secs * 1000.0 / handled as f64
    );
    println!(
        "bench process CPU  {first_cpu:.2} s user+sys during the first run ({:.0}% of its wall time; {})",
        first_cpu * 100.0 / first_secs,
        match backend {
            Backend::Sqlite => "SQLite itself runs in this process",
            Backend::Postgres => "the PostgreSQL server's CPU is not in it",
        }
    );
    println!(
        "second run         {:.2} ms: {} items touched",
        second_secs * 1000.0,
        second.warned.len() + second.escalated.len() + second.rechecked.len()
    );
    if let (Some(a), Some(b)) = (stats0, stats1) {
        println!(
            "sqlite commits     {} COMMITs for {} transactions in the first run",
            b.commits - a.commits,
            b.committed - a.committed
        );
    }
    if let Some((commits, syncs)) = pg_delta {
        println!(
            "postgres counters  both runs + chaining: {commits} commits ({:.2} per item), {syncs} WAL syncs ({:.2} per item)",
            commits as f64 / handled as f64,
            syncs as f64 / handled as f64
        );
    }
    if backend == Backend::Postgres {
        println!(
            "audit chaining     {chained_after} events still pending after the run, chained in {:.1} ms",
            settle_secs * 1000.0
        );
    }
    println!(
        "RESULT|{label}|{items}|{due}|{first_secs:.3}|{:.0}|{:.2}",
        handled as f64 / first_secs,
        second_secs * 1000.0
    );
    println!(
        "due selection      first batch {first_rows} rows in {first_ms:.2} ms, last batch {last_rows} rows in {last_ms:.2} ms (best of 5, before the run)"
    );
    println!("plan of the due selection:");
    for line in plan {
        println!("    {line}");
    }
    store.close().await;
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then do nothing.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("escalation_job: a benchmark; run it with `cargo bench -p onewindow-store --bench escalation_job`");
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench());
}
