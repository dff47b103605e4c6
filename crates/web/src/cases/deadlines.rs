//! The deadline job: marks overdue cases and lapses 容缺 cases (run every minute by
//! `serve`, and by hand at the root through the API).

use crate::context::ApiUser;
use crate::error::{ApiResult, AppError};
use crate::AppState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use onewindow_store::cases::{self as store_cases};
use onewindow_store::clock::local_date;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/jobs/deadlines", post(deadlines_api))
}

/// Runs the deadline job once at the app's clock (also run every minute by `serve`).
async fn deadlines_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
) -> ApiResult<Json<store_cases::DeadlineRun>> {
    // The job marks cases of the whole installation: run by hand only at the root.
    onewindow_domain::access::authorize_reference_data(
        &p.actor(),
        onewindow_domain::access::ReferenceData::DeadlineJob,
    )?;
    crate::queue::mark_no_shows(&state).await?;
    Ok(Json(run_deadline_job(&state).await?))
}

pub async fn run_deadline_job(state: &AppState) -> Result<store_cases::DeadlineRun, AppError> {
    let cal = state.calendar().await?;
    let change = state.change(onewindow_store::audit::Who::system("deadline-job"));
    Ok(store_cases::run_deadlines(&state.store, &change, &cal, local_date(change.at)).await?)
}
