//! Several app instances over one PostgreSQL behave as one system.

mod common;

use common::{spawn_app_on, Db};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_from_one_instance_is_honoured_by_the_other() {
    let first = common::spawn_app(Db::Postgres).await;
    let second = spawn_app_on(&first.db_url, Db::Postgres, first.clock.clone(), None).await;
    let mut api = first.login("admin").await;
    // Same client (same cookie), pointed at the other instance.
    api.base = second.base.clone();
    let (s, me) = api.get("/api/v1/me").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["username"], "admin");
    // A write through the second instance is seen by the first, and the CSRF token issued
    // by the first is accepted by the second.
    let street = first.org_id("xingfu").await;
    let (s, org) = api
        .post(
            "/api/v1/orgs",
            json!({"parent_id": street, "kind": "community", "name": "双实例社区"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{org}");
    api.base = first.base.clone();
    let (s, seen) = api.get(&format!("/api/v1/orgs/{}", org["id"])).await;
    assert_eq!(
        (s, seen["name"].as_str()),
        (StatusCode::OK, Some("双实例社区"))
    );
    // Logging out on one ends the session on both.
    api.post("/api/v1/logout", json!({})).await;
    api.base = second.base.clone();
    assert_eq!(api.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    second.stop().await;
    first.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_through_two_instances_keep_one_unbroken_audit_chain() {
    let first = common::spawn_app(Db::Postgres).await;
    let second = spawn_app_on(&first.db_url, Db::Postgres, first.clock.clone(), None).await;
    let a = first.login("admin").await;
    let mut b = first.login("admin").await;
    b.base = second.base.clone();
    let street = first.org_id("xingfu").await;
    let head = first.audit_head().await;
    let mut tasks = Vec::new();
    for (i, api) in [a, b].into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for n in 0..15 {
                let (s, body) = api.post("/api/v1/orgs", json!({"parent_id": street, "kind": "department", "name": format!("科室{i}-{n}")})).await;
                assert_eq!(s, StatusCode::CREATED, "{body}");
            }
            api
        }));
    }
    let mut apis = Vec::new();
    for t in tasks {
        apis.push(t.await.unwrap());
    }
    assert_eq!(first.audit_head().await, head + 30);
    let (_, v) = apis[0].get("/api/v1/audit/verify").await;
    assert!(v.get("broken").is_none(), "{v}");
    second.stop().await;
    first.stop().await;
}
