//! 好差评 (SPEC C4): the window rating device, the resident's online rating, staff entry of
//! callback ratings, the rectification of bad ratings (on the escalation engine), appeals
//! and the figures. Operations here are shared by the pages (`pages.rs`) and the API
//! below; the rules are `onewindow_domain::ratings`, the records `onewindow_store::ratings`.
//!
//! Scope: a rating and its rectification belong to the rated unit (a hall for a visit, the
//! deciding department for a case): staff read and answer them at that unit; entering a
//! callback rating is authorised at the hall that served the person; appeals are decided
//! by a supervisor over the unit, never by the one who filed them.

pub mod pages;

use crate::context::{ApiUser, Principal};
use crate::error::{ApiResult, AppError};
use crate::form::ApiJson;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use onewindow_domain::access::Permission;
use onewindow_domain::org::OrgPath;
use onewindow_domain::ratings::{
    self as rules, CallbackWay, Channel, Level, RectificationState, RectificationStep, Remedy,
    Tally,
};
use onewindow_store::audit::Who;
use onewindow_store::ratings::{
    self as store, Appeal, Device, NewRating, Rating, Rectification, SubjectRef, UnitCounts,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/ratings", get(list_api).post(enter_api))
        .route("/api/v1/ratings/online", post(online_api))
        .route("/api/v1/ratings/{id}", get(get_api))
        .route("/api/v1/ratings/{id}/appeal", post(appeal_api))
        .route("/api/v1/appeals", get(appeals_api))
        .route("/api/v1/appeals/{id}/decision", post(decide_api))
        .route(
            "/api/v1/figures/ratings/under-threshold",
            get(under_threshold_api),
        )
        .route("/api/v1/rectifications", get(rectifications_api))
        .route("/api/v1/rectifications/{id}", get(rectification_api))
        .route("/api/v1/rectifications/{id}/steps", post(step_api))
        .route("/api/v1/rectifications/{id}/sms-link", post(sms_link_api))
        .route("/api/v1/rectifications/{id}/contact", post(contact_api))
        .route("/api/v1/figures/ratings", get(figures_api))
        .route("/api/v1/figures/star-windows", get(star_windows_api))
        .route("/api/v1/rating-devices", post(pair_api))
        .route("/api/v1/rating-devices/{id}", delete(revoke_api))
        .route(
            "/api/v1/rating-device/{token}",
            get(prompt_api).post(device_rate_api),
        )
        .merge(pages::router())
}

// ---- input ------------------------------------------------------------------------------

/// A rating as given: the level by name (`very_satisfied` … `very_dissatisfied`), criteria
/// scores (criterion → 1..5), tags and a comment, all but the level optional.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RatingInput {
    #[serde(default)]
    pub level: String,
    /// Read wide, so a score out of range is the domain's refusal, not a parse error.
    #[serde(default)]
    pub scores: BTreeMap<String, i64>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub comment: String,
}

impl RatingInput {
    fn level(&self) -> Result<Level, AppError> {
        Level::parse(self.level.trim()).ok_or_else(|| {
            AppError::invalid("level", "no_level", rules::RatingError::NoLevel.to_string())
        })
    }

    fn new_rating(
        &self,
        subject: SubjectRef,
        channel: Channel,
        entered_by: Option<i64>,
    ) -> Result<NewRating, AppError> {
        let mut scores = Vec::new();
        for (k, v) in &self.scores {
            let stars = u8::try_from(*v).map_err(|_| {
                let e = rules::RatingError::BadScore;
                AppError::invalid(e.field(), e.code(), e.to_string())
            })?;
            scores.push((k.clone(), stars));
        }
        Ok(NewRating {
            subject,
            level: self.level()?,
            scores,
            tags: self.tags.clone(),
            comment: self.comment.clone(),
            channel,
            entered_by,
        })
    }
}

/// Records a rating under the settings the caller read (once per request).
async fn record(
    state: &AppState,
    settings: &store::RatingSettings,
    who: Who,
    new: &NewRating,
) -> Result<Rating, AppError> {
    let cal = state.calendar().await?;
    let change = state.change(who);
    let mut tx = state.store.begin().await?;
    let rating = store::rate(&mut tx, &change, &cal, settings, new).await?;
    tx.commit().await?;
    Ok(rating)
}

/// The resident rates a finished case online, with its number and query code (a wrong
/// code is indistinguishable from an unknown case).
pub async fn rate_online(
    state: &AppState,
    case_no: &str,
    code: &str,
    input: &RatingInput,
) -> Result<Rating, AppError> {
    let case = crate::cases::tracking::find_case(state, case_no, code).await?;
    let new = input.new_rating(SubjectRef::Case(case.id), Channel::Online, None)?;
    let settings = store::settings(state.store.reader()).await?;
    record(state, &settings, Who::system("rater"), &new).await
}

/// The device paired to a window: the rating of the visit it is prompting for, and only
/// that one.
pub async fn rate_on_device(
    state: &AppState,
    token: &str,
    ticket_id: i64,
    input: &RatingInput,
) -> Result<Rating, AppError> {
    let device = store::device_by_token(state.store.reader(), token)
        .await
        .map_err(|_| AppError::NotFound)?;
    let settings = store::settings(state.store.reader()).await?;
    let prompt = store::device_prompt(
        state.store.reader(),
        &device,
        state.now(),
        settings.device_prompt_minutes,
    )
    .await?;
    if prompt.map(|t| t.id) != Some(ticket_id) {
        return Err(AppError::Conflict {
            code: "no_prompt",
            message: "评价器当前没有待评价的服务，或已经评价过了".into(),
        });
    }
    let new = input.new_rating(SubjectRef::Ticket(ticket_id), Channel::WindowDevice, None)?;
    record(
        state,
        &settings,
        Who::system(&format!("rating-device-{}", device.id)),
        &new,
    )
    .await
}

/// What staff enter for a resident's phone or SMS callback rating.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EnterInput {
    /// The case rated (一事一评), by its number; or `ticket_id` for a visit.
    #[serde(default)]
    pub case_no: String,
    pub ticket_id: Option<i64>,
    #[serde(default)]
    pub channel: String,
    #[serde(flatten)]
    pub rating: RatingInput,
}

pub async fn enter_rating(
    state: &AppState,
    p: &Principal,
    input: &EnterInput,
) -> Result<Rating, AppError> {
    let channel = Channel::parse(input.channel.trim())
        .filter(|c| c.entered_by_staff())
        .ok_or_else(|| {
            AppError::invalid("channel", "unknown", "请选择评价渠道（电话回访或短信评价）")
        })?;
    let (subject, hall_path) = if let Some(t) = input.ticket_id {
        let ticket = onewindow_store::queue::ticket(state.store.reader(), t)
            .await
            .map_err(|_| AppError::NotFound)?;
        let hall = onewindow_store::orgs::get(state.store.reader(), ticket.hall_id).await?;
        (SubjectRef::Ticket(t), hall.path)
    } else {
        let no = onewindow_domain::validation::halfwidth(&input.case_no)
            .trim()
            .to_ascii_uppercase();
        if no.is_empty() {
            return Err(AppError::invalid("case_no", "required", "请填写办件编号"));
        }
        let case = onewindow_store::cases::by_number(state.store.reader(), &no)
            .await
            .map_err(|_| AppError::invalid("case_no", "unknown", "没有这个办件编号"))?;
        (SubjectRef::Case(case.id), case.intake_path)
    };
    p.authorize(Permission::EnterRatings, &hall_path)?;
    let new = input.rating.new_rating(subject, channel, Some(p.user.id))?;
    let settings = store::settings(state.store.reader()).await?;
    record(state, &settings, p.user.who(), &new).await
}

// ---- reading ------------------------------------------------------------------------------

async fn unit_path(state: &AppState, org_id: i64) -> Result<OrgPath, AppError> {
    Ok(onewindow_store::orgs::get(state.store.reader(), org_id)
        .await?
        .path)
}

/// A rating the caller may read (the rated unit in scope); otherwise 404 or 403.
pub async fn get_rating(state: &AppState, p: &Principal, id: i64) -> Result<Rating, AppError> {
    let r = store::get(state.store.reader(), id)
        .await
        .map_err(|_| AppError::NotFound)?;
    p.authorize_visible(
        Permission::ViewRatings,
        &unit_path(state, r.unit_org_id).await?,
    )?;
    Ok(r)
}

pub async fn get_rectification(
    state: &AppState,
    p: &Principal,
    id: i64,
) -> Result<(Rectification, Rating), AppError> {
    let r = store::rectification(state.store.reader(), id)
        .await
        .map_err(|_| AppError::NotFound)?;
    p.authorize_visible(Permission::ViewRatings, &r.unit_path)?;
    let rating = store::get(state.store.reader(), r.rating_id).await?;
    Ok((r, rating))
}

// ---- rectification --------------------------------------------------------------------------

/// A rectification step as sent: `step` is `verify`, `rectified` or `called_back`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StepInput {
    #[serde(default)]
    pub step: String,
    pub version: Option<i64>,
    pub founded: Option<bool>,
    #[serde(default)]
    pub evidence: String,
    #[serde(default)]
    pub remedy: String,
    #[serde(default)]
    pub done: String,
    #[serde(default)]
    pub way: String,
    #[serde(default)]
    pub rater_level: String,
    #[serde(default)]
    pub note: String,
}

impl StepInput {
    fn step(&self) -> Result<RectificationStep, AppError> {
        match self.step.trim() {
            "verify" => {
                let founded = self.founded.ok_or_else(|| {
                    AppError::invalid("founded", "required", "请选择核实结果：属实或不属实")
                })?;
                let remedy =
                    match self.remedy.trim() {
                        "" => None,
                        s => Some(Remedy::parse(s).ok_or_else(|| {
                            AppError::invalid("remedy", "unknown", "整改方式无效")
                        })?),
                    };
                Ok(RectificationStep::Verify {
                    founded,
                    evidence: self.evidence.clone(),
                    remedy,
                })
            }
            "rectified" => Ok(RectificationStep::Rectified {
                done: self.done.clone(),
            }),
            "called_back" => {
                let way = CallbackWay::parse(self.way.trim())
                    .filter(|w| *w != CallbackWay::SmsLink)
                    .ok_or_else(|| {
                        AppError::invalid(
                            "way",
                            "unknown",
                            "请选择回访方式（电话回访，或匿名评价无法回访）",
                        )
                    })?;
                let rater_level = match self.rater_level.trim() {
                    "" => None,
                    s => Some(Level::parse(s).ok_or_else(|| {
                        AppError::invalid("rater_level", "unknown", "评价等级无效")
                    })?),
                };
                Ok(RectificationStep::CalledBack {
                    way,
                    rater_level,
                    note: self.note.clone(),
                })
            }
            _ => Err(AppError::invalid(
                "step",
                "unknown",
                "步骤只能是核实（verify）、整改完成（rectified）或回访（called_back）",
            )),
        }
    }
}

async fn authorize_owner(
    state: &AppState,
    p: &Principal,
    id: i64,
) -> Result<Rectification, AppError> {
    let r = store::rectification(state.store.reader(), id)
        .await
        .map_err(|_| AppError::NotFound)?;
    p.authorize(Permission::RectifyRatings, &r.unit_path)?;
    Ok(r)
}

pub async fn take_step(
    state: &AppState,
    p: &Principal,
    id: i64,
    input: &StepInput,
) -> Result<Rectification, AppError> {
    authorize_owner(state, p, id).await?;
    let step = input.step()?;
    let cal = state.calendar().await?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let r = store::take_step(&mut tx, &change, &cal, id, input.version, &step).await?;
    tx.commit().await?;
    Ok(r)
}

pub async fn send_link(
    state: &AppState,
    p: &Principal,
    id: i64,
    headers: &HeaderMap,
) -> Result<i64, AppError> {
    authorize_owner(state, p, id).await?;
    let base = crate::cases::intake::public_base(state, headers);
    let change = state.change(p.user.who());
    let sender = crate::inbox::sender(state).name();
    let mut tx = state.store.begin().await?;
    let (message, _) = store::send_callback_link(&mut tx, &change, id, &base, sender).await?;
    tx.commit().await?;
    crate::inbox::deliver_outbox(state).await?;
    Ok(message)
}

/// The rater rates the rectification through the SMS link (the token is the credential).
pub async fn rate_rectification(
    state: &AppState,
    token: &str,
    level: &str,
    note: &str,
) -> Result<Rectification, AppError> {
    let r = store::by_callback_token(state.store.reader(), token)
        .await
        .map_err(|_| AppError::NotFound)?;
    let level = Level::parse(level.trim())
        .ok_or_else(|| AppError::invalid("rater_level", "required", "请选择您对整改结果的评价"))?;
    let cal = state.calendar().await?;
    let change = state.change(Who::system("rater"));
    let mut tx = state.store.begin().await?;
    let out = store::take_step(
        &mut tx,
        &change,
        &cal,
        r.id,
        None,
        &RectificationStep::CalledBack {
            way: CallbackWay::SmsLink,
            rater_level: Some(level),
            note: note.to_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

pub async fn read_contact(
    state: &AppState,
    p: &Principal,
    id: i64,
    purpose: &str,
) -> Result<(String, Option<String>), AppError> {
    authorize_owner(state, p, id).await?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let out = store::read_contact(&mut tx, &change, id, purpose).await?;
    tx.commit().await?;
    Ok(out)
}

// ---- appeals ----------------------------------------------------------------------------------

pub async fn file_appeal(
    state: &AppState,
    p: &Principal,
    rating_id: i64,
    reason: &str,
) -> Result<Appeal, AppError> {
    let r = store::get(state.store.reader(), rating_id)
        .await
        .map_err(|_| AppError::NotFound)?;
    p.authorize(
        Permission::RectifyRatings,
        &unit_path(state, r.unit_org_id).await?,
    )?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let a = store::file_appeal(&mut tx, &change, rating_id, reason).await?;
    tx.commit().await?;
    Ok(a)
}

pub async fn decide_appeal(
    state: &AppState,
    p: &Principal,
    appeal_id: i64,
    uphold: bool,
    reason: &str,
) -> Result<Appeal, AppError> {
    let a = store::appeal(state.store.reader(), appeal_id)
        .await
        .map_err(|_| AppError::NotFound)?;
    let unit = unit_path(state, a.unit_org_id).await?;
    p.authorize(Permission::DecideAppeals, &unit)?;
    let above = p.user.org_path != unit;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let out = store::decide_appeal(&mut tx, &change, appeal_id, uphold, above, reason).await?;
    tx.commit().await?;
    Ok(out)
}

// ---- figures ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FiguresQuery {
    pub dim: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// One unit's figures, each computed by the domain's formula.
#[derive(Debug, Clone, Serialize)]
pub struct UnitFigures {
    pub id: String,
    pub name: String,
    pub ratings: i64,
    pub by_stars: [i64; 5],
    pub excluded: i64,
    pub good_rate: Option<i64>,
    pub good_rate_text: String,
    pub bad_rate_text: String,
    pub average_stars: String,
    pub coverage_text: String,
    pub rectification_rate_text: String,
    pub callback_rate_text: String,
    pub on_time_rate_text: String,
    pub bad: i64,
}

pub fn unit_figures(c: &UnitCounts, basic_counts: bool) -> UnitFigures {
    let t: &Tally = &c.tally;
    let good = rules::good_rate(t, basic_counts);
    UnitFigures {
        id: c.dim_id.clone(),
        name: c.name.clone(),
        ratings: t.total(),
        by_stars: t.by_stars,
        excluded: c.excluded,
        good_rate: good.per_mille(),
        good_rate_text: good.percent_text(),
        bad_rate_text: rules::bad_rate(t).percent_text(),
        average_stars: rules::average_stars_tenths(t)
            .map(|a| format!("{}.{}", a / 10, a % 10))
            .unwrap_or_else(|| "—".into()),
        coverage_text: rules::coverage(c.rated_cases, c.finished_cases).percent_text(),
        rectification_rate_text: rules::rectification_rate(c.rectified, c.bad).percent_text(),
        callback_rate_text: rules::callback_rate(c.called_back, c.named_bad).percent_text(),
        on_time_rate_text: rules::on_time_rate(c.rectified_on_time, c.rectified).percent_text(),
        bad: c.bad,
    }
}

/// The period asked, default the last 30 days to today (Beijing dates).
pub fn period(state: &AppState, q: &FiguresQuery) -> Result<(NaiveDate, NaiveDate), AppError> {
    let today = onewindow_store::clock::local_date(state.now());
    let parse =
        |field: &str, v: &Option<String>, default: NaiveDate| match v.as_deref().map(str::trim) {
            None | Some("") => Ok(default),
            Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| AppError::invalid(field, "invalid_date", "日期格式应为 YYYY-MM-DD")),
        };
    let to = parse("to", &q.to, today)?;
    let from = parse("from", &q.from, to - chrono::Duration::days(29))?;
    if from > to {
        return Err(AppError::invalid(
            "from",
            "after_to",
            "开始日期不能晚于结束日期",
        ));
    }
    if (to - from).num_days() > 366 {
        return Err(AppError::invalid("from", "too_long", "统计期间最长一年"));
    }
    Ok((from, to))
}

pub async fn figures(
    state: &AppState,
    p: &Principal,
    q: &FiguresQuery,
) -> Result<(String, NaiveDate, NaiveDate, Vec<UnitFigures>, bool), AppError> {
    p.authorize(Permission::ViewRatings, &p.user.org_path)?;
    let dim = q.dim.clone().unwrap_or_else(|| "hall".into());
    if !store::DIMENSIONS.iter().any(|d| d.0 == dim) {
        return Err(AppError::invalid(
            "dim",
            "unknown",
            "统计维度只能是 hall、department、window、clerk 或 item",
        ));
    }
    let (from, to) = period(state, q)?;
    let settings = store::settings(state.store.reader()).await?;
    let rows = store::figures(
        state.store.reader(),
        &p.user.org_path,
        &dim,
        &from.to_string(),
        &to.to_string(),
    )
    .await?;
    Ok((
        dim,
        from,
        to,
        rows.iter()
            .map(|c| unit_figures(c, settings.basic_counts_as_good))
            .collect(),
        settings.basic_counts_as_good,
    ))
}

/// 星级窗口 of one window for a month.
#[derive(Debug, Clone, Serialize)]
pub struct StarWindow {
    pub window_id: String,
    pub name: String,
    pub stars: u8,
    pub stars_text: String,
    pub ratings: i64,
    pub good_rate_text: String,
    pub on_time_rate_text: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MonthQuery {
    /// `YYYY-MM`; default the last full month.
    pub month: Option<String>,
}

/// The star level of every window in the caller's scope for a month (domain `star_level`,
/// thresholds from the settings): the month's ratings and its on-time rectifications.
pub async fn star_windows(
    state: &AppState,
    p: &Principal,
    q: &MonthQuery,
) -> Result<(String, Vec<StarWindow>), AppError> {
    use chrono::Datelike;
    p.authorize(Permission::ViewRatings, &p.user.org_path)?;
    let today = onewindow_store::clock::local_date(state.now());
    let first = match q.month.as_deref().map(str::trim) {
        None | Some("") => {
            let this = today.with_day(1).unwrap_or(today);
            let prev = this - chrono::Duration::days(1);
            prev.with_day(1).unwrap_or(prev)
        }
        Some(m) => NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
            .map_err(|_| AppError::invalid("month", "invalid_month", "月份格式应为 YYYY-MM"))?,
    };
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .unwrap_or(first);
    let last = next - chrono::Duration::days(1);
    let settings = store::settings(state.store.reader()).await?;
    let basic = settings.basic_counts_as_good;
    let rows = store::figures(
        state.store.reader(),
        &p.user.org_path,
        "window",
        &first.to_string(),
        &last.to_string(),
    )
    .await?;
    let out = rows
        .iter()
        .map(|c| {
            let on_time = rules::star_on_time_rate(c.rectified_on_time, c.bad);
            let stars = rules::star_level(&settings.star_rule, &c.tally, basic, on_time);
            StarWindow {
                window_id: c.dim_id.clone(),
                name: c.name.clone(),
                stars,
                stars_text: if stars == 0 {
                    "不评星".into()
                } else {
                    "★".repeat(usize::from(stars))
                },
                ratings: c.tally.total(),
                good_rate_text: c.good_rate(basic).percent_text(),
                on_time_rate_text: on_time.percent_text(),
            }
        })
        .collect();
    Ok((first.format("%Y-%m").to_string(), out))
}

async fn star_windows_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<MonthQuery>,
) -> ApiResult<Json<Value>> {
    let (month, items) = star_windows(&state, &p, &q).await?;
    Ok(Json(json!({ "month": month, "items": items })))
}

// ---- devices ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PairInput {
    pub window_id: Option<i64>,
    #[serde(default)]
    pub label: String,
}

pub async fn pair(
    state: &AppState,
    p: &Principal,
    input: &PairInput,
) -> Result<(Device, String), AppError> {
    let window_id = input
        .window_id
        .ok_or_else(|| AppError::invalid("window_id", "required", "请选择窗口"))?;
    let w = onewindow_store::queue::window(state.store.reader(), window_id)
        .await
        .map_err(|_| AppError::invalid("window_id", "unknown", "没有这个窗口"))?;
    p.authorize(
        Permission::PairRatingDevices,
        &unit_path(state, w.hall_id).await?,
    )?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let out = store::pair_device(&mut tx, &change, window_id, &input.label).await?;
    tx.commit().await?;
    Ok(out)
}

// ---- API handlers -------------------------------------------------------------------------------

fn rating_json(r: &Rating) -> Value {
    serde_json::to_value(r).unwrap_or_default()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    before: Option<i64>,
    limit: Option<i64>,
    state: Option<String>,
}

/// `limit` of a list: 1..=200, default 50.
fn limit(q: &ListQuery) -> Result<i64, AppError> {
    match q.limit {
        None => Ok(50),
        Some(n) if (1..=200).contains(&n) => Ok(n),
        Some(_) => Err(AppError::invalid(
            "limit",
            "out_of_range",
            "limit 应在1到200之间",
        )),
    }
}

async fn list_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    p.authorize(Permission::ViewRatings, &p.user.org_path)?;
    let n = limit(&q)?;
    let items = store::recent_in_scope(state.store.reader(), &p.user.org_path, q.before, n).await?;
    let next = (items.len() as i64 == n)
        .then(|| {
            items
                .last()
                .map(|r| format!("/api/v1/ratings?before={}&limit={n}", r.id))
        })
        .flatten();
    Ok(Json(json!({ "items": items, "next": next })))
}

async fn get_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let r = get_rating(&state, &p, id).await?;
    let mut v = rating_json(&r);
    v["appeal"] = json!(store::appeal_of_rating(state.store.reader(), id).await?);
    v["rectification_id"] = json!(store::rectification_of_rating(state.store.reader(), id).await?);
    Ok(Json(v))
}

async fn enter_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(input): ApiJson<EnterInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let r = enter_rating(&state, &p, &input).await?;
    Ok((StatusCode::CREATED, Json(rating_json(&r))))
}

#[derive(Debug, Deserialize)]
struct OnlineInput {
    #[serde(default)]
    case_no: String,
    #[serde(default)]
    code: String,
    #[serde(flatten)]
    rating: RatingInput,
}

async fn online_api(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<OnlineInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let r = rate_online(&state, &input.case_no, &input.code, &input.rating).await?;
    // The resident sees what they gave, not the staff view.
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "id": r.id, "level": r.level, "level_label": r.level_label,
            "stars": r.stars, "late": r.late }),
        ),
    ))
}

#[derive(Debug, Deserialize)]
struct ReasonInput {
    #[serde(default)]
    reason: String,
    uphold: Option<bool>,
}

async fn appeal_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<ReasonInput>,
) -> ApiResult<(StatusCode, Json<Appeal>)> {
    let a = file_appeal(&state, &p, id, &input.reason).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

async fn decide_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<ReasonInput>,
) -> ApiResult<Json<Appeal>> {
    let uphold = input.uphold.ok_or_else(|| {
        AppError::invalid("uphold", "required", "请选择复核结论：申诉成立或不成立")
    })?;
    Ok(Json(
        decide_appeal(&state, &p, id, uphold, &input.reason).await?,
    ))
}

async fn rectifications_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    p.authorize(Permission::ViewRatings, &p.user.org_path)?;
    let filter = match q.state.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(RectificationState::parse(s).ok_or_else(|| {
            AppError::invalid(
                "state",
                "unknown",
                "状态只能是 verifying、rectifying、callback_due 或 closed",
            )
        })?),
    };
    let n = limit(&q)?;
    let items =
        store::rectifications_in_scope(state.store.reader(), &p.user.org_path, filter, q.before, n)
            .await?;
    let next = (items.len() as i64 == n)
        .then(|| {
            items.last().map(|r| {
                let state = filter
                    .map(|s| format!("&state={}", s.as_str()))
                    .unwrap_or_default();
                format!("/api/v1/rectifications?before={}&limit={n}{state}", r.id)
            })
        })
        .flatten();
    Ok(Json(json!({ "items": items, "next": next })))
}

async fn rectification_json(state: &AppState, r: &Rectification, rating: &Rating) -> Value {
    let item = match r.tracked_item_id {
        Some(id) => onewindow_store::escalation::get(state.store.reader(), id)
            .await
            .ok(),
        None => None,
    };
    let now = state.now();
    json!({
        "rectification": r,
        "rating": rating,
        "steps": store::steps(state.store.reader(), r.id).await.unwrap_or_default(),
        "appeal": store::appeal_of_rating(state.store.reader(), rating.id).await.ok().flatten(),
        "stage": item.as_ref().map(|i| i.stage.clone()),
        "due_at": item.as_ref().and_then(|i| i.due_at),
        "light": item.as_ref().and_then(|i| i.light(now)).map(|l| l.label()),
        "tier": item.as_ref().map(|i| i.tier),
    })
}

async fn rectification_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let (r, rating) = get_rectification(&state, &p, id).await?;
    Ok(Json(rectification_json(&state, &r, &rating).await))
}

async fn step_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<StepInput>,
) -> ApiResult<Json<Rectification>> {
    Ok(Json(take_step(&state, &p, id, &input).await?))
}

async fn sms_link_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let message = send_link(&state, &p, id, &headers).await?;
    Ok((StatusCode::CREATED, Json(json!({ "message_id": message }))))
}

#[derive(Debug, Deserialize)]
struct ContactInput {
    #[serde(default)]
    purpose: String,
}

async fn contact_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<ContactInput>,
) -> ApiResult<Json<Value>> {
    let (name, phone) = read_contact(&state, &p, id, &input.purpose).await?;
    Ok(Json(json!({ "name": name, "phone": phone })))
}

async fn figures_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<FiguresQuery>,
) -> ApiResult<Json<Value>> {
    let (dim, from, to, rows, basic) = figures(&state, &p, &q).await?;
    Ok(Json(json!({
        "dim": dim, "from": from.to_string(), "to": to.to_string(),
        "basic_counts_as_good": basic,
        "good_rate_definition": good_rate_definition(basic),
        "items": rows,
    })))
}

async fn appeals_api(State(state): State<AppState>, ApiUser(p): ApiUser) -> ApiResult<Json<Value>> {
    p.authorize(Permission::ViewRatings, &p.user.org_path)?;
    let items = store::pending_appeals(state.store.reader(), &p.user.org_path, 200).await?;
    Ok(Json(json!({ "items": items })))
}

/// A unit listed for rectification: its 好评率 over the last 30 days under the threshold.
#[derive(Debug, Clone, Serialize)]
pub struct UnderThreshold {
    pub dim: &'static str,
    pub id: String,
    pub name: String,
    pub ratings: i64,
    pub good_rate_text: String,
}

/// Halls and departments in the caller's scope whose 好评率 over the last 30 days is under
/// the threshold on at least the minimum number of ratings (settings; domain
/// `under_threshold`).
pub async fn under_threshold(
    state: &AppState,
    p: &Principal,
) -> Result<(String, i64, Vec<UnderThreshold>), AppError> {
    p.authorize(Permission::ViewRatings, &p.user.org_path)?;
    let settings = store::settings(state.store.reader()).await?;
    let today = onewindow_store::clock::local_date(state.now());
    let from = (today - chrono::Duration::days(29)).to_string();
    let mut out = Vec::new();
    for dim in ["hall", "department"] {
        for c in store::figures(
            state.store.reader(),
            &p.user.org_path,
            dim,
            &from,
            &today.to_string(),
        )
        .await?
        {
            let good = c.good_rate(settings.basic_counts_as_good);
            if rules::under_threshold(
                good,
                settings.threshold_permille,
                settings.threshold_min_ratings,
            ) {
                out.push(UnderThreshold {
                    dim,
                    id: c.dim_id.clone(),
                    name: c.name.clone(),
                    ratings: c.tally.total(),
                    good_rate_text: good.percent_text(),
                });
            }
        }
    }
    Ok((
        onewindow_domain::figures::Rate::new(settings.threshold_permille, 1000).percent_text(),
        settings.threshold_min_ratings,
        out,
    ))
}

async fn under_threshold_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
) -> ApiResult<Json<Value>> {
    let (threshold, min, items) = under_threshold(&state, &p).await?;
    Ok(Json(
        json!({ "threshold": threshold, "min_ratings": min, "items": items }),
    ))
}

/// What 好评率 counts, shown wherever it is.
pub fn good_rate_definition(basic_counts: bool) -> &'static str {
    if basic_counts {
        "好评率 =（非常满意 + 满意 + 基本满意）÷ 评价总数（本系统设置：“基本满意”计入好评）"
    } else {
        "好评率 =（非常满意 + 满意）÷ 评价总数（本系统设置：“基本满意”不计入好评）"
    }
}

async fn pair_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    headers: HeaderMap,
    ApiJson(input): ApiJson<PairInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (device, token) = pair(&state, &p, &input).await?;
    let base = crate::cases::intake::public_base(&state, &headers);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "device": device, "token": token,
            "url": format!("{base}/device/rating/{token}") })),
    ))
}

/// Unpairs a device (停用): its token opens nothing any more.
pub async fn revoke(state: &AppState, p: &Principal, id: i64) -> Result<(), AppError> {
    let d = store::device(state.store.reader(), id)
        .await
        .map_err(|_| AppError::NotFound)?;
    p.authorize(
        Permission::PairRatingDevices,
        &unit_path(state, d.hall_id).await?,
    )?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    store::revoke_device(&mut tx, &change, id).await?;
    tx.commit().await?;
    Ok(())
}

async fn revoke_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    revoke(&state, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn prompt_api(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Json<Value>> {
    let device = store::device_by_token(state.store.reader(), &token)
        .await
        .map_err(|_| AppError::NotFound)?;
    let settings = store::settings(state.store.reader()).await?;
    let prompt = store::device_prompt(
        state.store.reader(),
        &device,
        state.now(),
        settings.device_prompt_minutes,
    )
    .await?;
    Ok(Json(json!({
        "window_id": device.window_id,
        "prompt": prompt.map(|t| json!({ "ticket_id": t.id, "number": t.number })),
    })))
}

#[derive(Debug, Deserialize)]
struct DeviceInput {
    ticket_id: Option<i64>,
    #[serde(flatten)]
    rating: RatingInput,
}

async fn device_rate_api(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ApiJson(input): ApiJson<DeviceInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let ticket = input
        .ticket_id
        .ok_or_else(|| AppError::invalid("ticket_id", "required", "缺少被评价的号"))?;
    let r = rate_on_device(&state, &token, ticket, &input.rating).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "id": r.id, "level": r.level, "level_label": r.level_label, "stars": r.stars }),
        ),
    ))
}

/// The rating job beside the escalation run: invitations due (邀评短信).
pub async fn run_invitations(state: &AppState) -> Result<Vec<i64>, AppError> {
    let settings = store::settings(state.store.reader()).await?;
    let base = state.config.public_url.clone().unwrap_or_default();
    let change = state.change(Who::system("rating-invitations"));
    let sender = crate::inbox::sender(state).name();
    Ok(store::send_invitations(
        &state.store,
        &change,
        settings.invite_after_days,
        &base,
        sender,
    )
    .await?)
}
