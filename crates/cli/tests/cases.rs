//! The one-window lifecycle end to end through the API, on SQLite and PostgreSQL:
//! intake (normal, 容缺, refusal, 即办, bundle), department review, issuance, public
//! tracking, deadlines and the overdue job, conflicts, catalog versions and the calendar.

mod common;

use common::{Api, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    tolerance_intake_review_issue_and_track,
    refusal_lists_every_missing_material_once,
    illegal_and_unauthorised_transitions_change_nothing,
    two_clerks_at_once_one_wins,
    return_pauses_the_clock,
    deadline_job_marks_overdue_and_lapses_once,
    immediate_items_finish_at_the_window,
    bundle_intake_merges_materials,
    catalog_versions_stick_to_cases,
    identifiers_are_validated_at_intake,
    calendar_year_import_and_missing_year,
    a_future_catalog_version_waits_for_its_date,
    intake_list_is_newest_first_within_scope,
    the_decider_sees_the_age_the_conditions_use,
    a_notice_given_by_mistake_is_retracted_and_taken_in_again,
);

/// A demo item whose department is 区民政局 (where the demo approver sits), that is not
/// 即办 and has a tolerable material.
async fn tolerable_item(app: &TestApp) -> Value {
    item_where(app, |i| {
        let tolerable = i["materials"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["tolerable"] == true && m["required"] == true);
        i["department_code"] == "dept-mz"
            && i["promised_limit_days"].as_u64().unwrap() > 0
            && tolerable
            && i["parent_code"].is_null()
    })
    .await
}

async fn item_where(app: &TestApp, pred: impl Fn(&Value) -> bool) -> Value {
    let c = app.browser();
    // The whole demo catalog fits in the largest page.
    let page: Value = c
        .get(app.url("/api/v1/catalog/items?limit=200"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(page["next"].is_null(), "one page holds the demo catalog");
    for s in page["items"].as_array().unwrap() {
        let code = s["code"].as_str().unwrap();
        let item: Value = c
            .get(app.url(&format!("/api/v1/catalog/items/{code}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if pred(&item["item"]) {
            return item;
        }
    }
    panic!("no demo item matches");
}

/// Ticks: every required material submitted, except the names in `missing`.
fn ticks(item: &Value, missing: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    for mat in item["item"]["materials"].as_array().unwrap() {
        let name = mat["name"].as_str().unwrap();
        if mat["required"] == true && !missing.contains(&name) {
            m.insert(name.into(), json!("submitted"));
        }
    }
    Value::Object(m)
}

fn intake_body(item: &Value, materials: Value) -> Value {
    json!({
        "item_code": item["item"]["code"],
        "applicant_kind": "person",
        "applicant_name": "张三",
        "applicant_id": "11010519491231002X",
        "applicant_phone": "13800138000",
        "materials": materials,
    })
}

async fn act(api: &Api, case: &Value, body: Value) -> (StatusCode, Value) {
    let mut body = body;
    body["version"] = case["version"].clone();
    api.post(&format!("/api/v1/cases/{}/actions", case["id"]), body)
        .await
}

async fn tolerance_intake_review_issue_and_track(app: TestApp) {
    let clerk = app.login("clerk").await;
    let approver = app.login("approver").await;
    let item = tolerable_item(&app).await;
    let tol = item["item"]["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["tolerable"] == true && m["required"] == true)
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, case) = clerk
        .post("/api/v1/cases", intake_body(&item, ticks(&item, &[&tol])))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    assert_eq!(
        case["state"], "routed",
        "accepted and routed to the department"
    );
    assert_eq!(case["acceptance_kind"], "tolerance");
    assert_eq!(case["supplement_pending"], true);
    assert_eq!(case["applicant_id_masked"], "110105********002X");
    assert!(
        case.get("applicant_id").is_none(),
        "the full ID number is not sent out"
    );
    // Due date: the promised working days after today (2026-11-23, a Monday), by the calendar.
    let n = item["item"]["promised_limit_days"].as_u64().unwrap();
    let (_, due) = clerk
        .get(&format!("/api/v1/calendar/due?date=2026-11-23&n={n}"))
        .await;
    assert_eq!(case["due_date"], due["due"]);
    assert_eq!(case["accepted_on"], "2026-11-23");

    let (_, queue) = approver.get("/api/v1/cases?queue=department").await;
    let row = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == case["id"])
        .expect("in the department queue");
    assert_eq!(row["light"], "green");
    let (s, case) = act(&approver, &case, json!({"action": "take"})).await;
    assert_eq!(
        (s, case["state"].as_str()),
        (StatusCode::OK, Some("in_review"))
    );
    let (_, case) = act(
        &approver,
        &case,
        json!({"action": "approve", "opinion": "符合条件，同意"}),
    )
    .await;
    assert_eq!(case["state"], "approved");
    let (_, case) = act(&approver, &case, json!({"action": "result_ready"})).await;
    assert_eq!(case["state"], "result_ready");
    // The resident is told which material to bring before collecting.
    let anon = app.browser();
    let t: Value = anon
        .get(app.url(&format!(
            "/api/v1/track?case_no={}&code={}",
            case["case_no"].as_str().unwrap(),
            case["query_code"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(t["awaited"].as_str().unwrap().contains(&tol), "{t}");
    // Not handed over while 容缺 materials are owed.
    let (s, body) = act(
        &clerk,
        &case,
        json!({"action": "issue", "method": "window"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "supplement_pending");
    let (_, case) = act(&clerk, &case, json!({"action": "supplement_received"})).await;
    assert_eq!(case["supplement_pending"], false);
    let owed = case["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == tol.as_str())
        .unwrap();
    assert_eq!(owed["check"], "submitted", "the checklist shows it brought");
    let (s, body) = act(&clerk, &case, json!({"action": "issue", "method": "mail"})).await;
    assert_eq!(
        (s, body["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("tracking_no"))
    );
    let (s, case) = act(
        &clerk,
        &case,
        json!({"action": "issue", "method": "mail", "tracking_no": "SF1234567890"}),
    )
    .await;
    assert_eq!(
        (s, case["state"].as_str()),
        (StatusCode::OK, Some("issued"))
    );

    // The resident tracks it without logging in.

    let url = format!(
        "/api/v1/track?case_no={}&code={}",
        case["case_no"].as_str().unwrap(),
        case["query_code"].as_str().unwrap().to_lowercase()
    );
    let res = anon.get(app.url(&url)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let t: Value = res.json().await.unwrap();
    assert_eq!(t["state"], "issued");
    assert_eq!(
        t["state_label"], "已交付",
        "the resident's word, not the staff's 已出件"
    );
    for e in t["events"].as_array().unwrap() {
        let text = e["text"].as_str().unwrap();
        assert!(
            !["分办", "领办", "出证"].iter().any(|w| text.contains(w)),
            "staff jargon on the public page: {text}"
        );
        assert!(e.get("note").is_none(), "staff notes stay on staff pages");
    }
    let actions: Vec<&str> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "create",
            "accept",
            "route",
            "take",
            "approve",
            "result_ready",
            "supplement_received",
            "issue"
        ]
    );
    // Typed the way people type: lower case, a space and a dash, full-width characters.
    let code = case["query_code"].as_str().unwrap();
    let sloppy_no: String = case["case_no"].as_str().unwrap().to_lowercase();
    let fullwidth: String = code
        .chars()
        .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
        .collect();
    for (no, code) in [
        (sloppy_no.clone(), format!("{}-{}", &code[..3], &code[3..])),
        (
            format!(" {sloppy_no} "),
            format!("{} {}", &code[..3], &code[3..]),
        ),
        (sloppy_no.clone(), fullwidth),
    ] {
        let r = anon
            .get(app.url("/api/v1/track"))
            .query(&[("case_no", no.as_str()), ("code", code.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{no} / {code}");
    }
    let wrong = anon
        .get(app.url(&format!(
            "/api/v1/track?case_no={}&code=AAAAAA",
            case["case_no"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::NOT_FOUND);
    // Every transition is in the audit chain, and the chain holds.
    let admin = app.login("admin").await;
    let (_, events) = admin.get("/api/v1/audit?entity=case&limit=50").await;
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["entity_id"] == case["case_no"])
            .count()
            >= 7
    );
    let (_, v) = admin.get("/api/v1/audit/verify").await;
    assert!(v.get("broken").is_none());
}

async fn refusal_lists_every_missing_material_once(app: TestApp) {
    let clerk = app.login("clerk").await;
    let item = tolerable_item(&app).await;
    let (s, case) = clerk
        .post("/api/v1/cases", intake_body(&item, json!({})))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(case["state"], "refused");
    let required: Vec<&str> = item["item"]["materials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["required"] == true)
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    let missing: Vec<&str> = case["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(
        missing, required,
        "the one-time notice lists every missing required material, tolerable ones too"
    );
    assert!(case["due_date"].is_null());
}

async fn illegal_and_unauthorised_transitions_change_nothing(app: TestApp) {
    let clerk = app.login("clerk").await;
    let approver = app.login("approver").await;
    let item = tolerable_item(&app).await;
    let (_, case) = clerk
        .post("/api/v1/cases", intake_body(&item, ticks(&item, &[])))
        .await;
    assert_eq!(case["acceptance_kind"], "normal");
    let head = app.audit_head().await;
    // Approving before taking: illegal in state routed.
    let (s, body) = act(
        &approver,
        &case,
        json!({"action": "approve", "opinion": "同意"}),
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("illegal_transition")),
        "{body}"
    );
    // A clerk cannot approve at all.
    let (s, body) = act(&clerk, &case, json!({"action": "take"})).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden_role"))
    );
    // An approver of another department cannot touch it.
    let admin = app.login("admin").await;
    let rs = app.org_id("dept-rs").await;
    admin.post("/api/v1/users", json!({"org_id": rs, "username": "rs.approver", "display_name": "人社审批", "roles": ["approver"], "password": "labour-2026"})).await;
    let other = app.login_with("rs.approver", "labour-2026").await.unwrap();
    let (s, body) = act(&other, &case, json!({"action": "take"})).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found")),
        "out of scope looks like a missing case"
    );
    let (s, _) = other.get(&format!("/api/v1/cases/{}", case["id"])).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A reject without reasons names the fields.
    let (_, taken) = act(&approver, &case, json!({"action": "take"})).await;
    let (s, body) = act(
        &approver,
        &taken,
        json!({"action": "reject", "reasons": "", "legal_basis": ""}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["fields"][0]["field"]
            .as_str()
            .unwrap()
            .contains("reasons"),
        "{body}"
    );
    let (_, now) = clerk.get(&format!("/api/v1/cases/{}", case["id"])).await;
    assert_eq!(now["state"], "in_review");
    // Refusals wrote nothing beyond the logins, the user creation and the one take.
    let (_, events) = admin.get("/api/v1/audit?limit=20").await;
    let since: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["seq"].as_i64().unwrap() > head)
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        since
            .iter()
            .all(|a| ["auth.login", "user.create", "case.take"].contains(a)),
        "{since:?}"
    );
    assert_eq!(since.iter().filter(|a| **a == "case.take").count(), 1);
}

async fn two_clerks_at_once_one_wins(app: TestApp) {
    let a = app.login("clerk").await;
    let b = app.login("clerk").await;
    let item = tolerable_item(&app).await;
    let (_, case) = a
        .post("/api/v1/cases", intake_body(&item, ticks(&item, &[])))
        .await;
    let before = app.count("case_events").await;
    let path = format!("/api/v1/cases/{}/actions", case["id"]);
    let body = json!({"action": "withdraw", "reason": "申请人不办了", "version": case["version"]});
    let (ra, rb) = tokio::join!(a.post(&path, body.clone()), b.post(&path, body.clone()));
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{ra:?} {rb:?}"
    );
    let loser = if ra.0 == StatusCode::CONFLICT {
        &ra.1
    } else {
        &rb.1
    };
    assert_eq!(loser["code"], "version_conflict");
    assert_eq!(
        app.count("case_events").await,
        before + 1,
        "exactly one transition recorded"
    );
}

async fn return_pauses_the_clock(app: TestApp) {
    let clerk = app.login("clerk").await;
    let approver = app.login("approver").await;
    let item = tolerable_item(&app).await;
    let (_, case) = clerk
        .post("/api/v1/cases", intake_body(&item, ticks(&item, &[])))
        .await;
    let due_before = case["due_date"].as_str().unwrap().to_string();
    let (_, case) = act(&approver, &case, json!({"action": "take"})).await;
    let (_, case) = act(
        &approver,
        &case,
        json!({"action": "return", "reasons": "收入证明缺少盖章", "items": ["收入证明（盖章）"]}),
    )
    .await;
    assert_eq!(case["state"], "returned");
    // Accepted and returned Monday 23 Nov (day 0, never counted), resubmitted Thursday
    // 26 Nov: Tuesday and Wednesday were spent waiting for the applicant.
    // (Sessions last a working day, so the clerk signs in again.)
    app.clock.advance_secs(3 * 86400);
    let clerk = app.login("clerk").await;
    let (_, case) = act(&clerk, &case, json!({"action": "resubmit"})).await;
    assert_eq!(case["state"], "in_review");
    let n = 2;
    let (_, shifted) = clerk
        .get(&format!("/api/v1/calendar/due?date={due_before}&n={n}"))
        .await;
    assert_eq!(
        case["due_date"], shifted["due"],
        "the due date moved by the paused working days"
    );
    assert_eq!(case["pauses"], json!([["2026-11-23", "2026-11-26"]]));
}

async fn deadline_job_marks_overdue_and_lapses_once(app: TestApp) {
    let clerk = app.login("clerk").await;
    let admin = app.login("admin").await;
    let item = tolerable_item(&app).await;
    let tol = item["item"]["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["tolerable"] == true && m["required"] == true)
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, normal) = clerk
        .post("/api/v1/cases", intake_body(&item, ticks(&item, &[])))
        .await;
    let (_, tolerant) = clerk
        .post("/api/v1/cases", intake_body(&item, ticks(&item, &[&tol])))
        .await;
    // A 容缺 case decided and ready before its materials came: still owed, so it lapses too.
    let approver = app.login("approver").await;
    let (_, decided) = clerk
        .post("/api/v1/cases", intake_body(&item, ticks(&item, &[&tol])))
        .await;
    let (_, decided) = act(&approver, &decided, json!({"action": "take"})).await;
    let (_, decided) = act(
        &approver,
        &decided,
        json!({"action": "approve", "opinion": ""}),
    )
    .await;
    let (_, decided) = act(&approver, &decided, json!({"action": "result_ready"})).await;
    assert_eq!(decided["state"], "result_ready", "{decided}");
    let (_, run) = admin.post("/api/v1/jobs/deadlines", json!({})).await;
    assert_eq!(run, json!({"marked_overdue": [], "lapsed": []}));
    // A month later every deadline has passed.
    app.clock.advance_secs(30 * 86400);
    let (admin, clerk) = (app.login("admin").await, app.login("clerk").await);
    let (s, run) = admin.post("/api/v1/jobs/deadlines", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        run["marked_overdue"],
        json!([normal["case_no"], tolerant["case_no"]])
    );
    assert_eq!(
        run["lapsed"],
        json!([tolerant["case_no"], decided["case_no"]]),
        "the decided case lapses as the domain allows (its clock had stopped: not overdue)"
    );
    // Running again (another instance, the next minute) finds nothing more to do.
    let (_, again) = admin.post("/api/v1/jobs/deadlines", json!({})).await;
    assert_eq!(again, json!({"marked_overdue": [], "lapsed": []}));
    let (_, t) = clerk
        .get(&format!("/api/v1/cases/{}", tolerant["id"]))
        .await;
    assert_eq!(t["state"], "lapsed");
    let (_, n) = clerk.get(&format!("/api/v1/cases/{}", normal["id"])).await;
    assert_eq!(n["overdue"], true);
    let (_, d) = clerk.get(&format!("/api/v1/cases/{}", decided["id"])).await;
    assert_eq!(d["state"], "lapsed");
    let approver = app.login("approver").await;
    let (_, queue) = approver.get("/api/v1/cases?queue=department").await;
    let row = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == normal["id"])
        .unwrap();
    assert_eq!(row["light"], "overdue");
}

async fn immediate_items_finish_at_the_window(app: TestApp) {
    let clerk = app.login("clerk").await;
    let item = item_where(&app, |i| {
        i["promised_limit_days"] == 0 && i["parent_code"].is_null()
    })
    .await;
    let (s, case) = clerk
        .post("/api/v1/cases", intake_body(&item, ticks(&item, &[])))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    assert_eq!(case["state"], "accepted", "即办 cases stay at the window");
    assert_eq!(case["due_date"], "2026-11-23");
    let (_, case) = act(
        &clerk,
        &case,
        json!({"action": "complete_at_window", "opinion": "当场办结"}),
    )
    .await;
    assert_eq!(case["state"], "result_ready");
    let (_, case) = act(
        &clerk,
        &case,
        json!({"action": "issue", "method": "window"}),
    )
    .await;
    assert_eq!(case["state"], "issued");
    let (_, case) = act(&clerk, &case, json!({"action": "close"})).await;
    assert_eq!(case["state"], "closed");
}

async fn bundle_intake_merges_materials(app: TestApp) {
    let clerk = app.login("clerk").await;
    let c = app.browser();
    let bundles: Vec<Value> = c
        .get(app.url("/api/v1/catalog/bundles"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = bundles
        .iter()
        .find(|b| b["name"].as_str().unwrap().contains("出生"))
        .expect("新生儿出生一件事")["code"]
        .as_str()
        .unwrap()
        .to_string();
    let view: Value = c
        .get(app.url(&format!("/api/v1/catalog/bundles/{code}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = view["materials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    let mut dedup = names.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), names.len(), "one de-duplicated material list");
    let mut ticks = serde_json::Map::new();
    for m in view["materials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["required"] == true)
    {
        ticks.insert(m["name"].as_str().unwrap().into(), json!("submitted"));
    }
    let (s, case) = clerk
        .post("/api/v1/cases", json!({"bundle_code": code, "applicant_kind": "person", "applicant_name": "李四", "applicant_id": "440524198001010013", "applicant_phone": "13900139000", "materials": ticks}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    assert_eq!(case["bundle_code"], code);
    assert_eq!(case["limit_days"], view["limit_days"]);
    assert_eq!(case["materials"].as_array().unwrap().len(), names.len());
}

async fn catalog_versions_stick_to_cases(app: TestApp) {
    let admin = app.login("admin").await;
    let clerk = app.login("clerk").await;
    let item = tolerable_item(&app).await;
    let code = item["item"]["code"].as_str().unwrap();
    let (_, case) = clerk
        .post("/api/v1/cases", intake_body(&item, ticks(&item, &[])))
        .await;
    // A new version with a longer promised limit.
    let mut changed = item["item"].clone();
    let old_limit = changed["promised_limit_days"].as_u64().unwrap();
    changed["promised_limit_days"] = json!(old_limit + 1);
    if let Some(legal) = changed["legal_limit_days"].as_u64() {
        changed["legal_limit_days"] = json!(legal.max(old_limit + 1));
    }
    let (s, report) = admin
        .put(
            &format!("/api/v1/catalog/items/{code}"),
            json!({"item": changed, "version": item["version"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["new_versions"], json!([code]));
    // Saving against the old version again is a conflict.
    let (s, body) = admin
        .put(
            &format!("/api/v1/catalog/items/{code}"),
            json!({"item": changed, "version": item["version"]}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("version_conflict"))
    );
    let (_, now) = clerk.get(&format!("/api/v1/catalog/items/{code}")).await;
    assert_eq!(now["version"], item["version"].as_i64().unwrap() + 1);
    let (_, same) = clerk.get(&format!("/api/v1/cases/{}", case["id"])).await;
    assert_eq!(
        same["item_version_id"], item["version_id"],
        "the case keeps the version it was accepted under"
    );
    assert_eq!(same["limit_days"].as_u64().unwrap(), old_limit);
    // Export in all three formats; a clerk may not.
    let (s, _) = clerk.get("/api/v1/catalog/export").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, json_export) = admin.get("/api/v1/catalog/export?format=json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(json_export["items"].as_array().unwrap().len() >= 50);
    let xlsx = admin
        .client
        .get(format!("{}/api/v1/catalog/export?format=xlsx", app.base))
        .header("x-csrf-token", &admin.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(xlsx.status(), StatusCode::OK);
    assert!(
        xlsx.bytes().await.unwrap().starts_with(b"PK"),
        "an XLSX is a zip"
    );
    let csv = admin
        .client
        .get(format!("{}/api/v1/catalog/export?format=csv", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Re-importing the exported CSV changes nothing.
    let (s, report) = admin
        .post_text("/api/v1/catalog/import", "text/csv", &csv)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(report["created"], json!([]));
    assert_eq!(report["new_versions"], json!([]));
    // Keyword search, Chinese.
    let (_, found) = clerk.get("/api/v1/catalog/items?q=社保卡").await;
    let found = &found["items"];
    assert!(found.as_array().unwrap().iter().all(|i| i["name"]
        .as_str()
        .unwrap()
        .contains("社保卡")
        || i["window_class"] == "社保卡"
        || !i["code"].is_null()));
    assert!(!found.as_array().unwrap().is_empty());
}

async fn identifiers_are_validated_at_intake(app: TestApp) {
    let clerk = app.login("clerk").await;
    let item = tolerable_item(&app).await;
    let before = app.count("cases").await;
    let mut body = intake_body(&item, ticks(&item, &[]));
    body["applicant_id"] = json!("110105194912310021");
    body["applicant_phone"] = json!("12345");
    let (s, problem) = clerk.post("/api/v1/cases", body).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = problem["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["applicant_id", "applicant_phone"]);
    // A company whose credit code fails the check character: a warning the clerk overrides.
    let mut body = intake_body(&item, ticks(&item, &[]));
    body["applicant_kind"] = json!("company");
    body["applicant_name"] = json!("某某小吃店");
    body["applicant_id"] = json!("91350100M000100Y44");
    let (s, problem) = clerk.post("/api/v1/cases", body.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["fields"][0]["code"], "check_character_warning");
    assert_eq!(app.count("cases").await, before);
    body["credit_code_override"] = json!("已核对营业执照原件，代码与执照一致");
    let (s, case) = clerk.post("/api/v1/cases", body).await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    let admin = app.login("admin").await;
    let (_, events) = admin.get("/api/v1/audit?entity=case&limit=20").await;
    assert!(events["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "case.credit_code_override" && e["entity_id"] == case["case_no"]));
    // An agent acting for the applicant is recorded, masked.
    let mut body = intake_body(&item, ticks(&item, &[]));
    body["agent_name"] = json!("王代办");
    body["agent_id"] = json!("440524198001010013");
    let (_, case) = clerk.post("/api/v1/cases", body).await;
    assert_eq!(case["agent_id_masked"], "440524********0013");
}

async fn calendar_year_import_and_missing_year(app: TestApp) {
    let admin = app.login("admin").await;
    let (s, body) = admin.get("/api/v1/calendar/due?date=2027-01-04&n=3").await;
    assert_eq!(
        (s, body["fields"][0]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("year_not_covered"))
    );
    // From 1 December the administrator is warned that 2027 is missing.
    app.clock.advance_secs(9 * 86400);
    let admin = app.login("admin").await;
    let (_, cal) = admin.get("/api/v1/calendar").await;
    assert!(cal["warning"].as_str().unwrap().contains("2027"), "{cal}");
    // A whole (test) notice: an import replaces the year, so a partial file is refused.
    let csv = include_str!("data/test-calendar-2027.csv");
    let (s, _) = admin
        .post_text("/api/v1/calendar/import?confirm=true", "text/csv", csv)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, due) = admin.get("/api/v1/calendar/due?date=2027-02-04&n=1").await;
    assert_eq!(
        due["due"], "2027-02-14",
        "the imported 春节 days are skipped and the make-up Sunday counts"
    );
    let (_, cal) = admin.get("/api/v1/calendar").await;
    assert!(cal["warning"].is_null());
    // A bad file names the line and changes nothing.
    let (s, p) = admin
        .post_text(
            "/api/v1/calendar/import",
            "text/csv",
            "date,kind,festival\n2028-01-01,party,元旦\n",
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p["fields"][0]["message"].as_str().unwrap().contains('2'),
        "{p}"
    );
    let clerk = app.login("clerk").await;
    let (s, _) = clerk
        .post_text("/api/v1/calendar/import?confirm=true", "text/csv", csv)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn a_future_catalog_version_waits_for_its_date(app: TestApp) {
    let admin = app.login("admin").await;
    let item = tolerable_item(&app).await;
    let code = item["item"]["code"].as_str().unwrap();
    let old_limit = item["item"]["promised_limit_days"].as_u64().unwrap();
    let mut next = item["item"].clone();
    next["promised_limit_days"] = json!(old_limit - 1);
    let (s, _) = admin
        .put(
            &format!("/api/v1/catalog/items/{code}"),
            json!({"item": next, "version": item["version"], "effective_from": "2026-12-01"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // Today (23 Nov) intake still runs on the version in force.
    let clerk = app.login("clerk").await;
    let (_, today) = clerk
        .post("/api/v1/cases", intake_body(&item, ticks(&item, &[])))
        .await;
    assert_eq!(today["limit_days"].as_u64().unwrap(), old_limit);
    assert_eq!(today["item_version_id"], item["version_id"]);
    // From 1 December the new version applies.
    app.clock.advance_secs(8 * 86400);
    let clerk = app.login("clerk").await;
    let (_, later) = clerk
        .post("/api/v1/cases", intake_body(&item, ticks(&item, &[])))
        .await;
    assert_eq!(later["limit_days"].as_u64().unwrap(), old_limit - 1);
    assert_ne!(later["item_version_id"], item["version_id"]);
}

/// The window's "recently taken in" list merges every intake organisation in the
/// caller's subtree, newest first, and never shows another subtree's cases.
async fn intake_list_is_newest_first_within_scope(app: TestApp) {
    let street_clerk = app.login("clerk").await;
    let community_clerk = app.login("clerk-yangguang").await;
    let item = tolerable_item(&app).await;
    let body = intake_body(&item, ticks(&item, &[]));
    let mut taken = Vec::new();
    for clerk in [
        &street_clerk,
        &community_clerk,
        &street_clerk,
        &community_clerk,
    ] {
        let (s, case) = clerk.post("/api/v1/cases", body.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{case}");
        taken.push(case["case_no"].as_str().unwrap().to_string());
    }
    let numbers = |list: &Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["case_no"].as_str().unwrap().to_string())
            .collect()
    };
    let (s, street) = street_clerk.get("/api/v1/cases?queue=intake").await;
    assert_eq!(s, StatusCode::OK, "{street}");
    let newest_first: Vec<String> = taken.iter().rev().cloned().collect();
    assert_eq!(
        numbers(&street),
        newest_first,
        "the street sees its own and its community's intake, newest first"
    );
    let (_, community) = community_clerk.get("/api/v1/cases?queue=intake").await;
    assert_eq!(
        numbers(&community),
        vec![taken[3].clone(), taken[1].clone()],
        "the community sees only what it took in"
    );
    // The window page shows the newest 25 of the merged lists: take in 26 more, the
    // community's most of them, so the cut falls inside both organisations' lists.
    for i in 0..26 {
        let clerk = if i % 3 == 0 {
            &street_clerk
        } else {
            &community_clerk
        };
        let (s, case) = clerk.post("/api/v1/cases", body.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{case}");
        taken.push(case["case_no"].as_str().unwrap().to_string());
    }
    let html = street_clerk
        .client
        .get(app.url("/window"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (oldest, newest) = taken.split_at(taken.len() - 25);
    for no in newest {
        assert!(html.contains(no.as_str()), "{no} is among the newest 25");
    }
    for no in oldest {
        assert!(
            !html.contains(no.as_str()),
            "{no} is older than the newest 25"
        );
    }
    assert!(
        html.contains("id=\"recent-next\""),
        "the older ones are a 下一页 away"
    );
}

/// The staff case page as `api`'s user sees it.
async fn case_page_text(api: &Api, id: &Value) -> String {
    let res = api
        .client
        .get(format!("{}/cases/{id}", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

async fn the_decider_sees_the_age_the_conditions_use(app: TestApp) {
    // 高龄津贴 turns on being 80: the masked number hides the birth date, so the approver
    // is shown it and the age; the phone is there to call the applicant in.
    let aged = item_where(&app, |i| {
        i["conditions"].as_str().unwrap().contains("80周岁")
    })
    .await;
    let clerk = app.login("clerk").await;
    let (status, case) = clerk
        .post("/api/v1/cases", intake_body(&aged, ticks(&aged, &[])))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{case}");
    assert_eq!(case["state"], "routed", "{case}");
    let approver = app.login("approver").await;
    let page = case_page_text(&approver, &case["id"]).await;
    assert!(
        page.contains("id=\"applicant-birth\">1949-12-31（76周岁）"),
        "{page}"
    );
    assert!(
        page.contains("id=\"applicant-phone\""),
        "the approver can call the applicant"
    );
    assert!(page.contains("13800138000"));
    // A supervisor watching the hall sees the masked identity only.
    let supervisor = app.login("supervisor").await;
    let page = case_page_text(&supervisor, &case["id"]).await;
    assert!(!page.contains("applicant-birth"), "{page}");
    assert!(!page.contains("13800138000"));
    // An item whose conditions do not turn on age shows no birth date, even to the approver.
    let plain = item_where(&app, |i| {
        let c = i["conditions"].as_str().unwrap();
        i["code"].as_str().unwrap().starts_with("MZ-")
            && !["周岁", "年龄", "岁以上", "高龄", "老年人"]
                .iter()
                .any(|w| c.contains(w))
    })
    .await;
    let (status, other) = clerk
        .post("/api/v1/cases", intake_body(&plain, ticks(&plain, &[])))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let page = case_page_text(&clerk, &other["id"]).await;
    assert!(!page.contains("applicant-birth"));
    assert!(
        page.contains("id=\"applicant-phone\""),
        "the clerk calls for pick-up"
    );
}

async fn a_notice_given_by_mistake_is_retracted_and_taken_in_again(app: TestApp) {
    let clerk = app.login("clerk").await;
    let item = tolerable_item(&app).await;
    // The applicant would have collected the result at the Yangguang station.
    let mut body = intake_body(&item, json!({}));
    body["handout"] = json!({"method": "window", "place_org_id": app.org_id("yangguang").await});
    let (s, case) = clerk.post("/api/v1/cases", body).await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    assert_eq!(case["state"], "refused", "{case}");
    let path = format!("/api/v1/cases/{}", case["id"]);
    let retract = |reason: &str| json!({"action": "retract_notice", "reason": reason});

    // Refusals: a role without the action, another place's clerk, a blank reason.
    let approver = app.login("approver").await;
    let (s, _) = act(&approver, &case, retract("误告知")).await;
    assert!(
        s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
        "an approver does not retract a window's notice: {s}"
    );
    let station = app.login("clerk-yangguang").await;
    let (s, _) = act(&station, &case, retract("误告知")).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "another place's case looks unknown"
    );
    let (s, _) = station.get(&path).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "a refused case never reaches the hand-out place"
    );
    let (s, body) = act(&clerk, &case, retract(&"误".repeat(2001))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["code"], "too_long", "{body}");
    let before = app.audit_head().await;
    let (s, body) = act(&clerk, &case, retract("  ")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "reason", "{body}");
    assert_eq!(
        app.audit_head().await,
        before,
        "a refused request changes nothing"
    );
    assert_eq!(clerk.get(&path).await.1["state"], "refused");

    // The retraction, audited with its reason; it happens once.
    let (s, retracted) = act(&clerk, &case, retract("材料其实齐全，告知有误")).await;
    assert_eq!(s, StatusCode::OK, "{retracted}");
    assert_eq!(retracted["state"], "notice_retracted");
    assert_eq!(app.audit_head().await, before + 1);
    let (_, log) = app
        .login("admin")
        .await
        .get("/api/v1/audit?action=case.retract_notice")
        .await;
    let text = log.to_string();
    assert!(text.contains("case.retract_notice"), "{text}");
    assert!(
        text.contains("材料其实齐全，告知有误"),
        "the reason is in the audit: {text}"
    );
    let (s, _) = act(&clerk, &retracted, retract("再撤一次")).await;
    assert_ne!(s, StatusCode::OK, "a retracted notice stays retracted");

    // The resident's tracking page says the notice no longer holds; the void notice is
    // not printed again; the intake form comes back with the applicant filled in.
    let (_, tracked) = app
        .login("guide")
        .await
        .get(&format!(
            "/api/v1/track?case_no={}&code={}",
            case["case_no"].as_str().unwrap(),
            case["query_code"].as_str().unwrap()
        ))
        .await;
    assert!(tracked.to_string().contains("告知书已撤回"), "{tracked}");
    let c = &clerk.client;
    let res = c
        .get(format!("{}/cases/{}/notice", clerk.base, case["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let page = case_page_text(&clerk, &case["id"]).await;
    assert!(page.contains("id=\"intake-again\""), "重新受理 offered");
    let res = c
        .get(format!(
            "{}/window/intake?item={}&again={}",
            clerk.base,
            item["item"]["code"].as_str().unwrap(),
            case["id"]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let form = res.text().await.unwrap();
    assert!(
        form.contains("value=\"张三\""),
        "the applicant is filled in again"
    );
    assert!(form.contains("value=\"11010519491231002X\""));
    // Nobody else gets the applicant's identifiers through it.
    let res = station
        .client
        .get(format!(
            "{}/window/intake?item={}&again={}",
            station.base,
            item["item"]["code"].as_str().unwrap(),
            case["id"]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
