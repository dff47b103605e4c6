//! Resource limits and browser hardening (issue 8, findings 5, 6, 10 and the limits): bounded
//! metrics, bounded text input, security headers, 404 for other communities' records,
//! the body limit and the request timeout — through the real server.

mod common;

use common::TestApp;
use onewindow_store::clock::ManualClock;
use onewindow_store::{demo, Store, StoreOptions};
use onewindow_web::{AppState, WebConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_backends!(
    unknown_methods_do_not_grow_the_metrics,
    long_searches_are_field_errors_not_500s,
    every_limited_field_is_refused_with_its_name,
    pages_and_api_carry_the_security_headers,
    other_communities_cases_look_like_missing_ones,
    other_halls_windows_and_users_look_like_missing_ones,
    an_oversized_body_is_413_problem_json,
);

/// The app over a fresh SQLite file with `config` (the settings under test do not depend
/// on the database). The server is stopped when the returned sender is dropped.
async fn spawn_with(
    config: WebConfig,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    Arc<tempfile::TempDir>,
) {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let url = format!("sqlite://{}", dir.path().join("onewindow.db").display());
    let store = Store::open(&url, &StoreOptions::default()).await.unwrap();
    let clock = ManualClock::at(common::START_MICROS);
    demo::seed(&store, common::START_MICROS).await.unwrap();
    let state = AppState::new(store, Arc::new(clock), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(onewindow_web::serve(listener, state, async move {
        let _ = rx.await;
    }));
    (base, tx, dir)
}

fn series(metrics: &str) -> usize {
    metrics
        .lines()
        .filter(|l| l.starts_with("onewindow_http_requests_total{"))
        .count()
}

async fn metrics_text(app: &TestApp) -> String {
    let res = app.browser().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "loopback may scrape");
    res.text().await.unwrap()
}

async fn unknown_methods_do_not_grow_the_metrics(app: TestApp) {
    let c = app.browser();
    let send = |method: String, path: &'static str| {
        let c = c.clone();
        let url = app.url(path);
        async move {
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            c.request(m, url).send().await.unwrap().status()
        }
    };
    // One odd method per path first, so the `other` series exist.
    for path in ["/", "/api/v1/me", "/no/such/page"] {
        send("PROBE".into(), path).await;
    }
    let before = series(&metrics_text(&app).await);
    for i in 0..300 {
        let method = format!("M{i}{:08X}", rand::random::<u32>());
        let path = ["/", "/api/v1/me", "/no/such/page"][i % 3];
        send(method, path).await;
    }
    let huge = "X".repeat(8000);
    send(huge.clone(), "/").await;
    let text = metrics_text(&app).await;
    // The scrape itself may add its own series once; nothing else may appear.
    let after = series(&text);
    assert!(
        after <= before + 1,
        "300 random methods grew the series from {before} to {after}:\n{text}"
    );
    assert!(
        !text.contains(&huge[..100]),
        "the 8,000-character method is not stored"
    );
    assert!(!text.contains("method=\"M1"), "no random method is a label");
    assert!(text.contains("method=\"other\""), "{text}");
    assert!(
        text.contains("route=\"unmatched\""),
        "unmatched paths share one label: {text}"
    );
    assert!(!text.contains("/no/such/page"), "paths are never labels");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_answer_only_with_the_token_when_one_is_set() {
    let (base, _stop, _dir) = spawn_with(WebConfig {
        metrics_token: Some("scrape-secret-42".into()),
        ..WebConfig::default()
    })
    .await;
    let c = reqwest::Client::new();
    let res = c.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "loopback alone is not enough once a token is set"
    );
    assert!(!res.text().await.unwrap().contains("onewindow_http"));
    let res = c
        .get(format!("{base}/metrics"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = c
        .get(format!("{base}/metrics"))
        .bearer_auth("scrape-secret-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("onewindow_http_requests_total"));
}

async fn long_searches_are_field_errors_not_500s(app: TestApp) {
    let c = app.browser();
    let q = "a".repeat(50_000);
    let res = c
        .get(app.url(&format!("/api/v1/catalog/items?q={q}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.headers()["content-type"],
        "application/problem+json",
        "API errors are problem+json"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["fields"][0]["field"], "q", "{body}");
    assert_eq!(body["fields"][0]["code"], "too_long");
    assert_eq!(body["fields"][0]["message"], "搜索词不能超过100个字");
    // 100 characters still search (and find nothing, without error).
    let res = c
        .get(app.url(&format!("/api/v1/catalog/items?q={}", "低".repeat(100))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The guide page says it in Chinese, beside the search box, and does not echo it all.
    let res = c
        .get(app.url(&format!("/guide?q={q}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("搜索词不能超过100个字"), "{}", &html[..500]);
    assert!(
        html.len() < 20_000,
        "the 50,000 characters are not echoed back"
    );
    // The clerk's window search goes through the same rule.
    let clerk = app.login("clerk").await;
    let res = clerk
        .client
        .get(app.url(&format!("/window?q={q}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("搜索词不能超过100个字"));
}

/// Asserts a 422 naming `field` with `code`.
fn refused(res: (StatusCode, Value), field: &str, code: &str) {
    let (s, body) = res;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
    assert!(
        body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["field"] == field && f["code"] == code),
        "{field} {code}: {body}"
    );
}

async fn every_limited_field_is_refused_with_its_name(app: TestApp) {
    let c = app.browser();
    let hall = app.org_id("xingfu-hall").await;
    // Anonymous booking: a 1 MB name, a name with NUL, a long phone.
    let slots: Vec<Value> = c
        .get(app.url(&format!(
            "/api/v1/queue/halls/{hall}/slots?class=A&date=2026-11-25"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slot = slots[0]["id"].as_i64().unwrap();
    let book = |name: String, phone: &str| json!({"slot_id": slot, "name": name, "id_number": "11010519491231002X", "phone": phone});
    let anon_post = |body: Value| {
        let c = c.clone();
        let url = app.url(&format!("/api/v1/queue/halls/{hall}/appointments"));
        async move {
            let r = c.post(url).json(&body).send().await.unwrap();
            let s = r.status();
            assert_eq!(r.headers()["content-type"], "application/problem+json");
            (s, r.json::<Value>().await.unwrap())
        }
    };
    let before = app.count("appointments").await;
    refused(
        anon_post(book("张".repeat(1_000_000 / 3), "13800138000")).await,
        "name",
        "too_long",
    );
    refused(
        anon_post(book("a".repeat(1_000_000), "13800138000")).await,
        "name",
        "too_long",
    );
    refused(
        anon_post(book("张\u{0}三".into(), "13800138000")).await,
        "name",
        "control_char",
    );
    refused(
        anon_post(book("张三".into(), &"1".repeat(500))).await,
        "phone",
        "too_long",
    );
    assert_eq!(
        app.count("appointments").await,
        before,
        "nothing was booked"
    );

    // Staff accounts and organisations.
    let admin = app.login("admin").await;
    let street = app.org_id("xingfu").await;
    let user = |username: &str, name: &str| json!({"org_id": street, "username": username, "display_name": name, "roles": ["window_clerk"], "password": "long-enough-2026"});
    refused(
        admin
            .post("/api/v1/users", user("nul.name", "王\u{0}五"))
            .await,
        "display_name",
        "control_char",
    );
    refused(
        admin
            .post("/api/v1/users", user("long.name", &"王".repeat(41)))
            .await,
        "display_name",
        "too_long",
    );
    refused(
        admin
            .post("/api/v1/users", user(&"u".repeat(33), "王五"))
            .await,
        "username",
        "too_long",
    );
    let clerk_id = app.login("clerk").await.user["id"].as_i64().unwrap();
    let (_, clerk) = admin.get(&format!("/api/v1/users/{clerk_id}")).await;
    refused(
        admin
            .patch(
                &format!("/api/v1/users/{clerk_id}"),
                json!({"display_name": "窗口\u{1b}[31m", "roles": ["window_clerk"], "active": true, "version": clerk["version"]}),
            )
            .await,
        "display_name",
        "control_char",
    );
    refused(
        admin
            .post(
                "/api/v1/orgs",
                json!({"parent_id": street, "kind": "community", "name": "新\u{7f}社区"}),
            )
            .await,
        "name",
        "control_char",
    );
    refused(
        admin
            .post(
                "/api/v1/orgs",
                json!({"parent_id": street, "kind": "community", "name": "社".repeat(61)}),
            )
            .await,
        "name",
        "too_long",
    );
    refused(
        admin
            .post("/api/v1/api-keys", json!({"name": "用途\u{0}"}))
            .await,
        "name",
        "control_char",
    );

    // Intake: applicant, agent, override reason.
    let clerk = app.login("clerk").await;
    let (_, items) = clerk.get("/api/v1/catalog/items?q=").await;
    let code = items["items"][0]["code"].as_str().unwrap().to_string();
    let intake = |patch: Value| {
        let mut body = json!({
            "item_code": code,
            "applicant_kind": "person",
            "applicant_name": "张三",
            "applicant_id": "11010519491231002X",
            "applicant_phone": "13800138000",
            "materials": {},
        });
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases_before = app.count("cases").await;
    for (patch, field, code) in [
        (
            json!({"applicant_name": "张\u{0}三"}),
            "applicant_name",
            "control_char",
        ),
        (
            json!({"applicant_name": "张".repeat(101)}),
            "applicant_name",
            "too_long",
        ),
        (
            json!({"agent_name": "李\n四", "agent_id": "440524198001010013"}),
            "agent_name",
            "control_char",
        ),
        (
            json!({"applicant_phone": "1".repeat(21)}),
            "applicant_phone",
            "too_long",
        ),
        (
            json!({"applicant_kind": "company", "applicant_id": "91350100M000100Y4X", "credit_code_override": "核实".repeat(251)}),
            "credit_code_override",
            "too_long",
        ),
    ] {
        refused(
            clerk.post("/api/v1/cases", intake(patch)).await,
            field,
            code,
        );
    }
    assert_eq!(app.count("cases").await, cases_before);

    // Case actions: a withdrawal reason of 2,001 characters; an opinion may keep lines.
    let (s, case) = clerk.post("/api/v1/cases", intake(json!({}))).await;
    assert!(s.is_success(), "{case}");
    let act = |body: Value| {
        let mut body = body;
        body["version"] = case["version"].clone();
        body
    };
    refused(
        clerk
            .post(
                &format!("/api/v1/cases/{}/actions", case["id"]),
                act(json!({"action": "withdraw", "reason": "撤".repeat(2001)})),
            )
            .await,
        "reason",
        "too_long",
    );
    refused(
        clerk
            .post(
                &format!("/api/v1/cases/{}/actions", case["id"]),
                act(json!({"action": "withdraw", "reason": "申请人\u{0}撤回"})),
            )
            .await,
        "reason",
        "control_char",
    );
}

async fn pages_and_api_carry_the_security_headers(app: TestApp) {
    let c = app.browser();
    for path in [
        "/",
        "/guide",
        "/login",
        "/api/v1/catalog/items",
        "/api/v1/me",
        "/no/such/page",
    ] {
        let res = c.get(app.url(path)).send().await.unwrap();
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(
            h["referrer-policy"], "strict-origin-when-cross-origin",
            "{path}"
        );
    }
    // No inline script or handler left for the policy to block.
    let clerk = app.login("clerk").await;
    for path in ["/", "/guide", "/login", "/home", "/window", "/counter"] {
        let html = clerk
            .client
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!html.contains("onclick="), "{path}");
        assert!(!html.contains("style=\""), "{path}");
        for script in html.split("<script").skip(1) {
            assert!(
                script.trim_start().starts_with("src="),
                "{path}: inline script"
            );
        }
    }
}

/// A window clerk of 和平社区, a sibling of 阳光社区.
async fn heping_clerk(app: &TestApp) -> common::Api {
    let admin = app.login("admin").await;
    let heping = app.org_id("heping").await;
    let (s, body) = admin
        .post("/api/v1/users", json!({"org_id": heping, "username": "hp.clerk", "display_name": "和平窗口", "roles": ["window_clerk"], "password": "peaceful-2026"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    app.login_with("hp.clerk", "peaceful-2026").await.unwrap()
}

async fn other_communities_cases_look_like_missing_ones(app: TestApp) {
    let hp = heping_clerk(&app).await;
    let (_, items) = hp.get("/api/v1/catalog/items?q=").await;
    let code = items["items"][0]["code"].as_str().unwrap();
    let (s, case) = hp
        .post(
            "/api/v1/cases",
            json!({"item_code": code, "applicant_kind": "person", "applicant_name": "张三", "applicant_id": "11010519491231002X", "applicant_phone": "13800138000", "materials": {}}),
        )
        .await;
    assert!(s.is_success(), "{case}");
    let id = case["id"].as_i64().unwrap();
    let (s, own) = hp.get(&format!("/api/v1/cases/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{own}");

    let yg = app.login("clerk-yangguang").await;
    let sibling = yg.get(&format!("/api/v1/cases/{id}")).await;
    let missing = yg.get("/api/v1/cases/987654321").await;
    assert_eq!(sibling.0, StatusCode::NOT_FOUND, "{}", sibling.1);
    assert_eq!(
        sibling, missing,
        "out of scope is indistinguishable from missing"
    );
    // Acting on it as well, and the page.
    let (s, body) = yg
        .post(
            &format!("/api/v1/cases/{id}/actions"),
            json!({"action": "withdraw", "reason": "越界", "version": case["version"]}),
        )
        .await;
    let (s2, body2) = yg
        .post(
            "/api/v1/cases/987654321/actions",
            json!({"action": "withdraw", "reason": "越界", "version": case["version"]}),
        )
        .await;
    assert_eq!((s, &body), (s2, &body2));
    assert_eq!(s, StatusCode::NOT_FOUND);
    let page = |path: String| {
        let c = yg.client.clone();
        let url = app.url(&path);
        async move {
            let r = c.get(url).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let (s, html) = page(format!("/cases/{id}")).await;
    let (s2, html2) = page("/cases/987654321".into()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!((s, html), (s2, html2));
    // A missing role is still a 403: it says nothing about the record.
    let grid = app.login("grid").await;
    let (s, body) = grid.get(&format!("/api/v1/cases/{id}")).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden_role"))
    );
}

async fn other_halls_windows_and_users_look_like_missing_ones(app: TestApp) {
    let yg_admin = {
        let admin = app.login("admin").await;
        let yangguang = app.org_id("yangguang").await;
        admin
            .post("/api/v1/users", json!({"org_id": yangguang, "username": "yg.admin", "display_name": "阳光管理员", "roles": ["admin"], "password": "sunshine-2026"}))
            .await;
        app.login_with("yg.admin", "sunshine-2026").await.unwrap()
    };
    let clerk_id = app.login("clerk").await.user["id"].as_i64().unwrap();
    let heping = app.org_id("heping").await;
    for (path, missing) in [
        (
            format!("/api/v1/users/{clerk_id}"),
            "/api/v1/users/987654321",
        ),
        (format!("/api/v1/orgs/{heping}"), "/api/v1/orgs/987654321"),
    ] {
        let a = yg_admin.get(&path).await;
        let b = yg_admin.get(missing).await;
        assert_eq!(a.0, StatusCode::NOT_FOUND, "{path}: {}", a.1);
        assert_eq!(a, b, "{path}");
    }
    // A window of the street hall, operated by a community clerk.
    use sqlx::Row;
    let window: i64 = sqlx::query("SELECT id FROM service_windows ORDER BY id LIMIT 1")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id");
    let yg = app.login("clerk-yangguang").await;
    let a = yg
        .post(
            &format!("/api/v1/queue/windows/{window}/call-next"),
            json!({}),
        )
        .await;
    let b = yg
        .post("/api/v1/queue/windows/987654321/call-next", json!({}))
        .await;
    assert_eq!(a.0, StatusCode::NOT_FOUND, "{}", a.1);
    assert_eq!(a, b);
    // Without the role the answer is 403 for every id, existing or not: the role is
    // checked before the record is looked up.
    let ticket: i64 = sqlx::query("SELECT id FROM tickets ORDER BY id LIMIT 1")
        .fetch_one(app.store.reader())
        .await
        .unwrap()
        .get("id");
    let guide = app.login("guide").await;
    for (existing, missing, body) in [
        (
            format!("/api/v1/queue/windows/{window}/call-next"),
            "/api/v1/queue/windows/987654321/call-next",
            json!({}),
        ),
        (
            format!("/api/v1/queue/windows/{window}/state"),
            "/api/v1/queue/windows/987654321/state",
            json!({"state": "open"}),
        ),
        (
            format!("/api/v1/queue/tickets/{ticket}/actions"),
            "/api/v1/queue/tickets/987654321/actions",
            json!({"action": "call"}),
        ),
    ] {
        let a = guide.post(&existing, body.clone()).await;
        let b = guide.post(missing, body).await;
        assert_eq!(a.0, StatusCode::FORBIDDEN, "{existing}: {}", a.1);
        assert_eq!(a, b, "{existing}");
    }
}

async fn an_oversized_body_is_413_problem_json(app: TestApp) {
    // Raw connections (see `oversized_exchange`): a client library reports the broken
    // pipe of a body the server stopped reading instead of the 413 it was sent.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .post(app.url("/api/v1/login"))
        .json(&json!({"username": "admin", "password": demo::DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ");
    let login: Value = res.json().await.unwrap();
    let admin = common::Api {
        base: app.base.clone(),
        client: client.clone(),
        csrf: login["csrf_token"].as_str().unwrap().to_string(),
        bearer: None,
        user: login["user"].clone(),
    };
    let users_before = app.count("users").await;
    // 2.1 MB declared: refused on the Content-Length alone, nothing of it stored.
    let (status, head, body) = oversized_exchange(
        &app,
        &format!(
            "POST /api/v1/users HTTP/1.1\r\nContent-Type: application/json\r\nx-csrf-token: {}\r\nCookie: {cookie}\r\nContent-Length: 2100000\r\n",
            admin.csrf
        ),
        &[b"{\"display_name\": \"".as_slice(), "王".repeat(700_000).as_bytes()],
    )
    .await;
    assert_eq!(status, 413, "{head}");
    assert!(
        head.contains("content-type: application/problem+json"),
        "{head}"
    );
    assert!(body.contains("\"payload_too_large\""), "{body}");
    assert_eq!(app.count("users").await, users_before);
    // A page form gets the Chinese error page.
    let (status, _, body) = oversized_exchange(
        &app,
        &format!(
            "POST /admin/users HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nCookie: {cookie}\r\nContent-Length: 1100020\r\n"
        ),
        &[format!("_csrf={}&display_name=", admin.csrf).as_bytes(), "a".repeat(1_100_000).as_bytes()],
    )
    .await;
    assert_eq!(status, 413);
    assert!(body.contains("提交的内容过大"), "{body}");
    // A chunked body (no Content-Length) is cut off at the same limit.
    let chunk = format!("10000\r\n{}\r\n", " ".repeat(64 * 1024));
    let chunks: Vec<&[u8]> = (0..40).map(|_| chunk.as_bytes()).collect();
    let (status, head, _) = oversized_exchange(
        &app,
        &format!(
            "POST /api/v1/users HTTP/1.1\r\nContent-Type: application/json\r\nx-csrf-token: {}\r\nCookie: {cookie}\r\nTransfer-Encoding: chunked\r\n",
            admin.csrf
        ),
        &chunks,
    )
    .await;
    assert_eq!(status, 413, "{head}");
    assert!(
        head.contains("content-type: application/problem+json"),
        "{head}"
    );
    // Uploads keep their larger limit: a 3 MB import body is read (and judged on content).
    let res = admin
        .client
        .post(app.url("/api/v1/catalog/import"))
        .header("x-csrf-token", &admin.csrf)
        .header("cookie", &cookie)
        .header("content-type", "text/csv")
        .body(" ".repeat(3 * 1024 * 1024))
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_ne!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "sent as the administrator"
    );
}

/// Sends a request over a raw connection and reads the answer. The server answers 413
/// as soon as it knows the body is too large and closes the connection, so a client
/// still writing the body may see a broken pipe before it reads the answer; writes
/// the server cut off are therefore ignored, and the answer is read after them.
async fn oversized_exchange(app: &TestApp, head: &str, body: &[&[u8]]) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_string();
    let (mut rx, mut tx) = tokio::net::TcpStream::connect(&addr)
        .await
        .unwrap()
        .into_split();
    // Read while writing: the answer is taken in as it arrives, before the reset that
    // follows a close with unread input could discard it.
    let reader = tokio::spawn(async move {
        let mut answer = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(Ok(n)) =
            tokio::time::timeout(std::time::Duration::from_secs(20), rx.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        answer
    });
    let head = format!("{head}Host: {addr}\r\nConnection: close\r\n\r\n");
    tx.write_all(head.as_bytes()).await.unwrap();
    for part in body {
        if tx.write_all(part).await.is_err() {
            break;
        }
    }
    let answer = reader.await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {head:?}"));
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_times_out_but_the_display_stream_stays_open() {
    let (base, _stop, _dir) = spawn_with(WebConfig {
        request_timeout: Duration::from_secs(1),
        ..WebConfig::default()
    })
    .await;
    let addr = base.trim_start_matches("http://").to_string();
    // A client that announces a body and never sends it.
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("answered within the timeout")
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(head.contains("application/problem+json"), "{head}");

    // The display's event stream outlives the timeout and still delivers.
    let c = reqwest::Client::new();
    let hall: Value = c
        .get(format!("{base}/api/v1/queue/halls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hall = hall[0]["id"].as_i64().unwrap();
    let mut stream = c
        .get(format!("{base}/halls/{hall}/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let guide = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let login = guide
        .post(format!("{base}/api/v1/login"))
        .json(&json!({"username": "guide", "password": demo::DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    let csrf: Value = login.json().await.unwrap();
    let res = guide
        .post(format!("{base}/api/v1/queue/halls/{hall}/tickets"))
        .header("x-csrf-token", csrf["csrf_token"].as_str().unwrap())
        .json(&json!({"class": "A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("event:") {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("an event arrives on the stream opened before the timeout")
            .unwrap()
            .expect("the stream is still open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}
