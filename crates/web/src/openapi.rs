//! The OpenAPI document: a base plus one fragment per capability (`openapi/*.json`),
//! merged once at start-up. A capability documents its routes in its own fragment.

use crate::AppState;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use std::sync::OnceLock;

const BASE: &str = include_str!("../openapi/base.json");
/// Capability fragments: `{"paths": {…}, "schemas": {…}}`.
const FRAGMENTS: &[&str] = &[
    include_str!("../openapi/foundation.json"),
    include_str!("../openapi/one_window.json"),
    include_str!("../openapi/queue.json"),
    include_str!("../openapi/window_approval.json"),
    include_str!("../openapi/visits.json"),
    include_str!("../openapi/fees.json"),
    include_str!("../openapi/materials.json"),
    include_str!("../openapi/escalation.json"),
    include_str!("../openapi/ratings.json"),
    include_str!("../openapi/fallback_cases.json"),
    include_str!("../openapi/fallback_library.json"),
    include_str!("../openapi/fallback_reference.json"),
    include_str!("../openapi/fallback_figures.json"),
    include_str!("../openapi/grid.json"),
    include_str!("../openapi/complaints.json"),
];

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/v1/openapi.json",
        get(|| async { Json(document().clone()) }),
    )
}

pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc: Value = serde_json::from_str(BASE).expect("base OpenAPI is valid JSON");
        for fragment in FRAGMENTS {
            let f: Value = serde_json::from_str(fragment).expect("OpenAPI fragment is valid JSON");
            for (section, target) in [("paths", "/paths"), ("schemas", "/components/schemas")] {
                if let (Some(src), Some(dst)) = (
                    f.get(section).and_then(Value::as_object),
                    doc.pointer_mut(target).and_then(Value::as_object_mut),
                ) {
                    for (k, v) in src {
                        dst.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        add_common_errors(&mut doc);
        doc
    })
}

/// The HTTP methods an OpenAPI path item may hold operations under.
const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

/// Lists, on every `/api/` operation, the error statuses that follow from the shape of its
/// route rather than from its rule — so the document cannot drift from what the shared
/// layers answer (`error::api_problems`, `form::ApiJson`, the context middleware):
/// path parameters → 400 (not parseable) and 404; query parameters → 400, 422; a body → 400,
/// 413, 415, 422; authentication required, or a write → 403; every operation → 401 (a bad
/// API key) and 408 (the timeout).
/// Each is a `$ref` to a shared problem+json response; a status a fragment already
/// documents by hand is left as written.
fn add_common_errors(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        if !path.starts_with("/api/") {
            continue;
        }
        let shared_params = item.get("parameters").cloned();
        for method in METHODS {
            let Some(op) = item.get_mut(*method) else {
                continue;
            };
            let has_query = [shared_params.as_ref(), op.get("parameters")]
                .into_iter()
                .flatten()
                .filter_map(Value::as_array)
                .flatten()
                .any(|p| p.get("in").and_then(Value::as_str) == Some("query"));
            let mut statuses: Vec<&str> = vec!["408"];
            if path.contains('{') {
                statuses.extend(["400", "404"]);
            }
            // A query value that parses but the rule refuses (an unknown `queue`) is 422.
            if has_query {
                statuses.extend(["400", "422"]);
            }
            if op.get("requestBody").is_some() {
                statuses.extend(["400", "413", "415", "422"]);
            }
            // 401: a Bearer key that does not authenticate is refused on any operation,
            // public ones too. 403: the role or scope, or (any write made without an API
            // key) the CSRF check.
            statuses.push("401");
            let public = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty);
            if !public || *method != "get" {
                statuses.push("403");
            }
            let Some(responses) = op
                .as_object_mut()
                .map(|o| {
                    o.entry("responses")
                        .or_insert_with(|| Value::Object(Default::default()))
                })
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            for status in statuses {
                let shared = format!("#/components/responses/{}", shared_response(status));
                responses
                    .entry(status)
                    .or_insert_with(|| serde_json::json!({ "$ref": shared }));
            }
        }
    }
}

/// The shared response (in `base.json`) for a generated status.
fn shared_response(status: &str) -> &'static str {
    match status {
        "400" => "BadRequest",
        "401" => "Unauthenticated",
        "403" => "Forbidden",
        "404" => "NotFound",
        "408" => "Timeout",
        "413" => "PayloadTooLarge",
        "415" => "UnsupportedMediaType",
        "422" => "ValidationFailed",
        _ => "Problem",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_role_enum_is_the_domain_s() {
        let doc = super::document();
        let listed: Vec<&str> = doc["components"]["schemas"]["Role"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let roles: Vec<&str> = onewindow_domain::access::Role::ALL
            .iter()
            .map(|r| r.as_str())
            .collect();
        assert_eq!(listed, roles);
    }

    #[test]
    fn every_reference_resolves() {
        let doc = super::document();
        let text = doc.to_string();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("\"$ref\":\"#/") {
            let tail = &rest[i + 9..];
            let end = tail.find('"').unwrap();
            let pointer = &tail[..end];
            assert!(doc.pointer(pointer).is_some(), "dangling $ref {pointer}");
            rest = &tail[end..];
        }
        assert!(doc.pointer("/paths/~1api~1v1~1users").is_some());
    }
}
