//! Open311 GeoReport v2 at `/open311/v2/` (wiki.open311.org/GeoReport_v2): discovery,
//! services and their definitions, requests (GET with the spec's filters, POST), one
//! request, and the `servicerequestupdates` extension (GET since a date, POST). The format
//! is the resource's extension (`.xml`, the spec's required one, or `.json`); the documents
//! and the parameters are `domain::grid::open311`'s, the records `store::grid`'s.
//!
//! Keys: POSTs need `api_key` (a form field or a query parameter) — an API key of our own
//! (`api_keys`, made by an administrator for a service account): the key's account is the
//! reporting client, and its street keeps an event whose place lies in no grid. Without a
//! valid key: 403 in the spec's error format. GETs are public and show public events only.
//! Errors are always the spec's `errors` document (400, 403, 404), never problem+json:
//! these routes are not under `/api/` and not in our OpenAPI document.
//!
//! Ids: `service_request_id` is the event's id; an update's `update_id` is its chain
//! entry's id. Status: `domain::grid::open311_status` (ARCHITECTURE.md has the mapping);
//! `status_notes` carries our richer public words (处置中, 退回重派 …).

use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use onewindow_domain::access::{authorize, Permission};
use onewindow_domain::grid::open311::{
    self as spec, Created, Discovery, Endpoint, Format, Open311Error, RequestFilter, RequestUpdate,
    ServiceRequest,
};
use onewindow_domain::grid::{self as rules, ReporterKind, Visibility};
use onewindow_store::audit::Who;
use onewindow_store::grid::categories;
use onewindow_store::grid::events::{self as store, Event, NewEvent, PublicQuery};
use onewindow_store::StoreError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/{resource}", get(top_get).post(top_post))
        .route("/open311/v2/services/{resource}", get(definition))
        .route("/open311/v2/requests/{resource}", get(one_request))
}

const MICROS: i64 = 1_000_000;

fn answer(format: Format, status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response()
}

fn errors(format: Format, errs: &[Open311Error]) -> Response {
    let status = StatusCode::from_u16(spec::http_status(errs)).unwrap_or(StatusCode::BAD_REQUEST);
    answer(format, status, spec::render_errors(format, errs))
}

fn params_errors(format: Format, errs: &[spec::ParamError]) -> Response {
    let list: Vec<Open311Error> = errs.iter().map(|e| e.to_error()).collect();
    errors(format, &list)
}

/// A failure of ours (the database): 500 in the spec's body, the detail only in the log.
fn internal(format: Format, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "open311 failed");
    answer(
        format,
        StatusCode::INTERNAL_SERVER_ERROR,
        spec::render_errors(format, &[Open311Error::new(500, "服务暂时不可用")]),
    )
}

/// A resource without `.xml`/`.json`: the spec knows no other; XML is its default.
fn not_found(resource: &str) -> Response {
    errors(
        Format::Xml,
        &[Open311Error::new(404, format!("没有资源“{resource}”"))],
    )
}

fn parse_params(query: Option<&str>, body: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
    if !body.is_empty() {
        out.extend(serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default());
    }
    out
}

fn single<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, v)| k == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

async fn top_get(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some((stem, format)) = Format::split(&resource) else {
        return not_found(&resource);
    };
    let params = parse_params(query.as_deref(), &[]);
    match stem {
        "discovery" => discovery(&state, &headers, format),
        "services" => services(&state, format).await,
        "requests" => requests(&state, &headers, format, &params).await,
        "servicerequestupdates" => updates(&state, &headers, format, &params).await,
        _ => not_found(&resource),
    }
}

async fn top_post(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((stem, format)) = Format::split(&resource) else {
        return not_found(&resource);
    };
    let params = parse_params(query.as_deref(), &body);
    match stem {
        "requests" => post_request(&state, &headers, format, &params).await,
        "servicerequestupdates" => post_update(&state, format, &params).await,
        _ => errors(
            format,
            &[Open311Error::new(400, format!("不能向“{resource}”提交"))],
        ),
    }
}

fn base(state: &AppState, headers: &HeaderMap) -> String {
    crate::cases::intake::public_base(state, headers)
}

fn discovery(state: &AppState, headers: &HeaderMap, format: Format) -> Response {
    let url = format!("{}/open311/v2", base(state, headers));
    let d = Discovery {
        changeset: "2026-12-01T00:00:00+08:00".into(),
        contact: "幸福街道网格化服务管理中心".into(),
        key_service: "请向街道管理员申请api_key（系统管理 → API密钥）".into(),
        endpoints: vec![Endpoint {
            url,
            changeset: "2026-12-01T00:00:00+08:00".into(),
            production: true,
        }],
    };
    answer(format, StatusCode::OK, spec::render_discovery(format, &d))
}

async fn services(state: &AppState, format: Format) -> Response {
    match categories::list(state.store.reader()).await {
        Ok(list) => {
            let cats: Vec<rules::Category> = list.into_iter().map(|c| c.category).collect();
            answer(format, StatusCode::OK, spec::render_services(format, &cats))
        }
        Err(e) => internal(format, e),
    }
}

async fn definition(State(state): State<AppState>, Path(resource): Path<String>) -> Response {
    let Some((code, format)) = Format::split(&resource) else {
        return not_found(&resource);
    };
    match categories::by_code(state.store.reader(), code).await {
        Ok(Some(c)) => answer(
            format,
            StatusCode::OK,
            spec::render_service_definition(format, &c.category),
        ),
        Ok(None) => errors(format, &[Open311Error::unknown_service(code)]),
        Err(e) => internal(format, e),
    }
}

async fn as_request(
    state: &AppState,
    headers: &HeaderMap,
    events: &[Event],
) -> Result<Vec<ServiceRequest>, StoreError> {
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let photos = store::first_photos(state.store.reader(), &ids).await?;
    let base = base(state, headers);
    // A duplicate names its original only when the original is public itself: a private
    // event's id is not told to the public.
    let mut public_originals = vec![];
    for o in events.iter().filter_map(|e| e.original_id) {
        let public = store::get(state.store.reader(), o)
            .await
            .is_ok_and(|orig| orig.visibility == Visibility::Public);
        if public {
            public_originals.push(o);
        }
    }
    Ok(events
        .iter()
        .map(|e| {
            let photo = photos.iter().find(|(ev, _)| *ev == e.id).map(|(_, p)| *p);
            let notes = match (e.state, e.original_id) {
                (rules::State::RejectedDuplicate, Some(o)) if public_originals.contains(&o) => {
                    format!("{}（重复上报，原事件{o}）", e.public_status)
                }
                (rules::State::RejectedDuplicate, _) => format!("{}（重复上报）", e.public_status),
                _ => e.public_status.to_string(),
            };
            ServiceRequest {
                service_request_id: e.id.to_string(),
                status: rules::open311_status(e.state),
                status_notes: Some(notes),
                service_name: e.category_name.clone(),
                service_code: e.category_code.clone(),
                description: Some(e.description.clone()),
                agency_responsible: e.lead_department_name.clone(),
                service_notice: None,
                requested_at: e.reported_at / MICROS,
                updated_at: e.updated_at / MICROS,
                expected_at: e.close_due_at.map(|t| t / MICROS),
                address: (!e.address.is_empty()).then(|| e.address.clone()),
                address_id: None,
                zipcode: None,
                lat: e.lat,
                long: e.lon,
                media_url: photo.map(|p| format!("{base}/grid/photos/{p}")),
            }
        })
        .collect())
}

async fn requests(
    state: &AppState,
    headers: &HeaderMap,
    format: Format,
    params: &[(String, String)],
) -> Response {
    let f = match RequestFilter::parse(params) {
        Ok(f) => f,
        Err(e) => return params_errors(format, &e),
    };
    let mut q = PublicQuery {
        limit: spec::MAX_REQUESTS as i64,
        ..PublicQuery::default()
    };
    if !f.ids.is_empty() {
        // An id that is not a number names no request of ours: it simply matches nothing.
        q.ids = f.ids.iter().filter_map(|i| i.parse().ok()).collect();
        if q.ids.is_empty() {
            return answer(format, StatusCode::OK, spec::render_requests(format, &[]));
        }
    } else {
        let now = state.now() / MICROS;
        q.window = f
            .window(now)
            .map(|(a, b)| (a * MICROS, b * MICROS + MICROS - 1));
        q.category_codes = f.service_codes.clone();
        for s in &f.statuses {
            q.states.extend(rules::states_with_status(*s));
        }
    }
    let listed = match store::public_list(state.store.reader(), &q).await {
        Ok(l) => l,
        Err(e) => return internal(format, e),
    };
    match as_request(state, headers, &listed).await {
        Ok(r) => answer(format, StatusCode::OK, spec::render_requests(format, &r)),
        Err(e) => internal(format, e),
    }
}

async fn one_request(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some((id, format)) = Format::split(&resource) else {
        return not_found(&resource);
    };
    let found = match id.parse::<i64>() {
        Ok(n) => match store::get(state.store.reader(), n).await {
            Ok(e) if e.visibility == Visibility::Public => Some(e),
            Ok(_) | Err(StoreError::NotFound) => None,
            Err(e) => return internal(format, e),
        },
        Err(_) => None,
    };
    let Some(ev) = found else {
        return errors(format, &[Open311Error::unknown_request(id)]);
    };
    match as_request(&state, &headers, std::slice::from_ref(&ev)).await {
        Ok(r) => answer(format, StatusCode::OK, spec::render_requests(format, &r)),
        Err(e) => internal(format, e),
    }
}

/// The account of a valid `api_key`, or the spec's 403.
async fn key_user(
    state: &AppState,
    format: Format,
    params: &[(String, String)],
) -> Result<onewindow_store::users::User, Response> {
    let Some(secret) = single(params, "api_key") else {
        return Err(errors(format, &[Open311Error::api_key()]));
    };
    let mut conn = match state.store.reader().acquire().await {
        Ok(c) => c,
        Err(e) => return Err(internal(format, e)),
    };
    match onewindow_store::apikeys::authenticate(&mut conn, secret).await {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(errors(format, &[Open311Error::api_key()])),
        Err(e) => Err(internal(format, e)),
    }
}

/// The spec's parameter an error of our records is about: `POST requests` names the place
/// `lat`/`long`/`address_string` (or `address_id`, when that was what it sent), the
/// category `service_code`, photos `media_url`; attributes are already `attribute[code]`.
fn spec_param<'a>(field: &'a str, params: &[(String, String)]) -> &'a str {
    match field {
        "lon" => "long",
        "address"
            if single(params, "address_string").is_none()
                && single(params, "address_id").is_some() =>
        {
            "address_id"
        }
        "address" => "address_string",
        "category_id" => "service_code",
        f if f.starts_with("photos") || f.starts_with("after_photos") => "media_url",
        f => f,
    }
}

/// Field errors of our records as the spec's errors (400), each naming its parameter the
/// way `ParamError` does.
fn field_errors(
    format: Format,
    f: &onewindow_domain::validation::FieldErrors,
    params: &[(String, String)],
) -> Response {
    let list: Vec<Open311Error> =
        f.0.iter()
            .map(|e| {
                Open311Error::new(
                    400,
                    format!("参数{}：{}", spec_param(&e.field, params), e.message),
                )
            })
            .collect();
    errors(format, &list)
}

async fn post_request(
    state: &AppState,
    headers: &HeaderMap,
    format: Format,
    params: &[(String, String)],
) -> Response {
    let user = match key_user(state, format, params).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let posted = match spec::parse_post_request(params) {
        Ok(p) => p,
        Err(e) => return params_errors(format, &e),
    };
    let cat = match categories::by_code(state.store.reader(), &posted.service_code).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return errors(
                format,
                &[Open311Error::unknown_service(&posted.service_code)],
            )
        }
        Err(e) => return internal(format, e),
    };
    let street = match super::events::street_of(state, &user.org_path).await {
        Ok(s) => s,
        Err(e) => return internal(format, e),
    };
    let name = [posted.first_name.as_deref(), posted.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let contact = [posted.phone.as_deref(), posted.email.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let address = posted
        .location
        .address_string
        .clone()
        .or(posted.location.address_id.clone())
        .unwrap_or_default();
    let new = NewEvent {
        category_id: cat.id,
        description: posted
            .description
            .clone()
            .unwrap_or_else(|| cat.category.name.clone()),
        point: posted.location.point,
        address,
        attributes: posted.attributes.clone(),
        reporter: ReporterKind::Open311,
        reporter_user_id: None,
        reporter_client: Some(if name.is_empty() {
            user.username.clone()
        } else {
            format!("{}（{name}）", user.username)
        }),
        reporter_contact: contact,
        visibility: Visibility::Public,
        fallback_street: street,
        photos: vec![],
    };
    let change = state.change(Who::user(user.id, &user.username));
    match super::events::save(state, change, &new, false).await {
        Ok(r) => {
            let notice = r.event.close_due_at.map(|d| {
                format!(
                    "已受理，预计{}前办结",
                    onewindow_store::clock::format_local(d)
                )
            });
            // The client's words only: the warnings are the dispatcher's (internal
            // instructions), never shown to a third party.
            let outside = r
                .event
                .outside_grids
                .then_some("该位置不在街道划定的网格内，街道将核实位置");
            let notice = match (notice, outside) {
                (Some(n), Some(o)) => Some(format!("{n}；{o}")),
                (None, Some(o)) => Some(o.to_string()),
                (n, None) => n,
            };
            let _ = headers;
            answer(
                format,
                StatusCode::CREATED,
                spec::render_created(
                    format,
                    &Created::Id(r.event.id.to_string()),
                    notice.as_deref(),
                    posted.account_id.as_deref(),
                ),
            )
        }
        Err(crate::error::AppError::Invalid(f)) => field_errors(format, &f, params),
        Err(e) => internal(format, e),
    }
}

async fn updates(
    state: &AppState,
    headers: &HeaderMap,
    format: Format,
    params: &[(String, String)],
) -> Response {
    let (from, to) = match spec::parse_updates_window(params) {
        Ok(w) => w,
        Err(e) => return params_errors(format, &e),
    };
    let list = match store::public_updates(
        state.store.reader(),
        from.map(|t| t * MICROS),
        to.map(|t| t * MICROS + MICROS - 1),
        spec::MAX_REQUESTS as i64,
    )
    .await
    {
        Ok(l) => l,
        Err(e) => return internal(format, e),
    };
    let _ = headers;
    let out: Vec<RequestUpdate> = list
        .iter()
        .map(|u| {
            let to = rules::State::parse(&u.entry.to_state).unwrap_or(rules::State::Reported);
            let text = match u.entry.detail.get("description").and_then(|v| v.as_str()) {
                Some(d) => format!("{}：{d}", u.entry.act_label),
                None => match u.entry.detail.get("reply").and_then(|v| v.as_str()) {
                    Some(r) => format!("{}：{r}", u.entry.act_label),
                    None => format!("{}（{}）", u.entry.act_label, to.label()),
                },
            };
            RequestUpdate {
                update_id: u.entry.id.to_string(),
                service_request_id: u.event_id.to_string(),
                status: rules::open311_status(to),
                updated_at: u.entry.at / MICROS,
                description: Some(text),
                media_url: None,
            }
        })
        .collect();
    answer(format, StatusCode::OK, spec::render_updates(format, &out))
}

/// 403 for a key whose account has no relation to the event.
fn not_related() -> Open311Error {
    Open311Error::new(
        403,
        "该api_key的账号既不是此服务请求所在街道的派单员，也不是上报它的客户端，不能提交更新\
         （api_key not allowed to update this service request）",
    )
}

/// `POST servicerequestupdates`: the key's account must be related to the public event —
/// it holds `DispatchGridEvents` at the event's street (the domain's rule, as for staff),
/// or it is the Open311 client that reported it —, else 403; a private event is 404 like
/// none. The status must be the event's current one (400 otherwise: states change through
/// the loop's acts only). `update_id` is idempotent per key account: the first post is
/// 201 Created, a repeat 200 OK with the same `update_id` and nothing written.
async fn post_update(state: &AppState, format: Format, params: &[(String, String)]) -> Response {
    let user = match key_user(state, format, params).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let posted = match spec::parse_post_update(params) {
        Ok(p) => p,
        Err(e) => return params_errors(format, &e),
    };
    let Ok(id) = posted.service_request_id.parse::<i64>() else {
        return errors(
            format,
            &[Open311Error::unknown_request(&posted.service_request_id)],
        );
    };
    let change = state.change(Who::user(user.id, &user.username));
    let done = async {
        let mut tx = state.store.begin().await?;
        let ev = store::get(&mut *tx, id).await?;
        if ev.visibility != Visibility::Public {
            return Err(StoreError::NotFound);
        }
        let dispatcher = authorize(
            &user.actor(),
            Permission::DispatchGridEvents,
            &ev.street_path,
        )
        .is_ok();
        if !dispatcher && store::open311_reporter(&mut tx, &ev).await? != Some(user.id) {
            return Ok(None);
        }
        let n = store::external_update(
            &mut tx,
            &change,
            &ev,
            posted.status,
            &posted.description,
            posted.update_id.as_deref(),
        )
        .await?;
        if n.created {
            tx.commit().await?;
        }
        Ok::<_, StoreError>(Some(n))
    }
    .await;
    match done {
        Ok(Some(n)) => answer(
            format,
            if n.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            spec::render_update_created(format, &n.id.to_string()),
        ),
        Ok(None) => errors(format, &[not_related()]),
        Err(StoreError::NotFound) => errors(
            format,
            &[Open311Error::unknown_request(&posted.service_request_id)],
        ),
        Err(StoreError::Invalid(f)) => field_errors(format, &f, params),
        Err(e) => internal(format, e),
    }
}
