//! The pages of 好差评: the window rating device (a tablet, touch-sized, large text), the
//! resident's online rating and the SMS callback link (public, no login), and the staff
//! pages: the overview with figures, appeals and units under the threshold; the unit's
//! rectifications; one rectification with its steps; the devices of a hall.

use super::{
    decide_appeal, enter_rating, figures, file_appeal, get_rectification, good_rate_definition,
    pair, rate_on_device, rate_online, rate_rectification, read_contact, send_link, take_step,
    EnterInput, FiguresQuery, PairInput, RatingInput, StepInput, UnitFigures,
};
use crate::chrome::Chrome;
use crate::context::{Ctx, PageUser};
use crate::error::{AppError, PageResult};
use crate::form::FormData;
use crate::pages::{render, render_form};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use onewindow_domain::access::Permission;
use onewindow_domain::ratings::{
    self as rules, criteria, CallbackWay, Level, RectificationState, Remedy, Subject, TAGS,
};
use onewindow_domain::validation::FieldError;
use onewindow_store::clock::format_local;
use onewindow_store::ratings::{self as store, Appeal, Rating, Rectification, StepRecord};
use serde::Deserialize;
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/device/rating/{token}", get(device_page).post(device_form))
        .route("/pj/{case_no}", get(online_page).post(online_form))
        .route("/hf/{token}", get(callback_page).post(callback_form))
        .route("/ratings", get(overview_page))
        .route("/ratings/enter", axum::routing::post(enter_form))
        .route("/ratings/appeals/{id}", axum::routing::post(decide_form))
        .route("/ratings/rectifications", get(rectifications_page))
        .route("/ratings/rectifications/{id}", get(rectification_page))
        .route(
            "/ratings/rectifications/{id}/step",
            axum::routing::post(step_form),
        )
        .route(
            "/ratings/rectifications/{id}/sms",
            axum::routing::post(sms_form),
        )
        .route(
            "/ratings/rectifications/{id}/contact",
            axum::routing::post(contact_form),
        )
        .route(
            "/ratings/rectifications/{id}/appeal",
            axum::routing::post(appeal_form),
        )
        .route("/ratings/devices", get(devices_page).post(pair_form))
        .route(
            "/ratings/devices/{id}/revoke",
            axum::routing::post(revoke_form),
        )
}

/// The five levels as buttons show them: (value, label, stars).
pub struct LevelChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub stars: String,
    pub bad: bool,
}

fn levels() -> Vec<LevelChoice> {
    Level::ALL
        .into_iter()
        .map(|l| LevelChoice {
            value: l.as_str(),
            label: l.label(),
            stars: l.star_text(),
            bad: l.is_bad(),
        })
        .collect()
}

fn rating_from_form(form: &FormData, subject: Subject) -> RatingInput {
    let mut scores = BTreeMap::new();
    for (code, _) in criteria(subject) {
        if let Ok(n) = form.get(&format!("score.{code}")).trim().parse::<i64>() {
            scores.insert((*code).to_string(), n);
        }
    }
    RatingInput {
        level: form.get("level").to_string(),
        scores,
        tags: form.all("tag").into_iter().map(str::to_string).collect(),
        comment: form.get("comment").to_string(),
    }
}

// ---- the window rating device -----------------------------------------------------------------

#[derive(Template)]
#[template(path = "rating_device.html")]
struct DevicePage {
    chrome: Chrome,
    label: String,
    /// The ticket to rate: (id, number).
    prompt: Option<(i64, String)>,
    levels: Vec<LevelChoice>,
    thanks: Option<&'static str>,
    token: String,
}

async fn device_view(
    state: &AppState,
    ctx: &Ctx,
    token: &str,
    thanks: Option<&'static str>,
) -> PageResult {
    let device = store::device_by_token(state.store.reader(), token)
        .await
        .map_err(|_| AppError::NotFound)?;
    let settings = store::settings(state.store.reader()).await?;
    let prompt = if thanks.is_some() {
        None
    } else {
        store::device_prompt(
            state.store.reader(),
            &device,
            state.now(),
            settings.device_prompt_minutes,
        )
        .await?
        .map(|t| (t.id, t.number))
    };
    render(&DevicePage {
        chrome: Chrome::new(state, ctx, "服务评价"),
        label: device.label,
        prompt,
        levels: levels(),
        thanks,
        token: token.to_string(),
    })
}

async fn device_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> PageResult {
    device_view(&state, &ctx, &token, None).await
}

async fn device_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    form: FormData,
) -> PageResult {
    let ticket = form.int("ticket_id", "被评价的号")?;
    let input = rating_from_form(&form, Subject::Visit);
    match rate_on_device(&state, &token, ticket, &input).await {
        Ok(r) => {
            let words = if r.level.is_bad() {
                "感谢您的评价，我们会认真核实整改。"
            } else {
                "感谢您的评价！"
            };
            device_view(&state, &ctx, &token, Some(words)).await
        }
        // Rated meanwhile or the prompt expired: back to the idle screen, no error page on
        // a public tablet.
        Err(AppError::Conflict { .. }) | Err(AppError::Invalid(_)) => {
            Ok(Redirect::to(&format!("/device/rating/{token}")).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

// ---- the resident's online rating ------------------------------------------------------------

#[derive(Template)]
#[template(path = "rate.html")]
struct RatePage {
    chrome: Chrome,
    case_no: String,
    code: String,
    /// The case found with the code: its title.
    found: Option<String>,
    not_found: bool,
    /// Already rated: what was given.
    rated: Option<String>,
    /// Found but not finished yet: rating opens once the result is handed over.
    not_finished: bool,
    levels: Vec<LevelChoice>,
    criteria: Vec<(&'static str, &'static str)>,
    tags: Vec<(&'static str, &'static str)>,
    form: FormData,
    errors: Vec<FieldError>,
    done: Option<String>,
}

impl RatePage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    fn picked(&self, name: &str, value: &str) -> bool {
        self.form.all(name).contains(&value)
    }
}

#[derive(Deserialize, Default)]
struct CodeQuery {
    #[serde(default)]
    code: String,
}

async fn online_view(
    state: &AppState,
    ctx: &Ctx,
    case_no: &str,
    code: &str,
    form: FormData,
    errors: Vec<FieldError>,
    done: Option<String>,
) -> PageResult {
    let mut page = RatePage {
        chrome: Chrome::new(state, ctx, "办件评价"),
        case_no: case_no.to_string(),
        code: code.to_string(),
        found: None,
        not_found: false,
        rated: None,
        not_finished: false,
        levels: levels(),
        // The overall level is the level itself; the form asks the other criteria.
        criteria: criteria(Subject::Case)
            .iter()
            .filter(|c| c.0 != "overall")
            .copied()
            .collect(),
        tags: TAGS.iter().map(|t| (t.0, t.1)).collect(),
        form,
        errors,
        done,
    };
    if !code.trim().is_empty() {
        match crate::cases::tracking::find_case(state, case_no, code).await {
            Ok(case) => {
                page.found = Some(case.title.clone());
                page.not_finished = !rules::case_finished(case.state);
                if let Some(r) =
                    store::of_subject(state.store.reader(), store::SubjectRef::Case(case.id))
                        .await?
                {
                    page.rated = Some(format!(
                        "{} {}（{}）",
                        r.level.star_text(),
                        r.level_label,
                        format_local(r.rated_at)
                    ));
                }
            }
            Err(AppError::NotFound) => page.not_found = true,
            Err(e) => return Err(e.into()),
        }
    }
    let refused = !page.errors.is_empty();
    render_form(&page, refused)
}

async fn online_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(case_no): Path<String>,
    Query(q): Query<CodeQuery>,
) -> PageResult {
    online_view(
        &state,
        &ctx,
        &case_no,
        &q.code,
        FormData::default(),
        vec![],
        None,
    )
    .await
}

async fn online_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(case_no): Path<String>,
    form: FormData,
) -> PageResult {
    let code = form.get("code").to_string();
    let input = rating_from_form(&form, Subject::Case);
    match rate_online(&state, &case_no, &code, &input).await {
        Ok(r) => {
            let done = format!(
                "感谢您的评价：{} {}。{}",
                r.level.star_text(),
                r.level_label,
                if r.level.is_bad() {
                    "我们会在规定时限内核实整改，并回访您。"
                } else {
                    ""
                }
            );
            online_view(
                &state,
                &ctx,
                &case_no,
                &code,
                FormData::default(),
                vec![],
                Some(done),
            )
            .await
        }
        Err(AppError::Invalid(f)) => {
            online_view(&state, &ctx, &case_no, &code, form, f.0, None).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---- the SMS callback link: the rater rates the rectification ---------------------------------

#[derive(Template)]
#[template(path = "rate_rectification.html")]
struct CallbackPage {
    chrome: Chrome,
    token: String,
    what: String,
    remedy: String,
    open: bool,
    levels: Vec<LevelChoice>,
    errors: Vec<FieldError>,
    done: bool,
}

async fn callback_view(
    state: &AppState,
    ctx: &Ctx,
    token: &str,
    errors: Vec<FieldError>,
    done: bool,
) -> PageResult {
    let r = store::by_callback_token(state.store.reader(), token)
        .await
        .map_err(|_| AppError::NotFound)?;
    let rating = store::get(state.store.reader(), r.rating_id).await?;
    let refused = !errors.is_empty();
    render_form(
        &CallbackPage {
            chrome: Chrome::new(state, ctx, "整改结果评价"),
            token: token.to_string(),
            what: rating.subject_label.clone(),
            remedy: remedy_text(&r),
            open: r.state == RectificationState::CallbackDue,
            levels: levels(),
            errors,
            done,
        },
        refused,
    )
}

fn remedy_text(r: &Rectification) -> String {
    let mut parts = Vec::new();
    if r.founded == Some(false) {
        parts.push(format!(
            "经核实，反映情况不属实：{}",
            r.evidence.clone().unwrap_or_default()
        ));
    } else if let Some(m) = r.remedy {
        parts.push(format!(
            "经核实，情况属实（{}），{}",
            r.evidence.clone().unwrap_or_default(),
            m.label()
        ));
    }
    if let Some(d) = &r.done {
        parts.push(format!("整改情况：{d}"));
    }
    parts.join("；")
}

async fn callback_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> PageResult {
    callback_view(&state, &ctx, &token, vec![], false).await
}

async fn callback_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
    form: FormData,
) -> PageResult {
    match rate_rectification(&state, &token, form.get("rater_level"), form.get("note")).await {
        Ok(_) => callback_view(&state, &ctx, &token, vec![], true).await,
        Err(AppError::Invalid(f)) => callback_view(&state, &ctx, &token, f.0, false).await,
        Err(e) => Err(e.into()),
    }
}

// ---- staff: the overview ----------------------------------------------------------------------

pub struct RatingRow {
    pub r: Rating,
    pub at: String,
}

pub struct AppealRow {
    pub a: Appeal,
    pub rating: String,
    pub rectification_id: Option<i64>,
}

#[derive(Template)]
#[template(path = "ratings.html")]
struct OverviewPage {
    chrome: Chrome,
    dims: Vec<(&'static str, &'static str, bool)>,
    from: String,
    to: String,
    rows: Vec<UnitFigures>,
    definition: &'static str,
    threshold: String,
    threshold_min: i64,
    under: Vec<super::UnderThreshold>,
    star_month: String,
    stars: Vec<super::StarWindow>,
    appeals: Vec<AppealRow>,
    recent: Vec<RatingRow>,
    may_enter: bool,
    may_decide: bool,
    levels: Vec<LevelChoice>,
    form: FormData,
    errors: Vec<FieldError>,
    entered: Option<String>,
}

impl OverviewPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

#[allow(clippy::too_many_arguments)]
async fn overview_view(
    state: &AppState,
    p: &crate::context::Principal,
    ctx: &Ctx,
    q: &FiguresQuery,
    form: FormData,
    errors: Vec<FieldError>,
    entered: Option<String>,
) -> PageResult {
    let (dim, from, to, rows, basic) = figures(state, p, q).await?;
    let scope = &p.user.org_path;
    let (threshold, threshold_min, under) = super::under_threshold(state, p).await?;
    // 星级窗口 of the last full month.
    let (star_month, stars) = super::star_windows(state, p, &super::MonthQuery::default()).await?;
    let mut appeals = Vec::new();
    for a in store::pending_appeals(state.store.reader(), scope, 50).await? {
        let rating = store::get(state.store.reader(), a.rating_id).await?;
        appeals.push(AppealRow {
            rectification_id: store::rectification_of_rating(state.store.reader(), rating.id)
                .await?,
            rating: format!(
                "{} {}：{}",
                rating.level.star_text(),
                rating.level_label,
                rating.subject_label
            ),
            a,
        });
    }
    let recent = store::recent_in_scope(state.store.reader(), scope, None, 20)
        .await?
        .into_iter()
        .map(|r| RatingRow {
            at: format_local(r.rated_at),
            r,
        })
        .collect();
    let actor = p.actor();
    let refused = !errors.is_empty();
    render_form(
        &OverviewPage {
            chrome: Chrome::new(state, ctx, "好差评"),
            dims: store::DIMENSIONS
                .iter()
                .map(|(c, l)| (*c, *l, *c == dim))
                .collect(),
            from: from.to_string(),
            to: to.to_string(),
            rows,
            definition: good_rate_definition(basic),
            threshold,
            threshold_min,
            under,
            star_month,
            stars,
            appeals,
            recent,
            may_enter: actor.may(Permission::EnterRatings),
            may_decide: actor.may(Permission::DecideAppeals),
            levels: levels(),
            form,
            errors,
            entered,
        },
        refused,
    )
}

async fn overview_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<FiguresQuery>,
) -> PageResult {
    overview_view(&state, &p, &ctx, &q, FormData::default(), vec![], None).await
}

async fn enter_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    let input = EnterInput {
        case_no: form.get("case_no").to_string(),
        ticket_id: None,
        channel: form.get("channel").to_string(),
        rating: rating_from_form(&form, Subject::Case),
    };
    let q = FiguresQuery::default();
    match enter_rating(&state, &p, &input).await {
        Ok(r) => {
            let done = format!(
                "已录入：{} {} {}",
                r.subject_label,
                r.level.star_text(),
                r.level_label
            );
            overview_view(
                &state,
                &p,
                &ctx,
                &q,
                FormData::default(),
                vec![],
                Some(done),
            )
            .await
        }
        Err(AppError::Invalid(f)) => overview_view(&state, &p, &ctx, &q, form, f.0, None).await,
        Err(e) => Err(e.into()),
    }
}

async fn decide_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let uphold = match form.get("uphold") {
        "1" => true,
        "0" => false,
        _ => {
            return overview_view(
                &state,
                &p,
                &ctx,
                &FiguresQuery::default(),
                FormData::default(),
                vec![FieldError {
                    field: "uphold".into(),
                    code: "required".into(),
                    message: "请选择复核结论：申诉成立或不成立".into(),
                }],
                None,
            )
            .await
        }
    };
    match decide_appeal(&state, &p, id, uphold, form.get("reason")).await {
        Ok(_) => Ok(Redirect::to("/ratings").into_response()),
        Err(AppError::Invalid(f)) => {
            overview_view(
                &state,
                &p,
                &ctx,
                &FiguresQuery::default(),
                FormData::default(),
                f.0,
                None,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

// ---- staff: rectifications --------------------------------------------------------------------

pub struct RectRow {
    pub r: Rectification,
    pub at: String,
}

#[derive(Template)]
#[template(path = "rectifications.html")]
struct RectificationsPage {
    chrome: Chrome,
    rows: Vec<RectRow>,
}

async fn rectifications_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
) -> PageResult {
    p.authorize(Permission::ViewRatings, &p.user.org_path)?;
    let rows =
        store::rectifications_in_scope(state.store.reader(), &p.user.org_path, None, None, 200)
            .await?
            .into_iter()
            .map(|r| RectRow {
                at: format_local(r.created_at),
                r,
            })
            .collect();
    render(&RectificationsPage {
        chrome: Chrome::new(&state, &ctx, "差评整改"),
        rows,
    })
}

pub struct StepRow {
    pub at: String,
    pub s: StepRecord,
    pub words: String,
}

#[derive(Template)]
#[template(path = "rectification.html")]
struct RectificationPage {
    chrome: Chrome,
    r: Rectification,
    rating: Rating,
    rated_at: String,
    steps: Vec<StepRow>,
    due: String,
    light: String,
    may_act: bool,
    remedies: Vec<(&'static str, &'static str)>,
    levels: Vec<LevelChoice>,
    appeal: Option<Appeal>,
    contact: Option<(String, String)>,
    errors: Vec<FieldError>,
    form: FormData,
    tag_labels: String,
}

impl RectificationPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

fn step_words(s: &StepRecord) -> String {
    let d = &s.detail;
    let text = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    match s.step.as_str() {
        "opened" => "差评生成整改记录，交被评价单位核实".into(),
        "verify" => {
            let founded = d.get("founded").and_then(|v| v.as_bool()).unwrap_or(false);
            let remedy = d
                .get("remedy")
                .and_then(|v| v.as_str())
                .and_then(Remedy::parse)
                .map(|r| r.label())
                .unwrap_or("");
            if founded {
                format!("核实属实，{remedy}：{}", text("evidence"))
            } else {
                format!("核实不属实：{}", text("evidence"))
            }
        }
        "rectified" => format!("整改完成：{}", text("done")),
        "sms_link" => "已发送短信回访链接，等待评价人评价".into(),
        "called_back" => {
            let way = d
                .get("way")
                .and_then(|v| v.as_str())
                .and_then(CallbackWay::parse)
                .map(|w| w.label())
                .unwrap_or("");
            let level = d
                .get("rater_level")
                .and_then(|v| v.as_str())
                .and_then(Level::parse)
                .map(|l| format!("，评价人对整改：{}", l.label()))
                .unwrap_or_default();
            format!("{way}{level}。{}", text("note"))
        }
        other => other.to_string(),
    }
}

async fn rectification_view(
    state: &AppState,
    p: &crate::context::Principal,
    ctx: &Ctx,
    id: i64,
    form: FormData,
    errors: Vec<FieldError>,
    contact: Option<(String, String)>,
) -> PageResult {
    let (r, rating) = get_rectification(state, p, id).await?;
    // The engine's clock, while the item is still tracked.
    let open = match r.tracked_item_id {
        Some(i) => onewindow_store::escalation::get(state.store.reader(), i)
            .await
            .ok()
            .filter(|i| i.state == "open"),
        None => None,
    };
    let due = open
        .as_ref()
        .and_then(|i| i.due_at)
        .map(format_local)
        .unwrap_or_else(|| "—".into());
    let light = open
        .as_ref()
        .and_then(|i| i.light(state.now()))
        .map(|l| l.label().to_string())
        .unwrap_or_default();
    let steps = store::steps(state.store.reader(), id)
        .await?
        .into_iter()
        .map(|s| StepRow {
            at: format_local(s.at),
            words: step_words(&s),
            s,
        })
        .collect();
    let may_act = p
        .authorize(Permission::RectifyRatings, &r.unit_path)
        .is_ok();
    let appeal = store::appeal_of_rating(state.store.reader(), rating.id).await?;
    let refused = !errors.is_empty();
    render_form(
        &RectificationPage {
            chrome: Chrome::new(state, ctx, format!("差评整改 ZG{:05}", r.id)),
            rated_at: format_local(rating.rated_at),
            tag_labels: rating
                .tags
                .iter()
                .filter_map(|t| rules::tag_label(t))
                .collect::<Vec<_>>()
                .join("、"),
            r,
            rating,
            steps,
            due,
            light,
            may_act,
            remedies: Remedy::ALL
                .iter()
                .map(|m| (m.as_str(), m.label()))
                .collect(),
            levels: levels(),
            appeal,
            contact,
            errors,
            form,
        },
        refused,
    )
}

async fn rectification_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
) -> PageResult {
    rectification_view(&state, &p, &ctx, id, FormData::default(), vec![], None).await
}

async fn step_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let input = StepInput {
        step: form.get("step").to_string(),
        version: form.get("version").trim().parse().ok(),
        founded: match form.get("founded") {
            "1" => Some(true),
            "0" => Some(false),
            _ => None,
        },
        evidence: form.get("evidence").to_string(),
        remedy: form.get("remedy").to_string(),
        done: form.get("done").to_string(),
        way: form.get("way").to_string(),
        rater_level: form.get("rater_level").to_string(),
        note: form.get("note").to_string(),
    };
    match take_step(&state, &p, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/ratings/rectifications/{id}")).into_response()),
        Err(AppError::Invalid(f)) => {
            rectification_view(&state, &p, &ctx, id, form, f.0, None).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn sms_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> PageResult {
    match send_link(&state, &p, id, &headers).await {
        Ok(_) => Ok(Redirect::to(&format!("/ratings/rectifications/{id}")).into_response()),
        Err(AppError::Invalid(f)) => {
            rectification_view(&state, &p, &ctx, id, FormData::default(), f.0, None).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn contact_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    match read_contact(&state, &p, id, form.get("purpose")).await {
        Ok((name, phone)) => {
            rectification_view(
                &state,
                &p,
                &ctx,
                id,
                FormData::default(),
                vec![],
                Some((name, phone.unwrap_or_else(|| "（未留）".into()))),
            )
            .await
        }
        Err(AppError::Invalid(f)) => {
            rectification_view(&state, &p, &ctx, id, form, f.0, None).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn appeal_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let (r, _) = get_rectification(&state, &p, id).await?;
    match file_appeal(&state, &p, r.rating_id, form.get("reason")).await {
        Ok(_) => Ok(Redirect::to(&format!("/ratings/rectifications/{id}")).into_response()),
        Err(AppError::Invalid(f)) => {
            rectification_view(&state, &p, &ctx, id, form, f.0, None).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---- staff: devices ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "rating_devices.html")]
struct DevicesPage {
    chrome: Chrome,
    windows: Vec<(i64, String)>,
    devices: Vec<(i64, String, String, String)>,
    paired: Option<String>,
    errors: Vec<FieldError>,
}

async fn devices_view(
    state: &AppState,
    p: &crate::context::Principal,
    ctx: &Ctx,
    paired: Option<String>,
    errors: Vec<FieldError>,
) -> PageResult {
    p.authorize(Permission::PairRatingDevices, &p.user.org_path)?;
    let mut windows = Vec::new();
    let mut devices = Vec::new();
    for (hall_id, hall_name) in onewindow_store::queue::halls(state.store.reader()).await? {
        let hall = onewindow_store::orgs::get(state.store.reader(), hall_id).await?;
        if !p.user.org_path.contains(&hall.path) {
            continue;
        }
        for w in onewindow_store::queue::windows(state.store.reader(), hall_id).await? {
            windows.push((w.id, format!("{hall_name} {}号窗口 {}", w.number, w.name)));
        }
        for d in store::devices_of_hall(state.store.reader(), hall_id).await? {
            devices.push((d.id, d.label, hall_name.clone(), format_local(d.paired_at)));
        }
    }
    let refused = !errors.is_empty();
    render_form(
        &DevicesPage {
            chrome: Chrome::new(state, ctx, "窗口评价器"),
            windows,
            devices,
            paired,
            errors,
        },
        refused,
    )
}

async fn devices_page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    devices_view(&state, &p, &ctx, None, vec![]).await
}

async fn pair_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    headers: HeaderMap,
    form: FormData,
) -> PageResult {
    let input = PairInput {
        window_id: form.get("window_id").trim().parse().ok(),
        label: form.get("label").to_string(),
    };
    match pair(&state, &p, &input).await {
        Ok((_, token)) => {
            let base = crate::cases::intake::public_base(&state, &headers);
            devices_view(
                &state,
                &p,
                &ctx,
                Some(format!("{base}/device/rating/{token}")),
                vec![],
            )
            .await
        }
        Err(AppError::Invalid(f)) => devices_view(&state, &p, &ctx, None, f.0).await,
        Err(e) => Err(e.into()),
    }
}

async fn revoke_form(
    State(state): State<AppState>,
    PageUser(p, _): PageUser,
    Path(id): Path<i64>,
) -> PageResult {
    super::revoke(&state, &p, id).await?;
    Ok(Redirect::to("/ratings/devices").into_response())
}
