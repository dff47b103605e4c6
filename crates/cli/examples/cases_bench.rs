//! Case lifecycle benchmark through the domain and storage layers (no HTTP): for each of
//! `--cases` cases, intake (which itself accepts and routes), Take, Approve, ResultReady
//! and Issue at the window — one transaction per operation, as the web layer does —
//! driven by `--concurrency` tasks. Prints cases per second and p50/p99 per operation.
//!
//! It opens (and migrates) the given database, seeds the demo and loads the calendar once;
//! the app's "today" is fixed at 2026-11-23 so the shipped calendar covers it. Use a fresh
//! database: a SQLite file is deleted first; a PostgreSQL database must be empty.
//!
//!     cargo build --release --example cases_bench
//!     ./target/release/examples/cases_bench --database sqlite:///tmp/ow-cases.db --cases 100000
//!     ./target/release/examples/cases_bench --database postgres://postgres@127.0.0.1:56100/owcases
//!
//! Flags: `--cases N` (100000), `--concurrency N` (8), `--sqlite-sync normal|full`,
//! `--item CODE` (MZ-0101), `--max-secs S` (stop starting new cases after S seconds and
//! report the rate over the cases done), `--web-reads` (also do, per operation, the reads
//! the web layer does outside the transaction: item lookup or case read, and a full
//! calendar load — as the web layer did before it cached the calendar), `--calendar-per-op`
//! (only the full calendar load per operation), `--verify true|false` (re-check the audit
//! chain afterwards, default true).

use chrono::{NaiveDate, TimeZone, Utc};
use onewindow_domain::access::Role;
use onewindow_domain::calendar::WorkCalendar;
use onewindow_domain::cases::{CaseAction, CaseState, IssueMethod, Performer};
use onewindow_domain::catalog::{self, IntakeDecision, MaterialCheck};
use onewindow_domain::ids::IdCardNumber;
use onewindow_store::audit::{Change, Who};
use onewindow_store::cases::{self, CaseRecord, MaterialLine, NewCase, Queue};
use onewindow_store::catalog::StoredItem;
use onewindow_store::{audit, calendar, catalog as store_catalog, demo, orgs, users};
use onewindow_store::{SqliteSync, Store, StoreOptions};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const OPS: [&str; 5] = ["intake", "take", "approve", "result_ready", "issue"];

/// Which of the web layer's per-request reads (outside the transaction) to repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WebReads {
    /// None: the calendar and the item are loaded once, at the start.
    None,
    /// The calendar load only.
    Calendar,
    /// The calendar load, and the item lookup (intake) or the case read (other operations).
    All,
}

struct Args {
    database: String,
    cases: usize,
    concurrency: usize,
    sync: SqliteSync,
    item: String,
    max_secs: Option<f64>,
    web_reads: WebReads,
    verify: bool,
}

fn args() -> Args {
    let mut a = Args {
        database: "sqlite:///tmp/onewindow-cases-bench.db".into(),
        cases: 100_000,
        concurrency: 8,
        sync: SqliteSync::Normal,
        item: "MZ-0101".into(),
        max_secs: None,
        web_reads: WebReads::None,
        verify: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--web-reads" || flag == "--calendar-per-op" {
            a.web_reads = if flag == "--web-reads" {
                WebReads::All
            } else {
                WebReads::Calendar
            };
            continue;
        }
        let val = it.next().unwrap_or_default();
        match flag.as_str() {
            "--database" => a.database = val,
            "--cases" => a.cases = val.parse().expect("--cases N"),
            "--concurrency" => a.concurrency = val.parse().expect("--concurrency N"),
            "--sqlite-sync" => a.sync = val.parse().expect("--sqlite-sync normal|full"),
            "--item" => a.item = val,
            "--max-secs" => a.max_secs = Some(val.parse().expect("--max-secs S")),
            "--verify" => a.verify = val.parse().expect("--verify true|false"),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// The app clock of the run: 2026-11-23 10:00 Beijing time plus the time elapsed, so
/// timestamps advance while "today" stays inside the shipped calendar.
#[derive(Clone, Copy)]
struct BenchClock {
    base: i64,
    started: Instant,
}

impl BenchClock {
    fn new() -> Self {
        BenchClock {
            base: Utc
                .with_ymd_and_hms(2026, 11, 23, 2, 0, 0)
                .unwrap()
                .timestamp_micros(),
            started: Instant::now(),
        }
    }

    fn now(&self) -> i64 {
        self.base + self.started.elapsed().as_micros() as i64
    }
}

/// What every task shares.
struct Ctx {
    store: Store,
    cal: WorkCalendar,
    today: NaiveDate,
    clock: BenchClock,
    item: StoredItem,
    clerk: Who,
    approver: Who,
    intake_org_id: i64,
    web_reads: WebReads,
}

impl Ctx {
    fn change(&self, who: &Who) -> Change {
        Change {
            backend: self.store.backend(),
            at: self.clock.now(),
            who: who.clone(),
        }
    }

    /// What intake builds from the clerk's input before its transaction: identifiers
    /// parsed and masked, the decision by the catalog's rule, the material lines.
    fn new_case(&self, i: usize, item: &StoredItem) -> (NewCase, CaseAction) {
        let ticked = |name: &str| {
            if item
                .item
                .materials
                .iter()
                .any(|m| m.name == name && m.required)
            {
                MaterialCheck::Submitted
            } else {
                MaterialCheck::Missing
            }
        };
        let decision = catalog::decide_intake(
            &item.item.materials,
            ticked,
            item.item.commitment_allowed,
            false,
        );
        let action = match decision {
            IntakeDecision::Accept { kind, .. } => CaseAction::Accept {
                kind,
                supplement_due: None,
            },
            IntakeDecision::Refuse { missing } => {
                panic!("every required material ticked, yet refused: {missing:?}")
            }
        };
        let id = IdCardNumber::parse("11010519491231002X", self.today).expect("valid ID");
        let new = NewCase {
            item_code: item.item.code.clone(),
            item_version_id: item.version_id,
            bundle_code: None,
            title: item.item.name.clone(),
            department_id: item.department_id,
            intake_org_id: self.intake_org_id,
            immediate: item.item.is_immediate(),
            window_approvable: item.item.approve_at_window,
            at_window: None,
            limit_days: item.item.promised_limit_days,
            applicant_kind: "person".into(),
            applicant_name: format!("压测申请人{i}"),
            applicant_id: id.as_str().to_string(),
            applicant_id_masked: id.masked(),
            applicant_phone: "13800138000".into(),
            agent_name: None,
            agent_id: None,
            agent_id_masked: None,
            materials: item
                .item
                .materials
                .iter()
                .map(|m| MaterialLine::ticked(m, ticked(&m.name)))
                .collect(),
            creator_id: self.clerk.user_id.expect("clerk is a user"),
            intake_place_kind: onewindow_domain::places::PlaceKind::Hall,
            channel: onewindow_domain::places::Channel::Window,
            handout: onewindow_domain::places::Handout {
                method: onewindow_domain::cases::IssueMethod::Window,
                org_id: self.intake_org_id,
                address: None,
            },
            backfill: None,
        };
        (new, action)
    }
}

type Lat = [Vec<u32>; 5];

/// One case from intake to issuance; pushes each operation's latency (µs).
async fn lifecycle(ctx: &Ctx, i: usize, lat: &mut Lat) {
    let t = Instant::now();
    let fetched;
    let item = if ctx.web_reads == WebReads::All {
        fetched = store_catalog::get_effective(ctx.store.reader(), &ctx.item.item.code, ctx.today)
            .await
            .expect("item");
        &fetched
    } else {
        &ctx.item
    };
    let cal_owned = if ctx.web_reads == WebReads::None {
        None
    } else {
        Some(calendar::load(ctx.store.reader()).await.expect("calendar"))
    };
    let cal = cal_owned.as_ref().unwrap_or(&ctx.cal);
    let (new, accept) = ctx.new_case(i, item);
    let mut tx = ctx.store.begin().await.expect("begin");
    let mut case = cases::intake(
        &mut tx,
        &ctx.change(&ctx.clerk),
        cal,
        ctx.today,
        &new,
        &accept,
        rand::random(),
    )
    .await
    .expect("intake");
    tx.commit().await.expect("commit");
    lat[0].push(t.elapsed().as_micros() as u32);
    assert_eq!(case.state, CaseState::Routed);

    let steps: [(Performer, &Who, CaseAction, CaseState); 4] = [
        (
            Performer::Staff(Role::Approver),
            &ctx.approver,
            CaseAction::Take,
            CaseState::InReview,
        ),
        (
            Performer::Staff(Role::Approver),
            &ctx.approver,
            CaseAction::Approve {
                opinion: "符合条件，同意".into(),
            },
            CaseState::Approved,
        ),
        (
            Performer::Staff(Role::Approver),
            &ctx.approver,
            CaseAction::ResultReady,
            CaseState::ResultReady,
        ),
        (
            Performer::Staff(Role::WindowClerk),
            &ctx.clerk,
            CaseAction::Issue {
                method: IssueMethod::Window,
                tracking_no: None,
                certificate_no: None,
            },
            CaseState::Issued,
        ),
    ];
    for (k, (performer, who, action, expect)) in steps.into_iter().enumerate() {
        let t = Instant::now();
        // The web layer reads the case (for the scope check) and the calendar first.
        if ctx.web_reads == WebReads::All {
            let _: CaseRecord = cases::get(ctx.store.reader(), case.id).await.expect("case");
        }
        let cal_owned = if ctx.web_reads == WebReads::None {
            None
        } else {
            Some(calendar::load(ctx.store.reader()).await.expect("calendar"))
        };
        let cal = cal_owned.as_ref().unwrap_or(&ctx.cal);
        let mut tx = ctx.store.begin().await.expect("begin");
        case = cases::transition(
            &mut tx,
            &ctx.change(who),
            cal,
            ctx.today,
            case.id,
            Some(case.version),
            performer,
            &action,
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", OPS[k + 1]));
        tx.commit().await.expect("commit");
        lat[k + 1].push(t.elapsed().as_micros() as u32);
        assert_eq!(case.state, expect);
    }
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)] as f64 / 1000.0
}

/// Times `n` calls of a read, returning (p50, p99) in ms.
async fn time_read<F, Fut>(n: usize, mut f: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f().await;
        v.push(t.elapsed().as_micros() as u32);
    }
    v.sort_unstable();
    (pct(&v, 0.5), pct(&v, 0.99))
}

#[tokio::main]
async fn main() {
    let a = args();
    if let Some(path) = a.database.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
    let opts = StoreOptions {
        max_connections: (a.concurrency as u32 + 2).max(8),
        sqlite_sync: a.sync,
    };
    let store = Store::open(&a.database, &opts)
        .await
        .expect("open database");
    let clock = BenchClock::new();
    assert!(
        demo::seed(&store, clock.now()).await.expect("seed"),
        "the database must be empty (a fresh one per run)"
    );
    let cal = calendar::load(store.reader()).await.expect("calendar");
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let item = store_catalog::get_effective(store.reader(), &a.item, today)
        .await
        .expect("item");
    assert!(!item.item.is_immediate(), "pick an item that is not 即办");
    let (clerk, approver) = {
        let mut tx = store.begin().await.unwrap();
        let c = users::find_id_by_username(&mut tx, "clerk")
            .await
            .unwrap()
            .unwrap();
        let ap = users::find_id_by_username(&mut tx, "approver")
            .await
            .unwrap()
            .unwrap();
        (Who::user(c, "clerk"), Who::user(ap, "approver"))
    };
    let intake_org_id = orgs::find_by_code(store.reader(), "xingfu")
        .await
        .unwrap()
        .unwrap()
        .id;
    let ctx = Arc::new(Ctx {
        store: store.clone(),
        cal,
        today,
        clock,
        item,
        clerk,
        approver,
        intake_org_id,
        web_reads: a.web_reads,
    });

    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let deadline = a
        .max_secs
        .map(|s| Instant::now() + Duration::from_secs_f64(s));
    let started = Instant::now();
    let progress = {
        let (done, total) = (done.clone(), a.cases);
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(30)).await;
                let d = done.load(Ordering::Relaxed);
                eprintln!(
                    "  {:>6.0}s  {d}/{total} cases  {:.0} cases/s in the last 30 s",
                    started.elapsed().as_secs_f64(),
                    (d - last) as f64 / 30.0
                );
                last = d;
            }
        })
    };
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (ctx, next, done) = (ctx.clone(), next.clone(), done.clone());
        let total = a.cases;
        tasks.push(tokio::spawn(async move {
            let mut lat: Lat = Default::default();
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                lifecycle(&ctx, i, &mut lat).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
            lat
        }));
    }
    let mut all: Lat = Default::default();
    for t in tasks {
        let lat = t.await.unwrap();
        for (a, l) in all.iter_mut().zip(lat) {
            a.extend(l);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    progress.abort();
    let n = all[0].len();
    let sync = match (store.backend().name(), a.sync) {
        ("sqlite", SqliteSync::Normal) => " (synchronous=NORMAL)",
        ("sqlite", SqliteSync::Full) => " (synchronous=FULL)",
        _ => "",
    };
    println!(
        "{}{sync} cases={n} concurrency={} web_reads={:?} elapsed={secs:.1}s  {:.0} cases/s  {:.0} transactions/s",
        store.backend().name(),
        a.concurrency,
        a.web_reads,
        n as f64 / secs,
        (n * 5) as f64 / secs
    );
    println!(
        "| op | n | mean ms | p50 ms | p99 ms | max ms |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    );
    for (name, v) in OPS.iter().zip(all.iter_mut()) {
        v.sort_unstable();
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64 / 1000.0;
        println!(
            "| {name} | {} | {mean:.2} | {:.2} | {:.2} | {:.2} |",
            v.len(),
            pct(v, 0.5),
            pct(v, 0.99),
            v.last().copied().unwrap_or(0) as f64 / 1000.0
        );
    }

    // Consistency: every case issued, the chain intact.
    let issued: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) AS n FROM cases WHERE state = 'issued'")
            .fetch_one(store.reader())
            .await
            .unwrap(),
        "n",
    );
    assert_eq!(issued as usize, n, "every case issued");

    // Reads the web layer does per request, over the table as it now is (single caller).
    let reader = store.reader();
    let mz = orgs::find_by_code(reader, "dept-mz")
        .await
        .unwrap()
        .unwrap();
    let street = orgs::find_by_code(reader, "xingfu").await.unwrap().unwrap();
    let last = cases::get(reader, n as i64).await.ok();
    let calendar_cache = calendar::CalendarCache::new();
    let reads: Vec<(&str, (f64, f64))> = vec![
        (
            "calendar::load",
            time_read(200, || async {
                calendar::load(reader).await.unwrap();
            })
            .await,
        ),
        (
            "calendar, cached (web)",
            time_read(200, || async {
                calendar_cache.get(reader).await.unwrap();
            })
            .await,
        ),
        (
            "catalog::get_effective",
            time_read(200, || async {
                store_catalog::get_effective(reader, &ctx.item.item.code, ctx.today)
                    .await
                    .unwrap();
            })
            .await,
        ),
        (
            "cases::get",
            time_read(200, || async {
                cases::get(reader, 1).await.unwrap();
            })
            .await,
        ),
        (
            "cases::by_number",
            time_read(200, || async {
                if let Some(c) = &last {
                    cases::by_number(reader, &c.case_no).await.unwrap();
                }
            })
            .await,
        ),
        (
            "queue department (dept-mz)",
            time_read(20, || async {
                cases::queue(reader, Queue::Department, &mz.path, 200)
                    .await
                    .unwrap();
            })
            .await,
        ),
        (
            "queue issuance (street)",
            time_read(20, || async {
                cases::queue(reader, Queue::Issuance, &street.path, 200)
                    .await
                    .unwrap();
            })
            .await,
        ),
        (
            "queue intake (street)",
            time_read(20, || async {
                cases::queue(reader, Queue::Intake, &street.path, 200)
                    .await
                    .unwrap();
            })
            .await,
        ),
    ];
    println!("reads after the run ({n} cases), one caller:");
    for (name, (p50, p99)) in reads {
        println!("  {name:<28} p50 {p50:>8.2} ms  p99 {p99:>8.2} ms");
    }
    if a.verify {
        let t = Instant::now();
        let v = audit::verify(&store).await.unwrap();
        assert!(v.broken.is_none(), "audit chain intact after the run");
        println!(
            "audit verify: {} events in {:.1} s",
            v.checked,
            t.elapsed().as_secs_f64()
        );
    }
    store.close().await;
}
