//! The working-day calendar for administrators (view, import the next year's
//! arrangement) and settings (deadline thresholds, supplement period).

use crate::chrome::Chrome;
use crate::context::{ApiUser, Ctx, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::ApiJson;
use crate::form::FormData;
use crate::pages::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::NaiveDate;
use onewindow_domain::access::Permission;
use onewindow_domain::calendar::{SpecialDay, WorkCalendar};
use onewindow_domain::validation::FieldError;
use onewindow_store::clock::local_date;
use onewindow_store::{calendar, settings};
use serde::Deserialize;
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

/// Replaces the years in a CSV arrangement (`date,kind,festival`).
pub async fn import(state: &AppState, p: &Principal, csv: &str) -> Result<Vec<i32>, AppError> {
    p.require(Permission::ManageCalendar)?;
    let cal = WorkCalendar::from_csv(csv)
        .map_err(|e| AppError::invalid("csv", e.code(), e.to_string()))?;
    let mut tx = state.store.begin().await?;
    let years = calendar::replace_years(&mut tx, &state.change(p.user.who()), &cal).await?;
    tx.commit().await?;
    Ok(years)
}

/// The admin's warning when next year's arrangement is missing (from December on).
pub async fn warning(state: &AppState) -> Result<Option<String>, AppError> {
    let cal = state.calendar().await?;
    Ok(cal.missing_next_year_warning(local_date(state.now())))
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    chrome: Chrome,
    years: Vec<i32>,
    days: Vec<SpecialDay>,
    warning: Option<String>,
    imported: Option<String>,
    errors: Vec<FieldError>,
}

async fn view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    imported: Option<String>,
    errors: Vec<FieldError>,
) -> PageResult {
    p.require(Permission::ManageCalendar)?;
    let cal = state.calendar().await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = render(&CalendarPage {
        chrome: Chrome::new(state, ctx, "工作日历"),
        years: cal.covered_years(),
        warning: cal.missing_next_year_warning(local_date(state.now())),
        days: cal.special_days().cloned().collect(),
        imported,
        errors,
    })?;
    *res.status_mut() = status;
    Ok(res)
}

async fn page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    view(&state, &p, &ctx, None, vec![]).await
}

async fn import_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    match import(&state, &p, form.get("csv")).await {
        Ok(years) => {
            let text = years
                .iter()
                .map(|y| format!("{y}年"))
                .collect::<Vec<_>>()
                .join("、");
            view(&state, &p, &ctx, Some(text), vec![]).await
        }
        Err(AppError::Invalid(f)) => view(&state, &p, &ctx, None, f.0).await,
        Err(e) => Err(e.into()),
    }
}

async fn calendar_api(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let cal = state.calendar().await?;
    Ok(Json(json!({
        "years": cal.covered_years(),
        "days": cal.special_days().collect::<Vec<_>>(),
        "warning": cal.missing_next_year_warning(local_date(state.now())),
    })))
}

async fn import_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    body: String,
) -> ApiResult<Json<Value>> {
    let years = import(&state, &p, &body).await?;
    Ok(Json(json!({ "years": years })))
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
    p.require(Permission::ManageCalendar)?;
    let mut tx = state.store.begin().await?;
    settings::set_int(&mut tx, &state.change(p.user.who()), &key, b.value).await?;
    tx.commit().await?;
    Ok(Json(json!({ "key": key, "value": b.value })))
}
