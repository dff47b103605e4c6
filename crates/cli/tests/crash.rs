//! Crash durability: an acknowledged write is never lost, and no request is ever half
//! written, when the server process dies at any moment.
//!
//! The harness runs the real binary (`onewindow serve`) over one database, drives it with
//! 16 concurrent writers through the HTTP API, kills it with SIGKILL at random moments
//! (`Child::kill`), restarts it on the same database, and repeats. It keeps every
//! acknowledged write (a 2xx answer with the created id / case_no) and every request that
//! got no answer because the process died under it. At the end it checks, through the API
//! and then in the database:
//!
//! - every acknowledged intake, take and organisation is there, exactly as acknowledged
//!   (the lost ones are listed by id);
//! - a request that got no answer is there at most once (it may or may not have committed);
//! - nothing is there that was never asked for, and nothing twice;
//! - nothing is half written: every case has its `create` event, an audit entry for its
//!   case number and a last event that ends in its state; every audit entry about a case or
//!   an organisation names one that exists; every organisation made here has its
//!   `org.create` audit entry;
//! - `onewindow audit verify` passes (exit code 0).
//!
//! The writes: mostly case intake (`POST /api/v1/cases` as the demo clerk with an API key,
//! item MZ-0101 with every required material ticked, so it is accepted and routed), some
//! `take` actions on cases this run took in (as the demo approver), and some organisation
//! creations (as the demo admin). Some restarts are also killed during start-up, before
//! the server answers: recovery must survive being interrupted too.
//!
//! Backends: SQLite with `--sqlite-sync full` and with `--sqlite-sync normal` (WAL: a process
//! crash must lose nothing even without the fsync per commit), and PostgreSQL (a database
//! from the test kit's `fresh_pg_url()`, so it needs `scripts/test`, like every PostgreSQL
//! test).
//!
//! Run it:
//!
//! ```text
//! scripts/test --test crash                              # 10 kills per backend (the CI run)
//! ONEWINDOW_CRASH_KILLS=100 scripts/test --test crash    # the full run: 100 kills per backend
//! ONEWINDOW_CRASH_SEED=42 scripts/test --test crash      # replay a seed's kill timings and mix
//! cargo test -p onewindow --test crash sqlite            # SQLite only, no PostgreSQL needed
//! ```
//!
//! (`ONEWINDOW_SKIP_LINT=1` skips scripts/test's fmt and clippy.) A seed fixes the kill
//! moments and each writer's choice of requests, not the interleaving the scheduler picks,
//! so a replay is the same experiment, not the same trace. On a failure the directory with
//! the SQLite database and the servers' logs is kept and its path printed.

mod common;

use futures_util::stream::{self, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

/// Concurrent writers: enough that every kill lands with a batch of requests in flight.
const WRITERS: usize = 16;
/// The intake item: 区民政局's 最低生活保障, not 即办, so an intake ends `routed`.
const ITEM: &str = "MZ-0101";
/// 2026-11-23 10:00 Beijing time, a Monday: the clock every server starts from (plus the
/// time the harness has run), so "today" is inside the shipped calendar whenever it runs.
const CLOCK_START_MICROS: i64 = 1_795_399_200_000_000;
/// Markers in the names this harness writes, so its rows are told apart from the demo's.
const CASE_MARK: &str = "崩溃测试";
const ORG_MARK: &str = "崩溃科室";
/// Load between a restart being healthy and its kill (milliseconds, uniform).
const LOAD_WINDOW_MS: (u64, u64) = (20, 600);
/// Share of restarts that are first killed during start-up, and how long into it (ms).
const STARTUP_KILL_PERCENT: u32 = 20;
const STARTUP_KILL_MS: u64 = 300;
/// A request the live server has not answered in this long is a hang: a failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// A restart has this long to answer /healthz.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sync_full_keeps_every_acknowledged_write() {
    run(Backend::Sqlite("full")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sync_normal_keeps_every_acknowledged_write() {
    run(Backend::Sqlite("normal")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_every_acknowledged_write() {
    run(Backend::Postgres).await;
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    /// With the `--sqlite-sync` value.
    Sqlite(&'static str),
    Postgres,
}

impl Backend {
    fn label(self) -> String {
        match self {
            Backend::Sqlite(sync) => format!("sqlite sync={sync}"),
            Backend::Postgres => "postgres".into(),
        }
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

// ---------------------------------------------------------------------------------------
// The installation: one database, the binary run against it.
// ---------------------------------------------------------------------------------------

struct Installation {
    /// `--database URL [--sqlite-sync X]`: given to every command.
    global: Vec<String>,
    db_url: String,
    /// Holds the SQLite file and the servers' log.
    dir: tempfile::TempDir,
    log: PathBuf,
    started: Instant,
}

struct Server {
    child: tokio::process::Child,
    base: String,
}

impl Installation {
    async fn new(backend: Backend) -> Installation {
        let dir = tempfile::tempdir().unwrap();
        let db_url = match backend {
            Backend::Sqlite(_) => format!("sqlite://{}", dir.path().join("onewindow.db").display()),
            Backend::Postgres => common::fresh_pg_url().await,
        };
        let mut global = vec!["--database".to_string(), db_url.clone()];
        if let Backend::Sqlite(sync) = backend {
            global.extend(["--sqlite-sync".to_string(), sync.to_string()]);
        }
        let log = dir.path().join("serve.log");
        Installation {
            global,
            db_url,
            dir,
            log,
            started: Instant::now(),
        }
    }

    /// Runs an admin command to completion.
    async fn cli(&self, args: &[&str]) -> std::process::Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_onewindow"))
            .args(&self.global)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run onewindow")
    }

    /// `serve` with its clock at the fixed start plus the harness's elapsed time, so time
    /// moves forward across restarts as it would for a real installation.
    fn spawn(&self, what: &str, extra: &[&str], stdout: Stdio) -> tokio::process::Child {
        let now = CLOCK_START_MICROS + self.started.elapsed().as_micros() as i64;
        let clock = chrono::DateTime::from_timestamp_micros(now)
            .unwrap()
            .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
            .to_rfc3339();
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        // One log for every start; a header says which start the lines below belong to.
        use std::io::Write;
        writeln!(
            log,
            "===== {what}: serve {extra:?} --clock-start {clock} ====="
        )
        .unwrap();
        tokio::process::Command::new(env!("CARGO_BIN_EXE_onewindow"))
            .args(&self.global)
            .args(["serve", "--listen", "127.0.0.1:0", "--clock-start", &clock])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(log)
            .env("NO_COLOR", "1")
            .kill_on_drop(true)
            .spawn()
            .expect("spawn onewindow serve")
    }

    /// Starts `serve` and waits until it says where it listens and /healthz answers 200.
    async fn start(
        &self,
        what: &str,
        extra: &[&str],
        client: &reqwest::Client,
    ) -> Result<Server, String> {
        let mut child = self.spawn(what, extra, Stdio::piped());
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let base = tokio::time::timeout(STARTUP_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.strip_prefix("onewindow listening on ") {
                    return rest.split_whitespace().next().map(str::to_string);
                }
            }
            None
        })
        .await;
        let base = match base {
            Ok(Some(b)) => b,
            Ok(None) => {
                let status = child.wait().await;
                return Err(format!("serve exited before listening: {status:?}"));
            }
            Err(_) => return Err("serve did not print its address within the timeout".into()),
        };
        // Nothing else is read from stdout, but it must not fill up and block the server.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("serve exited during start-up: {status}"));
            }
            if let Ok(res) = client.get(format!("{base}/healthz")).send().await {
                if res.status().is_success() {
                    return Ok(Server { child, base });
                }
            }
            if Instant::now() > deadline {
                return Err("/healthz did not answer 200 within the timeout".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Server {
    /// SIGKILL: no shutdown handler runs, nothing is flushed.
    async fn kill(mut self) {
        self.child.kill().await.expect("kill serve");
    }
}

// ---------------------------------------------------------------------------------------
// What the writers did: the ledger.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct IntakeAck {
    id: i64,
    case_no: String,
    round: usize,
}

#[derive(Default)]
struct Ledger {
    /// By token (the applicant name).
    intakes_acked: HashMap<String, IntakeAck>,
    intakes_unanswered: HashSet<String>,
    /// By case id: (round acknowledged).
    takes_acked: HashMap<i64, usize>,
    takes_unanswered: HashSet<i64>,
    /// By name: (org id, round).
    orgs_acked: HashMap<String, (i64, usize)>,
    orgs_unanswered: HashSet<String>,
    /// Requests that reached the server and got no answer, per round.
    in_flight_per_round: BTreeMap<usize, usize>,
    /// Requests sent after the kill that could not connect (never reached a server).
    refused: usize,
    /// Answers a live server should never give, and hangs: failures.
    unexpected: Vec<String>,
}

/// What the writers see: the server to send to, if one is up, and its round.
#[derive(Clone, Debug)]
struct Phase {
    round: usize,
    base: Option<String>,
    stop: bool,
}

struct Shared {
    client: reqwest::Client,
    clerk: String,
    approver: String,
    admin: String,
    admin_org: i64,
    intake: Value,
    ledger: Mutex<Ledger>,
}

enum Op {
    Intake(String),
    /// Case id and the version the intake answered with.
    Take(i64, i64),
    Org(String),
}

/// The outcome of one request as the client saw it.
enum Answer {
    Body(reqwest::StatusCode, Value),
    /// Could not connect: the request never reached a server.
    Refused,
    /// Sent, no (complete) answer: the server died under it.
    Lost,
    TimedOut,
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    match req.send().await {
        Err(e) if e.is_timeout() => Answer::TimedOut,
        Err(e) if e.is_connect() => Answer::Refused,
        Err(_) => Answer::Lost,
        Ok(res) => {
            let status = res.status();
            match res.text().await {
                Ok(text) => {
                    Answer::Body(status, serde_json::from_str(&text).unwrap_or(Value::Null))
                }
                Err(e) if e.is_timeout() => Answer::TimedOut,
                Err(_) => Answer::Lost,
            }
        }
    }
}

async fn writer(w: usize, seed: u64, sh: Arc<Shared>, mut phase: watch::Receiver<Phase>) {
    let mut rng = StdRng::seed_from_u64(seed ^ (w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // This writer's acknowledged intakes not yet taken: (id, version).
    let mut routed: Vec<(i64, i64)> = Vec::new();
    let mut n = 0u64;
    loop {
        let p = phase
            .wait_for(|p| p.stop || p.base.is_some())
            .await
            .expect("controller alive")
            .clone();
        if p.stop {
            return;
        }
        let (round, base) = (p.round, p.base.unwrap());
        n += 1;
        let roll = rng.gen_range(0..100);
        let op = if roll < 15 && !routed.is_empty() {
            let (id, version) = routed.swap_remove(rng.gen_range(0..routed.len()));
            Op::Take(id, version)
        } else if roll >= 85 {
            Op::Org(format!("{ORG_MARK}{w:02}-{n:06}"))
        } else {
            Op::Intake(format!("{CASE_MARK}{w:02}-{n:06}"))
        };
        let c = &sh.client;
        let req = match &op {
            Op::Intake(token) => {
                let mut body = sh.intake.clone();
                body["applicant_name"] = json!(token);
                c.post(format!("{base}/api/v1/cases"))
                    .bearer_auth(&sh.clerk)
                    .json(&body)
            }
            Op::Take(id, version) => c
                .post(format!("{base}/api/v1/cases/{id}/actions"))
                .bearer_auth(&sh.approver)
                .json(&json!({ "action": "take", "version": version })),
            Op::Org(name) => c
                .post(format!("{base}/api/v1/orgs"))
                .bearer_auth(&sh.admin)
                .json(&json!({ "parent_id": sh.admin_org, "kind": "department", "name": name })),
        };
        let answer = send(req).await;
        let answered = matches!(answer, Answer::Body(..));
        {
            let mut l = sh.ledger.lock().unwrap();
            match answer {
                Answer::Body(status, body) => {
                    let ok = match &op {
                        Op::Intake(_) => status == 201 && body["state"] == "routed",
                        Op::Take(..) => status == 200 && body["state"] == "in_review",
                        Op::Org(_) => status == 201,
                    };
                    let id = body["id"].as_i64();
                    match (&op, ok, id) {
                        (Op::Intake(token), true, Some(id)) => {
                            let case_no = body["case_no"].as_str().unwrap_or("").to_string();
                            let version = body["version"].as_i64().unwrap_or(0);
                            l.intakes_acked
                                .insert(token.clone(), IntakeAck { id, case_no, round });
                            routed.push((id, version));
                        }
                        (Op::Take(id, _), true, _) => {
                            l.takes_acked.insert(*id, round);
                        }
                        (Op::Org(name), true, Some(id)) => {
                            l.orgs_acked.insert(name.clone(), (id, round));
                        }
                        _ => l.unexpected.push(format!(
                            "round {round}: {} answered {status} {body}",
                            describe(&op)
                        )),
                    }
                }
                Answer::Refused => {
                    l.refused += 1;
                    unanswered(&mut l, &op);
                }
                Answer::Lost => {
                    *l.in_flight_per_round.entry(round).or_default() += 1;
                    unanswered(&mut l, &op);
                }
                Answer::TimedOut => {
                    l.unexpected.push(format!(
                        "round {round}: {} got no answer in {REQUEST_TIMEOUT:?} from a live server (hang)",
                        describe(&op)
                    ));
                    unanswered(&mut l, &op);
                }
            }
        }
        if !answered {
            // The server is gone: wait for the next one rather than spinning on refusals.
            phase
                .wait_for(|p| p.stop || (p.base.is_some() && p.round > round))
                .await
                .expect("controller alive");
        }
    }
}

fn unanswered(l: &mut Ledger, op: &Op) {
    match op {
        Op::Intake(token) => {
            l.intakes_unanswered.insert(token.clone());
        }
        Op::Take(id, _) => {
            l.takes_unanswered.insert(*id);
        }
        Op::Org(name) => {
            l.orgs_unanswered.insert(name.clone());
        }
    }
}

fn describe(op: &Op) -> String {
    match op {
        Op::Intake(token) => format!("intake {token}"),
        Op::Take(id, _) => format!("take of case {id}"),
        Op::Org(name) => format!("org creation {name}"),
    }
}

// ---------------------------------------------------------------------------------------
// The run.
// ---------------------------------------------------------------------------------------

async fn run(backend: Backend) {
    let kills: usize = env_or("ONEWINDOW_CRASH_KILLS", 10);
    assert!(kills >= 1, "ONEWINDOW_CRASH_KILLS must be at least 1");
    let seed: u64 = env_or(
        "ONEWINDOW_CRASH_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            ^ u64::from(std::process::id()),
    );
    let label = backend.label();
    println!("crash [{label}]: seed {seed}, {kills} kills (replay: ONEWINDOW_CRASH_SEED={seed})");
    let inst = Installation::new(backend).await;
    let t0 = Instant::now();
    let outcome = drive(&inst, kills, seed, &label).await;
    match outcome {
        Ok(summary) => {
            println!(
                "crash [{label}]: passed in {:.1} s — {summary}",
                t0.elapsed().as_secs_f64()
            );
        }
        Err(problems) => {
            let dir = inst.dir.keep();
            panic!(
                "crash [{label}] FAILED (seed {seed}, replay with ONEWINDOW_CRASH_SEED={seed}):\n{problems}\n\
                 database and logs kept in {} (database {})\n--- last lines of serve.log ---\n{}",
                dir.display(),
                inst.db_url,
                std::fs::read_to_string(dir.join("serve.log"))
                    .map(|t| {
                        let l: Vec<&str> = t.lines().collect();
                        l[l.len().saturating_sub(40)..].join("\n")
                    })
                    .unwrap_or_default()
            );
        }
    }
}

/// The whole experiment; Err lists everything that went wrong.
async fn drive(
    inst: &Installation,
    kills: usize,
    seed: u64,
    label: &str,
) -> Result<String, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let probe = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();

    // Seed the demo city through `serve --demo` (on its clock, inside the calendar), read the
    // item's required materials, then kill it: its work is done before it listens.
    let first = inst
        .start("seeding start", &["--demo"], &probe)
        .await
        .map_err(|e| format!("first start: {e}\n{}", inst.log_tail()))?;
    let item: Value = probe
        .get(format!("{}/api/v1/catalog/items/{ITEM}", first.base))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("reading item {ITEM}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("reading item {ITEM}: {e}"))?;
    first.kill().await;
    let materials: serde_json::Map<String, Value> = item["item"]["materials"]
        .as_array()
        .ok_or_else(|| format!("item {ITEM} has no materials: {item}"))?
        .iter()
        .filter(|m| m["required"] == true)
        .map(|m| (m["name"].as_str().unwrap().to_string(), json!("submitted")))
        .collect();
    let intake = json!({
        "item_code": ITEM,
        "applicant_kind": "person",
        "applicant_name": "",
        "applicant_id": "11010519491231002X",
        "applicant_phone": "13800138000",
        "materials": materials,
    });

    let mut keys = HashMap::new();
    for user in ["clerk", "approver", "admin"] {
        let o = inst
            .cli(&["apikey", "create", "--user", user, "--name", "crash test"])
            .await;
        let secret = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if !o.status.success() || !secret.starts_with("ow_") {
            return Err(format!(
                "apikey create --user {user}: {}\n{}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        keys.insert(user, secret);
    }

    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(WRITERS)
        .build()
        .unwrap();
    let (phase_tx, phase_rx) = watch::channel(Phase {
        round: 0,
        base: None,
        stop: false,
    });
    let mut shared: Option<Arc<Shared>> = None;
    let mut writers = Vec::new();
    let mut startup_kills = 0;
    let mut load_ms = 0u64;
    for round in 0..kills {
        if rng.gen_range(0..100) < STARTUP_KILL_PERCENT {
            // Killed while it opens the database, migrates, recovers: the next start must
            // still find everything.
            let mut child = inst.spawn(
                &format!("round {round}, killed in start-up"),
                &[],
                Stdio::null(),
            );
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..=STARTUP_KILL_MS))).await;
            child.kill().await.expect("kill serve");
            startup_kills += 1;
        }
        let server = inst
            .start(&format!("round {round}"), &[], &probe)
            .await
            .map_err(|e| format!("restart {round}: {e}\n{}", inst.log_tail()))?;
        if shared.is_none() {
            let me: Value = probe
                .get(format!("{}/api/v1/me", server.base))
                .bearer_auth(&keys["admin"])
                .send()
                .await
                .map_err(|e| format!("GET /api/v1/me: {e}"))?
                .json()
                .await
                .map_err(|e| format!("GET /api/v1/me: {e}"))?;
            let sh = Arc::new(Shared {
                client: client.clone(),
                clerk: keys["clerk"].clone(),
                approver: keys["approver"].clone(),
                admin: keys["admin"].clone(),
                admin_org: me["org_id"]
                    .as_i64()
                    .ok_or_else(|| format!("GET /api/v1/me as admin: {me}"))?,
                intake: intake.clone(),
                ledger: Mutex::new(Ledger::default()),
            });
            for w in 0..WRITERS {
                writers.push(tokio::spawn(writer(w, seed, sh.clone(), phase_rx.clone())));
            }
            shared = Some(sh);
        }
        phase_tx.send_replace(Phase {
            round,
            base: Some(server.base.clone()),
            stop: false,
        });
        let window = rng.gen_range(LOAD_WINDOW_MS.0..=LOAD_WINDOW_MS.1);
        load_ms += window;
        tokio::time::sleep(Duration::from_millis(window)).await;
        server.kill().await;
        phase_tx.send_replace(Phase {
            round,
            base: None,
            stop: false,
        });
    }
    phase_tx.send_replace(Phase {
        round: kills,
        base: None,
        stop: true,
    });
    for w in writers {
        w.await.expect("writer task");
    }
    let sh = shared.expect("at least one round");
    let ledger = std::mem::take(&mut *sh.ledger.lock().unwrap());

    let mut problems: Vec<String> = ledger.unexpected.clone();
    let in_flight: usize = ledger.in_flight_per_round.values().sum();
    let caught = ledger.in_flight_per_round.len();
    // A run in which the kills never caught a request in flight tested nothing.
    if ledger.intakes_acked.is_empty() {
        problems.push("no intake was acknowledged: the load never ran".into());
    }
    if caught * 2 < kills {
        problems.push(format!(
            "only {caught} of {kills} kills caught a request in flight: the kills missed the load"
        ));
    }

    // Read every acknowledged write back through the API of a fresh restart.
    let server = inst
        .start("final start (read-back)", &[], &probe)
        .await
        .map_err(|e| format!("final restart: {e}\n{}", inst.log_tail()))?;
    problems.extend(read_back(&server.base, &client, &keys, &ledger).await);
    server.kill().await;

    // The audit chain, checked by the product's own command.
    let o = inst.cli(&["audit", "verify"]).await;
    let verify_out = String::from_utf8_lossy(&o.stdout).trim().to_string();
    if !o.status.success() {
        problems.push(format!(
            "onewindow audit verify failed ({}): {verify_out}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ));
    }

    // Then the database itself: lost, duplicated, phantom or half-written rows.
    let db = check_database(&inst.db_url, &ledger).await;
    problems.extend(db.problems);

    let summary = format!(
        "{kills} kills ({startup_kills} more during start-up), {:.1} s of load; acknowledged: {} intakes, {} takes, {} orgs; \
         no answer: {in_flight} in flight at a kill (caught by {caught} of {kills} kills; committed anyway: {} intakes, {} orgs, {} takes), \
         {} refused after a kill; {} cases in the database; audit verify: {verify_out}",
        load_ms as f64 / 1000.0,
        ledger.intakes_acked.len(),
        ledger.takes_acked.len(),
        ledger.orgs_acked.len(),
        db.unanswered_intakes_present,
        db.unanswered_orgs_present,
        db.unanswered_takes_applied,
        ledger.refused,
        db.cases,
    );
    if problems.is_empty() {
        Ok(summary)
    } else {
        let shown = 200;
        let mut text = format!("[{label}] {summary}\n{} problems:\n", problems.len());
        for p in problems.iter().take(shown) {
            text.push_str("  - ");
            text.push_str(p);
            text.push('\n');
        }
        if problems.len() > shown {
            text.push_str(&format!("  … and {} more\n", problems.len() - shown));
        }
        Err(text)
    }
}

/// GET every acknowledged case and organisation from the restarted server.
async fn read_back(
    base: &str,
    client: &reqwest::Client,
    keys: &HashMap<&str, String>,
    ledger: &Ledger,
) -> Vec<String> {
    enum Check<'a> {
        Case(&'a str, &'a IntakeAck),
        Org(&'a str, i64, usize),
    }
    let checks: Vec<Check> = ledger
        .intakes_acked
        .iter()
        .map(|(t, a)| Check::Case(t, a))
        .chain(
            ledger
                .orgs_acked
                .iter()
                .map(|(n, (id, round))| Check::Org(n, *id, *round)),
        )
        .collect();
    stream::iter(checks)
        .map(|check| async move {
            match check {
                Check::Case(token, ack) => {
                    let r = client
                        .get(format!("{base}/api/v1/cases/{}", ack.id))
                        .bearer_auth(&keys["clerk"])
                        .send()
                        .await;
                    let (status, body) = match r {
                        Ok(r) => (r.status(), r.json::<Value>().await.unwrap_or(Value::Null)),
                        Err(e) => return Some(format!("GET case {}: {e}", ack.id)),
                    };
                    let has_create = body["events"]
                        .as_array()
                        .is_some_and(|ev| ev.iter().any(|e| e["action"] == "create"));
                    let expect_state = if ledger.takes_acked.contains_key(&ack.id) {
                        "in_review"
                    } else if ledger.takes_unanswered.contains(&ack.id) {
                        // Either outcome is allowed; the database check names which.
                        body["state"].as_str().unwrap_or("?")
                    } else {
                        "routed"
                    };
                    if status != 200 {
                        Some(format!(
                            "LOST: case {} ({}, {token}) acknowledged in round {}: GET answered {status}",
                            ack.id, ack.case_no, ack.round
                        ))
                    } else if body["case_no"] != ack.case_no.as_str()
                        || body["applicant_name"] != token
                        || !has_create
                        || body["state"] != expect_state
                    {
                        Some(format!(
                            "case {} ({}, {token}) acknowledged in round {} reads back wrong (expected state {expect_state}, a create event): {}",
                            ack.id, ack.case_no, ack.round, compact(&body)
                        ))
                    } else {
                        None
                    }
                }
                Check::Org(name, id, round) => {
                    let r = client
                        .get(format!("{base}/api/v1/orgs/{id}"))
                        .bearer_auth(&keys["admin"])
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 200 => {
                            let body = r.json::<Value>().await.unwrap_or(Value::Null);
                            (body["name"] != name).then(|| {
                                format!("org {id} ({name}) acknowledged in round {round} reads back as {body}")
                            })
                        }
                        Ok(r) => Some(format!(
                            "LOST: org {id} ({name}) acknowledged in round {round}: GET answered {}",
                            r.status()
                        )),
                        Err(e) => Some(format!("GET org {id}: {e}")),
                    }
                }
            }
        })
        .buffer_unordered(WRITERS)
        .filter_map(|p| async move { p })
        .collect()
        .await
}

/// A case's fields that matter here, not its whole material list.
fn compact(case: &Value) -> String {
    let events: Vec<&Value> = case["events"]
        .as_array()
        .map(|e| e.iter().map(|e| &e["action"]).collect())
        .unwrap_or_default();
    json!({
        "id": case["id"], "case_no": case["case_no"], "state": case["state"],
        "applicant_name": case["applicant_name"], "events": events, "code": case["code"],
    })
    .to_string()
}

#[derive(Default)]
struct DbReport {
    problems: Vec<String>,
    cases: usize,
    unanswered_intakes_present: usize,
    unanswered_orgs_present: usize,
    unanswered_takes_applied: usize,
}

/// Reads the tables after every server is dead and `audit verify` has run.
async fn check_database(url: &str, ledger: &Ledger) -> DbReport {
    let mut out = DbReport::default();
    sqlx::any::install_default_drivers();
    let pool = match sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            out.problems.push(format!("opening the database: {e}"));
            return out;
        }
    };
    let fetch = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query(sql).fetch_all(&pool).await }
    };
    let (cases, events, audits, orgs) = match (
        fetch("SELECT id, case_no, state, applicant_name FROM cases").await,
        fetch("SELECT case_id, action, to_state FROM case_events ORDER BY case_id, id").await,
        fetch("SELECT entity, entity_id, action FROM audit_events WHERE entity IN ('case', 'org')")
            .await,
        fetch("SELECT id, name FROM orgs").await,
    ) {
        (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c, d),
        (a, b, c, d) => {
            for e in [a.err(), b.err(), c.err(), d.err()].into_iter().flatten() {
                out.problems.push(format!("reading the database: {e}"));
            }
            return out;
        }
    };
    pool.close().await;
    out.cases = cases.len();

    // case id → its events' (action, to_state), in order.
    let mut case_events: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for r in &events {
        case_events
            .entry(r.get("case_id"))
            .or_default()
            .push((r.get("action"), r.get("to_state")));
    }
    // (entity, entity_id) → audit actions.
    let mut audit: HashMap<(String, String), Vec<String>> = HashMap::new();
    for r in &audits {
        audit
            .entry((r.get("entity"), r.get("entity_id")))
            .or_default()
            .push(r.get("action"));
    }
    let p = &mut out.problems;

    // Every case, demo or harness: whole, never half written.
    let mut case_nos = HashSet::new();
    let mut by_token: HashMap<String, Vec<(i64, String, String)>> = HashMap::new();
    for r in &cases {
        let (id, case_no, state, name): (i64, String, String, String) = (
            r.get("id"),
            r.get("case_no"),
            r.get("state"),
            r.get("applicant_name"),
        );
        let ev = case_events.get(&id).map(Vec::as_slice).unwrap_or(&[]);
        if !ev.iter().any(|(a, _)| a == "create") {
            p.push(format!(
                "HALF-WRITTEN: case {id} ({case_no}, {name}) has no create event: {ev:?}"
            ));
        }
        if let Some((_, last)) = ev.last() {
            if *last != state {
                p.push(format!(
                    "HALF-WRITTEN: case {id} ({case_no}, {name}) is {state} but its last event ends in {last}: {ev:?}"
                ));
            }
        }
        if !audit.contains_key(&("case".to_string(), case_no.clone())) {
            p.push(format!(
                "HALF-WRITTEN: case {id} ({case_no}, {name}) has no audit entry"
            ));
        }
        case_nos.insert(case_no.clone());
        if name.starts_with(CASE_MARK) {
            by_token.entry(name).or_default().push((id, case_no, state));
        }
    }
    let mut org_ids = HashSet::new();
    let mut orgs_by_name: HashMap<String, Vec<i64>> = HashMap::new();
    for r in &orgs {
        let (id, name): (i64, String) = (r.get("id"), r.get("name"));
        org_ids.insert(id.to_string());
        if name.starts_with(ORG_MARK) {
            if !audit
                .get(&("org".to_string(), id.to_string()))
                .is_some_and(|a| a.iter().any(|a| a == "org.create"))
            {
                p.push(format!(
                    "HALF-WRITTEN: org {id} ({name}) has no org.create audit entry"
                ));
            }
            orgs_by_name.entry(name).or_default().push(id);
        }
    }
    // And the other way: no audit entry about a case or organisation that is not there.
    for ((entity, entity_id), actions) in &audit {
        let exists = match entity.as_str() {
            "case" => case_nos.contains(entity_id),
            _ => org_ids.contains(entity_id),
        };
        if !exists {
            p.push(format!(
                "HALF-WRITTEN: audit entries {actions:?} for {entity} {entity_id}, which does not exist"
            ));
        }
    }

    // The harness's intakes: acknowledged exactly once, unanswered at most once, no others.
    let mut lost = Vec::new();
    for (token, ack) in &ledger.intakes_acked {
        match by_token.get(token).map(Vec::as_slice) {
            None | Some([]) => lost.push(format!("case {} ({}, {token}, round {})", ack.id, ack.case_no, ack.round)),
            Some([(id, case_no, _)]) if *id == ack.id && *case_no == ack.case_no => {}
            Some(rows) => p.push(format!(
                "intake {token} acknowledged as case {} ({}) in round {} is in the database as {rows:?}",
                ack.id, ack.case_no, ack.round
            )),
        }
    }
    if !lost.is_empty() {
        lost.sort();
        p.push(format!(
            "LOST: {} acknowledged intakes are not in the database: {}",
            lost.len(),
            lost.join("; ")
        ));
    }
    for (token, rows) in &by_token {
        if rows.len() > 1 {
            p.push(format!(
                "DUPLICATE: intake {token} is in the database {} times: {rows:?}",
                rows.len()
            ));
        }
        if ledger.intakes_unanswered.contains(token) {
            out.unanswered_intakes_present += 1;
        } else if !ledger.intakes_acked.contains_key(token) {
            p.push(format!(
                "PHANTOM: case(s) {rows:?} for {token}, which no writer sent"
            ));
        }
        for (id, case_no, state) in rows {
            let expected: &[&str] = if ledger.takes_acked.contains_key(id) {
                &["in_review"]
            } else if ledger.takes_unanswered.contains(id) {
                &["routed", "in_review"]
            } else {
                &["routed"]
            };
            if !expected.contains(&state.as_str()) {
                p.push(format!(
                    "case {id} ({case_no}, {token}) is {state}, expected one of {expected:?}{}",
                    match ledger.takes_acked.get(id) {
                        Some(round) =>
                            format!(" (LOST: its take was acknowledged in round {round})"),
                        None => String::new(),
                    }
                ));
            }
            let ev = case_events.get(id).map(Vec::as_slice).unwrap_or(&[]);
            let took = ev.iter().any(|(a, _)| a == "take");
            let audited = audit
                .get(&("case".to_string(), case_no.clone()))
                .is_some_and(|a| a.iter().any(|a| a == "case.take"));
            if took != audited || took != (state == "in_review") {
                p.push(format!(
                    "HALF-WRITTEN take: case {id} ({case_no}) is {state}, take event {took}, case.take audit entry {audited}"
                ));
            }
            if took && ledger.takes_unanswered.contains(id) {
                out.unanswered_takes_applied += 1;
            }
        }
    }

    // The harness's organisations, likewise.
    let mut lost = Vec::new();
    for (name, (id, round)) in &ledger.orgs_acked {
        match orgs_by_name.get(name).map(Vec::as_slice) {
            None | Some([]) => lost.push(format!("org {id} ({name}, round {round})")),
            Some([got]) if got == id => {}
            Some(ids) => p.push(format!(
                "org {name} acknowledged as {id} in round {round} is in the database as {ids:?}"
            )),
        }
    }
    if !lost.is_empty() {
        lost.sort();
        p.push(format!(
            "LOST: {} acknowledged organisations are not in the database: {}",
            lost.len(),
            lost.join("; ")
        ));
    }
    for (name, ids) in &orgs_by_name {
        if ids.len() > 1 {
            p.push(format!(
                "DUPLICATE: org {name} is in the database {} times: {ids:?}",
                ids.len()
            ));
        }
        if ledger.orgs_unanswered.contains(name) {
            out.unanswered_orgs_present += 1;
        } else if !ledger.orgs_acked.contains_key(name) {
            p.push(format!(
                "PHANTOM: org(s) {ids:?} named {name}, which no writer sent"
            ));
        }
    }
    out
}
