//! Open311 `POST servicerequestupdates` and `POST requests` after the security review, on
//! both backends: only a key whose account is related to the event may post an update
//! (the street's dispatcher, or the Open311 client that reported it) — another street's
//! key gets 403 and nothing is written, a private event is 404 like none —; a repeated
//! `update_id` is one update (201, then 200 with the same id); a status other than the
//! event's is refused with 400 in the spec's error body (XML and JSON); the answer to a
//! POST request never shows the dispatcher's instructions; field errors name the spec's
//! parameters (`long`, not `lon`).

mod common;

use common::grid::*;

use common::{Api, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    only_a_related_key_posts_an_update_and_a_repeat_is_one_update,
    a_status_change_is_refused_and_a_private_event_is_not_found,
    the_client_gets_a_neutral_notice_and_the_spec_s_parameter_names,
);

const UPDATES: &str = "/open311/v2/servicerequestupdates.json";
const NOW: &str = "2026-12-01T10:00:00+08:00";

/// Imports the demo street's grids and one category; the category's id.
async fn setup(app: &TestApp) -> i64 {
    import_demo_grids(app).await;
    lights_category(app, json!([])).await
}

/// An API key acting as `user_id`, made by the administrator.
async fn key_for(admin: &Api, user_id: &Value) -> String {
    let (s, created) = admin
        .post(
            "/api/v1/api-keys",
            json!({"name": "Open311对接", "user_id": user_id}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    created["secret"].as_str().unwrap().to_string()
}

/// The key of a dispatcher of another street (和平街道).
async fn other_street_key(app: &TestApp, admin: &Api) -> String {
    let district = app.org_id("district").await;
    let (s, street) = admin
        .post(
            "/api/v1/orgs",
            json!({"parent_id": district, "kind": "street", "name": "和平街道", "code": "hp-street"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{street}");
    let (s, v) = admin
        .post(
            "/api/v1/users",
            json!({"username": "dispatcher-hp", "display_name": "褚派单",
            "org_id": street["id"], "roles": ["dispatcher"], "password": "dispatcher-hp-pass-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    key_for(admin, &v["id"]).await
}

async fn raw(req: reqwest::RequestBuilder) -> (StatusCode, String, String) {
    let res = req.send().await.unwrap();
    let s = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (s, ct, res.text().await.unwrap())
}

async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let (s, _, body) = raw(reqwest::Client::new().post(app.url(path)).form(form)).await;
    (s, body)
}

/// POSTs an Open311 request with `key` at (lon, lat); status and the JSON answer.
async fn post_request(app: &TestApp, key: &str, point: (f64, f64)) -> (StatusCode, Value) {
    let (lon, lat) = (point.0.to_string(), point.1.to_string());
    let (s, body) = post_form(
        app,
        "/open311/v2/requests.json",
        &[
            ("api_key", key),
            ("service_code", "lights"),
            ("lat", &lat),
            ("long", &lon),
            ("description", "路灯不亮"),
        ],
    )
    .await;
    (s, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// POSTs an update; status and body.
async fn update(
    app: &TestApp,
    path: &str,
    key: &str,
    id: &str,
    status: &str,
    text: &str,
    update_id: Option<&str>,
) -> (StatusCode, String) {
    let mut form = vec![
        ("api_key", key),
        ("service_request_id", id),
        ("status", status),
        ("updated_datetime", NOW),
        ("description", text),
    ];
    if let Some(u) = update_id {
        form.push(("update_id", u));
    }
    post_form(app, path, &form).await
}

/// The public updates of request `id` whose text contains `needle`.
async fn public_updates_with(app: &TestApp, id: &str, needle: &str) -> usize {
    let (s, _, body) = raw(reqwest::Client::new().get(app.url(UPDATES))).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter(|u| {
            u["service_request_id"] == id
                && u["description"]
                    .as_str()
                    .is_some_and(|d| d.contains(needle))
        })
        .count()
}

async fn only_a_related_key_posts_an_update_and_a_repeat_is_one_update(app: TestApp) {
    setup(&app).await;
    let admin = app.login("admin").await;
    let dispatcher = app.login("dispatcher").await;
    let supervisor = app.login("supervisor").await;
    let street_key = key_for(&admin, &dispatcher.user["id"]).await;
    // A client account of the district: no street of its own, no DispatchGridEvents.
    let client_key = key_for(&admin, &supervisor.user["id"]).await;
    let other_key = other_street_key(&app, &admin).await;
    let (s, v) = post_request(&app, &client_key, IN_G1).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v[0]["service_request_id"].as_str().unwrap().to_string();

    // Another street's dispatcher: 403 in the spec's body, nothing written.
    let chain = app.count("grid_event_events").await;
    let audit = app.count("audit_events").await;
    let (s, body) = update(
        &app,
        UPDATES,
        &other_key,
        &id,
        "open",
        "伪造的更新",
        Some("x1"),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["code"], 403, "{v}");
    assert!(v[0]["description"].as_str().is_some(), "{v}");
    let (s, body) = update(
        &app,
        "/open311/v2/servicerequestupdates.xml",
        &other_key,
        &id,
        "open",
        "伪造的更新",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("<errors><error><code>403</code>"), "{body}");
    assert_eq!(app.count("grid_event_events").await, chain);
    assert_eq!(app.count("audit_events").await, audit);
    assert_eq!(app.count("grid_event_external_updates").await, 0);
    assert_eq!(public_updates_with(&app, &id, "伪造").await, 0);
    // The staff chain has no such entry either.
    let (s, v) = dispatcher.get(&format!("/api/v1/grid/events/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["chain"].as_array().unwrap().len(), 1, "{v}");

    // The street's dispatcher: 201.
    let (s, body) = update(&app, UPDATES, &street_key, &id, "open", "街道已知悉", None).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    // The reporting client: 201; the same update_id again is the same update, 200.
    let (s, body) = update(
        &app,
        UPDATES,
        &client_key,
        &id,
        "open",
        "居民补充：灯杆倾斜",
        Some("fms-7"),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let first: Value = serde_json::from_str(&body).unwrap();
    let first_id = first[0]["update_id"].as_str().unwrap().to_string();
    let chain = app.count("grid_event_events").await;
    let audit = app.count("audit_events").await;
    let (s, body) = update(
        &app,
        UPDATES,
        &client_key,
        &id,
        "open",
        "居民补充：灯杆倾斜",
        Some("fms-7"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let again: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(again[0]["update_id"], first_id.as_str(), "{again}");
    let (s, body) = update(
        &app,
        "/open311/v2/servicerequestupdates.xml",
        &client_key,
        &id,
        "open",
        "居民补充：灯杆倾斜",
        Some("fms-7"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(
        body.contains(&format!("<update_id>{first_id}</update_id>")),
        "{body}"
    );
    assert_eq!(app.count("grid_event_events").await, chain);
    assert_eq!(app.count("audit_events").await, audit);
    assert_eq!(public_updates_with(&app, &id, "灯杆倾斜").await, 1);
    // The same update_id is another key account's own: the dispatcher's is a new update.
    let (s, body) = update(
        &app,
        UPDATES,
        &street_key,
        &id,
        "open",
        "派单员的fms-7",
        Some("fms-7"),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    // The client's update_id for another request: refused, naming update_id.
    let (s, v) = post_request(&app, &client_key, IN_G1).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let second = v[0]["service_request_id"].as_str().unwrap().to_string();
    let (s, body) = update(
        &app,
        UPDATES,
        &client_key,
        &second,
        "open",
        "别的请求",
        Some("fms-7"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("update_id"), "{body}");

    // An event a grid worker reported: the district client is not its reporter.
    let grid = app.login("grid").await;
    let (s, v) = grid
        .post(
            "/api/v1/grid/events",
            json!({"category_id": lights_id(&app).await, "description": "路灯不亮",
                   "lon": IN_G1.0, "lat": IN_G1.1}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let worker_event = v["event"]["id"].as_i64().unwrap().to_string();
    let (s, body) = update(&app, UPDATES, &client_key, &worker_event, "open", "x", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let (s, body) = update(&app, UPDATES, &street_key, &worker_event, "open", "x", None).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
}

/// The id of the `lights` category.
async fn lights_id(app: &TestApp) -> i64 {
    onewindow_store::grid::categories::by_code(app.store.reader(), "lights")
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn a_status_change_is_refused_and_a_private_event_is_not_found(app: TestApp) {
    let category = setup(&app).await;
    let admin = app.login("admin").await;
    let dispatcher = app.login("dispatcher").await;
    let street_key = key_for(&admin, &dispatcher.user["id"]).await;
    let other_key = other_street_key(&app, &admin).await;
    let (s, v) = post_request(&app, &street_key, IN_G1).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v[0]["service_request_id"].as_str().unwrap().to_string();
    let chain = app.count("grid_event_events").await;
    // closed for an open request: 400, the spec's body naming status, nothing written.
    let (s, body) = update(
        &app,
        UPDATES,
        &street_key,
        &id,
        "closed",
        "已修好",
        Some("c1"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["code"], 400, "{v}");
    let d = v[0]["description"].as_str().unwrap();
    assert!(d.contains("status") && d.contains("open"), "{d}");
    let (s, ct, body) = raw(reqwest::Client::new()
        .post(app.url("/open311/v2/servicerequestupdates.xml"))
        .form(&[
            ("api_key", street_key.as_str()),
            ("service_request_id", id.as_str()),
            ("status", "closed"),
            ("updated_datetime", NOW),
            ("description", "已修好"),
        ]))
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(ct.starts_with("text/xml"), "{ct}");
    assert!(body.contains("<errors><error><code>400</code>"), "{body}");
    assert!(body.contains("status"), "{body}");
    assert_eq!(app.count("grid_event_events").await, chain);
    assert_eq!(app.count("grid_event_external_updates").await, 0);
    let (_, v) = dispatcher.get(&format!("/api/v1/grid/events/{id}")).await;
    assert_eq!(v["event"]["state"], "reported", "{v}");
    // The refused update_id was not taken: the same id with the right status is recorded.
    let (s, body) = update(
        &app,
        UPDATES,
        &street_key,
        &id,
        "open",
        "已知悉",
        Some("c1"),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");

    // A private event: 404 like none, for its own street's key and another street's alike.
    let grid = app.login("grid").await;
    let (s, v) = grid
        .post(
            "/api/v1/grid/events",
            json!({"category_id": category, "description": "邻里纠纷",
                   "lon": IN_G1.0, "lat": IN_G1.1, "public": false}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let private = v["event"]["id"].as_i64().unwrap().to_string();
    let chain = app.count("grid_event_events").await;
    for key in [&street_key, &other_key] {
        let (s, body) = update(&app, UPDATES, key, &private, "open", "x", None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v[0]["code"], 404, "{v}");
    }
    let (s, body) = update(&app, UPDATES, &other_key, "999999", "open", "x", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(app.count("grid_event_events").await, chain);
}

async fn the_client_gets_a_neutral_notice_and_the_spec_s_parameter_names(app: TestApp) {
    setup(&app).await;
    let admin = app.login("admin").await;
    let dispatcher = app.login("dispatcher").await;
    let supervisor = app.login("supervisor").await;
    let street_key = key_for(&admin, &dispatcher.user["id"]).await;
    let client_key = key_for(&admin, &supervisor.user["id"]).await;
    // Outside every grid, kept for the key's street: a neutral notice, no instructions.
    let (s, v) = post_request(&app, &street_key, (116.50, 39.95)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let notice = v[0]["service_notice"].as_str().unwrap();
    assert!(!notice.contains("派单"), "{notice}");
    assert!(notice.contains("核实"), "{notice}");
    let id: i64 = v[0]["service_request_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // The dispatcher still gets the warning.
    let (s, v) = dispatcher.get(&format!("/api/v1/grid/events/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(!v["warnings"].as_array().unwrap().is_empty(), "{v}");
    // Inside a grid: the limit only.
    let (s, v) = post_request(&app, &street_key, IN_G1).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let notice = v[0]["service_notice"].as_str().unwrap();
    assert!(
        !notice.contains("派单") && !notice.contains("核实"),
        "{notice}"
    );

    // A bad long: named long, JSON and XML.
    let form = [
        ("api_key", street_key.as_str()),
        ("service_code", "lights"),
        ("lat", "39.9056"),
        ("long", "east"),
    ];
    let (s, body) = post_form(&app, "/open311/v2/requests.json", &form).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["code"], 400, "{v}");
    assert!(
        v[0]["description"].as_str().unwrap().contains("long"),
        "{v}"
    );
    let (s, body) = post_form(&app, "/open311/v2/requests.xml", &form).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("<code>400</code>") && body.contains("long"),
        "{body}"
    );
    // A place our records refuse (outside every grid, and the district client has no
    // street to keep it): the spec's long, never our lon.
    let (s, v) = post_request(&app, &client_key, (116.50, 39.95)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let d = v[0]["description"].as_str().unwrap();
    assert!(d.contains("参数long"), "{d}");
    assert!(!d.contains("lon："), "{d}");
    // An address too long: address_string, not address.
    let long_address = "长".repeat(1000);
    let (s, body) = post_form(
        &app,
        "/open311/v2/requests.json",
        &[
            ("api_key", street_key.as_str()),
            ("service_code", "lights"),
            ("lat", "39.9056"),
            ("long", "116.3918"),
            ("address_string", &long_address),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let d = v[0]["description"].as_str().unwrap();
    assert!(d.contains("参数address_string"), "{d}");
}
