//! Keyset pagination of the case lists and the audit log, end to end on SQLite and
//! PostgreSQL: walking every page while cases arrive, cursors bound to their list and
//! filters, every filter value checked, filters that narrow exactly as their definition
//! says, scope on every page, and the pages' 下一页.

mod common;

use common::{Api, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};

on_both_backends!(
    walking_every_page_sees_each_case_once_while_cases_arrive,
    cursors_belong_to_their_list_and_filters,
    every_filter_value_is_checked,
    filters_narrow_exactly,
    no_page_shows_a_case_outside_scope,
    pages_show_25_with_next_and_first,
);

// ---- helpers ----

/// The first demo item (by code) matching `pred`, with its materials.
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

/// A 区民政局 item with a time limit (routed to the demo approver).
async fn routed_item(app: &TestApp) -> Value {
    item_where(app, |i| {
        i["department_code"] == "dept-mz"
            && i["promised_limit_days"].as_u64().unwrap() > 0
            && i["parent_code"].is_null()
    })
    .await
}

/// A 即办 item: its cases stay at the window (issuance queue) as `accepted`.
async fn immediate_item(app: &TestApp) -> Value {
    item_where(app, |i| {
        i["promised_limit_days"] == 0 && i["parent_code"].is_null()
    })
    .await
}

fn intake_body(item: &Value, name: &str) -> Value {
    let mut m = serde_json::Map::new();
    for mat in item["item"]["materials"].as_array().unwrap() {
        if mat["required"] == true {
            m.insert(mat["name"].as_str().unwrap().into(), json!("submitted"));
        }
    }
    json!({
        "item_code": item["item"]["code"],
        "applicant_kind": "person",
        "applicant_name": name,
        "applicant_id": "11010519491231002X",
        "applicant_phone": "13800138000",
        "materials": m,
    })
}

async fn take_in(clerk: &Api, item: &Value, name: &str) -> Value {
    let (s, case) = clerk.post("/api/v1/cases", intake_body(item, name)).await;
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

/// One page, which must succeed and hold at most `limit` rows.
async fn page(api: &Api, path: &str) -> Value {
    let (s, body) = api.get(path).await;
    assert_eq!(s, StatusCode::OK, "{path}: {body}");
    assert!(body["items"].is_array(), "{body}");
    assert_eq!(body["next"].is_null(), body["next_cursor"].is_null());
    body
}

/// Every row of a list, following `next` to the end (at most 1,000 pages).
async fn walk(api: &Api, first: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut path = first.to_string();
    for _ in 0..1000 {
        let body = page(api, &path).await;
        rows.extend(body["items"].as_array().unwrap().iter().cloned());
        match body["next"].as_str() {
            Some(next) => path = next.to_string(),
            None => return rows,
        }
    }
    panic!("{first}: no end after 1,000 pages");
}

fn ids(rows: &[Value]) -> Vec<i64> {
    rows.iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

fn no_repeats(ids: &[i64]) -> BTreeSet<i64> {
    let set: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(set.len(), ids.len(), "a row repeated: {ids:?}");
    set
}

/// The field error a refused request names: (status, field, code).
async fn refusal(api: &Api, path: &str) -> (StatusCode, String, String) {
    let (s, body) = api.get(path).await;
    assert_eq!(body["code"], "validation_failed", "{path}: {body}");
    let f = &body["fields"][0];
    (
        s,
        f["field"].as_str().unwrap_or("").to_string(),
        f["code"].as_str().unwrap_or("").to_string(),
    )
}

/// The Beijing date of a stored timestamp, as the `from`/`to` filters read it.
fn beijing_day(micros: i64) -> String {
    onewindow_store::clock::local_date(micros).to_string()
}

/// 10:00 Beijing time on `day` (YYYY-MM-DD), in UTC microseconds.
fn at_ten(day: &str) -> i64 {
    let d = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
    d.and_hms_opt(2, 0, 0).unwrap().and_utc().timestamp_micros()
}

fn unescape(html_attr: &str) -> String {
    html_attr
        .replace("&amp;", "&")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#x3d;", "=")
}

/// The `href` of the element with `id`, unescaped.
fn href_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = html[..at].rfind("href=\"")? + 6;
    let end = start + html[start..].find('"')?;
    Some(unescape(&html[start..end]))
}

async fn html(api: &Api, app: &TestApp, path: &str) -> (StatusCode, String) {
    let res = api.client.get(app.url(path)).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

fn rows_on(html: &str) -> usize {
    html.matches("data-case-no=").count()
}

// ---- tests ----

/// Keyset pages neither repeat nor skip a row when cases are taken in between two
/// requests: newest-first lists do not show the newcomers (they sort before the cursor),
/// oldest-first and due-date lists show each of them once, at the end.
async fn walking_every_page_sees_each_case_once_while_cases_arrive(app: TestApp) {
    let clerk = app.login("clerk").await;
    let approver = app.login("approver").await;
    let routed = routed_item(&app).await;
    let immediate = immediate_item(&app).await;
    let mut before = BTreeSet::new();
    for n in 0..12 {
        before.insert(
            take_in(&clerk, &routed, &format!("申请人{n}")).await["id"]
                .as_i64()
                .unwrap(),
        );
        // Some share a timestamp (the tiebreaker is the id), some do not.
        if n % 3 == 0 {
            app.clock.advance_secs(1);
        }
    }

    // Newest first: newcomers sort before the cursor and are not seen on later pages.
    let mut seen = Vec::new();
    let mut path = "/api/v1/cases?queue=intake&limit=5".to_string();
    loop {
        let body = page(&clerk, &path).await;
        seen.extend(ids(body["items"].as_array().unwrap()));
        take_in(&clerk, &routed, "新来的").await;
        match body["next"].as_str() {
            Some(n) => path = n.to_string(),
            None => break,
        }
    }
    assert_eq!(
        no_repeats(&seen),
        before,
        "exactly the cases there at the start"
    );

    // Due date first (the department queue): equal due dates, so newcomers sort last by
    // id — each is seen once.
    let everything: BTreeSet<i64> =
        ids(&walk(&approver, "/api/v1/cases?queue=department&limit=200").await)
            .into_iter()
            .collect();
    let mut expected = everything.clone();
    let mut seen = Vec::new();
    let mut path = "/api/v1/cases?queue=department&limit=4".to_string();
    for step in 0.. {
        // Taken in while the walk is under way: after the cursor, so it must show.
        if (1..=3).contains(&step) {
            expected.insert(
                take_in(&clerk, &routed, "后来的").await["id"]
                    .as_i64()
                    .unwrap(),
            );
        }
        let body = page(&approver, &path).await;
        seen.extend(ids(body["items"].as_array().unwrap()));
        match body["next"].as_str() {
            Some(n) => path = n.to_string(),
            None => break,
        }
    }
    assert_eq!(
        no_repeats(&seen),
        expected,
        "every case once, newcomers at the end"
    );

    // Oldest first (the issuance queue): newcomers are appended and each seen once.
    let mut expected = BTreeSet::new();
    for _ in 0..7 {
        expected.insert(
            take_in(&clerk, &immediate, "即办").await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/cases?queue=issuance&state=accepted&limit=3".to_string();
    for step in 0.. {
        if (1..=4).contains(&step) {
            app.clock.advance_secs(1);
            expected.insert(
                take_in(&clerk, &immediate, "即办").await["id"]
                    .as_i64()
                    .unwrap(),
            );
        }
        let body = page(&clerk, &path).await;
        seen.extend(ids(body["items"].as_array().unwrap()));
        match body["next"].as_str() {
            Some(n) => path = n.to_string(),
            None => break,
        }
    }
    assert_eq!(no_repeats(&seen), expected);
}

/// A cursor is valid only for the list and filters it was made for, and only as issued.
async fn cursors_belong_to_their_list_and_filters(app: TestApp) {
    let clerk = app.login("clerk").await;
    let admin = app.login("admin").await;
    let routed = routed_item(&app).await;
    for n in 0..4 {
        take_in(&clerk, &routed, &format!("申请人{n}")).await;
    }
    let cases = page(&clerk, "/api/v1/cases?state=routed&limit=2").await;
    let cursor = cases["next_cursor"].as_str().unwrap().to_string();
    // The same filters take it, whatever the limit and the order of the parameters.
    page(
        &clerk,
        &format!("/api/v1/cases?limit=3&cursor={cursor}&state=routed"),
    )
    .await;
    for other in [
        format!("/api/v1/cases?state=closed&cursor={cursor}"),
        format!("/api/v1/cases?cursor={cursor}"),
        format!("/api/v1/cases?state=routed&item=MZ-0101&cursor={cursor}"),
        format!("/api/v1/cases?queue=intake&state=routed&cursor={cursor}"),
    ] {
        assert_eq!(
            refusal(&clerk, &other).await,
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "cursor".into(),
                "cursor_mismatch".into()
            ),
            "{other}"
        );
    }
    // The audit log's cursor on the case list, and the other way round.
    let audit = page(&admin, "/api/v1/audit?limit=2").await;
    let audit_cursor = audit["next_cursor"].as_str().unwrap();
    assert_eq!(
        refusal(&admin, &format!("/api/v1/cases?cursor={audit_cursor}")).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "cursor".into(),
            "cursor_mismatch".into()
        )
    );
    let admin_cases = page(&admin, "/api/v1/cases?limit=1").await;
    let case_cursor = admin_cases["next_cursor"].as_str().unwrap();
    assert_eq!(
        refusal(&admin, &format!("/api/v1/audit?cursor={case_cursor}")).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "cursor".into(),
            "cursor_mismatch".into()
        )
    );
    // Edited: the key changed under the old signature; truncated; made up.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (body, mac) = cursor.split_once('.').unwrap();
    let mut payload: Value = serde_json::from_slice(&b64.decode(body).unwrap()).unwrap();
    payload["k"][1] = json!(payload["k"][1].as_i64().unwrap() + 1);
    let edited = format!(
        "{}.{mac}",
        b64.encode(serde_json::to_vec(&payload).unwrap())
    );
    let truncated = &cursor[..cursor.len() - 2];
    for bad in [edited.as_str(), truncated, "abc", "eyJsIjoiY2FzZXMifQ.AAAA"] {
        assert_eq!(
            refusal(&clerk, &format!("/api/v1/cases?state=routed&cursor={bad}")).await,
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "cursor".into(),
                "invalid_cursor".into()
            ),
            "{bad}"
        );
    }
    // Limits.
    for limit in ["0", "201", "abc", "-1"] {
        for list in ["/api/v1/cases", "/api/v1/audit"] {
            let api = if list.ends_with("audit") {
                &admin
            } else {
                &clerk
            };
            assert_eq!(
                refusal(api, &format!("{list}?limit={limit}")).await,
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "limit".into(),
                    "invalid_limit".into()
                ),
                "{list} limit={limit}"
            );
        }
    }
    assert_eq!(
        page(&clerk, "/api/v1/cases?limit=200").await["items"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

/// Every filter value is checked and a refusal names its parameter.
async fn every_filter_value_is_checked(app: TestApp) {
    let clerk = app.login("clerk").await;
    let admin = app.login("admin").await;
    let long = "张".repeat(101);
    let cases = [
        ("state=nope", "state", "unknown_state"),
        ("state=routed,nope", "state", "unknown_state"),
        ("queue=intake&state=routed", "", ""),
        ("queue=issuance&state=routed", "state", "not_in_queue"),
        ("queue=nope", "queue", "unknown"),
        ("from=2026-13-01", "from", "invalid_date"),
        ("from=2026-1-5", "from", "invalid_date"),
        ("from=1999-12-31", "from", "invalid_date"),
        ("to=tomorrow", "to", "invalid_date"),
        ("from=2026-11-23&to=2026-11-22", "to", "before_from"),
        ("light=blue", "light", "unknown_light"),
        ("department=abc", "department", "invalid"),
        ("intake_org=-3", "intake_org", "invalid"),
        ("q=YC2026", "q", "case_no_prefix_too_short"),
        ("q=YC20261399", "q", "case_no_prefix_too_short"),
        ("q=a%01b", "q", "control_character"),
    ];
    for (query, field, code) in cases {
        let path = format!("/api/v1/cases?{query}");
        if field.is_empty() {
            page(&clerk, &path).await;
            continue;
        }
        let (s, f, c) = refusal(&clerk, &path).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert_eq!(f, field, "{path}");
        if code != "control_character" {
            assert_eq!(c, code, "{path}");
        }
    }
    let (s, f, c) = refusal(&clerk, &format!("/api/v1/cases?q={long}")).await;
    assert_eq!(
        (s, f.as_str(), c.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "q", "too_long")
    );
    // Every failing parameter at once.
    let (_, body) = clerk.get("/api/v1/cases?state=x&from=y&light=z").await;
    let fields: HashSet<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, HashSet::from(["state", "from", "light"]));
    // The queue's role comes first.
    let (s, body) = clerk.get("/api/v1/cases?queue=department&state=nope").await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden_role"))
    );
    for (query, field, code) in [
        ("entity_id=42", "entity_id", "requires_entity"),
        ("from=2026-02-30", "from", "invalid_date"),
        ("from=2026-11-23&to=2026-11-01", "to", "before_from"),
        ("actor=a%0Ab", "actor", ""),
    ] {
        let (s, f, c) = refusal(&admin, &format!("/api/v1/audit?{query}")).await;
        assert_eq!(
            (s, f.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, field),
            "{query}"
        );
        if !code.is_empty() {
            assert_eq!(c, code, "{query}");
        }
    }
}

/// Each filter returns exactly the rows its definition picks out of the whole list (the
/// list itself read page by page), lights included: the SQL range on the due date the
/// domain gives agrees with the light the domain computes for each row.
async fn filters_narrow_exactly(app: TestApp) {
    let clerk = app.login("clerk").await;
    let community = app.login("clerk-yangguang").await;
    let approver = app.login("approver").await;
    let routed = routed_item(&app).await;
    let immediate = immediate_item(&app).await;
    let routed_code = routed["item"]["code"].as_str().unwrap().to_string();
    let mut reviewed = Vec::new();
    for n in 0..4 {
        let case = take_in(&clerk, &routed, if n % 2 == 0 { "张三" } else { "李四" }).await;
        if n < 2 {
            reviewed.push(act(&approver, &case, json!({"action": "take"})).await);
        }
    }
    for _ in 0..3 {
        take_in(&community, &routed, "王五").await;
    }
    for _ in 0..3 {
        take_in(&clerk, &immediate, "张三").await;
    }
    // The next day, two more.
    app.clock.advance_secs(86_400);
    let clerk = app.login("clerk").await;
    for _ in 0..2 {
        take_in(&clerk, &routed, "李四").await;
    }
    let all = walk(&clerk, "/api/v1/cases?limit=200").await;
    assert_eq!(all.len(), 12, "everything the street may see");
    let day1 = beijing_day(all.last().unwrap()["created_at"].as_i64().unwrap());
    let day2 = beijing_day(all[0]["created_at"].as_i64().unwrap());
    assert_ne!(day1, day2);
    let yangguang = app.org_id("yangguang").await;
    let mz = app.org_id("dept-mz").await;
    let one = all[3]["case_no"].as_str().unwrap().to_string();
    let by = |pred: &dyn Fn(&Value) -> bool| -> BTreeSet<i64> {
        all.iter()
            .filter(|r| pred(r))
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    };
    type Pred<'a> = Box<dyn Fn(&Value) -> bool + 'a>;
    let checks: Vec<(String, Pred)> = vec![
        (
            "state=in_review".into(),
            Box::new(|r: &Value| r["state"] == "in_review"),
        ),
        (
            "state=routed,in_review".into(),
            Box::new(|r: &Value| r["state"] == "routed" || r["state"] == "in_review"),
        ),
        (
            "state=accepted&state=in_review".into(),
            Box::new(|r: &Value| r["state"] == "accepted" || r["state"] == "in_review"),
        ),
        (
            format!("item={routed_code}"),
            Box::new(|r: &Value| r["item_code"] == routed_code.as_str()),
        ),
        (
            format!("department={mz}"),
            Box::new(move |r: &Value| r["department_id"] == mz),
        ),
        (
            format!("intake_org={yangguang}"),
            Box::new(move |r: &Value| r["intake_org_id"] == yangguang),
        ),
        (
            format!("from={day2}"),
            Box::new(|r: &Value| beijing_day(r["created_at"].as_i64().unwrap()) == day2),
        ),
        (
            format!("from={day1}&to={day1}"),
            Box::new(|r: &Value| beijing_day(r["created_at"].as_i64().unwrap()) == day1),
        ),
        (
            "q=张三".into(),
            Box::new(|r: &Value| r["applicant_name"] == "张三"),
        ),
        ("q=%E5%BC%A0".into(), Box::new(|_: &Value| false)),
        (
            format!("q={one}"),
            Box::new(|r: &Value| r["case_no"] == one.as_str()),
        ),
        (
            format!("q={}", one[..10].to_lowercase()),
            Box::new(|r: &Value| r["case_no"].as_str().unwrap().starts_with(&one[..10])),
        ),
        (
            format!("state=routed&item={routed_code}&q=李四"),
            Box::new(|r: &Value| {
                r["state"] == "routed"
                    && r["item_code"] == routed_code.as_str()
                    && r["applicant_name"] == "李四"
            }),
        ),
        (
            "queue=issuance".into(),
            Box::new(|r: &Value| {
                ["result_ready", "rejected", "accepted"].contains(&r["state"].as_str().unwrap())
            }),
        ),
        (
            format!("queue=intake&department={mz}&state=routed"),
            Box::new(move |r: &Value| r["department_id"] == mz && r["state"] == "routed"),
        ),
    ];
    for (query, pred) in &checks {
        let got = ids(&walk(&clerk, &format!("/api/v1/cases?{query}&limit=2")).await);
        assert_eq!(no_repeats(&got), by(pred.as_ref()), "{query}");
    }
    assert!(!by(&|r| r["state"] == "in_review").is_empty());
    assert_eq!(by(&|r| r["case_no"] == one.as_str()).len(), 1);

    // Lights, at three moments: accepted today, the day before the deadline, after it.
    let due = all
        .iter()
        .find(|r| r["item_code"] == routed_code.as_str())
        .unwrap()["due_date"]
        .as_str()
        .unwrap()
        .to_string();
    let day_before = (chrono::NaiveDate::parse_from_str(&due, "%Y-%m-%d").unwrap()
        - chrono::Days::new(1))
    .to_string();
    let after = (chrono::NaiveDate::parse_from_str(&due, "%Y-%m-%d").unwrap()
        + chrono::Days::new(3))
    .to_string();
    let mut lit = BTreeSet::new();
    for (moment, when) in [
        ("now", None),
        ("day before", Some(day_before)),
        ("after", Some(after)),
    ] {
        if let Some(day) = when {
            app.clock.set(at_ten(&day));
        }
        let clerk = app.login("clerk").await;
        let approver = app.login("approver").await;
        let all = walk(&clerk, "/api/v1/cases?limit=200").await;
        let queue = walk(&approver, "/api/v1/cases?queue=department&limit=200").await;
        for light in ["green", "yellow", "red", "overdue"] {
            let expected: BTreeSet<i64> = ids(&all
                .iter()
                .filter(|r| r["light"] == light)
                .cloned()
                .collect::<Vec<_>>())
            .into_iter()
            .collect();
            let got = ids(&walk(&clerk, &format!("/api/v1/cases?light={light}&limit=3")).await);
            assert_eq!(no_repeats(&got), expected, "{moment}: light={light}");
            if !expected.is_empty() {
                lit.insert(light);
            }
            let expected: BTreeSet<i64> = ids(&queue
                .iter()
                .filter(|r| r["light"] == light)
                .cloned()
                .collect::<Vec<_>>())
            .into_iter()
            .collect();
            let got = ids(&walk(
                &approver,
                &format!("/api/v1/cases?queue=department&light={light}&limit=2"),
            )
            .await);
            assert_eq!(
                no_repeats(&got),
                expected,
                "{moment}: department light={light}"
            );
        }
    }
    assert!(
        lit.contains("green") && lit.contains("red") && lit.contains("overdue"),
        "the moments light up: {lit:?}"
    );
    // The light list is ordered by due date, most urgent first.
    let clerk = app.login("clerk").await;
    let overdue = walk(&clerk, "/api/v1/cases?light=overdue&limit=2").await;
    let dues: Vec<&str> = overdue
        .iter()
        .map(|r| r["due_date"].as_str().unwrap())
        .collect();
    let mut sorted = dues.clone();
    sorted.sort();
    assert_eq!(dues, sorted);
    assert!(reviewed.iter().all(|c| c["state"] == "in_review"));
}

/// However the list is filtered and paged, a clerk sees only cases taken in (or routed)
/// inside their organisation's subtree; the department sees what is routed to it.
async fn no_page_shows_a_case_outside_scope(app: TestApp) {
    let admin = app.login("admin").await;
    let district = app.org_id("district").await;
    let (s, street) = admin
        .post(
            "/api/v1/orgs",
            json!({"parent_id": district, "kind": "street", "name": "春风街道", "code": "chunfeng"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{street}");
    let (s, user) = admin
        .post("/api/v1/users", json!({"org_id": street["id"], "username": "chunfeng.clerk", "display_name": "春风窗口", "roles": ["window_clerk"], "password": "spring-2026"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{user}");
    let other = app
        .login_with("chunfeng.clerk", "spring-2026")
        .await
        .unwrap();
    let clerk = app.login("clerk").await;
    let community = app.login("clerk-yangguang").await;
    let approver = app.login("approver").await;
    let routed = routed_item(&app).await;
    let (mut street_cases, mut other_cases, mut community_cases) = (vec![], vec![], vec![]);
    for n in 0..5 {
        street_cases.push(
            take_in(&clerk, &routed, "张三").await["id"]
                .as_i64()
                .unwrap(),
        );
        other_cases.push(
            take_in(&other, &routed, "张三").await["id"]
                .as_i64()
                .unwrap(),
        );
        if n < 3 {
            community_cases.push(
                take_in(&community, &routed, "张三").await["id"]
                    .as_i64()
                    .unwrap(),
            );
        }
    }
    let code = routed["item"]["code"].as_str().unwrap();
    let mz = app.org_id("dept-mz").await;
    let chunfeng = street["id"].as_i64().unwrap();
    let filters = [
        String::new(),
        "queue=intake".into(),
        "state=routed".into(),
        format!("item={code}"),
        "q=张三".into(),
        format!("department={mz}"),
        format!("intake_org={chunfeng}"),
        "light=green".into(),
    ];
    let set = |v: &[i64]| v.iter().copied().collect::<BTreeSet<i64>>();
    let mut xingfu = set(&street_cases);
    xingfu.extend(&community_cases);
    for f in &filters {
        let path = format!("/api/v1/cases?{f}&limit=2");
        let seen = no_repeats(&ids(&walk(&clerk, &path).await));
        assert!(seen.is_subset(&xingfu), "street clerk, {f}: {seen:?}");
        let seen = no_repeats(&ids(&walk(&other, &path).await));
        assert!(
            seen.is_subset(&set(&other_cases)),
            "other street, {f}: {seen:?}"
        );
        let seen = no_repeats(&ids(&walk(&community, &path).await));
        assert!(
            seen.is_subset(&set(&community_cases)),
            "community, {f}: {seen:?}"
        );
    }
    // And each sees all of its own.
    assert_eq!(
        no_repeats(&ids(&walk(&clerk, "/api/v1/cases?limit=2").await)),
        xingfu
    );
    assert_eq!(
        no_repeats(&ids(&walk(&other, "/api/v1/cases?limit=2").await)),
        set(&other_cases)
    );
    // The department sees everything routed to it, from both streets.
    let mut routed_here = xingfu.clone();
    routed_here.extend(&other_cases);
    assert_eq!(
        no_repeats(&ids(&walk(
            &approver,
            "/api/v1/cases?queue=department&limit=3"
        )
        .await)),
        routed_here
    );
    assert_eq!(
        no_repeats(&ids(&walk(
            &approver,
            &format!("/api/v1/cases?intake_org={chunfeng}&limit=2")
        )
        .await)),
        set(&other_cases)
    );
}

/// The list pages show 25 rows and a 下一页 link that leads to the rest, with 第一页 back.
async fn pages_show_25_with_next_and_first(app: TestApp) {
    let clerk = app.login("clerk").await;
    let approver = app.login("approver").await;
    let admin = app.login("admin").await;
    let routed = routed_item(&app).await;
    let mut numbers = Vec::new();
    for n in 0..27 {
        numbers.push(
            take_in(&clerk, &routed, &format!("申请人{n}")).await["case_no"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    for (who, path, form) in [
        (&clerk, "/window/cases", "case-filters"),
        (&approver, "/dept", "case-filters"),
    ] {
        let (s, first) = html(who, &app, path).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert!(
            first.contains(&format!("id=\"{form}\"")),
            "{path} has its filter form"
        );
        assert_eq!(rows_on(&first), 25, "{path}");
        assert!(href_of(&first, "page-first").is_none());
        let next = href_of(&first, "page-next").expect("下一页");
        assert!(next.starts_with(path), "{next}");
        let (s, second) = html(who, &app, &next).await;
        assert_eq!(s, StatusCode::OK, "{next}");
        assert_eq!(rows_on(&second), 2, "{next}");
        assert!(second.contains("下一页") == second.contains("id=\"page-next\""));
        assert!(href_of(&second, "page-next").is_none(), "the last page");
        assert_eq!(href_of(&second, "page-first").as_deref(), Some(path));
        // Together the two pages hold every case once.
        let all: Vec<&str> = numbers.iter().map(String::as_str).collect();
        let shown = all
            .iter()
            .filter(|no| first.contains(**no) || second.contains(**no))
            .count();
        assert_eq!(shown, 27, "{path}");
        assert!(all
            .iter()
            .all(|no| !(first.contains(*no) && second.contains(*no))));
    }
    // The window shows the head of its lists, with 下一页 onto the full list.
    let (_, window) = html(&clerk, &app, "/window").await;
    let next = href_of(&window, "recent-next").expect("下一页 under 最近受理");
    assert!(next.starts_with("/window/cases?"), "{next}");
    assert_eq!(rows_on(&html(&clerk, &app, &next).await.1), 2);
    // Filters ride along on the form and on 下一页.
    let (s, filtered) = html(
        &clerk,
        &app,
        "/window/cases?state=routed&q=%E7%94%B3%E8%AF%B7%E4%BA%BA3",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(rows_on(&filtered), 1, "申请人3 only");
    let (s, refused) = html(&clerk, &app, "/window/cases?from=2026-99-01").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains("data-field=\"from\""));
    // The audit log pages the same way.
    let (s, audit) = html(&admin, &app, "/admin/audit").await;
    assert_eq!(s, StatusCode::OK);
    let next = href_of(&audit, "page-next").expect("the log has more than 25 events");
    let (s, older) = html(&admin, &app, &next).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        href_of(&older, "page-first").as_deref(),
        Some("/admin/audit")
    );
    let (s, filtered) = html(&admin, &app, "/admin/audit?entity=case&action=case.route").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(filtered.matches("data-action=\"case.route\"").count(), 25);
}
