//! The audit log viewer and chain verification, for administrators and supervisors.
//! The log is global (one chain), so viewing it needs the permission at the top of the
//! tree: an actor whose organisation is the root of the chain's data.

use crate::chrome::Chrome;
use crate::context::{ApiUser, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::pages::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use onewindow_domain::access::Permission;
use onewindow_domain::audit::AuditEvent;
use onewindow_domain::org::OrgPath;
use onewindow_store::audit::{self, Verification};
use onewindow_store::clock::format_local;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(page))
        .route("/api/v1/audit", get(list_api))
        .route("/api/v1/audit/verify", get(verify_api))
}

/// The audit chain spans every organisation, so reading it needs scope over the root.
fn require_audit(p: &Principal) -> Result<(), AppError> {
    p.require(Permission::ViewAudit)?;
    let root = p.user.org_path.ids().first().copied().unwrap_or(0);
    let root_path = OrgPath::root(root);
    if p.user.org_path != root_path {
        return Err(AppError::Forbidden(onewindow_domain::access::Denied::Scope));
    }
    Ok(())
}

#[derive(Deserialize)]
struct ListQuery {
    before: Option<i64>,
    entity: Option<String>,
    limit: Option<i64>,
    verify: Option<String>,
}

pub struct EventRow {
    pub event: AuditEvent,
    pub at: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    rows: Vec<EventRow>,
    verification: Option<Verification>,
    broken_text: Option<String>,
    next_before: Option<i64>,
}

async fn page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<ListQuery>,
) -> PageResult {
    require_audit(&p)?;
    // PostgreSQL chains events just after commit; chain what is pending so the list is whole.
    state.store.settle_audit().await?;
    let events = audit::list(
        state.store.reader(),
        q.before,
        q.entity.as_deref().filter(|e| !e.is_empty()),
        100,
    )
    .await?;
    let next_before = (events.len() == 100)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    let verification = if q.verify.is_some() {
        Some(audit::verify(&state.store).await?)
    } else {
        None
    };
    let broken_text = verification
        .as_ref()
        .and_then(|v| v.broken.as_ref())
        .map(|b| b.to_string());
    render(&AuditPage {
        chrome: Chrome::new(&state, &ctx, "审计日志"),
        rows: events
            .into_iter()
            .map(|e| EventRow {
                at: format_local(e.at),
                event: e,
            })
            .collect(),
        verification,
        broken_text,
        next_before,
    })
}

async fn list_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    require_audit(&p)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    state.store.settle_audit().await?;
    Ok(Json(
        audit::list(state.store.reader(), q.before, q.entity.as_deref(), limit).await?,
    ))
}

async fn verify_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
) -> ApiResult<Json<Verification>> {
    require_audit(&p)?;
    Ok(Json(audit::verify(&state.store).await?))
}
