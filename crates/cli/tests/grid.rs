//! 网格事件 through the API and Open311 GeoReport v2 on both backends: the loop from a grid
//! worker's report to the street's closing (refusals of state and role on the way, the
//! chain whole on the event, the figures from the rollup); Open311 conformance written from
//! the spec (every endpoint in XML and JSON, the 403 without a key, an unknown service
//! code, an unknown request id, a bad date, a request posted through Open311 seen by the
//! dispatcher and its status changes through GET requests and servicerequestupdates); a
//! point outside every grid kept for the street with a warning; a photo's EXIF GPS gone
//! from its public copy.

mod common;

use common::grid::*;

use common::{Api, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    the_loop_runs_from_a_grid_worker_s_report_to_the_close,
    open311_conformance_from_the_spec,
    a_point_outside_every_grid_is_kept_with_a_warning,
    the_public_copy_of_a_photo_has_no_gps,
    the_board_draws_the_grids_and_the_event_page_keeps_the_chain,
    the_community_takes_an_event_directly_and_only_its_duty_officer_may,
    wrong_role_other_organisation_and_lower_level_are_refused,
    buildings_are_imported_into_their_grids_and_counted_in_households,
    the_department_inbox_lists_its_events_and_the_figures_count_them,
    a_grid_must_lie_inside_the_community_it_names,
    the_figures_follow_an_event_to_its_department_and_drop_returned_co_handlers,
    a_street_keeps_to_its_district_its_grids_and_its_workers,
    the_board_warns_of_duplicates_and_lateness_and_dispatches_in_one_action,
    a_duplicate_does_not_tell_the_public_a_private_original,
);

/// Imports the demo street's grids and creates 路灯损坏 with this file's extra fields; its id.
async fn setup(app: &TestApp) -> i64 {
    import_demo_grids(app).await;
    lights_category(
        app,
        json!([{"code": "pole", "datatype": "string", "required": false,
                    "description": "灯杆编号", "order": 1}]),
    )
    .await
}

async fn act(api: &Api, id: i64, body: Value) -> (StatusCode, Value) {
    api.post(&format!("/api/v1/grid/events/{id}/acts"), body)
        .await
}

async fn ok(api: &Api, id: i64, body: Value) -> Value {
    let (s, v) = act(api, id, body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body} → {v}");
    v
}

async fn upload(api: &Api, id: i64, phase: &str, bytes: &[u8], ct: &str) -> (StatusCode, Value) {
    let res = api
        .client
        .post(format!(
            "{}/api/v1/grid/events/{id}/photos?phase={phase}",
            api.base
        ))
        .header("x-csrf-token", &api.csrf)
        .header("content-type", ct)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let s = res.status();
    (s, res.json().await.unwrap_or(Value::Null))
}

async fn the_loop_runs_from_a_grid_worker_s_report_to_the_close(app: TestApp) {
    let category = setup(&app).await;
    let grid = app.login("grid").await;
    let dispatcher = app.login("dispatcher").await;
    let handler = app.login("handler").await;
    let cg = app.org_id("dept-cg").await;
    let (s, v) = grid
        .post(
            "/api/v1/grid/events",
            json!({"category_id": category, "description": "3号楼前路灯不亮",
                   "lon": IN_G1.0, "lat": IN_G1.1, "address": "阳光小区3号楼",
                   "attributes": {"pole": "YG-017"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let ev = &v["event"];
    let id = ev["id"].as_i64().unwrap();
    assert_eq!(ev["state"], "reported");
    assert_eq!(ev["reporter_kind"], "grid_worker");
    assert_eq!(ev["grid_name"], "阳光社区第一网格");
    assert_eq!(ev["outside_grids"], false);
    assert!(ev["respond_due_at"].as_i64().is_some());
    // A bad attribute: refused under its Open311 name.
    let (s, v) = grid
        .post(
            "/api/v1/grid/events",
            json!({"category_id": category, "description": "x", "lon": IN_G1.0,
                   "lat": IN_G1.1, "attributes": {"nope": "1"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["fields"][0]["field"], "attribute[nope]", "{v}");
    // The wrong state (sign before dispatch) is a conflict; the wrong person, 403.
    let (s, v) = act(&handler, id, json!({"act": "sign"})).await;
    assert!(
        s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
        "{s} {v}"
    );
    let (s, v) = act(
        &grid,
        id,
        json!({"act": "dispatch", "department": cg, "co": []}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = act(&dispatcher, id, json!({"act": "close"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    ok(
        &dispatcher,
        id,
        json!({"act": "dispatch", "department": cg, "co": []}),
    )
    .await;
    let e = ok(&handler, id, json!({"act": "sign"})).await;
    assert_eq!(e["state"], "signed");
    assert!(e["close_due_at"].as_i64().is_some());
    ok(&handler, id, json!({"act": "start"})).await;
    // Handling needs an after-photo.
    let (s, v) = act(
        &handler,
        id,
        json!({"act": "handle", "reply": "已更换灯泡", "after_photos": 0}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["fields"][0]["field"], "after_photos", "{v}");
    let (s, v) = upload(&handler, id, "after", GPS_JPEG, "image/jpeg").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let e = ok(
        &handler,
        id,
        json!({"act": "handle", "reply": "已更换灯泡", "after_photos": 0}),
    )
    .await;
    assert_eq!(e["state"], "handled");
    // Only the reporting grid worker confirms.
    let (s, _) = act(&dispatcher, id, json!({"act": "confirm"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    ok(&grid, id, json!({"act": "confirm"})).await;
    let e = ok(&dispatcher, id, json!({"act": "close"})).await;
    assert_eq!(e["state"], "closed");
    // 一事件一链: the whole chain on the event, attributed.
    let (s, v) = grid.get(&format!("/api/v1/grid/events/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let acts: Vec<&str> = v["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["act"].as_str().unwrap())
        .collect();
    assert_eq!(
        acts,
        ["report", "dispatch", "sign", "start", "handle", "confirm", "close"]
    );
    assert_eq!(v["chain"][1]["actor"], "dispatcher");
    assert_eq!(v["photos"].as_array().unwrap().len(), 1);
    assert_eq!(v["photos"][0]["phase"], "after");
    // Figures from the rollup.
    let (s, v) = dispatcher
        .get("/api/v1/grid/figures?by=category&from=2000-01-01&to=2100-12-31")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let row = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == category)
        .cloned()
        .unwrap();
    assert_eq!(row["counts"]["reported"], 1, "{row}");
    assert_eq!(row["counts"]["closed"], 1, "{row}");
    assert_eq!(row["closure_permille"], 1000, "{row}");
    assert_eq!(row["responded_on_time_permille"], 1000, "{row}");
}

/// A raw answer: status, content type, body.
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

async fn json_of(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let (s, ct, body) = raw(reqwest::Client::new().get(app.url(path))).await;
    assert!(ct.starts_with("application/json"), "{path}: {ct}");
    (s, serde_json::from_str(&body).unwrap())
}

async fn xml_of(app: &TestApp, path: &str) -> (StatusCode, String) {
    let (s, ct, body) = raw(reqwest::Client::new().get(app.url(path))).await;
    assert!(ct.starts_with("text/xml"), "{path}: {ct}");
    assert!(
        body.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
        "{body}"
    );
    (s, body)
}

async fn post_form(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String, String) {
    raw(reqwest::Client::new().post(app.url(path)).form(form)).await
}

async fn open311_conformance_from_the_spec(app: TestApp) {
    setup(&app).await;
    // Discovery, services, the definition: XML and JSON.
    let (s, v) = json_of(&app, "/open311/v2/discovery.json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["endpoints"].is_array(), "{v}");
    let (s, x) = xml_of(&app, "/open311/v2/discovery.xml").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        x.contains("<discovery>") && x.contains("<endpoints>"),
        "{x}"
    );
    let (s, v) = json_of(&app, "/open311/v2/services.json").await;
    assert_eq!(s, StatusCode::OK);
    let lights = v
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service_code"] == "lights")
        .cloned()
        .unwrap();
    assert_eq!(lights["service_name"], "路灯损坏");
    assert_eq!(lights["metadata"], true);
    assert_eq!(lights["type"], "realtime");
    let (s, x) = xml_of(&app, "/open311/v2/services.xml").await;
    assert_eq!(s, StatusCode::OK);
    assert!(x.contains("<services>") && x.contains("<service_code>lights</service_code>"));
    let (s, v) = json_of(&app, "/open311/v2/services/lights.json").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["service_code"], "lights");
    assert_eq!(v["attributes"][0]["code"], "pole");
    assert_eq!(v["attributes"][0]["datatype"], "string");
    let (s, x) = xml_of(&app, "/open311/v2/services/lights.xml").await;
    assert_eq!(s, StatusCode::OK);
    assert!(x.contains("<service_definition>"), "{x}");
    // An unknown service code: 404 in the spec's error body.
    let (s, v) = json_of(&app, "/open311/v2/services/nope.json").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v[0]["code"], 404);
    assert!(v[0]["description"].as_str().is_some());
    let (s, x) = xml_of(&app, "/open311/v2/services/nope.xml").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(x.contains("<errors><error><code>404</code>"), "{x}");

    // POST without a key: 403, the spec's body.
    let point = [
        ("service_code", "lights"),
        ("lat", "39.9056"),
        ("long", "116.3918"),
        ("description", "路灯不亮"),
    ];
    let (s, ct, body) = post_form(&app, "/open311/v2/requests.json", &point).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(ct.starts_with("application/json"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["code"], 403);
    let (s, _, body) = post_form(&app, "/open311/v2/requests.xml", &point).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(body.contains("<code>403</code>"), "{body}");
    let mut wrong = point.to_vec();
    wrong.push(("api_key", "ow_not-a-key"));
    let (s, _, _) = post_form(&app, "/open311/v2/requests.json", &wrong).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // A key of a service account of the street.
    let admin = app.login("admin").await;
    let dispatcher = app.login("dispatcher").await;
    let (s, created) = admin
        .post(
            "/api/v1/api-keys",
            json!({"name": "FixMyStreet对接", "user_id": dispatcher.user["id"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let key = created["secret"].as_str().unwrap().to_string();
    let mut form = point.to_vec();
    form.push(("api_key", &key));
    form.push(("attribute[pole]", "YG-020"));
    form.push(("first_name", "Ann"));
    let (s, ct, body) = post_form(&app, "/open311/v2/requests.json", &form).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert!(ct.starts_with("application/json"));
    let v: Value = serde_json::from_str(&body).unwrap();
    let id = v[0]["service_request_id"].as_str().unwrap().to_string();
    assert!(v[0].get("token").is_none_or(|t| t.is_null()), "{v}");
    // The same in XML; and the key as a query parameter.
    let (s, _, body) = raw(reqwest::Client::new()
        .post(app.url(&format!("/open311/v2/requests.xml?api_key={key}")))
        .form(&point))
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert!(
        body.contains("<service_requests><request><service_request_id>"),
        "{body}"
    );
    // An unknown service code, no location, a bad attribute value: the spec's errors.
    let mut unknown = form.clone();
    unknown[0] = ("service_code", "nope");
    let (s, _, body) = post_form(&app, "/open311/v2/requests.json", &unknown).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    let (s, _, body) = post_form(
        &app,
        "/open311/v2/requests.json",
        &[("service_code", "lights"), ("api_key", &key)],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["code"], 400);

    // GET the request: JSON and XML; with the spec's fields.
    let (s, v) = json_of(&app, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = &v[0];
    assert_eq!(r["service_request_id"], id.as_str());
    assert_eq!(r["status"], "open");
    assert_eq!(r["service_code"], "lights");
    assert!(r["requested_datetime"]
        .as_str()
        .unwrap()
        .ends_with("+08:00"));
    assert!(r["expected_datetime"].as_str().unwrap().ends_with("+08:00"));
    assert!(r["lat"].is_number() && r["long"].is_number());
    let (s, x) = xml_of(&app, &format!("/open311/v2/requests/{id}.xml")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(x.contains(&format!("<service_request_id>{id}</service_request_id>")));
    assert!(x.contains("<status>open</status>"));
    // An unknown request id: 404.
    let (s, v) = json_of(&app, "/open311/v2/requests/999999.json").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v[0]["code"], 404);
    let (s, _) = xml_of(&app, "/open311/v2/requests/999999.xml").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A bad date: 400.
    let (s, v) = json_of(&app, "/open311/v2/requests.json?start_date=yesterday").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v[0]["code"], 400);
    let (s, x) = xml_of(&app, "/open311/v2/requests.xml?end_date=2026-13-01").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(x.contains("<code>400</code>"));
    // Filters: list, by id, by service code and status.
    let (s, v) = json_of(&app, "/open311/v2/requests.json").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v.as_array().unwrap().len(), 2);
    let (_, v) = json_of(
        &app,
        &format!("/open311/v2/requests.json?service_request_id={id}"),
    )
    .await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    let (_, v) = json_of(
        &app,
        "/open311/v2/requests.json?service_code=lights&status=closed",
    )
    .await;
    assert_eq!(v.as_array().unwrap().len(), 0);
    let (s, x) = xml_of(&app, "/open311/v2/requests.xml?status=open").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(x.matches("<request>").count(), 2);

    // The dispatcher sees it, reported by the Open311 client.
    let n: i64 = id.parse().unwrap();
    let (s, v) = dispatcher.get("/api/v1/grid/events?state=reported").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let seen = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == n)
        .cloned()
        .unwrap();
    assert_eq!(seen["reporter_kind"], "open311");
    // Through the loop; the street confirms for a client.
    let handler = app.login("handler").await;
    let cg = app.org_id("dept-cg").await;
    ok(
        &dispatcher,
        n,
        json!({"act": "dispatch", "department": cg, "co": []}),
    )
    .await;
    ok(&handler, n, json!({"act": "sign"})).await;
    ok(&handler, n, json!({"act": "start"})).await;
    let (s, _) = upload(&handler, n, "after", GPS_JPEG, "image/jpeg").await;
    assert_eq!(s, StatusCode::CREATED);
    ok(
        &handler,
        n,
        json!({"act": "handle", "reply": "已修复", "after_photos": 0}),
    )
    .await;
    let (_, v) = json_of(&app, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(v[0]["status"], "open", "handled is still open: {v}");
    assert_eq!(v[0]["agency_responsible"], "区城市管理局");
    ok(&dispatcher, n, json!({"act": "confirm"})).await;
    let (_, v) = json_of(&app, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(v[0]["status"], "closed", "{v}");
    let (_, v) = json_of(&app, "/open311/v2/requests.json?status=closed").await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    // servicerequestupdates: every status change of the request, XML and JSON.
    let (s, v) = json_of(&app, "/open311/v2/servicerequestupdates.json").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let ours: Vec<&Value> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["service_request_id"] == id.as_str())
        .collect();
    assert_eq!(ours.len(), 6, "{v}");
    assert_eq!(ours[0]["status"], "open");
    assert_eq!(ours.last().unwrap()["status"], "closed");
    assert!(ours
        .iter()
        .all(|u| u["updated_datetime"].as_str().unwrap().ends_with("+08:00")));
    let (s, x) = xml_of(&app, "/open311/v2/servicerequestupdates.xml").await;
    assert_eq!(s, StatusCode::OK);
    assert!(x.contains("<request_update>"), "{x}");
    let (s, _) = json_of(
        &app,
        "/open311/v2/servicerequestupdates.json?start_date=not-a-date",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // POST an update: a key needed; recorded on the chain.
    let now = "2026-12-01T10:00:00+08:00";
    let upd = [
        ("service_request_id", id.as_str()),
        ("status", "CLOSED"),
        ("updated_datetime", now),
        ("description", "居民反馈已修好"),
    ];
    let (s, _, _) = post_form(&app, "/open311/v2/servicerequestupdates.json", &upd).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let mut with_key = upd.to_vec();
    with_key.push(("api_key", &key));
    let (s, _, body) = post_form(&app, "/open311/v2/servicerequestupdates.json", &with_key).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v[0]["update_id"].as_str().is_some(), "{v}");
    let mut unknown = with_key.clone();
    unknown[0] = ("service_request_id", "999999");
    let (s, _, _) = post_form(&app, "/open311/v2/servicerequestupdates.xml", &unknown).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // An extension the spec does not have: the spec's 404.
    let (s, _, _) = raw(reqwest::Client::new().get(app.url("/open311/v2/services.html"))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn a_point_outside_every_grid_is_kept_with_a_warning(app: TestApp) {
    let category = setup(&app).await;
    let grid = app.login("grid").await;
    let dispatcher = app.login("dispatcher").await;
    let (s, v) = grid
        .post(
            "/api/v1/grid/events",
            json!({"category_id": category, "description": "公园里路灯不亮",
                   "lon": 116.50, "lat": 39.95}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let ev = &v["event"];
    assert_eq!(ev["outside_grids"], true);
    assert!(ev["grid_id"].is_null());
    assert_eq!(ev["street_org_id"], app.org_id("xingfu").await);
    assert!(!v["warnings"].as_array().unwrap().is_empty(), "{v}");
    let id = ev["id"].as_i64().unwrap();
    let (s, v) = dispatcher.get(&format!("/api/v1/grid/events/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(!v["warnings"].as_array().unwrap().is_empty());
    assert!(v["acts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "dispatch"));
    // The community route needs a community: refused for a place in no grid.
    // A second report of the same category next to the first: flagged as a duplicate.
    let (s, v) = grid
        .post(
            "/api/v1/grid/events",
            json!({"category_id": category, "description": "公园路灯坏了",
                   "lon": 116.50005, "lat": 39.95}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["possible_duplicates"][0]["id"], id, "{v}");
    let dup = v["event"]["id"].as_i64().unwrap();
    let e = ok(
        &dispatcher,
        dup,
        json!({"act": "reject_duplicate", "original": id}),
    )
    .await;
    assert_eq!(e["state"], "rejected_duplicate");
    assert_eq!(e["original_id"], id);
}

async fn the_public_copy_of_a_photo_has_no_gps(app: TestApp) {
    let category = setup(&app).await;
    assert!(has_gps_tag(GPS_JPEG) && contains_bytes(GPS_JPEG, b"GPSLatitude"));
    let grid = app.login("grid").await;
    let (s, v) = grid
        .post(
            "/api/v1/grid/events",
            json!({"category_id": category, "description": "路灯不亮",
                   "lon": IN_G1.0, "lat": IN_G1.1}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["event"]["id"].as_i64().unwrap();
    // Wrong type and too large: refused, the limit named.
    let (s, v) = upload(&grid, id, "report", b"GIF89a not a photo", "image/gif").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = upload(&grid, id, "report", GPS_JPEG, "image/jpeg").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let photo = v["ids"][0].as_i64().unwrap();
    let public = reqwest::get(app.url(&format!("/grid/photos/{photo}")))
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::OK);
    assert_eq!(public.headers()["content-type"], "image/jpeg");
    let bytes = public.bytes().await.unwrap();
    assert_eq!(&bytes[..2], [0xFF, 0xD8]);
    assert!(!has_gps_tag(&bytes), "GPS IFD gone");
    assert!(!contains_bytes(&bytes, b"GPSLatitude"), "XMP GPS gone");
    assert!(!contains_bytes(
        &bytes,
        &[30, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0]
    ));
    // Staff reading the event get the original on asking.
    let res = grid
        .client
        .get(app.url(&format!("/api/v1/grid/photos/{photo}?original=true")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(has_gps_tag(&res.bytes().await.unwrap()));
    // The public copy is what Open311 links to.
    let (_, v) = json_of(&app, &format!("/open311/v2/requests/{id}.json")).await;
    assert!(v[0]["media_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/grid/photos/{photo}")));
}

async fn the_board_draws_the_grids_and_the_event_page_keeps_the_chain(app: TestApp) {
    let category = setup(&app).await;
    let grid = app.login("grid").await;
    let (s, v) = grid
        .post(
            "/api/v1/grid/events",
            json!({"category_id": category, "description": "路灯不亮<b>",
                   "lon": IN_G1.0, "lat": IN_G1.1}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["event"]["id"].as_i64().unwrap();
    let dispatcher = app.login("dispatcher").await;
    let board = dispatcher.get_text("/grid").await;
    assert!(board.contains("<svg class=\"grid-map\""), "{board}");
    assert_eq!(board.matches("<polygon").count(), 6);
    assert!(board.contains(&format!("href=\"/grid/events/{id}\"")));
    assert!(!board.contains("<b>"), "escaped");
    let page = dispatcher.get_text(&format!("/grid/events/{id}")).await;
    assert!(
        page.contains("事件全链条") && page.contains("value=\"dispatch\""),
        "{page}"
    );
    // Dispatch with the page's form; a sign by the dispatcher is refused with 403 … as a page.
    let cg = app.org_id("dept-cg").await.to_string();
    let res = dispatcher
        .client
        .post(app.url(&format!("/grid/events/{id}/act")))
        .form(&[
            ("_csrf", dispatcher.csrf.as_str()),
            ("act", "dispatch"),
            ("department", cg.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = dispatcher
        .client
        .post(app.url(&format!("/grid/events/{id}/act")))
        .form(&[("_csrf", dispatcher.csrf.as_str()), ("act", "close")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("act-error"));
    let page = grid.get_text(&format!("/grid/events/{id}")).await;
    assert!(page.contains("已派单"), "{page}");
}

async fn report_in_g1(app: &TestApp, category: i64, description: &str) -> i64 {
    let grid = app.login("grid").await;
    let (s, v) = grid
        .post(
            "/api/v1/grid/events",
            json!({"category_id": category, "description": description,
                   "lon": IN_G1.0, "lat": IN_G1.1}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["event"]["id"].as_i64().unwrap()
}

async fn the_community_takes_an_event_directly_and_only_its_duty_officer_may(app: TestApp) {
    let category = setup(&app).await;
    let id = report_in_g1(&app, category, "消防通道被三轮车堵住").await;
    let take = json!({"act": "community_takes", "note": "联系执法队现场清理", "enforcement": true});
    // Staff of the community without the permission (a community station's clerk) and
    // the street's dispatcher (the route skips the street) are refused; the event is as it was.
    for who in ["clerk-yangguang", "dispatcher"] {
        let api = app.login(who).await;
        let (s, v) = act(&api, id, take.clone()).await;
        assert!(
            s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
            "{who}: {s} {v}"
        );
    }
    let dispatcher = app.login("dispatcher").await;
    let (_, v) = dispatcher.get(&format!("/api/v1/grid/events/{id}")).await;
    assert_eq!(v["event"]["state"], "reported", "{v}");
    // The community's duty officer takes it: the route is recorded, the respond stage met.
    let community = app.login("community").await;
    let (_, v) = community.get(&format!("/api/v1/grid/events/{id}")).await;
    assert!(
        v["acts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "community_takes"),
        "{v}"
    );
    let e = ok(&community, id, take).await;
    assert_eq!(e["state"], "handled_by_community", "{e}");
    assert_eq!(e["route"], "community", "{e}");
    // Nothing is left for the street to dispatch.
    let (s, v) = act(
        &dispatcher,
        id,
        json!({"act": "dispatch", "department": app.org_id("dept-cg").await}),
    )
    .await;
    assert!(s.is_client_error(), "{s} {v}");
    ok(&community, id, json!({"act": "start"})).await;
    let (s, v) = upload(&community, id, "after", GPS_JPEG, "image/jpeg").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let e = ok(
        &community,
        id,
        json!({"act": "handle", "reply": "执法队已清走三轮车，通道畅通"}),
    )
    .await;
    assert_eq!(e["state"], "handled");
    let grid = app.login("grid").await;
    let e = ok(&grid, id, json!({"act": "confirm"})).await;
    assert_eq!(e["state"], "confirmed");
    let e = ok(&dispatcher, id, json!({"act": "close"})).await;
    assert_eq!(e["state"], "closed");
    let (_, v) = dispatcher.get(&format!("/api/v1/grid/events/{id}")).await;
    let acts: Vec<&str> = v["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["act"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        acts,
        [
            "report",
            "community_takes",
            "start",
            "handle",
            "confirm",
            "close"
        ],
        "{v}"
    );
}

async fn wrong_role_other_organisation_and_lower_level_are_refused(app: TestApp) {
    let category = setup(&app).await;
    let id = report_in_g1(&app, category, "路灯不亮").await;
    let code = |v: &Value| v["code"].as_str().unwrap_or("").to_string();
    // Wrong role: a department handler reports nothing and reads no board.
    let handler = app.login("handler").await;
    let (s, v) = handler
        .post(
            "/api/v1/grid/events",
            json!({"category_id": category, "description": "x", "lon": IN_G1.0, "lat": IN_G1.1}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "forbidden_role".into()),
        "{v}"
    );
    let (s, v) = handler.get("/api/v1/grid/events").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "forbidden_role".into()),
        "{v}"
    );
    // Not yet dispatched to the department: it does not exist for it.
    let (s, _) = handler.get(&format!("/api/v1/grid/events/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Another department (民政局's approver) after the dispatch to 城管: still 404, and its
    // acts are refused.
    let dispatcher = app.login("dispatcher").await;
    ok(
        &dispatcher,
        id,
        json!({"act": "dispatch", "department": app.org_id("dept-cg").await}),
    )
    .await;
    let approver = app.login("approver").await;
    let (s, _) = approver.get(&format!("/api/v1/grid/events/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = act(&approver, id, json!({"act": "sign"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Another street's dispatcher: neither the event nor its board.
    let admin = app.login("admin").await;
    let district = app.org_id("district").await;
    let (s, street) = admin
        .post("/api/v1/orgs", json!({"parent_id": district, "kind": "street", "name": "和平街道", "code": "hp-street"}))
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
    let other = app
        .login_with("dispatcher-hp", "dispatcher-hp-pass-1")
        .await
        .unwrap();
    let (s, _) = other.get(&format!("/api/v1/grid/events/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = act(&other, id, json!({"act": "close"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = other.get("/api/v1/grid/events").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        v["items"].as_array().unwrap().iter().all(|e| e["id"] != id),
        "{v}"
    );
    // Lower level: categories are the city's and districts'; a street administrator may
    // neither add one nor change the city's.
    let (s, v) = admin
        .post("/api/v1/users", json!({"username": "admin-street", "display_name": "卫管理",
            "org_id": app.org_id("xingfu").await, "roles": ["admin"], "password": "admin-street-pass-1"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let street_admin = app
        .login_with("admin-street", "admin-street-pass-1")
        .await
        .unwrap();
    let (s, v) = street_admin
        .post(
            "/api/v1/grid/categories",
            json!({"code": "street-own", "name": "街道自建"}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "forbidden_level".into()),
        "{v}"
    );
    let (_, cats) = admin.get("/api/v1/grid/categories").await;
    let lights = cats["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == category)
        .unwrap()
        .clone();
    let mut edit = lights.clone();
    edit["name"] = json!("街道改名");
    let (s, v) = street_admin
        .post("/api/v1/grid/categories", edit.clone())
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // A district's category may not send events to another district's department.
    let city = app.org_id("city").await;
    let (s, d2) = admin
        .post("/api/v1/orgs", json!({"parent_id": city, "kind": "district", "name": "邻区", "code": "other-district"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d2}");
    let (s, dept) = admin
        .post("/api/v1/orgs", json!({"parent_id": d2["id"], "kind": "department", "name": "邻区城管局", "code": "other-cg"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{dept}");
    let (s, v) = admin
        .post(
            "/api/v1/users",
            json!({"username": "admin-district", "display_name": "蒋管理",
            "org_id": district, "roles": ["admin"], "password": "admin-district-pass-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let district_admin = app
        .login_with("admin-district", "admin-district-pass-1")
        .await
        .unwrap();
    let (s, v) = district_admin
        .post(
            "/api/v1/grid/categories",
            json!({"code": "district-roads", "name": "道路破损",
            "default_department": dept["id"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["fields"][0]["field"], "default_department", "{v}");
    // …and the city's category is not the district's to change either.
    let (s, v) = district_admin.post("/api/v1/grid/categories", edit).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // The district's own category, with its own department: created.
    let (s, v) = district_admin
        .post(
            "/api/v1/grid/categories",
            json!({"code": "district-roads", "name": "道路破损",
            "default_department": app.org_id("dept-cg").await}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["org_id"], district);
}

async fn buildings_are_imported_into_their_grids_and_counted_in_households(app: TestApp) {
    setup(&app).await;
    let admin = app.login("admin").await;
    let street = app.org_id("xingfu").await;
    let buildings: Value =
        serde_json::from_str(&onewindow_store::grid::demo::buildings_geojson()).unwrap();
    let (s, v) = admin
        .post(
            "/api/v1/grid/buildings",
            json!({"street_id": street, "geojson": buildings}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["created"].as_i64(), v["updated"].as_i64()),
        (Some(36), Some(0)),
        "{v}"
    );
    // Each grid's households: the sum of its six buildings' counts, computed here from the file.
    let (_, grids) = admin
        .get(&format!("/api/v1/grid/grids?street_id={street}"))
        .await;
    let grids = grids["items"].as_array().unwrap().clone();
    assert_eq!(grids.len(), 6);
    for g in &grids {
        let code = g["code"].as_str().unwrap();
        let expected: i64 = buildings["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| {
                f["properties"]["code"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{code}-"))
            })
            .map(|f| f["properties"]["households"].as_i64().unwrap())
            .sum();
        assert_eq!(g["households"].as_i64(), Some(expected), "{code}");
        let (s, b) = admin
            .get(&format!("/api/v1/grid/grids/{}/buildings", g["id"]))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let items = b["items"].as_array().unwrap();
        assert_eq!(items.len(), 6, "{b}");
        assert!(
            items
                .iter()
                .all(|i| i["code"].as_str().unwrap().starts_with(&format!("{code}-"))),
            "{b}"
        );
    }
    // Importing again replaces, by code.
    let (s, v) = admin
        .post(
            "/api/v1/grid/buildings",
            json!({"street_id": street, "geojson": buildings}),
        )
        .await;
    assert_eq!(
        (s, v["updated"].as_i64()),
        (StatusCode::OK, Some(36)),
        "{v}"
    );
    // A building outside every grid, one naming an unknown grid, an open ring: each named,
    // nothing written.
    let before = app.count("grid_buildings").await;
    let bad = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "far", "name": "远处楼"},
         "geometry": {"type": "Point", "coordinates": [116.50, 39.95]}},
        {"type": "Feature", "properties": {"code": "new-1", "name": "新楼", "grid": "no-such"},
         "geometry": {"type": "Point", "coordinates": [IN_G1.0, IN_G1.1]}},
        {"type": "Feature", "properties": {"code": "open", "name": "开口楼"},
         "geometry": {"type": "Polygon", "coordinates": [[[116.391, 39.905], [116.392, 39.905], [116.392, 39.906]]]}},
        {"type": "Feature", "properties": {"code": "fine", "name": "好楼"},
         "geometry": {"type": "Point", "coordinates": [IN_G1.0, IN_G1.1]}}
    ]});
    let (s, v) = admin
        .post(
            "/api/v1/grid/buildings",
            json!({"street_id": street, "geojson": bad}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let fields: Vec<&str> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(fields.iter().any(|f| f.starts_with("features[2]")), "{v}");
    assert_eq!(app.count("grid_buildings").await, before);
    let bad_grids = json!({"type": "FeatureCollection", "features": [bad["features"][0], bad["features"][1], bad["features"][3]]});
    let (s, v) = admin
        .post(
            "/api/v1/grid/buildings",
            json!({"street_id": street, "geojson": bad_grids}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let fields: Vec<&str> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["features[0].geometry", "features[1].properties.grid"],
        "{v}"
    );
    assert!(
        v["fields"][0]["message"].as_str().unwrap().contains("far"),
        "{v}"
    );
    assert_eq!(app.count("grid_buildings").await, before);
    // Refusals: a clerk may not import; a grid worker sees no street's buildings by id.
    let clerk = app.login("clerk").await;
    let (s, _) = clerk
        .post(
            "/api/v1/grid/buildings",
            json!({"street_id": street, "geojson": buildings}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let other_admin = {
        let (s, v) = admin
            .post("/api/v1/users", json!({"username": "admin-yg", "display_name": "韩管理",
                "org_id": app.org_id("yangguang").await, "roles": ["admin"], "password": "admin-yg-pass-1"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        app.login_with("admin-yg", "admin-yg-pass-1").await.unwrap()
    };
    // A community administrator is below the street: the street is not in its scope.
    let (s, _) = other_admin
        .post(
            "/api/v1/grid/buildings",
            json!({"street_id": street, "geojson": buildings}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = other_admin
        .get(&format!("/api/v1/grid/grids/{}/buildings", grids[0]["id"]))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn the_department_inbox_lists_its_events_and_the_figures_count_them(app: TestApp) {
    let category = setup(&app).await;
    let a = report_in_g1(&app, category, "路灯不亮").await;
    let b = report_in_g1(&app, category, "路灯闪烁").await;
    let c = report_in_g1(&app, category, "路灯不亮了").await;
    let dispatcher = app.login("dispatcher").await;
    let (cg, mz) = (app.org_id("dept-cg").await, app.org_id("dept-mz").await);
    ok(
        &dispatcher,
        a,
        json!({"act": "dispatch", "department": cg, "co": [mz]}),
    )
    .await;
    ok(
        &dispatcher,
        c,
        json!({"act": "reject_duplicate", "original": a}),
    )
    .await;
    // The department's inbox: the event to sign, with its limit; not the others.
    let handler = app.login("handler").await;
    let page = handler.get_text("/complaints/inbox").await;
    assert!(page.contains(&format!("id=\"grid-event-{a}\"")), "{page}");
    assert!(page.contains("签收时限"), "{page}");
    assert!(!page.contains(&format!("id=\"grid-event-{b}\"")));
    ok(&handler, a, json!({"act": "sign"})).await;
    ok(&handler, a, json!({"act": "start"})).await;
    let (s, v) = upload(&handler, a, "after", GPS_JPEG, "image/jpeg").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    ok(&handler, a, json!({"act": "handle", "reply": "已更换灯泡"})).await;
    let page = handler.get_text("/complaints/inbox").await;
    assert!(
        !page.contains(&format!("id=\"grid-event-{a}\"")),
        "handled: off the inbox"
    );
    let grid = app.login("grid").await;
    ok(&grid, a, json!({"act": "confirm"})).await;
    ok(&dispatcher, a, json!({"act": "close"})).await;
    // The figures: three reports, one a duplicate; of the two, one closed (on time), one
    // with a co-handler and closed — 办结率 50 %, 协同完成率 100 % (达标).
    let (s, v) = dispatcher.get("/api/v1/grid/figures?by=grid").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let row = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "阳光社区第一网格")
        .unwrap()
        .clone();
    assert_eq!(row["counts"]["reported"], 2, "{row}");
    assert_eq!(row["counts"]["duplicates"], 1, "{row}");
    assert_eq!(row["counts"]["closed"], 1, "{row}");
    assert_eq!(row["closure_permille"], 500, "{row}");
    assert_eq!(row["cross_department_permille"], 1000, "{row}");
    assert_eq!(row["meets_cross_department_target"], true, "{row}");
    assert!(
        v["definitions"]["closure"].as_str().unwrap().contains("÷"),
        "{v}"
    );
    let page = dispatcher.get_text("/grid/figures?by=grid").await;
    assert!(
        page.contains("阳光社区第一网格") && page.contains("50.0%") && page.contains("达标"),
        "{page}"
    );
    let page = dispatcher.get_text("/grid/figures?by=category").await;
    assert!(page.contains("路灯损坏"), "{page}");
    let page = dispatcher.get_text("/grid/figures?by=department").await;
    assert!(page.contains("区城市管理局"), "{page}");
    // Bad input names the field; a department reads no street's figures.
    let (s, v) = dispatcher.get("/api/v1/grid/figures?by=planet").await;
    assert_eq!(
        (s, v["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("by")),
        "{v}"
    );
    let (s, v) = dispatcher.get("/api/v1/grid/figures?from=2026-13-01").await;
    assert_eq!(
        (s, v["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("from")),
        "{v}"
    );
    // A department reads its own figures only: the events it leads, wherever reported.
    let (s, v) = handler.get("/api/v1/grid/figures?by=department").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let names: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["区城市管理局"], "{v}");
    let (s, v) = handler.get("/api/v1/grid/figures?by=grid").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let reported: i64 = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["counts"]["reported"].as_i64().unwrap())
        .sum();
    assert_eq!(reported, 1, "only the event it leads: {v}");
    let (s, _) = app.login("grid").await.get("/api/v1/grid/figures").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn a_grid_must_lie_inside_the_community_it_names(app: TestApp) {
    use onewindow_store::grid::demo::{communities_geojson, COLUMN, ROW, SOUTH, WEST};
    setup(&app).await;
    let admin = app.login("admin").await;
    let street = app.org_id("xingfu").await;
    let communities: Value = serde_json::from_str(&communities_geojson()).unwrap();
    let (s, v) = admin
        .post(
            "/api/v1/grid/communities",
            json!({"street_id": street, "geojson": communities}),
        )
        .await;
    assert_eq!((s, v["created"].as_i64()), (StatusCode::OK, Some(3)), "{v}");
    // A boundary that leaves the community's own grids outside (half the column): refused,
    // naming the grid; an unknown community code too.
    let (w, s0) = (WEST, SOUTH);
    let half = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "yangguang", "name": "阳光社区"},
         "geometry": {"type": "Polygon", "coordinates": [[[w, s0], [w + COLUMN / 2.0, s0],
            [w + COLUMN / 2.0, s0 + 2.0 * ROW], [w, s0 + 2.0 * ROW], [w, s0]]]}},
        {"type": "Feature", "properties": {"code": "no-such", "name": "无名社区"},
         "geometry": {"type": "Polygon", "coordinates": [[[w, s0], [w + 0.001, s0], [w + 0.001, s0 + 0.001], [w, s0]]]}}
    ]});
    let (s, v) = admin
        .post(
            "/api/v1/grid/communities",
            json!({"street_id": street, "geojson": half}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let fields: Vec<&str> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"features[0].geometry") && fields.contains(&"features[1].properties.code"),
        "{v}"
    );
    assert!(
        v["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("阳光社区第一网格"),
        "{v}"
    );
    // A grid reaching past the east edge of the community it names: refused, nothing changed.
    let yangguang = app.org_id("yangguang").await;
    let before: String =
        sqlx::query_scalar("SELECT geojson FROM grid_areas WHERE code = 'yangguang-g1'")
            .fetch_one(app.store.reader())
            .await
            .unwrap();
    let wide = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "yangguang-g1", "name": "阳光社区第一网格", "community": yangguang},
         "geometry": {"type": "Polygon", "coordinates": [[[w, s0], [w + 1.5 * COLUMN, s0],
            [w + 1.5 * COLUMN, s0 + ROW], [w, s0 + ROW], [w, s0]]]}}
    ]});
    let (s, v) = admin
        .post(
            "/api/v1/grid/grids",
            json!({"street_id": street, "geojson": wide}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["fields"][0]["field"], "features[0].geometry", "{v}");
    assert!(
        v["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("超出所属社区"),
        "{v}"
    );
    let after: String =
        sqlx::query_scalar("SELECT geojson FROM grid_areas WHERE code = 'yangguang-g1'")
            .fetch_one(app.store.reader())
            .await
            .unwrap();
    assert_eq!(before, after);
    // The same grid inside its community (the demo's own) imports again.
    let mut ids = vec![];
    for c in onewindow_store::grid::demo::COMMUNITIES {
        ids.push((c.to_string(), app.org_id(c).await));
    }
    let own: Value =
        serde_json::from_str(&onewindow_store::grid::demo::grids_geojson(&ids)).unwrap();
    let (s, v) = admin
        .post(
            "/api/v1/grid/grids",
            json!({"street_id": street, "geojson": own}),
        )
        .await;
    assert_eq!((s, v["updated"].as_i64()), (StatusCode::OK, Some(6)), "{v}");
}

async fn department_row(api: &Api, name: &str) -> Value {
    let (s, v) = api.get("/api/v1/grid/figures?by=department").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn the_figures_follow_an_event_to_its_department_and_drop_returned_co_handlers(app: TestApp) {
    let category = setup(&app).await;
    let id = report_in_g1(&app, category, "路灯不亮").await;
    let dispatcher = app.login("dispatcher").await;
    let (cg, mz) = (app.org_id("dept-cg").await, app.org_id("dept-mz").await);
    // Dispatched to 民政局 with 城管 co-handling: 民政局 counts the event and its 协同.
    ok(
        &dispatcher,
        id,
        json!({"act": "dispatch", "department": mz, "co": [cg]}),
    )
    .await;
    let row = department_row(&dispatcher, "区民政局").await;
    assert_eq!(row["counts"]["reported"], 1, "{row}");
    assert_eq!(row["counts"]["cross_department"], 1, "{row}");
    let none = department_row(&dispatcher, "未派单（含社区直接处置）").await;
    assert!(none.is_null() || none["counts"]["reported"] == 0, "{none}");
    // 民政局 returns it: counted nowhere as 协同 (its co-handlers went with it), back to
    // 未派单; then 城管 alone takes it, signs in time and closes it.
    let approver = app.login("approver").await;
    ok(
        &approver,
        id,
        json!({"act": "not_ours", "reason": "路灯归城管"}),
    )
    .await;
    let row = department_row(&dispatcher, "区民政局").await;
    assert!(row.is_null() || row["counts"]["reported"] == 0, "{row}");
    let none = department_row(&dispatcher, "未派单（含社区直接处置）").await;
    assert_eq!(none["counts"]["reported"], 1, "{none}");
    assert_eq!(none["counts"]["cross_department"], 0, "{none}");
    ok(
        &dispatcher,
        id,
        json!({"act": "dispatch", "department": cg}),
    )
    .await;
    let handler = app.login("handler").await;
    ok(&handler, id, json!({"act": "sign"})).await;
    ok(&handler, id, json!({"act": "start"})).await;
    let (s, v) = upload(&handler, id, "after", GPS_JPEG, "image/jpeg").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let e = ok(&handler, id, json!({"act": "handle", "reply": "已修复"})).await;
    assert_eq!(e["state"], "handled");
    let (_, v) = handler.get(&format!("/api/v1/grid/events/{id}")).await;
    let handle = v["chain"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["act"] == "handle")
        .unwrap()
        .clone();
    assert_eq!(
        handle["detail"]["after_photos"], 1,
        "the photo uploaded before counts: {handle}"
    );
    ok(&app.login("grid").await, id, json!({"act": "confirm"})).await;
    ok(&dispatcher, id, json!({"act": "close"})).await;
    let row = department_row(&dispatcher, "区城市管理局").await;
    let c = &row["counts"];
    assert_eq!(
        (
            c["reported"].as_i64(),
            c["responded_on_time"].as_i64(),
            c["closed"].as_i64(),
            c["cross_department"].as_i64()
        ),
        (Some(1), Some(1), Some(1), Some(0)),
        "{row}"
    );
    assert_eq!(row["closure_permille"], 1000, "{row}");
    // The street's total is the one event, whatever departments it passed through.
    let (_, v) = dispatcher.get("/api/v1/grid/figures?by=street").await;
    let total: i64 = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["counts"]["reported"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 1, "{v}");
}

async fn a_street_keeps_to_its_district_its_grids_and_its_workers(app: TestApp) {
    let category = setup(&app).await;
    let admin = app.login("admin").await;
    let dispatcher = app.login("dispatcher").await;
    let id = report_in_g1(&app, category, "路灯不亮").await;
    // Another district's department: not this street's to dispatch to.
    let city = app.org_id("city").await;
    let (_, d2) = admin
        .post("/api/v1/orgs", json!({"parent_id": city, "kind": "district", "name": "邻区", "code": "other-district"}))
        .await;
    let (s, dept) = admin
        .post("/api/v1/orgs", json!({"parent_id": d2["id"], "kind": "department", "name": "邻区城管局", "code": "other-cg"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{dept}");
    let (s, v) = act(
        &dispatcher,
        id,
        json!({"act": "dispatch", "department": dept["id"]}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["fields"][0]["code"], "department_outside_district", "{v}");
    let (s, v) = act(
        &dispatcher,
        id,
        json!({"act": "dispatch", "department": app.org_id("dept-cg").await, "co": [dept["id"]]}),
    )
    .await;
    assert_eq!(
        (s, v["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("co")),
        "{v}"
    );
    // Merges: into an event that is itself a duplicate is refused (no cycles).
    let b = report_in_g1(&app, category, "路灯坏了").await;
    let c = report_in_g1(&app, category, "路灯又坏了").await;
    ok(
        &dispatcher,
        b,
        json!({"act": "reject_duplicate", "original": id}),
    )
    .await;
    let (s, v) = act(
        &dispatcher,
        c,
        json!({"act": "reject_duplicate", "original": b}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["fields"][0]["code"], "original_is_duplicate", "{v}");
    let (s, v) = act(
        &dispatcher,
        id,
        json!({"act": "reject_duplicate", "original": b}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // The community's duty officer finds the community's events in its list.
    let community = app.login("community").await;
    let (s, v) = community.get("/api/v1/grid/events").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        v["items"].as_array().unwrap().iter().any(|e| e["id"] == id),
        "{v}"
    );
    // Another street with its own grid and worker: its grid may not overlap ours (a shared
    // edge is fine), and its worker may not report into our grids.
    let district = app.org_id("district").await;
    let (_, st) = admin
        .post(
            "/api/v1/orgs",
            json!({"parent_id": district, "kind": "street", "name": "和谐街道", "code": "hexie"}),
        )
        .await;
    let (w, s0) = (
        onewindow_store::grid::demo::WEST,
        onewindow_store::grid::demo::SOUTH,
    );
    let grid_at = |code: &str, x0: f64, x1: f64| {
        json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": code, "name": "和谐第一网格"},
         "geometry": {"type": "Polygon", "coordinates": [[[x0, s0], [x1, s0], [x1, s0 + 0.004], [x0, s0 + 0.004], [x0, s0]]]}}]})
    };
    let (s, v) = admin
        .post(
            "/api/v1/grid/grids",
            json!({"street_id": st["id"], "geojson": grid_at("hexie-g1", w - 0.004, w + 0.002)}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["fields"][0]["code"], "overlaps_other_street", "{v}");
    let (s, v) = admin
        .post(
            "/api/v1/grid/grids",
            json!({"street_id": st["id"], "geojson": grid_at("hexie-g1", w - 0.006, w)}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "sharing an edge: {v}");
    let (s, v) = admin
        .post(
            "/api/v1/users",
            json!({"username": "grid-hx", "display_name": "魏网格",
            "org_id": st["id"], "roles": ["grid_worker"], "password": "grid-hx-pass-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let other = app.login_with("grid-hx", "grid-hx-pass-1").await.unwrap();
    let before = app.count("grid_events").await;
    let (s, v) = other
        .post(
            "/api/v1/grid/events",
            json!({"category_id": category, "description": "路灯不亮",
            "lon": IN_G1.0, "lat": IN_G1.1}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["fields"][0]["code"], "outside_own_street", "{v}");
    assert_eq!(app.count("grid_events").await, before);
    // …in its own street, it may.
    let (s, v) = other
        .post(
            "/api/v1/grid/events",
            json!({"category_id": category, "description": "路灯不亮",
            "lon": w - 0.003, "lat": s0 + 0.002}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["event"]["street_org_id"], st["id"], "{v}");
}

async fn the_board_warns_of_duplicates_and_lateness_and_dispatches_in_one_action(app: TestApp) {
    let category = setup(&app).await;
    let a = report_in_g1(&app, category, "路灯不亮").await;
    let b = report_in_g1(&app, category, "这盏路灯也不亮").await;
    let dispatcher = app.login("dispatcher").await;
    let board = dispatcher.get_text("/grid").await;
    // Each waits for dispatch with its limit, and each has the other as a possible duplicate.
    assert!(
        board.contains(&format!("id=\"duplicate-{a}\""))
            && board.contains(&format!("id=\"duplicate-{b}\"")),
        "{board}"
    );
    assert!(board.contains("响应时限"), "{board}");
    assert!(!board.contains("已超时"), "{board}");
    // The category's department is preselected; only the district's departments offered.
    let cg = app.org_id("dept-cg").await;
    assert!(
        board.contains(&format!("<option value=\"{cg}\" selected>")),
        "{board}"
    );
    // Two days later the response limit (1 calendar day) has passed.
    app.clock.advance_secs(2 * 24 * 3600);
    let dispatcher = app.login("dispatcher").await;
    let board = dispatcher.get_text("/grid").await;
    assert!(board.contains("已超时"), "{board}");
    // One action from the board: dispatched, back on the board.
    let (_, v) = dispatcher.get(&format!("/api/v1/grid/events/{a}")).await;
    let version = v["event"]["version"].to_string();
    let cg_s = cg.to_string();
    let res = dispatcher
        .client
        .post(app.url(&format!("/grid/events/{a}/act")))
        .form(&[
            ("_csrf", dispatcher.csrf.as_str()),
            ("act", "dispatch"),
            ("version", version.as_str()),
            ("back", "board"),
            ("department", cg_s.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/grid#new");
    let (_, v) = dispatcher.get(&format!("/api/v1/grid/events/{a}")).await;
    assert_eq!(v["event"]["state"], "dispatched", "{v}");
    // The event page dispatches with co-handlers too.
    let mz = app.org_id("dept-mz").await.to_string();
    let page = dispatcher.get_text(&format!("/grid/events/{b}")).await;
    assert!(page.contains("name=\"co\""), "{page}");
    let res = dispatcher
        .client
        .post(app.url(&format!("/grid/events/{b}/act")))
        .form(&[
            ("_csrf", dispatcher.csrf.as_str()),
            ("act", "dispatch"),
            ("department", cg_s.as_str()),
            ("co", mz.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, v) = dispatcher.get(&format!("/api/v1/grid/events/{b}")).await;
    assert_eq!(
        v["event"]["co_departments"],
        json!([app.org_id("dept-mz").await]),
        "{v}"
    );
}

async fn a_duplicate_does_not_tell_the_public_a_private_original(app: TestApp) {
    let category = setup(&app).await;
    let grid = app.login("grid").await;
    let (s, v) = grid
        .post(
            "/api/v1/grid/events",
            json!({"category_id": category, "description": "楼道灯坏了，家里有老人",
            "lon": IN_G1.0, "lat": IN_G1.1, "public": false}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let private = v["event"]["id"].as_i64().unwrap();
    let public = report_in_g1(&app, category, "楼道灯不亮").await;
    let other = report_in_g1(&app, category, "楼道灯还是不亮").await;
    let dispatcher = app.login("dispatcher").await;
    ok(
        &dispatcher,
        public,
        json!({"act": "reject_duplicate", "original": private}),
    )
    .await;
    let shown = report_in_g1(&app, category, "三楼楼道灯不亮").await;
    ok(
        &dispatcher,
        other,
        json!({"act": "reject_duplicate", "original": shown}),
    )
    .await;
    let (s, v) = json_of(&app, &format!("/open311/v2/requests/{public}.json")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let notes = v[0]["status_notes"].as_str().unwrap_or("").to_string();
    assert!(
        notes.contains("重复上报") && !notes.contains(&format!("原事件{private}")),
        "{notes}"
    );
    // A public original is named.
    let (_, v) = json_of(&app, &format!("/open311/v2/requests/{other}.json")).await;
    let notes = v[0]["status_notes"].as_str().unwrap_or("").to_string();
    assert!(notes.contains(&format!("原事件{shown}")), "{notes}");
}
