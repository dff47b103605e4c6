//! The JSON API and server behaviour, run against SQLite and PostgreSQL alike.

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    health_metrics_and_request_ids,
    login_me_logout,
    wrong_passwords_lock_the_account_until_time_passes,
    session_writes_need_the_csrf_token,
    admin_creates_org_and_user_with_audit_events,
    invalid_input_names_the_fields_and_writes_nothing,
    refusals_by_role_return_403_and_write_nothing,
    refusals_by_scope_return_403_and_write_nothing,
    lists_are_limited_to_scope,
    concurrent_edits_one_wins_one_conflicts,
    api_keys_authenticate_and_can_be_revoked,
    audit_verify_names_the_tampered_event,
    password_change_ends_other_sessions,
    every_documented_path_is_routed,
    validate_endpoint_checks_identifiers,
);

async fn health_metrics_and_request_ids(app: TestApp) {
    let c = app.browser();
    let res = c.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().get("x-request-id").is_some(),
        "every response carries a request id"
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(
        body["database"],
        if app.backend == common::Db::Sqlite {
            "sqlite"
        } else {
            "postgres"
        }
    );
    // A given request id is echoed back.
    let res = c
        .get(app.url("/"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-me-42");
    let metrics = c
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "onewindow_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("onewindow_http_request_duration_seconds_bucket{method=\"GET\",route=\"/\",status=\"200\",le=\"+Inf\"} 1"));
}

async fn login_me_logout(app: TestApp) {
    let api = app.login("clerk").await;
    assert_eq!(api.user["roles"], json!(["window_clerk"]));
    let (s, me) = api.get("/api/v1/me").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["username"], "clerk");
    assert_eq!(me["org_name"], "幸福街道");
    let (s, _) = api.post("/api/v1/logout", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = api.get("/api/v1/me").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthenticated");
    // An unknown user and a wrong password look the same.
    let e1 = app.login_with("nobody", "whatever-123").await.unwrap_err();
    let e2 = app.login_with("clerk", "whatever-123").await.unwrap_err();
    assert_eq!(e1["code"], "invalid_credentials");
    assert_eq!(e1["title"], e2["title"]);
}

async fn wrong_passwords_lock_the_account_until_time_passes(app: TestApp) {
    for _ in 0..4 {
        assert_eq!(
            app.login_with("guide", "wrong-password").await.unwrap_err()["code"],
            "invalid_credentials"
        );
    }
    // The fifth locks the account; the answer does not say so (it would tell a stranger
    // the account exists).
    assert_eq!(
        app.login_with("guide", "wrong-password").await.unwrap_err()["code"],
        "invalid_credentials"
    );
    // Locked: even the right password is refused.
    let err = app
        .login_with("guide", onewindow_store::demo::DEMO_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(err["code"], "invalid_credentials");
    // Fifteen minutes later it opens again; no sleeping, the clock moves.
    app.clock.advance_secs(15 * 60 + 1);
    app.login("guide").await;
    let admin = app.login("admin").await;
    let (_, events) = admin.get("/api/v1/audit?entity=user&limit=50").await;
    let actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"auth.locked"), "{actions:?}");
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "auth.login_failed")
            .count(),
        4
    );
}

async fn session_writes_need_the_csrf_token(app: TestApp) {
    let mut api = app.login("admin").await;
    let street = app.org_id("xingfu").await;
    let head = app.audit_head().await;
    let good = std::mem::take(&mut api.csrf);
    api.csrf = "0".repeat(64);
    let (s, body) = api
        .post(
            "/api/v1/orgs",
            json!({"parent_id": street, "kind": "community", "name": "新建社区"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "csrf_failed");
    assert_eq!(
        app.audit_head().await,
        head,
        "refused request wrote nothing"
    );
    // A page form without the token is refused too.
    let res = api
        .client
        .post(app.url("/admin/orgs"))
        .form(&[
            ("parent_id", street.to_string()),
            ("kind", "community".into()),
            ("name", "表单社区".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.audit_head().await, head);
    api.csrf = good;
    let (s, _) = api
        .post(
            "/api/v1/orgs",
            json!({"parent_id": street, "kind": "community", "name": "新建社区"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

async fn admin_creates_org_and_user_with_audit_events(app: TestApp) {
    let admin = app.login("admin").await;
    let street = app.org_id("xingfu").await;
    let (s, org) = admin.post("/api/v1/orgs", json!({"parent_id": street, "kind": "community", "name": "春晖社区", "code": "chunhui"})).await;
    assert_eq!(s, StatusCode::CREATED, "{org}");
    assert_eq!(org["kind"], "community");
    let (s, user) = admin
        .post("/api/v1/users", json!({"org_id": org["id"], "username": "chunhui.clerk", "display_name": "钱窗口", "roles": ["window_clerk", "guide_desk"], "password": "spring-2026"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{user}");
    assert_eq!(user["roles"], json!(["guide_desk", "window_clerk"]));
    // The new account can log in at once.
    let new = app
        .login_with("chunhui.clerk", "spring-2026")
        .await
        .unwrap();
    assert_eq!(new.user["org_name"], "春晖社区");
    let (_, events) = admin.get("/api/v1/audit?limit=10").await;
    let events = events["items"].as_array().unwrap();
    let create_user = events
        .iter()
        .find(|e| e["action"] == "user.create")
        .expect("user.create audited");
    assert_eq!(create_user["actor"], "admin");
    assert_eq!(create_user["entity_id"], user["id"].to_string());
    let detail: serde_json::Value =
        serde_json::from_str(create_user["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["after"]["username"], "chunhui.clerk");
    assert!(
        !create_user["detail"].as_str().unwrap().contains("argon2"),
        "no password hash in the audit log"
    );
    assert!(events.iter().any(|e| e["action"] == "org.create"
        && e["entity_id"].as_str() == Some(org["id"].to_string().as_str())));
}

async fn invalid_input_names_the_fields_and_writes_nothing(app: TestApp) {
    let admin = app.login("admin").await;
    let street = app.org_id("xingfu").await;
    let head = app.audit_head().await;
    let users_before = app.count("users").await;
    let (s, body) = admin
        .post("/api/v1/users", json!({"org_id": street, "username": "Bad Name", "display_name": "", "roles": [], "password": "spring-2026"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "validation_failed");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"username")
            && fields.contains(&"display_name")
            && fields.contains(&"roles"),
        "{fields:?}"
    );
    let (s, body) = admin
        .post("/api/v1/users", json!({"org_id": street, "username": "short.pw", "display_name": "某人", "roles": ["window_clerk"], "password": "1234567"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["fields"][0]["field"], "password");
    assert_eq!(body["fields"][0]["code"], "too_short");
    let (s, body) = admin
        .post("/api/v1/users", json!({"org_id": street, "username": "clerk", "display_name": "重名", "roles": ["window_clerk"], "password": "spring-2026"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["fields"][0]["code"], "duplicate");
    // A grid cannot hold a community.
    let grid = app.org_id("yangguang-g1").await;
    let (s, body) = admin
        .post(
            "/api/v1/orgs",
            json!({"parent_id": grid, "kind": "community", "name": "错层社区"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["fields"][0]["field"], "kind");
    assert_eq!(app.audit_head().await, head);
    assert_eq!(app.count("users").await, users_before);
}

async fn refusals_by_role_return_403_and_write_nothing(app: TestApp) {
    let street = app.org_id("xingfu").await;
    let clerk_id = app.login("clerk").await.user["id"].as_i64().unwrap();
    let head = app.audit_head().await;
    let (orgs_before, users_before) = (app.count("orgs").await, app.count("users").await);
    // (who, method, path, body) that their role does not allow.
    let cases = [
        (
            "clerk",
            "POST",
            "/api/v1/users".to_string(),
            json!({"org_id": street, "username": "sneaky", "display_name": "x", "roles": ["admin"], "password": "spring-2026"}),
        ),
        (
            "clerk",
            "POST",
            "/api/v1/orgs".to_string(),
            json!({"parent_id": street, "kind": "community", "name": "越权社区"}),
        ),
        (
            "supervisor",
            "PATCH",
            format!("/api/v1/users/{clerk_id}"),
            json!({"display_name": "x", "roles": ["admin"], "active": true, "version": 1}),
        ),
        (
            "supervisor",
            "POST",
            format!("/api/v1/users/{clerk_id}/password"),
            json!({"password": "taken-over-1"}),
        ),
        ("approver", "GET", "/api/v1/audit".to_string(), json!(null)),
        ("approver", "GET", "/api/v1/users".to_string(), json!(null)),
        (
            "grid",
            "POST",
            "/api/v1/api-keys".to_string(),
            json!({"name": "x"}),
        ),
        (
            "handler",
            "GET",
            "/api/v1/audit/verify".to_string(),
            json!(null),
        ),
        (
            "guide",
            "POST",
            format!("/api/v1/users/{clerk_id}/unlock"),
            json!({}),
        ),
    ];
    for (who, method, path, body) in cases {
        let api = app.login(who).await;
        let (s, problem) = match method {
            "GET" => api.get(&path).await,
            "POST" => api.post(&path, body).await,
            _ => api.patch(&path, body).await,
        };
        assert_eq!(s, StatusCode::FORBIDDEN, "{who} {method} {path}: {problem}");
        assert_eq!(problem["code"], "forbidden_role", "{who} {method} {path}");
    }
    // Logins were audited; nothing else was written.
    let after = app.audit_head().await;
    assert_eq!(after - head, 9, "only the nine logins appended events");
    assert_eq!(app.count("orgs").await, orgs_before);
    assert_eq!(app.count("users").await, users_before);
}

/// A community administrator for 阳光社区, created by the city admin.
async fn community_admin(app: &TestApp) -> common::Api {
    let admin = app.login("admin").await;
    let yangguang = app.org_id("yangguang").await;
    let (s, _) = admin
        .post("/api/v1/users", json!({"org_id": yangguang, "username": "yg.admin", "display_name": "阳光管理员", "roles": ["admin"], "password": "sunshine-2026"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    app.login_with("yg.admin", "sunshine-2026").await.unwrap()
}

async fn refusals_by_scope_return_403_and_write_nothing(app: TestApp) {
    let yg_admin = community_admin(&app).await;
    let heping = app.org_id("heping").await;
    let heping_grid = app.org_id("heping-g1").await;
    let street = app.org_id("xingfu").await;
    let clerk_id = app.login("clerk").await.user["id"].as_i64().unwrap();
    let head = app.audit_head().await;
    let users_before = app.count("users").await;
    let (s, body) = yg_admin
        .post("/api/v1/users", json!({"org_id": heping, "username": "heping.x", "display_name": "和平某", "roles": ["window_clerk"], "password": "peace-2026"}))
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden_scope"))
    );
    let (s, body) = yg_admin
        .post(
            "/api/v1/orgs",
            json!({"parent_id": heping, "kind": "grid", "name": "越界网格"}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden_scope"))
    );
    let (s, _) = yg_admin
        .patch(
            &format!("/api/v1/orgs/{street}"),
            json!({"name": "改名街道", "version": 1}),
        )
        .await;
    // Records addressed by id out of scope answer like missing ones (404).
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = yg_admin.get(&format!("/api/v1/orgs/{heping_grid}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The street clerk is above the community: out of reach for a community admin.
    let (s, _) = yg_admin.get(&format!("/api/v1/users/{clerk_id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = yg_admin
        .post(
            &format!("/api/v1/users/{clerk_id}/password"),
            json!({"password": "taken-over-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A community clerk never sees another community.
    let yg_clerk = app.login("clerk-yangguang").await;
    let (s, body) = yg_clerk.get(&format!("/api/v1/orgs/{heping}")).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    // The audit log is global: only the root can read it.
    let (s, body) = yg_admin.get("/api/v1/audit").await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden_scope"))
    );
    assert_eq!(
        app.audit_head().await,
        head + 1,
        "only the clerk-yangguang login was written"
    );
    assert_eq!(app.count("users").await, users_before);
    // Inside its own community the same admin may act.
    let yangguang = app.org_id("yangguang").await;
    let (s, _) = yg_admin
        .post("/api/v1/users", json!({"org_id": yangguang, "username": "yg.clerk2", "display_name": "阳光二号", "roles": ["window_clerk"], "password": "sunshine-2027"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

async fn lists_are_limited_to_scope(app: TestApp) {
    let yg_admin = community_admin(&app).await;
    let (_, orgs) = yg_admin.get("/api/v1/orgs").await;
    let names: Vec<&str> = orgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["阳光社区", "阳光社区第一网格", "阳光社区第二网格"]
    );
    let (_, users) = yg_admin.get("/api/v1/users").await;
    let mut usernames: Vec<&str> = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    usernames.sort();
    assert_eq!(
        usernames,
        vec!["clerk-yangguang", "community", "grid", "yg.admin"]
    );
    let city = app.login("admin").await;
    let (_, all) = city.get("/api/v1/orgs?limit=200").await;
    assert_eq!(
        all["items"].as_array().unwrap().len(),
        app.count("orgs").await as usize
    );
}

async fn concurrent_edits_one_wins_one_conflicts(app: TestApp) {
    let a = app.login("admin").await;
    let b = app.login("admin").await;
    let yangguang = app.org_id("yangguang").await;
    let (_, org) = a.get(&format!("/api/v1/orgs/{yangguang}")).await;
    let version = org["version"].as_i64().unwrap();
    let path = format!("/api/v1/orgs/{yangguang}");
    let (ra, rb) = tokio::join!(
        a.patch(
            &path,
            json!({"name": "阳光社区（甲）", "code": "yangguang", "version": version})
        ),
        b.patch(
            &path,
            json!({"name": "阳光社区（乙）", "code": "yangguang", "version": version})
        ),
    );
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{ra:?} {rb:?}"
    );
    let loser = if ra.0 == StatusCode::CONFLICT {
        &ra.1
    } else {
        &rb.1
    };
    assert_eq!(loser["code"], "version_conflict");
    let winner = if ra.0 == StatusCode::OK { &ra.1 } else { &rb.1 };
    let (_, now) = a.get(&path).await;
    assert_eq!(now["name"], winner["name"], "no lost update");
    assert_eq!(now["version"], version + 1);
}

async fn api_keys_authenticate_and_can_be_revoked(app: TestApp) {
    let admin = app.login("admin").await;
    let clerk_id = app.login("clerk").await.user["id"].clone();
    let (s, created) = admin
        .post(
            "/api/v1/api-keys",
            json!({"name": "12345热线对接", "user_id": clerk_id}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("ow_"));
    let machine = app.with_key(secret);
    let (s, me) = machine.get("/api/v1/me").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["username"], "clerk");
    // A key acts with its user's roles: a clerk key cannot create users.
    let (s, _) = machine.post("/api/v1/users", json!({"org_id": 1, "username": "k", "display_name": "k", "roles": ["admin"], "password": "spring-2026"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = admin
        .delete(&format!("/api/v1/api-keys/{}", created["key"]["id"]))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, body) = machine.get("/api/v1/me").await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    let (s, _) = app.with_key("ow_not-a-key").get("/api/v1/me").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

async fn audit_verify_names_the_tampered_event(app: TestApp) {
    let admin = app.login("admin").await;
    let (s, v) = admin.get("/api/v1/audit/verify").await;
    assert_eq!(s, StatusCode::OK);
    assert!(v.get("broken").is_none(), "{v}");
    let head = v["head_seq"].as_i64().unwrap();
    assert_eq!(v["checked"].as_i64().unwrap(), head);
    // Edit one row behind the application's back.
    sqlx::query("UPDATE audit_events SET detail = '{\"forged\":true}' WHERE seq = 5")
        .execute(app.store.reader())
        .await
        .unwrap();
    let (_, v) = admin.get("/api/v1/audit/verify").await;
    assert_eq!(v["broken"], json!({"kind": "altered", "seq": 5}));
    assert_eq!(v["checked"], 4);
}

async fn password_change_ends_other_sessions(app: TestApp) {
    let first = app.login("approver").await;
    let second = app.login("approver").await;
    let (s, body) = second
        .post(
            "/api/v1/me/password",
            json!({"current_password": "wrong", "new_password": "approve-2027"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["fields"][0]["field"], "current_password");
    let (s, _) = second.post("/api/v1/me/password", json!({"current_password": onewindow_store::demo::DEMO_PASSWORD, "new_password": "approve-2027"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        first.get("/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED,
        "the other session ended"
    );
    assert_eq!(
        second.get("/api/v1/me").await.0,
        StatusCode::OK,
        "the changing session stays"
    );
    assert!(app
        .login_with("approver", onewindow_store::demo::DEMO_PASSWORD)
        .await
        .is_err());
    app.login_with("approver", "approve-2027").await.unwrap();
}

async fn every_documented_path_is_routed(app: TestApp) {
    let c = app.browser();
    let doc: serde_json::Value = c
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 18);
    // Real keys for the parameterised paths, so "not found" can only mean "not routed".
    let items: serde_json::Value = c
        .get(app.url("/api/v1/catalog/items"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bundles: serde_json::Value = c
        .get(app.url("/api/v1/catalog/bundles"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hall = app.org_id("xingfu-hall").await;
    let (item, bundle) = (
        items["items"][0]["code"].as_str().unwrap(),
        bundles[0]["code"].as_str().unwrap(),
    );
    for (path, ops) in paths {
        let code = if path.contains("bundles") {
            bundle
        } else {
            item
        };
        let concrete = path
            .replace("{id}", "1")
            .replace("{code}", code)
            .replace("{key}", "deadline.red_days")
            .replace("{hall}", &hall.to_string());
        for method in ops
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| *m != "parameters")
        {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = c
                .request(m, app.url(&concrete))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = res.status();
            let body = res.text().await.unwrap();
            // A routed path may answer 404 for a record it cannot find; only the router's
            // fallback answers `no_route`.
            assert!(
                !body.contains("\"no_route\""),
                "{method} {path} is documented but not routed"
            );
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        }
    }
}

async fn validate_endpoint_checks_identifiers(app: TestApp) {
    let api = app.login("clerk").await;
    let (_, v) = api
        .post(
            "/api/v1/validate",
            json!({"kind": "id-card", "value": "11010519491231002x"}),
        )
        .await;
    assert_eq!(v["valid"], true);
    assert_eq!(v["normalized"], "11010519491231002X");
    assert_eq!(v["masked"], "110105********002X");
    let (_, v) = api
        .post(
            "/api/v1/validate",
            json!({"kind": "id-card", "value": "110105194912310021"}),
        )
        .await;
    assert_eq!(
        (v["valid"].as_bool(), v["code"].as_str()),
        (Some(false), Some("check_character"))
    );
    let (_, v) = api
        .post(
            "/api/v1/validate",
            json!({"kind": "mobile", "value": "13800138000"}),
        )
        .await;
    assert_eq!(v["masked"], "138****8000");
    let (s, v) = api
        .post(
            "/api/v1/validate",
            json!({"kind": "passport", "value": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["fields"][0]["field"], "kind");
}
