//! The write path under concurrency: SQLite's group commit (a savepoint per request inside
//! a shared transaction, one COMMIT per batch) and PostgreSQL's deferred audit chaining.
//!
//! What must hold: a request that fails inside a batch leaves nothing behind and does not
//! affect the others; every acknowledged request is there; the audit chain verifies.

mod common;

use common::{spawn_app, Db, TestApp};
use onewindow_domain::org::OrgKind;
use onewindow_store::audit::{self, Change, Who};
use onewindow_store::orgs::{self, NewOrg};
use onewindow_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Barrier;

fn change(store: &Store) -> Change {
    Change {
        backend: store.backend(),
        at: common::START_MICROS,
        who: Who::system("test"),
    }
}

async fn org_names(store: &Store, prefix: &str) -> Vec<String> {
    use sqlx::Row;
    sqlx::query("SELECT name FROM orgs WHERE name LIKE $1 ORDER BY name")
        .bind(format!("{prefix}%"))
        .fetch_all(store.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("name"))
        .collect()
}

async fn audited_entities(store: &Store) -> Vec<String> {
    use sqlx::Row;
    store.settle_audit().await.unwrap();
    sqlx::query("SELECT entity_id FROM audit_events WHERE action = 'org.create'")
        .fetch_all(store.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("entity_id"))
        .collect()
}

/// 40 requests queue behind one that holds the writer, so they share batches; every
/// third one writes its org and its audit event and then fails. Exactly the others are
/// kept, each with its audit event, and the chain verifies.
async fn a_failing_request_in_a_batch_leaves_nothing_and_spares_the_others(app: TestApp) {
    let store = app.store.clone();
    let root = app.org_id("city").await;
    let before = store.writer_stats().await;
    let audited_before = audited_entities(&store).await.len();
    let gate = Arc::new(Barrier::new(41));
    let holder = {
        let store = store.clone();
        let gate = gate.clone();
        tokio::spawn(async move {
            let tx = store.begin().await.unwrap();
            gate.wait().await;
            // Hold the writer while the others line up behind it.
            tokio::time::sleep(Duration::from_millis(300)).await;
            tx.commit().await.unwrap();
        })
    };
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            gate.wait().await;
            let mut tx = store.begin().await?;
            let new = NewOrg {
                parent_id: Some(root),
                kind: OrgKind::Department,
                name: format!("批量测试{i:02}"),
                code: None,
            };
            orgs::create(&mut tx, &change(&store), &new).await?;
            if i % 3 == 0 {
                // Fails after writing: dropping the transaction must undo the write.
                return Err(onewindow_store::StoreError::NotFound);
            }
            tx.commit().await?;
            Ok::<usize, onewindow_store::StoreError>(i)
        }));
    }
    let mut acknowledged = Vec::new();
    for t in tasks {
        if let Ok(i) = t.await.unwrap() {
            acknowledged.push(format!("批量测试{i:02}"));
        }
    }
    holder.await.unwrap();
    acknowledged.sort();
    let expected: Vec<String> = (0..40)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("批量测试{i:02}"))
        .collect();
    assert_eq!(acknowledged, expected);
    assert_eq!(org_names(&store, "批量测试").await, expected);
    // One audit event per kept org, none for the failed ones.
    let audited = audited_entities(&store).await.len() - audited_before;
    assert_eq!(audited, expected.len());
    let v = audit::verify(&store).await.unwrap();
    assert!(v.broken.is_none(), "{v:?}");
    if let (Some(before), Some(after)) = (before, store.writer_stats().await) {
        let commits = after.commits - before.commits;
        let committed = after.committed - before.committed;
        assert_eq!(committed, expected.len() as u64 + 1, "{after:?}");
        assert!(
            commits < committed,
            "requests that queued together share commits: {commits} commits for {committed}"
        );
        assert!(after.rolled_back - before.rolled_back >= 14, "{after:?}");
    }
}

/// A statement that fails inside a request (a duplicate key) rolls back only that
/// request, and the next request in the same batch writes normally.
async fn a_failed_statement_rolls_back_only_its_request(app: TestApp) {
    let store = app.store.clone();
    let root = app.org_id("city").await;
    let make = |name: &str, code: &str| NewOrg {
        parent_id: Some(root),
        kind: OrgKind::Department,
        name: name.into(),
        code: Some(code.into()),
    };
    let mut tx = store.begin().await.unwrap();
    orgs::create(&mut tx, &change(&store), &make("唯一一", "uniq-1"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Same code again: refused, and its earlier statements in the request undone.
    let mut tx = store.begin().await.unwrap();
    orgs::create(&mut tx, &change(&store), &make("唯一二", "uniq-2"))
        .await
        .unwrap();
    let clash = orgs::create(&mut tx, &change(&store), &make("唯一三", "uniq-1")).await;
    assert!(clash.is_err());
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    orgs::create(&mut tx, &change(&store), &make("唯一四", "uniq-4"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        org_names(&store, "唯一").await,
        vec!["唯一一".to_string(), "唯一四".to_string()]
    );
    let v = audit::verify(&store).await.unwrap();
    assert!(v.broken.is_none(), "{v:?}");
}

/// Many writers at once (PostgreSQL: in parallel, chained after commit; SQLite: in
/// batches): the chain holds every event exactly once, in one verifiable order.
async fn concurrent_writers_make_one_verifiable_chain(app: TestApp) {
    let store = app.store.clone();
    let root = app.org_id("city").await;
    let head = app.audit_head().await;
    let audited_before = audited_entities(&store).await.len();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let new = NewOrg {
                parent_id: Some(root),
                kind: OrgKind::Department,
                name: format!("并发{i:02}"),
                code: None,
            };
            orgs::create(&mut tx, &change(&store), &new).await.unwrap();
            tx.commit().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(app.audit_head().await, head + 64);
    assert_eq!(audited_entities(&store).await.len() - audited_before, 64);
    let v = audit::verify(&store).await.unwrap();
    assert!(v.broken.is_none(), "{v:?}");
    assert_eq!(v.checked as i64, v.head_seq);
}

/// A second instance over the same PostgreSQL chains what the first left pending (it
/// stopped before its chainer ran), and two chainers never chain an event twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_chainers_share_the_pending_events_on_postgres() {
    let app = spawn_app(Db::Postgres).await;
    let root = app.org_id("city").await;
    let other = Store::connect(&app.db_url, &Default::default())
        .await
        .unwrap();
    let head = app.audit_head().await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let store = if i % 2 == 0 {
            app.store.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let new = NewOrg {
                parent_id: Some(root),
                kind: OrgKind::Department,
                name: format!("双链{i:03}"),
                code: None,
            };
            orgs::create(&mut tx, &change(&store), &new).await.unwrap();
            tx.commit().await.unwrap();
            // Both instances chain at the same time as writes continue.
            store.settle_audit().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    other.settle_audit().await.unwrap();
    assert_eq!(app.audit_head().await, head + 100);
    assert_eq!(app.count("audit_pending").await, 0);
    let v = audit::verify(&other).await.unwrap();
    assert!(v.broken.is_none(), "{v:?}");
    other.close().await;
}

on_both_backends!(
    a_failing_request_in_a_batch_leaves_nothing_and_spares_the_others,
    a_failed_statement_rolls_back_only_its_request,
    concurrent_writers_make_one_verifiable_chain,
);
