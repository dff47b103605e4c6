//! Queue and appointments (取号、叫号、预约): the router and what its sub-capabilities share —
//! the queue settings, "today" in the hall, and who may act on which hall.
//!
//! - [`tickets`]: issuing (guide desk, kiosk, API), the ticket slip, the window list and
//!   window control (call next, recall, start, finish, no-show, re-queue, transfer), a
//!   hall's ticket list.
//! - [`appointments`]: slots, booking and cancelling (online or by a clerk), check-in at
//!   the booking's own hall inside its window, a hall's appointment list, opening hours and
//!   slot capacities.
//! - [`display`]: the display screen, its event stream, and the PostgreSQL relay that puts
//!   other instances' events on this instance's screens.
//!
//! Every handler goes through an operation of its sub-capability (authorize, then one
//! transaction through `onewindow_store`); no SQL is written here.

mod appointments;
mod display;
mod tickets;

pub use appointments::mark_no_shows;
pub use display::spawn_pg_relay;

use crate::context::Principal;
use crate::error::{ApiResult, AppError};
use crate::paging::{filter_string, PageParams};
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use onewindow_domain::access::Permission;
use onewindow_domain::queue::{CheckInWindow, PriorityRule};
use onewindow_domain::validation::FieldErrors;
use onewindow_store::clock::local_date;
use onewindow_store::queue as store_queue;
use onewindow_store::{orgs, settings};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/queue/halls", get(halls_api))
        .merge(tickets::router())
        .merge(appointments::router())
        .merge(display::router())
}

// ---- settings ----

/// The ordering rule of the two priority lanes (settings).
async fn rule(state: &AppState) -> Result<PriorityRule, AppError> {
    let [boost_minutes, appointment_lead_minutes] = settings::get_ints(
        state.store.reader(),
        [
            "queue.priority_boost_minutes",
            "queue.appointment_lead_minutes",
        ],
    )
    .await?;
    Ok(PriorityRule {
        boost_minutes,
        appointment_lead_minutes,
    })
}

/// When a booking may be checked in around its slot (settings).
async fn check_in_window(state: &AppState) -> Result<CheckInWindow, AppError> {
    let [before_minutes, after_minutes] = settings::get_ints(
        state.store.reader(),
        [
            "queue.check_in_before_minutes",
            "queue.check_in_after_minutes",
        ],
    )
    .await?;
    Ok(CheckInWindow {
        before_minutes,
        after_minutes,
    })
}

async fn int_setting(state: &AppState, key: &str) -> Result<i64, AppError> {
    Ok(settings::get_int(state.store.reader(), key).await?)
}

/// Today in the hall (Beijing time).
fn today(state: &AppState) -> NaiveDate {
    local_date(state.now())
}

/// A refusal a form shows beside its fields: field errors as they are, a conflict as an
/// error on `field`; anything else is an error page.
fn as_field_errors(
    e: AppError,
    field: &str,
) -> Result<Vec<onewindow_domain::validation::FieldError>, AppError> {
    match e {
        AppError::Invalid(f) => Ok(f.0),
        AppError::Conflict { code, message } => {
            Ok(vec![onewindow_domain::validation::FieldError {
                field: field.into(),
                code: code.into(),
                message,
            }])
        }
        e => Err(e),
    }
}

// ---- halls and who may act on them ----

/// A hall's name; an organisation without queue classes is not a hall (404).
async fn hall_name(state: &AppState, hall_id: i64) -> Result<String, AppError> {
    let classes = store_queue::classes(state.store.reader(), hall_id).await?;
    if classes.is_empty() {
        return Err(AppError::NotFound);
    }
    Ok(orgs::get(state.store.reader(), hall_id).await?.name)
}

/// Staff act on a hall inside their scope only.
async fn authorize_hall(
    state: &AppState,
    p: &Principal,
    permission: Permission,
    hall_id: i64,
) -> Result<(), AppError> {
    let hall = orgs::get(state.store.reader(), hall_id).await?;
    p.authorize(permission, &hall.path)
}

/// Staff act on a record of a hall (window, ticket, appointment) addressed by id: one of
/// another hall answers like an unknown id (404). Callers check the role before loading the
/// record, so a caller without it gets 403 whether or not the id exists.
async fn authorize_record_hall(
    state: &AppState,
    p: &Principal,
    permission: Permission,
    hall_id: i64,
) -> Result<(), AppError> {
    let hall = orgs::get(state.store.reader(), hall_id).await?;
    p.authorize_visible(permission, &hall.path)
}

/// The halls a staff member works in: halls inside their scope.
async fn my_halls(
    state: &AppState,
    p: &Principal,
    permission: Permission,
) -> Result<Vec<(i64, String)>, AppError> {
    let mut out = Vec::new();
    for (id, name) in store_queue::halls(state.store.reader()).await? {
        if authorize_hall(state, p, permission, id).await.is_ok() {
            out.push((id, name));
        }
    }
    Ok(out)
}

async fn halls_api(State(state): State<AppState>) -> ApiResult<Json<Vec<Value>>> {
    let halls = store_queue::halls(state.store.reader()).await?;
    Ok(Json(
        halls
            .into_iter()
            .map(|(id, name)| json!({ "id": id, "name": name }))
            .collect(),
    ))
}

// ---- a hall's lists: tickets and appointments of a day ----

/// The query string of a hall's ticket or appointment list: filters, then `limit` and
/// `cursor`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HallListQuery {
    /// The day (`YYYY-MM-DD`, Beijing time); today when absent.
    pub date: Option<String>,
    pub state: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// Who may read a hall's lists: the staff who issue tickets there, as for issuing and
/// checking in. The role first (403 for any hall), then the hall: one that is not a hall,
/// or is outside the caller's scope, answers like a missing one (404).
async fn authorize_hall_list(state: &AppState, p: &Principal, hall: i64) -> Result<(), AppError> {
    p.require(Permission::IssueTickets)?;
    hall_name(state, hall).await?;
    authorize_record_hall(state, p, Permission::IssueTickets, hall).await
}

/// The day and the canonical filters of a hall list. The day is always in the filters
/// (today's date when not given), so a next link keeps reading the day it started on.
fn hall_list_filters(
    state: &AppState,
    e: &mut FieldErrors,
    q: &HallListQuery,
    state_text: &str,
) -> (NaiveDate, String) {
    let day =
        crate::lists::date(e, "date", "日期", q.date.as_deref()).unwrap_or_else(|| today(state));
    let day_text = day.to_string();
    let filters = filter_string(&[("date", &day_text), ("state", state_text)]);
    (day, filters)
}

fn page_params(q: &HallListQuery) -> PageParams {
    PageParams {
        limit: q.limit.clone(),
        cursor: q.cursor.clone(),
    }
}

/// The date and state choices above a hall list page.
struct HallListForm {
    date: String,
    /// (value, label, chosen).
    states: Vec<(&'static str, &'static str, bool)>,
}

impl HallListForm {
    fn new(
        state: &AppState,
        q: &HallListQuery,
        choices: &[(&'static str, &'static str)],
    ) -> HallListForm {
        let chosen = q.state.as_deref().unwrap_or("").trim();
        HallListForm {
            date: q
                .date
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(|d| d.chars().take(10).collect())
                .unwrap_or_else(|| today(state).to_string()),
            states: choices
                .iter()
                .map(|(v, l)| (*v, *l, *v == chosen))
                .collect(),
        }
    }
}
