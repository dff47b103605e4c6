//! The three places of a case (taken in, decided, handed out), its channel, and 补录, on
//! SQLite and PostgreSQL: a community station takes in what the street handles and hands
//! the result out; each place sees only its own cases; the choices and the 补录 rule are
//! refused with the field named; deadlines of a 补录 count from the original date.

mod common;

use common::{Api, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    a_station_takes_in_and_hands_out_what_the_street_handles,
    the_result_goes_to_the_chosen_station_only,
    handout_and_channel_choices_are_checked,
    backfill_keeps_the_original_acceptance,
    backfill_refusals_change_nothing,
    the_intake_form_records_places_channel_and_backfill,
    demo_cases_at_the_yangguang_station,
);

/// A 承诺件 of 区民政局 (10 working days) that is not 即审即办.
const ITEM: &str = "MZ-0103";

/// An intake of `code` with every required material, plus `extra` fields.
async fn intake(api: &Api, app: &TestApp, code: &str, extra: Value) -> (StatusCode, Value) {
    let item: Value = app
        .browser()
        .get(app.url(&format!("/api/v1/catalog/items/{code}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut materials = serde_json::Map::new();
    for m in item["item"]["materials"].as_array().unwrap() {
        if m["required"] == true {
            materials.insert(m["name"].as_str().unwrap().into(), json!("submitted"));
        }
    }
    let mut body = json!({
        "item_code": code,
        "applicant_kind": "person",
        "applicant_name": "赵桂英",
        "applicant_id": "11010519491231002X",
        "applicant_phone": "13800138000",
        "materials": materials,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    api.post("/api/v1/cases", body).await
}

/// Posts an action with the case's current version (read from the store, so that a
/// caller who may not see the case is refused for what it is, not for a missing version).
async fn act(app: &TestApp, api: &Api, id: i64, body: Value) -> (StatusCode, Value) {
    let version = onewindow_store::cases::get(app.store.reader(), id)
        .await
        .unwrap()
        .version;
    let mut body = body;
    body["version"] = json!(version);
    api.post(&format!("/api/v1/cases/{id}/actions"), body).await
}

/// The department decides: take, approve, result ready.
async fn decide(app: &TestApp, id: i64) {
    let approver = app.login("approver").await;
    for action in ["take", "approve", "result_ready"] {
        let (s, body) = act(app, &approver, id, json!({ "action": action })).await;
        assert_eq!(s, StatusCode::OK, "{action}: {body}");
    }
}

/// A second community's window clerk (和平社区).
async fn heping_clerk(app: &TestApp) -> Api {
    let admin = app.login("admin").await;
    let (s, body) = admin
        .post(
            "/api/v1/users",
            json!({"org_id": app.org_id("heping").await, "username": "clerk-heping", "display_name": "何窗口", "roles": ["window_clerk"], "password": "spring-2026"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    app.login_with("clerk-heping", "spring-2026").await.unwrap()
}

fn case_nos(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {page}"))
        .iter()
        .map(|r| r["case_no"].as_str().unwrap().to_string())
        .collect()
}

async fn a_station_takes_in_and_hands_out_what_the_street_handles(app: TestApp) {
    let station = app.login("clerk-yangguang").await;
    let yangguang = app.org_id("yangguang").await;
    let (s, case) = intake(&station, &app, ITEM, json!({})).await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    // The three places, each named: the station took it in, the department decides, the
    // result is picked up where it was taken in unless the applicant chose otherwise.
    assert_eq!(case["state"], "routed");
    assert_eq!(case["intake_place_kind"], "community_station");
    assert_eq!(case["channel"], "community_station");
    assert_eq!(case["channel_label"], "社区服务站受理");
    assert_eq!(case["places"]["intake"]["org_id"], yangguang);
    assert_eq!(case["places"]["intake"]["kind_label"], "社区服务站");
    assert_eq!(case["places"]["decision"]["name"], "区民政局");
    assert_eq!(case["places"]["handout"]["method"], "window");
    assert_eq!(case["places"]["handout"]["org_id"], yangguang);
    assert_eq!(case["places"]["handout"]["text"], "到阳光社区窗口领取");
    assert_eq!(case["backfilled"], false);
    let id = case["id"].as_i64().unwrap();

    // A station clerk cannot decide: the department's actions are not the window's.
    let (s, body) = act(&app, &station, id, json!({"action": "take"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    decide(&app, id).await;
    let (s, body) = act(&app, &station, id, json!({"action": "approve"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");

    // Back at the station: in its issuance queue; another community sees nothing of it.
    let (_, queue) = station.get("/api/v1/cases?queue=issuance").await;
    assert!(case_nos(&queue).contains(&case["case_no"].as_str().unwrap().to_string()));
    let heping = heping_clerk(&app).await;
    let (_, theirs) = heping.get("/api/v1/cases?queue=issuance").await;
    assert!(case_nos(&theirs).is_empty(), "{theirs}");
    let (_, all) = heping.get("/api/v1/cases").await;
    assert!(case_nos(&all).is_empty(), "{all}");
    let (s, _) = heping.get(&format!("/api/v1/cases/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let before = app.audit_head().await;
    let (s, _) = act(
        &app,
        &heping,
        id,
        json!({"action": "issue", "method": "window"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another community cannot issue");
    assert_eq!(app.audit_head().await, before, "a refusal writes nothing");

    // Handed out where it was chosen to be picked up.
    let (s, body) = act(
        &app,
        &station,
        id,
        json!({"action": "issue", "method": "window"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "issued");

    // The street sees its communities' cases as before.
    let street = app.login("clerk").await;
    let (s, _) = street.get(&format!("/api/v1/cases/{id}")).await;
    assert_eq!(s, StatusCode::OK);
}

async fn the_result_goes_to_the_chosen_station_only(app: TestApp) {
    let station = app.login("clerk-yangguang").await;
    let heping = heping_clerk(&app).await;
    let heping_id = app.org_id("heping").await;
    // Taken in at 阳光社区, to be picked up at 和平社区 (the applicant lives there).
    let (s, case) = intake(
        &station,
        &app,
        ITEM,
        json!({"handout": {"method": "window", "place_org_id": heping_id}}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    assert_eq!(case["places"]["handout"]["name"], "和平社区");
    let id = case["id"].as_i64().unwrap();
    let no = case["case_no"].as_str().unwrap().to_string();
    // The handing-out place sees it from the start, the decision before it is ready.
    let (s, seen) = heping.get(&format!("/api/v1/cases/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{seen}");
    decide(&app, id).await;
    let (_, queue) = heping.get("/api/v1/cases?queue=issuance").await;
    assert!(case_nos(&queue).contains(&no), "{queue}");
    let (_, mine) = station.get("/api/v1/cases?queue=issuance").await;
    assert!(
        !case_nos(&mine).contains(&no),
        "not waiting at the intake place"
    );
    // The intake station sees the case but does not hand it out.
    let before = app.audit_head().await;
    let (s, body) = act(
        &app,
        &station,
        id,
        json!({"action": "issue", "method": "window"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "forbidden_scope");
    assert_eq!(app.audit_head().await, before);
    // A third community neither sees nor issues.
    let admin = app.login("admin").await;
    let (s, _) = admin
        .post(
            "/api/v1/users",
            json!({"org_id": app.org_id("dongfeng").await, "username": "clerk-dongfeng", "display_name": "董窗口", "roles": ["window_clerk"], "password": "spring-2026"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let dongfeng = app
        .login_with("clerk-dongfeng", "spring-2026")
        .await
        .unwrap();
    let (s, _) = dongfeng.get(&format!("/api/v1/cases/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = act(
        &app,
        &dongfeng,
        id,
        json!({"action": "issue", "method": "window"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The chosen station hands it over, and closes it.
    let (s, body) = act(
        &app,
        &heping,
        id,
        json!({"action": "issue", "method": "window"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = act(&app, &heping, id, json!({"action": "close"})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "closed");
    // The public tracking page says where to collect it.
    let html = app
        .browser()
        .get(app.url(&format!(
            "/track?case_no={no}&code={}",
            case["query_code"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("到和平社区窗口领取"), "{html}");
    assert!(html.contains("区民政局"));
}

async fn handout_and_channel_choices_are_checked(app: TestApp) {
    let station = app.login("clerk-yangguang").await;
    let clerk = app.login("clerk").await;
    let cases_before = app.count("cases").await;
    let dept = app.org_id("dept-mz").await;
    let refused: [(&Api, Value, &str, &str); 10] = [
        (
            &station,
            json!({"handout": {"method": "mail"}}),
            "handout_address",
            "required",
        ),
        (
            &station,
            json!({"handout": {"method": "window", "place_org_id": dept}}),
            "handout_place",
            "not_a_handout_place",
        ),
        (
            &station,
            json!({"handout": {"method": "window", "place_org_id": 999999}}),
            "handout_place",
            "unknown_place",
        ),
        (
            &station,
            json!({"handout": {"method": "window", "address": "幸福路1号"}}),
            "handout_address",
            "address_not_for_pickup",
        ),
        (
            &station,
            json!({"handout": {"method": "electronic", "place_org_id": app.org_id("heping").await}}),
            "handout_place",
            "place_not_for_method",
        ),
        (
            &station,
            json!({"handout": {"method": "mail", "address": "路".repeat(201)}}),
            "handout_address",
            "too_long",
        ),
        (
            &station,
            json!({"channel": "window"}),
            "channel",
            "channel_not_here",
        ),
        (
            &station,
            json!({"intake_place_kind": "hall"}),
            "intake_place_kind",
            "place_kind_not_here",
        ),
        (
            &clerk,
            json!({"intake_place_kind": "community_station"}),
            "intake_place_kind",
            "place_kind_not_here",
        ),
        (
            &clerk,
            json!({"channel": "community_station"}),
            "channel",
            "channel_not_here",
        ),
    ];
    for (api, extra, field, code) in refused {
        let (s, body) = intake(api, &app, ITEM, extra.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{extra}: {body}");
        assert!(
            body["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["field"] == field && f["code"] == code),
            "{extra}: {body}"
        );
    }
    // A channel the product does not know: the JSON path named.
    let (s, body) = intake(&station, &app, ITEM, json!({"channel": "fax"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(app.count("cases").await, cases_before, "nothing written");

    // Home visit, mailed: recorded as chosen, and the list filters by channel.
    let (s, visit) = intake(
        &station,
        &app,
        ITEM,
        json!({"channel": "home_visit", "handout": {"method": "mail", "address": " 阳光社区3栋501 赵桂英 13800138000 "}}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{visit}");
    assert_eq!(visit["channel"], "home_visit");
    assert_eq!(visit["places"]["handout"]["method"], "mail");
    assert_eq!(
        visit["places"]["handout"]["address"],
        "阳光社区3栋501 赵桂英 13800138000"
    );
    let (s, online) = intake(
        &clerk,
        &app,
        ITEM,
        json!({"channel": "online", "intake_place_kind": "agency_point"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{online}");
    assert_eq!(online["channel"], "online");
    assert_eq!(online["intake_place_kind"], "agency_point");
    let (_, homes) = clerk.get("/api/v1/cases?channel=home_visit").await;
    assert_eq!(
        case_nos(&homes),
        vec![visit["case_no"].as_str().unwrap().to_string()]
    );
    assert_eq!(homes["items"][0]["channel"], "home_visit");
    // The window's list page filters the same way.
    let html = clerk
        .client
        .get(app.url("/window/cases?channel=home_visit"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<option value=\"home_visit\" selected>上门服务</option>"),
        "{html}"
    );
    assert!(html.contains(visit["case_no"].as_str().unwrap()));
    assert!(!html.contains(online["case_no"].as_str().unwrap()));
    let (s, body) = clerk.get("/api/v1/cases?channel=fax").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["fields"][0]["code"], "unknown_channel");
    // Mailed: issued by mail with its tracking number, from the intake place.
    let id = visit["id"].as_i64().unwrap();
    decide(&app, id).await;
    // Chosen to be mailed: not handed over at a window instead.
    let (s, body) = act(
        &app,
        &station,
        id,
        json!({"action": "issue", "method": "window"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "method", "{body}");
    assert_eq!(body["fields"][0]["code"], "not_the_chosen_handout");
    let (s, body) = act(
        &app,
        &station,
        id,
        json!({"action": "issue", "method": "mail", "tracking_no": "SF1234567890"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

async fn backfill_keeps_the_original_acceptance(app: TestApp) {
    let clerk = app.login("clerk").await;
    // Now is Monday 2026-11-23 09:00; the paper was taken in on Wednesday 18 November.
    let (s, paper) = intake(
        &clerk,
        &app,
        ITEM,
        json!({"backfill": {"accepted_at": "2026-11-18 10:30", "reason": "系统故障，纸质受理"}}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{paper}");
    assert_eq!(paper["backfilled"], true);
    assert_eq!(paper["accepted_on"], "2026-11-18");
    // Ten working days from the original date, not from today.
    assert_eq!(paper["due_date"], "2026-12-02");
    let (_, today) = intake(&clerk, &app, ITEM, json!({})).await;
    assert_eq!(today["accepted_on"], "2026-11-23");
    assert_eq!(today["due_date"], "2026-12-07");
    assert_eq!(today["backfilled"], false);

    // Audited with both times.
    let admin = app.login("admin").await;
    let (_, audit) = admin.get("/api/v1/audit?action=case.backfill").await;
    let event = &audit["items"][0];
    assert_eq!(event["entity_id"], paper["case_no"], "{audit}");
    let detail: Value = serde_json::from_str(event["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["accepted_at"], "2026-11-18 10:30", "{audit}");
    assert_eq!(detail["entered_at"], "2026-11-23 09:00");
    assert_eq!(detail["reason"], "系统故障，纸质受理");
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "one 补录 only");

    // Marked as 补录 on the case page, the receipt and in the list.
    let id = paper["id"].as_i64().unwrap();
    let page = |path: String| {
        let c = clerk.client.clone();
        let url = app.url(&path);
        async move { c.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let html = page(format!("/cases/{id}")).await;
    assert!(html.contains("id=\"case-backfilled\""), "{html}");
    assert!(html.contains("纸质受理于 2026-11-18 10:30"), "{html}");
    let receipt = page(format!("/cases/{id}/receipt")).await;
    assert!(
        receipt.contains("您于2026-11-18 10:30申请办理"),
        "{receipt}"
    );
    assert!(receipt.contains("id=\"receipt-backfill\""));
    let (_, list) = clerk.get("/api/v1/cases?queue=intake").await;
    let row = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap();
    assert_eq!(row["backfilled"], true);
}

async fn backfill_refusals_change_nothing(app: TestApp) {
    let clerk = app.login("clerk").await;
    // Signed in first: a login is audited too.
    let others = [
        ("guide", app.login("guide").await),
        ("supervisor", app.login("supervisor").await),
        ("approver", app.login("approver").await),
    ];
    let cases = app.count("cases").await;
    let audit = app.audit_head().await;
    let refused = [
        (
            json!({"accepted_at": "2026-11-23 09:01", "reason": "停电"}),
            "backfill_accepted_at",
            "in_future",
        ),
        (
            json!({"accepted_at": "2026-10-23 08:59", "reason": "停电"}),
            "backfill_accepted_at",
            "too_old",
        ),
        (
            json!({"accepted_at": "2026-11-20 10:00", "reason": "  "}),
            "backfill_reason",
            "required",
        ),
        (
            json!({"accepted_at": "2026-11-20 10:00"}),
            "backfill_reason",
            "required",
        ),
        (
            json!({"accepted_at": "yesterday", "reason": "停电"}),
            "backfill_accepted_at",
            "invalid_time",
        ),
        (
            json!({"accepted_at": "2026-11-20 10:00", "reason": "因".repeat(501)}),
            "backfill_reason",
            "too_long",
        ),
    ];
    for (backfill, field, code) in refused {
        let (s, body) = intake(&clerk, &app, ITEM, json!({ "backfill": backfill })).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{backfill}: {body}");
        assert!(
            body["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["field"] == field && f["code"] == code),
            "{backfill}: {body}"
        );
    }
    // The oldest allowed: exactly thirty days back.
    let (s, body) = intake(
        &clerk,
        &app,
        ITEM,
        json!({"backfill": {"accepted_at": "2026-10-24 09:00", "reason": "停电"}}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let cases = cases + 1;
    let audit = app.audit_head().await.max(audit);
    // A paper intake with materials missing is not a 补录 (it would be a notice).
    let body = json!({
        "item_code": ITEM, "applicant_kind": "person", "applicant_name": "赵桂英",
        "applicant_id": "11010519491231002X", "applicant_phone": "13800138000",
        "materials": {},
        "backfill": {"accepted_at": "2026-11-20 10:00", "reason": "停电"},
    });
    let (s, refused) = clerk.post("/api/v1/cases", body).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["fields"][0]["code"], "backfill_not_accepted");
    // Roles without intake cannot enter one either.
    for (who, api) in &others {
        let (s, _) = intake(
            api,
            &app,
            ITEM,
            json!({"backfill": {"accepted_at": "2026-11-20 10:00", "reason": "停电"}}),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{who}");
    }
    assert_eq!(app.count("cases").await, cases, "refusals write nothing");
    assert_eq!(app.audit_head().await, audit);
}

fn confirmation_of(html: &str) -> String {
    let i = html
        .find("name=\"confirmed\" value=\"")
        .unwrap_or_else(|| panic!("a decision to confirm: {html}"))
        + 24;
    let end = html[i..].find('"').unwrap() + i;
    html[i..end].to_string()
}

async fn the_intake_form_records_places_channel_and_backfill(app: TestApp) {
    let station = app.login("clerk-yangguang").await;
    let item: Value = app
        .browser()
        .get(app.url(&format!("/api/v1/catalog/items/{ITEM}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let html = station
        .client
        .get(app.url(&format!("/window/intake?item={ITEM}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The form offers the channels a clerk records (not online) and the pick-up places.
    assert!(html.contains("value=\"home_visit\""), "{html}");
    assert!(!html.contains("value=\"online\""));
    assert!(html.contains("和平社区（社区服务站）"));
    assert!(html.contains("name=\"backfill_accepted_at\""));
    let mut form: Vec<(String, String)> = vec![
        ("_csrf".into(), station.csrf.clone()),
        ("item_code".into(), ITEM.into()),
        ("applicant_kind".into(), "person".into()),
        ("applicant_name".into(), "孙丽华".into()),
        ("applicant_id".into(), "11010519491231002X".into()),
        ("applicant_phone".into(), "13800138000".into()),
        ("channel".into(), "phone_booking".into()),
        ("handout_method".into(), "mail".into()),
        (
            "handout_place".into(),
            app.org_id("yangguang").await.to_string(),
        ),
        (
            "handout_address".into(),
            "阳光社区5栋101 孙丽华 13800138000".into(),
        ),
        ("backfill_accepted_at".into(), "2026-11-20T15:45".into()),
        ("backfill_reason".into(), "停电，纸质受理".into()),
    ];
    for m in item["item"]["materials"].as_array().unwrap() {
        if m["required"] == true {
            form.push((
                format!("m:{}", m["name"].as_str().unwrap()),
                "submitted".into(),
            ));
        }
    }
    // A refusal first: the page names the field in Chinese and keeps what was typed.
    let mut online = form.clone();
    online.retain(|(k, _)| k != "channel");
    online.push(("channel".into(), "online".into()));
    let res = station
        .client
        .post(app.url("/window/intake"))
        .form(&online)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("网上申请由网上渠道提交"), "{html}");
    assert!(html.contains("停电，纸质受理"));
    // Checked, then confirmed.
    let res = station
        .client
        .post(app.url("/window/intake"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let confirmed = confirmation_of(&res.text().await.unwrap());
    form.push(("confirmed".into(), confirmed));
    let res = station
        .client
        .post(app.url("/window/intake"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let receipt_path = res.headers()["location"].to_str().unwrap().to_string();
    let id: i64 = receipt_path
        .trim_start_matches("/cases/")
        .trim_end_matches("/receipt")
        .parse()
        .unwrap();
    let (_, case) = station.get(&format!("/api/v1/cases/{id}")).await;
    assert_eq!(case["channel"], "phone_booking");
    assert_eq!(case["intake_place_kind"], "community_station");
    assert_eq!(case["places"]["handout"]["method"], "mail");
    assert_eq!(case["accepted_on"], "2026-11-20");
    assert_eq!(case["backfill_reason"], "停电，纸质受理");
    let receipt = station
        .client
        .get(app.url(&receipt_path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(receipt.contains("阳光社区（社区服务站）"), "{receipt}");
    assert!(receipt.contains("邮寄送达：阳光社区5栋101"), "{receipt}");
    assert!(receipt.contains("2026-11-20 15:45"));
    let page = station
        .client
        .get(app.url(&format!("/cases/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("电话预约"), "{page}");
    assert!(page.contains("审批决定</dt><dd id=\"case-decider\">区民政局"));
}

async fn demo_cases_at_the_yangguang_station(app: TestApp) {
    let numbers = onewindow_store::demo::seed_station_cases(&app.store, app.clock_now())
        .await
        .expect("demo cases");
    assert_eq!(numbers.len(), 3);
    let station = app.login("clerk-yangguang").await;
    let (_, queue) = station.get("/api/v1/cases?queue=issuance").await;
    assert_eq!(case_nos(&queue), vec![numbers[0].clone()], "{queue}");
    let (_, all) = station.get("/api/v1/cases?queue=intake").await;
    let rows = all["items"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().any(|r| r["channel"] == "home_visit"));
    assert_eq!(rows.iter().filter(|r| r["backfilled"] == true).count(), 1);
    assert!(rows.iter().all(|r| r["intake_org_name"] == "阳光社区"));
}
