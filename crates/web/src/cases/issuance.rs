//! The issuance window (统一出件): results waiting to be handed over.

use super::lists::queue_page;

use crate::context::PageUser;
use crate::error::PageResult;
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::Router;
use onewindow_domain::access::Permission;
use onewindow_store::cases::Queue;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/window/issuance", get(issuance_page))
}

async fn issuance_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    RawQuery(raw): RawQuery,
) -> PageResult {
    p.require(Permission::HandleIntake)?;
    queue_page(
        &state,
        &p,
        &ctx,
        raw.as_deref(),
        Queue::Issuance,
        "/window/issuance",
    )
    .await
}
