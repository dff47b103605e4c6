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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_deadline_job_on_two_instances_marks_each_case_once() {
    let first = common::spawn_app(Db::Postgres).await;
    let second = spawn_app_on(&first.db_url, Db::Postgres, first.clock.clone(), None).await;
    let clerk = first.login("clerk").await;
    let mut ticks = serde_json::Map::new();
    let (_, item) = clerk.get("/api/v1/catalog/items/MZ-0101").await;
    for m in item["item"]["materials"].as_array().unwrap() {
        if m["required"] == true {
            ticks.insert(m["name"].as_str().unwrap().into(), json!("submitted"));
        }
    }
    for n in 0..12 {
        let (s, case) = clerk
            .post("/api/v1/cases", json!({"item_code": "MZ-0101", "applicant_kind": "person", "applicant_name": format!("申请人{n}"), "applicant_id": "11010519491231002X", "applicant_phone": "13800138000", "materials": ticks}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{case}");
    }
    first.clock.advance_secs(35 * 86400);
    let a = first.login("admin").await;
    let mut b = first.login("admin").await;
    b.base = second.base.clone();
    let ((_, ra), (_, rb)) = tokio::join!(
        a.post("/api/v1/jobs/deadlines", json!({})),
        b.post("/api/v1/jobs/deadlines", json!({}))
    );
    let marked = ra["marked_overdue"].as_array().unwrap().len()
        + rb["marked_overdue"].as_array().unwrap().len();
    assert_eq!(
        marked, 12,
        "every case marked once across both runners: {ra} {rb}"
    );
    use sqlx::Row;
    let events: i64 = sqlx::query("SELECT COUNT(*) AS n FROM case_events WHERE action = 'overdue'")
        .fetch_one(first.store.reader())
        .await
        .unwrap()
        .get("n");
    assert_eq!(events, 12, "no double processing");
    second.stop().await;
    first.stop().await;
}

/// Each instance keeps the calendar in memory; a year imported through one instance is
/// used by the other at once (the stored revision moved), never a stale deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calendar_year_imported_on_one_instance_is_used_by_the_other() {
    let first = common::spawn_app(Db::Postgres).await;
    let second = spawn_app_on(&first.db_url, Db::Postgres, first.clock.clone(), None).await;
    let admin = first.login("admin").await;
    let mut other = first.login("admin").await;
    other.base = second.base.clone();
    let (s, _) = other.get("/api/v1/calendar/due?date=2026-12-30&n=1").await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the second instance has read the calendar"
    );
    let (s, _) = other.get("/api/v1/calendar/due?date=2027-02-05&n=1").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "2027 not loaded yet");
    let csv = include_str!("data/test-calendar-2027.csv");
    let (s, _) = admin
        .post_text("/api/v1/calendar/import?confirm=true", "text/csv", csv)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, due) = other.get("/api/v1/calendar/due?date=2027-02-04&n=1").await;
    assert_eq!(
        (s, due["due"].as_str()),
        (StatusCode::OK, Some("2027-02-14")),
        "Thursday 4 Feb + 1 working day skips the imported 春节 to the make-up Sunday"
    );
    second.stop().await;
    first.stop().await;
}
