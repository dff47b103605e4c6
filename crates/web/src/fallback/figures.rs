//! The fallback window's figures (issue 12 item 8), the ledger (台账) with its CSV and XLSX
//! exports, the hall's public progress screen (可视化大屏) and the monthly notice to
//! departments (双回路, the departments' half). Figures read only the rollup
//! (`onewindow_store::fallback::figures`); formulas are `onewindow_domain::fallback::figures`.
//!
//! Figures, ledger and notice need `ViewFallback` over the caller's organisation and read
//! only windows inside it; the screen is public and carries no personal data.

use crate::chrome::Chrome;
use crate::context::{ApiUser, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::pages::{render, render_form};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use onewindow_domain::access::Permission;
use onewindow_domain::fallback::figures::{self as f, Counts, Metric};
use onewindow_domain::fallback::State as CaseState;
use onewindow_domain::figures::Rate;
use onewindow_domain::validation::{FieldError, FieldErrors};
use onewindow_store::clock::local_date;
use onewindow_store::fallback::figures::{
    self as store, DeptRefusals, Figures, LedgerFilter, LedgerRow, Notice, Screen,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/fallback/figures", get(figures_api))
        .route("/api/v1/fallback/ledger", get(ledger_api))
        .route("/api/v1/fallback/ledger.csv", get(ledger_csv))
        .route("/api/v1/fallback/ledger.xlsx", get(ledger_xlsx))
        .route("/api/v1/fallback/notice", get(notice_api))
        .route("/fallback/figures", get(figures_page))
        .route("/fallback/ledger", get(ledger_page))
        .route("/fallback/notice", get(notice_page))
        .route("/fallback/screen/{org_code}", get(screen_page))
}

/// Longest query value taken (dates, a month, a state, ids).
const QUERY_MAX: usize = 32;

fn check_len(errors: &mut FieldErrors, field: &str, v: &str) {
    if v.chars().count() > QUERY_MAX {
        errors.add(field, "too_long", format!("最多{QUERY_MAX}个字符"));
    }
}

// ---- figures ----------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PeriodQuery {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    /// One window organisation inside the caller's scope, by its code (default: the
    /// caller's whole scope).
    #[serde(default)]
    pub org: String,
}

/// The organisations read: the caller's scope, or the one named by `org` (its code) when it
/// lies inside it — an unknown code is 422 `unknown` on `org`, one outside the scope 403.
async fn scope_of(
    state: &AppState,
    p: &Principal,
    org: &str,
) -> Result<onewindow_domain::org::OrgPath, AppError> {
    p.authorize(Permission::ViewFallback, &p.user.org_path)?;
    let code = org.trim();
    if code.is_empty() {
        return Ok(p.user.org_path.clone());
    }
    if code.chars().count() > 64 {
        return Err(AppError::invalid("org", "too_long", "机构编码最多64个字符"));
    }
    let o = onewindow_store::orgs::find_by_code(state.store.reader(), code)
        .await?
        .ok_or_else(|| AppError::invalid("org", "unknown", "没有这个机构编码"))?;
    p.authorize(Permission::ViewFallback, &o.path)?;
    Ok(o.path)
}

fn period(state: &AppState, from: &str, to: &str) -> Result<(NaiveDate, NaiveDate), AppError> {
    let mut errors = FieldErrors::new();
    check_len(&mut errors, "from", from);
    check_len(&mut errors, "to", to);
    errors.into_result()?;
    Ok(store::period(from, to, local_date(state.now()))?)
}

/// A rate as JSON: the fraction (0.75) and its text (75.0%).
#[derive(Debug, Clone, Serialize)]
pub struct RateOut {
    pub numerator: i64,
    pub denominator: i64,
    pub rate: Option<f64>,
    pub text: String,
}

fn rate(r: Rate) -> RateOut {
    RateOut {
        numerator: r.numerator,
        denominator: r.denominator,
        rate: r.per_mille().map(|m| m as f64 / 1000.0),
        text: r.percent_text(),
    }
}

/// A figure with its target (the seed's), and whether it is met.
#[derive(Debug, Clone, Serialize)]
pub struct Average {
    pub value: Option<f64>,
    pub text: String,
    pub target: String,
    pub met: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutcomeOut {
    pub outcome: &'static str,
    pub label: &'static str,
    pub cases: i64,
    pub share: RateOut,
}

/// Every figure of one unit, each by the domain's formula.
#[derive(Debug, Clone, Serialize)]
pub struct FigureSet {
    pub received: i64,
    pub refused: i64,
    pub concluded: i64,
    pub respond_rate: RateOut,
    pub coordinate_rate: RateOut,
    pub close_rate: RateOut,
    pub solve_rate: RateOut,
    pub outcomes: Vec<OutcomeOut>,
    pub complex_days: Average,
    pub rounds_per_case: Average,
    pub adoption_rate: RateOut,
    pub adoption_target: String,
    pub adoption_met: Option<bool>,
    pub satisfaction: RateOut,
    pub extended: i64,
}

fn average(t: Option<i64>, target: i64) -> Average {
    Average {
        value: t.map(|t| t as f64 / 10.0),
        text: f::tenths_text(t),
        target: format!("≤ {target}"),
        met: f::at_most(t, target),
    }
}

pub fn figure_set(c: &Counts) -> FigureSet {
    let adoption = f::adoption_rate(c);
    FigureSet {
        received: c.get(Metric::Received),
        refused: c.get(Metric::Refused),
        concluded: c.get(Metric::Concluded),
        respond_rate: rate(f::respond_rate(c)),
        coordinate_rate: rate(f::coordinate_rate(c)),
        close_rate: rate(f::close_rate(c)),
        solve_rate: rate(f::solve_rate(c)),
        outcomes: f::outcome_breakdown(c)
            .into_iter()
            .map(|(o, n, share)| OutcomeOut {
                outcome: o.as_str(),
                label: o.label(),
                cases: n,
                share: rate(share),
            })
            .collect(),
        complex_days: average(f::complex_days_tenths(c), f::TARGET_COMPLEX_DAYS),
        rounds_per_case: average(f::rounds_tenths(c), f::TARGET_ROUNDS),
        adoption_target: format!("≥ {}%", f::TARGET_ADOPTION_PERMILLE / 10),
        adoption_met: adoption
            .per_mille()
            .map(|m| m >= f::TARGET_ADOPTION_PERMILLE),
        adoption_rate: rate(adoption),
        satisfaction: rate(f::satisfaction_rate(c)),
        extended: c.get(Metric::Extended),
    }
}

async fn load_figures(
    state: &AppState,
    p: &Principal,
    scope: &onewindow_domain::org::OrgPath,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Figures, AppError> {
    p.authorize(Permission::ViewFallback, &p.user.org_path)?;
    Ok(store::figures(state.store.reader(), scope, from, to).await?)
}

fn figures_json(from: NaiveDate, to: NaiveDate, p: &Principal, fig: &Figures) -> Value {
    json!({
        "from": from,
        "to": to,
        "org_id": p.user.org_id,
        "total": figure_set(&fig.total),
        "by_org": fig.by_org.iter().map(|o| {
            let mut v = json!(figure_set(&o.counts));
            v["org_id"] = json!(o.org_id);
            v["org_name"] = json!(o.org_name);
            v["org_code"] = json!(o.org_code);
            v
        }).collect::<Vec<_>>(),
        "refusal_reports_by_department": fig.by_dept,
    })
}

/// `GET /api/v1/fallback/figures`: the fallback window's figures over `[from, to]` for the
/// windows in the caller's scope, in total and per window organisation.
async fn figures_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Json<Value>> {
    p.authorize(Permission::ViewFallback, &p.user.org_path)?;
    let (from, to) = period(&state, &q.from, &q.to)?;
    let scope = scope_of(&state, &p, &q.org).await?;
    let fig = load_figures(&state, &p, &scope, from, to).await?;
    Ok(Json(figures_json(from, to, &p, &fig)))
}

pub struct OrgLine {
    pub name: String,
    pub code: String,
    pub set: FigureSet,
}

#[derive(Template)]
#[template(path = "fallback_figures.html")]
struct FiguresPage {
    chrome: Chrome,
    org_name: String,
    from: String,
    to: String,
    org: String,
    errors: Vec<FieldError>,
    total: FigureSet,
    by_org: Vec<OrgLine>,
    by_dept: Vec<DeptRefusals>,
}

/// Splits a page's input error from the defaults it falls back to.
fn or_default<T>(
    r: Result<T, AppError>,
    default: impl FnOnce() -> Result<T, AppError>,
) -> Result<(T, Vec<FieldError>), AppError> {
    match r {
        Ok(v) => Ok((v, vec![])),
        Err(AppError::Invalid(e)) => Ok((default()?, e.0)),
        Err(e) => Err(e),
    }
}

/// `/fallback/figures`: the figures with their formulas and the seed's targets.
async fn figures_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<PeriodQuery>,
) -> PageResult {
    p.authorize(Permission::ViewFallback, &p.user.org_path)?;
    let chrome = Chrome::new(&state, &ctx, "办不成事统计");
    let ((from, to), mut errors) =
        or_default(period(&state, &q.from, &q.to), || period(&state, "", ""))?;
    let (scope, org_errors) = match scope_of(&state, &p, &q.org).await {
        Ok(s) => (s, vec![]),
        Err(AppError::Invalid(e)) => (p.user.org_path.clone(), e.0),
        Err(e) => return Err(e.into()),
    };
    errors.extend(org_errors);
    let fig = load_figures(&state, &p, &scope, from, to).await?;
    let refused = !errors.is_empty();
    render_form(
        &FiguresPage {
            chrome,
            org_name: p.user.org_name.clone(),
            from: from.to_string(),
            to: to.to_string(),
            org: q.org.trim().chars().take(64).collect(),
            errors,
            total: figure_set(&fig.total),
            by_org: fig
                .by_org
                .iter()
                .map(|o| OrgLine {
                    name: o.org_name.clone(),
                    code: o.org_code.clone().unwrap_or_default(),
                    set: figure_set(&o.counts),
                })
                .collect(),
            by_dept: fig.by_dept,
        },
        refused,
    )
}

// ---- the ledger -------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LedgerQuery {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub before: String,
    #[serde(default)]
    pub limit: String,
    /// One window organisation inside the caller's scope, by its code.
    #[serde(default)]
    pub org: String,
}

/// The checked ledger filter of a query.
fn ledger_filter(state: &AppState, q: &LedgerQuery) -> Result<LedgerFilter, AppError> {
    let mut errors = FieldErrors::new();
    for (field, v) in [
        ("from", &q.from),
        ("to", &q.to),
        ("state", &q.state),
        ("before", &q.before),
        ("limit", &q.limit),
    ] {
        check_len(&mut errors, field, v);
    }
    errors.into_result()?;
    let (from, to) = period(state, &q.from, &q.to)?;
    let mut errors = FieldErrors::new();
    let case_state = match q.state.trim() {
        "" => None,
        s => {
            let parsed = CaseState::parse(s);
            if parsed.is_none() {
                errors.add("state", "unknown", "没有这个案件状态");
            }
            parsed
        }
    };
    let before_id = match q.before.trim() {
        "" => None,
        b => match b.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                errors.add("before", "invalid", "before 应为正整数（案件编号 id）");
                None
            }
        },
    };
    let limit = match q.limit.trim() {
        "" => 50,
        l => match l.parse::<i64>() {
            Ok(n) if (1..=200).contains(&n) => n,
            _ => {
                errors.add("limit", "out_of_range", "每页条数为1到200");
                50
            }
        },
    };
    errors.into_result()?;
    Ok(LedgerFilter {
        from,
        to,
        state: case_state,
        before_id,
        limit,
    })
}

fn ledger_link(base: &str, f: &LedgerFilter, org: &str, before: Option<i64>) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    if !org.trim().is_empty() {
        s.append_pair("org", org.trim());
    }
    s.append_pair("from", &f.from.to_string());
    s.append_pair("to", &f.to.to_string());
    if let Some(st) = f.state {
        s.append_pair("state", st.as_str());
    }
    if let Some(b) = before {
        s.append_pair("before", &b.to_string());
        s.append_pair("limit", &f.limit.to_string());
    }
    format!("{base}?{}", s.finish())
}

async fn ledger_page_rows(
    state: &AppState,
    p: &Principal,
    scope: &onewindow_domain::org::OrgPath,
    f: &LedgerFilter,
) -> Result<(Vec<LedgerRow>, Option<i64>), AppError> {
    p.authorize(Permission::ViewFallback, &p.user.org_path)?;
    let rows = store::ledger(state.store.reader(), scope, f).await?;
    let next = (rows.len() as i64 == f.limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    Ok((rows, next))
}

/// `GET /api/v1/fallback/ledger`: a page of the ledger, newest first; follow `next`.
async fn ledger_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<LedgerQuery>,
) -> ApiResult<Json<Value>> {
    p.authorize(Permission::ViewFallback, &p.user.org_path)?;
    let filter = ledger_filter(&state, &q)?;
    let scope = scope_of(&state, &p, &q.org).await?;
    let (rows, next) = ledger_page_rows(&state, &p, &scope, &filter).await?;
    Ok(Json(json!({
        "from": filter.from,
        "to": filter.to,
        "items": rows,
        "next": next.map(|n| ledger_link("/api/v1/fallback/ledger", &filter, &q.org, Some(n))),
    })))
}

/// The ledger's columns, in the export's order.
const COLUMNS: [&str; 21] = [
    "案件编号",
    "受理时间",
    "窗口",
    "渠道",
    "类型",
    "响应层级",
    "状态",
    "问题概要",
    "反映人",
    "联系电话",
    "负责人",
    "标签",
    "办理结果",
    "1小时响应",
    "3个工作日协调",
    "7个工作日办结",
    "协调轮次",
    "否定答复",
    "延期",
    "id",
    "机构id",
];

fn flag(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "按时",
        Some(false) => "超时",
        None => "—",
    }
}

/// One line of the ledger as the export's (and page's) texts.
fn ledger_cells(r: &LedgerRow) -> [String; 21] {
    [
        r.case_no.clone(),
        r.received.clone(),
        r.org_name.clone(),
        r.channel.label().to_string(),
        r.case_type.label().to_string(),
        r.tier.label().to_string(),
        r.state.label().to_string(),
        r.title.clone(),
        r.person.clone(),
        r.phone.clone(),
        r.owner_name.clone().unwrap_or_default(),
        r.tags.join("、"),
        r.outcome.map(|o| o.label()).unwrap_or("—").to_string(),
        flag(r.responded_on_time).to_string(),
        flag(r.coordinated_on_time).to_string(),
        flag(r.concluded_on_time).to_string(),
        r.rounds.to_string(),
        r.refusal_reports.to_string(),
        if r.extended { "是" } else { "否" }.to_string(),
        r.id.to_string(),
        r.org_id.to_string(),
    ]
}

fn csv_field(s: &str) -> String {
    // A leading = + - @ would be read as a formula by a spreadsheet: quote it with '.
    let s = match s.chars().next() {
        Some('=' | '+' | '-' | '@') if s != "—" => format!("'{s}"),
        _ => s.to_string(),
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The ledger as CSV: UTF-8 with a BOM (so Excel reads the Chinese), CRLF lines.
pub fn ledger_csv_text(rows: &[LedgerRow]) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(&COLUMNS.map(csv_field).join(","));
    out.push_str("\r\n");
    for r in rows {
        out.push_str(&ledger_cells(r).map(|c| csv_field(&c)).join(","));
        out.push_str("\r\n");
    }
    out
}

fn ledger_workbook(rows: &[LedgerRow]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = wb.add_worksheet().set_name("办不成事台账")?;
    for (c, h) in COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        for (c, v) in ledger_cells(r).iter().enumerate() {
            match c {
                16 | 17 => sheet.write_number(row, c as u16, v.parse::<f64>().unwrap_or(0.0))?,
                _ => sheet.write_string(row, c as u16, v)?,
            };
        }
    }
    sheet.autofit();
    wb.save_to_buffer()
}

/// The whole ledger of the filter (paging ignored), and the export recorded in the audit
/// log with what it held.
async fn export_rows(
    state: &AppState,
    p: &Principal,
    q: &LedgerQuery,
    format: &str,
) -> Result<(LedgerFilter, Vec<LedgerRow>), AppError> {
    p.authorize(Permission::ViewFallback, &p.user.org_path)?;
    let filter = ledger_filter(state, q)?;
    let scope = scope_of(state, p, &q.org).await?;
    let rows = store::ledger_all(
        state.store.reader(),
        &scope,
        filter.from,
        filter.to,
        filter.state,
    )
    .await?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    store::record_export(
        &mut tx,
        &change,
        &scope,
        format,
        filter.from,
        filter.to,
        filter.state,
        &rows,
    )
    .await?;
    tx.commit().await?;
    Ok((filter, rows))
}

fn attachment(f: &LedgerFilter, ext: &str) -> String {
    format!(
        "attachment; filename=\"fallback-ledger-{}-{}.{ext}\"",
        f.from, f.to
    )
}

/// `GET /api/v1/fallback/ledger.csv`: the ledger of the filter as CSV (audited).
async fn ledger_csv(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<LedgerQuery>,
) -> ApiResult<Response> {
    let (filter, rows) = export_rows(&state, &p, &q, "csv").await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, attachment(&filter, "csv")),
        ],
        ledger_csv_text(&rows),
    )
        .into_response())
}

/// `GET /api/v1/fallback/ledger.xlsx`: the ledger of the filter as XLSX (audited).
async fn ledger_xlsx(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<LedgerQuery>,
) -> ApiResult<Response> {
    let (filter, rows) = export_rows(&state, &p, &q, "xlsx").await?;
    let body =
        ledger_workbook(&rows).map_err(|e| AppError::Internal(anyhow::anyhow!("xlsx: {e}")))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (header::CONTENT_DISPOSITION, attachment(&filter, "xlsx")),
        ],
        body,
    )
        .into_response())
}

pub struct LedgerLine {
    pub cells: [String; 21],
    pub id: i64,
}

#[derive(Template)]
#[template(path = "fallback_ledger.html")]
struct LedgerPage {
    chrome: Chrome,
    org_name: String,
    from: String,
    to: String,
    state: String,
    org: String,
    states: Vec<(&'static str, &'static str)>,
    errors: Vec<FieldError>,
    columns: Vec<&'static str>,
    lines: Vec<LedgerLine>,
    next: Option<String>,
    csv: String,
    xlsx: String,
}

/// `/fallback/ledger`: the ledger, a page at a time, with the export links.
async fn ledger_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<LedgerQuery>,
) -> PageResult {
    p.authorize(Permission::ViewFallback, &p.user.org_path)?;
    let chrome = Chrome::new(&state, &ctx, "办不成事台账");
    let (filter, mut errors) = or_default(ledger_filter(&state, &q), || {
        ledger_filter(&state, &LedgerQuery::default())
    })?;
    let (scope, org, org_errors) = match scope_of(&state, &p, &q.org).await {
        Ok(s) => (s, q.org.trim().to_string(), vec![]),
        Err(AppError::Invalid(e)) => (p.user.org_path.clone(), String::new(), e.0),
        Err(e) => return Err(e.into()),
    };
    errors.extend(org_errors);
    let (rows, next) = ledger_page_rows(&state, &p, &scope, &filter).await?;
    let refused = !errors.is_empty();
    let export = |ext: &str| {
        ledger_link(
            &format!("/api/v1/fallback/ledger.{ext}"),
            &filter,
            &org,
            None,
        )
    };
    render_form(
        &LedgerPage {
            chrome,
            org_name: p.user.org_name.clone(),
            from: filter.from.to_string(),
            to: filter.to.to_string(),
            state: filter.state.map(|s| s.as_str()).unwrap_or("").to_string(),
            states: CaseState::ALL
                .iter()
                .map(|s| (s.as_str(), s.label()))
                .collect(),
            errors,
            columns: COLUMNS[..19].to_vec(),
            lines: rows
                .iter()
                .map(|r| LedgerLine {
                    cells: ledger_cells(r),
                    id: r.id,
                })
                .collect(),
            next: next.map(|n| ledger_link("/fallback/ledger", &filter, &org, Some(n))),
            csv: export("csv"),
            xlsx: export("xlsx"),
            org: org.clone(),
        },
        refused,
    )
}

// ---- the monthly notice -----------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MonthQuery {
    #[serde(default)]
    pub month: String,
}

async fn load_notice(
    state: &AppState,
    p: &Principal,
    month: &str,
) -> Result<(String, Notice), AppError> {
    p.authorize(Permission::ViewFallback, &p.user.org_path)?;
    let mut errors = FieldErrors::new();
    check_len(&mut errors, "month", month);
    errors.into_result()?;
    let (from, to) = store::month(month, local_date(state.now()))?;
    let notice = store::notice(state.store.reader(), &p.user.org_path, from, to).await?;
    Ok((from.format("%Y-%m").to_string(), notice))
}

/// `GET /api/v1/fallback/notice?month=YYYY-MM`: the month's notice to departments.
async fn notice_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<MonthQuery>,
) -> ApiResult<Json<Value>> {
    let (month, n) = load_notice(&state, &p, &q.month).await?;
    let mut v = json!(n);
    v["month"] = json!(month);
    v["org_name"] = json!(p.user.org_name);
    Ok(Json(v))
}

#[derive(Template)]
#[template(path = "fallback_notice.html")]
struct NoticePage {
    chrome: Chrome,
    org_name: String,
    month: String,
    month_text: String,
    errors: Vec<FieldError>,
    notice: Notice,
    issued: String,
}

/// `/fallback/notice?month=YYYY-MM`: the printable monthly notice.
async fn notice_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<MonthQuery>,
) -> PageResult {
    p.authorize(Permission::ViewFallback, &p.user.org_path)?;
    let chrome = Chrome::new(&state, &ctx, "办不成事月度通报");
    let (month, notice, errors) = match load_notice(&state, &p, &q.month).await {
        Ok((m, n)) => (m, n, vec![]),
        Err(AppError::Invalid(e)) => {
            let (m, n) = load_notice(&state, &p, "").await?;
            (m, n, e.0)
        }
        Err(e) => return Err(e.into()),
    };
    let refused = !errors.is_empty();
    let month_text = format!("{}年{}月", &month[..4], month[5..].trim_start_matches('0'));
    render_form(
        &NoticePage {
            chrome,
            org_name: p.user.org_name.clone(),
            month,
            month_text,
            errors,
            notice,
            issued: local_date(state.now()).format("%Y年%m月%d日").to_string(),
        },
        refused,
    )
}

// ---- the hall screen --------------------------------------------------------------------

pub struct StageCount {
    pub label: &'static str,
    pub state: &'static str,
    pub n: i64,
}

#[derive(Template)]
#[template(path = "fallback_screen.html")]
struct ScreenPage {
    org_name: String,
    open_total: i64,
    stages: Vec<StageCount>,
    month_text: String,
    respond: String,
    coordinate: String,
    close: String,
    solve: String,
    concluded: i64,
    solved: Vec<String>,
    updated: String,
}

fn screen_page_of(s: Screen, now: i64) -> ScreenPage {
    use chrono::Datelike;
    let c = &s.month;
    ScreenPage {
        org_name: s.org_name.clone(),
        open_total: s.open.iter().map(|(_, n)| n).sum(),
        stages: s
            .open
            .iter()
            .map(|(st, n)| StageCount {
                label: st.label(),
                state: st.as_str(),
                n: *n,
            })
            .collect(),
        month_text: format!("{}年{}月", s.month_from.year(), s.month_from.month()),
        respond: f::respond_rate(c).percent_text(),
        coordinate: f::coordinate_rate(c).percent_text(),
        close: f::close_rate(c).percent_text(),
        solve: f::solve_rate(c).percent_text(),
        concluded: c.get(Metric::Concluded),
        solved: s.solved,
        updated: onewindow_store::clock::to_local(now)
            .format("%Y-%m-%d %H:%M")
            .to_string(),
    }
}

/// `/fallback/screen/{org_code}`: the hall's public progress screen (no login, no personal
/// data: counts, rates and the titles of solved cases), refreshing itself every minute.
async fn screen_page(State(state): State<AppState>, Path(code): Path<String>) -> PageResult {
    let now = state.now();
    let screen = store::screen(state.store.reader(), code.trim(), local_date(now)).await?;
    render(&screen_page_of(screen, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("—"), "—");
        assert_eq!(csv_field("历史遗留问题"), "历史遗留问题");
    }
}
