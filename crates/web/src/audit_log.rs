//! The audit log viewer and chain verification, for administrators and supervisors.
//! The log is global (one chain), so viewing it needs the permission at the top of the
//! tree: an actor whose organisation is the root of the chain's data.

use crate::chrome::Chrome;
use crate::context::{ApiUser, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::pages::render;
use crate::paging::{filter_string, next_link, ListBody, PageParams};
use crate::AppState;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use onewindow_domain::access::Permission;
use onewindow_domain::audit::AuditEvent;
use onewindow_domain::org::OrgPath;
use onewindow_domain::validation::{self, FieldError, FieldErrors};
use onewindow_store::audit::{self, AuditFilter, Verification};
use onewindow_store::clock::format_local;
use onewindow_store::page::{ListId, Page, PageRequest};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(page))
        .route("/api/v1/audit", get(list_api))
        .route("/api/v1/audit/verify", get(verify_api))
}

/// The name the audit log's cursors carry.
pub const AUDIT_LIST: &str = "audit";

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

/// The audit log's query, checked.
#[derive(Debug, Default)]
struct AuditQuery {
    entity: String,
    entity_id: String,
    actor: String,
    action: String,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    page: PageParams,
    verify: bool,
}

impl AuditQuery {
    fn parse(raw: Option<&str>) -> (AuditQuery, FieldErrors) {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let last = |k: &str| {
            pairs
                .iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let mut errors = FieldErrors::new();
        let mut q = AuditQuery {
            entity: last("entity"),
            entity_id: last("entity_id"),
            actor: last("actor"),
            action: last("action"),
            page: PageParams {
                limit: Some(last("limit")).filter(|l| !l.is_empty()),
                cursor: Some(last("cursor")).filter(|c| !c.is_empty()),
            },
            verify: !last("verify").is_empty(),
            ..AuditQuery::default()
        };
        for (field, label, value, limit) in [
            ("entity", "对象类型", &q.entity, validation::REFERENCE),
            ("entity_id", "对象编号", &q.entity_id, validation::REFERENCE),
            ("actor", "操作人", &q.actor, validation::USERNAME),
            ("action", "操作", &q.action, validation::REFERENCE),
        ] {
            errors.text(field, label, value, limit);
        }
        if !q.entity_id.is_empty() && q.entity.is_empty() {
            errors.add(
                "entity_id",
                "requires_entity",
                "按对象编号查询时请同时指定对象类型（entity）",
            );
        }
        q.from = crate::cases::parse_day("from", "起始日期", &last("from"), &mut errors);
        q.to = crate::cases::parse_day("to", "截止日期", &last("to"), &mut errors);
        if let (Some(f), Some(t)) = (q.from, q.to) {
            if t < f {
                errors.add("to", "before_from", "截止日期不能早于起始日期");
            }
        }
        (q, errors)
    }

    fn filters(&self) -> String {
        let (from, to) = (
            self.from.map(|d| d.to_string()).unwrap_or_default(),
            self.to.map(|d| d.to_string()).unwrap_or_default(),
        );
        filter_string(&[
            ("entity", &self.entity),
            ("entity_id", &self.entity_id),
            ("actor", &self.actor),
            ("action", &self.action),
            ("from", &from),
            ("to", &to),
        ])
    }

    fn store_filter(&self) -> AuditFilter {
        let opt = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
        AuditFilter {
            entity: opt(&self.entity),
            entity_id: opt(&self.entity_id),
            actor: opt(&self.actor),
            action_prefix: opt(&self.action),
            at: (
                self.from.map(crate::cases::day_start),
                self.to
                    .map(|d| crate::cases::day_start(d + chrono::Days::new(1))),
            ),
        }
    }
}

/// One page of the log: the root's permission, then the filters, then the page.
async fn list_events(
    state: &AppState,
    p: &Principal,
    q: &AuditQuery,
    errors: FieldErrors,
) -> Result<(Page<AuditEvent>, PageRequest), AppError> {
    require_audit(p)?;
    // PostgreSQL chains events just after commit: chain what is pending so the list is whole.
    state.store.settle_audit().await?;
    errors.into_result()?;
    let filters = q.filters();
    let id = ListId {
        list: AUDIT_LIST,
        filters: &filters,
    };
    let req = q.page.request(state, &id).await?;
    let key = state.store.cursor_key().await?;
    let page = audit::list(state.store.reader(), key, &id, &q.store_filter(), &req).await?;
    Ok((page, req))
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
    errors: Vec<FieldError>,
    entity: String,
    entity_id: String,
    actor: String,
    action: String,
    from: String,
    to: String,
    first: Option<String>,
    next: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    RawQuery(raw): RawQuery,
) -> PageResult {
    require_audit(&p)?;
    let (q, errors) = AuditQuery::parse(raw.as_deref());
    // The form shows back what was typed, even when it was refused.
    let echo = |k: &str| {
        url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (mut rows, mut first, mut next, mut field_errors) = (vec![], None, None, vec![]);
    match list_events(&state, &p, &q, errors).await {
        Ok((page, req)) => {
            let filters = q.filters();
            next = page
                .next_cursor
                .as_deref()
                .map(|c| next_link("/admin/audit", &filters, &req, c));
            if req.after.is_some() {
                first = Some(if filters.is_empty() {
                    "/admin/audit".to_string()
                } else {
                    format!("/admin/audit?{filters}")
                });
            }
            rows = page
                .items
                .into_iter()
                .map(|e| EventRow {
                    at: format_local(e.at),
                    event: e,
                })
                .collect();
        }
        Err(AppError::Invalid(f)) => field_errors = f.0,
        Err(e) => return Err(e.into()),
    }
    let verification = if q.verify {
        Some(audit::verify(&state.store).await?)
    } else {
        None
    };
    let broken_text = verification
        .as_ref()
        .and_then(|v| v.broken.as_ref())
        .map(|b| b.to_string());
    let status = if field_errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = render(&AuditPage {
        chrome: Chrome::new(&state, &ctx, "审计日志"),
        rows,
        verification,
        broken_text,
        errors: field_errors,
        entity: echo("entity"),
        entity_id: echo("entity_id"),
        actor: echo("actor"),
        action: echo("action"),
        from: echo("from"),
        to: echo("to"),
        first,
        next,
    })?;
    *res.status_mut() = status;
    Ok(res)
}

/// `GET /api/v1/audit`: one page of events, newest first.
async fn list_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<ListBody<AuditEvent>>> {
    let (q, errors) = AuditQuery::parse(raw.as_deref());
    let (page, req) = list_events(&state, &p, &q, errors).await?;
    Ok(Json(ListBody::new(
        page,
        "/api/v1/audit",
        &q.filters(),
        &req,
    )))
}

async fn verify_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
) -> ApiResult<Json<Verification>> {
    require_audit(&p)?;
    Ok(Json(audit::verify(&state.store).await?))
}
