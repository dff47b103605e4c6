//! A small HTTP load generator for onewindow's hot paths. It starts the real server
//! in-process on a loopback port over the given database, seeds the demo, and drives
//! `--connections` concurrent clients through one scenario, printing requests per second
//! and latency percentiles. Bounded by `--requests`; talks to 127.0.0.1 only.
//!
//!     cargo run --release --example load -- --database sqlite:///tmp/ow-load.db --scenario me
//!     cargo run --release --example load -- --database postgres://…/db --scenario write
//!
//! `--scenario lifecycle`: each virtual user takes a case through the JSON API from intake
//! to issuance — intake as `clerk` (item `--item`, default MZ-0101 of 区民政局, every
//! required material ticked, so it is accepted and routed), take, approve and result_ready
//! as `approver`, issue at the window as `clerk` — five requests per case, `--requests`
//! rounded down to whole cases. The app clock is fixed on 2026-11-23 (plus the time
//! elapsed) so the shipped calendar covers "today". Prints the totals and p50/p99 per
//! operation.
//!
//! `--scenario list`: GET /api/v1/cases?limit=25 as `clerk` (the window's list of its
//! street, newest first); every fourth request of a client follows the `next` link of
//! its previous page instead. `--fill N` first inserts N generated cases straight into
//! the table (no audit events; states, halls and items spread like an archive — mostly
//! closed, the street's hall and its communities, every demo item), so the same run can
//! be repeated at 1,000 and at 10,000,000 rows:
//!
//!     cargo run --release --example load -- --database sqlite:///tmp/ow-list.db --scenario list --fill 1000000
//!
//! `--path` replaces the first page's path (default `/api/v1/cases?limit=25`), e.g. to
//! measure a filter: `--path '/api/v1/cases?light=red&limit=25'`.
//!
//! `--scenario complaint`: 接诉即办 intake and dispatch, as the demo `dispatcher` (幸福街道,
//! TakeComplaints + DispatchComplaints) with an API key: `POST /api/v1/complaints` (a phone
//! request of one of the demo categories, its own phone number and place) then
//! `POST /api/v1/complaints/{id}/acts` `{"act":"dispatch","lead":<区城市管理局>}` — two
//! requests per loop, `--requests` rounded down to whole loops. The demo's requests and
//! categories are seeded first (`complaints::demo::seed`); the app clock is fixed on
//! 2026-11-23 as for the lifecycle. Prints the totals and p50/p99 per operation.

use onewindow_store::clock::{Clock, SystemClock};
use onewindow_store::{apikeys, audit, catalog, demo, users, Store, StoreOptions};
use onewindow_web::{AppState, WebConfig};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The operations of `--scenario lifecycle`, in order: (action, account, state after).
const LIFECYCLE: [(&str, &str, &str); 5] = [
    ("intake", "clerk", "routed"),
    ("take", "approver", "in_review"),
    ("approve", "approver", "approved"),
    ("result_ready", "approver", "result_ready"),
    ("issue", "clerk", "issued"),
];

/// The operations of `--scenario complaint`, in order: (act, account, state after).
const COMPLAINT: [(&str, &str, &str); 2] = [
    ("intake", "dispatcher", "received"),
    ("dispatch", "dispatcher", "dispatched"),
];

/// What people say in `--scenario complaint` (category code, content), taken in turn.
const COMPLAINT_TEXTS: [(&str, &str); 4] = [
    ("city.roads", "小区门口道路破损坑洼，下雨天积水严重"),
    ("city.lights", "路灯不亮，晚上出行不安全"),
    ("city.noise", "夜间施工噪音扰民，影响休息"),
    ("city.roads", "人行道砖块松动，老人走路容易摔倒"),
];

/// 2026-11-23 10:00 Beijing time plus the time elapsed: "today" stays inside the shipped
/// calendar whenever the benchmark is run.
#[derive(Debug)]
struct BenchClock(Instant);

impl Clock for BenchClock {
    fn now(&self) -> i64 {
        // 2026-11-23T02:00:00Z in microseconds.
        1_795_399_200_000_000 + self.0.elapsed().as_micros() as i64
    }
}

struct Args {
    database: String,
    scenario: String,
    connections: usize,
    requests: usize,
    item: String,
    fill: u64,
    path: String,
}

fn args() -> Args {
    let mut a = Args {
        database: "sqlite:///tmp/onewindow-load.db".into(),
        scenario: "me".into(),
        connections: 64,
        requests: 20_000,
        item: "MZ-0101".into(),
        fill: 0,
        path: "/api/v1/cases?limit=25".into(),
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    for pair in v.chunks(2) {
        let val = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--database" => a.database = val,
            "--scenario" => a.scenario = val,
            "--connections" => a.connections = val.parse().expect("--connections N"),
            "--requests" => a.requests = val.parse().expect("--requests N"),
            "--item" => a.item = val,
            "--fill" => a.fill = val.parse().expect("--fill N"),
            "--path" => a.path = val,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

#[tokio::main]
async fn main() {
    let a = args();
    let opts = StoreOptions {
        max_connections: 8,
        ..StoreOptions::default()
    };
    let store = Store::open(&a.database, &opts)
        .await
        .expect("open database");
    let lifecycle = a.scenario == "lifecycle";
    let complaint = a.scenario == "complaint";
    let clock: Arc<dyn Clock> = if lifecycle || complaint {
        Arc::new(BenchClock(Instant::now()))
    } else {
        Arc::new(SystemClock)
    };
    demo::seed(&store, clock.now()).await.expect("seed");
    if complaint {
        onewindow_store::complaints::demo::seed(&store, clock.now())
            .await
            .expect("complaints demo");
    }
    // One API key each for the admin (the foundation scenarios), the window clerk and the
    // approver (the lifecycle), the dispatcher (complaints).
    let mut keys = std::collections::HashMap::new();
    {
        let mut tx = store.begin().await.unwrap();
        for username in ["admin", "clerk", "approver", "dispatcher"] {
            let id = users::find_id_by_username(&mut tx, username)
                .await
                .unwrap()
                .unwrap();
            let change = audit::Change {
                backend: store.backend(),
                at: clock.now(),
                who: audit::Who::system("load"),
            };
            let (_, secret) = apikeys::create(&mut tx, &change, id, "load generator")
                .await
                .unwrap();
            keys.insert(username, secret);
        }
        tx.commit().await.unwrap();
    }
    let secret = keys["admin"].clone();
    let street = onewindow_store::orgs::find_by_code(store.reader(), "xingfu")
        .await
        .unwrap()
        .unwrap()
        .id;
    // Every required material of the lifecycle's item, ticked as submitted.
    let intake_body = if lifecycle {
        let item = catalog::get(store.reader(), &a.item).await.expect("item");
        assert!(!item.item.is_immediate(), "pick an item that is not 即办");
        let materials: serde_json::Map<String, Value> = item
            .item
            .materials
            .iter()
            .filter(|m| m.required)
            .map(|m| (m.name.clone(), json!("submitted")))
            .collect();
        json!({
            "item_code": a.item,
            "applicant_kind": "person",
            "applicant_name": "张三",
            "applicant_id": "11010519491231002X",
            "applicant_phone": "13800138000",
            "materials": materials,
        })
    } else {
        Value::Null
    };
    if a.fill > 0 {
        fill_cases(&store, a.fill, clock.now()).await;
    }
    // `--scenario complaint`: the lead department and the categories' ids.
    let complaint_ctx = if complaint {
        let cg = onewindow_store::orgs::find_by_code(store.reader(), "dept-cg")
            .await
            .unwrap()
            .unwrap()
            .id;
        let mut categories = std::collections::HashMap::new();
        for (code, _) in COMPLAINT_TEXTS {
            let id: i64 = sqlx::query_scalar("SELECT id FROM complaint_categories WHERE code = $1")
                .bind(code)
                .fetch_one(store.reader())
                .await
                .unwrap();
            categories.insert(code, id);
        }
        Some((cg, categories))
    } else {
        None
    };
    let complaint_ctx = Arc::new(complaint_ctx);
    let keys = Arc::new(keys);
    let state = AppState::new(store.clone(), clock, WebConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(onewindow_web::serve(listener, state, async move {
        let _ = stop_rx.await;
    }));

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.connections)
        .build()
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    // Units of work: requests, or whole cases (five requests each) for the lifecycle, or
    // whole loops (two requests each) for the complaints.
    let units = if lifecycle {
        a.requests / LIFECYCLE.len()
    } else if complaint {
        a.requests / COMPLAINT.len()
    } else {
        a.requests
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.connections {
        let first_page = a.path.clone();
        let (client, next, base, secret, scenario, keys, intake_body, complaint_ctx) = (
            client.clone(),
            next.clone(),
            base.clone(),
            secret.clone(),
            a.scenario.clone(),
            keys.clone(),
            intake_body.clone(),
            complaint_ctx.clone(),
        );
        tasks.push(tokio::spawn(async move {
            // Latencies (µs) per operation; one operation except for the lifecycle.
            let mut lat: Vec<Vec<u64>> = vec![Vec::new(); LIFECYCLE.len()];
            // `--scenario list`: the previous page's `next` link, followed now and then.
            let mut next_page: Option<String> = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= units {
                    break;
                }
                if scenario == "lifecycle" {
                    let mut case = Value::Null;
                    for (k, (op, who, expect)) in LIFECYCLE.iter().enumerate() {
                        let t = Instant::now();
                        let req = if k == 0 {
                            client
                                .post(format!("{base}/api/v1/cases"))
                                .json(&intake_body)
                        } else {
                            let mut body = json!({ "action": op, "version": case["version"] });
                            if *op == "approve" {
                                body["opinion"] = json!("符合条件，同意");
                            }
                            if *op == "issue" {
                                body["method"] = json!("window");
                            }
                            client
                                .post(format!("{base}/api/v1/cases/{}/actions", case["id"]))
                                .json(&body)
                        };
                        let res = req.bearer_auth(&keys[who]).send().await.expect("request");
                        let status = res.status();
                        case = res.json().await.expect("JSON body");
                        assert!(status.is_success(), "{op}: {status} {case}");
                        assert_eq!(case["state"], *expect, "{op}");
                        lat[k].push(t.elapsed().as_micros() as u64);
                    }
                    continue;
                }
                if let Some((cg, categories)) = complaint_ctx.as_ref() {
                    let (code, text) = COMPLAINT_TEXTS[i % COMPLAINT_TEXTS.len()];
                    let mut id = Value::Null;
                    for (k, (op, who, expect)) in COMPLAINT.iter().enumerate() {
                        let t = Instant::now();
                        let req = if k == 0 {
                            client
                                .post(format!("{base}/api/v1/complaints"))
                                .json(&json!({
                                    "channel": "phone",
                                    "request_type": "help",
                                    "urgency": "ordinary",
                                    "category_id": categories[code],
                                    "content": text,
                                    "person_name": "张先生",
                                    "person_phone": format!("139{:08}", i % 100_000_000),
                                    "address": format!("幸福小区{}号楼", i % 40 + 1),
                                    "lat": 39.9 + (i % 997) as f64 * 0.00004,
                                    "lon": 116.39 + (i % 991) as f64 * 0.00005,
                                }))
                        } else {
                            client
                                .post(format!("{base}/api/v1/complaints/{id}/acts"))
                                .json(&json!({ "act": op, "lead": cg }))
                        };
                        let res = req.bearer_auth(&keys[who]).send().await.expect("request");
                        let status = res.status();
                        let body: Value = res.json().await.expect("JSON body");
                        assert!(status.is_success(), "{op}: {status} {body}");
                        let request = if k == 0 { &body["request"] } else { &body };
                        assert_eq!(request["state"], *expect, "{op}");
                        id = request["id"].clone();
                        lat[k].push(t.elapsed().as_micros() as u64);
                    }
                    continue;
                }
                let t = Instant::now();
                if scenario == "list" {
                    let path = match next_page.take() {
                        Some(next) if i % 4 == 3 => next,
                        _ => first_page.clone(),
                    };
                    let res = client
                        .get(format!("{base}{path}"))
                        .bearer_auth(&keys["clerk"])
                        .send()
                        .await
                        .expect("request");
                    let status = res.status();
                    let page = res.text().await.expect("body");
                    assert!(status.is_success(), "{path}: {status} {page}");
                    // `next` is the envelope's last field: found without parsing the page,
                    // so the client's work stays small next to the server's.
                    next_page = page
                        .rfind("\"next\":\"")
                        .map(|at| &page[at + 8..])
                        .and_then(|rest| rest.split('"').next())
                        .map(String::from);
                    lat[0].push(t.elapsed().as_micros() as u64);
                    continue;
                }
                let req = match scenario.as_str() {
                    "me" => client.get(format!("{base}/api/v1/me")),
                    "orgs" => client.get(format!("{base}/api/v1/orgs")),
                    "healthz" => client.get(format!("{base}/healthz")),
                    "write" => client.post(format!("{base}/api/v1/orgs")).json(&serde_json::json!({
                        "parent_id": street, "kind": "department", "name": format!("负载科室{i}")
                    })),
                    other => panic!("unknown scenario {other}"),
                };
                let res = req.bearer_auth(&secret).send().await.expect("request");
                assert!(res.status().is_success(), "{}", res.status());
                let _ = res.bytes().await;
                lat[0].push(t.elapsed().as_micros() as u64);
            }
            lat
        }));
    }
    let mut per_op: Vec<Vec<u64>> = vec![Vec::new(); LIFECYCLE.len()];
    for t in tasks {
        for (all, lat) in per_op.iter_mut().zip(t.await.unwrap()) {
            all.extend(lat);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let mut all: Vec<u64> = per_op.concat();
    all.sort_unstable();
    let pct =
        |v: &[u64], p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)] as f64 / 1000.0;
    println!(
        "{:<9} {:<8} conns={:<3} n={:<6} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms",
        store.backend().name(),
        a.scenario,
        a.connections,
        all.len(),
        all.len() as f64 / secs,
        pct(&all, 0.50),
        pct(&all, 0.99),
        *all.last().unwrap() as f64 / 1000.0
    );
    if complaint {
        println!(
            "  {} loops (intake + dispatch) in {secs:.1} s: {:.0} loops/s",
            per_op[0].len(),
            per_op[0].len() as f64 / secs
        );
        for ((op, _, _), lat) in COMPLAINT.iter().zip(per_op.iter_mut()) {
            lat.sort_unstable();
            println!(
                "  {op:<12} p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms",
                pct(lat, 0.50),
                pct(lat, 0.99),
                *lat.last().unwrap() as f64 / 1000.0
            );
        }
    }
    if lifecycle {
        println!(
            "  {} cases in {secs:.1} s: {:.0} cases/s",
            per_op[0].len(),
            per_op[0].len() as f64 / secs
        );
        for ((op, _, _), lat) in LIFECYCLE.iter().zip(per_op.iter_mut()) {
            lat.sort_unstable();
            println!(
                "  {op:<12} p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms",
                pct(lat, 0.50),
                pct(lat, 0.99),
                *lat.last().unwrap() as f64 / 1000.0
            );
        }
    }
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
    let v = audit::verify(&store).await.unwrap();
    assert!(v.broken.is_none(), "audit chain intact after the run");
}

/// Inserts `n` generated cases in batches (see `--fill`): taken in at the demo street
/// (six in ten) or one of its communities, one of the demo items and its department,
/// states as in an archive (seven in ten closed), one every 90 seconds back from `now`.
async fn fill_cases(store: &Store, n: u64, now: i64) {
    use sqlx::Row;
    let started = Instant::now();
    let reader = store.reader();
    let items: Vec<(String, i64, i64)> = sqlx::query(
        "SELECT i.code, i.department_id, MIN(v.id) AS version_id FROM catalog_items i \
         JOIN catalog_item_versions v ON v.item_id = i.id GROUP BY i.code, i.department_id ORDER BY i.code",
    )
    .fetch_all(reader)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("code"), r.get("department_id"), r.get("version_id")))
    .collect();
    let mut halls = Vec::new();
    for code in ["xingfu", "yangguang", "heping", "dongfeng"] {
        halls.push(
            onewindow_store::orgs::find_by_code(reader, code)
                .await
                .unwrap()
                .unwrap()
                .id,
        );
    }
    let clerk: i64 = sqlx::query("SELECT id FROM users WHERE username = 'clerk'")
        .fetch_one(reader)
        .await
        .unwrap()
        .get("id");
    let states = [
        (70, "closed"),
        (5, "issued"),
        (5, "routed"),
        (3, "in_review"),
        (2, "returned"),
        (2, "approved"),
        (3, "refused"),
        (2, "result_ready"),
        (2, "withdrawn"),
        (1, "lapsed"),
        (1, "rejected"),
        (4, "accepted"),
    ];
    const BATCH: u64 = 500;
    let mut done = 0u64;
    while done < n {
        let mut tx = store.begin().await.unwrap();
        for _ in 0..20 {
            let rows = BATCH.min(n - done);
            if rows == 0 {
                break;
            }
            let mut sql = String::from(
                "INSERT INTO cases (case_no, query_code, item_code, item_version_id, title, department_id, \
                 intake_org_id, state, applicant_kind, applicant_name, applicant_id, applicant_id_masked, \
                 applicant_phone, materials, missing, limit_days, accepted_on, due_date, created_by, \
                 created_at, updated_at) VALUES ",
            );
            for k in 0..rows {
                let i = done + k;
                let at = now - (n - i) as i64 * 90_000_000;
                let day = onewindow_store::clock::local_date(at);
                let r = (i * 7919) % 100;
                let mut acc = 0;
                let state = states
                    .iter()
                    .find(|(share, _)| {
                        acc += share;
                        r < acc
                    })
                    .map_or("closed", |(_, s)| s);
                let (code, dept, version) = &items[(i as usize * 31) % items.len()];
                let hall = halls[[0, 0, 0, 0, 0, 0, 1, 1, 2, 3][(i % 10) as usize]];
                let due = day + chrono::Days::new(28);
                if k > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "('GEN{i:010}', 'ABCDEF', '{code}', {version}, '生成的办件', {dept}, {hall}, '{state}', \
                     'person', '申请人{}', '11010519491231002X', '110105********002X', '13800138000', '[]', '[]', 20, \
                     '{day}', '{due}', {clerk}, {at}, {at})",
                    i % 20_000
                ));
            }
            sqlx::query(&sql).execute(&mut *tx).await.unwrap();
            done += rows;
        }
        tx.commit().await.unwrap();
    }
    println!(
        "filled {n} cases in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
