//! The December block (issue 10): with next year's holiday arrangement not loaded, a
//! promised item whose deadline reaches into that year is still taken in. Its deadline is
//! pending — no date is guessed — and shown as 待定（日历未发布） wherever a due date
//! shows (API, case page, lists, receipt, tracking), with no light and never overdue; the
//! administrator is told how many cases wait for which year; importing the year computes
//! every pending deadline in the import's own transaction, audited. On SQLite and
//! PostgreSQL, with the test kit's manual clock.

mod common;

use common::{Api, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

on_both_backends!(
    december_intake_waits_for_the_year_and_the_import_computes_it,
    due_ordered_lists_keep_pending_deadlines_last_across_pages,
    pending_deadlines_survive_transitions_and_the_new_year,
);

/// 特困人员救助供养申请: 25 working days, 区民政局 (the demo approver's department).
const ITEM: &str = "MZ-0102";
const PENDING: &str = "待定（日历未发布）";
/// Shaped like a notice, NOT the real 2027 arrangement (which is not shipped).
const NOTICE_2027: &str = include_str!("data/test-calendar-2027.csv");

async fn intake(clerk: &Api) -> Value {
    let (_, item) = clerk.get(&format!("/api/v1/catalog/items/{ITEM}")).await;
    assert_eq!(item["item"]["promised_limit_days"], 25);
    let mut materials = serde_json::Map::new();
    for m in item["item"]["materials"].as_array().unwrap() {
        if m["required"] == true {
            materials.insert(m["name"].as_str().unwrap().into(), json!("submitted"));
        }
    }
    let (s, case) = clerk
        .post(
            "/api/v1/cases",
            json!({
                "item_code": ITEM,
                "applicant_kind": "person",
                "applicant_name": "王五",
                "applicant_id": "11010519491231002X",
                "applicant_phone": "13800138000",
                "materials": materials,
            }),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "the resident is not refused: {case}"
    );
    case
}

/// Moves the clock to `days` days after the kit's start (Monday 2026-11-23 09:00).
fn advance_days(app: &TestApp, days: i64) {
    app.clock.advance_secs(days * 86400);
}

async fn html(api: &Api, app: &TestApp, path: &str) -> (StatusCode, String) {
    let res = api.client.get(app.url(path)).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn audit_actions(app: &TestApp, entity_id: &str) -> Vec<(String, Value)> {
    app.store.settle_audit().await.unwrap();
    sqlx::query("SELECT action, detail FROM audit_events WHERE entity_id = $1 ORDER BY seq")
        .bind(entity_id)
        .fetch_all(app.store.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get::<String, _>("action"),
                serde_json::from_str(&r.get::<String, _>("detail")).unwrap_or(Value::Null),
            )
        })
        .collect()
}

async fn december_intake_waits_for_the_year_and_the_import_computes_it(app: TestApp) {
    advance_days(&app, 8); // Tuesday 2026-12-01: 25 working days end in 2027
    let clerk = app.login("clerk").await;
    let case = intake(&clerk).await;
    assert_eq!(case["state"], "routed");
    assert_eq!(case["accepted_on"], "2026-12-01");
    assert_eq!(case["due_date"], Value::Null, "never a guessed date");
    assert_eq!(case["deadline_pending_year"], 2027);
    let (id, no) = (
        case["id"].as_i64().unwrap(),
        case["case_no"].as_str().unwrap(),
    );

    // The case page, the receipt and the lists say 待定（日历未发布）, with no light.
    let (s, page) = html(&clerk, &app, &format!("/cases/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains(&format!(
            "<dd id=\"due-date\" class=\"due-pending\">{PENDING}</dd>"
        )),
        "{page}"
    );
    let (_, receipt) = html(&clerk, &app, &format!("/cases/{id}/receipt")).await;
    assert!(
        receipt.contains(&format!("{PENDING}（25个工作日）")),
        "{receipt}"
    );
    let approver = app.login("approver").await;
    let (_, queue) = approver
        .get("/api/v1/cases?queue=department&limit=200")
        .await;
    let row = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .expect("the pending case is in the department queue");
    assert_eq!(
        (
            &row["due_date"],
            &row["deadline_pending_year"],
            &row["light"]
        ),
        (&Value::Null, &json!(2027), &Value::Null)
    );
    for light in ["green", "yellow", "red", "overdue"] {
        let (s, lit) = approver
            .get(&format!(
                "/api/v1/cases?queue=department&light={light}&limit=200"
            ))
            .await;
        assert_eq!(s, StatusCode::OK, "{lit}");
        assert!(
            lit["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["id"] != id),
            "a pending case has no {light} light"
        );
    }
    let (_, dept) = html(&approver, &app, "/dept").await;
    let at = dept
        .find(&format!("data-case-no=\"{no}\""))
        .expect("listed");
    let row_html = &dept[at..at + dept[at..].find("</tr>").unwrap()];
    assert!(
        row_html.contains(PENDING) && !row_html.contains("light-"),
        "{row_html}"
    );
    // Public tracking, page and API.
    let code = case["query_code"].as_str().unwrap();
    let anon = app.browser();
    let track = anon
        .get(app.url(&format!("/track?case_no={no}&code={code}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        track.contains(&format!("<dd id=\"track-due\">{PENDING}</dd>")),
        "{track}"
    );
    let t: Value = anon
        .get(app.url(&format!("/api/v1/track?case_no={no}&code={code}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (t["due_text"].as_str(), &t["due_date"]),
        (Some(PENDING), &Value::Null)
    );

    // The administrator is told, on the calendar page and on the workbench.
    let admin = app.login("admin").await;
    let notice = "1件办件等待2027年节假日安排";
    let (_, cal_page) = html(&admin, &app, "/admin/calendar").await;
    assert!(
        cal_page.contains("id=\"calendar-pending\"") && cal_page.contains(notice),
        "{cal_page}"
    );
    let (_, home) = html(&admin, &app, "/home").await;
    assert!(home.contains(notice), "{home}");
    let (_, cal) = admin.get("/api/v1/calendar").await;
    assert_eq!(
        cal["pending_deadlines"],
        json!([{"year": 2027, "cases": 1}])
    );

    // A street administrator may not import the year: refused, the case still waits.
    let city = app.login("admin").await;
    let (s, _) = city
        .post(
            "/api/v1/users",
            json!({"org_id": app.org_id("xingfu").await, "username": "xf.admin", "display_name": "街道管理",
                   "roles": ["admin"], "password": onewindow_store::demo::DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let street_admin = app.login("xf.admin").await;
    let (s, _) = street_admin
        .post_text(
            "/api/v1/calendar/import?confirm=true",
            "text/csv",
            NOTICE_2027,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, still) = clerk.get(&format!("/api/v1/cases/{id}")).await;
    assert_eq!(still["deadline_pending_year"], 2027);

    // The preview says how many deadlines the import will compute, and writes nothing.
    let (s, preview) = admin
        .post_text("/api/v1/calendar/import", "text/csv", NOTICE_2027)
        .await;
    assert_eq!((s, &preview["pending_cases"]), (StatusCode::OK, &json!(1)));
    let (_, preview_page) = {
        let res = admin
            .client
            .post(app.url("/admin/calendar"))
            .form(&[("_csrf", csrf_of(&cal_page).as_str()), ("csv", NOTICE_2027)])
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    };
    assert!(
        preview_page.contains("导入后将确定1件待定办件的承诺办结日期"),
        "{preview_page}"
    );
    let (_, still) = clerk.get(&format!("/api/v1/cases/{id}")).await;
    assert_eq!(still["deadline_pending_year"], 2027);

    // The import computes it, in the same transaction, audited and in the case history.
    let revision = preview["revision"].as_i64().unwrap();
    let (s, done) = admin
        .post_text(
            &format!("/api/v1/calendar/import?confirm=true&revision={revision}"),
            "text/csv",
            NOTICE_2027,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    let (_, due) = admin.get("/api/v1/calendar/due?date=2026-12-01&n=25").await;
    let due = due["due"].as_str().unwrap().to_string();
    assert!(due.starts_with("2027-01"), "{due}");
    assert_eq!(
        done["deadlines"],
        json!([{"case_no": no, "due_date": due, "pending_year": null}])
    );
    let (_, after) = clerk.get(&format!("/api/v1/cases/{id}")).await;
    assert_eq!(after["due_date"], due.as_str());
    assert_eq!(after["deadline_pending_year"], Value::Null);
    assert_eq!(
        after["version"].as_i64().unwrap(),
        case["version"].as_i64().unwrap() + 1,
        "the record changed: its version moved on"
    );
    let event = after["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "deadline_computed")
        .expect("recorded in the case history");
    assert!(event["note"].as_str().unwrap().contains(&due), "{event}");
    let audited = audit_actions(&app, no).await;
    let (_, detail) = audited
        .iter()
        .find(|(a, _)| a == "case.deadline_computed")
        .expect("audited");
    assert_eq!(detail["waited_for"], 2027);
    assert_eq!(detail["due_date"], due.as_str());
    let (_, page) = html(&clerk, &app, &format!("/cases/{id}")).await;
    assert!(
        page.contains(&format!("<dd id=\"due-date\">{due}")),
        "{page}"
    );
    let (_, row) = approver
        .get("/api/v1/cases?queue=department&limit=200")
        .await;
    let row = row["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(row["light"], "green");
    // Nothing waits any more: the notices are gone.
    let (_, cal) = admin.get("/api/v1/calendar").await;
    assert_eq!(cal["pending_deadlines"], json!([]));
    let (_, cal_page) = html(&admin, &app, "/admin/calendar").await;
    assert!(!cal_page.contains("calendar-pending"), "{cal_page}");
    // A second run (the housekeeping catch-up) finds nothing to do.
    let change = app
        .state
        .change(onewindow_store::audit::Who::system("deadline-job"));
    let again = onewindow_store::calendar::catch_up_pending_deadlines(&app.store, &change)
        .await
        .unwrap();
    assert!(again.is_empty());
}

/// The department queue is ordered by due date; pending deadlines (beyond every computed
/// date) follow the dated cases, by id, and paging walks across the boundary without
/// repeating or losing a case.
async fn due_ordered_lists_keep_pending_deadlines_last_across_pages(app: TestApp) {
    let clerk = app.login("clerk").await;
    let dated = [intake(&clerk).await, intake(&clerk).await];
    assert!(dated.iter().all(|c| c["due_date"] == "2026-12-28"));
    advance_days(&app, 8);
    let clerk = app.login("clerk").await;
    let pending = [intake(&clerk).await, intake(&clerk).await];
    assert!(pending.iter().all(|c| c["deadline_pending_year"] == 2027));
    let ours: Vec<i64> = dated
        .iter()
        .chain(&pending)
        .map(|c| c["id"].as_i64().unwrap())
        .collect();

    let approver = app.login("approver").await;
    for limit in [1, 2, 3, 200] {
        let mut seen: Vec<Value> = Vec::new();
        let mut path = format!("/api/v1/cases?queue=department&limit={limit}");
        loop {
            let (s, page) = approver.get(&path).await;
            assert_eq!(s, StatusCode::OK, "{page}");
            seen.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => {
                    path = format!("/api/v1/cases?queue=department&limit={limit}&cursor={c}")
                }
                None => break,
            }
        }
        let ids: Vec<i64> = seen.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "no case twice (limit {limit})");
        let order: Vec<i64> = ids.iter().copied().filter(|i| ours.contains(i)).collect();
        assert_eq!(
            order, ours,
            "dated by date, then pending by id (limit {limit})"
        );
        // Every pending row comes after every dated one.
        let first_pending = seen.iter().position(|r| r["due_date"].is_null()).unwrap();
        assert!(seen[first_pending..]
            .iter()
            .all(|r| r["due_date"].is_null()));
    }
}

/// A pending case moves on like any other (the approver takes and approves it; each step
/// keeps the deadline pending rather than failing), the deadline job never marks it
/// overdue — not even in January, with the year still missing — and an import made then
/// computes it.
async fn pending_deadlines_survive_transitions_and_the_new_year(app: TestApp) {
    advance_days(&app, 8);
    let clerk = app.login("clerk").await;
    let case = intake(&clerk).await;
    let id = case["id"].as_i64().unwrap();
    let approver = app.login("approver").await;
    let (s, taken) = approver
        .post(
            &format!("/api/v1/cases/{id}/actions"),
            json!({"action": "take", "version": case["version"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{taken}");
    assert_eq!(
        (
            &taken["state"],
            &taken["deadline_pending_year"],
            &taken["due_date"]
        ),
        (&json!("in_review"), &json!(2027), &Value::Null)
    );
    // Into the new year, 2027 still not loaded: the job runs and leaves the case alone.
    advance_days(&app, 35); // Tuesday 2027-01-05
    let admin = app.login("admin").await;
    let (s, run) = admin.post("/api/v1/jobs/deadlines", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{run}");
    assert!(
        !run["marked_overdue"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == &case["case_no"]),
        "{run}"
    );
    let approver = app.login("approver").await;
    let (_, now) = approver.get(&format!("/api/v1/cases/{id}")).await;
    assert_eq!(
        (&now["overdue"], &now["deadline_pending_year"]),
        (&json!(false), &json!(2027))
    );
    let (s, approved) = approver
        .post(
            &format!("/api/v1/cases/{id}/actions"),
            json!({"action": "approve", "opinion": "符合条件", "version": now["version"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{approved}");
    assert_eq!(approved["deadline_pending_year"], 2027);
    // The page of the calendar shouts that the current year is missing, and how many wait.
    let (_, cal) = admin.get("/api/v1/calendar").await;
    assert!(cal["warning"].as_str().unwrap().contains("2027"), "{cal}");
    assert_eq!(
        cal["pending_deadlines"],
        json!([{"year": 2027, "cases": 1}])
    );
    let (s, done) = admin
        .post_text(
            "/api/v1/calendar/import?confirm=true",
            "text/csv",
            NOTICE_2027,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    let (_, due) = admin.get("/api/v1/calendar/due?date=2026-12-01&n=25").await;
    assert_eq!(done["deadlines"][0]["due_date"], due["due"]);
    let (_, after) = approver.get(&format!("/api/v1/cases/{id}")).await;
    assert_eq!(after["due_date"], due["due"]);
    assert_eq!(after["deadline_pending_year"], Value::Null);
}

fn csrf_of(html: &str) -> String {
    let i = html
        .find("name=\"_csrf\" value=\"")
        .expect("page has a CSRF field")
        + 20;
    html[i..i + 64].to_string()
}
