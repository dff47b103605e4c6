//! Visits per case and 一次办结: a case taken in or handed out while the clerk serves a
//! ticket links to it by itself, the ticket's finish records one visit per linked case
//! (once, however often it is named or finished); an appointment's check-in counts; mail
//! and electronic issuance add none; the 一次办结 figure per period, hall and item from the
//! rollup; confirmations at the window and on the case page; refusals. Both backends.

mod common;

use common::{Api, TestApp};
use onewindow_store::demo::DEMO_PASSWORD;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    a_finished_ticket_records_one_visit_per_linked_case,
    an_appointment_check_in_counts_as_the_visit,
    mail_and_electronic_issuance_add_no_visit_and_the_figure_counts_a_mix,
    pages_confirm_what_happened_and_show_the_visits,
    other_organisations_see_neither_visits_nor_figures,
    the_demo_shows_visits_and_the_figure,
    the_channel_decides_whether_an_intake_is_a_trip,
);

/// 高龄津贴申请 (区民政局, 10 working days, listed for 即审即办; the demo clerk holds the
/// grant).
const ITEM: &str = "MZ-0104";

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

/// An intake of `ITEM` with every required material, plus `extra` fields.
async fn intake(api: &Api, app: &TestApp, extra: Value) -> Value {
    let item = item(app, ITEM).await;
    let mut materials = serde_json::Map::new();
    for m in item["item"]["materials"].as_array().unwrap() {
        if m["required"] == true {
            materials.insert(m["name"].as_str().unwrap().into(), json!("submitted"));
        }
    }
    let mut body = json!({
        "item_code": ITEM,
        "applicant_kind": "person",
        "applicant_name": "张三",
        "applicant_id": "11010519491231002X",
        "applicant_phone": "13800138000",
        "materials": materials,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, case) = api.post("/api/v1/cases", body).await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    case
}

async fn act(api: &Api, case: &Value, body: Value) -> Value {
    let (s, after) = act_status(api, case, body).await;
    assert_eq!(s, StatusCode::OK, "{after}");
    after
}

async fn act_status(api: &Api, case: &Value, body: Value) -> (StatusCode, Value) {
    let mut body = body;
    body["version"] = case["version"].clone();
    api.post(&format!("/api/v1/cases/{}/actions", case["id"]), body)
        .await
}

/// The approver takes, approves and marks the result ready.
async fn decide(approver: &Api, case: &Value) -> Value {
    let case = act(approver, case, json!({"action": "take"})).await;
    let case = act(
        approver,
        &case,
        json!({"action": "approve", "opinion": "同意"}),
    )
    .await;
    let case = act(approver, &case, json!({"action": "result_ready"})).await;
    assert_eq!(case["state"], "result_ready");
    case
}

async fn case_of(api: &Api, case: &Value) -> Value {
    let (s, full) = api.get(&format!("/api/v1/cases/{}", case["id"])).await;
    assert_eq!(s, StatusCode::OK, "{full}");
    full
}

async fn visits(api: &Api, case: &Value) -> Vec<Value> {
    let full = case_of(api, case).await;
    assert_eq!(
        full["visit_count"],
        full["visits"].as_array().unwrap().len()
    );
    full["visits"].as_array().unwrap().clone()
}

/// The id of the demo hall's window `number`.
async fn window(app: &TestApp, number: i64) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT id FROM service_windows WHERE number = $1")
        .bind(number)
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id")
}

/// Opens window 4 (民政, class C) for the clerk.
async fn open_window(clerk: &Api, app: &TestApp) -> i64 {
    let w = window(app, 4).await;
    let (s, body) = clerk
        .post(
            &format!("/api/v1/queue/windows/{w}/state"),
            json!({"state": "open"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    w
}

/// A walk-in ticket of class C, called to window `w` and being served.
async fn serve_walk_in(guide: &Api, clerk: &Api, app: &TestApp, w: i64) -> Value {
    let hall = app.org_id("xingfu-hall").await;
    let (s, t) = guide
        .post(
            &format!("/api/v1/queue/halls/{hall}/tickets"),
            json!({"class": "C"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    serve_next(clerk, w, &t).await
}

async fn serve_next(clerk: &Api, w: i64, expected: &Value) -> Value {
    let (s, called) = clerk
        .post(&format!("/api/v1/queue/windows/{w}/call-next"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{called}");
    assert_eq!(called["ticket"]["id"], expected["id"]);
    ticket_act(clerk, &called["ticket"], json!({"action": "start_service"})).await
}

async fn ticket_act(clerk: &Api, t: &Value, body: Value) -> Value {
    let (s, after) = ticket_act_status(clerk, t, body).await;
    assert_eq!(s, StatusCode::OK, "{after}");
    after
}

async fn ticket_act_status(clerk: &Api, t: &Value, body: Value) -> (StatusCode, Value) {
    clerk
        .post(&format!("/api/v1/queue/tickets/{}/actions", t["id"]), body)
        .await
}

async fn count_visits(app: &TestApp) -> i64 {
    app.count("case_visits").await
}

async fn a_finished_ticket_records_one_visit_per_linked_case(app: TestApp) {
    let base = count_visits(&app).await;
    let audited = visit_audits(&app).await;
    let guide = app.login("guide").await;
    let clerk = app.login("clerk").await;
    let w = open_window(&clerk, &app).await;
    let t = serve_walk_in(&guide, &clerk, &app, w).await;
    // Two cases taken in while serving the ticket: both linked by themselves, no visit yet.
    let first = intake(&clerk, &app, json!({})).await;
    let second = intake(&clerk, &app, json!({})).await;
    assert_eq!(
        count_visits(&app).await,
        base,
        "the finish records the visits"
    );
    let hall = app.org_id("xingfu-hall").await;
    let (_, list) = clerk
        .get(&format!("/api/v1/queue/halls/{hall}/tickets"))
        .await;
    let linked = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == t["id"])
        .unwrap()["case_nos"]
        .clone();
    assert_eq!(linked, json!([first["case_no"], second["case_no"]]));
    // Naming a linked case again at the finish links nothing twice.
    let done = ticket_act(
        &clerk,
        &t,
        json!({"action": "finish", "case_nos": [first["case_no"]]}),
    )
    .await;
    assert_eq!(done["state"], "done");
    assert_eq!(
        done["case_nos"],
        json!([first["case_no"], second["case_no"]])
    );
    for case in [&first, &second] {
        let v = visits(&clerk, case).await;
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0]["kind"], "ticket");
        assert_eq!(v[0]["kind_label"], "取号办理");
        assert_eq!(v[0]["ticket_number"], t["number"]);
        assert_eq!(v[0]["window_number"], 4);
        assert_eq!(v[0]["org_name"], "幸福街道便民服务中心");
        assert_eq!(v[0]["clerk_name"], "刘受理");
        assert_eq!(v[0]["day"], "2026-11-23");
    }
    // Finishing it again is refused by the ticket's machine and records nothing.
    let (s, _) = ticket_act_status(&clerk, &t, json!({"action": "finish"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(count_visits(&app).await, base + 2);
    // A second ticket the same day naming the first case: the same trip, one visit.
    let t2 = serve_walk_in(&guide, &clerk, &app, w).await;
    let third = intake(&clerk, &app, json!({})).await;
    ticket_act(
        &clerk,
        &t2,
        json!({"action": "finish", "case_nos": [first["case_no"]]}),
    )
    .await;
    assert_eq!(visits(&clerk, &first).await.len(), 1);
    assert_eq!(visits(&clerk, &third).await.len(), 1);
    assert_eq!(count_visits(&app).await, base + 3);
    // A number that is no case is refused whole: the ticket stays served, nothing written.
    let t3 = serve_walk_in(&guide, &clerk, &app, w).await;
    let (s, body) = ticket_act_status(
        &clerk,
        &t3,
        json!({"action": "finish", "case_nos": ["YC20990101999999"]}),
    )
    .await;
    assert_eq!(
        (
            s,
            body["fields"][0]["field"].as_str(),
            body["fields"][0]["code"].as_str()
        ),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("case_nos"),
            Some("unknown_case")
        )
    );
    // A case taken in with no ticket being served: the intake at the window is the visit.
    ticket_act(&clerk, &t3, json!({"action": "finish"})).await;
    let walk_up = intake(&clerk, &app, json!({})).await;
    let v = visits(&clerk, &walk_up).await;
    assert_eq!(
        (v.len(), v[0]["kind"].as_str(), v[0]["ticket_id"].is_null()),
        (1, Some("intake"), true)
    );
    // Every visit is audited.
    assert_eq!(visit_audits(&app).await, audited + 4);
}

async fn visit_audits(app: &TestApp) -> i64 {
    use sqlx::Row;
    app.store.settle_audit().await.unwrap();
    sqlx::query("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'case.visit'")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("n")
}

/// The 一次办结 figures the caller sees over a period: (issued, in one visit) in total and
/// on the line of organisation `org` (by hall).
async fn one_visit(api: &Api, query: &str, org: i64) -> ((i64, i64), (i64, i64)) {
    let (s, f) = api.get(&format!("/api/v1/figures/visits{query}")).await;
    assert_eq!(s, StatusCode::OK, "{f}");
    let line = f["by_hall"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["org_id"].as_i64() == Some(org))
        .map(|l| {
            (
                l["issued"].as_i64().unwrap(),
                l["in_one_visit"].as_i64().unwrap(),
            )
        })
        .unwrap_or((0, 0));
    (
        (
            f["issued"].as_i64().unwrap(),
            f["in_one_visit"].as_i64().unwrap(),
        ),
        line,
    )
}

async fn an_appointment_check_in_counts_as_the_visit(app: TestApp) {
    let hall = app.org_id("xingfu-hall").await;
    let c = app.browser();
    let slots: Vec<Value> = c
        .get(app.url(&format!(
            "/api/v1/queue/halls/{hall}/slots?class=C&date=2026-11-23"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slot = slots
        .iter()
        .find(|s| s["start_time"].as_str().unwrap() >= "09:30")
        .expect("a morning slot")
        .clone();
    let r = c
        .post(app.url(&format!("/api/v1/queue/halls/{hall}/appointments")))
        .json(&json!({"slot_id": slot["id"], "name": "王奶奶", "id_number": "11010519491231002X", "phone": "13800138000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let booking: Value = r.json().await.unwrap();
    // Ten minutes before the slot (the demo day starts at 09:00).
    let start = slot["start_time"].as_str().unwrap();
    let minutes: i64 =
        start[..2].parse::<i64>().unwrap() * 60 + start[3..].parse::<i64>().unwrap() - 9 * 60;
    app.clock.advance_secs((minutes - 10) * 60);
    let guide = app.login("guide").await;
    let clerk = app.login("clerk").await;
    let (s, t) = guide
        .post(
            &format!(
                "/api/v1/queue/appointments/{}/check-in?hall={hall}",
                booking["code"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let w = open_window(&clerk, &app).await;
    let t = serve_next(&clerk, w, &t).await;
    let case = intake(&clerk, &app, json!({})).await;
    ticket_act(&clerk, &t, json!({"action": "finish"})).await;
    let v = visits(&clerk, &case).await;
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["kind"], "appointment");
    assert_eq!(v[0]["kind_label"], "预约签到办理");
    assert!(v[0]["appointment_id"].as_i64().is_some(), "{v:?}");
    assert_eq!(v[0]["ticket_id"], t["id"]);
}

async fn mail_and_electronic_issuance_add_no_visit_and_the_figure_counts_a_mix(app: TestApp) {
    let street = app.org_id("xingfu").await;
    let supervisor = app.login("supervisor").await;
    let two_days = "?from=2026-11-23&to=2026-11-24";
    let (base, base_street) = one_visit(&supervisor, two_days, street).await;
    let (base_monday, _) = one_visit(&supervisor, "?from=2026-11-23&to=2026-11-23", street).await;
    let guide = app.login("guide").await;
    let clerk = app.login("clerk").await;
    let approver = app.login("approver").await;
    let w = open_window(&clerk, &app).await;
    // Monday. A: 即审即办 and handed over at once while the ticket is served — one visit.
    let t1 = serve_walk_in(&guide, &clerk, &app, w).await;
    let a = intake(
        &clerk,
        &app,
        json!({"approve_at_window": true, "issue_at_once": true}),
    )
    .await;
    assert_eq!(a["state"], "issued");
    ticket_act(&clerk, &t1, json!({"action": "finish"})).await;
    // D: taken in while a ticket is served (the pick-up comes on Tuesday).
    let t2 = serve_walk_in(&guide, &clerk, &app, w).await;
    let d = intake(&clerk, &app, json!({})).await;
    ticket_act(&clerk, &t2, json!({"action": "finish"})).await;
    // B, C, E: taken in at the window without a ticket.
    let b = intake(&clerk, &app, json!({})).await;
    let c = intake(&clerk, &app, json!({})).await;
    let e = intake(&clerk, &app, json!({})).await;
    let b = decide(&approver, &b).await;
    let c = decide(&approver, &c).await;
    let d = decide(&approver, &d).await;
    let e = decide(&approver, &e).await;
    // B mailed on Monday: no visit added.
    act(
        &clerk,
        &b,
        json!({"action": "issue", "method": "mail", "tracking_no": "SF1234567890"}),
    )
    .await;
    assert_eq!(visits(&clerk, &b).await.len(), 1);
    app.clock.advance_secs(86_400);
    let clerk = app.login("clerk").await;
    let guide = app.login("guide").await;
    // Tuesday. C issued as an electronic certificate: no visit added.
    act(
        &clerk,
        &c,
        json!({"action": "issue", "method": "electronic", "certificate_no": "DZ-2026-0001"}),
    )
    .await;
    assert_eq!(visits(&clerk, &c).await.len(), 1);
    // D picked up while a ticket is served: linked, its finish is the second visit (after
    // the hand-over was counted — the rollup is corrected).
    let t3 = serve_walk_in(&guide, &clerk, &app, w).await;
    let d = act(&clerk, &d, json!({"action": "issue", "method": "window"})).await;
    assert_eq!(d["state"], "issued");
    let done = ticket_act(&clerk, &t3, json!({"action": "finish"})).await;
    assert_eq!(done["case_nos"], json!([d["case_no"]]));
    let v = visits(&clerk, &d).await;
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!(
        (v[1]["kind"].as_str(), v[1]["day"].as_str()),
        (Some("ticket"), Some("2026-11-24"))
    );
    // E picked up at the window with no ticket: the hand-over is the second visit.
    act(&clerk, &e, json!({"action": "issue", "method": "window"})).await;
    let v = visits(&clerk, &e).await;
    assert_eq!(
        v.iter()
            .map(|v| v["kind"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["intake", "issuance"]
    );
    // 一次办结率 over Monday and Tuesday: A, B, C in one visit; D and E came twice.
    let supervisor = app.login("supervisor").await;
    let (total, line) = one_visit(&supervisor, two_days, street).await;
    assert_eq!((total.0 - base.0, total.1 - base.1), (5, 3));
    assert_eq!((line.0 - base_street.0, line.1 - base_street.1), (5, 3));
    if base == (0, 0) {
        let (_, f) = supervisor
            .get(&format!("/api/v1/figures/visits{two_days}"))
            .await;
        assert_eq!(f["one_visit_rate"], 0.6);
        assert_eq!(f["one_visit_rate_text"], "60.0%");
        assert_eq!(
            f["by_hall"],
            json!([{"org_id": street, "name": "幸福街道", "issued": 5, "in_one_visit": 3, "one_visit_rate": 0.6, "one_visit_rate_text": "60.0%"}])
        );
        assert_eq!(f["by_item"][0]["item_code"], ITEM);
        assert_eq!(f["by_item"][0]["issued"], 5);
    }
    // Per period: Monday alone had A and B, both in one visit.
    let (monday, _) = one_visit(&supervisor, "?from=2026-11-23&to=2026-11-23", street).await;
    assert_eq!((monday.0 - base_monday.0, monday.1 - base_monday.1), (2, 2));
    // Per item: another item has nothing, and says so (— rather than 0 %).
    let (_, other) = supervisor
        .get("/api/v1/figures/visits?from=2026-11-23&to=2026-11-24&item=RS-0001")
        .await;
    assert_eq!(other["issued"], 0);
    assert_eq!(other["one_visit_rate"], Value::Null);
    assert_eq!(other["one_visit_rate_text"], "—");
    // A period that ends before it starts names the field.
    let (s, body) = supervisor
        .get("/api/v1/figures/visits?from=2026-11-24&to=2026-11-23")
        .await;
    assert_eq!(
        (s, body["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("to"))
    );
    // The rollup alone holds the figure: rows per day, hall and item, not per case.
    use sqlx::Row;
    let rows: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM case_figures_daily WHERE issued > 0 AND item_code = $1",
    )
    .bind(ITEM)
    .fetch_one(app.store.reader())
    .await
    .unwrap()
    .get("n");
    assert!(rows >= 2, "Monday's and Tuesday's row of the hall and item");
    assert!(rows < 5, "a row per day, hall and item, not per case");
}

/// Logs in through the HTML form; returns the cookie-keeping client.
async fn form_login(app: &TestApp, username: &str) -> reqwest::Client {
    let c = app.browser();
    let (_, html) = page(&c, app, "/login").await;
    let res = c
        .post(app.url("/login"))
        .form(&[
            ("_csrf", csrf_of(&html).as_str()),
            ("username", username),
            ("password", DEMO_PASSWORD),
            ("next", "/home"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{username} logs in");
    c
}

fn csrf_of(html: &str) -> String {
    let i = html
        .find("name=\"_csrf\" value=\"")
        .expect("form has a CSRF field")
        + 20;
    html[i..i + 64].to_string()
}

async fn page(c: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let res = c.get(app.url(path)).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn pages_confirm_what_happened_and_show_the_visits(app: TestApp) {
    let guide = app.login("guide").await;
    let clerk = app.login("clerk").await;
    let approver = app.login("approver").await;
    let w = open_window(&clerk, &app).await;
    let t = serve_walk_in(&guide, &clerk, &app, w).await;
    let case = intake(&clerk, &app, json!({})).await;
    let case = decide(&approver, &case).await;
    let browser = form_login(&app, "clerk").await;
    // The window shows the case linked to the ticket being served.
    let (_, html) = page(&browser, &app, &format!("/counter/{w}")).await;
    let case_no = case["case_no"].as_str().unwrap();
    assert!(html.contains("id=\"linked-cases\""), "{html}");
    assert!(html.contains(case_no), "the linked case is shown");
    // 出件 on the case page: the page after the redirect says what happened, by number.
    let (_, html) = page(&browser, &app, &format!("/cases/{}", case["id"])).await;
    let res = browser
        .post(app.url(&format!("/cases/{}/act", case["id"])))
        .form(&[
            ("_csrf", csrf_of(&html).as_str()),
            ("version", &case["version"].to_string()),
            ("action", "issue"),
            ("method", "window"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(to, format!("/cases/{}?done=issue", case["id"]));
    let (_, html) = page(&browser, &app, &to).await;
    assert!(html.contains("id=\"case-done\""), "{html}");
    assert!(
        html.contains(&format!("出件：办件 {case_no}，现为“已出件”")),
        "{html}"
    );
    // 办结 at the window confirms the ticket and the case it recorded the visit for.
    let res = browser
        .post(app.url(&format!("/counter/{w}")))
        .form(&[
            ("_csrf", csrf_of(&html).as_str()),
            ("ticket_id", &t["id"].to_string()),
            ("op", "finish"),
            ("case_nos", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let number = t["number"].as_str().unwrap();
    assert!(
        html.contains(&format!("{number} 已办结，已记录到场：办件 {case_no}")),
        "{html}"
    );
    // Closing the window is confirmed too.
    let res = browser
        .post(app.url(&format!("/counter/{w}")))
        .form(&[("_csrf", csrf_of(&html).as_str()), ("op", "close")])
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("4号窗口已关窗"));
    // The case page lists the visit: when, how, where.
    let (_, html) = page(&browser, &app, &format!("/cases/{}", case["id"])).await;
    assert!(html.contains("id=\"case-visits\""), "{html}");
    assert!(html.contains(&format!("取号办理（{number}号）")), "{html}");
    assert!(html.contains("幸福街道便民服务中心 4号窗口"), "{html}");
    // The figures page shows 一次办结率 for the caller's scope.
    let (s, html) = page(&browser, &app, "/figures").await;
    assert_eq!(s, StatusCode::OK);
    let (_, f) = clerk.get("/api/v1/figures/visits").await;
    let rate = f["one_visit_rate_text"].as_str().unwrap();
    assert_ne!(rate, "—", "the hand-over is counted");
    assert!(
        html.contains(&format!("id=\"one-visit-rate\">{rate}<")),
        "{html}"
    );
    // The window list says which queues each window serves; a community clerk without
    // windows is told why.
    let (_, html) = page(&browser, &app, "/counter").await;
    assert!(
        html.contains("C 民政救济与残疾人保障、D 居住证与计划生育"),
        "{html}"
    );
    let community = form_login(&app, "clerk-yangguang").await;
    let (s, html) = page(&community, &app, "/counter").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("id=\"no-windows\""), "{html}");
    assert!(html.contains("阳光社区没有叫号窗口"), "{html}");
}

async fn other_organisations_see_neither_visits_nor_figures(app: TestApp) {
    let clerk = app.login("clerk").await;
    let approver = app.login("approver").await;
    let other = app.login("clerk-yangguang").await;
    let street = app.org_id("xingfu").await;
    let (mine_before, _) = one_visit(&clerk, "", street).await;
    let (theirs_before, _) = one_visit(&other, "", street).await;
    let case = intake(&clerk, &app, json!({})).await;
    let case = decide(&approver, &case).await;
    act(
        &clerk,
        &case,
        json!({"action": "issue", "method": "window"}),
    )
    .await;
    let (mine, _) = one_visit(&clerk, "", street).await;
    assert_eq!(mine.0, mine_before.0 + 1);
    // Another community's clerk: the case (and so its visits) looks unknown; the figures
    // of their scope hold nothing of the street's.
    let (s, _) = other.get(&format!("/api/v1/cases/{}", case["id"])).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (theirs, street_line) = one_visit(&other, "", street).await;
    assert_eq!(theirs, theirs_before, "nothing of the street's");
    assert_eq!(street_line, (0, 0), "the street is not in their figures");
    let browser = form_login(&app, "clerk-yangguang").await;
    let (s, _) = page(&browser, &app, &format!("/cases/{}", case["id"])).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A role without case figures is refused, on the API and the page.
    let grid = app.login("grid").await;
    let (s, body) = grid.get("/api/v1/figures/visits").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let browser = form_login(&app, "grid").await;
    let (s, _) = page(&browser, &app, "/figures").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn the_demo_shows_visits_and_the_figure(app: TestApp) {
    let supervisor = app.login("supervisor").await;
    let street = app.org_id("xingfu").await;
    let (before, _) = one_visit(&supervisor, "", street).await;
    onewindow_store::demo::seed_cases(&app.store, app.clock_now())
        .await
        .unwrap();
    // Three issued today: at once (one visit), mailed (one), picked up a week later (two).
    let (after, _) = one_visit(&supervisor, "", street).await;
    assert_eq!((after.0 - before.0, after.1 - before.1), (3, 2));
    let clerk = app.login("clerk").await;
    let (_, list) = clerk.get("/api/v1/cases?limit=200").await;
    let mut counts = Vec::new();
    for row in list["items"].as_array().unwrap() {
        let v = visits(&clerk, row).await;
        counts.push(v.len());
    }
    counts.sort_unstable();
    assert_eq!(counts, [1, 1, 2], "{list}");
}

async fn the_channel_decides_whether_an_intake_is_a_trip(app: TestApp) {
    let clerk = app.login("clerk").await;
    // At the window: the applicant came.
    let at_window = intake(&clerk, &app, json!({})).await;
    assert_eq!(visits(&clerk, &at_window).await.len(), 1);
    // On a home visit the clerk went to them; online they never came.
    let at_home = intake(&clerk, &app, json!({"channel": "home_visit"})).await;
    assert_eq!(at_home["channel"], "home_visit", "{at_home}");
    assert!(
        visits(&clerk, &at_home).await.is_empty(),
        "a home visit is no trip"
    );
    let online = intake(&clerk, &app, json!({"channel": "online"})).await;
    assert!(
        visits(&clerk, &online).await.is_empty(),
        "an online application is no trip"
    );
    // A 补录: the trip of the paper intake, on its own day (now is Monday 2026-11-23).
    let paper = intake(
        &clerk,
        &app,
        json!({"backfill": {"accepted_at": "2026-11-18 10:30", "reason": "系统故障，纸质受理"}}),
    )
    .await;
    let trips = visits(&clerk, &paper).await;
    assert_eq!(trips.len(), 1, "{trips:?}");
    assert_eq!(trips[0]["day"], "2026-11-18");
}
