//! The working-day calendar for administrators (view, import the next year's
//! arrangement: previewed date by date, then confirmed; a partial year only when the
//! administrator ticks that it is meant) and settings (deadline thresholds, supplement
//! period). Both are shared reference data owned by the root of the tree: every
//! administrator may look, only one at the root may change them
//! (`access::authorize_reference_data`).
//!
//! Cases whose deadline waits for a year not loaded yet (待定（日历未发布）) are counted
//! here for the administrator's notice (this page and the workbench), computed by the
//! import itself, and caught up by housekeeping ([`catch_up_pending`]).

use crate::chrome::Chrome;
use crate::context::{ApiUser, Ctx, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::ApiJson;
use crate::form::FormData;
use crate::pages::render_form;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::NaiveDate;
use onewindow_domain::access::{authorize_reference_data, Permission, ReferenceData};
use onewindow_domain::calendar::{
    pending_deadlines_notice, PartialYears, SpecialDay, WorkCalendar, YearDiff,
};
use onewindow_domain::validation::FieldError;
use onewindow_store::clock::local_date;
use onewindow_store::{calendar, settings};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/calendar", get(page).post(import_form))
        .route("/api/v1/calendar", get(calendar_api))
        .route("/api/v1/calendar/import", post(import_api))
        .route("/api/v1/calendar/due", get(due_api))
        .route("/api/v1/settings", get(settings_api))
        .route("/api/v1/settings/{key}", put(set_setting_api))
}

/// What an import would change (a preview, nothing written) or has changed (confirmed).
#[derive(Debug, Serialize)]
pub struct ImportOutcome {
    pub confirmed: bool,
    pub years: Vec<i32>,
    /// The calendar's revision the preview was made at (after a confirmed import: the new
    /// one). Sent back with the confirmation, it makes the import refuse if someone else
    /// changed the calendar in between.
    pub revision: i64,
    /// Per year of the file: days added, removed and changed against what is stored, and
    /// every date that changes, from what to what.
    pub diff: Vec<YearDiff>,
    /// Cases whose deadline waits for one of the file's years: the import computes them.
    pub pending_cases: u64,
    /// After a confirmed import: the pending deadlines it computed.
    pub deadlines: Vec<calendar::ComputedDeadline>,
}

/// Reads a CSV arrangement (`date,kind,festival`) and compares it with the stored calendar;
/// only with `confirm` does it replace the file's years (each whole), and then only if the
/// calendar is still at `revision` when one is given. Why two steps: an import replaces a
/// whole year and moves every deadline in it, so the administrator sees what changes first.
///
/// A year that does not look like a whole notice is refused unless `partial` is
/// [`PartialYears::Allow`] (the administrator's explicit confirmation). The confirmed
/// import also computes, in its transaction, the deadlines of every case waiting for the
/// years it loads.
pub async fn import(
    state: &AppState,
    p: &Principal,
    csv: &str,
    confirm: bool,
    revision: Option<i64>,
    partial: PartialYears,
) -> Result<ImportOutcome, AppError> {
    authorize_reference_data(&p.actor(), ReferenceData::Calendar)?;
    let cal = WorkCalendar::import_csv(csv, partial)
        .map_err(|e| AppError::invalid("csv", e.code(), e.to_string()))?;
    let current = calendar::revision(state.store.reader()).await?;
    let diff = state.calendar().await?.diff(&cal);
    let pending_cases = calendar::pending_deadlines(state.store.reader())
        .await?
        .iter()
        .filter(|(year, _)| cal.covers(*year))
        .map(|(_, n)| n)
        .sum();
    if !confirm {
        return Ok(ImportOutcome {
            confirmed: false,
            years: cal.covered_years(),
            revision: current,
            diff,
            pending_cases,
            deadlines: vec![],
        });
    }
    let mut tx = state.store.begin().await?;
    let done = calendar::import_years(&mut tx, &state.change(p.user.who()), &cal, revision).await?;
    tx.commit().await?;
    Ok(ImportOutcome {
        confirmed: true,
        years: done.years,
        revision: calendar::revision(state.store.reader()).await?,
        diff,
        pending_cases,
        deadlines: done.deadlines,
    })
}

/// The administrator's notices: cases waiting for a year's arrangement (an administrator
/// at the root, who can import it, gets the count), and next year's arrangement missing
/// (from December on). Shown on this page and on the workbench.
pub async fn warning(state: &AppState) -> Result<Option<String>, AppError> {
    let cal = state.calendar().await?;
    let pending = pending_notice(state).await?;
    let missing = cal.missing_next_year_warning(local_date(state.now()));
    Ok(match (pending, missing) {
        (Some(p), Some(m)) => Some(format!("{p} {m}")),
        (p, m) => p.or(m),
    })
}

/// How many cases wait for which year, in words (`None`: none wait).
pub async fn pending_notice(state: &AppState) -> Result<Option<String>, AppError> {
    let waiting = calendar::pending_deadlines(state.store.reader()).await?;
    Ok(pending_deadlines_notice(&waiting))
}

/// Housekeeping: the pending deadlines whose year is loaded but which no import reached.
pub async fn catch_up_pending(state: &AppState) -> Result<usize, AppError> {
    let change = state.change(onewindow_store::audit::Who::system("deadline-job"));
    Ok(calendar::catch_up_pending_deadlines(&state.store, &change)
        .await?
        .len())
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    chrome: Chrome,
    years: Vec<i32>,
    days: Vec<SpecialDay>,
    warning: Option<String>,
    /// Cases whose deadline waits for a year: how many, for which year.
    pending: Option<String>,
    imported: Option<String>,
    errors: Vec<FieldError>,
    /// Whether this administrator may import (an administrator at the root).
    may_import: bool,
    /// A previewed import waiting for confirmation: the text, its revision and the diff.
    preview: Option<Preview>,
}

struct Preview {
    csv: String,
    revision: i64,
    diff: Vec<YearDiff>,
    /// The administrator ticked that partial years are meant; the confirmation carries it.
    allow_partial: bool,
    pending_cases: u64,
}

async fn view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    imported: Option<String>,
    errors: Vec<FieldError>,
    preview: Option<Preview>,
) -> PageResult {
    p.require(Permission::ManageCalendar)?;
    let may_import = authorize_reference_data(&p.actor(), ReferenceData::Calendar).is_ok();
    let cal = state.calendar().await?;
    let refused = !errors.is_empty();
    let pending = pending_notice(state).await?;
    render_form(
        &CalendarPage {
            chrome: Chrome::new(state, ctx, "工作日历"),
            years: cal.covered_years(),
            warning: cal.missing_next_year_warning(local_date(state.now())),
            pending,
            days: cal.special_days().cloned().collect(),
            imported,
            errors,
            may_import,
            preview,
        },
        refused,
    )
}

async fn page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    view(&state, &p, &ctx, None, vec![], None).await
}

/// First post: the preview with a confirmation form carrying the same text; the second
/// post (`confirm=1`, with the previewed revision) imports.
async fn import_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    let csv = form.get("csv").to_string();
    let confirm = form.get("confirm") == "1";
    let revision = form.get("revision").parse::<i64>().ok();
    let allow_partial = form.get("allow_partial") == "1";
    let partial = if allow_partial {
        PartialYears::Allow
    } else {
        PartialYears::Refuse
    };
    match import(&state, &p, &csv, confirm, revision, partial).await {
        Ok(done) if done.confirmed => {
            let mut text = done
                .years
                .iter()
                .map(|y| format!("{y}年"))
                .collect::<Vec<_>>()
                .join("、");
            text.push_str("的节假日安排");
            let computed = done
                .deadlines
                .iter()
                .filter(|d| d.due_date.is_some())
                .count();
            if computed > 0 {
                text.push_str(&format!("，并确定了{computed}件待定办件的承诺办结日期"));
            }
            view(&state, &p, &ctx, Some(text), vec![], None).await
        }
        Ok(preview) => {
            let preview = Preview {
                csv,
                revision: preview.revision,
                diff: preview.diff,
                allow_partial,
                pending_cases: preview.pending_cases,
            };
            view(&state, &p, &ctx, None, vec![], Some(preview)).await
        }
        Err(AppError::Invalid(f)) => view(&state, &p, &ctx, None, f.0, None).await,
        Err(AppError::Conflict { code, message }) => {
            let e = FieldError {
                field: "csv".into(),
                code: code.into(),
                message,
            };
            view(&state, &p, &ctx, None, vec![e], None).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn calendar_api(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let cal = state.calendar().await?;
    Ok(Json(json!({
        "years": cal.covered_years(),
        "days": cal.special_days().collect::<Vec<_>>(),
        "warning": cal.missing_next_year_warning(local_date(state.now())),
        "pending_deadlines": calendar::pending_deadlines(state.store.reader())
            .await?
            .iter()
            .map(|(year, cases)| json!({ "year": year, "cases": cases }))
            .collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct ImportQuery {
    /// `true` replaces the years; otherwise the answer is the preview only.
    #[serde(default)]
    confirm: bool,
    /// The revision of the preview being confirmed (optional; refused if it moved).
    revision: Option<i64>,
    /// `true`: years that do not look like a whole notice are meant (else refused).
    #[serde(default)]
    allow_partial: bool,
}

async fn import_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<ImportQuery>,
    body: String,
) -> ApiResult<Json<ImportOutcome>> {
    Ok(Json(
        import(
            &state,
            &p,
            &body,
            q.confirm,
            q.revision,
            if q.allow_partial {
                PartialYears::Allow
            } else {
                PartialYears::Refuse
            },
        )
        .await?,
    ))
}

#[derive(Deserialize)]
struct DueQuery {
    date: NaiveDate,
    n: u32,
}

/// `N` working days after `date` (day 0), by the stored calendar.
async fn due_api(
    State(state): State<AppState>,
    Query(q): Query<DueQuery>,
) -> ApiResult<Json<Value>> {
    let cal = state.calendar().await?;
    let due = cal
        .add_working_days(q.date, q.n)
        .map_err(|e| AppError::invalid("date", e.code(), e.to_string()))?;
    Ok(Json(json!({ "date": q.date, "n": q.n, "due": due })))
}

async fn settings_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
) -> ApiResult<Json<Value>> {
    p.require(Permission::ManageCalendar)?;
    let mut out = serde_json::Map::new();
    for (key, _, label, min, max) in settings::INT_SETTINGS {
        out.insert(
            key.to_string(),
            json!({ "value": settings::get_int(state.store.reader(), key).await?, "label": label, "min": min, "max": max }),
        );
    }
    Ok(Json(Value::Object(out)))
}

#[derive(Deserialize)]
struct SettingBody {
    value: i64,
}

async fn set_setting_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(key): Path<String>,
    ApiJson(b): ApiJson<SettingBody>,
) -> ApiResult<Json<Value>> {
    // Settings are global (one value for the whole installation): changed at the root.
    authorize_reference_data(&p.actor(), ReferenceData::Settings)?;
    let mut tx = state.store.begin().await?;
    settings::set_int(&mut tx, &state.change(p.user.who()), &key, b.value).await?;
    tx.commit().await?;
    Ok(Json(json!({ "key": key, "value": b.value })))
}
