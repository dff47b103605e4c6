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
        doc
    })
}

#[cfg(test)]
mod tests {
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
