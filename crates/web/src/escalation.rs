//! The escalation job (督办): run every minute by `serve`'s housekeeping, and by hand at the
//! root through the API, like the deadline job. The engine itself is
//! `onewindow_store::escalation` (tracking, the run) over `onewindow_domain::escalation`
//! (the rules); loops call the store inside their own operations.

use crate::context::ApiUser;
use crate::error::{ApiResult, AppError};
use crate::AppState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use onewindow_domain::access::{authorize_reference_data, ReferenceData};
use onewindow_store::escalation::{self as store_escalation, EscalationRun};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/jobs/escalation", post(run_api))
}

/// Runs the escalation job once at the app's clock: warns and escalates every tracked item
/// whose time has come. It touches items of the whole installation, so by hand it is run
/// only with the deadline job's right (an administrator at the root).
async fn run_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
) -> ApiResult<Json<serde_json::Value>> {
    authorize_reference_data(&p.actor(), ReferenceData::DeadlineJob).map_err(AppError::from)?;
    let run = run_job(&state).await?;
    // The loops' own timed sends ride on the same job: 好差评 invitations.
    let invited = crate::ratings::run_invitations(&state).await?;
    crate::inbox::deliver_outbox(&state).await?;
    let mut v = serde_json::to_value(&run).map_err(|e| AppError::Internal(e.into()))?;
    v["invited"] = serde_json::json!(invited);
    Ok(Json(v))
}

/// One run of the job at the app's clock (safe on several instances at once).
pub async fn run_job(state: &AppState) -> Result<EscalationRun, AppError> {
    let cal = state.calendar().await?;
    let change = state.change(onewindow_store::audit::Who::system("escalation-job"));
    Ok(store_escalation::run(&state.store, &change, &cal).await?)
}
