//! The rates of 接诉即办 (响应率、解决率、满意率, on-time, repeat, feedback, 退单) per
//! department or category for any period, and the monthly ranking of departments. The
//! formulas are `onewindow_domain::complaints::Counts`; the numbers come from the rollup.

use crate::chrome::Chrome;
use crate::context::{ApiUser, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::pages::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Datelike, NaiveDate};
use onewindow_domain::access::Permission;
use onewindow_domain::complaints::Counts;
use onewindow_store::complaints::figures::{self as store, By, FigureRow};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/complaints/figures", get(figures_page))
        .route("/api/v1/complaints/figures", get(figures_api))
        .route("/api/v1/complaints/ranking", get(ranking_api))
}

#[derive(Debug, Deserialize, Default)]
pub struct FiguresQuery {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub by: Option<String>,
    /// The ranking's month, `YYYY-MM`.
    #[serde(default)]
    pub month: Option<String>,
}

/// A row with its rates as text and per mille.
#[derive(Debug, Clone, Serialize)]
pub struct RatesRow {
    pub id: i64,
    pub name: String,
    pub counts: Counts,
    pub response: String,
    pub solution: String,
    pub satisfaction: String,
    pub on_time: String,
    pub repeat: String,
    pub feedback: String,
    pub returns: String,
    /// The ranking's score, out of 100.
    pub score: String,
}

fn rates(r: FigureRow) -> RatesRow {
    let c = r.counts;
    let score = c.composite_tenths();
    RatesRow {
        id: r.id,
        name: r.name,
        response: c.response_rate().percent_text(),
        solution: c.solution_rate().percent_text(),
        satisfaction: c.satisfaction_rate().percent_text(),
        on_time: c.on_time_rate().percent_text(),
        repeat: c.repeat_rate().percent_text(),
        feedback: c.feedback_rate().percent_text(),
        returns: c.return_rate().percent_text(),
        score: format!("{}.{}", score / 10, score % 10),
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

fn month(v: Option<&str>, today: NaiveDate) -> Result<NaiveDate, AppError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(today.with_day(1).unwrap_or(today)),
        Some(s) => NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
            .map_err(|_| AppError::invalid("month", "invalid_month", "月份格式应为YYYY-MM")),
    }
}

/// The figures of the caller's scope: rows per department or category, and the ranking.
pub async fn figures(
    state: &AppState,
    p: &Principal,
    q: &FiguresQuery,
) -> Result<
    (
        NaiveDate,
        NaiveDate,
        By,
        Vec<RatesRow>,
        NaiveDate,
        Vec<RatesRow>,
    ),
    AppError,
> {
    p.authorize(Permission::ViewComplaints, &p.user.org_path)?;
    let today = onewindow_store::clock::local_date(state.now());
    let from = date(
        "from",
        q.from.as_deref(),
        today.with_day(1).unwrap_or(today),
    )?;
    let to = date("to", q.to.as_deref(), today)?;
    if to < from {
        return Err(AppError::invalid(
            "to",
            "before_from",
            "结束日期不能早于开始日期",
        ));
    }
    let by = match q.by.as_deref().unwrap_or("department") {
        "department" => By::Department,
        "category" => By::Category,
        _ => {
            return Err(AppError::invalid(
                "by",
                "unknown_dimension",
                "请选择按部门或按分类",
            ))
        }
    };
    let pool = state.store.reader();
    let rows = store::rows(pool, &p.user.org_path, by, from, to)
        .await?
        .into_iter()
        .map(rates)
        .collect();
    let m = month(q.month.as_deref(), today)?;
    let ranking = store::ranking(pool, &p.user.org_path, m)
        .await?
        .into_iter()
        .map(rates)
        .collect();
    Ok((from, to, by, rows, m, ranking))
}

#[derive(Template)]
#[template(path = "complaints_figures.html")]
struct FiguresPage {
    chrome: Chrome,
    from: String,
    to: String,
    by_category: bool,
    rows: Vec<RatesRow>,
    month: String,
    ranking: Vec<RatesRow>,
}

async fn figures_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<FiguresQuery>,
) -> PageResult {
    let (from, to, by, rows, m, ranking) = figures(&state, &p, &q).await?;
    render(&FiguresPage {
        chrome: Chrome::new(&state, &ctx, "接诉即办统计"),
        from: from.to_string(),
        to: to.to_string(),
        by_category: by == By::Category,
        rows,
        month: m.format("%Y-%m").to_string(),
        ranking,
    })
}

/// The formulas as the API states them (the domain's words).
fn definitions() -> Value {
    json!({
        "response_rate": "按时签收数 ÷ 派单数",
        "solution_rate": "回访已解决数 ÷ 回访数",
        "satisfaction_rate": "（满意＋基本满意）÷ 回访数",
        "on_time_rate": "时限内答复数 ÷ 答复数",
        "repeat_rate": "合并的重复诉求数 ÷ 诉求数",
        "feedback_rate": "已告知结果数 ÷ 办结数",
        "return_rate": "退单数 ÷ 派单数",
        "score": "响应率×10% ＋ 解决率×45% ＋ 满意率×45%",
    })
}

async fn figures_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<FiguresQuery>,
) -> ApiResult<Json<Value>> {
    let (from, to, by, rows, _, _) = figures(&state, &p, &q).await?;
    Ok(Json(json!({
        "from": from.to_string(), "to": to.to_string(),
        "by": if by == By::Category { "category" } else { "department" },
        "definitions": definitions(), "items": rows,
    })))
}

async fn ranking_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<FiguresQuery>,
) -> ApiResult<Json<Value>> {
    let (_, _, _, _, m, ranking) = figures(&state, &p, &q).await?;
    Ok(Json(json!({
        "month": m.format("%Y-%m").to_string(), "definitions": definitions(), "items": ranking,
    })))
}
