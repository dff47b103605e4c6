//! The grid figures (issue 14 §7): events by category and grid, 按时响应率, 按时办结率,
//! 办结率, 跨部门协同事项完成率 (against the seed's 90 %) and 重新处置率 — per grid,
//! community, street, lead department or category, for any period, from the daily rollup.
//! The formulas are `onewindow_domain::grid::Counts`; the page and the API share
//! [`figures`].

use crate::chrome::Chrome;
use crate::context::{ApiUser, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::pages::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use onewindow_domain::access::Permission;
use onewindow_domain::grid::{Counts, CROSS_DEPARTMENT_TARGET_PERMILLE};
use onewindow_store::grid::figures::{self as store, By};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/grid/figures", get(figures_page))
        .route("/api/v1/grid/figures", get(figures_api))
}

#[derive(Debug, Deserialize, Default)]
pub struct FiguresQuery {
    #[serde(default)]
    pub by: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
}

/// One unit's counters and rates.
pub struct RatesRow {
    pub id: i64,
    pub name: String,
    pub counts: Counts,
    pub responded_on_time: String,
    pub closed_on_time: String,
    pub closure: String,
    pub cross_department: String,
    /// Undefined (no cross-department events): no verdict.
    pub meets_cross_department_target: Option<bool>,
    pub reopen: String,
}

fn rates(r: store::Row_) -> RatesRow {
    let c = r.counts;
    RatesRow {
        id: r.id,
        name: r.name,
        responded_on_time: c.responded_on_time_rate().percent_text(),
        closed_on_time: c.closed_on_time_rate().percent_text(),
        closure: c.closure_rate().percent_text(),
        cross_department: c.cross_department_rate().percent_text(),
        meets_cross_department_target: c.meets_cross_department_target(),
        reopen: c.reopen_rate().percent_text(),
        counts: c,
    }
}

fn date(field: &str, v: Option<&str>, default: NaiveDate) -> Result<NaiveDate, AppError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| AppError::invalid(field, "invalid_date", "日期格式应为YYYY-MM-DD")),
    }
}

/// The period (default: the last 30 days to today, Beijing time), the grouping (default:
/// grid) and the rows of the caller's scope: the streets inside it — or, for a department
/// (`HandleGridEvents` without `ViewGridEvents`), the events it leads.
pub async fn figures(
    state: &AppState,
    p: &Principal,
    q: &FiguresQuery,
) -> Result<(NaiveDate, NaiveDate, By, Vec<RatesRow>), AppError> {
    let department = match p.authorize(Permission::ViewGridEvents, &p.user.org_path) {
        Ok(()) => None,
        Err(denied) => {
            p.authorize(Permission::HandleGridEvents, &p.user.org_path)
                .map_err(|_| denied)?;
            Some(p.user.org_id)
        }
    };
    let today = onewindow_store::clock::local_date(state.now());
    let from = date(
        "from",
        q.from.as_deref(),
        today - chrono::Duration::days(29),
    )?;
    let to = date("to", q.to.as_deref(), today)?;
    if to < from {
        return Err(AppError::invalid(
            "to",
            "before_from",
            "结束日期不能早于开始日期",
        ));
    }
    let by = By::parse(q.by.as_deref().unwrap_or("grid")).ok_or_else(|| {
        AppError::invalid(
            "by",
            "unknown_value",
            "统计口径只能是网格、社区、街道、牵头部门或事件类别（grid、community、street、department、category）",
        )
    })?;
    let rows = store::figures(
        state.store.reader(),
        by,
        &p.user.org_path,
        department,
        &from.to_string(),
        &to.to_string(),
    )
    .await?;
    Ok((from, to, by, rows.into_iter().map(rates).collect()))
}

#[derive(Template)]
#[template(path = "grid_figures.html")]
struct FiguresPage {
    chrome: Chrome,
    from: String,
    to: String,
    by: By,
    dimensions: Vec<(&'static str, &'static str)>,
    rows: Vec<RatesRow>,
    target: String,
}

async fn figures_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<FiguresQuery>,
) -> PageResult {
    let (from, to, by, rows) = figures(&state, &p, &q).await?;
    render(&FiguresPage {
        chrome: Chrome::new(&state, &ctx, "网格事件统计"),
        from: from.to_string(),
        to: to.to_string(),
        by,
        dimensions: By::ALL.iter().map(|b| (b.as_str(), b.label())).collect(),
        rows,
        target: format!("{}%", CROSS_DEPARTMENT_TARGET_PERMILLE / 10),
    })
}

/// The formulas as the API states them.
fn definitions() -> Value {
    json!({
        "responded_on_time": "时限内签收（或社区直接处置）的事件数 ÷ 上报事件数（不含重复）",
        "closed_on_time": "时限内办结的事件数 ÷ 办结事件数",
        "closure": "办结事件数 ÷ 上报事件数（不含重复）",
        "cross_department": "有协办部门的事件中办结数 ÷ 有协办部门的事件数（目标90%以上）",
        "reopen": "被退回重新处置过的事件数 ÷ 处置过的事件数",
    })
}

/// The figures per grid, community, street, department or category of the caller's scope.
async fn figures_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<FiguresQuery>,
) -> ApiResult<Json<Value>> {
    let (from, to, by, rows) = figures(&state, &p, &q).await?;
    let rate = |r: onewindow_domain::figures::Rate| r.per_mille();
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            let c = &r.counts;
            json!({
                "id": r.id, "name": r.name, "counts": c,
                "responded_on_time_permille": rate(c.responded_on_time_rate()),
                "closed_on_time_permille": rate(c.closed_on_time_rate()),
                "closure_permille": rate(c.closure_rate()),
                "cross_department_permille": rate(c.cross_department_rate()),
                "meets_cross_department_target": r.meets_cross_department_target,
                "reopen_permille": rate(c.reopen_rate()),
            })
        })
        .collect();
    Ok(Json(json!({
        "from": from.to_string(), "to": to.to_string(), "by": by.as_str(),
        "definitions": definitions(), "items": items,
    })))
}
