//! Fees at the one window, end to end on SQLite and PostgreSQL: the public fee table,
//! payments with receipts (audited), refunds with reasons, 先缴费后出件 holding back
//! issuance, the daily cash-up per method, window and hall, refusals by role and scope,
//! catalog versions stored with a text fee, waivers (减免) with category and reason, a
//! bundle charging its lead item's fee, and payments, refunds and waivers append-only at
//! the database (raw UPDATE and DELETE refused by triggers).

mod common;

use common::{Api, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

on_both_backends!(
    the_fee_table_lists_the_catalog_fees,
    a_payment_is_recorded_audited_and_printed,
    refunds_need_a_reason_and_stay_within_the_payment,
    a_prepaid_item_is_issued_only_once_paid,
    the_cash_up_counts_the_hall_and_the_day,
    other_organisations_and_roles_are_refused,
    old_catalog_versions_with_a_text_fee_still_load,
    a_waiver_is_recorded_audited_and_shown_on_the_case_and_cash_up,
    a_bundle_charges_only_its_lead_items_fee,
    money_records_are_append_only_in_the_database,
    the_demo_shows_a_payment_beside_a_waiver,
    the_hand_out_place_takes_the_fee_before_handing_over,
);

/// 社会保障卡补领: 即办, 20.00 元/张, 先缴费后出件.
const CARD: &str = "RS-0402-01";
/// 住宅类不动产转移登记: 80.00 元/件.
const PROPERTY: &str = "ZJ-0104";

/// Takes in a 社保卡补领 application at `clerk`'s organisation: accepted (即办).
async fn card_case(clerk: &Api) -> Value {
    let (s, case) = clerk
        .post(
            "/api/v1/cases",
            json!({
                "item_code": CARD,
                "applicant_kind": "person",
                "applicant_name": "王五",
                "applicant_id": "11010519491231002X",
                "applicant_phone": "13800138000",
                "materials": { "居民身份证": "submitted" },
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    assert_eq!(case["state"], "accepted");
    case
}

async fn pay(api: &Api, case: &Value, body: Value) -> (StatusCode, Value) {
    api.post(&format!("/api/v1/cases/{}/payments", case["id"]), body)
        .await
}

async fn refund(api: &Api, case: &Value, payment: &Value, body: Value) -> (StatusCode, Value) {
    api.post(
        &format!(
            "/api/v1/cases/{}/payments/{}/refunds",
            case["id"], payment["id"]
        ),
        body,
    )
    .await
}

async fn act(api: &Api, case: &Value, body: Value) -> (StatusCode, Value) {
    let (_, fresh) = api.get(&format!("/api/v1/cases/{}", case["id"])).await;
    let mut body = body;
    body["version"] = fresh["version"].clone();
    api.post(&format!("/api/v1/cases/{}/actions", case["id"]), body)
        .await
}

async fn page(c: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let res = c.get(app.url(path)).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

/// Audit events of `action` about `entity_id`, after chaining what is pending.
async fn audited(app: &TestApp, action: &str, entity_id: &str) -> Vec<Value> {
    app.store.settle_audit().await.unwrap();
    sqlx::query("SELECT detail FROM audit_events WHERE action = $1 AND entity_id = $2 ORDER BY seq")
        .bind(action)
        .bind(entity_id)
        .fetch_all(app.store.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(&r.get::<String, _>("detail")).unwrap())
        .collect()
}

fn field(body: &Value) -> (&str, &str) {
    (
        body["fields"][0]["field"].as_str().unwrap_or(""),
        body["fields"][0]["code"].as_str().unwrap_or(""),
    )
}

async fn the_fee_table_lists_the_catalog_fees(app: TestApp) {
    let anon = app.browser();
    let get = |path: &'static str| {
        let c = anon.clone();
        let url = app.url(path);
        async move {
            let res = c.get(url).send().await.unwrap();
            (res.status(), res.json::<Value>().await.unwrap())
        }
    };
    let (s, all) = get("/api/v1/fees?limit=200").await;
    assert_eq!(s, StatusCode::OK, "{all}");
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 74, "every item of the demo catalog");
    let property = items.iter().find(|i| i["code"] == PROPERTY).unwrap();
    assert_eq!(property["fee"]["kind"], "fixed");
    assert_eq!(property["fee"]["amount_fen"], 8000);
    assert_eq!(property["fee"]["label"], "80.00 元/件");
    assert_eq!(property["fee"]["pay_before_issue"], true);
    assert!(property["fee"]["basis"]
        .as_str()
        .unwrap()
        .contains("发改价格规〔2016〕2559号"));
    let free = items.iter().find(|i| i["code"] == "MZ-0101").unwrap();
    assert_eq!(free["fee"]["label"], "不收费");

    // Only what charges, paged by keyset.
    let (_, first) = get("/api/v1/fees?charging=true&limit=2").await;
    let first_items = first["items"].as_array().unwrap();
    assert_eq!(first_items.len(), 2);
    let next = first["next"].as_str().expect("a next page");
    let res = anon.get(app.url(next)).send().await.unwrap();
    let second: Value = res.json().await.unwrap();
    let mut codes: Vec<String> = first_items
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|i| i["code"].as_str().unwrap().to_string())
        .collect();
    codes.sort();
    assert_eq!(codes, ["GA-0104", "RS-0402-01", "ZJ-0104"]);
    assert!(second["next"].is_null());
    let (s, bad) = get("/api/v1/fees?charging=maybe").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&bad).0, "charging");

    // The public page, and the guide's fee line that links to it.
    let (s, html) = page(&anon, &app, "/fees?charging=true").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("收费明细") && html.contains("住宅类不动产转移登记"));
    assert!(html.contains("80.00 元/件") && html.contains("20.00 元/张"));
    assert!(
        !html.contains("data-code=\"MZ-0101\""),
        "free items left out"
    );
    let (_, html) = page(&anon, &app, "/fees").await;
    assert!(html.contains("不收费") && html.contains("id=\"page-next\""));
    let (s, html) = page(&anon, &app, &format!("/guide/items/{PROPERTY}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("80.00 元/件") && html.contains("先缴费后出件"));
    assert!(html.contains("href=\"/fees\""));
    let (s, _) = page(&anon, &app, "/fees?charging=maybe").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn a_payment_is_recorded_audited_and_printed(app: TestApp) {
    let clerk = app.login("clerk").await;
    let case = card_case(&clerk).await;
    let (s, before) = clerk
        .get(&format!("/api/v1/cases/{}/payments", case["id"]))
        .await;
    assert_eq!(s, StatusCode::OK, "{before}");
    assert_eq!(before["fee"]["label"], "20.00 元/张");
    assert_eq!(before["balance"]["due_fen"], 2000);
    assert_eq!(before["balance"]["outstanding_fen"], 2000);
    assert_eq!(before["balance"]["unpaid_before_issue_fen"], 2000);

    // More than is owed, a quantity the clerk mistyped: refused, nothing written.
    let (s, body) = pay(&clerk, &case, json!({"method": "cash", "amount_fen": 2001})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field(&body), ("amount_fen", "exceeds_outstanding"));
    let (s, body) = pay(&clerk, &case, json!({"method": "cash", "quantity": 0})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field(&body).0, "quantity");
    let (s, body) = pay(&clerk, &case, json!({"method": "cheque"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field(&body).0, "method");
    assert_eq!(app.count("case_payments").await, 0);

    // The default amount is what is outstanding.
    let (s, paid) = pay(
        &clerk,
        &case,
        json!({"method": "mobile", "note": "流水 0001"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{paid}");
    let payment = &paid["payment"];
    assert_eq!(payment["amount_fen"], 2000);
    assert_eq!(payment["method"], "mobile");
    assert_eq!(payment["receipt_no"], "JF202611230001");
    assert_eq!(payment["amount_in_words"], "贰拾元整");
    assert_eq!(payment["hall_id"], app.org_id("xingfu-hall").await);
    assert_eq!(paid["balance"]["outstanding_fen"], 0);
    assert_eq!(paid["balance"]["settled"], true);
    let events = audited(&app, "fee.payment", case["case_no"].as_str().unwrap()).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["amount_fen"], 2000);
    assert_eq!(events[0]["receipt_no"], "JF202611230001");
    assert_eq!(events[0]["balance"]["outstanding_fen"], 0);

    // Nothing left to pay.
    let (s, body) = pay(&clerk, &case, json!({"method": "cash"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field(&body), ("amount_fen", "nothing_due"));
    // A free item takes no money.
    let (_, free_case) = clerk
        .post(
            "/api/v1/cases",
            json!({"item_code": "RS-0403", "applicant_kind": "person", "applicant_name": "王五",
                   "applicant_id": "11010519491231002X", "applicant_phone": "13800138000",
                   "materials": {"居民身份证": "submitted"}}),
        )
        .await;
    let (s, body) = pay(
        &clerk,
        &free_case,
        json!({"method": "cash", "amount_fen": 100}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field(&body), ("amount_fen", "free_item"));
    assert_eq!(app.count("case_payments").await, 1);

    // The receipt prints the amount in words; the case page lists the payment.
    let web = app.browser();
    login_form(&app, &web, "clerk").await;
    let (s, html) = page(
        &web,
        &app,
        &format!("/cases/{}/payments/{}/receipt", case["id"], payment["id"]),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("缴费收据") && html.contains("JF202611230001"));
    assert!(html.contains("人民币贰拾元整") && html.contains("¥20.00"));
    assert!(html.contains("移动支付") && html.contains("流水 0001"));
    let (_, html) = page(&web, &app, &format!("/cases/{}", case["id"])).await;
    assert!(html.contains("id=\"payments\"") && html.contains("data-receipt=\"JF202611230001\""));
    assert!(html.contains("已缴清"));
    assert!(!html.contains("id=\"pay-form\""), "nothing more to take");
    // A receipt of another case's id is no receipt.
    let (s, _) = page(
        &web,
        &app,
        &format!(
            "/cases/{}/payments/{}/receipt",
            free_case["id"], payment["id"]
        ),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// Logs a browser client in through the login form.
async fn login_form(app: &TestApp, c: &reqwest::Client, username: &str) {
    let (_, html) = page(c, app, "/login").await;
    let csrf = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let res = c
        .post(app.url("/login"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", username),
            ("password", onewindow_store::demo::DEMO_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

async fn refunds_need_a_reason_and_stay_within_the_payment(app: TestApp) {
    let clerk = app.login("clerk").await;
    let supervisor = app.login("supervisor").await;
    let case = card_case(&clerk).await;
    let (_, paid) = pay(&clerk, &case, json!({"method": "cash"})).await;
    let payment = paid["payment"].clone();

    let (s, body) = refund(
        &supervisor,
        &case,
        &payment,
        json!({"amount_fen": 2001, "reason": "多收"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field(&body), ("amount_fen", "exceeds_paid"));
    let (s, body) = refund(
        &supervisor,
        &case,
        &payment,
        json!({"amount_fen": 500, "reason": "  "}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field(&body), ("reason", "required"));
    // The clerk who took the money does not give it back.
    let (s, body) = refund(
        &clerk,
        &case,
        &payment,
        json!({"amount_fen": 500, "reason": "多收"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(app.count("case_refunds").await, 0);
    assert!(
        audited(&app, "fee.refund", case["case_no"].as_str().unwrap())
            .await
            .is_empty()
    );

    let (s, done) = refund(
        &supervisor,
        &case,
        &payment,
        json!({"amount_fen": 500, "reason": "重复收取部分工本费"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{done}");
    assert_eq!(done["refund"]["amount_fen"], 500);
    assert_eq!(done["refund"]["method"], "cash");
    assert_eq!(done["balance"]["refunded_fen"], 500);
    assert_eq!(done["balance"]["outstanding_fen"], 500);
    assert_eq!(done["payments"][0]["refunded_fen"], 500);
    // What is left of the payment is the most that can still come back.
    let (s, body) = refund(
        &supervisor,
        &case,
        &payment,
        json!({"amount_fen": 1501, "reason": "再退"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field(&body), ("amount_fen", "exceeds_paid"));
    let events = audited(&app, "fee.refund", case["case_no"].as_str().unwrap()).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["reason"], "重复收取部分工本费");
    assert_eq!(events[0]["receipt_no"], payment["receipt_no"]);
    // The rest, by default.
    let (s, done) = refund(
        &supervisor,
        &case,
        &payment,
        json!({"reason": "申请人撤销补卡"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{done}");
    assert_eq!(done["refund"]["amount_fen"], 1500);
    assert_eq!(done["balance"]["refunded_fen"], 2000);
    let (s, body) = refund(&supervisor, &case, &payment, json!({"reason": "再退"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(app.count("case_refunds").await, 2);

    // The refund page: the form, and its refusal named beside the field.
    let web = app.browser();
    login_form(&app, &web, "supervisor").await;
    let case2 = card_case(&clerk).await;
    let (_, paid2) = pay(&clerk, &case2, json!({"method": "card"})).await;
    let path = format!(
        "/cases/{}/payments/{}/refund",
        case2["id"], paid2["payment"]["id"]
    );
    let (s, html) = page(&web, &app, &path).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("id=\"refund-form\"") && html.contains("20.00 元"));
    let csrf = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let res = web
        .post(app.url(&path))
        .form(&[("_csrf", csrf.as_str()), ("amount", "5"), ("reason", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("请填写退费原因") && html.contains("value=\"5\""));
    let res = web
        .post(app.url(&path))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("amount", "5"),
            ("reason", "多收"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("case_refunds").await, 3);
}

async fn a_prepaid_item_is_issued_only_once_paid(app: TestApp) {
    let clerk = app.login("clerk").await;
    let case = card_case(&clerk).await;
    let (s, ready) = act(
        &clerk,
        &case,
        json!({"action": "complete_at_window", "opinion": "当场制卡"}),
    )
    .await;
    assert_eq!(
        (s, ready["state"].as_str()),
        (StatusCode::OK, Some("result_ready")),
        "{ready}"
    );
    let (s, body) = act(
        &clerk,
        &case,
        json!({"action": "issue", "method": "window"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field(&body).0, "unpaid_fee");
    assert!(
        body["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("20.00 元"),
        "{body}"
    );
    let (_, still) = clerk.get(&format!("/api/v1/cases/{}", case["id"])).await;
    assert_eq!(still["state"], "result_ready", "nothing changed");

    // The case page says why and offers the payment, not 出件.
    let web = app.browser();
    login_form(&app, &web, "clerk").await;
    let (_, html) = page(&web, &app, &format!("/cases/{}", case["id"])).await;
    assert!(html.contains("id=\"fee-blocks-issue\"") && html.contains("id=\"pay-form\""));
    assert!(!html.contains("id=\"do-issue\""), "出件 waits for the fee");

    // Paid in two parts through the page: the first leaves some owing.
    let csrf = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let post = |pairs: Vec<(&'static str, String)>| {
        let web = web.clone();
        let url = app.url(&format!("/cases/{}/payments", case["id"]));
        async move { web.post(url).form(&pairs).send().await.unwrap() }
    };
    let res = post(vec![
        ("_csrf", csrf.clone()),
        ("quantity", "1".into()),
        ("amount", "十元".into()),
        ("method", "cash".into()),
    ])
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("无法识别") && html.contains("value=\"十元\""),
        "{html}"
    );
    let res = post(vec![
        ("_csrf", csrf.clone()),
        ("quantity", "1".into()),
        ("amount", "12.50".into()),
        ("method", "cash".into()),
    ])
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let receipt = res.headers()["location"].to_str().unwrap().to_string();
    assert!(receipt.contains("/receipt"), "{receipt}");
    let (s, body) = act(
        &clerk,
        &case,
        json!({"action": "issue", "method": "window"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("7.50 元"),
        "{body}"
    );
    let res = post(vec![
        ("_csrf", csrf),
        ("quantity", "1".into()),
        ("amount", "7.5".into()),
        ("method", "card".into()),
    ])
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (s, issued) = act(
        &clerk,
        &case,
        json!({"action": "issue", "method": "window"}),
    )
    .await;
    assert_eq!(
        (s, issued["state"].as_str()),
        (StatusCode::OK, Some("issued")),
        "{issued}"
    );

    // A refund after issuance does not undo it, but is recorded against the balance.
    let supervisor = app.login("supervisor").await;
    let (_, fees) = clerk
        .get(&format!("/api/v1/cases/{}/payments", case["id"]))
        .await;
    let (s, _) = refund(
        &supervisor,
        &case,
        &fees["payments"][1],
        json!({"reason": "刷卡重复"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, fees) = clerk
        .get(&format!("/api/v1/cases/{}/payments", case["id"]))
        .await;
    assert_eq!(fees["balance"]["outstanding_fen"], 750);
}

async fn the_cash_up_counts_the_hall_and_the_day(app: TestApp) {
    let clerk = app.login("clerk").await;
    let community = app.login("clerk-yangguang").await;
    let supervisor = app.login("supervisor").await;
    let hall = app.org_id("xingfu-hall").await;
    let yangguang = app.org_id("yangguang").await;
    // The clerk signs in at window 1.
    let w1: i64 = sqlx::query("SELECT id FROM service_windows WHERE hall_id = $1 AND number = 1")
        .bind(hall)
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id");
    let (s, w) = clerk
        .post(
            &format!("/api/v1/queue/windows/{w1}/state"),
            json!({"state": "open"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{w}");

    // Day 1 at the hall: cash 20 (then 5 refunded), mobile 20; at the community: card 20.
    let a = card_case(&clerk).await;
    let (_, pa) = pay(&clerk, &a, json!({"method": "cash"})).await;
    assert_eq!(pa["payment"]["window_number"], 1);
    let b = card_case(&clerk).await;
    pay(&clerk, &b, json!({"method": "mobile"})).await;
    let c = card_case(&community).await;
    let (s, pc) = pay(&community, &c, json!({"method": "card"})).await;
    assert_eq!(s, StatusCode::CREATED, "{pc}");
    assert_eq!(pc["payment"]["hall_id"], yangguang);
    assert_eq!(
        pc["payment"]["receipt_no"], "JF202611230001",
        "each hall numbers its own"
    );
    let (s, _) = refund(
        &supervisor,
        &a,
        &pa["payment"],
        json!({"amount_fen": 500, "reason": "多收"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    // Day 2: another cash payment.
    app.clock.advance_secs(86_400);
    // Sessions last 12 hours: the next day starts with a new login.
    let clerk = app.login("clerk").await;
    let supervisor = app.login("supervisor").await;
    let d = card_case(&clerk).await;
    let (_, pd) = pay(&clerk, &d, json!({"method": "cash"})).await;
    assert_eq!(
        pd["payment"]["receipt_no"], "JF202611240001",
        "a new day starts again at 1"
    );

    let (s, day1) = clerk
        .get(&format!("/api/v1/halls/{hall}/cashup?day=2026-11-23"))
        .await;
    assert_eq!(s, StatusCode::OK, "{day1}");
    let t = &day1["hall"];
    assert_eq!(t["cash"]["received_fen"], 2000);
    assert_eq!(t["cash"]["refunded_fen"], 500);
    assert_eq!(t["cash"]["net_fen"], 1500);
    assert_eq!(t["mobile"]["received_fen"], 2000);
    assert_eq!(
        t["card"]["received_fen"], 0,
        "the community's card payment is not here"
    );
    assert_eq!(t["all"]["received_fen"], 4000);
    assert_eq!(t["all"]["net_fen"], 3500);
    assert_eq!(
        (t["all"]["payments"].as_i64(), t["all"]["refunds"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        day1["payments"].as_array().unwrap().len(),
        2,
        "day 2 is not here"
    );
    let lines = day1["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["window_number"], 1);
    assert_eq!(lines[0]["clerk_name"], "刘受理");
    assert_eq!(lines[0]["totals"]["all"]["net_fen"], 4000);
    assert!(lines[1]["window_number"].is_null());
    assert_eq!(lines[1]["clerk_name"], "李督查");
    assert_eq!(lines[1]["totals"]["cash"]["refunded_fen"], 500);
    let (_, day2) = supervisor
        .get(&format!("/api/v1/halls/{hall}/cashup?day=2026-11-24"))
        .await;
    assert_eq!(day2["hall"]["all"]["received_fen"], 2000);
    assert_eq!(day2["hall"]["cash"]["received_fen"], 2000);
    assert_eq!(day2["hall"]["all"]["refunds"], 0);
    let (_, community_day) = supervisor
        .get(&format!("/api/v1/halls/{yangguang}/cashup?day=2026-11-23"))
        .await;
    assert_eq!(community_day["hall"]["card"]["received_fen"], 2000);
    assert_eq!(community_day["hall"]["all"]["received_fen"], 2000);
    let (s, bad) = clerk
        .get(&format!("/api/v1/halls/{hall}/cashup?day=2026-11-31"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&bad), ("day", "invalid_date"));

    // The printable page, by default the clerk's hall and today.
    let web = app.browser();
    login_form(&app, &web, "clerk").await;
    let (s, html) = page(&web, &app, "/window/cashup?day=2026-11-23").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("收费日结单") && html.contains("幸福街道便民服务中心"));
    assert!(
        html.contains("<dd data-method=\"现金\">15.00 元</dd>"),
        "{html}"
    );
    assert!(html.contains("1号窗口") && html.contains("多收"));
    assert!(html.contains("data-print") && html.contains("/static/fees.css"));
    let (_, html) = page(&web, &app, "/window/cashup").await;
    assert!(html.contains("2026-11-24") && html.contains("<dd data-method=\"现金\">20.00 元</dd>"));
    let css = web.get(app.url("/static/fees.css")).send().await.unwrap();
    assert!(css.text().await.unwrap().contains("@media print"));
}

async fn other_organisations_and_roles_are_refused(app: TestApp) {
    let clerk = app.login("clerk").await;
    let community = app.login("clerk-yangguang").await;
    let approver = app.login("approver").await;
    let admin = app.login("admin").await;
    let hall = app.org_id("xingfu-hall").await;
    let case = card_case(&clerk).await;
    let before = app.count("case_payments").await;

    // A community clerk is outside the street's case and hall: both look unknown.
    let (s, body) = pay(&community, &case, json!({"method": "cash"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    let (s, _) = community.get(&format!("/api/v1/halls/{hall}/cashup")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = community
        .get(&format!("/api/v1/cases/{}/payments", case["id"]))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Roles without the permission: 403 whatever the scope.
    for api in [&approver, &admin] {
        let (s, body) = pay(api, &case, json!({"method": "cash"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    }
    let (s, _) = approver.get(&format!("/api/v1/halls/{hall}/cashup")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("case_payments").await,
        before,
        "refusals write nothing"
    );

    // A supervisor of another street may not refund this hall's payment.
    let (_, paid) = pay(&clerk, &case, json!({"method": "cash"})).await;
    let (s, other) = admin
        .post(
            "/api/v1/orgs",
            json!({"parent_id": app.org_id("district").await, "kind": "street", "name": "另一街道", "code": "other-street"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{other}");
    let (s, user) = admin
        .post(
            "/api/v1/users",
            json!({"org_id": other["id"], "username": "other-sup", "display_name": "外街督查",
                   "roles": ["supervisor"], "password": onewindow_store::demo::DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{user}");
    let outsider = app.login("other-sup").await;
    let (s, body) = refund(
        &outsider,
        &case,
        &paid["payment"],
        json!({"reason": "多收"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    let (s, _) = outsider.get(&format!("/api/v1/halls/{hall}/cashup")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A payment addressed under another case's id is no payment of it.
    let other_case = card_case(&clerk).await;
    let supervisor = app.login("supervisor").await;
    let (s, _) = refund(
        &supervisor,
        &other_case,
        &paid["payment"],
        json!({"reason": "多收"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(app.count("case_refunds").await, 0);
    // Pages answer the same way.
    let web = app.browser();
    login_form(&app, &web, "clerk-yangguang").await;
    let (s, _) = page(&web, &app, &format!("/window/cashup?hall={hall}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = page(&web, &app, &format!("/cases/{}/payments", case["id"])).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn old_catalog_versions_with_a_text_fee_still_load(app: TestApp) {
    let admin = app.login("admin").await;
    // Versions stored before fees were structured hold text.
    rewrite(&app, "MZ-0101", "不收费").await;
    rewrite(&app, "GA-0104", "工本费20元/张（首次申领免费）").await;

    let (s, free) = admin.get("/api/v1/catalog/items/MZ-0101").await;
    assert_eq!(s, StatusCode::OK, "{free}");
    assert_eq!(free["item"]["fee"]["kind"], "free");
    assert!(free["item"]["fee"].get("review").is_none());
    let (s, old) = admin.get("/api/v1/catalog/items/GA-0104").await;
    assert_eq!(s, StatusCode::OK, "{old}");
    let fee = &old["item"]["fee"];
    assert_eq!(
        (fee["kind"].as_str(), fee["amount_fen"].as_i64()),
        (Some("per_unit"), Some(2000))
    );
    assert_eq!(fee["unit"], "张");
    assert_eq!(fee["review"], "工本费20元/张（首次申领免费）");
    // Residents still read it; the fee table and the guide show what was stored.
    let anon = app.browser();
    let (s, html) = page(&anon, &app, "/guide/items/GA-0104").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("工本费20元/张（首次申领免费）"));
    let (s, _) = page(&anon, &app, "/fees").await;
    assert_eq!(s, StatusCode::OK);
    // The administrator is asked to check it, and a save of it unchecked is refused.
    let web = app.browser();
    login_form(&app, &web, "admin").await;
    let (_, html) = page(&web, &app, "/admin/catalog/items/GA-0104").await;
    assert!(html.contains("id=\"fee-review\"") && html.contains("name=\"fee.reviewed\""));
    let (s, body) = admin
        .put(
            "/api/v1/catalog/items/GA-0104",
            json!({"item": old["item"], "version": old["version"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field(&body), ("fee", "needs_review"));
    let mut checked = old["item"].clone();
    checked["fee"] = json!({"kind": "per_unit", "amount_fen": 2000, "unit": "张",
        "basis": "居住证制证费收费标准", "note": "首次申领免费", "pay_before_issue": true});
    let (s, body) = admin
        .put(
            "/api/v1/catalog/items/GA-0104",
            json!({"item": checked, "version": old["version"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    // Checked and saved: the fee table shows the new version, no longer waiting for review.
    let clerk = app.login("clerk").await;
    let (s, body) = clerk.get("/api/v1/fees?charging=true").await;
    assert_eq!(s, StatusCode::OK);
    assert!(body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["code"] == "GA-0104" && i["fee"].get("review").is_none()));
}

/// Makes the current version of `code` hold its fee as `text`, as versions stored before
/// fees were structured do.
async fn rewrite(app: &TestApp, code: &str, text: &str) {
    let row = sqlx::query(
            "SELECT v.id, v.body FROM catalog_item_versions v JOIN catalog_items i ON i.id = v.item_id \
             AND v.version = i.current_version WHERE i.code = $1",
        )
        .bind(code)
        .fetch_one(app.store.reader())
        .await
        .unwrap();
    let mut body: Value = serde_json::from_str(&row.get::<String, _>("body")).unwrap();
    body["fee"] = json!(text);
    let mut tx = app.store.begin().await.unwrap();
    sqlx::query("UPDATE catalog_item_versions SET body = $1 WHERE id = $2")
        .bind(body.to_string())
        .bind(row.get::<i64, _>("id"))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn waive(api: &Api, case: &Value, body: Value) -> (StatusCode, Value) {
    api.post(&format!("/api/v1/cases/{}/waivers", case["id"]), body)
        .await
}

async fn a_waiver_is_recorded_audited_and_shown_on_the_case_and_cash_up(app: TestApp) {
    let clerk = app.login("clerk").await;
    let community = app.login("clerk-yangguang").await;
    let approver = app.login("approver").await;
    let hall = app.org_id("xingfu-hall").await;
    let case = card_case(&clerk).await;

    // Refusals: role, scope, no reason, more than owed, an unknown category.
    let (s, _) = waive(
        &approver,
        &case,
        json!({"category": "disabled", "reason": "残疾人证"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = waive(
        &community,
        &case,
        json!({"category": "disabled", "reason": "残疾人证"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, body) = waive(
        &clerk,
        &case,
        json!({"category": "disabled", "reason": " "}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field(&body), ("reason", "required"));
    let (s, body) = waive(
        &clerk,
        &case,
        json!({"category": "disabled", "reason": "残疾人证", "amount_fen": 2001}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&body), ("amount_fen", "exceeds_outstanding"));
    let (s, _) = waive(&clerk, &case, json!({"category": "free", "reason": "x"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.count("case_fee_waivers").await,
        0,
        "refusals write nothing"
    );

    // 5 元 waived for a disabled applicant: the window then takes the 15 元 left.
    let (s, body) = waive(
        &clerk,
        &case,
        json!({"category": "disabled", "reason": "残疾人证 11010519491231002X12", "amount_fen": 500}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["waiver"]["category"], "disabled");
    assert_eq!(body["waiver"]["category_label"], "残疾人");
    assert_eq!(body["waiver"]["clerk_name"], "刘受理");
    assert_eq!(body["balance"]["waived_fen"], 500);
    assert_eq!(body["balance"]["outstanding_fen"], 1500);
    let events = audited(&app, "fee.waiver", case["case_no"].as_str().unwrap()).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["amount_fen"], 500);
    assert_eq!(events[0]["category"], "disabled");
    let (s, paid) = pay(&clerk, &case, json!({"method": "cash"})).await;
    assert_eq!(s, StatusCode::CREATED, "{paid}");
    assert_eq!(paid["payment"]["amount_fen"], 1500);
    assert_eq!(paid["balance"]["settled"], true);
    assert_eq!(paid["balance"]["unpaid_before_issue_fen"], 0);
    // Nothing left to waive.
    let (s, body) = waive(&clerk, &case, json!({"category": "policy", "reason": "x"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&body), ("amount_fen", "not_positive"));

    // A whole waiver (低保) by the page form: the case owes nothing and nothing was taken.
    let other = card_case(&clerk).await;
    let web = app.browser();
    login_form(&app, &web, "clerk").await;
    let (_, html) = page(&web, &app, &format!("/cases/{}/payments", other["id"])).await;
    assert!(html.contains("id=\"waive-form\"") && html.contains("低保对象"));
    let csrf = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let post = |fields: Vec<(&'static str, String)>| {
        let mut fields = fields;
        fields.push(("_csrf", csrf.clone()));
        web.post(app.url(&format!("/cases/{}/waivers", other["id"])))
            .form(&fields)
            .send()
    };
    let res = post(vec![
        ("waiver.category", "minimum_living".into()),
        ("waiver.reason", String::new()),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("减免原因") && html.contains("role=\"alert\""),
        "{html}"
    );
    let res = post(vec![
        ("waiver.category", "minimum_living".into()),
        ("waiver.reason", "低保证 第2026001号".into()),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, fees) = clerk
        .get(&format!("/api/v1/cases/{}/payments", other["id"]))
        .await;
    assert_eq!(fees["balance"]["waived_fen"], 2000);
    assert_eq!(fees["balance"]["outstanding_fen"], 0);
    assert_eq!(fees["waivers"][0]["reason"], "低保证 第2026001号");
    let (_, html) = page(&web, &app, &format!("/cases/{}", other["id"])).await;
    assert!(
        html.contains("id=\"fee-waived\"") && html.contains("低保证 第2026001号"),
        "{html}"
    );

    // The cash-up lists the waivers beside the money, not in it.
    let (s, day) = clerk.get(&format!("/api/v1/halls/{hall}/cashup")).await;
    assert_eq!(s, StatusCode::OK, "{day}");
    assert_eq!(day["hall"]["all"]["received_fen"], 1500);
    assert_eq!(day["waivers"].as_array().unwrap().len(), 2);
    let waived = day["waived"].as_array().unwrap();
    assert_eq!(waived.len(), 2);
    assert_eq!(waived[0]["category"], "minimum_living");
    assert_eq!(waived[0]["amount_fen"], 2000);
    assert_eq!(waived[1]["category"], "disabled");
    assert_eq!(waived[1]["count"], 1);
    let (_, html) = page(&web, &app, "/window/cashup").await;
    assert!(html.contains("减免明细") && html.contains("id=\"cashup-waivers\""));
    assert!(
        html.contains("<dd data-category=\"低保对象\">1笔 20.00 元</dd>"),
        "{html}"
    );
}

async fn a_bundle_charges_only_its_lead_items_fee(app: TestApp) {
    // A bundle of two charging items: 社保卡补领 (20 元) first, 不动产转移登记 (80 元).
    let admin = app.login("admin").await;
    let (_, card) = admin.get(&format!("/api/v1/catalog/items/{CARD}")).await;
    let (_, property) = admin
        .get(&format!("/api/v1/catalog/items/{PROPERTY}"))
        .await;
    // The file holds what its items name: the card's parent item too.
    let parent = card["item"]["parent_code"].as_str().unwrap().to_string();
    let (_, parent) = admin.get(&format!("/api/v1/catalog/items/{parent}")).await;
    let (s, report) = admin
        .post(
            "/api/v1/catalog/import",
            json!({"items": [parent["item"], card["item"], property["item"]],
                   "bundles": [{"code": "YJS-90", "name": "测试一件事", "description": "两项收费事项",
                                "item_codes": [CARD, PROPERTY]}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    let clerk = app.login("clerk").await;
    let (_, bundle) = clerk.get("/api/v1/catalog/bundles/YJS-90").await;
    let ticks: serde_json::Map<String, Value> = bundle["materials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_string(), json!("submitted")))
        .collect();
    let (s, case) = clerk
        .post(
            "/api/v1/cases",
            json!({"bundle_code": "YJS-90", "applicant_kind": "person", "applicant_name": "王五",
                   "applicant_id": "11010519491231002X", "applicant_phone": "13800138000",
                   "materials": ticks}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    let (_, fees) = clerk
        .get(&format!("/api/v1/cases/{}/payments", case["id"]))
        .await;
    assert_eq!(
        fees["fee"]["amount_fen"], 2000,
        "the lead item's fee: {fees}"
    );
    assert_eq!(fees["balance"]["due_fen"], 2000, "one fee for the bundle");
    let (s, body) = pay(&clerk, &case, json!({"method": "cash", "amount_fen": 2001})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (s, _) = pay(&clerk, &case, json!({"method": "cash"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, fees) = clerk
        .get(&format!("/api/v1/cases/{}/payments", case["id"]))
        .await;
    assert_eq!(fees["balance"]["settled"], true);
    // The guide and the case page say so.
    let anon = app.browser();
    let (_, html) = page(&anon, &app, "/guide/bundles/YJS-90").await;
    assert!(
        html.contains("id=\"bundle-fee\"") && html.contains("20.00 元"),
        "{html}"
    );
    assert!(html.contains("只收取牵头事项") && !html.contains("80.00 元"));
    let (_, html) = page(&clerk.client, &app, &format!("/cases/{}", case["id"])).await;
    assert!(html.contains("id=\"fee-bundle\""), "{html}");
}

async fn money_records_are_append_only_in_the_database(app: TestApp) {
    use sqlx::Connection;
    let clerk = app.login("clerk").await;
    let supervisor = app.login("supervisor").await;
    let case = card_case(&clerk).await;
    let (_, paid) = pay(&clerk, &case, json!({"method": "cash", "amount_fen": 1000})).await;
    let (s, _) = refund(
        &supervisor,
        &case,
        &paid["payment"],
        json!({"amount_fen": 100, "reason": "多收"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = waive(
        &clerk,
        &case,
        json!({"category": "policy", "reason": "政策减免"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);

    // A connection of its own, as an operator with a SQL console would have.
    let mut raw = sqlx::AnyConnection::connect(&app.db_url).await.unwrap();
    for table in ["case_payments", "case_refunds", "case_fee_waivers"] {
        let before = app.count(table).await;
        assert_eq!(before, 1, "{table}");
        for sql in [
            format!("UPDATE {table} SET amount_fen = 1"),
            format!("DELETE FROM {table}"),
        ] {
            let err = sqlx::query(&sql)
                .execute(&mut raw)
                .await
                .expect_err(&sql)
                .to_string();
            assert!(err.contains("append-only"), "{sql}: {err}");
        }
        assert_eq!(app.count(table).await, before);
    }
    let amount: i64 = sqlx::query("SELECT amount_fen FROM case_payments")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("amount_fen");
    assert_eq!(amount, 1000, "unchanged");
    raw.close().await.unwrap();
}

async fn the_demo_shows_a_payment_beside_a_waiver(app: TestApp) {
    onewindow_store::demo::seed_fee_examples(&app.store, app.clock_now())
        .await
        .unwrap();
    let clerk = app.login("clerk").await;
    let hall = app.org_id("xingfu-hall").await;
    let (s, day) = clerk.get(&format!("/api/v1/halls/{hall}/cashup")).await;
    assert_eq!(s, StatusCode::OK, "{day}");
    assert_eq!(day["hall"]["cash"]["received_fen"], 2000);
    assert_eq!(day["payments"].as_array().unwrap().len(), 1);
    let waivers = day["waivers"].as_array().unwrap();
    assert_eq!(waivers.len(), 1);
    assert_eq!(waivers[0]["category"], "disabled");
    assert_eq!(waivers[0]["amount_fen"], 2000);
    let case_id = waivers[0]["case_id"].as_i64().unwrap();
    let (_, fees) = clerk
        .get(&format!("/api/v1/cases/{case_id}/payments"))
        .await;
    assert_eq!(fees["balance"]["settled"], true);
    assert_eq!(fees["balance"]["unpaid_before_issue_fen"], 0);
    assert!(
        !audited(&app, "fee.waiver", waivers[0]["case_no"].as_str().unwrap())
            .await
            .is_empty()
    );
}

async fn the_hand_out_place_takes_the_fee_before_handing_over(app: TestApp) {
    // Taken in at the street hall, collected at the Yangguang station: the applicant pays
    // where the card is handed over, not back at the street.
    let clerk = app.login("clerk").await;
    let station_id = app.org_id("yangguang").await;
    let (s, case) = clerk
        .post(
            "/api/v1/cases",
            json!({
                "item_code": CARD,
                "applicant_kind": "person",
                "applicant_name": "王五",
                "applicant_id": "11010519491231002X",
                "applicant_phone": "13800138000",
                "materials": { "居民身份证": "submitted" },
                "handout": {"method": "window", "place_org_id": station_id},
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    let (s, ready) = act(
        &clerk,
        &case,
        json!({"action": "complete_at_window", "opinion": "当场制卡"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{ready}");
    let station = app.login("clerk-yangguang").await;
    let (s, paid) = pay(&station, &case, json!({"method": "cash"})).await;
    assert_eq!(s, StatusCode::CREATED, "{paid}");
    let (s, issued) = act(
        &station,
        &case,
        json!({"action": "issue", "method": "window"}),
    )
    .await;
    assert_eq!(
        (s, issued["state"].as_str()),
        (StatusCode::OK, Some("issued")),
        "{issued}"
    );
    // A case the station neither took in nor hands out is not the station's to charge.
    let (s, _) = pay(
        &station,
        &card_case(&clerk).await,
        json!({"method": "cash"}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "the street's own case is not the station's"
    );
}
