//! Identifier checks as an API, so forms and imports can validate before submitting.

use crate::context::ApiUser;
use crate::error::{ApiResult, AppError};
use crate::form::ApiJson;
use crate::AppState;
use axum::routing::post;
use axum::{Json, Router};
use onewindow_domain::ids::{mask_id_card, CreditCode, IdCardNumber, IdentifierKind, MobileNumber};
use onewindow_store::clock::local_date;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/validate", post(validate_api))
}

#[derive(Deserialize)]
struct Body {
    kind: String,
    value: String,
}

/// `{"valid": true, "normalized": …, "masked": …}` or `{"valid": false, "code", "message"}`.
/// A credit code whose check character fails is `valid: true` with a `warning`, since a
/// clerk may accept it with a recorded reason.
async fn validate_api(
    axum::extract::State(state): axum::extract::State<AppState>,
    ApiUser(_): ApiUser,
    ApiJson(b): ApiJson<Body>,
) -> ApiResult<Json<Value>> {
    let today = local_date(state.now());
    let kind = IdentifierKind::from_name(&b.kind).ok_or_else(|| {
        AppError::invalid(
            "kind",
            "unknown",
            "kind 应为 id-card、credit-code 或 mobile",
        )
    })?;
    let out = match kind {
        IdentifierKind::IdCard => match IdCardNumber::parse(&b.value, today) {
            Ok(id) => json!({ "valid": true, "normalized": id.as_str(), "masked": id.masked(),
                              "birth_date": id.birth_date().to_string(), "sex": if id.is_male() { "male" } else { "female" } }),
            Err(e) => {
                json!({ "valid": false, "code": e.code(), "message": e.to_string(), "masked": mask_id_card(b.value.trim()) })
            }
        },
        IdentifierKind::CreditCode => match CreditCode::parse_lenient(&b.value) {
            Ok(c) => match c.check_warning() {
                None => json!({ "valid": true, "normalized": c.as_str() }),
                Some(w) => {
                    json!({ "valid": true, "normalized": c.as_str(), "warning": { "code": w.code(), "message": w.to_string() } })
                }
            },
            Err(e) => json!({ "valid": false, "code": e.code(), "message": e.to_string() }),
        },
        IdentifierKind::Mobile => match MobileNumber::parse(&b.value) {
            Ok(m) => json!({ "valid": true, "normalized": m.as_str(), "masked": m.masked() }),
            Err(e) => json!({ "valid": false, "code": e.code(), "message": e.to_string() }),
        },
    };
    Ok(Json(out))
}
