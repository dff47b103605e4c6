//! Queue benchmarks (取号、叫号、大屏): the figures the queue issue asks for, on the database
//! given by `--database` (SQLite or PostgreSQL). Seeds the demo if the database is empty,
//! then every phase works in a hall of its own (created under 幸福街道, six classes A–F like
//! the demo hall, windows 1–8 serving the demo windows' classes and 9.. serving every
//! class), so phases and runs never see each other's tickets. Talks to 127.0.0.1 only.
//!
//!     cargo build --release --example queue_bench
//!     ./target/release/examples/queue_bench --database sqlite:///tmp/qb.db --bench call
//!
//! `--bench call`: `--tickets` (10,000) waiting tickets are inserted in bulk, then one task
//! per window (`--windows`, 20) loops: `store::queue::call_next` in a transaction of its
//! own, then `act` StartService and `act` Finish (a transaction each) so the window may
//! call again — until nothing is left. Call-next latency (begin → commit, and the part
//! inside the transaction) is reported apart from the finish operations, overall and by
//! how many tickets were still waiting. At the end every ticket must have been called
//! exactly once (checked in the tasks' results and in the database).
//!
//! `--bench issue`: `--issue-tasks` (8) tasks issue `--issues` (2,000) tickets through
//! `store::queue::issue`, one transaction each, into a hall holding `--backlog` (0)
//! waiting tickets; reports tickets per second and latency, checks the numbering.
//!
//! `--bench display`: starts the real server in-process, connects `--clients` (200)
//! display screens to `/halls/{hall}/events` (server-sent events), and makes `--calls`
//! (200) calls through `POST /api/v1/queue/windows/{id}/call-next` with the demo `clerk`'s
//! API key, from `--display-tasks` (1) windows at a time. Each call is timed from just
//! before the request until every screen has received its `called` event; the window
//! then starts and finishes the ticket through the API (those events reach the screens
//! too, unmeasured). Reports p50/p99 of the per-call maximum (the slowest screen) and of
//! the individual deliveries. `--warmup` (5) calls first are not counted.
//!
//! The clock is the system clock; tickets are issued for `local_date(now)`, the day the
//! server's "today" is. `--db-connections` (8, as `onewindow serve`) sizes the pool.

use futures_util::StreamExt;
use onewindow_domain::org::OrgKind;
use onewindow_domain::queue::{PriorityReason, PriorityRule, TicketAction, WindowState};
use onewindow_store::audit::{Change, Who};
use onewindow_store::clock::{local_date, Clock, SystemClock};
use onewindow_store::{
    apikeys, audit, demo, orgs, queue, settings, users, Backend, Store, StoreError, StoreOptions,
};
use onewindow_web::{AppState, WebConfig};
use serde_json::Value;
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The demo hall's windows (number → classes); windows past these serve every class.
const DEMO_WINDOWS: [&[&str]; 8] = [
    &["A"],
    &["A", "F"],
    &["B"],
    &["C"],
    &["C", "D"],
    &["D"],
    &["E"],
    &["A", "B", "C", "D", "E", "F"],
];

/// Class mix of arrivals, as in the demo history (A busiest).
const MIX: [&str; 10] = ["A", "A", "A", "B", "C", "C", "D", "D", "E", "F"];

struct Args {
    database: String,
    bench: String,
    windows: usize,
    tickets: usize,
    issue_tasks: usize,
    issues: usize,
    backlog: usize,
    clients: usize,
    calls: usize,
    display_tasks: usize,
    warmup: usize,
    db_connections: u32,
}

fn args() -> Args {
    let mut a = Args {
        database: "sqlite:///tmp/onewindow-queue-bench.db".into(),
        bench: "call".into(),
        windows: 20,
        tickets: 10_000,
        issue_tasks: 8,
        issues: 2_000,
        backlog: 0,
        clients: 200,
        calls: 200,
        display_tasks: 1,
        warmup: 5,
        db_connections: 8,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    for pair in v.chunks(2) {
        let val = pair.get(1).cloned().unwrap_or_default();
        let num = || -> usize { val.parse().unwrap_or_else(|_| panic!("{} N", pair[0])) };
        match pair[0].as_str() {
            "--database" => a.database = val.clone(),
            "--bench" => a.bench = val.clone(),
            "--windows" => a.windows = num(),
            "--tickets" => a.tickets = num(),
            "--issue-tasks" => a.issue_tasks = num(),
            "--issues" => a.issues = num(),
            "--backlog" => a.backlog = num(),
            "--clients" => a.clients = num(),
            "--calls" => a.calls = num(),
            "--display-tasks" => a.display_tasks = num(),
            "--warmup" => a.warmup = num(),
            "--db-connections" => a.db_connections = num() as u32,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn change(store: &Store, label: &str) -> Change {
    Change {
        backend: store.backend(),
        at: SystemClock.now(),
        who: Who::system(label),
    }
}

/// Latencies in µs, sorted; the value at quantile `p`, in ms.
fn pct(v: &[u64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)] as f64 / 1000.0
}

fn summary(name: &str, v: &mut [u64]) -> String {
    v.sort_unstable();
    format!(
        "{name:<22} n={:<6} p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms",
        v.len(),
        pct(v, 0.50),
        pct(v, 0.90),
        pct(v, 0.99),
        v.last().copied().unwrap_or(0) as f64 / 1000.0
    )
}

fn us(d: Duration) -> u64 {
    d.as_micros() as u64
}

/// A hall of its own for one phase: six classes, `windows` windows, all open with the
/// demo clerk at them. Returns (hall id, window ids in number order).
async fn make_hall(store: &Store, label: &str, windows: usize, clerk: i64) -> (i64, Vec<i64>) {
    let street = orgs::find_by_code(store.reader(), "xingfu")
        .await
        .unwrap()
        .expect("demo street 幸福街道");
    let stamp = SystemClock.now() / 1000 % 1_000_000_000;
    let ch = change(store, "queue-bench");
    let mut tx = store.begin().await.unwrap();
    let hall = orgs::create(
        &mut tx,
        &ch,
        &orgs::NewOrg {
            parent_id: Some(street.id),
            kind: OrgKind::Department,
            name: format!("压测大厅{label}{stamp}"),
            code: Some(format!("qb-{label}-{stamp}")),
        },
    )
    .await
    .unwrap();
    for (code, name) in demo::QUEUE_CLASSES {
        sqlx::query(
            "INSERT INTO queue_classes (hall_id, code, name, slot_capacity) VALUES ($1, $2, $3, 4)",
        )
        .bind(hall.id)
        .bind(code)
        .bind(name)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    let all: Vec<&str> = demo::QUEUE_CLASSES.iter().map(|c| c.0).collect();
    let mut ids = Vec::new();
    for n in 0..windows {
        let classes: &[&str] = DEMO_WINDOWS.get(n).copied().unwrap_or(&all);
        let id: i64 = sqlx::query(
            "INSERT INTO service_windows (hall_id, number, name, classes, state, updated_at) \
             VALUES ($1, $2, $3, $4, 'closed', $5) RETURNING id",
        )
        .bind(hall.id)
        .bind(n as i64 + 1)
        .bind(format!("压测窗口{}", n + 1))
        .bind(serde_json::to_string(classes).unwrap())
        .bind(ch.at)
        .fetch_one(&mut *tx)
        .await
        .unwrap()
        .get("id");
        ids.push(id);
    }
    for &id in &ids {
        queue::set_window_state(&mut tx, &ch, id, WindowState::Open, Some(clerk))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    (hall.id, ids)
}

/// Inserts `n` waiting tickets of today in bulk (setup, not measured): classes by the
/// demo mix, one in ten a priority ticket, issued over the last `n` milliseconds; the
/// day's counters are set so later issues continue the numbering.
async fn bulk_tickets(store: &Store, hall: i64, n: usize) {
    let now = SystemClock.now();
    let day = local_date(now).to_string();
    let boost = PriorityRule::default().effective_boost_minutes() * 60_000_000;
    let mut seqs: HashMap<&str, i64> = HashMap::new();
    let mut tx = store.begin().await.unwrap();
    let rows: Vec<usize> = (0..n).collect();
    for chunk in rows.chunks(200) {
        let mut sql = String::from(
            "INSERT INTO tickets (hall_id, class_code, day, seq, number, priority, priority_reason, source, state, order_key, issued_at) VALUES ",
        );
        for (k, _) in chunk.iter().enumerate() {
            let b = k * 9;
            if k > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, 'desk', 'waiting', ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9
            ));
        }
        let mut q = sqlx::query(&sql);
        for &i in chunk {
            let class = MIX[i % MIX.len()];
            let seq = seqs.entry(class).or_insert(0);
            *seq += 1;
            let priority = i % 10 == 9;
            let issued = now - (n - i) as i64 * 1000;
            q = q
                .bind(hall)
                .bind(class)
                .bind(day.clone())
                .bind(*seq)
                .bind(onewindow_domain::queue::ticket_number(class, *seq as u32))
                .bind(i64::from(priority))
                .bind(priority.then_some("elderly"))
                .bind(if priority { issued - boost } else { issued })
                .bind(issued);
        }
        q.execute(&mut *tx).await.unwrap();
    }
    for (class, seq) in &seqs {
        sqlx::query(
            "INSERT INTO ticket_counters (hall_id, class_code, day, seq) VALUES ($1, $2, $3, $4)",
        )
        .bind(hall)
        .bind(*class)
        .bind(&day)
        .bind(*seq)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    // PostgreSQL's autovacuum would have analysed tickets arriving over a morning; a bulk
    // insert a moment ago would otherwise be planned on stale statistics (SQLite: the
    // application never runs ANALYZE, so neither does the benchmark).
    if store.backend() == Backend::Postgres {
        sqlx::query("ANALYZE tickets")
            .execute(store.reader())
            .await
            .unwrap();
    }
}

async fn count(store: &Store, sql: &str, hall: i64) -> i64 {
    sqlx::query(sql)
        .bind(hall)
        .fetch_one(store.reader())
        .await
        .unwrap()
        .get(0)
}

/// What one window task measured in `--bench call`.
#[derive(Default)]
struct CallLog {
    /// (order of the call among all calls, begin → commit µs, inside the transaction µs)
    calls: Vec<(usize, u64, u64)>,
    start: Vec<u64>,
    finish: Vec<u64>,
    ticket_ids: Vec<i64>,
    retries: usize,
}

async fn bench_call(store: &Store, a: &Args, clerk: i64) {
    let (hall, windows) = make_hall(store, "call", a.windows, clerk).await;
    let t = Instant::now();
    bulk_tickets(store, hall, a.tickets).await;
    println!(
        "setup: hall {hall}, {} windows open, {} waiting tickets inserted in {:.1} s",
        windows.len(),
        a.tickets,
        t.elapsed().as_secs_f64()
    );
    let day = local_date(SystemClock.now());
    let order = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for &w in &windows {
        let (store, order) = (store.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let mut log = CallLog::default();
            loop {
                let t0 = Instant::now();
                let mut tx = store.begin().await.unwrap();
                let t1 = Instant::now();
                let r = queue::call_next(&mut tx, &change(&store, "bench-call"), w, day).await;
                let t2 = Instant::now();
                let ticket = match r {
                    Ok(Some(t)) => t,
                    Ok(None) => break,
                    Err(StoreError::Conflict {
                        code: "ticket_taken",
                        ..
                    }) => {
                        log.retries += 1;
                        continue;
                    }
                    Err(e) => panic!("call_next at window {w}: {e:?}"),
                };
                tx.commit().await.unwrap();
                let t3 = Instant::now();
                let k = order.fetch_add(1, Ordering::Relaxed);
                log.calls.push((k, us(t3 - t0), us(t2 - t1)));
                log.ticket_ids.push(ticket.id);
                for (action, out) in [
                    (TicketAction::StartService, &mut log.start),
                    (TicketAction::Finish, &mut log.finish),
                ] {
                    let t0 = Instant::now();
                    let mut tx = store.begin().await.unwrap();
                    queue::act(
                        &mut tx,
                        &change(&store, "bench-call"),
                        ticket.id,
                        &action,
                        2,
                        &[],
                    )
                    .await
                    .unwrap();
                    tx.commit().await.unwrap();
                    out.push(us(t0.elapsed()));
                }
            }
            log
        }));
    }
    let mut all = CallLog::default();
    for t in tasks {
        let log = t.await.unwrap();
        all.calls.extend(log.calls);
        all.start.extend(log.start);
        all.finish.extend(log.finish);
        all.ticket_ids.extend(log.ticket_ids);
        all.retries += log.retries;
    }
    let secs = started.elapsed().as_secs_f64();

    // Every ticket called exactly once.
    let distinct: HashSet<i64> = all.ticket_ids.iter().copied().collect();
    assert_eq!(all.ticket_ids.len(), a.tickets, "calls made");
    assert_eq!(distinct.len(), a.tickets, "no ticket called twice");
    let done = count(
        store,
        "SELECT COUNT(*) FROM tickets WHERE hall_id = $1 AND state = 'done' AND called_at IS NOT NULL",
        hall,
    )
    .await;
    let waiting = count(
        store,
        "SELECT COUNT(*) FROM tickets WHERE hall_id = $1 AND state = 'waiting'",
        hall,
    )
    .await;
    let called_events = count(
        store,
        "SELECT COUNT(*) FROM queue_events WHERE hall_id = $1 AND kind = 'called'",
        hall,
    )
    .await;
    assert_eq!(
        (done, waiting, called_events),
        (a.tickets as i64, 0, a.tickets as i64)
    );
    println!(
        "{} call: {} windows, {} tickets called, started and finished in {secs:.1} s \
         ({:.0} calls/s, {:.0} write transactions/s); each called exactly once \
         (distinct ids {}, done {done}, waiting {waiting}, called events {called_events}); \
         ticket_taken retries {}",
        store.backend().name(),
        windows.len(),
        a.tickets,
        a.tickets as f64 / secs,
        3.0 * a.tickets as f64 / secs,
        distinct.len(),
        all.retries,
    );
    let mut total: Vec<u64> = all.calls.iter().map(|c| c.1).collect();
    let mut inside: Vec<u64> = all.calls.iter().map(|c| c.2).collect();
    println!("  {}", summary("call_next (begin→commit)", &mut total));
    println!("  {}", summary("call_next (in tx)", &mut inside));
    println!("  {}", summary("start (begin→commit)", &mut all.start));
    println!("  {}", summary("finish (begin→commit)", &mut all.finish));
    // By how many were still waiting: the call's cost as the queue drains.
    let n = a.tickets.max(1);
    for (lo, hi) in [(0, 10), (45, 55), (90, 100)] {
        let mut part: Vec<u64> = all
            .calls
            .iter()
            .filter(|c| c.0 * 100 / n >= lo && c.0 * 100 / n < hi)
            .map(|c| c.2)
            .collect();
        println!(
            "  {}",
            summary(
                &format!("in tx, {}–{} waiting", n - n * hi / 100, n - n * lo / 100),
                &mut part
            )
        );
    }
}

async fn bench_issue(store: &Store, a: &Args, clerk: i64) {
    let (hall, _) = make_hall(store, "issue", 0, clerk).await;
    bulk_tickets(store, hall, a.backlog).await;
    let rule = PriorityRule {
        boost_minutes: settings::get_int(store.reader(), "queue.priority_boost_minutes")
            .await
            .unwrap(),
        ..PriorityRule::default()
    };
    let next = Arc::new(AtomicUsize::new(0));
    let issues = a.issues;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.issue_tasks {
        let (store, next) = (store.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= issues {
                    break;
                }
                let class = MIX[i % MIX.len()];
                let priority = (i % 10 == 9).then_some(PriorityReason::Elderly);
                let t0 = Instant::now();
                let ch = change(&store, "bench-issue");
                let mut tx = store.begin().await.unwrap();
                queue::issue(
                    &mut tx,
                    &ch,
                    hall,
                    class,
                    local_date(ch.at),
                    queue::Joining::WalkIn(priority),
                    "kiosk",
                    rule,
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                lat.push(us(t0.elapsed()));
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    // Numbering: gapless per class, nothing lost.
    let rows = sqlx::query(
        "SELECT class_code, COUNT(*) AS n, MAX(seq) AS m, COUNT(DISTINCT seq) AS d FROM tickets WHERE hall_id = $1 GROUP BY class_code",
    )
    .bind(hall)
    .fetch_all(store.reader())
    .await
    .unwrap();
    let mut total = 0;
    for r in &rows {
        let (n, m, d): (i64, i64, i64) = (r.get("n"), r.get("m"), r.get("d"));
        assert_eq!((n, d), (m, m), "class {}", r.get::<String, _>("class_code"));
        total += n;
    }
    assert_eq!(total as usize, a.backlog + issues);
    println!(
        "{} issue: {} tasks, {issues} tickets in {secs:.1} s: {:.0} tickets/s (backlog {} waiting; numbering gapless)",
        store.backend().name(),
        a.issue_tasks,
        issues as f64 / secs,
        a.backlog
    );
    println!("  {}", summary("issue (begin→commit)", &mut lat));
}

/// One screen's view of a call: (ticket number, when its `called` event arrived).
type Arrivals = Arc<Mutex<HashMap<String, Delivery>>>;

#[derive(Default)]
struct Delivery {
    at: Vec<Instant>,
    /// Told when the last screen has it.
    waiter: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Reads a screen's event stream; records every `called` event's arrival.
async fn screen(res: reqwest::Response, clients: usize, arrivals: Arrivals) {
    let mut stream = res.bytes_stream();
    let mut buf = String::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { return };
        let now = Instant::now();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let (mut kind, mut data) = ("", "");
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    kind = v.trim();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = v.trim();
                }
            }
            if kind != "called" {
                continue;
            }
            let payload: Value = serde_json::from_str(data).expect("event data is JSON");
            let ticket = payload["ticket"].as_str().expect("ticket").to_string();
            let mut map = arrivals.lock().unwrap();
            let d = map.entry(ticket).or_default();
            d.at.push(now);
            if d.at.len() == clients {
                if let Some(w) = d.waiter.take() {
                    let _ = w.send(());
                }
            }
        }
    }
}

async fn bench_display(store: &Store, a: &Args, clerk: i64) {
    let calls = a.calls + a.warmup;
    let (hall, windows) = make_hall(store, "display", a.windows, clerk).await;
    bulk_tickets(store, hall, calls + 10 * a.windows).await;
    let secret = {
        let mut tx = store.begin().await.unwrap();
        let (_, secret) =
            apikeys::create(&mut tx, &change(store, "queue-bench"), clerk, "叫号压测")
                .await
                .unwrap();
        tx.commit().await.unwrap();
        secret
    };
    let state = AppState::new(store.clone(), Arc::new(SystemClock), WebConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(onewindow_web::serve(listener, state, async move {
        let _ = stop_rx.await;
    }));
    // PostgreSQL: let the LISTEN relay connect before the first call.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let arrivals: Arrivals = Arc::new(Mutex::new(HashMap::new()));
    let sse = reqwest::Client::new();
    let mut screens = Vec::new();
    let t = Instant::now();
    for _ in 0..a.clients {
        // Once the headers are back the handler has subscribed: the screen misses nothing.
        let res = sse
            .get(format!("{base}/halls/{hall}/events"))
            .send()
            .await
            .expect("connect a screen");
        assert!(res.status().is_success(), "{}", res.status());
        screens.push(tokio::spawn(screen(res, a.clients, arrivals.clone())));
    }
    println!(
        "setup: hall {hall}, {} windows, {} screens connected in {:.2} s",
        windows.len(),
        a.clients,
        t.elapsed().as_secs_f64()
    );

    let api = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..a.display_tasks.min(windows.len()) {
        let (api, base, secret, next, arrivals) = (
            api.clone(),
            base.clone(),
            secret.clone(),
            next.clone(),
            arrivals.clone(),
        );
        let clients = a.clients;
        let (warmup, total) = (a.warmup, calls);
        let my_windows: Vec<i64> = windows
            .iter()
            .copied()
            .skip(k)
            .step_by(a.display_tasks.min(windows.len()))
            .collect();
        tasks.push(tokio::spawn(async move {
            // (ticket, start of the call, HTTP round trip µs, measured, all screens had it)
            let mut out: Vec<(String, Instant, u64, bool, bool)> = Vec::new();
            let mut round = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let w = my_windows[round % my_windows.len()];
                round += 1;
                let t0 = Instant::now();
                let res = api
                    .post(format!("{base}/api/v1/queue/windows/{w}/call-next"))
                    .bearer_auth(&secret)
                    .send()
                    .await
                    .expect("call-next");
                let status = res.status();
                let body: Value = res.json().await.expect("JSON");
                assert!(status.is_success(), "call-next: {status} {body}");
                let rtt = us(t0.elapsed());
                let number = body["ticket"]["number"]
                    .as_str()
                    .expect("a ticket was waiting")
                    .to_string();
                let id = body["ticket"]["id"].as_i64().unwrap();
                let rx = {
                    let mut map = arrivals.lock().unwrap();
                    let d = map.entry(number.clone()).or_default();
                    if d.at.len() >= clients {
                        None
                    } else {
                        let (tx, rx) = tokio::sync::oneshot::channel();
                        d.waiter = Some(tx);
                        Some(rx)
                    }
                };
                let complete = match rx {
                    None => true,
                    Some(rx) => tokio::time::timeout(Duration::from_secs(10), rx)
                        .await
                        .is_ok(),
                };
                out.push((number, t0, rtt, i >= warmup, complete));
                for action in ["start_service", "finish"] {
                    let res = api
                        .post(format!("{base}/api/v1/queue/tickets/{id}/actions"))
                        .bearer_auth(&secret)
                        .json(&serde_json::json!({ "action": action }))
                        .send()
                        .await
                        .expect("ticket action");
                    assert!(res.status().is_success(), "{action}: {}", res.status());
                    let _ = res.bytes().await;
                }
            }
            out
        }));
    }
    let mut made = Vec::new();
    for t in tasks {
        made.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    // Let stragglers arrive before the screens are dropped.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for s in &screens {
        s.abort();
    }
    // Every screen's arrivals, taken out of the shared map.
    let map = std::mem::take(&mut *arrivals.lock().unwrap());
    let (mut slowest, mut each, mut rtt, mut after) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut incomplete, mut missing) = (0, 0);
    for (number, t0, round_trip, measured, complete) in &made {
        if !measured {
            continue;
        }
        rtt.push(*round_trip);
        let got = map.get(number).map(|d| d.at.as_slice()).unwrap_or(&[]);
        if !complete || got.len() < a.clients {
            incomplete += 1;
            missing += a.clients.saturating_sub(got.len());
        }
        let lat: Vec<u64> = got.iter().map(|at| us(at.duration_since(*t0))).collect();
        if let Some(m) = lat.iter().max() {
            slowest.push(*m);
            // How long the slowest screen waited after the clerk had the answer.
            after.push(m.saturating_sub(*round_trip));
        }
        each.extend(lat);
    }
    println!(
        "{} display: {} calls ({} warm-up not counted) from {} window task(s) in {secs:.1} s, {} screens; \
         calls not seen by every screen within 10 s: {incomplete} ({missing} deliveries missing)",
        store.backend().name(),
        a.calls,
        a.warmup,
        a.display_tasks,
        a.clients
    );
    println!("  {}", summary("call-next HTTP", &mut rtt));
    println!("  {}", summary("call → all screens", &mut slowest));
    println!("  {}", summary("call → one screen", &mut each));
    println!("  {}", summary("response → all screens", &mut after));
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
}

#[tokio::main]
async fn main() {
    let a = args();
    let opts = StoreOptions {
        max_connections: a.db_connections,
        ..StoreOptions::default()
    };
    let store = Store::open(&a.database, &opts)
        .await
        .expect("open database");
    demo::seed(&store, SystemClock.now()).await.expect("seed");
    let clerk = {
        let mut tx = store.begin().await.unwrap();
        let id = users::find_id_by_username(&mut tx, "clerk")
            .await
            .unwrap()
            .expect("demo clerk");
        tx.commit().await.unwrap();
        id
    };
    let day = local_date(SystemClock.now());
    for bench in a.bench.split(',') {
        match bench {
            "call" => bench_call(&store, &a, clerk).await,
            "issue" => bench_issue(&store, &a, clerk).await,
            "display" => bench_display(&store, &a, clerk).await,
            other => panic!("unknown bench {other} (call, issue, display)"),
        }
    }
    assert_eq!(
        day,
        local_date(SystemClock.now()),
        "the day changed during the run (Beijing midnight): run again"
    );
    let v = audit::verify(&store).await.unwrap();
    assert!(v.broken.is_none(), "audit chain intact after the run");
}
