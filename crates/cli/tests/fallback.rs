//! 办不成事 through the API on both backends: the closed loop from intake to filing with
//! each stage visible, the time limits on the engine across National Day (1 clock hour, 3
//! working days, 7 working days counted from receipt), 12345 hand-overs accepted or
//! returned, rounds per tier and the one extension, refusal reports, the negative list's
//! refusal with its printed notice, the online form's limits, and the refusals of role,
//! scope and ownership (首接负责).

mod common;

use common::{Api, TestApp};
use onewindow_domain::escalation::{local_midnight, MICROS_PER_DAY, MICROS_PER_HOUR};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

on_both_backends!(
    the_loop_runs_from_intake_to_filing_with_each_stage_visible,
    limits_follow_the_engine_across_national_day,
    a_hotline_hand_over_is_accepted_or_returned,
    rounds_tiers_and_the_one_extension,
    a_joint_meeting_case_has_its_own_close_limit,
    refusals_of_role_scope_and_ownership,
    a_negative_list_refusal_names_the_entry_and_prints,
    the_online_form_waits_for_the_first_officer_and_limits_floods,
    a_query_code_cannot_be_found_by_trying,
);

fn bj(y: i32, m: u32, d: u32, h: u32) -> i64 {
    local_midnight(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap())
        + i64::from(h) * MICROS_PER_HOUR
}

fn end_of(y: i32, m: u32, d: u32) -> i64 {
    bj(y, m, d, 0) + MICROS_PER_DAY
}

fn window_case() -> Value {
    json!({
        "channel": "window", "case_type": "coordination",
        "title": "老旧小区加装电梯审批卡在规划和消防之间",
        "description": "幸福小区3号楼申请加装电梯，规划部门要求先取得消防意见，消防部门要求先有规划许可，两边都说不归自己先办。",
        "person_name": "张建国", "person_phone": "13800138001",
        "tried_ordinary": true, "tried_what": "向区住建局窗口申请加装电梯审批，被告知材料不全",
        "tried_where": "区住建局、区消防救援大队", "multi_department": true, "policy_room": true
    })
}

/// The reference data a window works with: 区民政局's approver and 区城市管理局's handler as
/// the departments' liaisons, and the district's problem tags — set by the city admin.
async fn lists(app: &TestApp) {
    let admin = app.login("admin").await;
    for (dept, user) in [("dept-mz", "approver"), ("dept-cg", "handler")] {
        let id: i64 = sqlx::query("SELECT id FROM users WHERE username = $1")
            .bind(user)
            .fetch_one(app.store.reader())
            .await
            .unwrap()
            .get("id");
        let (s, v) = admin
            .put(
                &format!("/api/v1/fallback/liaisons/{}", app.org_id(dept).await),
                json!({"user_id": id, "phone": "13800138111"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let district = app.org_id("district").await;
    for tag in ["部门职责交叉", "流程梗阻", "历史遗留问题", "政策不明确"] {
        let (s, v) = admin
            .post(
                "/api/v1/fallback/tags",
                json!({"org_id": district, "name": tag}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
}

async fn intake(api: &Api, body: Value) -> Value {
    let (s, v) = api.post("/api/v1/fallback/cases", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

async fn act(api: &Api, id: i64, body: Value) -> (StatusCode, Value) {
    api.post(&format!("/api/v1/fallback/cases/{id}/acts"), body)
        .await
}

async fn ok_act(api: &Api, id: i64, body: Value) -> Value {
    let (s, v) = act(api, id, body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body} → {v}");
    v
}

async fn run_job(app: &TestApp) -> Value {
    let admin = app.login("admin").await;
    let (s, run) = admin.post("/api/v1/jobs/escalation", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{run}");
    run
}

async fn tasks_of(api: &Api, id: i64) -> Vec<Value> {
    let (s, v) = api.get(&format!("/api/v1/fallback/cases/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["tasks"].as_array().unwrap().clone()
}

async fn rollup(app: &TestApp, metric: &str) -> i64 {
    app.store.settle_audit().await.unwrap();
    sqlx::query(
        "SELECT COALESCE(CAST(SUM(n) AS BIGINT), 0) AS n FROM fallback_rollup WHERE metric = $1",
    )
    .bind(metric)
    .fetch_one(app.store.reader())
    .await
    .unwrap()
    .get("n")
}

fn field_of(v: &Value) -> &str {
    v["fields"][0]["field"].as_str().unwrap_or("")
}

async fn the_loop_runs_from_intake_to_filing_with_each_stage_visible(app: TestApp) {
    lists(&app).await;
    let officer = app.login("fallback").await;
    let created = intake(&officer, window_case()).await;
    let case = &created["case"];
    let id = case["id"].as_i64().unwrap();
    let code = created["query_code"].as_str().unwrap().to_string();
    assert_eq!(case["state"], "received");
    assert!(case["case_no"].as_str().unwrap().starts_with("BB20261123"));
    assert_eq!(
        case["owner_name"], "赵专员",
        "首接负责: the officer who took it"
    );
    // 分类定级 is the response, within the hour.
    app.clock.advance_secs(20 * 60);
    ok_act(
        &officer,
        id,
        json!({"act": "classify", "case_type": "coordination",
        "tags": ["部门职责交叉", "流程梗阻"], "tier": "window"}),
    )
    .await;
    let (mz, cg) = (app.org_id("dept-mz").await, app.org_id("dept-cg").await);
    let rs = app.org_id("dept-rs").await;
    let (s, v) = act(
        &officer,
        id,
        json!({"act": "open_round", "departments": [mz, rs], "request": "请研究"}),
    )
    .await;
    assert_eq!(
        (s, v["fields"][0]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("no_liaison")),
        "a department without a named liaison gets no task: {v}"
    );
    let (s, v) = act(&officer, id, json!({"act": "classify", "case_type": "coordination", "tags": ["<b>新</b>"], "tier": "window"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "classified already: {v}");
    let (s, v) = act(
        &officer,
        id,
        json!({"act": "ask_extension", "days": 3, "reason": "复杂"}),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("extension_simple"))
    );
    let after = ok_act(
        &officer,
        id,
        json!({"act": "open_round", "departments": [mz, cg],
        "request": "请明确加装电梯审批的先后顺序并会签"}),
    )
    .await;
    assert_eq!(after["rounds_total"], 1);
    let tasks = tasks_of(&officer, id).await;
    assert_eq!(tasks.len(), 2, "one task per department, at once");
    let task_of = |dept: i64| {
        tasks.iter().find(|t| t["department_id"] == dept).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    // Not closable while a department has not answered: the case closes whole only.
    let (s, v) = act(
        &officer,
        id,
        json!({"act": "conclude", "outcome": "solved", "conclusion": "x"}),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("open_tasks")),
        "{v}"
    );
    // The departments answer in their inbox.
    let approver = app.login("approver").await;
    let (s, inbox) = approver.get("/api/v1/fallback/tasks").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        inbox["items"].as_array().unwrap().len(),
        1,
        "only its own department's task"
    );
    let (s, _) = approver
        .post(
            &format!("/api/v1/fallback/tasks/{}/answer", task_of(mz)),
            json!({"answer": "reply", "reply": "同意先出具消防意见"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let handler = app.login("handler").await;
    let path = format!("/api/v1/fallback/tasks/{}/answer", task_of(cg));
    let (s, v) = handler
        .post(
            &path,
            json!({"answer": "refuse", "reasons": "不属于本部门职责", "legal_basis": " "}),
        )
        .await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "legal_basis"),
        "a refusal without its legal basis cannot be saved"
    );
    let supervisor_notices = |app: &TestApp| {
        let pool = app.store.reader().clone();
        async move {
            sqlx::query("SELECT COUNT(*) AS n FROM notices WHERE recipient_role = 'supervisor' AND text LIKE '%否定答复报告%'")
                .fetch_one(&pool)
                .await
                .unwrap()
                .get::<i64, _>("n")
        }
    };
    assert_eq!(supervisor_notices(&app).await, 0);
    let (s, _) = handler
        .post(
            &path,
            json!({"answer": "refuse", "reasons": "加装电梯不属于城管审批事项",
            "legal_basis": "《城市管理执法办法》第八条"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        supervisor_notices(&app).await,
        1,
        "each refusal report reaches the supervisor"
    );
    let (s, v) = handler
        .post(&path, json!({"answer": "reply", "reply": "again"}))
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_answered"))
    );
    assert_eq!(rollup(&app, "refusal_reports").await, 1);
    // Coordinated, concluded with an outcome, fed back, verified by a second officer, filed.
    ok_act(
        &officer,
        id,
        json!({"act": "coordinated", "summary": "消防先行出具意见，规划据此许可"}),
    )
    .await;
    let (s, v) = act(
        &officer,
        id,
        json!({"act": "conclude", "outcome": "unsolved", "conclusion": "未解决"}),
    )
    .await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "reason"),
        "unsolved needs a reason"
    );
    ok_act(
        &officer,
        id,
        json!({"act": "conclude", "outcome": "solved", "conclusion": "已取得规划许可"}),
    )
    .await;
    ok_act(
        &officer,
        id,
        json!({"act": "feedback", "way": "phone", "text": "已电话告知张建国办理结果"}),
    )
    .await;
    let (s, v) = act(&officer, id, json!({"act": "verify", "note": "属实"})).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("own_case")),
        "核查 is never the owner's"
    );
    // The person rates online, once; the unit never enters its own satisfaction.
    let rate = |level: &'static str| {
        let c = app.browser();
        let url = app.url("/api/v1/fallback/progress/rating");
        let body = json!({"case_no": case["case_no"], "query_code": code, "satisfaction": level});
        async move {
            let res = c.post(url).json(&body).send().await.unwrap();
            let s = res.status();
            (s, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, v) = rate("very_satisfied").await;
    assert_eq!(
        (s, v["rated"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );
    let (s, v) = rate("dissatisfied").await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_rated"))
    );
    let second = app.login("fallback2").await;
    ok_act(
        &second,
        id,
        json!({"act": "verify", "note": "电话回访核实，问题已解决", "satisfaction": "dissatisfied"}),
    )
    .await;
    let (_, full) = officer.get(&format!("/api/v1/fallback/cases/{id}")).await;
    assert_eq!(
        full["case"]["satisfaction"], "very_satisfied",
        "the person's own rating stands"
    );
    let filed = ok_act(&officer, id, json!({"act": "file"})).await;
    assert_eq!(filed["state"], "filed");
    // Every stage visible: to staff on the chain, to the person on the progress page.
    let (_, full) = officer.get(&format!("/api/v1/fallback/cases/{id}")).await;
    let actions: Vec<&str> = full["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "intake",
            "classify",
            "open_round",
            "task_replied",
            "task_refused",
            "coordinated",
            "conclude",
            "feedback",
            "rated",
            "verify",
            "file"
        ]
    );
    assert!(full["clock"].is_null(), "the engine stopped at filing");
    let no = case["case_no"].as_str().unwrap();
    let (s, p) = app
        .login("admin")
        .await
        .get(&format!(
            "/api/v1/fallback/progress?case_no={no}&query_code={code}"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert!(
        p["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["done"] == true),
        "{p}"
    );
    assert_eq!(p["outcome"], "已解决");
    assert!(
        !p.to_string().contains("13800138001"),
        "no phone number on the person's page"
    );
    // Every act is in the audit log under a Chinese name.
    app.store.settle_audit().await.unwrap();
    let actions: Vec<String> = sqlx::query("SELECT DISTINCT action FROM audit_events WHERE action LIKE 'fallback.%' OR action LIKE 'escalation.%'")
        .fetch_all(app.store.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("action"))
        .collect();
    assert!(actions.len() >= 10, "{actions:?}");
    for a in actions {
        assert!(
            onewindow_domain::audit::action_label(&a).is_some(),
            "{a} has no Chinese name"
        );
    }
    // The figures' rollup counted each act once.
    for (metric, n) in [
        ("received", 1),
        ("responded", 1),
        ("responded_on_time", 1),
        ("coordinated", 1),
        ("coordinated_on_time", 1),
        ("concluded", 1),
        ("concluded_on_time", 1),
        ("solved", 1),
        ("rounds", 1),
        ("rated", 1),
        ("satisfied", 1),
    ] {
        assert_eq!(rollup(&app, metric).await, n, "{metric}");
    }
}

async fn limits_follow_the_engine_across_national_day(app: TestApp) {
    lists(&app).await;
    // Tuesday 2026-09-29 09:00, before the National Day break (WDs 9-30, 10-8, 10-9, the
    // make-up Saturday 10-10, then 10-12 …).
    app.clock.set(bj(2026, 9, 29, 9));
    let officer = app.login("fallback").await;
    let created = intake(&officer, window_case()).await;
    let id = created["case"]["id"].as_i64().unwrap();
    assert_eq!(
        created["case"]["respond_due_at"],
        bj(2026, 9, 29, 10),
        "1 clock hour"
    );
    assert_eq!(
        created["case"]["close_due_at"],
        end_of(2026, 10, 14),
        "7 working days from receipt"
    );
    // An hour and a second later the response is overdue: the engine escalates it to the
    // window's supervisors, once.
    app.clock.set(bj(2026, 9, 29, 10) + 1_000_000);
    let run = run_job(&app).await;
    assert_eq!(run["escalated"].as_array().unwrap().len(), 1, "{run}");
    assert_eq!(run_job(&app).await["escalated"], json!([]));
    let officer = app.login("fallback").await;
    app.clock.set(bj(2026, 9, 29, 11));
    let after = ok_act(
        &officer,
        id,
        json!({"act": "classify", "case_type": "coordination", "tags": [], "tier": "window"}),
    )
    .await;
    assert_eq!(
        after["coordinate_due_at"],
        end_of(2026, 10, 9),
        "3 working days over the holiday"
    );
    assert_eq!(rollup(&app, "responded").await, 1);
    assert_eq!(
        rollup(&app, "responded_on_time").await,
        0,
        "late by the hour"
    );
    // Coordinated on the make-up Saturday: the 办结 stage runs to the limit counted from
    // receipt, not from now.
    app.clock.set(bj(2026, 10, 10, 10));
    let officer = app.login("fallback").await;
    ok_act(
        &officer,
        id,
        json!({"act": "coordinated", "summary": "各方商定办法"}),
    )
    .await;
    let (_, full) = officer.get(&format!("/api/v1/fallback/cases/{id}")).await;
    assert_eq!(full["clock"]["stage"], "handle");
    assert_eq!(full["clock"]["due_at"], end_of(2026, 10, 14));
    assert_eq!(
        rollup(&app, "coordinated_on_time").await,
        0,
        "10-10 is past 10-09"
    );
    // Concluded on 10-15: after the 7 working days.
    app.clock.set(bj(2026, 10, 15, 9));
    let officer = app.login("fallback").await;
    ok_act(
        &officer,
        id,
        json!({"act": "conclude", "outcome": "partly_solved", "conclusion": "部分解决"}),
    )
    .await;
    assert_eq!(rollup(&app, "concluded").await, 1);
    assert_eq!(rollup(&app, "concluded_on_time").await, 0);
    assert_eq!(rollup(&app, "partly_solved").await, 1);
}

async fn a_hotline_hand_over_is_accepted_or_returned(app: TestApp) {
    let officer = app.login("fallback").await;
    let mut body = window_case();
    body["channel"] = json!("hotline");
    body["external_id"] = json!("12345-2026-000817");
    let created = intake(&officer, body.clone()).await;
    let case = &created["case"];
    let id = case["id"].as_i64().unwrap();
    assert_eq!(case["state"], "handed_over");
    assert!(
        case["owner_user_id"].is_null(),
        "whoever accepts it owns it"
    );
    assert_eq!(
        case["accept_due_at"],
        common::START_MICROS + 24 * MICROS_PER_HOUR
    );
    let mut linked = window_case();
    linked["linked_ref"] = json!("YC20261123999999");
    let (s, v) = officer.post("/api/v1/fallback/cases", linked).await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "linked_ref"),
        "a case it follows must exist"
    );
    let (s, v) = officer.post("/api/v1/fallback/cases", body.clone()).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_handed_over")),
        "{v}"
    );
    let (_, full) = officer.get(&format!("/api/v1/fallback/cases/{id}")).await;
    assert_eq!(full["clock"]["stage"], "accept");
    let second = app.login("fallback2").await;
    let accepted = ok_act(&second, id, json!({"act": "accept"})).await;
    assert_eq!(accepted["owner_name"], "钱专员");
    assert_eq!(accepted["state"], "received");
    let (s, v) = act(
        &officer,
        id,
        json!({"act": "classify", "case_type": "coordination", "tags": [], "tier": "window"}),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_owner")),
        "{v}"
    );
    // A hand-over that does not meet the conditions is sent back with a reason.
    let mut thin = body.clone();
    thin["external_id"] = json!("12345-2026-000818");
    thin["multi_department"] = json!(false);
    let other = intake(&officer, thin).await["case"]["id"].as_i64().unwrap();
    let (s, v) = act(&officer, other, json!({"act": "accept"})).await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "multi_department"),
        "{v}"
    );
    let (s, v) = act(&officer, other, json!({"act": "return", "reason": " "})).await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "reason")
    );
    let back = ok_act(
        &officer,
        other,
        json!({"act": "return", "reason": "属单一部门职责，请转区民政局办理"}),
    )
    .await;
    assert_eq!(back["state"], "returned");
    assert_eq!(rollup(&app, "refused").await, 1);
}

async fn rounds_tiers_and_the_one_extension(app: TestApp) {
    lists(&app).await;
    let officer = app.login("fallback").await;
    let id = intake(&officer, window_case()).await["case"]["id"]
        .as_i64()
        .unwrap();
    let (s, v) = act(&officer, id, json!({"act": "classify", "case_type": "coordination", "tags": ["<b>新</b>"], "tier": "window"})).await;
    assert_eq!(
        (s, v["fields"][0]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_tag")),
        "tags come from the kept list: {v}"
    );
    let (s, v) = act(&officer, id, json!({"act": "classify", "case_type": "coordination", "tags": vec!["历史遗留问题"; 9], "tier": "window"})).await;
    assert_eq!(
        (s, v["fields"][0]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("too_many"))
    );
    ok_act(&officer, id, json!({"act": "classify", "case_type": "coordination", "tags": ["历史遗留问题"], "tier": "window"})).await;
    let mz = app.org_id("dept-mz").await;
    let (s, v) = act(
        &officer,
        id,
        json!({"act": "open_round", "departments": vec![mz; 13], "request": "请研究"}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a list longer than a round may hold: {v}"
    );
    let round = json!({"act": "open_round", "departments": [mz], "request": "请研究"});
    ok_act(&officer, id, round.clone()).await;
    ok_act(&officer, id, round.clone()).await;
    let (s, v) = act(&officer, id, round.clone()).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("too_many_rounds")),
        "a third round needs the next tier: {v}"
    );
    let (s, v) = act(&officer, id, json!({"act": "open_round", "departments": [app.org_id("xingfu").await], "request": "请研究"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let raised = ok_act(
        &officer,
        id,
        json!({"act": "raise_tier", "reason": "涉及三个部门，提交联席会议"}),
    )
    .await;
    assert_eq!(
        (raised["tier"].as_str(), raised["rounds_in_tier"].as_i64()),
        (Some("joint_meeting"), Some(0))
    );
    let (s, v) = act(&officer, id, json!({"act": "open_round", "departments": [app.org_id("xingfu").await], "request": "请研究"})).await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "departments"),
        "only departments get tasks: {v}"
    );
    ok_act(&officer, id, round.clone()).await;
    let cg = app.org_id("dept-cg").await;
    let (s, v) = officer
        .post(
            &format!("/api/v1/fallback/cases/{id}/meetings"),
            json!({"held_on": "2026-12-30",
            "departments": [mz], "minutes": "未来的会议", "decisions": []}),
        )
        .await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "held_on"),
        "a meeting not yet held: {v}"
    );
    let (s, v) = officer
        .post(
            &format!("/api/v1/fallback/cases/{id}/meetings"),
            json!({"held_on": "2026-11-23",
            "departments": [mz, cg], "minutes": "会议商定由区民政局牵头",
            "decisions": [{"text": "出具书面意见", "owner_org_id": mz, "due_on": "2026-11-27"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // The leading group is a supervisor's decision.
    let (s, v) = act(&officer, id, json!({"act": "raise_tier", "reason": "重大"})).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_supervisor"))
    );
    // One extension, decided by a supervisor; it lengthens the 办结 stage.
    let (s, v) = act(
        &officer,
        id,
        json!({"act": "ask_extension", "days": 30, "reason": "复杂"}),
    )
    .await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "days")
    );
    ok_act(
        &officer,
        id,
        json!({"act": "ask_extension", "days": 5, "reason": "需等待联席会议意见"}),
    )
    .await;
    let (s, v) = act(
        &officer,
        id,
        json!({"act": "ask_extension", "days": 5, "reason": "again"}),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("extension_used"))
    );
    let (s, _) = act(
        &officer,
        id,
        json!({"act": "decide_extension", "approve": true, "note": ""}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "not the officer's decision");
    let supervisor = app.login("supervisor").await;
    let decided = ok_act(
        &supervisor,
        id,
        json!({"act": "decide_extension", "approve": true, "note": "同意"}),
    )
    .await;
    assert_eq!(decided["extension_state"], "approved");
    ok_act(
        &supervisor,
        id,
        json!({"act": "raise_tier", "reason": "涉及区、街道两级"}),
    )
    .await;
    // Answer the open tasks, then coordination ends: the 办结 limit is 7 WD from receipt
    // (Mon 11-23 → Wed 12-02) plus 5 WD (→ Wed 12-09).
    for t in tasks_of(&officer, id).await {
        if t["state"] == "sent" {
            let (s, _) = app
                .login("approver")
                .await
                .post(
                    &format!("/api/v1/fallback/tasks/{}/answer", t["id"]),
                    json!({"answer": "reply", "reply": "已研究"}),
                )
                .await;
            assert_eq!(s, StatusCode::NO_CONTENT);
        }
    }
    let officer = app.login("fallback").await;
    ok_act(
        &officer,
        id,
        json!({"act": "coordinated", "summary": "领导小组议定"}),
    )
    .await;
    let (_, full) = officer.get(&format!("/api/v1/fallback/cases/{id}")).await;
    assert_eq!(full["case"]["close_due_at"], end_of(2026, 12, 2));
    assert_eq!(
        full["clock"]["due_at"],
        end_of(2026, 12, 9),
        "{}",
        full["clock"]
    );
    assert_eq!(full["meetings"][0]["decisions"][0]["owner_org_id"], mz);
    assert_eq!(rollup(&app, "extended").await, 1);
}

async fn refusals_of_role_scope_and_ownership(app: TestApp) {
    lists(&app).await;
    let (s, v) = app
        .login("clerk")
        .await
        .post("/api/v1/fallback/cases", window_case())
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden_role"))
    );
    let (s, _) = app
        .login("supervisor")
        .await
        .post("/api/v1/fallback/cases", window_case())
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a supervisor does not take cases in"
    );
    let officer = app.login("fallback").await;
    let id = intake(&officer, window_case()).await["case"]["id"]
        .as_i64()
        .unwrap();
    let (s, _) = app
        .login("approver")
        .await
        .get(&format!("/api/v1/fallback/cases/{id}"))
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a department reads its tasks, not the case"
    );
    // An officer of another street: not in scope.
    let admin = app.login("admin").await;
    let (s, v) = admin
        .post(
            "/api/v1/users",
            json!({"org_id": app.org_id("heping").await, "username": "heping.fallback",
            "display_name": "和平专员", "roles": ["fallback_officer"], "password": "spring-2026"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let stranger = app
        .login_with("heping.fallback", "spring-2026")
        .await
        .unwrap();
    let (s, _) = stranger.get(&format!("/api/v1/fallback/cases/{id}")).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "another window's case is like no case"
    );
    let (s, _) = act(&stranger, id, json!({"act": "take"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, list) = stranger.get("/api/v1/fallback/cases").await;
    assert_eq!(
        (s, list["items"].as_array().unwrap().len()),
        (StatusCode::OK, 0),
        "lists keep to scope"
    );
    // 首接负责: another officer of the same window may not work it until handed over.
    let second = app.login("fallback2").await;
    let classify =
        json!({"act": "classify", "case_type": "coordination", "tags": [], "tier": "window"});
    let (s, v) = act(&second, id, classify.clone()).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_owner"))
    );
    assert!(
        v["title"].as_str().unwrap().contains("赵专员"),
        "names the owner: {v}"
    );
    let heping_user: i64 = sqlx::query("SELECT id FROM users WHERE username = 'heping.fallback'")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id");
    let (s, v) = act(
        &officer,
        id,
        json!({"act": "hand_over", "to_user_id": heping_user, "reason": "x"}),
    )
    .await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "to_user_id"),
        "only to an officer of this window: {v}"
    );
    let second_id: i64 = sqlx::query("SELECT id FROM users WHERE username = 'fallback2'")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id");
    let (s, v) = act(
        &officer,
        id,
        json!({"act": "hand_over", "to_user_id": second_id, "reason": ""}),
    )
    .await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "reason")
    );
    let moved = ok_act(
        &officer,
        id,
        json!({"act": "hand_over", "to_user_id": second_id, "reason": "赵专员休假"}),
    )
    .await;
    assert_eq!(moved["owner_name"], "钱专员");
    ok_act(&second, id, classify.clone()).await;
    let (s, _) = act(&officer, id, json!({"act": "raise_tier", "reason": "x"})).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the former owner no longer works it"
    );
    // A department answers only its own department's tasks.
    ok_act(&second, id, json!({"act": "open_round", "departments": [app.org_id("dept-mz").await], "request": "请研究"})).await;
    let task = tasks_of(&second, id).await[0]["id"].as_i64().unwrap();
    let (s, v) = app
        .login("handler")
        .await
        .post(
            &format!("/api/v1/fallback/tasks/{task}/answer"),
            json!({"answer": "reply", "reply": "已办"}),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found")),
        "another department's task is like no task"
    );
    // A stale version is refused; an act the state does not take is a conflict.
    let (s, v) = act(&second, id, json!({"act": "file", "version": 1})).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("version_conflict"))
    );
    let (s, v) = act(&second, id, json!({"act": "file"})).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("wrong_state"))
    );
    let (s, v) = act(&second, id, json!({"act": "nonsense"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
}

async fn a_negative_list_refusal_names_the_entry_and_prints(app: TestApp) {
    let district = app.org_id("district").await;
    let admin_id: i64 = sqlx::query("SELECT id FROM users WHERE username = 'admin'")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id");
    let mut entries = vec![];
    for (title, active) in [("已进入诉讼程序的纠纷", 1), ("已停用的条目", 0)] {
        let id: i64 = sqlx::query(
            "INSERT INTO fallback_negative_entries (org_id, category, title, description, right_channel, \
             active, updated_by, updated_at) VALUES ($1, 'litigation', $2, '法院已立案的', '人民法院', $3, $4, 0) RETURNING id",
        )
        .bind(district)
        .bind(title)
        .bind(active)
        .bind(admin_id)
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id");
        entries.push(id);
    }
    let officer = app.login("fallback").await;
    let mut body = window_case();
    body["person_name"] = json!("李桂芳");
    let id = intake(&officer, body).await["case"]["id"].as_i64().unwrap();
    let refuse = |entry: i64| {
        json!({"act": "refuse", "entry_id": entry,
        "reason": "该纠纷已由法院受理，属涉诉事项", "right_channel": "区人民法院立案庭"})
    };
    let (s, v) = act(&officer, id, refuse(entries[1])).await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "entry_id"),
        "a retired entry: {v}"
    );
    let (s, v) = act(
        &officer,
        id,
        json!({"act": "refuse", "entry_id": entries[0], "reason": "x", "right_channel": ""}),
    )
    .await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "right_channel"),
        "the right channel is named"
    );
    let refused = ok_act(&officer, id, refuse(entries[0])).await;
    assert_eq!(refused["state"], "refused");
    // The printed notice names the entry, the reason and the channel.
    let c = app.browser();
    let login = c
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = login
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let res = c
        .post(app.url("/login"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", "fallback"),
            ("password", onewindow_store::demo::DEMO_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success() || res.status().is_redirection());
    let page = c
        .get(app.url(&format!("/fallback/cases/{id}/refusal")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for words in [
        "不予受理告知书",
        "已进入诉讼程序的纠纷",
        "区人民法院立案庭",
        "李桂芳",
    ] {
        assert!(page.contains(words), "{words}: {page}");
    }
    let (_, full) = officer.get(&format!("/api/v1/fallback/cases/{id}")).await;
    assert!(full["clock"].is_null(), "a refusal ends the tracking");
}

/// Posts the public form (with its CSRF token from a fresh page) and answers the response.
async fn post_public_form(
    app: &TestApp,
    c: &reqwest::Client,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let page = c
        .get(app.url("/fallback/apply"))
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
    c.post(app.url("/fallback/apply"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn public_form(
    app: &TestApp,
    c: &reqwest::Client,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let res = post_public_form(app, c, fields).await;
    let status = res.status();
    (status, res.text().await.unwrap())
}

async fn the_online_form_waits_for_the_first_officer_and_limits_floods(app: TestApp) {
    let c = app.browser();
    // Invalid: each field named in Chinese, what was typed kept.
    let (s, page) = public_form(
        &app,
        &c,
        &[
            ("case_type", "coordination"),
            ("title", "企业迁移税务登记办不下来"),
            ("person_name", "王小明"),
            ("person_phone", "1380013"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for words in [
        "请填写问题详情",
        "请填写11位手机号码",
        "请先确认已按正常渠道办理过",
        "企业迁移税务登记办不下来",
    ] {
        assert!(page.contains(words), "{words}");
    }
    assert_eq!(app.count("fallback_cases").await, 0, "nothing half-created");
    let good: Vec<(&str, &str)> = vec![
        ("case_type", "coordination"),
        ("title", "企业跨区迁移税务登记办不下来"),
        (
            "description",
            "公司从甲区迁到本区，税务迁出迁入两边互相要求先办",
        ),
        ("person_name", "王小明"),
        ("person_phone", "13800138009"),
        ("tried_ordinary", "1"),
        ("tried_what", "办理跨区迁移"),
        ("tried_where", "两区税务局"),
        ("multi_department", "1"),
        ("policy_room", "1"),
    ];
    let (s, page) = public_form(&app, &c, &good).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("已受理。案件编号 BB"), "{page}");
    let (_, list) = app
        .login("fallback")
        .await
        .get("/api/v1/fallback/cases?state=received")
        .await;
    let case = &list["items"][0];
    assert!(
        case["owner_user_id"].is_null(),
        "online cases wait for the first officer"
    );
    assert_eq!(case["channel"], "online");
    let taken = ok_act(
        &app.login("fallback2").await,
        case["id"].as_i64().unwrap(),
        json!({"act": "take"}),
    )
    .await;
    assert_eq!(taken["owner_name"], "钱专员");
    let (s, v) = act(
        &app.login("fallback").await,
        case["id"].as_i64().unwrap(),
        json!({"act": "take"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "taken once: {v}");
    // One phone number, five submissions an hour; the sixth is told when to try again.
    for _ in 0..4 {
        let (s, _) = public_form(&app, &c, &good).await;
        assert_eq!(s, StatusCode::OK);
    }
    let res = post_public_form(&app, &c, &good).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
    assert!(res.text().await.unwrap().contains("提交过于频繁"));
    assert_eq!(app.count("fallback_cases").await, 5);
}

async fn a_query_code_cannot_be_found_by_trying(app: TestApp) {
    let officer = app.login("fallback").await;
    let created = intake(&officer, window_case()).await;
    let no = created["case"]["case_no"].as_str().unwrap().to_string();
    let c = app.browser();
    let get = |code: String| {
        let c = c.clone();
        let url = app.url(&format!(
            "/api/v1/fallback/progress?case_no={no}&query_code={code}"
        ));
        async move { c.get(url).send().await.unwrap().status() }
    };
    let (s, v) = officer
        .get("/api/v1/fallback/progress?case_no=YC123&query_code=x")
        .await;
    assert_eq!(
        (s, field_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "case_no")
    );
    for i in 0..10 {
        assert_eq!(get(format!("WRONG{i}")).await, StatusCode::NOT_FOUND);
    }
    assert_eq!(
        get(created["query_code"].as_str().unwrap().to_string()).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.clock.advance_secs(61);
    assert_eq!(
        get(created["query_code"].as_str().unwrap().to_string()).await,
        StatusCode::OK
    );
}

async fn a_joint_meeting_case_has_its_own_close_limit(app: TestApp) {
    lists(&app).await;
    let (s, v) = app
        .login("admin")
        .await
        .put(
            "/api/v1/settings/fallback.close_days_joint_meeting",
            json!({"value": 10}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let officer = app.login("fallback").await;
    let id = intake(&officer, window_case()).await["case"]["id"]
        .as_i64()
        .unwrap();
    let classified = ok_act(
        &officer,
        id,
        json!({"act": "classify", "case_type": "coordination",
        "tags": [], "tier": "joint_meeting"}),
    )
    .await;
    // Mon 11-23 + 10 working days = Mon 12-07.
    assert_eq!(classified["close_due_at"], end_of(2026, 12, 7));
    ok_act(
        &officer,
        id,
        json!({"act": "coordinated", "summary": "联席会议议定"}),
    )
    .await;
    let (_, full) = officer.get(&format!("/api/v1/fallback/cases/{id}")).await;
    assert_eq!(full["clock"]["stage"], "handle");
    assert_eq!(
        full["clock"]["due_at"],
        end_of(2026, 12, 7),
        "the engine keeps the tier's limit"
    );
}
