//! Grid events for staff: report, list, one event with its chain (一事件一链) and next
//! acts, the acts, photos; grids imported from GeoJSON; categories; figures. The operations
//! here are shared by the API below and the Open311 routes (`open311.rs`).
//!
//! Authorisation: an event belongs to its street (its dispatchers, `DispatchGridEvents`,
//! dispatch, merge and close; staff with `ViewGridEvents` there read it), to its lead
//! department once dispatched (`HandleGridEvents`: sign, handle, return), to its community
//! (the community's duty officer or head, `TakeGridEventsInCommunity` at the community
//! itself, take it directly) and to its reporter while they still hold `ReportGridEvents`
//! (confirm, reopen). Which act each of those may take is `domain::grid::may_act`; reading
//! needs one of the relations (or a co-handling department's handler), else 404 like none.

use crate::context::{ApiUser, Principal};
use crate::error::{ApiResult, AppError};
use crate::form::ApiJson;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use onewindow_domain::access::{Permission, Role};
use onewindow_domain::grid::{self as rules, Act, Actor, ReporterKind, Visibility};
use onewindow_domain::org::OrgPath;
use onewindow_store::audit::Change;
use onewindow_store::grid::events::{self as store, Event, Filter, NewEvent, NewPhoto, Phase};
use onewindow_store::grid::geometry;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/grid/events", get(list_api).post(report_api))
        .route("/api/v1/grid/events/{id}", get(get_api))
        .route("/api/v1/grid/events/{id}/acts", post(act_api))
        .route("/api/v1/grid/events/{id}/photos", post(photo_api))
        .route("/api/v1/grid/photos/{id}", get(staff_photo_api))
        .route("/grid/photos/{id}", get(public_photo))
}

/// The relations `p` has to `ev`, as the rules name them.
pub fn actors(p: &Principal, ev: &Event) -> Vec<Actor> {
    let mut out = vec![];
    if ev.reporter_user_id == Some(p.user.id)
        && p.authorize(Permission::ReportGridEvents, &p.user.org_path)
            .is_ok()
    {
        out.push(Actor::Reporter);
    }
    if p.authorize(Permission::DispatchGridEvents, &ev.street_path)
        .is_ok()
    {
        out.push(Actor::StreetDispatcher);
    }
    if ev
        .lead_path
        .as_ref()
        .is_some_and(|d| p.authorize(Permission::HandleGridEvents, d).is_ok())
    {
        out.push(Actor::LeadHandler);
    }
    if ev.community_org_id == Some(p.user.org_id)
        && p.authorize(Permission::TakeGridEventsInCommunity, &p.user.org_path)
            .is_ok()
    {
        out.push(Actor::Community);
    }
    out
}

/// Whether `p` may read `ev`: one of the relations, a viewer of its street, or a handler of
/// a co-handling department; else 404.
pub fn authorize_read(p: &Principal, ev: &Event) -> Result<(), AppError> {
    let seen = !actors(p, ev).is_empty()
        || p.authorize(Permission::ViewGridEvents, &ev.street_path)
            .is_ok()
        || (p
            .authorize(Permission::HandleGridEvents, &p.user.org_path)
            .is_ok()
            && ev.co_departments.contains(&p.user.org_id));
    if seen {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

pub async fn get_event(state: &AppState, p: &Principal, id: i64) -> Result<Event, AppError> {
    let ev = store::get(state.store.reader(), id).await?;
    authorize_read(p, &ev)?;
    Ok(ev)
}

/// The departments a street may dispatch to (the store refuses any other): those inside
/// the street's district, by the tree's order.
pub async fn dispatch_targets(
    state: &AppState,
    street: &OrgPath,
) -> Result<Vec<(i64, String)>, AppError> {
    let district = street.parent().unwrap_or_else(|| street.clone());
    Ok(onewindow_store::orgs::departments(state.store.reader())
        .await?
        .into_iter()
        .filter(|o| district.contains(&o.path))
        .map(|o| (o.id, o.name))
        .collect())
}

/// The step's limit of an open event, in words, and whether it has passed: the response
/// limit (派单 and 签收 within it) until someone signed for it, then 办结.
pub fn due_of(ev: &Event, now: i64) -> (String, bool) {
    let (step, at) = match ev.state {
        rules::State::Reported => ("响应", ev.respond_due_at),
        rules::State::Dispatched => ("签收", ev.respond_due_at),
        _ => ("办结", ev.close_due_at),
    };
    match at {
        Some(t) => (
            format!("{step}时限 {}", onewindow_store::clock::format_local(t)),
            t < now,
        ),
        None => ("—".to_string(), false),
    }
}

/// A grid event in a department's inbox, with the limit it is working against.
pub struct InboxEvent {
    pub event: Event,
    /// The step's limit by name and time (签收 before the response limit, then 办结).
    pub due: String,
    pub overdue: bool,
}

/// The grid events `p`'s department leads and has not handled yet (to sign, signed, in
/// progress — reopened ones included), the soonest due first; empty without
/// `HandleGridEvents`.
pub async fn department_inbox(
    state: &AppState,
    p: &Principal,
) -> Result<Vec<InboxEvent>, AppError> {
    if p.authorize(Permission::HandleGridEvents, &p.user.org_path)
        .is_err()
    {
        return Ok(vec![]);
    }
    let f = Filter {
        states: vec![
            rules::State::Dispatched,
            rules::State::Signed,
            rules::State::InProgress,
        ],
        lead_department_id: Some(p.user.org_id),
        limit: 200,
        ..Filter::default()
    };
    let now = state.now();
    let mut out: Vec<InboxEvent> = store::list(state.store.reader(), &p.user.org_path, &f)
        .await?
        .into_iter()
        .map(|event| {
            let (due, overdue) = due_of(&event, now);
            InboxEvent {
                overdue,
                due,
                event,
            }
        })
        .collect();
    out.sort_by_key(|e| {
        match e.event.state {
            rules::State::Dispatched => e.event.respond_due_at,
            _ => e.event.close_due_at,
        }
        .unwrap_or(i64::MAX)
    });
    Ok(out)
}

/// What a report sends (the staff API; Open311 has its own form).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportInput {
    pub category_id: i64,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub lon: Option<f64>,
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub address: String,
    /// `{code: value}`; a multi-value list as an array.
    #[serde(default)]
    pub attributes: serde_json::Map<String, Value>,
    /// A resident's report taken by staff: who reported it and how to reach them.
    #[serde(default)]
    pub reporter_name: String,
    #[serde(default)]
    pub reporter_contact: String,
    #[serde(default)]
    pub public: Option<bool>,
}

fn pairs(attributes: &serde_json::Map<String, Value>) -> Vec<(String, String)> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = vec![];
    for (k, v) in attributes {
        match v {
            Value::Array(items) => out.extend(items.iter().map(|i| (k.clone(), text(i)))),
            v => out.push((k.clone(), text(v))),
        }
    }
    out
}

/// A grid worker reports in their grid; other staff who take requests in report for a
/// resident. The street an event outside every grid is kept for is the reporter's.
pub async fn report(
    state: &AppState,
    p: &Principal,
    input: &ReportInput,
) -> Result<store::Reported, AppError> {
    report_with_photos(state, p, input, vec![]).await
}

/// [`report`] with the report's photos, all in the event's one transaction (the phone
/// page's form sends them together).
pub async fn report_with_photos(
    state: &AppState,
    p: &Principal,
    input: &ReportInput,
    photos: Vec<NewPhoto>,
) -> Result<store::Reported, AppError> {
    p.authorize(Permission::ReportGridEvents, &p.user.org_path)?;
    let worker = p.user.roles.contains(&Role::GridWorker);
    let street = street_of(state, &p.user.org_path).await?;
    if let (true, Some((lon, lat))) = (worker, input.lon.zip(input.lat)) {
        check_worker_street(state, p, street, lon, lat).await?;
    }
    let new = NewEvent {
        category_id: input.category_id,
        description: input.description.clone(),
        point: input.lon.zip(input.lat),
        address: input.address.clone(),
        attributes: pairs(&input.attributes),
        reporter: if worker {
            ReporterKind::GridWorker
        } else {
            ReporterKind::Resident
        },
        reporter_user_id: worker.then_some(p.user.id),
        reporter_client: (!worker).then(|| input.reporter_name.trim().to_string()),
        reporter_contact: input.reporter_contact.clone(),
        visibility: if input.public.unwrap_or(true) {
            Visibility::Public
        } else {
            Visibility::Private
        },
        fallback_street: street,
        photos,
    };
    save(state, state.change(p.user.who()), &new, true).await
}

/// A grid worker reports in the street they work for (the streets of their grids, or of
/// their own organisation): the reporter confirms the result, so a worker of another street
/// must not become the confirmer of this street's events. A place outside every grid is
/// kept for the worker's own street anyway.
async fn check_worker_street(
    state: &AppState,
    p: &Principal,
    own_street: Option<i64>,
    lon: f64,
    lat: f64,
) -> Result<(), AppError> {
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Ok(()); // the store names the field
    }
    let pool = state.store.reader();
    let mut conn = pool.acquire().await.map_err(AppError::from)?;
    let Some(grid) = geometry::assign(&mut conn, lon, lat).await? else {
        return Ok(());
    };
    let mut streets: Vec<i64> = own_street.into_iter().collect();
    for (grid_id, _) in geometry::grids_of_worker(pool, p.user.id).await? {
        streets.push(geometry::get(&mut conn, grid_id).await?.street_org_id);
    }
    if streets.contains(&grid.street_org_id) {
        Ok(())
    } else {
        let name = onewindow_store::orgs::get(pool, grid.street_org_id)
            .await?
            .name;
        Err(AppError::invalid(
            "lon",
            "outside_own_street",
            format!(
                "该位置属于{name}的{}，不在您负责的街道内，请联系该街道上报",
                grid.name
            ),
        ))
    }
}

pub async fn street_of(state: &AppState, path: &OrgPath) -> Result<Option<i64>, AppError> {
    let mut conn = state
        .store
        .reader()
        .acquire()
        .await
        .map_err(AppError::from)?;
    Ok(store::street_of(&mut conn, path).await?)
}

/// Saves a report in one transaction; then, for a caller that shows them
/// (`with_duplicates`: the staff's pages and API, not Open311), the possible duplicates,
/// read after the commit so that the writer never waits for the search.
pub async fn save(
    state: &AppState,
    change: Change,
    new: &NewEvent,
    with_duplicates: bool,
) -> Result<store::Reported, AppError> {
    let cal = state.calendar().await?;
    let mut tx = state.store.begin().await?;
    let mut out = store::report(&mut tx, &change, &cal, new).await?;
    tx.commit().await?;
    if let (Some(at), true) = (new.point, with_duplicates) {
        let pool = state.store.reader();
        let (metres, _) = store::settings(pool).await?;
        let mut conn = pool.acquire().await.map_err(AppError::from)?;
        out.possible_duplicates = store::duplicates_near(
            &mut conn,
            out.event.category_id,
            at,
            metres,
            Some(out.event.id),
        )
        .await?;
    }
    Ok(out)
}

/// Takes an act as whoever `p` is to the event.
pub async fn take_act(
    state: &AppState,
    p: &Principal,
    id: i64,
    version: Option<i64>,
    act: &Act,
) -> Result<Event, AppError> {
    take_act_with_photos(state, p, id, version, act, &[]).await
}

/// [`take_act`] with the after-photos of a handling, in the act's one transaction (the
/// handler's page form sends the reply and the photos together).
pub async fn take_act_with_photos(
    state: &AppState,
    p: &Principal,
    id: i64,
    version: Option<i64>,
    act: &Act,
    photos: &[NewPhoto],
) -> Result<Event, AppError> {
    let ev = get_event(state, p, id).await?;
    let who = actors(p, &ev);
    let cal = state.calendar().await?;
    let mut tx = state.store.begin().await?;
    let out = store::act(
        &mut tx,
        &state.change(p.user.who()),
        &cal,
        id,
        version,
        &who,
        act,
        photos,
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// One event as its page and the API show it: the event, its chain, photos, the acts the
/// caller can take now and the possible duplicates.
pub async fn detail(state: &AppState, p: &Principal, id: i64) -> Result<Value, AppError> {
    let ev = get_event(state, p, id).await?;
    let pool = state.store.reader();
    let chain = store::chain(pool, id).await?;
    let photos = store::photos(pool, id).await?;
    let facts = ev.facts();
    let mut acts: Vec<&'static str> = vec![];
    for a in actors(p, &ev) {
        for k in rules::available(a, &facts) {
            if !acts.contains(&k.as_str()) {
                acts.push(k.as_str());
            }
        }
    }
    let duplicates = match (ev.lon, ev.lat, ev.state) {
        (Some(lon), Some(lat), rules::State::Reported) => {
            let (metres, _) = store::settings(pool).await?;
            let mut conn = pool.acquire().await.map_err(AppError::from)?;
            store::duplicates_near(&mut conn, ev.category_id, (lon, lat), metres, Some(id)).await?
        }
        _ => vec![],
    };
    let warnings: Vec<&str> = if ev.outside_grids {
        vec!["该事件的位置不在任何网格内，已归属街道，请核实位置"]
    } else {
        vec![]
    };
    Ok(json!({
        "event": ev, "chain": chain, "photos": photos, "acts": acts,
        "possible_duplicates": duplicates, "warnings": warnings,
    }))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    state: Option<String>,
    /// `mine`: reported by me; `department`: led by my department.
    #[serde(default)]
    view: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

async fn list_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let mut f = Filter {
        limit: q.limit.unwrap_or(100),
        ..Filter::default()
    };
    if let Some(s) = q.state.as_deref().filter(|s| !s.is_empty()) {
        for part in s.split(',') {
            let st = rules::State::parse(part.trim()).ok_or_else(|| {
                AppError::invalid("state", "unknown_state", format!("未知的状态“{part}”"))
            })?;
            f.states.push(st);
        }
    }
    match q.view.as_deref() {
        Some("mine") => f.reporter_user_id = Some(p.user.id),
        Some("department") => {
            p.authorize(Permission::HandleGridEvents, &p.user.org_path)?;
            f.lead_department_id = Some(p.user.org_id);
        }
        _ => {
            p.authorize(Permission::ViewGridEvents, &p.user.org_path)?;
        }
    }
    let items = store::list(state.store.reader(), &p.user.org_path, &f).await?;
    Ok(Json(json!({ "items": items })))
}

async fn report_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(input): ApiJson<ReportInput>,
) -> ApiResult<(StatusCode, Json<store::Reported>)> {
    Ok((StatusCode::CREATED, Json(report(&state, &p, &input).await?)))
}

async fn get_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(detail(&state, &p, id).await?))
}

#[derive(Debug, Deserialize)]
struct ActInput {
    #[serde(flatten)]
    act: Act,
    #[serde(default)]
    version: Option<i64>,
}

async fn act_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<ActInput>,
) -> ApiResult<Json<Event>> {
    Ok(Json(
        take_act(&state, &p, id, input.version, &input.act).await?,
    ))
}

#[derive(Debug, Deserialize)]
struct PhotoQuery {
    /// `report` (default) or `after`.
    #[serde(default)]
    phase: Option<String>,
}

/// Uploads one photo as the body (its type in Content-Type): report photos by the reporter
/// or the street, after-photos by the handler while handling.
async fn photo_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<PhotoQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let ev = get_event(&state, &p, id).await?;
    let who = actors(&p, &ev);
    let phase = match q.phase.as_deref().unwrap_or("report") {
        "report" => Phase::Report,
        "after" => Phase::After,
        other => {
            return Err(AppError::invalid(
                "phase",
                "unknown_phase",
                format!("未知的照片类别“{other}”，只能是report或after"),
            )
            .into())
        }
    };
    let facts = ev.facts();
    let allowed = match phase {
        Phase::Report => who
            .iter()
            .any(|a| matches!(a, Actor::Reporter | Actor::StreetDispatcher)),
        Phase::After => who
            .iter()
            .any(|a| rules::may_act(*a, rules::ActKind::Handle, &facts).is_ok()),
    };
    if !allowed {
        return Err(AppError::NotYours {
            code: "not_yours",
            message: "只有上报人、街道派单员（上报照片）或处置人（处置后照片）可以上传照片".into(),
        }
        .into());
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut tx = state.store.begin().await?;
    let ids = store::add_photos(
        &mut tx,
        &state.change(p.user.who()),
        id,
        phase,
        &[NewPhoto {
            bytes: body.to_vec(),
            declared,
        }],
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(json!({ "ids": ids }))))
}

#[derive(Debug, Deserialize)]
struct CopyQuery {
    #[serde(default)]
    original: Option<bool>,
}

fn image(mime: String, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
        ],
        bytes,
    )
        .into_response()
}

/// A photo for staff who may read its event: the public copy, or the upload itself with
/// `original=true` (its location intact, for the street's own use).
async fn staff_photo_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<CopyQuery>,
) -> ApiResult<Response> {
    let (info, _) = store::photo_bytes(state.store.reader(), id, false).await?;
    get_event(&state, &p, info.event_id).await?;
    let (info, bytes) =
        store::photo_bytes(state.store.reader(), id, q.original.unwrap_or(false)).await?;
    Ok(image(info.mime, bytes))
}

/// The public copy of a photo of a public event (Open311's `media_url`): GPS stripped.
async fn public_photo(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, crate::error::PageError> {
    let (info, bytes) = store::photo_bytes(state.store.reader(), id, false)
        .await
        .map_err(AppError::from)?;
    let ev = store::get(state.store.reader(), info.event_id)
        .await
        .map_err(AppError::from)?;
    if ev.visibility != Visibility::Public {
        return Err(AppError::NotFound.into());
    }
    Ok(image(info.mime, bytes))
}
