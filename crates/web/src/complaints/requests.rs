//! Requests: intake (phone, window, web, 12345 push), the duplicate check and the
//! suggestion, the acts of the loop, and the person's tracking. The operations here are
//! shared by the pages (`pages.rs`, `public.rs`) and the API below.
//!
//! Authorisation: a request belongs to its receiving organisation (a street or district)
//! and, once dispatched, to its lead department. Reading needs `ViewComplaints` at either
//! (a co-handling department reads it too); dispatching, reviewing a 退单 and calling back
//! need `DispatchComplaints` at the receiving organisation; signing, 退单 and replying need
//! `HandleComplaints` at the lead department. A request complaining about a staff member
//! (窗口服务投诉) is never shown to that staff member: 404 like none, whatever their role.

use crate::context::{ApiUser, Principal};
use crate::error::{ApiResult, AppError};
use crate::form::ApiJson;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use onewindow_domain::access::Permission;
use onewindow_domain::complaints::{
    suggest::Suggestion, Act, Channel, RequestType, Satisfaction, State as ReqState, Urgency,
};
use onewindow_domain::org::OrgPath;
use onewindow_store::audit::Who;
use onewindow_store::complaints::requests::{
    self as store, ActExtra, Event, Filter, NewRequest, Possible, Request,
};
use onewindow_store::complaints::{categories, suggest};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/complaints", get(list_api).post(intake_api))
        .route("/api/v1/complaints/check", post(check_api))
        .route("/api/v1/complaints/{id}", get(get_api))
        .route("/api/v1/complaints/{id}/acts", post(act_api))
        .route("/api/v1/complaints/{id}/events", get(events_api))
        .route("/api/v1/complaints/{id}/need", post(need_api))
        .route("/api/v1/complaints/track", get(track_api))
        .route("/api/v1/complaints/track/rating", post(rating_api))
}

/// What the intake forms and the API send.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IntakeInput {
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub request_type: String,
    #[serde(default)]
    pub urgency: String,
    #[serde(default)]
    pub complex: bool,
    #[serde(default)]
    pub category_id: Option<i64>,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub person_name: String,
    #[serde(default)]
    pub person_phone: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub lon: Option<f64>,
    #[serde(default)]
    pub complained_user_id: Option<i64>,
    #[serde(default)]
    pub complained_window: String,
}

fn choose<T: Copy + PartialEq>(
    field: &str,
    value: &str,
    parse: fn(&str) -> Option<T>,
    allowed: &[T],
    label: fn(T) -> &'static str,
    what: &str,
) -> Result<T, AppError> {
    parse(value.trim())
        .filter(|v| allowed.contains(v))
        .ok_or_else(|| {
            AppError::invalid(
                field,
                "unknown_value",
                format!(
                    "请选择{what}：{}",
                    allowed
                        .iter()
                        .map(|v| label(*v))
                        .collect::<Vec<_>>()
                        .join("、")
                ),
            )
        })
}

impl IntakeInput {
    fn to_new(&self, org_id: i64, channels: &[Channel]) -> Result<NewRequest, AppError> {
        let channel = choose(
            "channel",
            &self.channel,
            Channel::parse,
            channels,
            Channel::label,
            "受理渠道",
        )?;
        let request_type = choose(
            "request_type",
            &self.request_type,
            RequestType::parse,
            RequestType::ALL,
            RequestType::label,
            "诉求类型",
        )?;
        let urgency = if self.urgency.trim().is_empty() {
            Urgency::Ordinary
        } else {
            choose(
                "urgency",
                &self.urgency,
                Urgency::parse,
                Urgency::ALL,
                Urgency::label,
                "紧急程度",
            )?
        };
        Ok(NewRequest {
            org_id,
            channel,
            external_id: self
                .external_id
                .clone()
                .filter(|e| channel == Channel::Hotline || !e.trim().is_empty()),
            request_type,
            urgency,
            complex: self.complex,
            category_id: self.category_id,
            content: self.content.clone(),
            person_name: self.person_name.clone(),
            person_phone: self.person_phone.clone(),
            address: self.address.clone(),
            lat: self.lat,
            lon: self.lon,
            complained_user_id: self.complained_user_id,
            complained_window: self.complained_window.clone(),
        })
    }
}

/// Staff take a request in for their own organisation: by phone or at the window, and
/// an external 12345 system (an API key of a dispatcher) pushes with its own id.
pub async fn intake(
    state: &AppState,
    p: &Principal,
    input: &IntakeInput,
) -> Result<Request, AppError> {
    p.authorize(Permission::TakeComplaints, &p.user.org_path)?;
    let org_id = receiving_org(state, &p.user.org_path).await?;
    let new = input.to_new(org_id, &[Channel::Phone, Channel::Window, Channel::Hotline])?;
    if new.channel == Channel::Hotline {
        if let Some(ext) = &new.external_id {
            if let Some(existing) = store::by_external_id(state.store.reader(), ext).await? {
                // Another organisation's request is not named to the caller.
                let message = if existing.org_id == org_id {
                    format!("该12345工单已推送，诉求编号{}", existing.request_no)
                } else {
                    "该12345工单编号已被使用".to_string()
                };
                return Err(AppError::Conflict {
                    code: "already_received",
                    message,
                });
            }
        }
    }
    save(state, state.change(p.user.who()), &new).await
}

/// A resident sends a request on the public form to a street.
pub async fn intake_public(
    state: &AppState,
    org_id: i64,
    input: &IntakeInput,
) -> Result<Request, AppError> {
    let streets = receiving_orgs(state).await?;
    let mut input = input.clone();
    input.channel = Channel::Web.as_str().into();
    // The person says what it is about; the urgency and the staff member are staff's call.
    input.complained_user_id = None;
    if !matches!(
        Urgency::parse(input.urgency.trim()),
        Some(Urgency::Emergency | Urgency::Utilities)
    ) {
        input.urgency = Urgency::Ordinary.as_str().into();
    }
    let new = input.to_new(org_id, &[Channel::Web])?;
    // Every field's error at once: the street's beside the others.
    if !streets.iter().any(|(id, _)| *id == org_id) {
        let mut errors = match store::check_new(&new) {
            Err(onewindow_store::StoreError::Invalid(e)) => e,
            _ => onewindow_domain::validation::FieldErrors::new(),
        };
        errors.add("org", "unknown_org", "请选择问题发生的街道");
        return Err(AppError::Invalid(errors));
    }
    save(state, state.change(Who::system("web")), &new).await
}

async fn save(
    state: &AppState,
    change: onewindow_store::audit::Change,
    new: &NewRequest,
) -> Result<Request, AppError> {
    let limits = store::limits(state.store.reader()).await?;
    let cal = state.calendar().await?;
    let entropy = rand::thread_rng().next_u64();
    let mut tx = state.store.begin().await?;
    let req = store::intake(&mut tx, &change, &cal, &limits, new, entropy).await?;
    tx.commit().await?;
    Ok(req)
}

/// The organisations that take requests in: streets and districts (their dispatchers).
pub async fn receiving_orgs(state: &AppState) -> Result<Vec<(i64, String)>, AppError> {
    Ok(store::receiving_orgs(state.store.reader()).await?)
}

/// The street or district a staff member takes requests in for: their own organisation
/// or the nearest above it (a community's desk takes in for its street).
async fn receiving_org(state: &AppState, path: &OrgPath) -> Result<i64, AppError> {
    let receiving = receiving_orgs(state).await?;
    path.ids()
        .iter()
        .rev()
        .find(|id| receiving.iter().any(|(r, _)| r == *id))
        .copied()
        .ok_or_else(|| {
            AppError::invalid(
                "org",
                "no_receiving_org",
                "您所在的机构不属于任何街道或区，不能登记诉求",
            )
        })
}

/// Whether `p` may read `req`, and how: 404 for the staff member complained about and
/// for requests outside every scope the caller has.
pub fn authorize_read(p: &Principal, req: &Request) -> Result<(), AppError> {
    if !onewindow_domain::complaints::visible_to(req.complained_user_id, p.user.id) {
        return Err(AppError::NotFound);
    }
    let viewer = p.authorize(Permission::ViewComplaints, &p.user.org_path);
    let handler = p.authorize(Permission::HandleComplaints, &p.user.org_path);
    let taker = p.authorize(Permission::TakeComplaints, &p.user.org_path);
    if viewer.is_err() && handler.is_err() && taker.is_err() {
        return viewer;
    }
    let mut places = vec![req.org_path.clone()];
    places.extend(req.lead_path.clone());
    // The staff member who took it in follows it (a window clerk tells the caller its
    // number), as long as they still take requests in.
    let taker = req.created_by == Some(p.user.id)
        && p.authorize(Permission::TakeComplaints, &p.user.org_path)
            .is_ok();
    let seen = taker
        || places
            .iter()
            .any(|o| p.authorize(Permission::ViewComplaints, o).is_ok())
        || is_lead(p, req)
        || (handler.is_ok() && req.co_departments.contains(&p.user.org_id));
    if seen {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

pub async fn get_request(state: &AppState, p: &Principal, id: i64) -> Result<Request, AppError> {
    let req = store::get(state.store.reader(), id).await?;
    authorize_read(p, &req)?;
    Ok(req)
}

/// Whether the caller acts for the department that leads `req`.
pub fn is_lead(p: &Principal, req: &Request) -> bool {
    req.lead_path
        .as_ref()
        .is_some_and(|d| p.authorize(Permission::HandleComplaints, d).is_ok())
}

/// Whether the caller dispatches for the organisation that received `req`.
pub fn is_dispatcher(p: &Principal, req: &Request) -> bool {
    p.authorize(Permission::DispatchComplaints, &req.org_path)
        .is_ok()
}

/// Takes an act. The department's acts (签收、退单、答复) need its handler, the rest the
/// receiving organisation's dispatcher; the order is the domain's.
pub async fn take_act(
    state: &AppState,
    p: &Principal,
    id: i64,
    version: Option<i64>,
    act: &Act,
    extra: &ActExtra,
) -> Result<Request, AppError> {
    let req = get_request(state, p, id).await?;
    let department_act = matches!(act, Act::Sign | Act::AskReturn { .. } | Act::Reply { .. });
    if department_act && !is_lead(p, &req) {
        return Err(AppError::NotYours {
            code: "not_lead_department",
            message: "只有承办（牵头）部门可以签收、退单和答复".into(),
        });
    }
    if !department_act && !is_dispatcher(p, &req) {
        return Err(AppError::NotYours {
            code: "not_dispatcher",
            message: "只有受理单位的派单员可以派单、审核退单、回访和合并".into(),
        });
    }
    // Staff record phone callbacks; "sms" is the person rating on the tracking page.
    let extra = ActExtra {
        callback_way: Some("phone".into()),
        link_base: link_base(state),
        ..extra.clone()
    };
    act_as(state, state.change(p.user.who()), id, version, act, &extra).await
}

/// Where residents reach the product, for links in messages (`--public-url`).
pub fn link_base(state: &AppState) -> String {
    state
        .config
        .public_url
        .clone()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string()
}

async fn act_as(
    state: &AppState,
    change: onewindow_store::audit::Change,
    id: i64,
    version: Option<i64>,
    act: &Act,
    extra: &ActExtra,
) -> Result<Request, AppError> {
    let limits = store::limits(state.store.reader()).await?;
    let cal = state.calendar().await?;
    let mut tx = state.store.begin().await?;
    let out = store::act(&mut tx, &change, &cal, &limits, id, version, act, extra).await?;
    tx.commit().await?;
    Ok(out)
}

/// 民情收集: what a request is marked as.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Need {
    /// Not a need (unmarked).
    None,
    /// A need of this problem.
    Problem(i64),
    /// A need of a new problem with this title.
    New(String),
}

/// Marks a request as a need (the receiving organisation's dispatcher).
pub async fn mark_need(
    state: &AppState,
    p: &Principal,
    id: i64,
    need: &Need,
) -> Result<Option<i64>, AppError> {
    let r = get_request(state, p, id).await?;
    if !is_dispatcher(p, &r) {
        return Err(AppError::NotYours {
            code: "not_dispatcher",
            message: "只有受理单位的派单员可以归入民情问题".into(),
        });
    }
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let problem = match need {
        Need::None => None,
        Need::New(title) => Some(
            onewindow_store::complaints::problems::create(&mut tx, &change, r.org_id, title)
                .await?
                .id,
        ),
        Need::Problem(id) => Some(*id),
    };
    store::mark_need(&mut tx, &change, id, problem).await?;
    tx.commit().await?;
    Ok(problem)
}

/// What the dispatcher sees before creating or dispatching: possible duplicates and the
/// suggested categories.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub duplicates: Vec<Possible>,
    pub suggestions: Vec<SuggestionRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SuggestionRow {
    pub category_id: i64,
    pub code: String,
    pub name: String,
    pub department_id: Option<i64>,
    pub department_name: Option<String>,
    /// Share of the model's belief, in per cent (one decimal).
    pub percent: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CheckInput {
    #[serde(default)]
    pub person_phone: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub category_id: Option<i64>,
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub lon: Option<f64>,
    /// The request itself, left out of its own duplicates.
    #[serde(default)]
    pub exclude: Option<i64>,
}

pub async fn check(state: &AppState, p: &Principal, input: &CheckInput) -> Result<Check, AppError> {
    p.authorize(Permission::TakeComplaints, &p.user.org_path)
        .or_else(|_| p.authorize(Permission::DispatchComplaints, &p.user.org_path))?;
    let pool = state.store.reader();
    let org = receiving_org(state, &p.user.org_path).await?;
    let scope = onewindow_store::orgs::get(pool, org).await?.path;
    let (days, metres) = store::duplicate_window(pool).await?;
    let place = match (input.lat, input.lon) {
        (Some(a), Some(b)) if onewindow_domain::complaints::valid_coordinates(a, b) => Some((a, b)),
        _ => None,
    };
    // Other people's requests are the dispatcher's to see: a desk that only takes requests
    // in gets the suggestions alone.
    let dispatcher = p
        .authorize(Permission::DispatchComplaints, &p.user.org_path)
        .is_ok();
    let mut duplicates = if !dispatcher {
        vec![]
    } else {
        store::duplicates(
            pool,
            &scope,
            state.now(),
            &input.person_phone,
            input.category_id,
            place,
            days,
            metres,
            input.exclude,
        )
        .await?
    };
    // A staff member never learns of complaints about themselves through the check either.
    duplicates.retain(|d| d.complained_user_id != Some(p.user.id));
    let suggestions = suggestions(state, &p.user.org_path, &input.content).await?;
    Ok(Check {
        duplicates,
        suggestions,
    })
}

/// The top three categories for `text`, with their departments.
pub async fn suggestions(
    state: &AppState,
    viewer: &OrgPath,
    text: &str,
) -> Result<Vec<SuggestionRow>, AppError> {
    if text.trim().is_empty() {
        return Ok(vec![]);
    }
    let ranked: Vec<Suggestion> =
        suggest::suggest(state.store.reader(), &state.complaint_model, text).await?;
    let all = categories::for_viewer(state.store.reader(), viewer, false).await?;
    Ok(ranked
        .into_iter()
        .filter_map(|s| {
            all.iter()
                .find(|c| c.code == s.category)
                .map(|c| SuggestionRow {
                    category_id: c.id,
                    code: c.code.clone(),
                    name: c.name.clone(),
                    department_id: c.department_id,
                    department_name: c.department_name.clone(),
                    percent: (s.share * 1000.0).round() / 10.0,
                })
        })
        .collect())
}

/// The person's view: by request number and query code; wrong pairs are counted against
/// the number like tracking's (the query code cannot be guessed by trying).
pub async fn find_for_person(
    state: &AppState,
    request_no: &str,
    query_code: &str,
) -> Result<Request, AppError> {
    let no = request_no.trim().to_ascii_uppercase();
    if !onewindow_domain::complaints::is_request_number(&no) {
        return Err(AppError::NotFound);
    }
    let lookup = async {
        store::for_person(state.store.reader(), &no, query_code)
            .await
            .map_err(|_| AppError::NotFound)
    };
    crate::cases::tracking::within_lookup_limit(state, &no, lookup).await
}

/// The person rates the reply on the tracking page (the SMS link leads there): 回访 by 短信.
pub async fn rate_by_person(
    state: &AppState,
    request_no: &str,
    query_code: &str,
    satisfaction: Satisfaction,
    solved: bool,
) -> Result<Request, AppError> {
    let req = find_for_person(state, request_no, query_code).await?;
    if req.satisfaction.is_some() && req.state != ReqState::Replied {
        return Err(AppError::invalid(
            "satisfaction",
            "already_rated",
            "您已经评价过了，谢谢您的监督",
        ));
    }
    if req.state != ReqState::Replied {
        return Err(AppError::invalid(
            "satisfaction",
            "not_replied",
            "承办部门答复后才能评价",
        ));
    }
    act_as(
        state,
        state.change(Who::system("sms-callback")),
        req.id,
        Some(req.version),
        &Act::Callback {
            satisfaction,
            solved,
        },
        &ActExtra {
            callback_way: Some("sms".into()),
            told: false,
            link_base: link_base(state),
            category_id: None,
        },
    )
    .await
}

// ---- API ----------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    department: bool,
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

/// The caller's requests: received in their scope, or (`department=true`) led by their
/// department. Keyset-paged, newest first.
pub async fn list(
    state: &AppState,
    p: &Principal,
    states: Vec<ReqState>,
    department: bool,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Request>, AppError> {
    if department {
        p.authorize(Permission::HandleComplaints, &p.user.org_path)?;
    } else {
        p.authorize(Permission::ViewComplaints, &p.user.org_path)?;
    }
    let f = Filter {
        states,
        department: department.then(|| p.user.org_path.clone()),
        viewer: p.user.id,
        before_id: before,
        limit,
    };
    Ok(store::list(state.store.reader(), &p.user.org_path, &f).await?)
}

async fn list_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let states = match q.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => vec![],
        Some(s) => vec![ReqState::parse(s)
            .ok_or_else(|| AppError::invalid("state", "unknown_state", "未知的诉求状态"))?],
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let items = list(&state, &p, states, q.department, q.before, limit).await?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|r| r.id))
        .flatten();
    Ok(Json(json!({ "items": items, "next_before": next })))
}

async fn intake_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(input): ApiJson<IntakeInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let req = intake(&state, &p, &input).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "request": req, "query_code": req.query_code })),
    ))
}

async fn check_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(input): ApiJson<CheckInput>,
) -> ApiResult<Json<Check>> {
    Ok(Json(check(&state, &p, &input).await?))
}

async fn get_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Request>> {
    Ok(Json(get_request(&state, &p, id).await?))
}

async fn events_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    get_request(&state, &p, id).await?;
    let items: Vec<Event> = store::events(state.store.reader(), id).await?;
    Ok(Json(json!({ "items": items })))
}

async fn need_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(need): ApiJson<Need>,
) -> ApiResult<Json<Value>> {
    let problem = mark_need(&state, &p, id, &need).await?;
    Ok(Json(json!({ "problem_id": problem })))
}

/// An act as the API sends it: the domain's act plus the callback's way and the version.
#[derive(Debug, Deserialize)]
struct ActInput {
    #[serde(flatten)]
    act: Act,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    way: Option<String>,
    #[serde(default)]
    told: bool,
    /// dispatch: the category settled on.
    #[serde(default)]
    category_id: Option<i64>,
}

async fn act_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<ActInput>,
) -> ApiResult<Json<Request>> {
    let extra = ActExtra {
        callback_way: input.way.clone(),
        told: input.told,
        category_id: input.category_id,
        ..ActExtra::default()
    };
    Ok(Json(
        take_act(&state, &p, id, input.version, &input.act, &extra).await?,
    ))
}

#[derive(Debug, Deserialize)]
struct TrackQuery {
    #[serde(default)]
    no: String,
    #[serde(default)]
    code: String,
}

/// What the person may see of their request.
pub fn public_view(r: &Request) -> Value {
    json!({
        "request_no": r.request_no,
        "state": r.state.as_str(),
        "status": r.state.public_label(),
        "received_at": onewindow_store::clock::format_local(r.received_at),
        "department": r.lead_department_name,
        "reply": r.reply_content,
        "replied_at": r.replied_at.map(onewindow_store::clock::format_local),
        "satisfaction": r.satisfaction.map(|s| s.label()),
        "may_rate": r.state == ReqState::Replied,
    })
}

async fn track_api(
    State(state): State<AppState>,
    Query(q): Query<TrackQuery>,
) -> ApiResult<Json<Value>> {
    let r = find_for_person(&state, &q.no, &q.code).await?;
    Ok(Json(public_view(&r)))
}

#[derive(Debug, Deserialize)]
struct RatingInput {
    no: String,
    code: String,
    satisfaction: Satisfaction,
    solved: bool,
}

async fn rating_api(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<RatingInput>,
) -> ApiResult<Json<Value>> {
    let r = rate_by_person(
        &state,
        &input.no,
        &input.code,
        input.satisfaction,
        input.solved,
    )
    .await?;
    Ok(Json(public_view(&r)))
}
