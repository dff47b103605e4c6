//! 案例库 and 政策建议 on both backends: a filed solved case enters the library once,
//! anonymised, with its terms; keyword search ranks by the documented formula, filters by
//! tag and pages by keyset; similar problems for the intake page; unsolved cases stay out;
//! suggestions with the cases behind them move proposed → under study → adopted / rejected
//! with the deciding body and date, counted in the rollup; the refusals (role and scope).
//!
//! The case loop is built elsewhere: the cases here are inserted as filed rows by SQL and
//! indexed through the store function the filing step calls.

mod common;

use common::TestApp;
use onewindow_store::audit::Who;
use onewindow_store::fallback::library as store;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;

on_both_backends!(
    a_solved_case_enters_the_library_once_anonymised_and_is_found_by_keywords,
    search_ranks_by_the_formula_filters_by_tag_and_pages,
    suggestions_move_to_a_decision_with_body_and_date_and_count,
    reading_and_deciding_refuse_outside_role_and_scope,
    the_pages_show_the_library_and_the_suggestions,
    the_demo_seed_fills_the_library_and_suggestions_in_every_state,
);

struct NewCase<'a> {
    org: &'a str,
    title: &'a str,
    description: &'a str,
    conclusion: &'a str,
    outcome: &'a str,
    tags: &'a [&'a str],
}

const ELEVATOR: NewCase<'static> = NewCase {
    org: "xingfu",
    title: "张三丰反映幸福路12号老旧小区加装电梯审批难",
    description:
        "张三丰（身份证11010519491231002X，电话13800138000）反映：幸福路12号3栋老旧小区加装电梯，\
                  规划、住建、市场监管各说各的，业主意见也不统一，跑了半年没办成。",
    conclusion: "联席会议明确加装电梯由住建部门牵头并联审批，规划免于办理工程规划许可，已开工。",
    outcome: "solved",
    tags: &["部门职责交叉", "流程梗阻"],
};

const TAX: NewCase<'static> = NewCase {
    org: "xingfu",
    title: "企业跨区迁移税务登记迁出受阻",
    description: "示范市幸福商贸有限公司从外区迁入，税务迁出需先清税，清税又要求先注销原经营场所备案，互为前置。",
    conclusion: "协调税务、市场监管按容缺办理，先迁入后补备案，税务登记迁移已完成。",
    outcome: "partly_solved",
    tags: &["政策不明确"],
};

const DEED: NewCase<'static> = NewCase {
    org: "xingfu",
    title: "历史遗留房产证办理",
    description:
        "九十年代单位集资建房，开发企业已注销，房产证一直办不下来，涉及不动产登记、住建、税务。",
    conclusion: "按历史遗留问题处置办法分类办理，补缴契税后办理不动产权证。",
    outcome: "solved",
    tags: &["历史遗留问题"],
};

const UNSOLVED: NewCase<'static> = NewCase {
    org: "xingfu",
    title: "加装电梯补贴未到账",
    description: "加装电梯完工后补贴迟迟未发放。",
    conclusion: "资金尚未下达，未能解决。",
    outcome: "unsolved",
    tags: &[],
};

/// Inserts a filed case (every NOT NULL column) and returns its id.
async fn filed_case(app: &TestApp, c: &NewCase<'_>, n: i64) -> i64 {
    let org = app.org_id(c.org).await;
    let now = app.clock_now();
    let tags = serde_json::to_string(&c.tags).unwrap();
    sqlx::query(
        "INSERT INTO fallback_cases (case_no, query_code, org_id, case_type, channel, state, tier, \
         title, description, person_name, person_phone, company_name, tried_what, tried_where, \
         linked_ref, multi_department, policy_room, tags, received_at, concluded_at, outcome, \
         conclusion, filed_at) VALUES ($1, '123456', $2, 'coordination', 'window', 'filed', \
         'joint_meeting', $3, $4, '张三丰', '13800138000', '示范市幸福商贸有限公司', '窗口申请', \
         '区政务服务中心', '', 1, 1, $5, $6, $7, $8, $9, $7) RETURNING id",
    )
    .bind(format!("BB20261201{n:06}"))
    .bind(org)
    .bind(c.title)
    .bind(c.description)
    .bind(tags)
    .bind(now - 10 * 86_400_000_000)
    .bind(now)
    .bind(c.outcome)
    .bind(c.conclusion)
    .fetch_one(app.store.reader())
    .await
    .unwrap()
    .get("id")
}

async fn index(app: &TestApp, case_id: i64) -> Option<i64> {
    let change = app.state.change(Who::system("test"));
    let mut tx = app.store.begin().await.unwrap();
    let out = store::index_case(&mut tx, &change, case_id).await.unwrap();
    tx.commit().await.unwrap();
    out
}

/// Files and indexes the three solved demo cases and the unsolved one; their case ids.
async fn library(app: &TestApp) -> Vec<i64> {
    let mut ids = Vec::new();
    for (n, c) in [&ELEVATOR, &TAX, &DEED, &UNSOLVED].iter().enumerate() {
        let id = filed_case(app, c, n as i64 + 1).await;
        index(app, id).await;
        ids.push(id);
    }
    ids
}

async fn a_solved_case_enters_the_library_once_anonymised_and_is_found_by_keywords(app: TestApp) {
    let case = filed_case(&app, &ELEVATOR, 1).await;
    let audit_before = app.count("audit_events").await;
    let entry = index(&app, case).await.expect("solved: indexed");
    assert_eq!(app.count("audit_events").await, audit_before + 1);
    // Once: the second call returns the same entry and writes nothing.
    assert_eq!(index(&app, case).await, Some(entry));
    assert_eq!(app.count("fallback_library").await, 1);
    let terms = app.count("fallback_library_terms").await;
    assert!(terms > 5, "{terms}");

    // Unsolved stays out.
    let unsolved = filed_case(&app, &UNSOLVED, 2).await;
    assert_eq!(index(&app, unsolved).await, None);
    assert_eq!(app.count("fallback_library").await, 1);

    let officer = app.login("fallback").await;
    let (s, e) = officer
        .get(&format!("/api/v1/fallback/library/{entry}"))
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let all = format!("{}{}{}", e["title"], e["problem"], e["solution"]);
    for gone in ["张三丰", "13800138000", "11010519491231002X", "12号", "3栋"] {
        assert!(!all.contains(gone), "{gone} left in {all}");
    }
    assert!(all.contains("张某") && all.contains("[手机号]") && all.contains("[身份证号]"));
    assert!(all.contains("幸福路某号某栋"), "{all}");
    assert_eq!(e["outcome"], "solved");
    assert_eq!(e["tags"], json!(["部门职责交叉", "流程梗阻"]));

    // Found by keywords, not by the removed name or phone.
    let (s, page) = officer.get("/api/v1/fallback/library?q=加装电梯").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["items"][0]["id"], entry);
    assert!(page["items"][0]["score"].as_i64().unwrap() > 0);
    for q in ["张三丰", "13800138000"] {
        let (_, page) = officer
            .get(&format!("/api/v1/fallback/library?q={q}"))
            .await;
        assert_eq!(page["items"], json!([]), "{q}: {page}");
    }
    // Similar problems for the intake page.
    let (s, sim) = officer
        .get("/api/v1/fallback/library/similar?text=我家小区想装电梯，业主意见不统一&n=3")
        .await;
    assert_eq!(s, StatusCode::OK, "{sim}");
    assert_eq!(sim["items"][0]["id"], entry);
    let (_, sim) = officer
        .get("/api/v1/fallback/library/similar?text=，。的")
        .await;
    assert_eq!(sim["items"], json!([]));
    let (s, _) = officer
        .get("/api/v1/fallback/library/similar?text=电梯&n=0")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

async fn search_ranks_by_the_formula_filters_by_tag_and_pages(app: TestApp) {
    let _ids = library(&app).await;
    let officer = app.login("fallback").await;
    // Hand-computed: N = 3 entries. "税务" is in TAX (problem 1 + solution 1 + title 3 = 5;
    // title 企业跨区迁移税务登记迁出受阻 holds 税务 once) and DEED (problem 1 + solution 0);
    // jieba's cut is checked through the stored weights rather than assumed.
    let weight = |term: &'static str, entry: i64| {
        let pool = app.store.reader().clone();
        async move {
            sqlx::query(
                "SELECT weight FROM fallback_library_terms WHERE term = $1 AND entry_id = $2",
            )
            .bind(term)
            .bind(entry)
            .fetch_optional(&pool)
            .await
            .unwrap()
            .map(|r| r.get::<i64, _>("weight"))
            .unwrap_or(0)
        }
    };
    let (s, page) = officer.get("/api/v1/fallback/library?q=税务").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    let n = 3.0_f64;
    let idf = (1000.0 * (1.0 + n / 2.0).ln()).round() as i64; // df = 2
    for it in items {
        let id = it["id"].as_i64().unwrap();
        assert_eq!(it["score"], weight("税务", id).await * idf, "{it}");
    }
    assert!(items[0]["score"].as_i64() >= items[1]["score"].as_i64());
    assert_eq!(items[0]["title"], "企业跨区迁移税务登记迁出受阻");

    // Tag filter, with and without keywords.
    let (_, page) = officer
        .get("/api/v1/fallback/library?tag=历史遗留问题")
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["items"][0]["title"], "历史遗留房产证办理");
    let (_, page) = officer
        .get("/api/v1/fallback/library?q=税务&tag=历史遗留问题")
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    let (_, page) = officer.get("/api/v1/fallback/library?tag=没有的标签").await;
    assert_eq!(page["items"], json!([]));

    // Keyset pages: ranked (score, id) and newest first (id), no repeats, nothing lost.
    for path in [
        "/api/v1/fallback/library?q=税务 电梯 房产证&limit=1",
        "/api/v1/fallback/library?limit=1",
    ] {
        let mut seen: Vec<i64> = Vec::new();
        let mut next = Some(path.to_string());
        while let Some(p) = next {
            let (s, page) = officer.get(&p).await;
            assert_eq!(s, StatusCode::OK, "{page}");
            for it in page["items"].as_array().unwrap() {
                seen.push(it["id"].as_i64().unwrap());
            }
            next = page["next"].as_str().map(str::to_string);
        }
        let mut uniq = seen.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), seen.len(), "{path}: {seen:?}");
        assert_eq!(seen.len(), 3, "{path}: {seen:?}");
    }
    // A cursor of one query does not page another.
    let (_, page) = officer.get("/api/v1/fallback/library?limit=1").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (s, _) = officer
        .get(&format!(
            "/api/v1/fallback/library?q=税务&limit=1&cursor={cursor}"
        ))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Junk is refused, not a 500.
    let long = "电".repeat(201);
    let (s, _) = officer
        .get(&format!("/api/v1/fallback/library?q={long}"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = officer.get("/api/v1/fallback/library?limit=abc").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

async fn rollup(app: &TestApp, metric: &str) -> i64 {
    sqlx::query(
        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM fallback_rollup WHERE metric = $1",
    )
    .bind(metric)
    .fetch_one(app.store.reader())
    .await
    .unwrap()
    .get::<i64, _>("n")
}

async fn suggestions_move_to_a_decision_with_body_and_date_and_count(app: TestApp) {
    let ids = library(&app).await;
    let officer = app.login("fallback").await;
    let supervisor = app.login("supervisor").await;
    let (s, sug) = officer
        .post(
            "/api/v1/fallback/suggestions",
            json!({"title": "老旧小区加装电梯并联审批", "content": "建议出台加装电梯并联审批办法。",
                   "case_ids": [ids[0], ids[3]]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sug}");
    assert_eq!(sug["state"], "proposed");
    let id = sug["id"].as_i64().unwrap();
    let (s, got) = officer
        .get(&format!("/api/v1/fallback/suggestions/{id}"))
        .await;
    assert_eq!(s, StatusCode::OK, "{got}");
    assert_eq!(got["cases"].as_array().unwrap().len(), 2);
    assert!(got["cases"][0]["library_id"].is_i64(), "{got}");
    assert!(got["cases"][1]["library_id"].is_null(), "{got}");

    // Bad input: nothing written.
    for (body, field) in [
        (
            json!({"title": "", "content": "x", "case_ids": [ids[0]]}),
            "title",
        ),
        (
            json!({"title": "x", "content": "x", "case_ids": []}),
            "case_ids",
        ),
        (
            json!({"title": "x", "content": "x", "case_ids": [999_999]}),
            "case_ids",
        ),
        (
            json!({"title": "x".repeat(101), "content": "x", "case_ids": [ids[0]]}),
            "title",
        ),
    ] {
        let (s, p) = officer.post("/api/v1/fallback/suggestions", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(p["fields"][0]["field"], field, "{p}");
    }
    assert_eq!(app.count("fallback_suggestions").await, 1);

    let path = format!("/api/v1/fallback/suggestions/{id}/decision");
    // Straight to adopted is not a step.
    let (s, p) = supervisor
        .post(&path, json!({"state": "adopted", "deciding_body": "区政府", "decided_on": "2026-11-20", "note": "x"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    let (s, st) = supervisor
        .post(
            &path,
            json!({"state": "under_study", "version": 1, "deciding_body": "区住建局"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{st}");
    assert_eq!(st["state"], "under_study");
    // A stale version.
    let (s, _) = supervisor
        .post(
            &path,
            json!({"state": "adopted", "version": 1, "deciding_body": "区政府",
                            "decided_on": "2026-11-20", "note": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let today = onewindow_store::clock::local_date(app.clock_now());
    for (body, field) in [
        (
            json!({"state": "adopted", "decided_on": today.to_string(), "note": "x"}),
            "deciding_body",
        ),
        (
            json!({"state": "adopted", "deciding_body": "区政府", "note": "x"}),
            "decided_on",
        ),
        (
            json!({"state": "adopted", "deciding_body": "区政府", "decided_on": "2026-13-01", "note": "x"}),
            "decided_on",
        ),
        (
            json!({"state": "adopted", "deciding_body": "区政府",
                "decided_on": (today + chrono::Duration::days(1)).to_string(), "note": "x"}),
            "decided_on",
        ),
        (
            json!({"state": "adopted", "deciding_body": "区政府", "decided_on": today.to_string()}),
            "note",
        ),
        (json!({"state": "approved"}), "state"),
    ] {
        let (s, p) = supervisor.post(&path, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(p["fields"][0]["field"], field, "{p}");
    }
    assert_eq!(rollup(&app, "suggestions_decided").await, 0);
    let (s, done) = supervisor
        .post(
            &path,
            json!({"state": "adopted", "version": 2, "deciding_body": "区人民政府常务会议",
                            "decided_on": today.to_string(), "note": "出台并联审批办法"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "adopted");
    assert_eq!(done["deciding_body"], "区人民政府常务会议");
    assert_eq!(done["decided_on"], today.to_string());
    assert_eq!(rollup(&app, "suggestions_decided").await, 1);
    assert_eq!(rollup(&app, "suggestions_adopted").await, 1);
    let day: String =
        sqlx::query("SELECT day FROM fallback_rollup WHERE metric = 'suggestions_adopted'")
            .fetch_one(app.store.reader())
            .await
            .unwrap()
            .get("day");
    assert_eq!(day, today.to_string());
    // Decided: no further step.
    let (s, _) = supervisor
        .post(
            &path,
            json!({"state": "rejected", "deciding_body": "区政府",
                            "decided_on": today.to_string(), "note": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // The lead's conclusion step: a case concluded 转政策建议 proposes one; rejected counts
    // as decided, not adopted.
    let fallback_id: i64 = sqlx::query("SELECT id FROM users WHERE username = 'fallback'")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id");
    let change = app.state.change(Who::user(fallback_id, "fallback"));
    let mut tx = app.store.begin().await.unwrap();
    let second = store::propose_from_case(
        &mut tx,
        &change,
        ids[1],
        "跨区迁移清税与备案互为前置",
        "建议明确先迁入后补备案。",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let path = format!("/api/v1/fallback/suggestions/{second}/decision");
    let (s, _) = supervisor
        .post(&path, json!({"state": "under_study"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, r) = supervisor
        .post(&path, json!({"state": "rejected", "deciding_body": "区税务局",
                            "decided_on": today.to_string(), "note": "上级已有规定，按现行办法执行"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(rollup(&app, "suggestions_decided").await, 2);
    assert_eq!(rollup(&app, "suggestions_adopted").await, 1);

    // Lists by state, keyset.
    let (_, list) = officer
        .get("/api/v1/fallback/suggestions?state=adopted")
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["items"][0]["id"], id);
    let (_, list) = officer.get("/api/v1/fallback/suggestions?limit=1").await;
    assert_eq!(list["items"][0]["id"], second);
    let (_, list2) = officer.get(list["next"].as_str().unwrap()).await;
    assert_eq!(list2["items"][0]["id"], id);
    assert!(list2["next"].is_null());
    let (s, _) = officer.get("/api/v1/fallback/suggestions?state=nope").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

async fn reading_and_deciding_refuse_outside_role_and_scope(app: TestApp) {
    let ids = library(&app).await;
    // An entry and a case of the district itself: outside the street officer's scope.
    let district_case = filed_case(
        &app,
        &NewCase {
            org: "district",
            ..DEED
        },
        10,
    )
    .await;
    let district_entry = index(&app, district_case).await.unwrap();
    let city_case = filed_case(&app, &NewCase { org: "city", ..TAX }, 11).await;

    let officer = app.login("fallback").await;
    let supervisor = app.login("supervisor").await;
    let handler = app.login("handler").await;
    let admin = app.login("admin").await;

    // Wrong role.
    for path in [
        "/api/v1/fallback/library".to_string(),
        "/api/v1/fallback/library/similar?text=电梯".to_string(),
        format!("/api/v1/fallback/library/{district_entry}"),
        "/api/v1/fallback/suggestions".to_string(),
    ] {
        let (s, p) = handler.get(&path).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {p}");
    }
    // Other organisation: the street officer cannot read the district's entry; the
    // district's supervisor can; the street's search does not list it.
    let (s, _) = officer
        .get(&format!("/api/v1/fallback/library/{district_entry}"))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = supervisor
        .get(&format!("/api/v1/fallback/library/{district_entry}"))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, page) = officer.get("/api/v1/fallback/library?q=房产证").await;
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["id"] != district_entry),
        "{page}"
    );
    let (_, page) = supervisor.get("/api/v1/fallback/library?q=房产证").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "{page}");

    // Proposing: the officer only over cases in scope; the supervisor has no HandleFallback.
    let before = app.count("fallback_suggestions").await;
    let (s, _) = officer
        .post(
            "/api/v1/fallback/suggestions",
            json!({"title": "x", "content": "y", "case_ids": [district_case]}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = supervisor
        .post(
            "/api/v1/fallback/suggestions",
            json!({"title": "x", "content": "y", "case_ids": [ids[0]]}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The city's administrator reads but does not propose.
    let (s, p) = admin
        .post(
            "/api/v1/fallback/suggestions",
            json!({"title": "x", "content": "y", "case_ids": [ids[0], district_case]}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{p}");
    assert_eq!(app.count("fallback_suggestions").await, before);

    // Deciding: a supervisor over the organisation only, never the officer.
    let (s, sug) = officer
        .post(
            "/api/v1/fallback/suggestions",
            json!({"title": "x", "content": "y", "case_ids": [ids[0]]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let path = format!("/api/v1/fallback/suggestions/{}/decision", sug["id"]);
    let (s, _) = officer.post(&path, json!({"state": "under_study"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = admin.post(&path, json!({"state": "under_study"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A suggestion of the city: outside the district supervisor's scope.
    let officer_id: i64 = sqlx::query("SELECT id FROM users WHERE username = 'fallback'")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id");
    let change = app.state.change(Who::user(officer_id, "fallback"));
    let mut tx = app.store.begin().await.unwrap();
    let city_sug = store::propose_from_case(&mut tx, &change, city_case, "市级建议", "内容")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (s, _) = supervisor
        .post(
            &format!("/api/v1/fallback/suggestions/{city_sug}/decision"),
            json!({"state": "under_study"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = supervisor
        .get(&format!("/api/v1/fallback/suggestions/{city_sug}"))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, st) = admin
        .get(&format!("/api/v1/fallback/suggestions/{city_sug}"))
        .await;
    assert_eq!(st["state"], "proposed", "nothing written: {st}");
    let (s, _) = officer.get("/api/v1/fallback/suggestions/999999").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn page(app: &TestApp, api: &common::Api, path: &str) -> (StatusCode, String) {
    let res = api.client.get(app.url(path)).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn the_pages_show_the_library_and_the_suggestions(app: TestApp) {
    let ids = library(&app).await;
    let officer = app.login("fallback").await;
    let (s, html) = page(&app, &officer, "/fallback/library?q=加装电梯").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("幸福路某号老旧小区加装电梯审批难"), "{html}");
    assert!(!html.contains("张三丰") && !html.contains("13800138000"));
    assert!(!html.contains("加装电梯补贴未到账"), "unsolved stays out");
    let (s, html) = page(&app, &officer, "/fallback/library").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("历史遗留房产证办理"));
    let (s, html) = page(
        &app,
        &officer,
        &format!("/fallback/library?q={}", "电".repeat(201)),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("form-errors"));
    let entry: i64 = sqlx::query("SELECT id FROM fallback_library WHERE case_id = $1")
        .bind(ids[2])
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id");
    let (s, html) = page(&app, &officer, &format!("/fallback/library/{entry}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("补缴契税后办理不动产权证"));

    // The form: an unknown case number keeps the input and says why, in Chinese.
    let form = |title: &str, nos: &str| {
        vec![
            ("_csrf".to_string(), officer.csrf.clone()),
            ("title".to_string(), title.to_string()),
            ("content".to_string(), "建议内容".to_string()),
            ("case_nos".to_string(), nos.to_string()),
        ]
    };
    let res = officer
        .client
        .post(app.url("/fallback/suggestions"))
        .form(&form("房产证历史遗留问题处置", "BB20261201999999"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("没有编号为BB20261201999999的办不成事案件"),
        "{html}"
    );
    assert!(html.contains("房产证历史遗留问题处置"));
    let res = officer
        .client
        .post(app.url("/fallback/suggestions"))
        .form(&form("房产证历史遗留问题处置", "BB20261201000003"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let at = res.headers()["location"].to_str().unwrap().to_string();
    let (s, html) = page(&app, &officer, &at).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("BB20261201000003") && !html.contains("decision-form"));

    // The supervisor advances it through the page; a missing body is said beside the field.
    let supervisor = app.login("supervisor").await;
    let (_, html) = page(&app, &supervisor, &at).await;
    assert!(html.contains("decision-form"), "{html}");
    let post = |body: Vec<(&'static str, String)>| {
        let mut b = vec![("_csrf", supervisor.csrf.clone())];
        b.extend(body);
        supervisor
            .client
            .post(app.url(&format!("{at}/decision")))
            .form(&b)
            .send()
    };
    let res = post(vec![
        ("state", "under_study".into()),
        ("version", "1".into()),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = post(vec![
        ("state", "adopted".into()),
        ("version", "2".into()),
        (
            "decided_on",
            onewindow_store::clock::local_date(app.clock_now()).to_string(),
        ),
        ("note", "已出台处置办法".into()),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("请填写决定机关") && html.contains("已出台处置办法"),
        "{html}"
    );
    let (s, html) = page(&app, &supervisor, "/fallback/suggestions?state=under_study").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("房产证历史遗留问题处置"));
    app.stop().await;
}

async fn the_demo_seed_fills_the_library_and_suggestions_in_every_state(app: TestApp) {
    let org = app.org_id("xingfu").await;
    let now = app.clock_now();
    let mut ids = Vec::new();
    for (i, c) in store::DEMO_CASES.iter().enumerate() {
        let tags = serde_json::to_string(&c.tags).unwrap();
        let id: i64 = sqlx::query(
            "INSERT INTO fallback_cases (case_no, query_code, org_id, case_type, channel, state, \
             tier, title, description, person_name, person_phone, company_name, tried_what, \
             tried_where, linked_ref, multi_department, policy_room, tags, received_at, \
             concluded_at, outcome, conclusion, filed_at) VALUES ($1, '654321', $2, \
             'coordination', 'window', 'filed', 'window', $3, $4, $5, $6, $7, '窗口申请', \
             '区政务服务中心', '', 1, 1, $8, $9, $10, $11, $12, $10) RETURNING id",
        )
        .bind(format!("BB20261120{:06}", i + 1))
        .bind(org)
        .bind(c.title)
        .bind(c.description)
        .bind(c.person_name)
        .bind(c.person_phone)
        .bind(c.company_name)
        .bind(tags)
        .bind(now - 20 * 86_400_000_000)
        .bind(now - 86_400_000_000)
        .bind(c.outcome.as_str())
        .bind(c.conclusion)
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id");
        ids.push(id);
    }
    let user = |name: &'static str| {
        let pool = app.store.reader().clone();
        async move {
            sqlx::query("SELECT id FROM users WHERE username = $1")
                .bind(name)
                .fetch_one(&pool)
                .await
                .unwrap()
                .get::<i64, _>("id")
        }
    };
    let officer = app
        .state
        .change(Who::user(user("fallback").await, "fallback"));
    let supervisor = app
        .state
        .change(Who::user(user("supervisor").await, "supervisor"));
    let mut tx = app.store.begin().await.unwrap();
    let sugs = store::seed_demo(&mut tx, &officer, &supervisor, &ids)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(sugs.len(), 4);
    assert_eq!(
        app.count("fallback_library").await,
        4,
        "转政策建议 stays out"
    );

    let api = app.login("supervisor").await;
    let (_, page) = api.get("/api/v1/fallback/library?limit=10").await;
    let text = page.to_string();
    for c in &store::DEMO_CASES {
        assert!(!text.contains(c.person_name), "{} in {text}", c.person_name);
        assert!(!text.contains(c.person_phone));
        if !c.company_name.is_empty() {
            assert!(!text.contains(c.company_name));
        }
    }
    let (_, list) = api.get("/api/v1/fallback/suggestions").await;
    let mut states: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    states.sort();
    assert_eq!(states, ["adopted", "proposed", "rejected", "under_study"]);
    assert_eq!(rollup(&app, "suggestions_decided").await, 2);
    assert_eq!(rollup(&app, "suggestions_adopted").await, 1);
    app.stop().await;
}
