//! The API and its OpenAPI document agree: every error under /api/ is problem+json with a
//! stable `code`, whoever produced it (extractor rejections, the method router, body
//! limits), and every route is documented with the statuses it can answer.
//! schemathesis (scripts/schemathesis) checks the same against generated requests.

mod common;

use common::TestApp;
use onewindow_store::demo;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::BTreeSet;

on_both_backends!(every_error_under_api_is_problem_json);

/// Sends a request and returns status, headers and the body parsed as JSON, asserting the
/// error is problem+json whose `status` matches.
async fn problem(req: reqwest::RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    assert_eq!(
        headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
        "application/problem+json",
        "{status}: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], status.as_u16(), "{text}");
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    (status, headers, body)
}

async fn every_error_under_api_is_problem_json(app: TestApp) {
    let admin = app.login(demo::ACCOUNTS[0].username).await;
    let c = &admin.client;
    let csrf = admin.csrf.as_str();
    let url = |p: &str| app.url(p);

    // A non-numeric path id: 400, naming the parameter.
    let (s, _, b) = problem(c.get(url("/api/v1/orgs/abc"))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["code"], "bad_request");
    assert_eq!(b["fields"][0]["field"], "id", "{b}");

    // An impossible date in the query: 400, naming the parameter.
    let (s, _, b) = problem(c.get(url("/api/v1/calendar/due?date=2026-02-30&n=1"))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["code"], "bad_request");
    assert_eq!(b["fields"][0]["field"], "date", "{b}");
    // A negative count, and a missing one.
    let (s, _, b) = problem(c.get(url("/api/v1/calendar/due?date=2026-02-02&n=-1"))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["fields"][0]["field"], "n", "{b}");
    let (s, _, b) = problem(c.get(url("/api/v1/calendar/due?date=2026-02-02"))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["fields"][0]["field"], "n", "{b}");

    let json_post = |path: &str, body: &str| {
        c.post(url(path))
            .header("x-csrf-token", csrf)
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    // Malformed JSON: 400.
    let (s, _, b) = problem(json_post("/api/v1/validate", "{\"kind\":")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["code"], "bad_request");
    // Well-formed, wrong shape: 422 naming the missing field (was a text/plain 400).
    let (s, _, b) = problem(json_post("/api/v1/queue/windows/1/state", "{}")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["code"], "validation_failed");
    assert_eq!(b["fields"][0]["field"], "state", "{b}");
    assert_eq!(b["fields"][0]["code"], "required", "{b}");
    // A wrong type is named by its field too.
    let (s, _, b) = problem(json_post(
        "/api/v1/validate",
        r#"{"kind": "mobile", "value": 5}"#,
    ))
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["fields"][0]["field"], "value", "{b}");

    // Not JSON at all: 415.
    let (s, _, b) = problem(
        c.post(url("/api/v1/validate"))
            .header("x-csrf-token", csrf)
            .header("content-type", "text/plain")
            .body("kind=mobile"),
    )
    .await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(b["code"], "unsupported_media_type");

    // A method the route does not have: 405 with its Allow header (was an empty body).
    let (s, h, b) = problem(
        c.delete(url("/api/v1/validate"))
            .header("x-csrf-token", csrf),
    )
    .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(b["code"], "method_not_allowed");
    assert!(
        h.get("allow")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("POST")),
        "{h:?}"
    );

    // An oversized import: 413 (was text/plain).
    let (_, key) = admin
        .post("/api/v1/api-keys", serde_json::json!({ "name": "413" }))
        .await;
    let (status, content_type, body) = oversized_post(
        &app,
        "/api/v1/calendar/import",
        key["secret"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(content_type, "application/problem+json");
    let b: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(b["code"], "payload_too_large");

    // No such route: 404.
    let (s, _, b) = problem(c.get(url("/api/v1/no-such-thing"))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["code"], "no_route");

    // Pages keep their HTML error pages.
    let res = c.get(url("/no-such-page")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}

/// Posts a 9 MiB CSV over a raw connection and returns (status, content type, body). The
/// server answers before reading the whole body and closes, so a client that writes
/// first and reads afterwards (reqwest) may see a broken pipe instead of the answer: here
/// the body is written in the background while the answer is read.
async fn oversized_post(app: &TestApp, path: &str, key: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const LEN: usize = 9 * 1024 * 1024;
    let addr = app.base.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: text/csv\r\nContent-Length: {LEN}\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(head.as_bytes()).await;
        let line = b"2026-01-01,holiday,x\n";
        let chunk: Vec<u8> = line.iter().copied().cycle().take(64 * 1024).collect();
        for _ in 0..LEN / chunk.len() {
            if wr.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    let header = |head: &str, name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let response = loop {
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break String::from_utf8_lossy(&got).into_owned(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = header(head, "content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if body.len() >= len {
                break text;
            }
        }
    };
    writer.abort();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = header(head, "content-type").unwrap_or_default();
    (status, content_type, body.to_string())
}

/// Every `.rs` file under `dir`, modules that grew into folders included.
fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// `(path, method)` of every route registered under /api/, read from the capability
/// routers' source (axum cannot list a router's routes).
fn routed_operations() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/src");
    let mut ops = BTreeSet::new();
    for path in rust_files(&dir) {
        let source = std::fs::read_to_string(path).unwrap();
        // Unit tests build routers of their own.
        let source = source.split("#[cfg(test)]").next().unwrap();
        let mut rest = source;
        while let Some(i) = rest.find(".route(") {
            rest = &rest[i + ".route(".len()..];
            // The call's arguments: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, ch)| {
                    depth += match ch {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap();
            let args = &rest[..end];
            let Some(path) = args.split('"').nth(1) else {
                continue;
            };
            if !path.starts_with("/api/") {
                continue;
            }
            for method in ["get", "post", "put", "patch", "delete"] {
                let called = args.match_indices(&format!("{method}(")).any(|(j, _)| {
                    j == 0
                        || !args.as_bytes()[j - 1].is_ascii_alphanumeric()
                            && args.as_bytes()[j - 1] != b'_'
                });
                if called {
                    ops.insert((path.to_string(), method.to_string()));
                }
            }
        }
    }
    ops
}

#[test]
fn every_api_route_is_documented_and_every_documented_operation_is_routed() {
    let doc = onewindow_web::openapi::document();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/") {
            continue;
        }
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                documented.insert((path.clone(), method.to_string()));
            }
        }
    }
    let routed = routed_operations();
    assert!(routed.len() > 40, "found only {} routes", routed.len());
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routed, not documented: {undocumented:?}"
    );
    assert!(unrouted.is_empty(), "documented, not routed: {unrouted:?}");
}

#[test]
fn every_operation_lists_the_statuses_its_shape_implies() {
    let doc = onewindow_web::openapi::document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let responses = op["responses"].as_object().unwrap();
            let has = |s: &str| responses.contains_key(s);
            assert!(has("401") && has("408"), "{method} {path}");
            if path.contains('{') {
                assert!(has("400") && has("404"), "{method} {path}");
            }
            if op.get("requestBody").is_some() {
                for s in ["400", "413", "415", "422"] {
                    assert!(has(s), "{method} {path} lacks {s}");
                }
            }
            if method != "get" {
                assert!(has("403"), "{method} {path}");
            }
            for (status, r) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let target = r["$ref"].as_str().unwrap_or_default();
                    assert!(
                        target.starts_with("#/components/responses/"),
                        "{method} {path} {status}: errors are shared problem responses"
                    );
                }
            }
        }
    }
    // The explicitly reported gaps: a required body field with its values, a bounded query.
    let state = &doc["paths"]["/api/v1/queue/windows/{id}/state"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"];
    assert_eq!(state["required"][0], "state");
    assert!(state["properties"]["state"]["enum"].is_array());
    let n = doc["paths"]["/api/v1/calendar/due"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "n")
        .unwrap();
    assert_eq!(n["schema"]["minimum"], 0);
}
