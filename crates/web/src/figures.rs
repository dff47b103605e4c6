//! Figures for supervisors, read from the rollups (`store::figures`) inside the caller's
//! scope, with the formulas of `domain::figures`.

use crate::context::ApiUser;
use crate::error::{ApiResult, AppError};
use crate::lists::parse_day;
use crate::AppState;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Datelike;
use onewindow_domain::access::Permission;
use onewindow_domain::figures::window_approval_share;
use onewindow_domain::validation::{self, FieldErrors};
use onewindow_store::clock::local_date;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/figures/intake", get(intake_api))
}

#[derive(Deserialize, Default)]
struct PeriodQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    item: String,
}

/// `GET /api/v1/figures/intake`: accepted cases and the share approved at the window, for
/// the caller's organisation and everything below it, over `[from, to]` (default: this
/// month so far).
async fn intake_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Json<Value>> {
    p.require(Permission::ViewCases)?;
    let today = local_date(state.now());
    let mut errors = FieldErrors::new();
    errors.text("item", "事项编码", &q.item, validation::REFERENCE);
    let from = if q.from.is_empty() {
        Some(today.with_day(1).unwrap_or(today))
    } else {
        parse_day("from", "起始日期", &q.from, &mut errors)
    };
    let to = if q.to.is_empty() {
        Some(today)
    } else {
        parse_day("to", "截止日期", &q.to, &mut errors)
    };
    if let (Some(f), Some(t)) = (from, to) {
        if t < f {
            errors.add("to", "before_from", "截止日期早于起始日期");
        }
    }
    errors.into_result()?;
    let (from, to) = (from.expect("checked"), to.expect("checked"));
    let mut conn = state
        .store
        .reader()
        .acquire()
        .await
        .map_err(AppError::from)?;
    let f = onewindow_store::figures::intake(
        &mut conn,
        &p.user.org_path,
        from,
        to,
        Some(q.item.as_str()).filter(|i| !i.is_empty()),
    )
    .await?;
    let share = window_approval_share(f.accepted, f.approved_at_window);
    Ok(Json(json!({
        "from": from,
        "to": to,
        "org_id": p.user.org_id,
        "accepted": f.accepted,
        "approved_at_window": f.approved_at_window,
        "window_approval_share": share.per_mille().map(|m| m as f64 / 1000.0),
        "window_approval_share_text": share.percent_text(),
    })))
}
