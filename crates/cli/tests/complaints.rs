//! 接诉即办 through the API and the public pages on both backends: the loop from a phone
//! intake to a closed, called-back state with 退单 (refused and accepted) and a reopening;
//! dispatch and feedback limits by urgency across National Day and out of hours; reopening
//! up to the limit, then the supervisor; duplicates by phone and by place and the merge;
//! the rates on a hand-built set with hand-computed values; a complaint about a staff
//! member never shown to them; the refusals of role, scope and level; the public form's
//! errors and limits, tracking and rating by the SMS link; 12345 pushes with their own id;
//! the department suggestion trained on a fixed history.

mod common;

use common::{Api, TestApp};
use onewindow_domain::escalation::{local_midnight, MICROS_PER_DAY, MICROS_PER_HOUR};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    the_loop_runs_from_a_call_to_a_closed_callback,
    limits_by_urgency_across_national_day_and_out_of_hours,
    reopening_stops_at_the_limit_and_goes_to_the_supervisor,
    duplicates_by_phone_and_by_place_and_the_merge,
    the_rates_on_a_hand_built_set,
    a_complaint_about_a_staff_member_is_never_shown_to_them,
    refusals_of_role_scope_and_level,
    the_public_form_tracking_and_the_sms_rating,
    a_hotline_push_keeps_its_own_id,
    the_suggestion_ranks_the_history_s_categories,
    needs_roll_up_into_a_problem_and_a_project,
);

fn bj(y: i32, m: u32, d: u32, h: u32) -> i64 {
    local_midnight(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap())
        + i64::from(h) * MICROS_PER_HOUR
}

fn end_of(y: i32, m: u32, d: u32) -> i64 {
    bj(y, m, d, 0) + MICROS_PER_DAY
}

fn call(phone: &str, content: &str) -> Value {
    json!({
        "channel": "phone", "request_type": "complaint", "urgency": "ordinary",
        "content": content, "person_name": "张大爷", "person_phone": phone,
        "address": "幸福小区3号楼"
    })
}

async fn take(api: &Api, body: Value) -> Value {
    let (s, v) = api.post("/api/v1/complaints", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["request"].clone()
}

async fn act(api: &Api, id: i64, body: Value) -> (StatusCode, Value) {
    api.post(&format!("/api/v1/complaints/{id}/acts"), body)
        .await
}

async fn ok(api: &Api, id: i64, body: Value) -> Value {
    let (s, v) = act(api, id, body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body} → {v}");
    v
}

fn field_of(v: &Value) -> &str {
    v["fields"][0]["field"].as_str().unwrap_or("")
}

async fn rows(app: &TestApp, dept: &str) -> Value {
    let (s, v) = app
        .login("supervisor")
        .await
        .get("/api/v1/complaints/figures?from=2020-01-01&to=2030-12-31")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let id = app.org_id(dept).await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn the_loop_runs_from_a_call_to_a_closed_callback(app: TestApp) {
    let dispatcher = app.login("dispatcher").await;
    let handler = app.login("handler").await;
    let approver = app.login("approver").await;
    let cg = app.org_id("dept-cg").await;
    let mz = app.org_id("dept-mz").await;
    let r = take(
        &dispatcher,
        call("13900139001", "小区门口路灯不亮，老人晚上出门不安全"),
    )
    .await;
    let id = r["id"].as_i64().unwrap();
    assert!(r["request_no"].as_str().unwrap().starts_with("SQ"));
    assert_eq!(r["state"], "received");
    // A callback before a reply, a dispatch to nowhere: refused, nothing changed.
    let (s, v) = act(
        &dispatcher,
        id,
        json!({"act": "callback", "satisfaction": "satisfied", "solved": true}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = act(
        &dispatcher,
        id,
        json!({"act": "dispatch", "lead": cg, "co": [cg]}),
    )
    .await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "co"),
        "{v}"
    );
    ok(
        &dispatcher,
        id,
        json!({"act": "dispatch", "lead": cg, "co": []}),
    )
    .await;
    ok(&handler, id, json!({"act": "sign"})).await;
    // 退单 without a reason: refused naming the field.
    let (s, v) = act(&handler, id, json!({"act": "ask_return", "reason": "  "})).await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "reason"),
        "{v}"
    );
    ok(
        &handler,
        id,
        json!({"act": "ask_return", "reason": "路灯归街道照明所"}),
    )
    .await;
    // Refused: back to the same department, to sign again.
    let back = ok(
        &dispatcher,
        id,
        json!({"act": "decide_return", "accept": false}),
    )
    .await;
    assert_eq!(
        (back["state"].as_str(), back["lead_department_id"].as_i64()),
        (Some("dispatched"), Some(cg))
    );
    // Signing again after the refusal is the same dispatch: counted once.
    ok(&handler, id, json!({"act": "sign"})).await;
    ok(
        &handler,
        id,
        json!({"act": "ask_return", "reason": "经核实属民政养老设施照明"}),
    )
    .await;
    // Accepted: re-dispatched to another department (the same one is refused).
    let (s, v) = act(
        &dispatcher,
        id,
        json!({"act": "decide_return", "accept": true, "lead": cg}),
    )
    .await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "lead"),
        "{v}"
    );
    let moved = ok(
        &dispatcher,
        id,
        json!({"act": "decide_return", "accept": true, "lead": mz}),
    )
    .await;
    assert_eq!(moved["lead_department_id"], mz);
    // The old department no longer reads it; the new one signs and replies.
    let (s, _) = handler.get(&format!("/api/v1/complaints/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = act(&handler, id, json!({"act": "sign"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    ok(&approver, id, json!({"act": "sign"})).await;
    let (s, v) = act(&approver, id, json!({"act": "reply", "content": ""})).await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "content"),
        "{v}"
    );
    ok(
        &approver,
        id,
        json!({"act": "reply", "content": "已更换灯泡"}),
    )
    .await;
    // The department may not call back its own reply; the dispatcher does.
    let (s, v) = act(
        &approver,
        id,
        json!({"act": "callback", "satisfaction": "satisfied", "solved": true}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let re = ok(
        &dispatcher,
        id,
        json!({"act": "callback", "satisfaction": "dissatisfied", "solved": false, "way": "sms"}),
    )
    .await;
    assert_eq!(
        re["callback_way"], "phone",
        "staff record phone callbacks; sms is the person's own"
    );
    assert_eq!(
        (re["state"].as_str(), re["reopens"].as_i64()),
        (Some("reopened"), Some(1))
    );
    ok(
        &approver,
        id,
        json!({"act": "reply", "content": "已更换整条线路，现场复查正常"}),
    )
    .await;
    let done = ok(
        &dispatcher,
        id,
        json!({"act": "callback", "satisfaction": "satisfied", "solved": true}),
    )
    .await;
    assert_eq!(done["state"], "closed");
    assert!(done["told_at"].is_i64(), "the person is told the result");
    let (_, chain) = dispatcher
        .get(&format!("/api/v1/complaints/{id}/events"))
        .await;
    let acts: Vec<&str> = chain["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["act"].as_str().unwrap())
        .collect();
    assert_eq!(
        acts,
        [
            "intake",
            "dispatch",
            "sign",
            "ask_return",
            "decide_return",
            "sign",
            "ask_return",
            "decide_return",
            "sign",
            "reply",
            "callback",
            "reply",
            "callback"
        ]
    );
    // Messages to the person: receipt, reply ×2 (with the rating link), reopened, closed.
    assert_eq!(app.count("outbox_messages").await, 5);
    // Staff read the outbox without the query code (it lets whoever holds it rate).
    let code: String = sqlx::query_scalar("SELECT query_code FROM complaints WHERE id = $1")
        .bind(id)
        .fetch_one(app.store.reader())
        .await
        .unwrap();
    let (s, outbox) = app.login("supervisor").await.get("/api/v1/outbox").await;
    assert_eq!(s, StatusCode::OK, "{outbox}");
    let text = outbox.to_string();
    assert!(
        text.contains("查询码******") && !text.contains(&code),
        "{outbox}"
    );
    // The rates moved: 城管 was dispatched once and asked twice to return it; 民政 was
    // dispatched once (the accepted 退单), signed in time, called back twice, once satisfied.
    let cg_row = rows(&app, "dept-cg").await;
    assert_eq!(cg_row["counts"]["dispatched"], 1);
    assert_eq!(cg_row["counts"]["returns_asked"], 2);
    assert_eq!(
        cg_row["response"], "100.0%",
        "signed twice, one dispatch: {cg_row}"
    );
    assert_eq!(cg_row["feedback"], "0.0%", "handed back, never answered");
    let mz_row = rows(&app, "dept-mz").await;
    assert_eq!(mz_row["counts"]["dispatched"], 1);
    assert_eq!(mz_row["response"], "100.0%");
    assert_eq!(mz_row["counts"]["called_back"], 2);
    assert_eq!(mz_row["satisfaction"], "50.0%");
    assert_eq!(mz_row["solution"], "50.0%");
    assert_eq!(mz_row["feedback"], "100.0%");
    // The engine has nothing open for a closed request.
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM tracked_items WHERE subject_ref LIKE $1 AND state = 'open'",
    )
    .bind(format!("complaint:{id}:%"))
    .fetch_one(app.store.reader())
    .await
    .unwrap();
    assert_eq!(open, 0);
}

async fn limits_by_urgency_across_national_day_and_out_of_hours(app: TestApp) {
    // Wednesday 2026-09-30 22:00, the eve of National Day, out of hours.
    app.clock.set(bj(2026, 9, 30, 22));
    let dispatcher = app.login("dispatcher").await;
    let cg = app.org_id("dept-cg").await;
    let mut ids = vec![];
    for (urgency, due) in [
        ("emergency", bj(2026, 9, 30, 23)),
        ("utilities", bj(2026, 10, 1, 0)),
        ("ordinary", bj(2026, 10, 1, 22)),
    ] {
        let r = take(
            &dispatcher,
            json!({"channel": "phone", "request_type": "help", "urgency": urgency,
            "content": "小区停水", "person_name": "李阿姨", "person_phone": "13900139002"}),
        )
        .await;
        assert_eq!(
            r["dispatch_due_at"], due,
            "{urgency}: clock hours, holidays included"
        );
        ids.push(r["id"].as_i64().unwrap());
    }
    // Dispatched on the holiday: feedback counted from the dispatch — 2 h, 24 h, 7 days.
    app.clock.set(bj(2026, 10, 1, 10));
    let dispatcher = app.login("dispatcher").await;
    for (id, (due, sign)) in ids.iter().zip([
        (bj(2026, 10, 1, 12), bj(2026, 10, 1, 11)),
        (bj(2026, 10, 2, 10), bj(2026, 10, 1, 12)),
        (end_of(2026, 10, 8), bj(2026, 10, 2, 10)),
    ]) {
        let r = ok(&dispatcher, *id, json!({"act": "dispatch", "lead": cg})).await;
        assert_eq!(r["reply_due_at"], due);
        assert_eq!(r["sign_due_at"], sign, "signed within the dispatch limit");
    }
    // The emergency's sign limit (1 h) passes unsigned: the engine escalates it, once.
    app.clock.set(bj(2026, 10, 1, 11) + 1_000_000);
    let admin = app.login("admin").await;
    let (s, run) = admin.post("/api/v1/jobs/escalation", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{run}");
    assert!(!run["escalated"].as_array().unwrap().is_empty(), "{run}");
    // The seed's preset: an ordinary request is replied within 3 working days of dispatch
    // (10-8, 10-9, the make-up Saturday 10-10).
    let (s, v) = admin
        .put(
            "/api/v1/settings/complaints.seed_preset",
            json!({"value": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let dispatcher = app.login("dispatcher").await;
    let r = take(
        &dispatcher,
        json!({"channel": "phone", "request_type": "help", "content": "楼道灯坏了",
        "person_name": "李阿姨", "person_phone": "13900139003"}),
    )
    .await;
    let r = ok(
        &dispatcher,
        r["id"].as_i64().unwrap(),
        json!({"act": "dispatch", "lead": cg}),
    )
    .await;
    assert_eq!(r["reply_due_at"], end_of(2026, 10, 10));
    // A late sign is counted against the response rate.
    app.clock.set(bj(2026, 10, 3, 9));
    let handler = app.login("handler").await;
    ok(&handler, ids[2], json!({"act": "sign"})).await;
    let row = rows(&app, "dept-cg").await;
    assert_eq!(row["counts"]["dispatched"], 4);
    assert_eq!(row["counts"]["signed_on_time"], 0, "signed after 24 hours");
}

async fn reopening_stops_at_the_limit_and_goes_to_the_supervisor(app: TestApp) {
    let admin = app.login("admin").await;
    let (s, v) = admin
        .put(
            "/api/v1/settings/complaints.max_reopens",
            json!({"value": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let dispatcher = app.login("dispatcher").await;
    let handler = app.login("handler").await;
    let cg = app.org_id("dept-cg").await;
    let id = take(&dispatcher, call("13900139004", "楼下餐馆油烟扰民")).await["id"]
        .as_i64()
        .unwrap();
    ok(&dispatcher, id, json!({"act": "dispatch", "lead": cg})).await;
    ok(&handler, id, json!({"act": "sign"})).await;
    let no = json!({"act": "callback", "satisfaction": "dissatisfied", "solved": false});
    ok(
        &handler,
        id,
        json!({"act": "reply", "content": "已约谈店主"}),
    )
    .await;
    assert_eq!(ok(&dispatcher, id, no.clone()).await["state"], "reopened");
    ok(
        &handler,
        id,
        json!({"act": "reply", "content": "已责令安装净化器"}),
    )
    .await;
    let sup = ok(&dispatcher, id, no.clone()).await;
    assert_eq!(
        (sup["state"].as_str(), sup["reopens"].as_i64()),
        (Some("supervised"), Some(2))
    );
    // The street's supervisors (the district's 李督查 included, above) are told.
    let (_, inbox) = app.login("supervisor").await.get("/api/v1/inbox").await;
    let texts = inbox.to_string();
    assert!(
        texts.contains("督办") && texts.contains(sup["request_no"].as_str().unwrap()),
        "{texts}"
    );
    // Under supervision the department still answers, and a satisfied callback closes it.
    ok(
        &handler,
        id,
        json!({"act": "reply", "content": "已拆除违规排烟管道"}),
    )
    .await;
    let done = ok(
        &dispatcher,
        id,
        json!({"act": "callback", "satisfaction": "basic", "solved": true}),
    )
    .await;
    assert_eq!(done["state"], "closed");
}

async fn duplicates_by_phone_and_by_place_and_the_merge(app: TestApp) {
    let admin = app.login("admin").await;
    let cg = app.org_id("dept-cg").await;
    let (s, cat) = admin
        .post(
            "/api/v1/complaints/categories",
            json!({"code": "city.lights", "name": "路灯照明", "department_id": cg}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{cat}");
    let cat = cat["id"].as_i64().unwrap();
    let dispatcher = app.login("dispatcher").await;
    let at = |lat: f64, lon: f64, phone: &str| {
        json!({"channel": "phone", "request_type": "help",
        "category_id": cat, "content": "路灯不亮", "person_name": "王先生", "person_phone": phone,
        "lat": lat, "lon": lon})
    };
    let first = take(&dispatcher, at(39.9087, 116.3975, "13900139005")).await;
    // 100 m north (0.0009° of latitude), another caller: the same place.
    let check = |body: Value| {
        let d = &dispatcher;
        async move {
            let (s, v) = d.post("/api/v1/complaints/check", body).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            v["duplicates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    let id = first["id"].as_i64().unwrap();
    assert_eq!(check(json!({"person_phone": "13900139999", "category_id": cat, "lat": 39.9096, "lon": 116.3975})).await, vec![id]);
    // 500 m away: not the same place (setting 200 m); another category: not the same issue.
    assert!(check(
        json!({"person_phone": "13900139999", "category_id": cat, "lat": 39.9132, "lon": 116.3975})
    )
    .await
    .is_empty());
    assert!(check(json!({"person_phone": "13900139999", "category_id": cat + 1000, "lat": 39.9087, "lon": 116.3975})).await.is_empty());
    // The same phone number anywhere.
    assert_eq!(
        check(json!({"person_phone": "13900139005"})).await,
        vec![id]
    );
    // Older than the period (30 days): no longer shown.
    app.clock.advance_secs(31 * 86_400);
    let dispatcher = app.login("dispatcher").await;
    let (_, v) = dispatcher
        .post(
            "/api/v1/complaints/check",
            json!({"person_phone": "13900139005"}),
        )
        .await;
    assert_eq!(v["duplicates"], json!([]));
    app.clock.advance_secs(-31 * 86_400);
    let dispatcher = app.login("dispatcher").await;
    // Merged: the new one becomes a repeat of the first, the person is told its number.
    let second = take(&dispatcher, at(39.9090, 116.3976, "13900139006")).await;
    let merged = ok(
        &dispatcher,
        second["id"].as_i64().unwrap(),
        json!({"act": "merge", "original": id, "told": true}),
    )
    .await;
    assert_eq!(
        (merged["state"].as_str(), merged["original_id"].as_i64()),
        (Some("merged"), Some(id))
    );
    let (_, orig) = dispatcher.get(&format!("/api/v1/complaints/{id}")).await;
    assert_eq!(orig["repeat_count"], 1);
    let (s, v) = act(
        &dispatcher,
        id,
        json!({"act": "merge", "original": second["id"]}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a repeat is never an original: {v}"
    );
    // A closed original takes no repeats: the person would wait for an answer given already.
    let third = take(&dispatcher, at(39.9091, 116.3976, "13900139007")).await;
    let cg = app.org_id("dept-cg").await;
    let handler = app.login("handler").await;
    ok(&dispatcher, id, json!({"act": "dispatch", "lead": cg})).await;
    ok(&handler, id, json!({"act": "sign"})).await;
    ok(&handler, id, json!({"act": "reply", "content": "已修复"})).await;
    ok(
        &dispatcher,
        id,
        json!({"act": "callback", "satisfaction": "satisfied", "solved": true}),
    )
    .await;
    let (s, v) = act(
        &dispatcher,
        third["id"].as_i64().unwrap(),
        json!({"act": "merge", "original": id}),
    )
    .await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "original"),
        "{v}"
    );
    let told: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox_messages WHERE message LIKE $1")
            .bind(format!(
                "%{}%合并办理%",
                orig["request_no"].as_str().unwrap()
            ))
            .fetch_one(app.store.reader())
            .await
            .unwrap();
    assert_eq!(told, 1);
    // Merged repeats are not offered as originals again.
    assert_eq!(
        check(json!({"person_phone": "13900139006"})).await,
        Vec::<i64>::new()
    );
}

async fn the_rates_on_a_hand_built_set(app: TestApp) {
    // Monday 2026-11-02: the whole set falls in one month, as the ranking is per month.
    app.clock.set(bj(2026, 11, 2, 9));
    let dispatcher = app.login("dispatcher").await;
    let handler = app.login("handler").await;
    let cg = app.org_id("dept-cg").await;
    // Five requests to 城管: (signed in time?, replied in time?, callback, solved).
    // 1: yes, yes, 满意, solved · 2: yes, yes, 基本满意, solved · 3: yes, late, 不满意, not
    // · 4: late sign, never replied · 5: merged into 1 (a repeat, never dispatched).
    let mut ids = vec![];
    for i in 0..4 {
        let id = take(&dispatcher, call(&format!("1390013910{i}"), "道路破损")).await["id"]
            .as_i64()
            .unwrap();
        ok(&dispatcher, id, json!({"act": "dispatch", "lead": cg})).await;
        ids.push(id);
    }
    for id in &ids[..3] {
        ok(&handler, *id, json!({"act": "sign"})).await;
    }
    for id in &ids[..2] {
        ok(&handler, *id, json!({"act": "reply", "content": "已修复"})).await;
    }
    // Two days later (ordinary: 24 h to sign, 7 days to reply; the third is replied after 8).
    app.clock.advance_secs(2 * 86_400);
    let handler = app.login("handler").await;
    ok(&handler, ids[3], json!({"act": "sign"})).await;
    app.clock.advance_secs(6 * 86_400);
    let handler = app.login("handler").await;
    ok(
        &handler,
        ids[2],
        json!({"act": "reply", "content": "已修复"}),
    )
    .await;
    let dispatcher = app.login("dispatcher").await;
    for (id, sat, solved) in [
        (ids[0], "satisfied", true),
        (ids[1], "basic", true),
        (ids[2], "dissatisfied", false),
    ] {
        ok(
            &dispatcher,
            id,
            json!({"act": "callback", "satisfaction": sat, "solved": solved}),
        )
        .await;
    }
    let repeat = take(&dispatcher, call("13900139100", "道路破损又反映")).await["id"]
        .as_i64()
        .unwrap();
    ok(
        &dispatcher,
        repeat,
        json!({"act": "merge", "original": ids[3]}),
    )
    .await;
    let row = rows(&app, "dept-cg").await;
    // 响应率 3/4, 解决率 2/3, 满意率 2/3, 按时办结率 2/3, 重复诉求率 1/5, 退单率 0/4,
    // 结果反馈率 (dispatches answered: three of four) 3/4.
    for (k, v) in [
        ("response", "75.0%"),
        ("solution", "66.7%"),
        ("satisfaction", "66.7%"),
        ("on_time", "66.7%"),
        ("repeat", "20.0%"),
        ("returns", "0.0%"),
        ("feedback", "75.0%"),
    ] {
        assert_eq!(row[k], v, "{k}: {row}");
    }
    // The ranking's score: 75% × 10 + 66.7% × 45 + 66.7% × 45 = 7.5 + 30.0 + 30.0 (per mille
    // 750, 667, 667 → (7500 + 30015 + 30015) / 100 = 675 tenths).
    let (s, rank) = app
        .login("supervisor")
        .await
        .get("/api/v1/complaints/ranking")
        .await;
    assert_eq!(s, StatusCode::OK, "{rank}");
    assert_eq!(rank["items"][0]["id"], cg);
    assert_eq!(rank["items"][0]["score"], "67.5");
}

async fn a_complaint_about_a_staff_member_is_never_shown_to_them(app: TestApp) {
    let admin = app.login("admin").await;
    let street = app.org_id("xingfu").await;
    let (s, v) = admin
        .post(
            "/api/v1/users",
            json!({"username": "dispatcher-b", "display_name": "冯派单",
        "org_id": street, "roles": ["dispatcher"], "password": "dispatcher-b-pass-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let complained: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'dispatcher'")
        .fetch_one(app.store.reader())
        .await
        .unwrap();
    let other = app
        .login_with("dispatcher-b", "dispatcher-b-pass-1")
        .await
        .unwrap();
    let r = take(
        &other,
        json!({"channel": "window", "request_type": "service_complaint",
        "content": "派单员态度生硬", "person_name": "赵女士", "person_phone": "13900139200",
        "complained_user_id": complained, "complained_window": "接诉即办热线席位"}),
    )
    .await;
    let id = r["id"].as_i64().unwrap();
    let hall = app.org_id("xingfu-hall").await;
    ok(&other, id, json!({"act": "dispatch", "lead": hall})).await;
    // The staff member complained about: not by id, not in lists, not in the duplicate check.
    let dispatcher = app.login("dispatcher").await;
    let (s, _) = dispatcher.get(&format!("/api/v1/complaints/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = dispatcher.get("/api/v1/complaints").await;
    assert!(
        !list.to_string().contains(r["request_no"].as_str().unwrap()),
        "{list}"
    );
    let (_, check) = dispatcher
        .post(
            "/api/v1/complaints/check",
            json!({"person_phone": "13900139200"}),
        )
        .await;
    assert_eq!(check["duplicates"], json!([]));
    let (s, _) = act(&dispatcher, id, json!({"act": "sign"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let board = dispatcher.get_text("/complaints").await;
    assert!(!board.contains(r["request_no"].as_str().unwrap()));
    // The other dispatcher sees it.
    let (s, _) = other.get(&format!("/api/v1/complaints/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    // A 窗口服务投诉 needs who or which window it is about.
    let (s, v) = other
        .post(
            "/api/v1/complaints",
            json!({"channel": "window", "request_type": "service_complaint",
        "content": "态度差", "person_name": "赵女士", "person_phone": "13900139200"}),
        )
        .await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "complained_window"),
        "{v}"
    );
}

async fn refusals_of_role_scope_and_level(app: TestApp) {
    let admin = app.login("admin").await;
    let district = app.org_id("district").await;
    // A second street with its own dispatcher.
    let (s, v) = admin.post("/api/v1/orgs", json!({"parent_id": district, "kind": "street", "name": "和平街道", "code": "heping-street"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let other_street = v["id"].as_i64().unwrap();
    let (s, v) = admin
        .post(
            "/api/v1/users",
            json!({"username": "dispatcher-hp", "display_name": "褚派单",
        "org_id": other_street, "roles": ["dispatcher"], "password": "dispatcher-hp-pass-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let dispatcher = app.login("dispatcher").await;
    let cg = app.org_id("dept-cg").await;
    let id = take(&dispatcher, call("13900139300", "占道经营")).await["id"]
        .as_i64()
        .unwrap();
    // Wrong role: a window clerk takes in but does not dispatch; a grid worker does neither.
    let clerk = app.login("clerk").await;
    let (s, v) = act(&clerk, id, json!({"act": "dispatch", "lead": cg})).await;
    assert!(
        s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
        "{s} {v}"
    );
    let (s, _) = app
        .login("grid")
        .await
        .post("/api/v1/complaints", call("13900139301", "x"))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Other organisation: the other street's dispatcher cannot read or dispatch it.
    let hp = app
        .login_with("dispatcher-hp", "dispatcher-hp-pass-1")
        .await
        .unwrap();
    let (s, _) = hp.get(&format!("/api/v1/complaints/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = act(&hp, id, json!({"act": "dispatch", "lead": cg})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A department may not act before it is the lead; a dispatch target must be a department.
    let (s, _) = act(&app.login("handler").await, id, json!({"act": "sign"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = act(
        &dispatcher,
        id,
        json!({"act": "dispatch", "lead": app.org_id("yangguang").await}),
    )
    .await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "lead"),
        "{v}"
    );
    // Nor a department of another district.
    let city = app.org_id("city").await;
    let (s, v) = admin.post("/api/v1/orgs", json!({"parent_id": city, "kind": "district", "name": "邻区", "code": "other-district"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = admin.post("/api/v1/orgs", json!({"parent_id": v["id"], "kind": "department", "name": "邻区城管局", "code": "other-cg"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = act(&dispatcher, id, json!({"act": "dispatch", "lead": v["id"]})).await;
    assert_eq!(
        (s, v["fields"][0]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("other_district")),
        "{v}"
    );
    // A window clerk follows what they took in (to tell the caller its number), nothing else,
    // and sees no one else's requests through the duplicate check.
    let mine = take(
        &clerk,
        json!({"channel": "window", "request_type": "help", "content": "咨询养老补贴",
        "person_name": "吴奶奶", "person_phone": "13900139300"}),
    )
    .await;
    let (s, _) = clerk
        .get(&format!("/api/v1/complaints/{}", mine["id"]))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = clerk.get(&format!("/api/v1/complaints/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = clerk
        .post(
            "/api/v1/complaints/check",
            json!({"person_phone": "13900139300"}),
        )
        .await;
    assert_eq!(
        (s, v["duplicates"].clone()),
        (StatusCode::OK, json!([])),
        "{v}"
    );
    // Naming a staff member (which hides the request from them) is for 窗口服务投诉 only.
    let (s, v) = dispatcher.post("/api/v1/complaints", json!({"channel": "phone", "request_type": "help",
        "content": "x", "person_name": "某", "person_phone": "13900139302", "complained_user_id": 1})).await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "complained_user_id"),
        "{v}"
    );
    // Lower level: a street administrator reads the district's tree but cannot add to it.
    let (s, v) = admin.post("/api/v1/users", json!({"username": "admin-street", "display_name": "卫管理",
        "org_id": app.org_id("xingfu").await, "roles": ["admin"], "password": "admin-street-pass-1"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, cat) = admin
        .post(
            "/api/v1/complaints/categories",
            json!({"code": "city.roads", "name": "道路设施", "department_id": cg}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{cat}");
    let street_admin = app
        .login_with("admin-street", "admin-street-pass-1")
        .await
        .unwrap();
    let (s, v) = street_admin
        .post(
            "/api/v1/complaints/categories",
            json!({"code": "x.y", "name": "街道自建"}),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden_level")),
        "{v}"
    );
    let (s, v) = street_admin
        .put(
            &format!("/api/v1/complaints/categories/{}", cat["id"]),
            json!({"name": "改名"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = street_admin
        .post("/api/v1/complaints/model", json!({}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, list) = street_admin.get("/api/v1/complaints/categories").await;
    assert_eq!(
        (s, list["items"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1)),
        "{list}"
    );
    // A bad code, an overlong name: field errors.
    let (s, v) = admin
        .post(
            "/api/v1/complaints/categories",
            json!({"code": "Bad Code", "name": "x".repeat(101)}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let fields: Vec<&str> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"code") && fields.contains(&"name"), "{v}");
}

async fn report(
    app: &TestApp,
    c: &reqwest::Client,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let page = c
        .get(app.url("/complaints/report"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let org = app.org_id("xingfu").await.to_string();
    let mut form: Vec<(&str, &str)> = vec![("_csrf", csrf.as_str()), ("org", org.as_str())];
    form.extend_from_slice(fields);
    let res = c
        .post(app.url("/complaints/report"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let s = res.status();
    (s, res.text().await.unwrap())
}

async fn the_public_form_tracking_and_the_sms_rating(app: TestApp) {
    let c = app.browser();
    let (s, page) = report(
        &app,
        &c,
        &[
            ("request_type", "help"),
            ("person_name", "钱奶奶"),
            ("person_phone", "139001"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for words in ["请填写诉求内容", "请填写11位手机号码", "钱奶奶"] {
        assert!(page.contains(words), "{words}");
    }
    assert_eq!(app.count("complaints").await, 0, "nothing half-created");
    let good = [
        ("request_type", "help"),
        ("content", "楼道灯坏了一个月"),
        ("person_name", "钱奶奶"),
        ("person_phone", "13900139400"),
    ];
    let (s, page) = report(&app, &c, &good).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let no = page
        .split("诉求编号 <strong>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let code = page
        .split("查询码 <strong>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    // The same phone number more than 5 times an hour: 429 with when to try again.
    let mut last = StatusCode::OK;
    for _ in 0..5 {
        last = report(&app, &c, &good).await.0;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // Tracking: the wrong code is nothing; the right one shows the status in plain words.
    let (s, _) = app
        .login("dispatcher")
        .await
        .get("/api/v1/complaints")
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = c
        .get(app.url(&format!("/api/v1/complaints/track?no={no}&code=WRONG1")))
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(s, StatusCode::NOT_FOUND);
    let v: Value = c
        .get(app.url(&format!("/api/v1/complaints/track?no={no}&code={code}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "已受理，正在分派到承办部门");
    assert_eq!(v["may_rate"], false);
    // Through the loop to the reply; the person rates on the page the SMS links to.
    let dispatcher = app.login("dispatcher").await;
    let handler = app.login("handler").await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM complaints WHERE request_no = $1")
        .bind(&no)
        .fetch_one(app.store.reader())
        .await
        .unwrap();
    ok(
        &dispatcher,
        id,
        json!({"act": "dispatch", "lead": app.org_id("dept-cg").await}),
    )
    .await;
    ok(&handler, id, json!({"act": "sign"})).await;
    ok(
        &handler,
        id,
        json!({"act": "reply", "content": "已更换灯管"}),
    )
    .await;
    let sms: String =
        sqlx::query_scalar("SELECT message FROM outbox_messages WHERE message LIKE '%已有答复%'")
            .fetch_one(app.store.reader())
            .await
            .unwrap();
    assert!(
        sms.contains("/complaints/track") && sms.contains(&no),
        "{sms}"
    );
    let page = c
        .get(app.url(&format!("/complaints/track?no={no}&code={code}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("已更换灯管") && page.contains("请评价办理结果"),
        "{page}"
    );
    let res = c
        .post(app.url("/api/v1/complaints/track/rating"))
        .json(&json!({"no": no, "code": code, "satisfaction": "satisfied", "solved": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["state"], "closed");
    let (_, r) = dispatcher.get(&format!("/api/v1/complaints/{id}")).await;
    assert_eq!(r["callback_way"], "sms");
    // Once only.
    let res = c
        .post(app.url("/api/v1/complaints/track/rating"))
        .json(&json!({"no": no, "code": code, "satisfaction": "dissatisfied", "solved": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["fields"][0]["code"], "already_rated", "{v}");
}

async fn a_hotline_push_keeps_its_own_id(app: TestApp) {
    let dispatcher = app.login("dispatcher").await;
    let push = json!({"channel": "hotline", "external_id": "BJ12345-20261123-0001", "request_type": "complaint",
        "urgency": "utilities", "content": "小区停暖", "person_name": "孙先生", "person_phone": "13900139500"});
    let r = take(&dispatcher, push.clone()).await;
    assert_eq!(
        (r["external_id"].as_str(), r["channel"].as_str()),
        (Some("BJ12345-20261123-0001"), Some("hotline"))
    );
    let (s, v) = dispatcher.post("/api/v1/complaints", push).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_received")),
        "{v}"
    );
    let (s, v) = dispatcher
        .post(
            "/api/v1/complaints",
            json!({"channel": "hotline", "request_type": "help",
        "content": "x", "person_name": "孙先生", "person_phone": "13900139500"}),
        )
        .await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "external_id"),
        "{v}"
    );
    assert_eq!(app.count("complaints").await, 1);
}

async fn the_suggestion_ranks_the_history_s_categories(app: TestApp) {
    let admin = app.login("admin").await;
    let cg = app.org_id("dept-cg").await;
    let mz = app.org_id("dept-mz").await;
    let mut ids = std::collections::HashMap::new();
    for (code, name, dept) in [
        ("city.lights", "路灯照明", cg),
        ("city.noise", "噪音扰民", cg),
        ("social.assistance", "社会救助", mz),
    ] {
        let (s, v) = admin
            .post(
                "/api/v1/complaints/categories",
                json!({"code": code, "name": name, "department_id": dept}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        ids.insert(code, v["id"].as_i64().unwrap());
    }
    let dispatcher = app.login("dispatcher").await;
    for (i, (code, text)) in [
        ("city.lights", "路灯不亮，晚上出行不安全"),
        ("city.lights", "小区路灯坏了好几天"),
        ("city.noise", "夜间施工噪音扰民"),
        ("city.noise", "广场舞音响噪音太大"),
        ("social.assistance", "咨询低保申请材料"),
    ]
    .iter()
    .enumerate()
    {
        take(
            &dispatcher,
            json!({"channel": "phone", "request_type": "help", "category_id": ids[code],
            "content": text, "person_name": "某", "person_phone": format!("1390013960{i}")}),
        )
        .await;
    }
    // Before training: no suggestion, nothing invented.
    let (_, v) = dispatcher
        .post("/api/v1/complaints/check", json!({"content": "路灯不亮"}))
        .await;
    assert_eq!(v["suggestions"], json!([]));
    let (s, v) = admin.post("/api/v1/complaints/model", json!({})).await;
    assert_eq!(
        (s, v["requests"].as_i64()),
        (StatusCode::OK, Some(5)),
        "{v}"
    );
    for (text, best, dept) in [
        ("晚上路灯不亮", "city.lights", cg),
        ("楼下施工噪音", "city.noise", cg),
        ("低保怎么申请", "social.assistance", mz),
    ] {
        let (_, v) = dispatcher
            .post("/api/v1/complaints/check", json!({"content": text}))
            .await;
        let top = &v["suggestions"];
        assert_eq!(top.as_array().unwrap().len(), 3, "{v}");
        assert_eq!(
            (top[0]["code"].as_str(), top[0]["department_id"].as_i64()),
            (Some(best), Some(dept)),
            "{text}: {v}"
        );
        let sum: f64 = top
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["percent"].as_f64().unwrap())
            .sum();
        assert!(
            (sum - 100.0).abs() < 0.5,
            "shares of three categories sum to 100%: {sum}"
        );
    }
    // The dispatcher takes the suggestion: dispatched with the category, counted under it.
    let r = take(
        &dispatcher,
        json!({"channel": "phone", "request_type": "help", "content": "晚上路灯不亮",
        "person_name": "某", "person_phone": "13900139699"}),
    )
    .await;
    let d = ok(
        &dispatcher,
        r["id"].as_i64().unwrap(),
        json!({"act": "dispatch", "lead": cg, "category_id": ids["city.lights"]}),
    )
    .await;
    assert_eq!(d["category_id"], ids["city.lights"]);
    let (_, by_cat) = app
        .login("supervisor")
        .await
        .get("/api/v1/complaints/figures?by=category")
        .await;
    let row = by_cat["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == ids["city.lights"])
        .cloned()
        .unwrap();
    assert_eq!(row["counts"]["dispatched"], 1, "{by_cat}");
}

async fn needs_roll_up_into_a_problem_and_a_project(app: TestApp) {
    let dispatcher = app.login("dispatcher").await;
    let a = take(
        &dispatcher,
        call("13900139801", "小区没有老年食堂，老人吃饭难"),
    )
    .await;
    let b = take(&dispatcher, call("13900139802", "希望社区开办老年助餐点")).await;
    let (s, v) = dispatcher
        .post(
            &format!("/api/v1/complaints/{}/need", a["id"]),
            json!({"kind": "new", "value": "老年助餐服务不足"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let problem = v["problem_id"].as_i64().unwrap();
    let (s, v) = dispatcher
        .post(
            &format!("/api/v1/complaints/{}/need", b["id"]),
            json!({"kind": "problem", "value": problem}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // A department handler cannot mark needs.
    let (s, _) = app
        .login("handler")
        .await
        .post(
            &format!("/api/v1/complaints/{}/need", b["id"]),
            json!({"kind": "none"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "not even visible to a department it was not sent to"
    );
    let (_, list) = dispatcher.get("/api/v1/complaints/problems").await;
    let p = &list["items"][0];
    assert_eq!(
        (p["needs"].as_i64(), p["state"].as_str()),
        (Some(2), Some("collected"))
    );
    // A project needs a name and an owner.
    let path = format!("/api/v1/complaints/problems/{problem}");
    let (s, v) = dispatcher
        .put(&path, json!({"state": "project", "version": p["version"]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let fields: Vec<&str> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["project_name", "owner_user_id"]);
    let owner = dispatcher.user["id"].as_i64().unwrap();
    let (s, v) = dispatcher
        .put(&path, json!({"state": "project", "project_name": "幸福社区老年助餐点", "owner_user_id": owner, "version": p["version"]}))
        .await;
    assert_eq!(
        (s, v["state"].as_str(), v["owner_name"].as_str()),
        (StatusCode::OK, Some("project"), Some("郑派单")),
        "{v}"
    );
    // A stale version loses.
    let (s, _) = dispatcher.put(&path, json!({"state": "done", "project_name": "x", "owner_user_id": owner, "version": p["version"]})).await;
    assert_eq!(s, StatusCode::CONFLICT);
}
