//! Fallback cases: intake (window, phone, online, 12345 hand-overs), the acts of the loop,
//! department tasks (the department inbox), meetings, experts, and the person's progress.
//! The operations here are shared by the pages (`case_pages.rs`) and the API below.
//!
//! Authorisation: a case belongs to its window's organisation. Reading needs
//! `ViewFallback` or `HandleFallback` there; acting needs `HandleFallback` (an officer of
//! the window) or `DecideFallback` (a supervisor over it) there — and then whose case it is
//! is the domain's `may_act` (首接负责). A department answers its task with
//! `AnswerFallbackTasks` at the task's department.

use crate::context::{ApiUser, Principal};
use crate::error::{ApiResult, AppError};
use crate::form::ApiJson;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use onewindow_domain::access::Permission;
use onewindow_domain::fallback::{
    self as rules, Act, Acting, CaseType, Channel, IntakeTest, State as CaseState, TaskAnswer,
};
use onewindow_domain::org::OrgPath;
use onewindow_store::audit::Who;
use onewindow_store::fallback::cases::{
    self as store, CaseFilter, Decision, FallbackCase, NewCase,
};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/fallback/cases", get(list_api).post(intake_api))
        .route("/api/v1/fallback/cases/{id}", get(get_api))
        .route("/api/v1/fallback/cases/{id}/acts", post(act_api))
        .route("/api/v1/fallback/cases/{id}/meetings", post(meeting_api))
        .route("/api/v1/fallback/cases/{id}/experts", post(invite_api))
        .route("/api/v1/fallback/opinions/{id}", post(opinion_api))
        .route("/api/v1/fallback/tasks", get(tasks_api))
        .route("/api/v1/fallback/tasks/{id}/answer", post(answer_api))
        .route("/api/v1/fallback/progress", get(progress_api))
        .route("/api/v1/fallback/progress/rating", post(rating_api))
}

/// What the intake form and the API send.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IntakeInput {
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub case_type: String,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub person_name: String,
    #[serde(default)]
    pub person_phone: String,
    #[serde(default)]
    pub company_name: String,
    #[serde(default)]
    pub tried_ordinary: bool,
    #[serde(default)]
    pub tried_what: String,
    #[serde(default)]
    pub tried_where: String,
    #[serde(default)]
    pub linked_ref: String,
    #[serde(default)]
    pub multi_department: bool,
    #[serde(default)]
    pub policy_room: bool,
}

impl IntakeInput {
    fn to_new(&self, org_id: i64, allowed: &[Channel]) -> Result<NewCase, AppError> {
        let channel = Channel::parse(self.channel.trim())
            .filter(|c| allowed.contains(c))
            .ok_or_else(|| {
                AppError::invalid(
                    "channel",
                    "unknown_channel",
                    format!(
                        "请选择受理渠道：{}",
                        allowed
                            .iter()
                            .map(|c| c.label())
                            .collect::<Vec<_>>()
                            .join("、")
                    ),
                )
            })?;
        let case_type = CaseType::parse(self.case_type.trim()).ok_or_else(|| {
            AppError::invalid(
                "case_type",
                "unknown_case_type",
                "请选择协调解决类或政策建议类",
            )
        })?;
        Ok(NewCase {
            org_id,
            channel,
            case_type,
            external_id: self
                .external_id
                .clone()
                .filter(|e| channel == Channel::Hotline || !e.trim().is_empty()),
            title: self.title.clone(),
            description: self.description.clone(),
            person_name: self.person_name.clone(),
            person_phone: self.person_phone.clone(),
            company_name: self.company_name.clone(),
            test: IntakeTest {
                tried_ordinary: self.tried_ordinary,
                tried_what: self.tried_what.clone(),
                tried_where: self.tried_where.clone(),
                linked_ref: self.linked_ref.clone(),
                multi_department: self.multi_department,
                policy_room: self.policy_room,
            },
        })
    }
}

/// An officer takes a case in at their window (window, phone) or records a 12345
/// hand-over; the officer owns what they take at the window or by phone.
pub async fn intake(
    state: &AppState,
    p: &Principal,
    input: &IntakeInput,
) -> Result<FallbackCase, AppError> {
    p.authorize(Permission::HandleFallback, &p.user.org_path)?;
    let new = input.to_new(
        p.user.org_id,
        &[Channel::Window, Channel::Phone, Channel::Hotline],
    )?;
    save_intake(state, state.change(p.user.who()), &new, Some(p.user.id)).await
}

/// A resident sends a case online to a window; the first officer to take it owns it.
pub async fn intake_online(
    state: &AppState,
    org_id: i64,
    input: &IntakeInput,
) -> Result<FallbackCase, AppError> {
    let windows = store::windows(state.store.reader()).await?;
    if !windows.iter().any(|w| w.org_id == org_id) {
        return Err(AppError::invalid("org", "unknown_window", "请选择受理窗口"));
    }
    let mut input = input.clone();
    input.channel = Channel::Online.as_str().into();
    let new = input.to_new(org_id, &[Channel::Online])?;
    save_intake(state, state.change(Who::system("online")), &new, None).await
}

async fn save_intake(
    state: &AppState,
    change: onewindow_store::audit::Change,
    new: &NewCase,
    owner: Option<i64>,
) -> Result<FallbackCase, AppError> {
    let limits = store::limits(state.store.reader()).await?;
    let cal = state.calendar().await?;
    let entropy = rand::thread_rng().next_u64();
    let mut tx = state.store.begin().await?;
    let case = store::intake(&mut tx, &change, &cal, limits, new, owner, entropy).await?;
    tx.commit().await?;
    Ok(case)
}

/// The case, when the caller may read it.
pub async fn get_case(state: &AppState, p: &Principal, id: i64) -> Result<FallbackCase, AppError> {
    let case = store::get(state.store.reader(), id).await?;
    authorize_read(p, &case.org_path)?;
    Ok(case)
}

/// Reading a case: `ViewFallback` (or `HandleFallback`) at its window; a case of another
/// window answers like one that does not exist (404), so ids cannot be probed.
fn authorize_read(p: &Principal, org: &OrgPath) -> Result<(), AppError> {
    visible_with_any(
        p,
        &[Permission::ViewFallback, Permission::HandleFallback],
        org,
    )
}

/// Any of `permissions` at `org`; refused, a record out of scope for a role that has one of
/// them is 404 (like no record), and 403 only when the role has none.
fn visible_with_any(
    p: &Principal,
    permissions: &[Permission],
    org: &OrgPath,
) -> Result<(), AppError> {
    let mut refusal = None;
    for perm in permissions {
        match p.authorize_visible(*perm, org) {
            Ok(()) => return Ok(()),
            Err(AppError::NotFound) => refusal = Some(AppError::NotFound),
            Err(e) => {
                if refusal.is_none() {
                    refusal = Some(e);
                }
            }
        }
    }
    Err(refusal.unwrap_or(AppError::NotFound))
}

/// Who the caller is to a case of the window at `org`.
pub fn acting(p: &Principal, org: &OrgPath) -> Acting {
    Acting {
        user_id: p.user.id,
        officer: p.authorize(Permission::HandleFallback, org).is_ok(),
        supervisor: p.authorize(Permission::DecideFallback, org).is_ok(),
    }
}

/// Takes an act on a case.
pub async fn take_act(
    state: &AppState,
    p: &Principal,
    id: i64,
    version: Option<i64>,
    act: &Act,
) -> Result<FallbackCase, AppError> {
    let case = store::get(state.store.reader(), id).await?;
    visible_with_any(
        p,
        &[Permission::HandleFallback, Permission::DecideFallback],
        &case.org_path,
    )?;
    let who = acting(p, &case.org_path);
    let limits = store::limits(state.store.reader()).await?;
    let cal = state.calendar().await?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let out = store::act(&mut tx, &change, &cal, limits, id, version, who, act).await?;
    tx.commit().await?;
    Ok(out)
}

/// A department answers its task.
pub async fn answer(
    state: &AppState,
    p: &Principal,
    task_id: i64,
    version: Option<i64>,
    answer: &TaskAnswer,
) -> Result<(), AppError> {
    let (_, department) = store::task(state.store.reader(), task_id).await?;
    p.authorize_visible(Permission::AnswerFallbackTasks, &department)?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    store::answer_task(&mut tx, &change, task_id, version, answer).await?;
    tx.commit().await?;
    Ok(())
}

/// What a meeting record sends.
#[derive(Debug, Clone, Deserialize)]
pub struct MeetingInput {
    pub held_on: chrono::NaiveDate,
    #[serde(default)]
    pub departments: Vec<i64>,
    #[serde(default)]
    pub minutes: String,
    #[serde(default)]
    pub decisions: Vec<Decision>,
}

pub async fn record_meeting(
    state: &AppState,
    p: &Principal,
    id: i64,
    input: &MeetingInput,
) -> Result<i64, AppError> {
    let case = store::get(state.store.reader(), id).await?;
    p.authorize_visible(Permission::HandleFallback, &case.org_path)?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let meeting = store::record_meeting(
        &mut tx,
        &change,
        id,
        acting(p, &case.org_path),
        input.held_on,
        &input.departments,
        &input.minutes,
        &input.decisions,
    )
    .await?;
    tx.commit().await?;
    Ok(meeting)
}

pub async fn invite_expert(
    state: &AppState,
    p: &Principal,
    id: i64,
    expert_id: i64,
    question: &str,
) -> Result<i64, AppError> {
    let case = store::get(state.store.reader(), id).await?;
    p.authorize_visible(Permission::HandleFallback, &case.org_path)?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let out = store::invite_expert(
        &mut tx,
        &change,
        id,
        acting(p, &case.org_path),
        expert_id,
        question,
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

pub async fn record_opinion(
    state: &AppState,
    p: &Principal,
    opinion_id: i64,
    case_org: &OrgPath,
    opinion: &str,
) -> Result<(), AppError> {
    p.authorize_visible(Permission::HandleFallback, case_org)?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    store::record_opinion(&mut tx, &change, opinion_id, acting(p, case_org), opinion).await?;
    tx.commit().await?;
    Ok(())
}

/// The case a person follows with number and query code. Ten failed lookups a minute per
/// well-formed number, then 429 (the same limiter as a case's tracking).
pub async fn find_for_person(
    state: &AppState,
    case_no: &str,
    query_code: &str,
) -> Result<FallbackCase, AppError> {
    let case_no = onewindow_domain::validation::halfwidth(case_no)
        .trim()
        .to_ascii_uppercase();
    if !rules::is_case_number(&case_no) {
        return Err(AppError::invalid(
            "case_no",
            "bad_case_no",
            "请填写受理回执上的案件编号（BB开头的16位编号）",
        ));
    }
    let lookup = async {
        store::for_person(state.store.reader(), &case_no, query_code)
            .await
            .map_err(|_| AppError::NotFound)
    };
    crate::cases::tracking::within_lookup_limit(state, &case_no, lookup).await
}

/// The person rates the handling of their case (number and query code, once told).
pub async fn rate_by_person(
    state: &AppState,
    case_no: &str,
    query_code: &str,
    level: &str,
) -> Result<FallbackCase, AppError> {
    let case = find_for_person(state, case_no, query_code).await?;
    let level = onewindow_domain::ratings::Level::parse(level.trim()).ok_or_else(|| {
        AppError::invalid("satisfaction", "required", "请选择您对办理结果的满意程度")
    })?;
    let change = state.change(Who::system("resident"));
    let mut tx = state.store.begin().await?;
    let out = store::rate_by_person(&mut tx, &change, case.id, level).await?;
    tx.commit().await?;
    Ok(out)
}

/// The person's view of a case: the loop's steps, where it stands in words they read, the
/// dates and the outcome — no staff notes, no department replies.
pub fn progress_json(case: &FallbackCase) -> Value {
    let reached = reached_steps(case);
    let steps: Vec<Value> = rules::LOOP
        .iter()
        .zip(reached.iter())
        .map(|((code, label), at)| {
            json!({ "step": code, "label": label, "done": at.is_some(),
                    "at": at.map(onewindow_store::clock::format_local) })
        })
        .collect();
    json!({
        "case_no": case.case_no,
        "title": case.title,
        "state": case.state.as_str(),
        "state_label": case.state.label(),
        "text": case.state.resident_text(),
        "owner": case.owner_name,
        "received_at": onewindow_store::clock::format_local(case.received_at),
        "close_due_at": case.close_due_at.map(onewindow_store::clock::format_local),
        "steps": steps,
        "outcome": case.outcome.map(|o| o.label()),
        "rated": case.satisfaction.is_some(),
        "may_rate": rules::may_rate(case.state, case.satisfaction.is_some()).is_ok(),
        "conclusion": case.conclusion,
        "refusal": case.refusal_reason.as_ref().map(|r| json!({
            "reason": r, "right_channel": case.refusal_channel })),
    })
}

/// When each of the loop's seven steps was reached, if it was.
pub fn reached_steps(case: &FallbackCase) -> [Option<i64>; 7] {
    let received = (!matches!(case.state, CaseState::HandedOver)).then_some(case.received_at);
    [
        received,
        case.responded_at,
        case.first_round_at
            .or(case.coordinated_at)
            .or(case.concluded_at),
        case.concluded_at,
        case.fed_back_at,
        case.verified_at,
        case.filed_at,
    ]
}

/// The case for staff: the record, its tasks, meetings, experts, events and engine clock.
pub async fn case_json(state: &AppState, case: &FallbackCase) -> Result<Value, AppError> {
    let pool = state.store.reader();
    let item = match case.tracked_item_id {
        Some(i) => Some(onewindow_store::escalation::get(pool, i).await?),
        None => None,
    };
    let now = state.now();
    Ok(json!({
        "case": case,
        "tasks": store::tasks_of_case(pool, case.id).await?,
        "meetings": store::meetings(pool, case.id).await?,
        "opinions": store::opinions(pool, case.id).await?,
        "events": store::events(pool, case.id).await?,
        "clock": item.as_ref().filter(|i| i.state == "open").map(|i| json!({
            "stage": i.stage, "due_at": i.due_at, "tier": i.tier,
            "light": i.light(now).map(|l| l.label()),
        })),
    }))
}

// ---- API ----

async fn intake_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(input): ApiJson<IntakeInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let case = intake(&state, &p, &input).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "case": case, "query_code": case.query_code })),
    ))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    state: Option<String>,
    #[serde(default)]
    open: bool,
    #[serde(default)]
    mine: bool,
    before: Option<i64>,
    limit: Option<i64>,
}

async fn list_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    authorize_read(&p, &p.user.org_path)?;
    let limit = match q.limit {
        None => 50,
        Some(n) if (1..=200).contains(&n) => n,
        Some(_) => {
            return Err(AppError::invalid("limit", "out_of_range", "limit 应在1到200之间").into())
        }
    };
    let st = match q.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            CaseState::parse(s)
                .ok_or_else(|| AppError::invalid("state", "unknown_state", "没有这个案件状态"))?,
        ),
    };
    let items = store::list(
        state.store.reader(),
        &p.user.org_path,
        &CaseFilter {
            state: st,
            open: q.open,
            owner_user_id: q.mine.then_some(p.user.id),
            before_id: q.before,
            limit,
        },
    )
    .await?;
    let next = (items.len() as i64 == limit)
        .then(|| {
            items
                .last()
                .map(|c| format!("/api/v1/fallback/cases?before={}&limit={limit}", c.id))
        })
        .flatten();
    Ok(Json(json!({ "items": items, "next": next })))
}

async fn get_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let case = get_case(&state, &p, id).await?;
    Ok(Json(case_json(&state, &case).await?))
}

#[derive(Debug, Deserialize)]
struct ActInput {
    #[serde(default)]
    version: Option<i64>,
    #[serde(flatten)]
    act: Act,
}

async fn act_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<ActInput>,
) -> ApiResult<Json<FallbackCase>> {
    Ok(Json(
        take_act(&state, &p, id, input.version, &input.act).await?,
    ))
}

async fn meeting_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<MeetingInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let meeting = record_meeting(&state, &p, id, &input).await?;
    Ok((StatusCode::CREATED, Json(json!({ "meeting_id": meeting }))))
}

#[derive(Debug, Deserialize)]
struct InviteInput {
    expert_id: i64,
    #[serde(default)]
    question: String,
}

async fn invite_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<InviteInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let opinion = invite_expert(&state, &p, id, input.expert_id, &input.question).await?;
    Ok((StatusCode::CREATED, Json(json!({ "opinion_id": opinion }))))
}

#[derive(Debug, Deserialize)]
struct OpinionInput {
    case_id: i64,
    #[serde(default)]
    opinion: String,
}

async fn opinion_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<OpinionInput>,
) -> ApiResult<StatusCode> {
    let case = store::get(state.store.reader(), input.case_id).await?;
    record_opinion(&state, &p, id, &case.org_path, &input.opinion).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct TasksQuery {
    #[serde(default)]
    all: bool,
}

async fn tasks_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<TasksQuery>,
) -> ApiResult<Json<Value>> {
    p.authorize(Permission::AnswerFallbackTasks, &p.user.org_path)?;
    let items =
        store::department_inbox(state.store.reader(), &p.user.org_path, !q.all, 200).await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
struct AnswerInput {
    #[serde(default)]
    version: Option<i64>,
    #[serde(flatten)]
    answer: TaskAnswer,
}

async fn answer_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<AnswerInput>,
) -> ApiResult<StatusCode> {
    answer(&state, &p, id, input.version, &input.answer).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct ProgressQuery {
    #[serde(default)]
    case_no: String,
    #[serde(default)]
    query_code: String,
}

async fn progress_api(
    State(state): State<AppState>,
    Query(q): Query<ProgressQuery>,
) -> ApiResult<Json<Value>> {
    let case = find_for_person(&state, &q.case_no, &q.query_code).await?;
    Ok(Json(progress_json(&case)))
}

#[derive(Debug, Deserialize)]
struct RatingInput {
    #[serde(default)]
    case_no: String,
    #[serde(default)]
    query_code: String,
    #[serde(default)]
    satisfaction: String,
}

async fn rating_api(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<RatingInput>,
) -> ApiResult<Json<Value>> {
    let case = rate_by_person(
        &state,
        &input.case_no,
        &input.query_code,
        &input.satisfaction,
    )
    .await?;
    Ok(Json(progress_json(&case)))
}
