//! 即审即办: a clerk holding a department's window grant approves a listed item at intake,
//! in one transaction (and hands the result over at once); grants are given and revoked by
//! administrators in scope; the share approved at the window is a figure. Both backends.

mod common;

use common::{Api, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    a_granted_clerk_approves_and_issues_in_one_intake,
    approval_at_the_window_is_refused_without_grant_or_listing,
    grants_are_given_and_revoked_in_scope_only,
);

/// The catalog item with its materials, as the public API serves it.
async fn item(app: &TestApp, code: &str) -> Value {
    app.browser()
        .get(app.url(&format!("/api/v1/catalog/items/{code}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// An intake of `code` with every required material, plus `extra` fields.
async fn intake(api: &Api, app: &TestApp, code: &str, extra: Value) -> (StatusCode, Value) {
    let item = item(app, code).await;
    let mut materials = serde_json::Map::new();
    for m in item["item"]["materials"].as_array().unwrap() {
        if m["required"] == true {
            materials.insert(m["name"].as_str().unwrap().into(), json!("submitted"));
        }
    }
    let mut body = json!({
        "item_code": code,
        "applicant_kind": "person",
        "applicant_name": "张三",
        "applicant_id": "11010519491231002X",
        "applicant_phone": "13800138000",
        "materials": materials,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    api.post("/api/v1/cases", body).await
}

async fn user_id(admin: &Api, username: &str) -> i64 {
    let (_, page) = admin.get("/api/v1/users?limit=200").await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .unwrap_or_else(|| panic!("{username} in {page}"))["id"]
        .as_i64()
        .unwrap()
}

async fn a_granted_clerk_approves_and_issues_in_one_intake(app: TestApp) {
    let clerk = app.login("clerk").await;
    let audit_before = app.audit_head().await;
    // 高龄津贴申请: a 10-working-day item the catalog lists for 即审即办; the demo clerk
    // holds the window grant of 区民政局.
    let (s, case) = intake(
        &clerk,
        &app,
        "MZ-0104",
        json!({"approve_at_window": true, "window_opinion": "年龄核验无误，同意", "issue_at_once": true}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    assert_eq!(
        case["state"], "issued",
        "approved and handed over in the one intake"
    );
    assert_eq!(case["approved_at_window"], true);
    assert_eq!(case["decision"], "approved");
    assert_eq!(case["decision_text"], "年龄核验无误，同意");
    assert_eq!(case["issue_method"], "window");
    let (_, full) = clerk.get(&format!("/api/v1/cases/{}", case["id"])).await;
    let actions: Vec<&str> = full["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "accept", "approve_at_window", "issue"]);
    assert!(
        !actions.contains(&"route"),
        "never routed to the back office"
    );
    // Every step audited, in the same transaction as the case.
    let (_, audit) = app
        .login("admin")
        .await
        .get(&format!(
            "/api/v1/audit?entity=case&entity_id={}",
            case["case_no"].as_str().unwrap()
        ))
        .await;
    let audited: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(audited.contains(&"case.approve_at_window"), "{audit}");
    assert!(app.audit_head().await >= audit_before + 3);

    // Approved without handing over: the result waits at the issuance window.
    let (s, ready) = intake(&clerk, &app, "MZ-0104", json!({"approve_at_window": true})).await;
    assert_eq!(s, StatusCode::CREATED, "{ready}");
    assert_eq!(ready["state"], "result_ready");
    assert_eq!(
        ready["decision_text"], "同意",
        "a blank opinion reads as 同意"
    );
    // An ordinary intake of the same item still goes to the department.
    let (_, routed) = intake(&clerk, &app, "MZ-0104", json!({})).await;
    assert_eq!(routed["state"], "routed");
    assert_eq!(routed["approved_at_window"], false);

    // The figure: 2 of 3 accepted cases approved at the window, in the street's scope and
    // the district's; an item filter narrows it.
    let supervisor = app.login("supervisor").await;
    let (s, f) = supervisor.get("/api/v1/figures/intake").await;
    assert_eq!(s, StatusCode::OK, "{f}");
    assert_eq!(
        (f["accepted"].as_i64(), f["approved_at_window"].as_i64()),
        (Some(3), Some(2))
    );
    assert_eq!(f["window_approval_share_text"], "66.7%");
    let (_, f) = supervisor.get("/api/v1/figures/intake?item=MZ-0101").await;
    assert_eq!(f["accepted"], 0);
    assert_eq!(f["window_approval_share_text"], "—");
    let (s, f) = supervisor
        .get("/api/v1/figures/intake?from=2026-12-01&to=2026-11-01")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(f["fields"][0]["field"], "to");
    // The community clerk's scope holds none of the street hall's cases.
    let (_, f) = app
        .login("clerk-yangguang")
        .await
        .get("/api/v1/figures/intake")
        .await;
    assert_eq!(f["accepted"], 0, "{f}");
}

async fn approval_at_the_window_is_refused_without_grant_or_listing(app: TestApp) {
    let clerk = app.login("clerk").await;
    let cases_before = app.count("cases").await;
    // Not listed for 即审即办 (最低生活保障 goes to the department's review).
    let (s, body) = intake(&clerk, &app, "MZ-0101", json!({"approve_at_window": true})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "approve_at_window");
    assert_eq!(body["fields"][0]["code"], "not_window_approvable");
    // Handing over at once needs the approval at the window.
    let (s, body) = intake(&clerk, &app, "MZ-0104", json!({"issue_at_once": true})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["code"], "needs_window_approval");
    // Listed, but the clerk holds no grant for 区人社局's… 区卫健委 (WJ-0103).
    let (s, body) = intake(&clerk, &app, "WJ-0103", json!({"approve_at_window": true})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["code"], "no_window_grant");
    // The approval is not a case action anyone posts by hand.
    let (_, routed) = intake(&clerk, &app, "MZ-0104", json!({})).await;
    let (s, body) = clerk
        .post(
            &format!("/api/v1/cases/{}/actions", routed["id"]),
            json!({"action": "approve_at_window", "version": routed["version"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["code"], "not_a_manual_action");
    assert_eq!(
        app.count("cases").await,
        cases_before + 1,
        "refused intakes left nothing behind"
    );
}

async fn grants_are_given_and_revoked_in_scope_only(app: TestApp) {
    let admin = app.login("admin").await;
    let community_clerk = user_id(&admin, "clerk-yangguang").await;
    let approver = user_id(&admin, "approver").await;
    let wj = app.org_id("dept-wj").await;
    let street = app.org_id("xingfu").await;
    let path = format!("/api/v1/users/{community_clerk}/window-grants/{wj}");
    let (s, _) = admin.put(&path, json!({})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = admin.put(&path, json!({})).await;
    assert_eq!(s, StatusCode::OK, "granting twice changes nothing");
    let (_, list) = admin
        .get(&format!("/api/v1/users/{community_clerk}/window-grants"))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["department_id"], wj);
    // Refusals: not a clerk, not a department, not an administrator.
    let (s, body) = admin
        .put(
            &format!("/api/v1/users/{approver}/window-grants/{wj}"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, body["fields"][0]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_a_window_clerk"))
    );
    let (s, body) = admin
        .put(
            &format!("/api/v1/users/{community_clerk}/window-grants/{street}"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, body["fields"][0]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_a_department"))
    );
    let supervisor = app.login("supervisor").await;
    let (s, _) = supervisor.put(&path, json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = supervisor.delete(&path).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A community's administrator: the street's clerk is outside the scope (looks unknown),
    // and so is the district's department.
    let yangguang = app.org_id("yangguang").await;
    let (s, created) = admin
        .post(
            "/api/v1/users",
            json!({"org_id": yangguang, "username": "admin-yg", "display_name": "社区管理员", "roles": ["admin"], "password": "Community-admin-2026"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let local = app
        .login_with("admin-yg", "Community-admin-2026")
        .await
        .expect("login");
    let clerk = user_id(&admin, "clerk").await;
    let (s, _) = local
        .put(
            &format!("/api/v1/users/{clerk}/window-grants/{wj}"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, body) = local.put(&path, json!({})).await;
    assert_eq!(
        (s, body["fields"][0]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("outside_scope"))
    );
    // Revoke: once, then unknown.
    let (s, _) = admin.delete(&path).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = admin.delete(&path).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, audit) = admin.get("/api/v1/audit?action=user.window_grant").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"user.window_grant") && actions.contains(&"user.window_grant_revoke"),
        "{audit}"
    );
}
