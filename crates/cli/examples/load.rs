//! A small HTTP load generator for onewindow's hot paths. It starts the real server
//! in-process on a loopback port over the given database, seeds the demo, and drives
//! `--connections` concurrent clients through one scenario, printing requests per second
//! and latency percentiles. Bounded by `--requests`; talks to 127.0.0.1 only.
//!
//!     cargo run --release --example load -- --database sqlite:///tmp/ow-load.db --scenario me
//!     cargo run --release --example load -- --database postgres://…/db --scenario write

use onewindow_store::clock::{Clock, SystemClock};
use onewindow_store::{apikeys, audit, demo, users, Store, StoreOptions};
use onewindow_web::{AppState, WebConfig};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

struct Args {
    database: String,
    scenario: String,
    connections: usize,
    requests: usize,
}

fn args() -> Args {
    let mut a = Args {
        database: "sqlite:///tmp/onewindow-load.db".into(),
        scenario: "me".into(),
        connections: 64,
        requests: 20_000,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    for pair in v.chunks(2) {
        let val = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--database" => a.database = val,
            "--scenario" => a.scenario = val,
            "--connections" => a.connections = val.parse().expect("--connections N"),
            "--requests" => a.requests = val.parse().expect("--requests N"),
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
    let clock = SystemClock;
    demo::seed(&store, clock.now()).await.expect("seed");
    let secret = {
        let mut tx = store.begin().await.unwrap();
        let id = users::find_id_by_username(&mut tx, "admin")
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
        tx.commit().await.unwrap();
        secret
    };
    let street = onewindow_store::orgs::find_by_code(store.reader(), "xingfu")
        .await
        .unwrap()
        .unwrap()
        .id;
    let state = AppState::new(store.clone(), Arc::new(clock), WebConfig::default());
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
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.connections {
        let (client, next, base, secret, scenario) = (
            client.clone(),
            next.clone(),
            base.clone(),
            secret.clone(),
            a.scenario.clone(),
        );
        let total = a.requests;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
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
                lat.push(t.elapsed().as_micros() as u64);
            }
            lat
        }));
    }
    let mut all = Vec::with_capacity(a.requests);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1000.0;
    println!(
        "{:<9} {:<8} conns={:<3} n={:<6} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms",
        store.backend().name(),
        a.scenario,
        a.connections,
        all.len(),
        all.len() as f64 / secs,
        pct(0.50),
        pct(0.99),
        *all.last().unwrap() as f64 / 1000.0
    );
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
    let v = audit::verify(store.reader()).await.unwrap();
    assert!(v.broken.is_none(), "audit chain intact after the run");
}
