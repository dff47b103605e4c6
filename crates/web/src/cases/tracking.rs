//! Public tracking (办件查询) by case number and query code, page and API.

use crate::chrome::Chrome;
use crate::context::Ctx;
use crate::error::{ApiResult, AppError, PageResult};
use crate::pages::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use onewindow_domain::cases::{self as machine};
use onewindow_domain::validation::{self};
use onewindow_store::cases::{self as store_cases, CaseEvent, CaseRecord};
use onewindow_store::clock::format_local;
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/track", get(track_page))
        .route("/api/v1/track", get(track_api))
}

/// Public tracking by case number and query code: the case and its history
/// ([`find_case`]'s rules).
pub async fn track(
    state: &AppState,
    case_no: &str,
    code: &str,
) -> Result<(CaseRecord, Vec<CaseEvent>), AppError> {
    let case = find_case(state, case_no, code).await?;
    let events = store_cases::events(state.store.reader(), case.id).await?;
    Ok((case, events))
}

/// The case a resident names by number and query code (tracking, online rating); a wrong
/// code looks like no case. At most [`super::LOOKUP_FAILURES_PER_MINUTE`] failed lookups of
/// one case number a minute: past them every lookup of it (right code or not) is 429 until
/// the minute ends, so a code cannot be found by trying.
pub async fn find_case(
    state: &AppState,
    case_no: &str,
    code: &str,
) -> Result<CaseRecord, AppError> {
    // Residents type on phones and Chinese input methods: full-width digits, spaces,
    // dashes and lower case are all accepted.
    let case_no = validation::halfwidth(case_no).trim().to_ascii_uppercase();
    // Only a well-formed number is counted (a junk key cannot crowd the limiter out).
    if machine::parse_case_number(&case_no).is_none() {
        return Err(AppError::NotFound);
    }
    within_lookup_limit(state, &case_no, lookup(state, &case_no, code)).await
}

/// Runs a lookup by a well-formed number (a case, a fallback case, a request) under the
/// per-number limiter: past [`super::LOOKUP_FAILURES_PER_MINUTE`] failures in a minute it is
/// 429 without looking; a lookup that finds gives its try back.
pub async fn within_lookup_limit<T>(
    state: &AppState,
    number: &str,
    lookup: impl std::future::Future<Output = Result<T, AppError>>,
) -> Result<T, AppError> {
    state
        .lookup_limits
        .take(number, state.now())
        .map_err(|retry_after_secs| AppError::TooManyLookups { retry_after_secs })?;
    let found = lookup.await;
    if found.is_ok() {
        state.lookup_limits.give_back(number);
    }
    found
}

/// The case whose number (well-formed, checked by the caller) and code match.
async fn lookup(state: &AppState, case_no: &str, code: &str) -> Result<CaseRecord, AppError> {
    let case = store_cases::by_number(state.store.reader(), case_no)
        .await
        .map_err(|_| AppError::NotFound)?;
    if !machine::query_code_matches(code, &case.query_code) {
        return Err(AppError::NotFound);
    }
    Ok(case)
}

#[derive(Deserialize, Default)]
struct TrackQuery {
    #[serde(default)]
    case_no: String,
    #[serde(default)]
    code: String,
}

#[derive(Template)]
#[template(path = "track.html")]
struct TrackPage {
    chrome: Chrome,
    case_no: String,
    code: String,
    /// The case, what the resident must do, where the result reaches them.
    found: Option<(CaseRecord, String, String)>,
    /// (time, the step in the resident's words).
    events: Vec<(String, &'static str)>,
    not_found: bool,
}

async fn track_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<TrackQuery>,
) -> PageResult {
    let mut page = TrackPage {
        chrome: Chrome::new(&state, &ctx, "办件查询"),
        case_no: q.case_no.clone(),
        code: q.code.clone(),
        found: None,
        events: vec![],
        not_found: false,
    };
    if !q.case_no.is_empty() {
        match track(&state, &q.case_no, &q.code).await {
            Ok((case, events)) => {
                let awaited = awaited_text(&case);
                page.events = events
                    .into_iter()
                    .map(|e| (format_local(e.at), machine::resident_event_text(&e.action)))
                    .collect();
                let handout = super::handout_text(&case);
                page.found = Some((case, awaited, handout));
            }
            Err(AppError::NotFound) => page.not_found = true,
            Err(e) => return Err(e.into()),
        }
    }
    render(&page)
}

/// What the resident must do now, in plain words (the domain's rule).
pub fn awaited_text(case: &CaseRecord) -> String {
    machine::awaited_text(&machine::Awaiting {
        state: case.state,
        supplement_pending: case.supplement_pending,
        supplement_due: case.supplement_due,
        materials: &case.materials,
        missing: &case.missing,
    })
}

async fn track_api(
    State(state): State<AppState>,
    Query(q): Query<TrackQuery>,
) -> ApiResult<Json<Value>> {
    let (case, events) = track(&state, &q.case_no, &q.code).await?;
    Ok(Json(json!({
        "case_no": case.case_no,
        "title": case.title,
        "state": case.state,
        "state_label": case.state.resident_label(),
        "resident_text": case.state.resident_text(),
        "awaited": awaited_text(&case),
        "accepted_on": case.accepted_on,
        "due_date": case.due_date,
        "due_text": case.due_text(),
        "deadline_pending_year": case.deadline_pending_year,
        "intake_place": case.intake_org_name,
        "department": case.department_name,
        "handout": super::handout_text(&case),
        // The resident's words, not the staff's notes (which may name colleagues or use 分办/领办).
        "events": events.iter().map(|e| json!({ "at": e.at, "action": e.action, "to_state": e.to_state, "text": machine::resident_event_text(&e.action) })).collect::<Vec<_>>(),
    })))
}
