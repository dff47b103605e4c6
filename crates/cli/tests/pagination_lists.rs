//! Keyset pagination of the lists other than cases and audit: staff, organisations, API
//! keys, the catalog search, a hall's tickets and appointments — on SQLite and PostgreSQL.
//!
//! What must hold: walking every page returns every row exactly once, in order, even while
//! rows are inserted between two requests; a cursor is refused on another list, under
//! other filters, or when edited (422 with the field and code); limits are bounded; a
//! street administrator never sees another street's staff on any page; and the new hall
//! lists refuse a wrong role (403) and another hall (404) like the hall endpoints do.

mod common;

use common::{Api, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

on_both_backends!(
    walking_the_staff_list_returns_every_account_once_while_accounts_are_added,
    walking_a_halls_tickets_returns_every_ticket_once_while_tickets_are_issued,
    cursors_from_another_list_or_edited_ones_are_refused,
    limits_and_filters_are_checked_and_name_their_field,
    a_street_admin_never_sees_another_streets_staff,
    hall_lists_refuse_other_roles_and_other_halls,
    appointments_organisations_keys_and_the_catalog_page_in_order,
    pages_show_25_rows_with_next_and_first_page_links,
);

/// Adds an account straight to the database (no password hashing: these accounts never
/// log in), with one role.
async fn add_user(app: &TestApp, org_id: i64, username: &str, role: &str) -> i64 {
    let id: i64 = sqlx::query(
        "INSERT INTO users (org_id, username, display_name, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, 'not-a-hash', 0, 0) RETURNING id",
    )
    .bind(org_id)
    .bind(username)
    .bind(format!("测试{username}"))
    .fetch_one(app.store.reader())
    .await
    .unwrap()
    .get("id");
    sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
        .bind(id)
        .bind(role)
        .execute(app.store.reader())
        .await
        .unwrap();
    id
}

/// Follows a list's `next` links one page at a time.
struct Walker {
    next: Option<String>,
    pages: usize,
}

impl Walker {
    fn new(first: &str) -> Walker {
        Walker {
            next: Some(first.to_string()),
            pages: 0,
        }
    }

    /// The items of the next page, `None` after the last.
    async fn page(&mut self, api: &Api) -> Option<Vec<Value>> {
        let path = self.next.take()?;
        let (s, page) = api.get(&path).await;
        assert_eq!(s, StatusCode::OK, "{path}: {page}");
        assert_eq!(page["next"].is_null(), page["next_cursor"].is_null());
        if let Some(next) = page["next"].as_str() {
            assert!(next.contains(page["next_cursor"].as_str().unwrap()));
            self.next = Some(next.to_string());
        }
        self.pages += 1;
        assert!(self.pages < 1_000, "the walk ends");
        Some(page["items"].as_array().expect("an items array").clone())
    }
}

/// Every item of a list, following `next` from `first` to the end.
async fn walk(api: &Api, first: &str) -> Vec<Value> {
    let mut w = Walker::new(first);
    let mut out = Vec::new();
    while let Some(items) = w.page(api).await {
        out.extend(items);
    }
    out
}

fn ids(items: &[Value]) -> Vec<i64> {
    items.iter().map(|i| i["id"].as_i64().unwrap()).collect()
}

fn assert_no_repeats(ids: &[i64]) {
    let mut seen = HashSet::new();
    for id in ids {
        assert!(seen.insert(*id), "row {id} served twice");
    }
}

async fn walking_the_staff_list_returns_every_account_once_while_accounts_are_added(app: TestApp) {
    // Enough accounts for several pages, spread over the tree.
    let mut orgs = Vec::new();
    for code in ["city", "xingfu", "yangguang", "heping-g1", "dept-mz"] {
        orgs.push(app.org_id(code).await);
    }
    for i in 0..20 {
        add_user(
            &app,
            orgs[i % orgs.len()],
            &format!("m{i:02}"),
            "window_clerk",
        )
        .await;
    }
    // What the list must hold, in the order it must serve it.
    let before: Vec<i64> = sqlx::query(
        "SELECT u.id FROM users u JOIN orgs o ON o.id = u.org_id ORDER BY o.path, u.username",
    )
    .fetch_all(app.store.reader())
    .await
    .unwrap()
    .iter()
    .map(|r| r.get("id"))
    .collect();
    assert!(before.len() > 25);
    let admin = app.login("admin").await;
    let mut added = Vec::new();
    let mut served = Vec::new();
    let mut w = Walker::new("/api/v1/users?limit=4");
    let mut n = 0;
    while let Some(items) = w.page(&admin).await {
        served.extend(items);
        // Before and after the cursor, in organisations already walked and not yet.
        for (k, name) in [format!("a-new{n:02}"), format!("zz-new{n:02}")]
            .iter()
            .enumerate()
        {
            let org = orgs[(n + k) % orgs.len()];
            added.push(add_user(&app, org, name, "grid_worker").await);
        }
        n += 1;
    }
    let served_ids = ids(&served);
    assert_no_repeats(&served_ids);
    let added: HashSet<i64> = added.into_iter().collect();
    assert!(!added.is_empty());
    // Every account that existed is served once, in order; the rest were added meanwhile.
    let old: Vec<i64> = served_ids
        .iter()
        .copied()
        .filter(|id| !added.contains(id))
        .collect();
    assert_eq!(old, before, "every existing account exactly once, in order");
    // Compact rows with roles, and the envelope's last page says so.
    assert!(served
        .iter()
        .all(|u| u["roles"].is_array() && u.get("password_hash").is_none()));

    // With filters: role and active narrow the walk, and every page honours them.
    let window_clerks = walk(
        &admin,
        "/api/v1/users?role=window_clerk&active=true&limit=3",
    )
    .await;
    assert!(window_clerks.len() >= 20);
    assert!(window_clerks.iter().all(|u| u["active"] == true
        && u["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("window_clerk"))));
    let in_db: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM users u JOIN user_roles r ON r.user_id = u.id \
         WHERE r.role = 'window_clerk' AND u.active = 1",
    )
    .fetch_one(app.store.reader())
    .await
    .unwrap()
    .get("n");
    assert_eq!(window_clerks.len() as i64, in_db);
    // A prefix of the username or of the display name.
    let m = walk(&admin, "/api/v1/users?q=M1&limit=2").await;
    let names: Vec<&str> = m.iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 10, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("m1")));
    let (_, by_name) = admin.get("/api/v1/users?q=测试m0").await;
    assert_eq!(by_name["items"].as_array().unwrap().len(), 10);
    // An organisation: its subtree.
    let yangguang = app.org_id("yangguang").await;
    let sub = walk(&admin, &format!("/api/v1/users?org={yangguang}&limit=2")).await;
    let usernames: HashSet<&str> = sub
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(usernames.contains("clerk-yangguang") && usernames.contains("grid"));
    assert!(!usernames.contains("admin"));
}

async fn walking_a_halls_tickets_returns_every_ticket_once_while_tickets_are_issued(app: TestApp) {
    let hall = app.org_id("xingfu-hall").await;
    let guide = app.login("guide").await;
    let issue = |class: &'static str| {
        let guide = &guide;
        async move {
            let (s, t) = guide
                .post(
                    &format!("/api/v1/queue/halls/{hall}/tickets"),
                    json!({ "class": class }),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{t}");
            t["id"].as_i64().unwrap()
        }
    };
    let mut issued = Vec::new();
    for i in 0..13 {
        issued.push(issue(if i % 3 == 0 { "B" } else { "A" }).await);
    }
    let mut later = Vec::new();
    let mut served = Vec::new();
    let mut w = Walker::new(&format!("/api/v1/queue/halls/{hall}/tickets?limit=4"));
    while let Some(items) = w.page(&guide).await {
        served.extend(items);
        later.push(issue("A").await);
    }
    let served_ids = ids(&served);
    assert_no_repeats(&served_ids);
    // Newest first: what was issued during the walk is newer than the first page, so the
    // walk serves exactly the tickets that existed when it began.
    let mut expected = issued.clone();
    expected.reverse();
    assert_eq!(served_ids, expected);
    assert!(!later.is_empty());
    assert!(served
        .iter()
        .all(|t| t["day"] == "2026-11-23" && t["hall_id"] == hall));
    // A past day of the demo history, by date, and one state.
    let (s, first) = guide
        .get(&format!(
            "/api/v1/queue/halls/{hall}/tickets?date=2026-11-20&limit=200"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let history = walk(
        &guide,
        &format!("/api/v1/queue/halls/{hall}/tickets?date=2026-11-20&limit=30"),
    )
    .await;
    let in_db: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM tickets WHERE hall_id = $1 AND day = '2026-11-20'")
            .bind(hall)
            .fetch_one(app.store.reader())
            .await
            .unwrap()
            .get("n");
    assert!(in_db > 30, "the demo history has a busy Friday");
    assert_eq!(history.len() as i64, in_db);
    let history_ids = ids(&history);
    assert_no_repeats(&history_ids);
    assert!(history_ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    // The next link carries the date, so a walk begun yesterday stays on yesterday.
    let (_, p) = guide
        .get(&format!("/api/v1/queue/halls/{hall}/tickets?limit=2"))
        .await;
    assert!(
        p["next"].as_str().unwrap().contains("date=2026-11-23"),
        "{p}"
    );
    let waiting = walk(
        &guide,
        &format!("/api/v1/queue/halls/{hall}/tickets?state=waiting&limit=5"),
    )
    .await;
    assert_eq!(waiting.len(), issued.len() + later.len());
    assert!(waiting.iter().all(|t| t["state"] == "waiting"));
    let (_, done) = guide
        .get(&format!("/api/v1/queue/halls/{hall}/tickets?state=done"))
        .await;
    assert_eq!(done["items"], json!([]));
}

async fn problem_field(api: &Api, path: &str) -> (String, String) {
    let (s, body) = api.get(path).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
    assert_eq!(body["code"], "validation_failed", "{body}");
    (
        body["fields"][0]["field"].as_str().unwrap().to_string(),
        body["fields"][0]["code"].as_str().unwrap().to_string(),
    )
}

fn field(f: &str, c: &str) -> (String, String) {
    (f.to_string(), c.to_string())
}

async fn cursors_from_another_list_or_edited_ones_are_refused(app: TestApp) {
    let admin = app.login("admin").await;
    let (_, users) = admin.get("/api/v1/users?limit=2").await;
    let cursor = users["next_cursor"].as_str().unwrap().to_string();
    // Its own list takes it.
    let (s, _) = admin
        .get(&format!("/api/v1/users?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(s, StatusCode::OK);
    // Another list, or the same list under other filters.
    for path in [
        format!("/api/v1/orgs?cursor={cursor}"),
        format!("/api/v1/api-keys?cursor={cursor}"),
        format!("/api/v1/catalog/items?cursor={cursor}"),
        format!("/api/v1/users?role=admin&cursor={cursor}"),
        format!("/api/v1/users?active=false&cursor={cursor}"),
    ] {
        assert_eq!(
            problem_field(&admin, &path).await,
            field("cursor", "cursor_mismatch"),
            "{path}"
        );
    }
    // A hall's ticket cursor is not one for its appointments, nor for another day.
    let hall = app.org_id("xingfu-hall").await;
    let guide = app.login("guide").await;
    let (_, t) = guide
        .get(&format!(
            "/api/v1/queue/halls/{hall}/tickets?date=2026-11-20&limit=2"
        ))
        .await;
    let tc = t["next_cursor"].as_str().unwrap().to_string();
    for path in [
        format!("/api/v1/queue/halls/{hall}/appointments?date=2026-11-20&cursor={tc}"),
        format!("/api/v1/queue/halls/{hall}/tickets?date=2026-11-19&cursor={tc}"),
        format!("/api/v1/queue/halls/{hall}/tickets?cursor={tc}"),
    ] {
        assert_eq!(
            problem_field(&guide, &path).await,
            field("cursor", "cursor_mismatch"),
            "{path}"
        );
    }
    // Edited: one character of the payload changed, or made up.
    let (body, mac) = cursor.split_once('.').unwrap();
    let mut edited: Vec<char> = body.chars().collect();
    let last = edited.len() - 2;
    edited[last] = if edited[last] == 'A' { 'B' } else { 'A' };
    let edited: String = edited.into_iter().collect();
    for bad in [
        format!("{edited}.{mac}"),
        format!(
            "{body}.{}",
            mac.replace(|c: char| c.is_ascii_alphabetic(), "x")
        ),
        "garbage".to_string(),
        "a.b".to_string(),
        "x".repeat(513),
    ] {
        assert_eq!(
            problem_field(&admin, &format!("/api/v1/users?cursor={bad}")).await,
            field("cursor", "invalid_cursor"),
            "{bad}"
        );
    }
}

async fn limits_and_filters_are_checked_and_name_their_field(app: TestApp) {
    let admin = app.login("admin").await;
    let guide = app.login("guide").await;
    let hall = app.org_id("xingfu-hall").await;
    for limit in ["0", "-1", "201", "abc", "1.5"] {
        for (api, path) in [
            (&admin, "/api/v1/users".to_string()),
            (&admin, "/api/v1/orgs".to_string()),
            (&admin, "/api/v1/api-keys".to_string()),
            (&admin, "/api/v1/catalog/items".to_string()),
            (&guide, format!("/api/v1/queue/halls/{hall}/tickets")),
            (&guide, format!("/api/v1/queue/halls/{hall}/appointments")),
        ] {
            assert_eq!(
                problem_field(api, &format!("{path}?limit={limit}")).await,
                field("limit", "invalid_limit"),
                "{path} {limit}"
            );
        }
    }
    let (s, full) = admin.get("/api/v1/users?limit=200").await;
    assert_eq!(s, StatusCode::OK);
    assert!(full["items"].as_array().unwrap().len() <= 200);
    let (_, default) = admin.get("/api/v1/catalog/items").await;
    assert_eq!(
        default["items"].as_array().unwrap().len(),
        25,
        "25 by default"
    );
    let long = "长".repeat(101);
    for (api, path, expected) in [
        (
            &admin,
            "/api/v1/users?role=wizard".to_string(),
            field("role", "unknown"),
        ),
        (
            &admin,
            "/api/v1/users?active=maybe".to_string(),
            field("active", "invalid"),
        ),
        (
            &admin,
            "/api/v1/users?org=abc".to_string(),
            field("org", "invalid"),
        ),
        (
            &admin,
            "/api/v1/users?org=987654321".to_string(),
            field("org", "not_found"),
        ),
        (
            &admin,
            format!("/api/v1/users?q={long}"),
            field("q", "too_long"),
        ),
        (
            &admin,
            "/api/v1/users?q=a%07b".to_string(),
            field("q", "control_char"),
        ),
        (
            &admin,
            "/api/v1/orgs?kind=planet".to_string(),
            field("kind", "unknown"),
        ),
        (
            &admin,
            "/api/v1/orgs?parent=0".to_string(),
            field("parent", "invalid"),
        ),
        (
            &admin,
            "/api/v1/orgs?parent=987654321".to_string(),
            field("parent", "not_found"),
        ),
        (
            &admin,
            "/api/v1/api-keys?state=lost".to_string(),
            field("state", "unknown"),
        ),
        (
            &admin,
            "/api/v1/api-keys?user=987654321".to_string(),
            field("user", "not_found"),
        ),
        (
            &admin,
            "/api/v1/catalog/items?department=x".to_string(),
            field("department", "invalid"),
        ),
        (
            &admin,
            format!(
                "/api/v1/catalog/items?department={}",
                app.org_id("xingfu").await
            ),
            field("department", "not_found"),
        ),
        (
            &admin,
            "/api/v1/catalog/items?owner=987654321".to_string(),
            field("owner", "not_found"),
        ),
        (
            &admin,
            format!("/api/v1/catalog/items?q={long}"),
            field("q", "too_long"),
        ),
        (
            &guide,
            format!("/api/v1/queue/halls/{hall}/tickets?date=2026-13-01"),
            field("date", "invalid_date"),
        ),
        (
            &guide,
            format!("/api/v1/queue/halls/{hall}/tickets?date=2026-1-5"),
            field("date", "invalid_date"),
        ),
        (
            &guide,
            format!("/api/v1/queue/halls/{hall}/tickets?state=lost"),
            field("state", "unknown"),
        ),
        (
            &guide,
            format!("/api/v1/queue/halls/{hall}/appointments?state=waiting"),
            field("state", "unknown"),
        ),
    ] {
        assert_eq!(problem_field(api, &path).await, expected, "{path}");
    }
}

async fn a_street_admin_never_sees_another_streets_staff(app: TestApp) {
    let admin = app.login("admin").await;
    let district = app.org_id("district").await;
    let (s, other) = admin
        .post(
            "/api/v1/orgs",
            json!({"parent_id": district, "kind": "street", "name": "春风街道", "code": "chunfeng"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{other}");
    let other_street = other["id"].as_i64().unwrap();
    let (_, other_community) = admin
        .post(
            "/api/v1/orgs",
            json!({"parent_id": other_street, "kind": "community", "name": "春风社区"}),
        )
        .await;
    let xingfu = app.org_id("xingfu").await;
    let heping = app.org_id("heping").await;
    for i in 0..12 {
        let org = [other_street, other_community["id"].as_i64().unwrap()][i % 2];
        add_user(&app, org, &format!("cf{i:02}"), "window_clerk").await;
        add_user(
            &app,
            [xingfu, heping][i % 2],
            &format!("xf{i:02}"),
            "window_clerk",
        )
        .await;
    }
    let (s, _) = admin
        .post("/api/v1/users", json!({"org_id": xingfu, "username": "xf.admin", "display_name": "幸福管理员", "roles": ["admin"], "password": "happy-street-1"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let street_admin = app.login_with("xf.admin", "happy-street-1").await.unwrap();
    // The street's subtree, by id.
    let inside: HashMap<i64, String> = sqlx::query(
        "SELECT u.id, u.username FROM users u JOIN orgs o ON o.id = u.org_id \
         WHERE o.path LIKE (SELECT path FROM orgs WHERE id = $1) || '%'",
    )
    .bind(xingfu)
    .fetch_all(app.store.reader())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("id"), r.get("username")))
    .collect();
    for first in [
        "/api/v1/users?limit=3",
        "/api/v1/users?limit=1&role=window_clerk",
        "/api/v1/users?limit=2&q=cf",
        "/api/v1/users?limit=2&active=true",
    ] {
        let served = walk(&street_admin, first).await;
        for u in &served {
            let name = u["username"].as_str().unwrap();
            assert!(
                inside.contains_key(&u["id"].as_i64().unwrap()),
                "{first}: {name} is not in the street"
            );
            assert!(!name.starts_with("cf"), "{first}: another street's {name}");
        }
        if first == "/api/v1/users?limit=3" {
            assert_eq!(served.len(), inside.len(), "the whole street, nothing else");
        }
        if first.contains("q=cf") {
            assert!(served.is_empty());
        }
    }
    // The other street cannot be chosen as a filter: it reads like a missing one.
    assert_eq!(
        problem_field(&street_admin, &format!("/api/v1/users?org={other_street}")).await,
        field("org", "not_found")
    );
    assert_eq!(
        problem_field(&street_admin, "/api/v1/users?org=987654321").await,
        field("org", "not_found")
    );
    // Nor does a cursor made in the city's walk lead outside the street.
    let (_, city_page) = admin.get("/api/v1/users?limit=2").await;
    let cursor = city_page["next_cursor"].as_str().unwrap();
    let served = walk(
        &street_admin,
        &format!("/api/v1/users?limit=5&cursor={cursor}"),
    )
    .await;
    assert!(served
        .iter()
        .all(|u| inside.contains_key(&u["id"].as_i64().unwrap())));
    // The organisation list keeps to the street too.
    let orgs = walk(&street_admin, "/api/v1/orgs?limit=2").await;
    assert!(orgs
        .iter()
        .all(|o| o["name"] != "春风街道" && o["name"] != "春风社区"));
    assert_eq!(orgs[0]["id"], xingfu);
}

async fn hall_lists_refuse_other_roles_and_other_halls(app: TestApp) {
    let hall = app.org_id("xingfu-hall").await;
    let street = app.org_id("xingfu").await;
    for list in ["tickets", "appointments"] {
        // Without the role: 403 for every id, existing or not.
        for who in ["approver", "admin", "supervisor"] {
            let api = app.login(who).await;
            let a = api.get(&format!("/api/v1/queue/halls/{hall}/{list}")).await;
            let b = api
                .get(&format!("/api/v1/queue/halls/987654321/{list}"))
                .await;
            assert_eq!(a.0, StatusCode::FORBIDDEN, "{who} {list}: {}", a.1);
            assert_eq!(a.1["code"], "forbidden_role");
            assert_eq!(a, b, "{who} {list}");
        }
        // A clerk of a community holds the role but the hall is the street's: it reads like
        // a missing hall; so does an organisation that is not a hall.
        let community_clerk = app.login("clerk-yangguang").await;
        let a = community_clerk
            .get(&format!("/api/v1/queue/halls/{hall}/{list}"))
            .await;
        let b = community_clerk
            .get(&format!("/api/v1/queue/halls/987654321/{list}"))
            .await;
        assert_eq!(a.0, StatusCode::NOT_FOUND, "{list}: {}", a.1);
        assert_eq!(a, b, "{list}");
        let clerk = app.login("clerk").await;
        let (s, _) = clerk
            .get(&format!("/api/v1/queue/halls/{street}/{list}"))
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{list}: the street is not a hall");
        // The hall's own staff read it; anonymous callers do not.
        let (s, _) = clerk
            .get(&format!("/api/v1/queue/halls/{hall}/{list}"))
            .await;
        assert_eq!(s, StatusCode::OK);
        let res = app
            .browser()
            .get(app.url(&format!("/api/v1/queue/halls/{hall}/{list}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // Pages answer the same way.
    let c = app.browser();
    let res = c
        .get(app.url(&format!("/halls/{hall}/tickets")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "anonymous: to the login"
    );
}

async fn appointments_organisations_keys_and_the_catalog_page_in_order(app: TestApp) {
    let hall = app.org_id("xingfu-hall").await;
    // Appointments of a day at three start times, several per slot.
    let mut expected = Vec::new();
    for (k, start) in ["10:00", "09:00", "14:30"].iter().enumerate() {
        let slot: i64 = sqlx::query(
            "INSERT INTO appointment_slots (hall_id, class_code, day, start_time, end_time, capacity, booked) \
             VALUES ($1, 'A', '2026-11-25', $2, '23:59', 9, 3) RETURNING id",
        )
        .bind(hall)
        .bind(*start)
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id");
        for n in 0..3 {
            let state = if n == 2 { "cancelled" } else { "booked" };
            let id: i64 = sqlx::query(
                "INSERT INTO appointments (code, slot_id, hall_id, class_code, day, start_time, name, id_hash, id_masked, phone, state, booked_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'A', '2026-11-25', $4, '王奶奶', $5, '110105********002X', '13800138000', $6, 'online', 0, 0) RETURNING id",
            )
            .bind(format!("T{k}{n}XXXXX"))
            .bind(slot)
            .bind(hall)
            .bind(*start)
            .bind(format!("hash-{k}-{n}"))
            .bind(state)
            .fetch_one(app.store.reader())
            .await
            .unwrap()
            .get("id");
            expected.push((start.to_string(), id, state));
        }
    }
    expected.sort();
    let guide = app.login("guide").await;
    let served = walk(
        &guide,
        &format!("/api/v1/queue/halls/{hall}/appointments?date=2026-11-25&limit=2"),
    )
    .await;
    let got: Vec<(String, i64)> = served
        .iter()
        .map(|a| {
            (
                a["start_time"].as_str().unwrap().to_string(),
                a["id"].as_i64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, i64)> = expected.iter().map(|(s, i, _)| (s.clone(), *i)).collect();
    assert_eq!(got, want, "by start time, then id, each once");
    assert!(
        served.iter().all(|a| a.get("phone").is_none()),
        "no phone numbers"
    );
    let booked = walk(
        &guide,
        &format!("/api/v1/queue/halls/{hall}/appointments?date=2026-11-25&state=booked&limit=4"),
    )
    .await;
    assert_eq!(booked.len(), 6);
    assert!(booked.iter().all(|a| a["state"] == "booked"));
    let (_, today) = guide
        .get(&format!("/api/v1/queue/halls/{hall}/appointments"))
        .await;
    assert_eq!(today["items"], json!([]), "today by default");

    // Organisations: tree order, every one once; children of a parent; a kind.
    let admin = app.login("admin").await;
    let orgs = walk(&admin, "/api/v1/orgs?limit=5").await;
    assert_eq!(orgs.len() as i64, app.count("orgs").await);
    let paths: Vec<&str> = orgs.iter().map(|o| o["path"].as_str().unwrap()).collect();
    assert!(paths.windows(2).all(|w| w[0] < w[1]), "tree order");
    let street = app.org_id("xingfu").await;
    let children = walk(&admin, &format!("/api/v1/orgs?parent={street}&limit=2")).await;
    assert!(children.len() >= 3);
    assert!(children.iter().all(|o| o["parent_id"] == street));
    let grids = walk(&admin, "/api/v1/orgs?kind=grid&limit=4").await;
    assert_eq!(grids.len(), 6);
    let (_, named) = admin.get("/api/v1/orgs?q=阳光").await;
    assert_eq!(named["items"].as_array().unwrap().len(), 3);

    // API keys: every key once; one account's; in force or revoked.
    let clerk_id = app.login("clerk").await.user["id"].as_i64().unwrap();
    let mut created = Vec::new();
    for i in 0..5 {
        let user = if i % 2 == 0 { Some(clerk_id) } else { None };
        let (s, k) = admin
            .post(
                "/api/v1/api-keys",
                json!({"name": format!("对接{i}"), "user_id": user}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        created.push(k["key"]["id"].as_i64().unwrap());
    }
    let (s, _) = admin
        .delete(&format!("/api/v1/api-keys/{}", created[0]))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let keys = walk(&admin, "/api/v1/api-keys?limit=2").await;
    let key_ids = ids(&keys);
    assert_no_repeats(&key_ids);
    assert_eq!(key_ids.len() as i64, app.count("api_keys").await);
    let clerks = walk(&admin, &format!("/api/v1/api-keys?user={clerk_id}&limit=1")).await;
    assert_eq!(
        ids(&clerks),
        vec![created[4], created[2], created[0]],
        "newest first"
    );
    let (_, revoked) = admin.get("/api/v1/api-keys?state=revoked").await;
    assert_eq!(ids(revoked["items"].as_array().unwrap()), vec![created[0]]);
    let (_, active) = admin
        .get(&format!("/api/v1/api-keys?state=active&user={clerk_id}"))
        .await;
    assert_eq!(
        ids(active["items"].as_array().unwrap()),
        vec![created[4], created[2]]
    );

    // The catalog: every active item once, in code order; filters keep the semantics.
    let items = walk(&admin, "/api/v1/catalog/items?limit=10").await;
    let codes: Vec<&str> = items.iter().map(|i| i["code"].as_str().unwrap()).collect();
    assert!(codes.windows(2).all(|w| w[0] < w[1]), "code order");
    let active_items: i64 = sqlx::query("SELECT COUNT(*) AS n FROM catalog_items WHERE active = 1")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("n");
    assert_eq!(codes.len() as i64, active_items);
    let mz = app.org_id("dept-mz").await;
    let dept = walk(
        &admin,
        &format!("/api/v1/catalog/items?department={mz}&limit=3"),
    )
    .await;
    assert!(!dept.is_empty());
    assert!(dept.iter().all(|i| i["department_id"] == mz));
    let owner = items[0]["owner_org_id"].as_i64().unwrap();
    let owned = walk(
        &admin,
        &format!("/api/v1/catalog/items?owner={owner}&limit=50"),
    )
    .await;
    assert!(owned.iter().all(|i| i["owner_org_id"] == owner));
    let found = walk(&admin, "/api/v1/catalog/items?q=社保卡&limit=1").await;
    assert!(!found.is_empty());
    assert!(found
        .iter()
        .any(|i| i["code"].as_str().unwrap().starts_with("RS-04")));
}

async fn form_login(app: &TestApp, username: &str) -> reqwest::Client {
    let c = app.browser();
    let page = c
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = c
        .post(app.url("/login"))
        .form(&[
            ("_csrf", csrf_of(&page).as_str()),
            ("username", username),
            ("password", onewindow_store::demo::DEMO_PASSWORD),
            ("next", "/home"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    c
}

fn csrf_of(html: &str) -> String {
    let i = html.find("name=\"_csrf\" value=\"").expect("a CSRF field") + 20;
    html[i..i + html[i..].find('"').unwrap()].to_string()
}

/// The `href` of the link with `id`, unescaped.
fn link(html: &str, id: &str) -> Option<String> {
    let i = html.find(&format!("id=\"{id}\""))?;
    let start = html[..i].rfind("href=\"")? + 6;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&amp;", "&"))
}

async fn pages_show_25_rows_with_next_and_first_page_links(app: TestApp) {
    let xingfu = app.org_id("xingfu").await;
    for i in 0..30 {
        add_user(&app, xingfu, &format!("p{i:02}"), "guide_desk").await;
    }
    let c = form_login(&app, "admin").await;
    let get = |path: String| {
        let c = c.clone();
        let url = app.url(&path);
        async move {
            let res = c.get(url).send().await.unwrap();
            (res.status(), res.text().await.unwrap())
        }
    };
    let mut seen = HashSet::new();
    let mut path = "/admin/users".to_string();
    let mut pages = 0;
    loop {
        let (s, html) = get(path.clone()).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        let rows = html.matches("<tr data-username=\"").count();
        for part in html.split("<tr data-username=\"").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(seen.insert(name.to_string()), "{name} on two pages");
        }
        assert_eq!(
            link(&html, "page-first").is_some(),
            pages > 0,
            "第一页 on every page but the first"
        );
        if pages > 0 {
            assert!(html.contains("第一页"));
        }
        match link(&html, "page-next") {
            Some(next) => {
                assert_eq!(rows, 25, "a full page before the last");
                assert!(html.contains("下一页"));
                path = next;
            }
            None => break,
        }
        pages += 1;
    }
    assert!(pages >= 1);
    assert_eq!(seen.len() as i64, app.count("users").await);
    // Filters stay on the following pages.
    let (_, html) = get("/admin/users?role=guide_desk".to_string()).await;
    let next = link(&html, "page-next").expect("31 guide desk accounts: two pages");
    assert!(next.contains("role=guide_desk"), "{next}");
    let (_, html) = get(next).await;
    assert!(!html.contains("data-username=\"admin\""));
    // A bad filter is a Chinese error page.
    let (s, html) = get("/admin/users?role=wizard".to_string()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("角色应为以下之一"), "{html}");
    // The catalog guide and the organisation tree page the same way.
    let (_, html) = get("/guide".to_string()).await;
    // 25 items a page, variants (办理项) listed under their item.
    let listed =
        html.matches("<tr data-code=\"").count() + html.matches("<li data-variant=\"").count();
    assert_eq!(listed, 25);
    let next = link(&html, "page-next").expect("73 items: more than one page");
    let (_, html2) = get(next).await;
    assert!(link(&html2, "page-first").is_some());
    let first_code = |h: &str| {
        let i = h.find("<tr data-code=\"").unwrap() + 15;
        h[i..i + h[i..].find('"').unwrap()].to_string()
    };
    assert!(first_code(&html2) > first_code(&html));
    let (s, html) = get("/admin/orgs".to_string()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.matches("<tr data-org-id=\"").count() <= 25);
    // The hall's ticket list for the guide desk.
    let hall = app.org_id("xingfu-hall").await;
    let desk = form_login(&app, "guide").await;
    let res = desk
        .get(app.url(&format!("/halls/{hall}/tickets?date=2026-11-20")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert_eq!(html.matches("<tr data-ticket-id=\"").count(), 25);
    let next = link(&html, "page-next").expect("a busy day: more than one page");
    assert!(next.contains("date=2026-11-20"));
    let res = desk.get(app.url(&next)).send().await.unwrap();
    let html = res.text().await.unwrap();
    assert!(link(&html, "page-first").is_some());
    let res = desk
        .get(app.url(&format!("/halls/{hall}/appointments")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("预约名单"));
    // The desk links to both.
    let html = desk
        .get(app.url("/desk"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("/halls/{hall}/tickets")));
}
