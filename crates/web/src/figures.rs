//! Figures for supervisors, read from the rollups (`store::figures`, `store::visits`)
//! inside the caller's scope, with the formulas of `domain::figures` and `domain::visits`:
//! 即审即办率 (`/api/v1/figures/intake`), 一次办结率 per hall and item
//! (`/api/v1/figures/visits`), and the page showing both (`/figures`).

use crate::chrome::Chrome;
use crate::context::{ApiUser, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::lists::parse_day;
use crate::pages::render_form;
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Datelike, NaiveDate};
use onewindow_domain::access::Permission;
use onewindow_domain::figures::{window_approval_share, Rate};
use onewindow_domain::validation::{self, FieldError, FieldErrors};
use onewindow_domain::visits::one_visit_rate;
use onewindow_store::clock::local_date;
use onewindow_store::figures::IntakeFigures;
use onewindow_store::visits::{OneVisitFigures, OneVisitLine};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/figures", get(figures_page))
        .route("/api/v1/figures/intake", get(intake_api))
        .route("/api/v1/figures/visits", get(visits_api))
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

/// A checked period and item: `[from, to]` (default: this month so far).
struct Period {
    from: NaiveDate,
    to: NaiveDate,
    item: Option<String>,
}

fn period(state: &AppState, q: &PeriodQuery) -> Result<Period, FieldErrors> {
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
    Ok(Period {
        from: from.expect("checked"),
        to: to.expect("checked"),
        item: Some(q.item.trim().to_string()).filter(|i| !i.is_empty()),
    })
}

/// Both figures of a period in the caller's scope (their organisation and below).
struct Figures {
    intake: IntakeFigures,
    visits: OneVisitFigures,
    by_hall: Vec<OneVisitLine>,
    by_item: Vec<OneVisitLine>,
}

async fn figures(state: &AppState, p: &Principal, period: &Period) -> Result<Figures, AppError> {
    p.require(Permission::ViewCases)?;
    let mut conn = state
        .store
        .reader()
        .acquire()
        .await
        .map_err(AppError::from)?;
    let item = period.item.as_deref();
    let intake =
        onewindow_store::figures::intake(&mut conn, &p.user.org_path, period.from, period.to, item)
            .await?;
    let (visits, by_hall, by_item) = onewindow_store::visits::one_visit_figures(
        &mut conn,
        &p.user.org_path,
        period.from,
        period.to,
        item,
    )
    .await?;
    Ok(Figures {
        intake,
        visits,
        by_hall,
        by_item,
    })
}

fn rate_json(r: Rate) -> (Option<f64>, String) {
    (r.per_mille().map(|m| m as f64 / 1000.0), r.percent_text())
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
    let period = period(&state, &q)?;
    let f = figures(&state, &p, &period).await?.intake;
    let (share, text) = rate_json(window_approval_share(f.accepted, f.approved_at_window));
    Ok(Json(json!({
        "from": period.from,
        "to": period.to,
        "org_id": p.user.org_id,
        "accepted": f.accepted,
        "approved_at_window": f.approved_at_window,
        "window_approval_share": share,
        "window_approval_share_text": text,
    })))
}

fn line_json(l: &OneVisitLine, key: &str) -> Value {
    let (rate, text) = rate_json(one_visit_rate(l.issued, l.in_one_visit));
    // An organisation by its id (a number), an item by its code.
    let id = match key {
        "org_id" => l.key.parse::<i64>().map(Value::from).unwrap_or(Value::Null),
        _ => Value::from(l.key.clone()),
    };
    json!({
        key: id,
        "name": l.name,
        "issued": l.issued,
        "in_one_visit": l.in_one_visit,
        "one_visit_rate": rate,
        "one_visit_rate_text": text,
    })
}

/// `GET /api/v1/figures/visits`: 一次办结率 — cases issued in `[from, to]` and of those the
/// ones done in one visit, in the caller's scope, in total, per hall (intake organisation)
/// and per item.
async fn visits_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Json<Value>> {
    p.require(Permission::ViewCases)?;
    let period = period(&state, &q)?;
    let f = figures(&state, &p, &period).await?;
    let (rate, text) = rate_json(one_visit_rate(f.visits.issued, f.visits.in_one_visit));
    Ok(Json(json!({
        "from": period.from,
        "to": period.to,
        "org_id": p.user.org_id,
        "issued": f.visits.issued,
        "in_one_visit": f.visits.in_one_visit,
        "one_visit_rate": rate,
        "one_visit_rate_text": text,
        "by_hall": f.by_hall.iter().map(|l| line_json(l, "org_id")).collect::<Vec<_>>(),
        "by_item": f.by_item.iter().map(|l| line_json(l, "item_code")).collect::<Vec<_>>(),
    })))
}

/// A line of the page's tables.
pub struct FigureLine {
    pub name: String,
    pub issued: i64,
    pub in_one_visit: i64,
    pub rate: String,
}

fn page_lines(lines: &[OneVisitLine]) -> Vec<FigureLine> {
    lines
        .iter()
        .map(|l| FigureLine {
            name: l.name.clone(),
            issued: l.issued,
            in_one_visit: l.in_one_visit,
            rate: one_visit_rate(l.issued, l.in_one_visit).percent_text(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "figures.html")]
struct FiguresPage {
    chrome: Chrome,
    from: String,
    to: String,
    item: String,
    org_name: String,
    errors: Vec<FieldError>,
    accepted: i64,
    approved_at_window: i64,
    window_share: String,
    issued: i64,
    in_one_visit: i64,
    one_visit: String,
    by_hall: Vec<FigureLine>,
    by_item: Vec<FigureLine>,
}

/// `/figures`: 即审即办率 and 一次办结率 of a period in the caller's scope.
async fn figures_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<PeriodQuery>,
) -> PageResult {
    p.require(Permission::ViewCases)?;
    let chrome = Chrome::new(&state, &ctx, "办件统计");
    let (period, errors) = match period(&state, &q) {
        Ok(period) => (period, vec![]),
        Err(e) => (
            period(&state, &PeriodQuery::default()).expect("the default period is valid"),
            e.0,
        ),
    };
    let f = figures(&state, &p, &period).await?;
    let refused = !errors.is_empty();
    render_form(
        &FiguresPage {
            chrome,
            from: period.from.to_string(),
            to: period.to.to_string(),
            item: period.item.clone().unwrap_or_default(),
            org_name: p.user.org_name.clone(),
            errors,
            accepted: f.intake.accepted,
            approved_at_window: f.intake.approved_at_window,
            window_share: window_approval_share(f.intake.accepted, f.intake.approved_at_window)
                .percent_text(),
            issued: f.visits.issued,
            in_one_visit: f.visits.in_one_visit,
            one_visit: one_visit_rate(f.visits.issued, f.visits.in_one_visit).percent_text(),
            by_hall: page_lines(&f.by_hall),
            by_item: page_lines(&f.by_item),
        },
        refused,
    )
}
