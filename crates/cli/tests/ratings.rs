//! 好差评 through the API on both backends: one rating per case and per visit, the late
//! period, the invitation after N days (clock moved), immutability at the database, a bad
//! rating's one rectification across National Day (yellow, red, escalated once with two
//! instances), the figures on a hand-built set with hand-computed values, appeals that
//! exclude but keep, masked raters and the audited contact read, and the refusals.

mod common;

use common::{Api, Db, TestApp};
use onewindow_domain::escalation::{local_midnight, Light, MICROS_PER_HOUR};
use onewindow_store::demo::DEMO_PASSWORD;
use onewindow_store::escalation;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

on_both_backends!(
    one_rating_per_case_after_it_is_finished_and_a_wrong_code_is_no_case,
    the_device_prompts_after_the_finish_and_takes_one_tap,
    ratings_cannot_be_changed_or_removed_even_by_sql,
    the_late_period_and_the_invitation_follow_the_clock,
    a_bad_rating_opens_one_rectification_timed_across_national_day,
    figures_on_a_hand_built_set_and_an_appeal_excludes_but_keeps,
    rectification_and_appeal_refuse_outside_role_and_scope,
    the_demo_has_ratings_at_every_stage_and_the_pages_show_them,
    a_query_code_cannot_be_found_by_trying,
    a_window_earns_its_monthly_stars,
);

/// 高龄津贴申请 (区民政局).
const ITEM: &str = "MZ-0104";

fn bj(y: i32, m: u32, d: u32, h: u32) -> i64 {
    local_midnight(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap())
        + i64::from(h) * MICROS_PER_HOUR
}

async fn intake(api: &Api, app: &TestApp) -> Value {
    let item: Value = app
        .browser()
        .get(app.url(&format!("/api/v1/catalog/items/{ITEM}")))
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
    let (s, case) = api
        .post(
            "/api/v1/cases",
            json!({"item_code": ITEM, "applicant_kind": "person", "applicant_name": "张三丰",
                   "applicant_id": "11010519491231002X", "applicant_phone": "13800138000",
                   "materials": materials}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    case
}

async fn act(api: &Api, case: &Value, body: Value) -> Value {
    let mut body = body;
    body["version"] = case["version"].clone();
    let (s, after) = api
        .post(&format!("/api/v1/cases/{}/actions", case["id"]), body)
        .await;
    assert_eq!(s, StatusCode::OK, "{after}");
    after
}

/// A case taken in, decided and handed out at the window.
async fn finished_case(app: &TestApp) -> Value {
    let clerk = app.login("clerk").await;
    let approver = app.login("approver").await;
    let case = intake(&clerk, app).await;
    let case = act(&approver, &case, json!({"action": "take"})).await;
    let case = act(
        &approver,
        &case,
        json!({"action": "approve", "opinion": "同意"}),
    )
    .await;
    let case = act(&approver, &case, json!({"action": "result_ready"})).await;
    let case = act(
        &clerk,
        &case,
        json!({"action": "issue", "method": "window"}),
    )
    .await;
    assert_eq!(case["state"], "issued");
    case
}

/// A case taken in and not finished.
async fn open_case(app: &TestApp) -> Value {
    intake(&app.login("clerk").await, app).await
}

async fn query_code(app: &TestApp, case: &Value) -> String {
    sqlx::query("SELECT query_code FROM cases WHERE id = $1")
        .bind(case["id"].as_i64().unwrap())
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("query_code")
}

async fn rate_online(app: &TestApp, case: &Value, code: &str, level: &str) -> (StatusCode, Value) {
    let res = app
        .browser()
        .post(app.url("/api/v1/ratings/online"))
        .json(
            &json!({"case_no": case["case_no"], "code": code, "level": level,
                      "scores": {"efficiency": 4}, "tags": [], "comment": ""}),
        )
        .send()
        .await
        .unwrap();
    let s = res.status();
    (s, res.json().await.unwrap_or(Value::Null))
}

/// A phone-callback rating entered by the guide desk, three days after the case finished
/// (staff may not enter one earlier: the resident's own channels come first).
async fn enter(app: &TestApp, case: &Value, level: &str) -> Value {
    app.clock.advance_secs(3 * 86_400);
    let guide = app.login("guide").await;
    let (s, r) = guide
        .post(
            "/api/v1/ratings",
            json!({"case_no": case["case_no"], "channel": "phone_callback", "level": level,
                   "comment": "电话回访时评价"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    r
}

async fn rectification_of(app: &TestApp, rating: &Value) -> Value {
    let sup = app.login("supervisor").await;
    let (s, r) = sup.get(&format!("/api/v1/ratings/{}", rating["id"])).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let id = r["rectification_id"].as_i64().expect("a rectification");
    let (s, full) = sup.get(&format!("/api/v1/rectifications/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{full}");
    full
}

async fn step(api: &Api, id: i64, body: Value) -> (StatusCode, Value) {
    api.post(&format!("/api/v1/rectifications/{id}/steps"), body)
        .await
}

async fn one_rating_per_case_after_it_is_finished_and_a_wrong_code_is_no_case(app: TestApp) {
    // Not finished: refused, nothing written.
    let open = open_case(&app).await;
    // (An unknown case action names its field, not the body.)
    let (s, body) = app
        .login("clerk")
        .await
        .post(
            &format!("/api/v1/cases/{}/actions", open["id"]),
            json!({"action": "rate_myself", "version": open["version"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "action", "{body}");
    let code = query_code(&app, &open).await;
    let (s, body) = rate_online(&app, &open, &code, "satisfied").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["code"], "not_closed", "{body}");
    assert_eq!(app.count("ratings").await, 0);

    let case = finished_case(&app).await;
    let code = query_code(&app, &case).await;
    // A wrong code looks exactly like an unknown case.
    let (wrong, wrong_body) = rate_online(&app, &case, "ZZZZZZ", "satisfied").await;
    let unknown_case = json!({"case_no": "WB20990101000001"});
    let (unknown, unknown_body) = rate_online(&app, &unknown_case, &code, "satisfied").await;
    assert_eq!(wrong, StatusCode::NOT_FOUND);
    assert_eq!(unknown, StatusCode::NOT_FOUND);
    assert_eq!(wrong_body["title"], unknown_body["title"]);
    assert_eq!(wrong_body, unknown_body);

    let (s, first) = rate_online(&app, &case, &code, "very_satisfied").await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(first["stars"], 5);
    // The second is refused with a clear message; the first stands.
    let (s, second) = rate_online(&app, &case, &code, "very_dissatisfied").await;
    assert_eq!(s, StatusCode::CONFLICT, "{second}");
    assert_eq!(second["code"], "already_rated");
    assert!(
        second["title"]
            .as_str()
            .unwrap()
            .contains("以第一次评价为准"),
        "{second}"
    );
    // Staff may not enter a rating before the resident's own channels had their time.
    let fresh = finished_case(&app).await;
    let (s, body) = app
        .login("guide")
        .await
        .post(
            "/api/v1/ratings",
            json!({"case_no": fresh["case_no"], "channel": "phone_callback", "level": "very_satisfied"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["code"], "too_early");
    // Staff entry of a second rating for the same case is refused alike.
    let guide = app.login("guide").await;
    let (s, _) = guide
        .post(
            "/api/v1/ratings",
            json!({"case_no": case["case_no"], "channel": "phone_callback", "level": "basic"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(app.count("ratings").await, 1);
    assert_eq!(app.count("rectifications").await, 0);

    // Staff see the rater masked and the channel.
    let sup = app.login("supervisor").await;
    let (_, list) = sup.get("/api/v1/ratings").await;
    let r = &list["items"][0];
    assert_eq!(r["level"], "very_satisfied");
    assert_eq!(r["channel"], "online");
    assert_eq!(r["rater"], "张**");
    assert_eq!(r["rater_phone_masked"], "138****8000");
    assert!(!list.to_string().contains("13800138000"));
    assert!(!list.to_string().contains("张三丰"));

    // The page says it was rated already; a wrong code on the page is "not found".
    let page = app
        .browser()
        .get(app.url(&format!(
            "/pj/{}?code={code}",
            case["case_no"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"rate-already\""), "{page}");
    let page = app
        .browser()
        .get(app.url(&format!(
            "/pj/{}?code=ZZZZZZ",
            case["case_no"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"rate-not-found\""));
}

async fn hall_window(app: &TestApp, number: i64) -> i64 {
    sqlx::query("SELECT id FROM service_windows WHERE number = $1")
        .bind(number)
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id")
}

async fn the_device_prompts_after_the_finish_and_takes_one_tap(app: TestApp) {
    let sup = app.login("supervisor").await;
    let w = hall_window(&app, 4).await;
    let (s, paired) = sup
        .post("/api/v1/rating-devices", json!({"window_id": w}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{paired}");
    let token = paired["token"].as_str().unwrap().to_string();
    // A clerk may not pair devices.
    let clerk = app.login("clerk").await;
    let (s, _) = clerk
        .post("/api/v1/rating-devices", json!({"window_id": w}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let device = |path: String| {
        let c = app.browser();
        let url = app.url(&path);
        async move {
            c.get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        device(format!("/api/v1/rating-device/{token}")).await["prompt"],
        Value::Null
    );

    // The clerk serves and finishes a ticket at window 4.
    let guide = app.login("guide").await;
    open_window_4(&app, &clerk).await;
    let t = serve_one(&app, &guide, &clerk, w).await;
    let hall = app.org_id("xingfu-hall").await;
    let prompt = device(format!("/api/v1/rating-device/{token}")).await;
    assert_eq!(prompt["prompt"]["ticket_id"], t["id"], "{prompt}");

    // Another ticket than the prompt's is refused; the prompt's is taken once.
    let c = app.browser();
    let res = c
        .post(app.url(&format!("/api/v1/rating-device/{token}")))
        .json(&json!({"ticket_id": t["id"].as_i64().unwrap() + 1000, "level": "satisfied"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = c
        .post(app.url(&format!("/api/v1/rating-device/{token}")))
        .json(&json!({"ticket_id": t["id"], "level": "very_dissatisfied"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = c
        .post(app.url(&format!("/api/v1/rating-device/{token}")))
        .json(&json!({"ticket_id": t["id"], "level": "very_satisfied"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT, "one rating per visit");
    assert_eq!(
        device(format!("/api/v1/rating-device/{token}")).await["prompt"],
        Value::Null
    );
    // A wrong token is no device.
    let res = c
        .get(app.url("/api/v1/rating-device/not-a-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // The visit's rating counts for the clerk, the window and the hall; the bad one opened a
    // rectification owned by the hall, told to the hall's supervisors.
    let (_, list) = sup.get("/api/v1/ratings").await;
    let r = &list["items"][0];
    assert_eq!(r["subject"], "visit");
    assert_eq!(r["channel"], "window_device");
    assert_eq!(r["window_id"], w);
    assert_eq!(r["unit_org_id"], hall);
    assert!(r["clerk_user_id"].is_i64());
    assert_eq!(app.count("rectifications").await, 1);
    let (_, inbox) = sup.get("/api/v1/inbox").await;
    assert!(
        inbox["items"].as_array().unwrap().iter().any(|n| n["link"]
            .as_str()
            .unwrap()
            .starts_with("/ratings/rectifications/")),
        "{inbox}"
    );
}

async fn ratings_cannot_be_changed_or_removed_even_by_sql(app: TestApp) {
    let case = finished_case(&app).await;
    let r = enter(&app, &case, "satisfied").await;
    let id = r["id"].as_i64().unwrap();
    let update = sqlx::query("UPDATE ratings SET level = 'very_satisfied' WHERE id = $1")
        .bind(id)
        .execute(app.store.reader())
        .await;
    assert!(update.is_err(), "UPDATE must fail");
    let delete = sqlx::query("DELETE FROM ratings WHERE id = $1")
        .bind(id)
        .execute(app.store.reader())
        .await;
    assert!(delete.is_err(), "DELETE must fail");
    let level: String = sqlx::query("SELECT level FROM ratings WHERE id = $1")
        .bind(id)
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("level");
    assert_eq!(level, "satisfied");
}

async fn run_job(app: &TestApp) -> Value {
    let admin = app.login("admin").await;
    let (s, run) = admin.post("/api/v1/jobs/escalation", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{run}");
    run
}

async fn the_late_period_and_the_invitation_follow_the_clock(app: TestApp) {
    // Finished Monday 2026-11-23 09:00 (the test clock).
    let case = finished_case(&app).await;
    let unrated = finished_case(&app).await;
    let code = query_code(&app, &case).await;
    let outbox = app.count("outbox_messages").await;
    // Not yet 3 days: no invitation.
    app.clock.set(bj(2026, 11, 26, 9) - 1);
    assert_eq!(run_job(&app).await["invited"], json!([]));
    // Rated meanwhile: the first case gets no invitation; the other does, once.
    app.clock.set(bj(2026, 11, 25, 10));
    let (s, late) = rate_online(&app, &case, &code, "satisfied").await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(late["late"], true, "补充评价: after the day it finished");
    app.clock.set(bj(2026, 11, 26, 9));
    assert_eq!(run_job(&app).await["invited"], json!([unrated["id"]]));
    assert_eq!(run_job(&app).await["invited"], json!([]), "invited once");
    assert_eq!(app.count("outbox_messages").await, outbox + 1);
    let msg: String = sqlx::query("SELECT message FROM outbox_messages ORDER BY id DESC LIMIT 1")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("message");
    assert!(
        msg.contains(&format!("/pj/{}", unrated["case_no"].as_str().unwrap())),
        "{msg}"
    );
    // The late period (15 days by default): day 15 still open, after it refused.
    let code2 = query_code(&app, &unrated).await;
    app.clock.set(bj(2026, 12, 8, 9) + 1);
    let (s, body) = rate_online(&app, &unrated, &code2, "basic").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["code"], "too_late");
    app.clock.set(bj(2026, 12, 8, 9));
    let (s, _) = rate_online(&app, &unrated, &code2, "basic").await;
    assert_eq!(s, StatusCode::CREATED);
}

/// A walk-in ticket served and finished at window 4 by the clerk, now.
async fn finished_visit(app: &TestApp) -> Value {
    let clerk = app.login("clerk").await;
    let guide = app.login("guide").await;
    let w = open_window_4(app, &clerk).await;
    serve_one(app, &guide, &clerk, w).await
}

/// Window 4 opened by `clerk`; its id.
async fn open_window_4(app: &TestApp, clerk: &Api) -> i64 {
    let w = hall_window(app, 4).await;
    let (s, body) = clerk
        .post(
            &format!("/api/v1/queue/windows/{w}/state"),
            json!({"state": "open"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    w
}

/// A walk-in ticket issued by the guide desk, called to window `w`, served and finished.
async fn serve_one(app: &TestApp, guide: &Api, clerk: &Api, w: i64) -> Value {
    let hall = app.org_id("xingfu-hall").await;
    let (s, t) = guide
        .post(
            &format!("/api/v1/queue/halls/{hall}/tickets"),
            json!({"class": "C"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let (_, called) = clerk
        .post(&format!("/api/v1/queue/windows/{w}/call-next"), json!({}))
        .await;
    assert_eq!(called["ticket"]["id"], t["id"], "{called}");
    for action in ["start_service", "finish"] {
        let (s, body) = clerk
            .post(
                &format!("/api/v1/queue/tickets/{}/actions", t["id"]),
                json!({"action": action}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    t
}

async fn a_bad_rating_opens_one_rectification_timed_across_national_day(app: TestApp) {
    // A visit finished on Friday 2026-09-25, rated by phone on Monday 2026-09-28 (staff
    // enter a callback rating three days after the visit at the earliest).
    app.clock.set(bj(2026, 9, 25, 10));
    let t = finished_visit(&app).await;
    let guide = app.login("guide").await;
    let (s, early) = guide
        .post(
            "/api/v1/ratings",
            json!({"ticket_id": t["id"], "channel": "phone_callback", "level": "dissatisfied"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{early}");
    assert_eq!(early["fields"][0]["code"], "too_early");
    app.clock.set(bj(2026, 9, 28, 10));
    let guide = app.login("guide").await;
    let (s, rating) = guide
        .post(
            "/api/v1/ratings",
            json!({"ticket_id": t["id"], "channel": "phone_callback", "level": "dissatisfied"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rating}");
    assert_eq!(app.count("rectifications").await, 1, "exactly one");
    let full = rectification_of(&app, &rating).await;
    let id = full["rectification"]["id"].as_i64().unwrap();
    assert_eq!(full["rectification"]["state"], "verifying");
    // The hall that served the visit owns it (谁办理谁负责).
    assert_eq!(
        full["rectification"]["unit_org_id"],
        app.org_id("xingfu-hall").await
    );
    let approver = app.login("supervisor").await;

    // Verified the same day, 限期整改: 15 working days from Monday 9-28 are 9-29, 9-30,
    // (National Day off), 10-8, 10-9, the make-up Saturday 10-10, 10-12…10-16 and
    // 10-19…10-23: due at 24:00 of Friday 10-23. Yellow with 20% (3 working days) left:
    // at 00:00 of Wednesday 10-21.
    let (s, r) = step(
        &approver,
        id,
        json!({"step": "verify", "founded": true, "remedy": "by_deadline",
               "evidence": "调取窗口录像，情况属实"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["state"], "rectifying");
    let item_id = r["tracked_item_id"].as_i64().unwrap();
    let item = escalation::get(app.store.reader(), item_id).await.unwrap();
    assert_eq!(item.stage, "rectify");
    assert_eq!(item.due_at, Some(bj(2026, 10, 24, 0)));
    assert_eq!(item.warn_at, Some(bj(2026, 10, 21, 0)));

    app.clock.set(bj(2026, 10, 21, 0) - 1);
    assert_eq!(
        run_job(&app).await["warned"],
        json!([]),
        "nothing before the warning"
    );
    app.clock.set(bj(2026, 10, 21, 0));
    assert_eq!(run_job(&app).await["warned"], json!([item_id]));
    let item = escalation::get(app.store.reader(), item_id).await.unwrap();
    assert_eq!(item.light(app.clock_now()), Some(Light::Yellow));

    // Overdue: escalated once, even with two instances running the job together.
    app.clock.set(bj(2026, 10, 24, 0));
    let second = if app.backend == Db::Postgres {
        Some(common::spawn_app_on(&app.db_url, Db::Postgres, app.clock.clone(), None).await)
    } else {
        None
    };
    let mut escalated = 0;
    for _ in 0..3 {
        let other = second.as_ref().map(|s| &s.state).unwrap_or(&app.state);
        let (a, b) = tokio::join!(
            onewindow_web::escalation::run_job(&app.state),
            onewindow_web::escalation::run_job(other)
        );
        escalated += a.unwrap().escalated.len() + b.unwrap().escalated.len();
    }
    assert_eq!(escalated, 1);
    let item = escalation::get(app.store.reader(), item_id).await.unwrap();
    assert_eq!(item.tier, 1);
    assert_eq!(item.light(app.clock_now()), Some(Light::Red));
    // The district's supervisor was told.
    let sup = app.login("supervisor").await;
    let (_, inbox) = sup.get("/api/v1/inbox").await;
    assert!(inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["kind"] == "escalation"));

    // Put right late, called back: closed, not on time. (The clock moved a month: a new
    // session.)
    let approver = app.login("supervisor").await;
    let (s, r) = step(
        &approver,
        id,
        json!({"step": "rectified", "done": "已对窗口人员培训"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["state"], "callback_due");
    // The walk-in left no contact: a phone callback is refused for want of a level, and
    // the record closes as "no one to call".
    let (s, _) = step(
        &approver,
        id,
        json!({"step": "called_back", "way": "phone"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, r) = step(
        &approver,
        id,
        json!({"step": "called_back", "way": "no_contact", "note": "匿名评价"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["state"], "closed");
    assert_eq!(r["on_time"], false);
    let item = escalation::get(app.store.reader(), item_id).await.unwrap();
    assert_eq!(item.state, "closed");
    // A step after closing is refused.
    let (s, _) = step(&approver, id, json!({"step": "rectified", "done": "再次"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    if let Some(s) = second {
        s.stop().await;
    }
}

async fn figures(api: &Api, dim: &str) -> Value {
    let (s, f) = api
        .get(&format!(
            "/api/v1/figures/ratings?dim={dim}&from=2026-11-01&to=2026-11-30"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{f}");
    f
}

async fn figures_on_a_hand_built_set_and_an_appeal_excludes_but_keeps(app: TestApp) {
    // Five cases finished at the hall, four rated: ★5, ★4, ★3 and ★2.
    let mut cases = Vec::new();
    for _ in 0..5 {
        cases.push(finished_case(&app).await);
    }
    let mut bad = Value::Null;
    for (case, level) in cases
        .iter()
        .zip(["very_satisfied", "satisfied", "basic", "dissatisfied"])
    {
        let code = query_code(&app, case).await;
        let (s, r) = rate_online(&app, case, &code, level).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        if level == "dissatisfied" {
            bad = r;
        }
    }
    let sup = app.login("supervisor").await;
    // Cases taken in at the street count for its one hall (幸福街道便民服务中心), where its
    // visits count too.
    let hall = app.org_id("xingfu-hall").await.to_string();
    let f = figures(&sup, "hall").await;
    assert_eq!(f["basic_counts_as_good"], true);
    assert!(f["good_rate_definition"]
        .as_str()
        .unwrap()
        .contains("基本满意"));
    let row = |f: &Value| {
        f["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == json!(hall))
            .cloned()
            .unwrap_or_else(|| panic!("no row for the street's hall: {f}"))
    };
    let r = row(&f);
    // Hand-computed: 4 ratings; good (5+4+3) 3/4 = 75.0%; bad 1/4 = 25.0%;
    // average (5+4+3+2)/4 = 3.5; coverage 4 rated / 5 finished = 80.0%;
    // rectification 0/1 = 0.0%; callback 0 of 1 named bad = 0.0%; on time: none closed.
    assert_eq!(r["ratings"], 4);
    assert_eq!(r["good_rate_text"], "75.0%");
    assert_eq!(r["bad_rate_text"], "25.0%");
    assert_eq!(r["average_stars"], "3.5");
    assert_eq!(r["coverage_text"], "80.0%");
    assert_eq!(r["rectification_rate_text"], "0.0%");
    assert_eq!(r["callback_rate_text"], "0.0%");
    assert_eq!(r["on_time_rate_text"], "—");

    // The department verifies it untrue and calls the rater back: 100% rectified, called
    // back and on time.
    let full = rectification_of(&app, &bad).await;
    let id = full["rectification"]["id"].as_i64().unwrap();
    let approver = app.login("approver").await;
    let (s, _) = step(
        &approver,
        id,
        json!({"step": "verify", "founded": false, "evidence": "材料齐全当场办结，录像可查"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = step(
        &approver,
        id,
        json!({"step": "called_back", "way": "phone", "rater_level": "basic", "note": "已解释"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let r = row(&figures(&sup, "hall").await);
    assert_eq!(r["rectification_rate_text"], "100.0%");
    assert_eq!(r["callback_rate_text"], "100.0%");
    assert_eq!(r["on_time_rate_text"], "100.0%");

    // The department appeals; the district supervisor upholds it: the rating stays on
    // record, out of every figure: 3 ratings, all good, average (5+4+3)/3 = 4.0, coverage
    // 3/5 = 60.0%.
    let (s, appeal) = approver
        .post(
            &format!("/api/v1/ratings/{}/appeal", bad["id"]),
            json!({"reason": "评价人误评，录像显示当场办结"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{appeal}");
    let (s, again) = approver
        .post(
            &format!("/api/v1/ratings/{}/appeal", bad["id"]),
            json!({"reason": "再次申诉"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{again}");
    let (s, decided) = sup
        .post(
            &format!("/api/v1/appeals/{}/decision", appeal["id"]),
            json!({"uphold": true, "reason": "经查看录像，申诉属实"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{decided}");
    assert_eq!(decided["state"], "upheld");
    let r = row(&figures(&sup, "hall").await);
    assert_eq!(r["ratings"], 3);
    assert_eq!(r["excluded"], 1);
    assert_eq!(r["good_rate_text"], "100.0%");
    assert_eq!(r["bad_rate_text"], "0.0%");
    assert_eq!(r["average_stars"], "4.0");
    assert_eq!(r["coverage_text"], "60.0%");
    assert_eq!(r["rectification_rate_text"], "—");
    assert_eq!(app.count("ratings").await, 4, "the rating is kept");
    // Decided once.
    let (s, _) = sup
        .post(
            &format!("/api/v1/appeals/{}/decision", appeal["id"]),
            json!({"uphold": false, "reason": "改判"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // The department's own figures: the same set.
    let d = figures(&sup, "department").await;
    let dept = app.org_id("dept-mz").await;
    let dr = d["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == json!(dept.to_string()))
        .unwrap()
        .clone();
    assert_eq!(dr["ratings"], 3);
}

async fn rectification_and_appeal_refuse_outside_role_and_scope(app: TestApp) {
    let case = finished_case(&app).await;
    let rating = enter(&app, &case, "very_dissatisfied").await;
    let full = rectification_of(&app, &rating).await;
    let id = full["rectification"]["id"].as_i64().unwrap();
    let before = app.audit_head().await;
    let verify =
        json!({"step": "verify", "founded": true, "remedy": "at_once", "evidence": "属实"});
    // Wrong role: a window clerk.
    let clerk = app.login("clerk").await;
    let (s, body) = step(&clerk, id, verify.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    // Other organisation: an approver of another department.
    let admin = app.login("admin").await;
    let (s, u) = admin
        .post(
            "/api/v1/users",
            json!({"org_id": app.org_id("dept-rs").await, "username": "approver-rs",
                   "display_name": "人社审批", "roles": ["approver"], "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    let other = app.login("approver-rs").await;
    let before = app.audit_head().await.max(before);
    let (s, body) = step(&other, id, verify.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "forbidden_scope");
    let (s, _) = other
        .post(
            &format!("/api/v1/ratings/{}/appeal", rating["id"]),
            json!({"reason": "不是我们办的"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = other
        .post(
            &format!("/api/v1/rectifications/{id}/contact"),
            json!({"purpose": "回访"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Nothing was written by the refusals.
    assert_eq!(app.audit_head().await, before);

    // The owner reads the contact with a purpose: audited.
    let approver = app.login("approver").await;
    let (s, body) = approver
        .post(
            &format!("/api/v1/rectifications/{id}/contact"),
            json!({"purpose": ""}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "purpose");
    let (s, contact) = approver
        .post(
            &format!("/api/v1/rectifications/{id}/contact"),
            json!({"purpose": "电话回访整改结果"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(contact["phone"], "13800138000");
    app.store.settle_audit().await.unwrap();
    let n: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'rating.contact_read'")
            .fetch_one(app.store.reader())
            .await
            .unwrap()
            .get("n");
    assert_eq!(n, 1);

    // An appeal is not decided by the clerk, nor by its filer.
    let (s, appeal) = approver
        .post(
            &format!("/api/v1/ratings/{}/appeal", rating["id"]),
            json!({"reason": "评价人所述与事实不符"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{appeal}");
    let (s, _) = clerk
        .post(
            &format!("/api/v1/appeals/{}/decision", appeal["id"]),
            json!({"uphold": true, "reason": "同意"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, body) = approver
        .post(
            &format!("/api/v1/appeals/{}/decision", appeal["id"]),
            json!({"uphold": true, "reason": "同意"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    // Nor by a supervisor of the rated department itself: only from above it.
    let (s, u) = admin
        .post(
            "/api/v1/users",
            json!({"org_id": app.org_id("dept-mz").await, "username": "sup-mz",
                   "display_name": "民政督查", "roles": ["supervisor"], "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    let own = app.login("sup-mz").await;
    let (s, body) = own
        .post(
            &format!("/api/v1/appeals/{}/decision", appeal["id"]),
            json!({"uphold": true, "reason": "同意"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["code"], "own_unit");
    // The district upholds it while the rectification is still open.
    let sup = app.login("supervisor").await;
    let (s, body) = sup
        .post(
            &format!("/api/v1/appeals/{}/decision", appeal["id"]),
            json!({"uphold": true, "reason": "告知书在案，申诉成立"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // A verification without evidence names the field.
    let (s, body) = step(
        &approver,
        id,
        json!({"step": "verify", "founded": true, "remedy": "at_once", "evidence": " "}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["fields"][0]["field"], "evidence");
    // An SMS link goes out once the rectification reaches the callback; the rater's answer
    // closes it.
    let (s, _) = step(&approver, id, verify).await;
    assert_eq!(s, StatusCode::OK);
    // Entering the callback stage tells the unit a callback is due.
    let (_, inbox) = approver.get("/api/v1/inbox").await;
    assert_eq!(inbox["items"][0]["kind"], "callback_due", "{inbox}");
    let (s, sent) = approver
        .post(&format!("/api/v1/rectifications/{id}/sms-link"), json!({}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    let msg: String = sqlx::query("SELECT message FROM outbox_messages WHERE id = $1")
        .bind(sent["message_id"].as_i64().unwrap())
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("message");
    let path = &msg[msg.find("/hf/").unwrap()..];
    // Staff read the outbox with the link's token hidden: no one answers for the rater.
    let (_, outbox) = approver.get("/api/v1/outbox").await;
    let shown = outbox["items"][0]["message"].as_str().unwrap();
    assert!(shown.contains("/hf/******"), "{shown}");
    assert!(!outbox.to_string().contains(&path[4..]));
    let c = app.browser();
    let page = c
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"callback-form\""), "{page}");
    let csrf = page
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let res = c
        .post(app.url(path))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("rater_level", "satisfied"),
            ("note", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, r) = approver.get(&format!("/api/v1/rectifications/{id}")).await;
    assert_eq!(r["rectification"]["state"], "closed");
    assert_eq!(r["rectification"]["callback_way"], "sms_link");
    assert_eq!(r["rectification"]["callback_level"], "satisfied");
    // The appeal took the rating out of the figures before the rectification closed; its
    // closing does not bring a count back.
    app.store.settle_audit().await.unwrap();
    let row = sqlx::query(
        "SELECT CAST(SUM(bad) AS BIGINT) AS bad, CAST(SUM(rectified) AS BIGINT) AS rectified, \
         CAST(SUM(called_back) AS BIGINT) AS called_back, \
         CAST(SUM(excluded) AS BIGINT) AS excluded FROM rating_rollup WHERE dim = 'department'",
    )
    .fetch_one(app.store.reader())
    .await
    .unwrap();
    let n = |c: &str| row.get::<i64, _>(c);
    assert_eq!(
        (n("bad"), n("rectified"), n("called_back"), n("excluded")),
        (0, 0, 0, 1)
    );
}

async fn page(api: &Api, path: &str) -> String {
    let res = api
        .client
        .get(format!("{}{path}", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.text().await.unwrap()
}

async fn the_demo_has_ratings_at_every_stage_and_the_pages_show_them(app: TestApp) {
    onewindow_store::demo::seed_cases(&app.store, app.clock_now())
        .await
        .unwrap();
    onewindow_store::demo::seed_ratings(&app.store, app.clock_now())
        .await
        .unwrap();
    let cases: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM cases WHERE state IN ('issued', 'closed')")
            .fetch_one(app.store.reader())
            .await
            .unwrap()
            .get("n");
    assert!(cases > 0);
    assert_eq!(
        app.count("ratings").await,
        60 + cases,
        "three visits a day and every finished case"
    );
    let states: Vec<String> = sqlx::query("SELECT state FROM rectifications ORDER BY id")
        .fetch_all(app.store.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("state"))
        .collect();
    for s in ["closed", "callback_due", "rectifying", "verifying"] {
        assert!(states.iter().any(|x| x == s), "{s}: {states:?}");
    }
    assert_eq!(app.count("rating_appeals").await, 1);
    let sup = app.login("supervisor").await;
    let overview = page(&sup, "/ratings?dim=window").await;
    assert!(overview.contains("id=\"rating-figures\""));
    assert!(overview.contains("id=\"good-rate-definition\""));
    assert!(
        overview.contains("class=\"card\" id=\"appeal-"),
        "the pending appeal"
    );
    let list = page(&sup, "/ratings/rectifications").await;
    // Five visits' 差评 and one case's.
    assert_eq!(list.matches("<tr id=\"rect-").count(), 6);
    // Every role involved finds its page; a clerk sees no rectification forms.
    let clerk = app.login("clerk").await;
    let first: i64 =
        sqlx::query("SELECT MIN(id) AS id FROM rectifications WHERE state = 'verifying'")
            .fetch_one(app.store.reader())
            .await
            .unwrap()
            .get("id");
    let seen = page(&clerk, &format!("/ratings/rectifications/{first}")).await;
    assert!(!seen.contains("id=\"verify-form\""));
    let owner = page(&sup, &format!("/ratings/rectifications/{first}")).await;
    assert!(owner.contains("id=\"verify-form\""));
    assert!(!owner.contains("13800138000"), "the rater is masked");
    let grid = app.login("grid").await;
    let res = grid
        .client
        .get(format!("{}/ratings", grid.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

async fn a_query_code_cannot_be_found_by_trying(app: TestApp) {
    // Malformed numbers are no case and are not counted.
    for _ in 0..12 {
        let (s, _) = rate_online(&app, &json!({"case_no": "NOT-A-CASE"}), "ABC", "satisfied").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    let case = finished_case(&app).await;
    let code = query_code(&app, &case).await;
    for n in 0..10 {
        let (s, _) = rate_online(&app, &case, &format!("WRONG{n}"), "satisfied").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    // Past ten failures a minute, even the right code waits: 429 with Retry-After.
    let (s, body) = rate_online(&app, &case, &code, "satisfied").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body["title"].as_str().unwrap().contains("查询次数过多"),
        "{body}"
    );
    let res = app
        .browser()
        .get(app.url(&format!(
            "/api/v1/track?case_no={}&code={code}",
            case["case_no"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
    // Another case is not held up; after the minute the resident gets through.
    let other = finished_case(&app).await;
    let other_code = query_code(&app, &other).await;
    let (s, _) = rate_online(&app, &other, &other_code, "satisfied").await;
    assert_eq!(s, StatusCode::CREATED);
    app.clock.advance_secs(61);
    let (s, _) = rate_online(&app, &case, &code, "satisfied").await;
    assert_eq!(s, StatusCode::CREATED);
}

async fn a_window_earns_its_monthly_stars(app: TestApp) {
    // Tuesday 2026-10-20 at window 4: ten visits; called back on 10-23: nine ★5 and one
    // 不满意 put right at once the same day. 好评率 9/10 = 900‰, on time 1/1: ★2 by the default thresholds
    // (★5 990/1000, ★4 980/950, ★3 950/900, ★2 900/850).
    app.clock.set(bj(2026, 10, 20, 9));
    let clerk = app.login("clerk").await;
    let guide = app.login("guide").await;
    let w = open_window_4(&app, &clerk).await;
    let mut tickets = Vec::new();
    for _ in 0..10 {
        tickets.push(serve_one(&app, &guide, &clerk, w).await);
    }
    // Called back on Friday 10-23: the ratings are October's.
    app.clock.set(bj(2026, 10, 23, 10));
    let guide = app.login("guide").await;
    let sup = app.login("supervisor").await;
    for (n, t) in tickets.iter().enumerate() {
        let level = if n == 3 {
            "dissatisfied"
        } else {
            "very_satisfied"
        };
        let (s, r) = guide
            .post(
                "/api/v1/ratings",
                json!({"ticket_id": t["id"], "channel": "phone_callback", "level": level}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        if level == "dissatisfied" {
            let full = rectification_of(&app, &r).await;
            let id = full["rectification"]["id"].as_i64().unwrap();
            let (s, _) = step(
                &sup,
                id,
                json!({"step": "verify", "founded": true, "remedy": "at_once", "evidence": "当场致歉并重新讲解"}),
            )
            .await;
            assert_eq!(s, StatusCode::OK);
            let (s, _) = step(
                &sup,
                id,
                json!({"step": "called_back", "way": "no_contact"}),
            )
            .await;
            assert_eq!(s, StatusCode::OK);
        }
    }
    app.clock.set(bj(2026, 11, 23, 9));
    let sup = app.login("supervisor").await;
    let (s, stars) = sup.get("/api/v1/figures/star-windows?month=2026-10").await;
    assert_eq!(s, StatusCode::OK, "{stars}");
    let row = stars["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["window_id"] == json!(w.to_string()))
        .cloned()
        .unwrap_or_else(|| panic!("{stars}"));
    assert_eq!(row["ratings"], 10);
    assert_eq!(row["good_rate_text"], "90.0%");
    assert_eq!(row["on_time_rate_text"], "100.0%");
    assert_eq!(row["stars"], 2);
    // The default month is the last full one: October, seen from 11-23.
    let (_, default) = sup.get("/api/v1/figures/star-windows").await;
    assert_eq!(default["month"], "2026-10");
    let (s, _) = sup.get("/api/v1/figures/star-windows?month=2026-13").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}
