//! Queue and appointments (取号、叫号、预约): the guide desk and kiosk issue tickets, the
//! window calls them, the display screen shows calls live (server-sent events, relayed
//! between instances through PostgreSQL LISTEN/NOTIFY), residents book and cancel.

use crate::chrome::Chrome;
use crate::context::{ApiUser, Ctx, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::{ApiJson, FormData};
use crate::lists::{self, Listed, Pager};
use crate::pages::render;
use crate::paging::{filter_string, ListBody, PageParams};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use onewindow_domain::access::Permission;
use onewindow_domain::ids::{IdCardNumber, MobileNumber};
use onewindow_domain::queue::{
    self as rules, OpeningHours, PriorityReason, PriorityRule, TicketAction, WindowState,
};
use onewindow_domain::validation::{self, FieldError, FieldErrors};
use onewindow_store::appointments::{self, Appointment, Booker, Slot};
use onewindow_store::clock::{format_local, local_date};
use onewindow_store::page::{ListId, PageRequest, MAX_LIMIT};
use onewindow_store::queue::{
    self as store_queue, ClassStats, QueueClass, QueueEvent, ServiceWindow, Snapshot, Ticket,
};
use onewindow_store::{orgs, settings};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use tokio_stream::StreamExt;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/halls/{hall}/display", get(display_page))
        .route("/halls/{hall}/events", get(events_sse))
        .route("/halls/{hall}/kiosk", get(kiosk_page).post(kiosk_issue))
        .route("/halls/{hall}/tickets", get(tickets_list_page))
        .route("/halls/{hall}/tickets/{id}", get(ticket_page))
        .route("/halls/{hall}/appointments", get(appointments_list_page))
        .route("/halls/{hall}/book", get(book_page).post(book_form))
        .route("/halls/{hall}/book/cancel", post(cancel_form))
        .route("/counter", get(counter_page))
        .route("/counter/{window}", get(window_page).post(window_form))
        .route("/desk", get(desk_page).post(desk_form))
        .route("/api/v1/queue/halls", get(halls_api))
        .route(
            "/api/v1/queue/halls/{hall}/hours",
            get(hours_api).put(set_hours_api),
        )
        .route(
            "/api/v1/queue/halls/{hall}/classes/{code}",
            axum::routing::put(set_class_api),
        )
        .route("/api/v1/queue/halls/{hall}/snapshot", get(snapshot_api))
        .route("/api/v1/queue/halls/{hall}/stats", get(stats_api))
        .route(
            "/api/v1/queue/halls/{hall}/tickets",
            get(tickets_api).post(issue_api),
        )
        .route("/api/v1/queue/halls/{hall}/slots", get(slots_api))
        .route(
            "/api/v1/queue/halls/{hall}/appointments",
            get(appointments_api).post(book_api),
        )
        .route("/api/v1/queue/appointments/{code}/cancel", post(cancel_api))
        .route(
            "/api/v1/queue/appointments/{code}/check-in",
            post(check_in_api),
        )
        .route("/api/v1/queue/windows/{id}/state", post(window_state_api))
        .route("/api/v1/queue/windows/{id}/call-next", post(call_next_api))
        .route(
            "/api/v1/queue/tickets/{id}/actions",
            post(ticket_action_api),
        )
}

// ---- settings and helpers ----

async fn rule(state: &AppState) -> Result<PriorityRule, AppError> {
    Ok(PriorityRule {
        boost_minutes: settings::get_int(state.store.reader(), "queue.priority_boost_minutes")
            .await?,
    })
}

async fn max_recalls(state: &AppState) -> Result<u32, AppError> {
    Ok(settings::get_int(state.store.reader(), "queue.max_recalls").await? as u32)
}

/// The hall's opening hours (a setting stored as JSON; the demo hours by default).
pub async fn opening_hours(state: &AppState, hall_id: i64) -> Result<OpeningHours, AppError> {
    Ok(
        settings::get_json(state.store.reader(), &format!("queue.hours.{hall_id}"))
            .await?
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_else(OpeningHours::demo),
    )
}

fn today(state: &AppState) -> NaiveDate {
    local_date(state.now())
}

async fn hall_name(state: &AppState, hall_id: i64) -> Result<String, AppError> {
    let classes = store_queue::classes(state.store.reader(), hall_id).await?;
    if classes.is_empty() {
        return Err(AppError::NotFound);
    }
    Ok(orgs::get(state.store.reader(), hall_id).await?.name)
}

/// Staff act on a hall inside their scope only.
async fn authorize_hall(
    state: &AppState,
    p: &Principal,
    permission: Permission,
    hall_id: i64,
) -> Result<(), AppError> {
    let hall = orgs::get(state.store.reader(), hall_id).await?;
    p.authorize(permission, &hall.path)
}

/// Staff act on a record of a hall (window, ticket, appointment) addressed by id: one of
/// another hall answers like an unknown id (404). Callers check the role before loading the
/// record, so a caller without it gets 403 whether or not the id exists.
async fn authorize_record_hall(
    state: &AppState,
    p: &Principal,
    permission: Permission,
    hall_id: i64,
) -> Result<(), AppError> {
    let hall = orgs::get(state.store.reader(), hall_id).await?;
    p.authorize_visible(permission, &hall.path)
}

/// The halls a staff member works in: halls inside their scope.
async fn my_halls(state: &AppState, p: &Principal) -> Result<Vec<(i64, String)>, AppError> {
    let mut out = Vec::new();
    for (id, name) in store_queue::halls(state.store.reader()).await? {
        if authorize_hall(state, p, Permission::IssueTickets, id)
            .await
            .is_ok()
        {
            out.push((id, name));
        }
    }
    Ok(out)
}

fn parse_reason(s: &str) -> Result<Option<PriorityReason>, AppError> {
    match s.trim() {
        "" | "none" => Ok(None),
        other => PriorityReason::parse(other)
            .map(Some)
            .ok_or_else(|| AppError::invalid("priority", "unknown", "优先原因无效")),
    }
}

// ---- operations ----

pub async fn issue(
    state: &AppState,
    hall_id: i64,
    class_code: &str,
    priority: Option<PriorityReason>,
    source: &str,
    who: onewindow_store::audit::Who,
) -> Result<Ticket, AppError> {
    let rule = rule(state).await?;
    let mut tx = state.store.begin().await?;
    let t = store_queue::issue(
        &mut tx,
        &state.change(who),
        hall_id,
        class_code,
        today(state),
        priority,
        source,
        rule,
        None,
    )
    .await?;
    tx.commit().await?;
    state.publish_local(hall_id);
    Ok(t)
}

pub async fn call_next(
    state: &AppState,
    p: &Principal,
    window_id: i64,
) -> Result<Option<Ticket>, AppError> {
    // The role first: a caller without it must not learn which ids exist (403 vs 404).
    p.require(Permission::OperateWindow)?;
    let w = store_queue::window(state.store.reader(), window_id).await?;
    authorize_record_hall(state, p, Permission::OperateWindow, w.hall_id).await?;
    let mut tx = state.store.begin().await?;
    let t = store_queue::call_next(
        &mut tx,
        &state.change(p.user.who()),
        window_id,
        today(state),
    )
    .await?;
    tx.commit().await?;
    state.publish_local(w.hall_id);
    Ok(t)
}

pub async fn ticket_action(
    state: &AppState,
    p: &Principal,
    ticket_id: i64,
    action: &TicketAction,
    case_nos: &[String],
) -> Result<Ticket, AppError> {
    p.require(Permission::OperateWindow)?;
    let t = store_queue::ticket(state.store.reader(), ticket_id).await?;
    authorize_record_hall(state, p, Permission::OperateWindow, t.hall_id).await?;
    let mut e = FieldErrors::new();
    for no in case_nos {
        if !e.text("case_nos", "办件编号", no, validation::REFERENCE) {
            break;
        }
    }
    e.into_result()?;
    let max = max_recalls(state).await?;
    let mut tx = state.store.begin().await?;
    let t = store_queue::act(
        &mut tx,
        &state.change(p.user.who()),
        ticket_id,
        action,
        max,
        case_nos,
    )
    .await?;
    tx.commit().await?;
    state.publish_local(t.hall_id);
    Ok(t)
}

pub async fn set_window(
    state: &AppState,
    p: &Principal,
    window_id: i64,
    to: WindowState,
) -> Result<ServiceWindow, AppError> {
    p.require(Permission::OperateWindow)?;
    let w = store_queue::window(state.store.reader(), window_id).await?;
    authorize_record_hall(state, p, Permission::OperateWindow, w.hall_id).await?;
    let clerk = (to != WindowState::Closed).then_some(p.user.id);
    let mut tx = state.store.begin().await?;
    let w =
        store_queue::set_window_state(&mut tx, &state.change(p.user.who()), window_id, to, clerk)
            .await?;
    tx.commit().await?;
    state.publish_local(w.hall_id);
    Ok(w)
}

/// Slots of a class on a day, by the hall's hours and the working-day calendar.
pub async fn slots(
    state: &AppState,
    hall_id: i64,
    class_code: &str,
    day: NaiveDate,
) -> Result<Vec<Slot>, AppError> {
    let class = store_queue::classes(state.store.reader(), hall_id)
        .await?
        .into_iter()
        .find(|c| c.code == class_code)
        .ok_or_else(|| AppError::invalid("class", "unknown", "没有这个业务类别"))?;
    if day < today(state) {
        return Err(AppError::invalid("date", "past", "不能预约已经过去的日期"));
    }
    let cal = state.calendar().await?;
    let hours = opening_hours(state, hall_id).await?;
    let mut sessions = rules::slots_on(&hours, &cal, day)
        .map_err(|e| AppError::invalid("date", e.code(), e.to_string()))?;
    if day == today(state) {
        // Slots that have already begun today are not offered.
        let now = onewindow_store::clock::to_local(state.now()).time();
        sessions.retain(|s| s.start > now);
    }
    let mut tx = state.store.begin().await?;
    let out = appointments::slots_for(
        &mut tx,
        hall_id,
        class_code,
        day,
        &sessions,
        class.slot_capacity,
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// The booking input, from the online form or a clerk taking a phone call.
#[derive(Debug, Clone, Deserialize)]
pub struct BookingInput {
    pub slot_id: i64,
    pub name: String,
    pub id_number: String,
    pub phone: String,
}

pub async fn book(
    state: &AppState,
    hall_id: i64,
    input: &BookingInput,
    booked_by: &str,
    who: onewindow_store::audit::Who,
) -> Result<Appointment, AppError> {
    let mut e = FieldErrors::new();
    e.required("name", "姓名", &input.name);
    // Anonymous input: bounded and clean before anything parses or stores it (a 1 MB
    // name used to be booked).
    let name_ok = e.text("name", "姓名", &input.name, validation::PERSON_NAME);
    let id_ok = e.text(
        "id_number",
        "身份证号码",
        &input.id_number,
        validation::ID_NUMBER,
    );
    let phone_ok = e.text("phone", "手机号码", &input.phone, validation::PHONE);
    if !(name_ok && id_ok && phone_ok) {
        return Err(e.into());
    }
    let id = match IdCardNumber::parse(&input.id_number, today(state)) {
        Ok(id) => Some(id),
        Err(err) => {
            e.add("id_number", err.code(), format!("身份证号码有误：{err}"));
            None
        }
    };
    if let Err(err) = MobileNumber::parse(&input.phone) {
        e.add("phone", err.code(), format!("手机号码有误：{err}"));
    }
    e.into_result()?;
    let id = id.expect("checked");
    let slot = appointments::slot(state.store.reader(), input.slot_id)
        .await
        .map_err(|_| AppError::invalid("slot_id", "unknown", "请选择预约时段"))?;
    let now = onewindow_store::clock::to_local(state.now());
    let starts = format!("{} {}", slot.day, slot.start_time);
    if starts <= now.format("%Y-%m-%d %H:%M").to_string() {
        return Err(AppError::invalid(
            "slot_id",
            "past",
            "该时段已经开始或已过去，请选择其他时段",
        ));
    }
    if slot_hall(state, &slot).await? != hall_id {
        return Err(AppError::invalid(
            "slot_id",
            "unknown",
            "请选择本大厅的预约时段",
        ));
    }
    let limit = settings::get_int(state.store.reader(), "queue.no_show_limit").await? as u32;
    let since = today(state) - chrono::Duration::days(90);
    let code = booking_code();
    let booker = Booker {
        name: input.name.clone(),
        id_number: id.as_str().to_string(),
        id_masked: id.masked(),
        phone: input.phone.trim().to_string(),
        booked_by: booked_by.to_string(),
    };
    let mut tx = state.store.begin().await?;
    let a = appointments::book(
        &mut tx,
        &state.change(who),
        input.slot_id,
        &booker,
        &code,
        limit,
        since,
    )
    .await?;
    tx.commit().await?;
    Ok(a)
}

async fn slot_hall(state: &AppState, slot: &Slot) -> Result<i64, AppError> {
    use sqlx::Row;
    Ok(
        sqlx::query("SELECT hall_id FROM appointment_slots WHERE id = $1")
            .bind(slot.id)
            .fetch_one(state.store.reader())
            .await?
            .get("hall_id"),
    )
}

/// 8 characters from an unambiguous alphabet: read out over the phone without confusion.
fn booking_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// Bookings of past days nobody checked in for become no-shows (idempotent; run by the
/// housekeeping task and by the deadline job endpoint).
pub async fn mark_no_shows(state: &AppState) -> Result<u64, AppError> {
    let mut tx = state.store.begin().await?;
    let n = appointments::mark_no_shows(
        &mut tx,
        &state.change(onewindow_store::audit::Who::system("no-show-job")),
        today(state),
    )
    .await?;
    tx.commit().await?;
    Ok(n)
}

pub async fn check_in(
    state: &AppState,
    code: &str,
    who: onewindow_store::audit::Who,
) -> Result<Ticket, AppError> {
    let rule = rule(state).await?;
    let mut tx = state.store.begin().await?;
    let t = appointments::check_in(&mut tx, &state.change(who), code, today(state), rule)
        .await
        .map_err(|e| match e {
            onewindow_store::StoreError::NotFound => {
                AppError::invalid("code", "unknown", "预约码不存在，请核对")
            }
            e => e.into(),
        })?;
    tx.commit().await?;
    state.publish_local(t.hall_id);
    Ok(t)
}

// ---- a hall's lists: tickets and appointments of a day ----

/// The query string of a hall's ticket or appointment list: filters, then `limit` and
/// `cursor`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HallListQuery {
    /// The day (`YYYY-MM-DD`, Beijing time); today when absent.
    pub date: Option<String>,
    pub state: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// Who may read a hall's lists: the staff who issue tickets there, as for issuing and
/// checking in. The role first (403 for any hall), then the hall: one that is not a hall,
/// or is outside the caller's scope, answers like a missing one (404).
async fn authorize_hall_list(state: &AppState, p: &Principal, hall: i64) -> Result<(), AppError> {
    p.require(Permission::IssueTickets)?;
    hall_name(state, hall).await?;
    authorize_record_hall(state, p, Permission::IssueTickets, hall).await
}

/// The day and the canonical filters of a hall list. The day is always in the filters
/// (today's date when not given), so a next link keeps reading the day it started on.
fn hall_list_filters(
    state: &AppState,
    e: &mut FieldErrors,
    q: &HallListQuery,
    state_text: &str,
) -> (NaiveDate, String) {
    let day = lists::date(e, "date", "日期", q.date.as_deref()).unwrap_or_else(|| today(state));
    let day_text = day.to_string();
    let filters = filter_string(&[("date", &day_text), ("state", state_text)]);
    (day, filters)
}

fn page_params(q: &HallListQuery) -> PageParams {
    PageParams {
        limit: q.limit.clone(),
        cursor: q.cursor.clone(),
    }
}

/// One page of a hall's tickets of a day, newest first.
pub async fn tickets_list(
    state: &AppState,
    p: &Principal,
    hall: i64,
    q: &HallListQuery,
) -> Result<Listed<Ticket>, AppError> {
    authorize_hall_list(state, p, hall).await?;
    let mut e = FieldErrors::new();
    let ticket_state = lists::one_of(
        &mut e,
        "state",
        "号的状态",
        q.state.as_deref(),
        "waiting、called、serving、done、no_show、cancelled",
        rules::TicketState::parse,
    );
    let (day, filters) = hall_list_filters(
        state,
        &mut e,
        q,
        ticket_state.map(rules::TicketState::as_str).unwrap_or(""),
    );
    e.into_result()?;
    let list = ListId {
        list: "hall_tickets",
        filters: &filters,
    };
    let req = lists::request(state, &page_params(q), &list).await?;
    let key = state.store.cursor_key().await?;
    let filter = store_queue::TicketFilter {
        hall_id: hall,
        day,
        state: ticket_state,
    };
    let page = store_queue::tickets_page(state.store.reader(), key, &list, &req, &filter).await?;
    Ok(Listed { page, filters, req })
}

/// One page of a hall's appointments of a day, by start time.
pub async fn appointments_list(
    state: &AppState,
    p: &Principal,
    hall: i64,
    q: &HallListQuery,
) -> Result<Listed<Appointment>, AppError> {
    authorize_hall_list(state, p, hall).await?;
    let mut e = FieldErrors::new();
    let appt_state = lists::one_of(
        &mut e,
        "state",
        "预约状态",
        q.state.as_deref(),
        "booked、checked_in、cancelled、no_show",
        |s| appointments::STATES.into_iter().find(|a| *a == s),
    );
    let (day, filters) = hall_list_filters(state, &mut e, q, appt_state.unwrap_or(""));
    e.into_result()?;
    let list = ListId {
        list: "hall_appointments",
        filters: &filters,
    };
    let req = lists::request(state, &page_params(q), &list).await?;
    let key = state.store.cursor_key().await?;
    let filter = appointments::AppointmentFilter {
        hall_id: hall,
        day,
        state: appt_state,
    };
    let page = appointments::page(state.store.reader(), key, &list, &req, &filter).await?;
    Ok(Listed { page, filters, req })
}

// ---- live events ----

#[derive(Deserialize, Default)]
struct EventsQuery {
    after: Option<i64>,
}

/// Server-sent events for a hall's display. A reconnecting screen sends Last-Event-ID and
/// gets what it missed from the event log before the live stream continues.
async fn events_sse(
    State(state): State<AppState>,
    Path(hall): Path<i64>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    let after: Option<i64> = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or(q.after);
    // Subscribe before reading the backlog, so nothing falls between the two; events in
    // both are sent once.
    let rx = state.queue_events.subscribe();
    let backlog = match after {
        Some(a) => store_queue::events_after(state.store.reader(), hall, a).await?,
        None => vec![],
    };
    // A gap longer than a replay (a screen switched off for hours, or one that lagged far
    // behind) is not replayed call by call: the screen reloads and shows the hall as it is.
    if backlog.len() >= store_queue::REPLAY_LIMIT {
        let reload = Event::default().event("reload").data("{}");
        let stream = tokio_stream::once(Ok::<_, Infallible>(reload));
        return Ok(Sse::new(stream)
            .keep_alive(KeepAlive::default())
            .into_response());
    }
    let sent: std::collections::HashSet<i64> = backlog.iter().map(|e| e.id).collect();
    let live = live_events(rx, hall, after.unwrap_or(i64::MIN), sent);
    // Replayed events update the screen but are marked, so it does not read old calls aloud.
    let stream = tokio_stream::iter(backlog.into_iter().map(|e| (e, true)))
        .chain(live.map(|e| (e, false)))
        .map(|(e, replayed): (QueueEvent, bool)| {
            Ok::<_, Infallible>(
                Event::default()
                    .id(e.id.to_string())
                    .event(e.kind.clone())
                    .data(sse_data(&e, replayed)),
            )
        });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// An event's SSE data: its payload, with `"replayed": true` when sent to catch up.
fn sse_data(e: &QueueEvent, replayed: bool) -> String {
    let mut data = e.payload.clone();
    if replayed {
        if let Some(object) = data.as_object_mut() {
            object.insert("replayed".into(), Value::Bool(true));
        }
    }
    data.to_string()
}

/// The live part of a hall's display stream: its events after `floor` not already `sent`.
///
/// A screen that fell so far behind that the broadcast dropped events for it must not
/// carry on with a gap: the stream ends, the browser's EventSource reconnects with
/// Last-Event-ID, and the backlog read from the event log fills the gap.
fn live_events(
    rx: tokio::sync::broadcast::Receiver<QueueEvent>,
    hall: i64,
    floor: i64,
    sent: std::collections::HashSet<i64>,
) -> impl tokio_stream::Stream<Item = QueueEvent> {
    tokio_stream::wrappers::BroadcastStream::new(rx)
        .take_while(move |msg| match msg {
            Ok(_) => true,
            Err(lagged) => {
                tracing::info!(error = %lagged, hall, "display stream lagged; asking it to reconnect");
                false
            }
        })
        .filter_map(move |msg| match msg {
            Ok(e) if e.hall_id == hall && e.id > floor && !sent.contains(&e.id) => Some(e),
            _ => None,
        })
}

// ---- pages: display, kiosk, ticket, booking ----

#[derive(Template)]
#[template(path = "display.html")]
struct DisplayPage {
    hall_id: i64,
    hall: String,
    snap: Snapshot,
}

/// The public display screen of a hall (no login: it hangs on the wall).
async fn display_page(State(state): State<AppState>, Path(hall): Path<i64>) -> PageResult {
    let name = hall_name(&state, hall).await?;
    let snap = store_queue::snapshot(state.store.reader(), hall, today(&state)).await?;
    render(&DisplayPage {
        hall_id: hall,
        hall: name,
        snap,
    })
}

#[derive(Template)]
#[template(path = "kiosk.html")]
struct KioskPage {
    chrome: Chrome,
    hall_id: i64,
    hall: String,
    stats: Vec<ClassStats>,
    errors: Vec<FieldError>,
}

async fn kiosk_view(state: &AppState, ctx: &Ctx, hall: i64, errors: Vec<FieldError>) -> PageResult {
    let name = hall_name(state, hall).await?;
    let (stats, _) = store_queue::stats(state.store.reader(), hall, today(state)).await?;
    let mut chrome = Chrome::new(state, ctx, format!("{name} 自助取号"));
    // The kiosk is for everyone: large text always.
    chrome.large_text = true;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = render(&KioskPage {
        chrome,
        hall_id: hall,
        hall: name,
        stats,
        errors,
    })?;
    *res.status_mut() = status;
    Ok(res)
}

async fn kiosk_page(State(state): State<AppState>, ctx: Ctx, Path(hall): Path<i64>) -> PageResult {
    kiosk_view(&state, &ctx, hall, vec![]).await
}

async fn kiosk_issue(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(hall): Path<i64>,
    form: FormData,
) -> PageResult {
    hall_name(&state, hall).await?;
    let attempt = async {
        if !form.get("appointment").trim().is_empty() {
            return check_in(
                &state,
                form.get("appointment"),
                onewindow_store::audit::Who::system("kiosk"),
            )
            .await;
        }
        let reason = if form.checked("priority") {
            Some(PriorityReason::Other)
        } else {
            None
        };
        issue(
            &state,
            hall,
            form.get("class"),
            reason,
            "kiosk",
            onewindow_store::audit::Who::system("kiosk"),
        )
        .await
    };
    match attempt.await {
        Ok(t) => Ok(Redirect::to(&format!("/halls/{hall}/tickets/{}", t.id)).into_response()),
        Err(AppError::Invalid(f)) => kiosk_view(&state, &ctx, hall, f.0).await,
        Err(AppError::Conflict { code, message }) => {
            kiosk_view(
                &state,
                &ctx,
                hall,
                vec![FieldError {
                    field: "appointment".into(),
                    code: code.into(),
                    message,
                }],
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    chrome: Chrome,
    hall: String,
    t: Ticket,
    class_name: String,
    ahead: i64,
    estimate: Option<u32>,
    issued: String,
}

async fn ticket_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((hall, id)): Path<(i64, i64)>,
) -> PageResult {
    let name = hall_name(&state, hall).await?;
    let t = store_queue::ticket(state.store.reader(), id).await?;
    if t.hall_id != hall {
        return Err(AppError::NotFound.into());
    }
    let (stats, _) = store_queue::stats(state.store.reader(), hall, today(&state)).await?;
    let s = stats.iter().find(|s| s.code == t.class_code);
    let ahead = ahead_of(&state, &t).await?;
    let mut chrome = Chrome::new(&state, &ctx, format!("{} 号", t.number));
    chrome.large_text = true;
    render(&TicketPage {
        chrome,
        hall: name,
        class_name: s.map(|s| s.name.clone()).unwrap_or_default(),
        estimate: s.and_then(|s| {
            rules::estimate_wait_minutes(
                ahead as u32,
                s.avg_handling_secs.unwrap_or(600.0),
                s.windows_open.max(1) as u32,
            )
        }),
        ahead,
        issued: format_local(t.issued_at),
        t,
    })
}

/// How many waiting tickets of the same class will be called before this one.
async fn ahead_of(state: &AppState, t: &Ticket) -> Result<i64, AppError> {
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM tickets o JOIN tickets me ON me.id = $1 \
         WHERE o.hall_id = me.hall_id AND o.day = me.day AND o.class_code = me.class_code AND o.state = 'waiting' \
         AND (o.order_key < me.order_key OR (o.order_key = me.order_key AND o.id < me.id))",
    )
    .bind(t.id)
    .fetch_one(state.store.reader())
    .await?;
    Ok(row.get("n"))
}

#[derive(Template)]
#[template(path = "book.html")]
struct BookPage {
    chrome: Chrome,
    /// Today's queue per class, so a resident can choose between booking and coming now.
    stats: Vec<ClassStats>,
    hall_id: i64,
    hall: String,
    classes: Vec<QueueClass>,
    class: String,
    days: Vec<(String, String)>,
    date: String,
    slots: Vec<Slot>,
    errors: Vec<FieldError>,
    booked: Option<Appointment>,
    cancelled: bool,
    form: FormData,
}

#[derive(Deserialize, Default)]
struct BookQuery {
    #[serde(default)]
    class: String,
    #[serde(default)]
    date: String,
}

/// What the booking page shows besides the slots: the choice, and the outcome of a post.
#[derive(Default)]
struct BookOutcome {
    class: String,
    date: String,
    errors: Vec<FieldError>,
    booked: Option<Appointment>,
    cancelled: bool,
    form: FormData,
}

async fn book_view(state: &AppState, ctx: &Ctx, hall: i64, o: BookOutcome) -> PageResult {
    let name = hall_name(state, hall).await?;
    let classes = store_queue::classes(state.store.reader(), hall).await?;
    let BookOutcome {
        class,
        date,
        errors,
        booked,
        cancelled,
        form,
    } = o;
    let class = if class.is_empty() {
        classes.first().map(|c| c.code.clone()).unwrap_or_default()
    } else {
        class
    };
    let cal = state.calendar().await?;
    let hours = opening_hours(state, hall).await?;
    let weekdays = ["一", "二", "三", "四", "五", "六", "日"];
    let mut days = Vec::new();
    let mut d = today(state);
    for _ in 0..21 {
        if rules::sessions_on(&hours, &cal, d).is_ok_and(|s| !s.is_empty()) {
            use chrono::Datelike;
            days.push((
                d.to_string(),
                format!(
                    "{}月{}日 周{}",
                    d.month(),
                    d.day(),
                    weekdays[d.weekday().num_days_from_monday() as usize]
                ),
            ));
        }
        if days.len() >= 10 {
            break;
        }
        d = d.succ_opt().expect("date in range");
    }
    let date = if date.is_empty() {
        days.first().map(|d| d.0.clone()).unwrap_or_default()
    } else {
        date.to_string()
    };
    let slots = match NaiveDate::parse_from_str(&date, "%Y-%m-%d") {
        Ok(day) => slots(state, hall, &class, day).await.unwrap_or_default(),
        Err(_) => vec![],
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = render(&BookPage {
        chrome: Chrome::new(state, ctx, format!("{name} 预约")),
        hall_id: hall,
        hall: name,
        stats: store_queue::stats(state.store.reader(), hall, today(state))
            .await?
            .0,
        classes,
        class,
        days,
        date,
        slots,
        errors,
        booked,
        cancelled,
        form,
    })?;
    *res.status_mut() = status;
    Ok(res)
}

async fn book_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(hall): Path<i64>,
    Query(q): Query<BookQuery>,
) -> PageResult {
    book_view(
        &state,
        &ctx,
        hall,
        BookOutcome {
            class: q.class,
            date: q.date,
            ..Default::default()
        },
    )
    .await
}

async fn book_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(hall): Path<i64>,
    form: FormData,
) -> PageResult {
    let input = BookingInput {
        slot_id: form.get("slot_id").parse().unwrap_or(0),
        name: form.get("name").into(),
        id_number: form.get("id_number").into(),
        phone: form.get("phone").into(),
    };
    let (by, who) = match &ctx.principal {
        Some(p) => (p.user.username.clone(), p.user.who()),
        None => (
            "online".to_string(),
            onewindow_store::audit::Who::system("online"),
        ),
    };
    let retry = |errors: Vec<FieldError>| BookOutcome {
        class: form.get("class").into(),
        date: form.get("date").into(),
        errors,
        form: form.clone(),
        ..Default::default()
    };
    let outcome = match book(&state, hall, &input, &by, who).await {
        Ok(a) => BookOutcome {
            class: a.class_code.clone(),
            date: a.day.clone(),
            booked: Some(a),
            ..Default::default()
        },
        Err(AppError::Invalid(f)) => retry(f.0),
        Err(AppError::Conflict { code, message }) => retry(vec![FieldError {
            field: "slot_id".into(),
            code: code.into(),
            message,
        }]),
        Err(e) => return Err(e.into()),
    };
    book_view(&state, &ctx, hall, outcome).await
}

async fn cancel_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(hall): Path<i64>,
    form: FormData,
) -> PageResult {
    let mut tx = state.store.begin().await?;
    let r = appointments::cancel(
        &mut tx,
        &state.change(onewindow_store::audit::Who::system("online")),
        form.get("code"),
        form.get("phone"),
    )
    .await;
    let outcome = match r {
        Ok(_) => {
            tx.commit().await?;
            BookOutcome {
                cancelled: true,
                ..Default::default()
            }
        }
        Err(onewindow_store::StoreError::NotFound) => BookOutcome {
            errors: vec![FieldError {
                field: "code".into(),
                code: "unknown".into(),
                message: "预约码或手机号不正确".into(),
            }],
            ..Default::default()
        },
        Err(e) => return Err(AppError::from(e).into()),
    };
    book_view(&state, &ctx, hall, outcome).await
}

// ---- pages: a hall's ticket and appointment lists ----

/// The date and state choices above a hall list.
struct HallListForm {
    date: String,
    /// (value, label, chosen).
    states: Vec<(&'static str, &'static str, bool)>,
}

impl HallListForm {
    fn new(
        state: &AppState,
        q: &HallListQuery,
        choices: &[(&'static str, &'static str)],
    ) -> HallListForm {
        let chosen = q.state.as_deref().unwrap_or("").trim();
        HallListForm {
            date: q
                .date
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(|d| d.chars().take(10).collect())
                .unwrap_or_else(|| today(state).to_string()),
            states: choices
                .iter()
                .map(|(v, l)| (*v, *l, *v == chosen))
                .collect(),
        }
    }
}

pub struct TicketLine {
    pub t: Ticket,
    pub issued: String,
}

#[derive(Template)]
#[template(path = "hall_tickets.html")]
struct HallTicketsPage {
    chrome: Chrome,
    hall_id: i64,
    hall: String,
    form: HallListForm,
    rows: Vec<TicketLine>,
    pager: Pager,
}

/// A hall's tickets of a day, 25 at a time (guide desk, window clerks).
async fn tickets_list_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(hall): Path<i64>,
    Query(q): Query<HallListQuery>,
) -> PageResult {
    let listed = tickets_list(&state, &p, hall, &q).await?;
    let name = hall_name(&state, hall).await?;
    let pager = Pager::new(&format!("/halls/{hall}/tickets"), &listed);
    let choices: Vec<(&'static str, &'static str)> = rules::TicketState::ALL
        .iter()
        .map(|s| (s.as_str(), s.label()))
        .collect();
    render(&HallTicketsPage {
        chrome: Chrome::new(&state, &ctx, format!("{name} 取号记录")),
        hall_id: hall,
        hall: name,
        form: HallListForm::new(&state, &q, &choices),
        rows: listed
            .page
            .items
            .into_iter()
            .map(|t| TicketLine {
                issued: format_local(t.issued_at),
                t,
            })
            .collect(),
        pager,
    })
}

/// The Chinese word for an appointment's state.
fn appointment_state_label(s: &str) -> &'static str {
    match s {
        "booked" => "已预约",
        "checked_in" => "已签到",
        "cancelled" => "已取消",
        "no_show" => "未到",
        _ => "—",
    }
}

pub struct AppointmentLine {
    pub a: Appointment,
    pub state_label: &'static str,
}

#[derive(Template)]
#[template(path = "hall_appointments.html")]
struct HallAppointmentsPage {
    chrome: Chrome,
    hall_id: i64,
    hall: String,
    form: HallListForm,
    rows: Vec<AppointmentLine>,
    pager: Pager,
}

/// A hall's appointments of a day, by start time, 25 at a time.
async fn appointments_list_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(hall): Path<i64>,
    Query(q): Query<HallListQuery>,
) -> PageResult {
    let listed = appointments_list(&state, &p, hall, &q).await?;
    let name = hall_name(&state, hall).await?;
    let pager = Pager::new(&format!("/halls/{hall}/appointments"), &listed);
    let choices: Vec<(&'static str, &'static str)> = appointments::STATES
        .iter()
        .map(|s| (*s, appointment_state_label(s)))
        .collect();
    render(&HallAppointmentsPage {
        chrome: Chrome::new(&state, &ctx, format!("{name} 预约名单")),
        hall_id: hall,
        hall: name,
        form: HallListForm::new(&state, &q, &choices),
        rows: listed
            .page
            .items
            .into_iter()
            .map(|a| AppointmentLine {
                state_label: appointment_state_label(&a.state),
                a,
            })
            .collect(),
        pager,
    })
}

// ---- pages: window (counter) and guide desk ----

#[derive(Template)]
#[template(path = "counter.html")]
struct CounterPage {
    chrome: Chrome,
    halls: Vec<(i64, String, Vec<ServiceWindow>)>,
}

async fn counter_page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    p.require(Permission::OperateWindow)?;
    let mut halls = Vec::new();
    for (id, name) in my_halls(&state, &p).await? {
        halls.push((
            id,
            name,
            store_queue::windows(state.store.reader(), id).await?,
        ));
    }
    render(&CounterPage {
        chrome: Chrome::new(&state, &ctx, "窗口叫号"),
        halls,
    })
}

#[derive(Template)]
#[template(path = "window_control.html")]
struct WindowControlPage {
    chrome: Chrome,
    w: ServiceWindow,
    current: Option<Ticket>,
    classes: Vec<QueueClass>,
    skipped: Vec<Ticket>,
    stats: Vec<ClassStats>,
    notice: Option<String>,
}

async fn window_view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    window_id: i64,
    notice: Option<String>,
) -> PageResult {
    p.require(Permission::OperateWindow)?;
    let w = store_queue::window(state.store.reader(), window_id).await?;
    authorize_record_hall(state, p, Permission::OperateWindow, w.hall_id).await?;
    let current = match w.current_ticket_id {
        Some(id) => Some(store_queue::ticket(state.store.reader(), id).await?).filter(|t| {
            matches!(
                t.state,
                rules::TicketState::Called | rules::TicketState::Serving
            )
        }),
        None => None,
    };
    // Today's no-shows of the hall (the list's query, its largest page), this window's
    // not yet re-queued.
    let no_shows = store_queue::tickets_page(
        state.store.reader(),
        state.store.cursor_key().await?,
        &ListId {
            list: "hall_tickets",
            filters: "",
        },
        &PageRequest::first(MAX_LIMIT),
        &store_queue::TicketFilter {
            hall_id: w.hall_id,
            day: today(state),
            state: Some(rules::TicketState::NoShow),
        },
    )
    .await?;
    let skipped = no_shows
        .items
        .into_iter()
        .filter(|t| t.requeue_count == 0 && t.window_id == Some(w.id))
        .collect();
    let classes = store_queue::classes(state.store.reader(), w.hall_id).await?;
    let (stats, _) = store_queue::stats(state.store.reader(), w.hall_id, today(state)).await?;
    render(&WindowControlPage {
        chrome: Chrome::new(state, ctx, format!("{}号窗口", w.number)),
        w,
        current,
        classes,
        skipped,
        stats,
        notice,
    })
}

async fn window_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(window_id): Path<i64>,
) -> PageResult {
    window_view(&state, &p, &ctx, window_id, None).await
}

async fn window_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(window_id): Path<i64>,
    form: FormData,
) -> PageResult {
    let ticket_id = form.get("ticket_id").parse::<i64>().ok();
    let attempt = async {
        match form.get("op") {
            "open" => set_window(&state, &p, window_id, WindowState::Open)
                .await
                .map(|_| None),
            "pause" => set_window(&state, &p, window_id, WindowState::Paused)
                .await
                .map(|_| None),
            "close" => set_window(&state, &p, window_id, WindowState::Closed)
                .await
                .map(|_| None),
            "call" => Ok(Some(match call_next(&state, &p, window_id).await? {
                Some(t) => format!("已叫号：{}", t.number),
                None => "当前没有等候的号".to_string(),
            })),
            op => {
                let id = ticket_id
                    .ok_or_else(|| AppError::invalid("ticket_id", "required", "没有选中的号"))?;
                let action = match op {
                    "recall" => TicketAction::Recall,
                    "start" => TicketAction::StartService,
                    "finish" => TicketAction::Finish,
                    "no_show" => TicketAction::NoShow,
                    "requeue" => TicketAction::Requeue,
                    "transfer" => TicketAction::Transfer {
                        to_class: form.get("to_class").to_string(),
                    },
                    other => {
                        return Err(AppError::invalid(
                            "op",
                            "unknown",
                            format!("未知操作{other}"),
                        ))
                    }
                };
                let cases: Vec<String> = form
                    .get("case_nos")
                    .split([',', '，', ' ', '\n'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                ticket_action(&state, &p, id, &action, &cases)
                    .await
                    .map(|_| None)
            }
        }
    };
    match attempt.await {
        Ok(notice) => window_view(&state, &p, &ctx, window_id, notice).await,
        Err(AppError::Conflict { message, .. }) => {
            window_view(&state, &p, &ctx, window_id, Some(message)).await
        }
        Err(AppError::Invalid(f)) => {
            window_view(
                &state,
                &p,
                &ctx,
                window_id,
                f.0.first().map(|e| e.message.clone()),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// How many of today's tickets the guide desk shows per hall.
const DESK_RECENT: i64 = 15;

#[derive(Template)]
#[template(path = "desk.html")]
struct DeskPage {
    chrome: Chrome,
    halls: Vec<(i64, String, Vec<QueueClass>, Vec<Ticket>)>,
    issued: Option<Ticket>,
    errors: Vec<FieldError>,
}

async fn desk_view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    issued: Option<Ticket>,
    errors: Vec<FieldError>,
) -> PageResult {
    p.require(Permission::IssueTickets)?;
    let mut halls = Vec::new();
    for (id, name) in my_halls(state, p).await? {
        let classes = store_queue::classes(state.store.reader(), id).await?;
        // The first rows of the hall's ticket list; the list page has them all.
        let recent = store_queue::tickets_page(
            state.store.reader(),
            state.store.cursor_key().await?,
            &ListId {
                list: "hall_tickets",
                filters: "",
            },
            &PageRequest::first(DESK_RECENT),
            &store_queue::TicketFilter {
                hall_id: id,
                day: today(state),
                state: None,
            },
        )
        .await?
        .items;
        halls.push((id, name, classes, recent));
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = render(&DeskPage {
        chrome: Chrome::new(state, ctx, "导办取号"),
        halls,
        issued,
        errors,
    })?;
    *res.status_mut() = status;
    Ok(res)
}

async fn desk_page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    desk_view(&state, &p, &ctx, None, vec![]).await
}

async fn desk_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    let attempt = async {
        p.require(Permission::IssueTickets)?;
        if !form.get("appointment").trim().is_empty() {
            return check_in(&state, form.get("appointment"), p.user.who()).await;
        }
        let hall = form.int("hall_id", "大厅")?;
        authorize_hall(&state, &p, Permission::IssueTickets, hall).await?;
        issue(
            &state,
            hall,
            form.get("class"),
            parse_reason(form.get("priority"))?,
            "desk",
            p.user.who(),
        )
        .await
    };
    match attempt.await {
        Ok(t) => desk_view(&state, &p, &ctx, Some(t), vec![]).await,
        Err(AppError::Invalid(f)) => desk_view(&state, &p, &ctx, None, f.0).await,
        Err(AppError::Conflict { code, message }) => {
            desk_view(
                &state,
                &p,
                &ctx,
                None,
                vec![FieldError {
                    field: "appointment".into(),
                    code: code.into(),
                    message,
                }],
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

// ---- API ----

async fn halls_api(State(state): State<AppState>) -> ApiResult<Json<Vec<Value>>> {
    let halls = store_queue::halls(state.store.reader()).await?;
    Ok(Json(
        halls
            .into_iter()
            .map(|(id, name)| json!({ "id": id, "name": name }))
            .collect(),
    ))
}

async fn snapshot_api(
    State(state): State<AppState>,
    Path(hall): Path<i64>,
) -> ApiResult<Json<Snapshot>> {
    hall_name(&state, hall).await?;
    Ok(Json(
        store_queue::snapshot(state.store.reader(), hall, today(&state)).await?,
    ))
}

async fn stats_api(State(state): State<AppState>, Path(hall): Path<i64>) -> ApiResult<Json<Value>> {
    hall_name(&state, hall).await?;
    let (classes, hall_avg) = store_queue::stats(state.store.reader(), hall, today(&state)).await?;
    Ok(Json(
        json!({ "classes": classes, "avg_wait_today_secs": hall_avg }),
    ))
}

#[derive(Deserialize)]
struct IssueBody {
    class: String,
    #[serde(default)]
    priority: Option<String>,
}

async fn issue_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(hall): Path<i64>,
    ApiJson(b): ApiJson<IssueBody>,
) -> ApiResult<(StatusCode, Json<Ticket>)> {
    authorize_hall(&state, &p, Permission::IssueTickets, hall).await?;
    let reason = parse_reason(b.priority.as_deref().unwrap_or(""))?;
    Ok((
        StatusCode::CREATED,
        Json(issue(&state, hall, &b.class, reason, "desk", p.user.who()).await?),
    ))
}

/// A hall's tickets of a day (guide desk, window clerks), newest first.
async fn tickets_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(hall): Path<i64>,
    Query(q): Query<HallListQuery>,
) -> ApiResult<Json<ListBody<Ticket>>> {
    let listed = tickets_list(&state, &p, hall, &q).await?;
    Ok(Json(ListBody::new(
        listed.page,
        &format!("/api/v1/queue/halls/{hall}/tickets"),
        &listed.filters,
        &listed.req,
    )))
}

/// A hall's appointments of a day (guide desk, window clerks), by start time.
async fn appointments_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(hall): Path<i64>,
    Query(q): Query<HallListQuery>,
) -> ApiResult<Json<ListBody<Appointment>>> {
    let listed = appointments_list(&state, &p, hall, &q).await?;
    Ok(Json(ListBody::new(
        listed.page,
        &format!("/api/v1/queue/halls/{hall}/appointments"),
        &listed.filters,
        &listed.req,
    )))
}

#[derive(Deserialize)]
struct SlotsQuery {
    class: String,
    date: NaiveDate,
}

async fn slots_api(
    State(state): State<AppState>,
    Path(hall): Path<i64>,
    Query(q): Query<SlotsQuery>,
) -> ApiResult<Json<Vec<Slot>>> {
    hall_name(&state, hall).await?;
    Ok(Json(slots(&state, hall, &q.class, q.date).await?))
}

/// Online booking (no login) or a clerk booking for a caller (logged in).
async fn book_api(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(hall): Path<i64>,
    ApiJson(b): ApiJson<BookingInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    hall_name(&state, hall).await?;
    let (by, who) = match &ctx.principal {
        Some(p) => (p.user.username.clone(), p.user.who()),
        None => (
            "online".to_string(),
            onewindow_store::audit::Who::system("online"),
        ),
    };
    let a = book(&state, hall, &b, &by, who).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "code": a.code, "day": a.day, "start_time": a.start_time, "class_code": a.class_code, "state": a.state, "id_masked": a.id_masked }),
        ),
    ))
}

#[derive(Deserialize)]
struct CancelBody {
    phone: String,
}

async fn cancel_api(
    State(state): State<AppState>,
    Path(code): Path<String>,
    ApiJson(b): ApiJson<CancelBody>,
) -> ApiResult<Json<Value>> {
    let mut tx = state.store.begin().await?;
    let a = appointments::cancel(
        &mut tx,
        &state.change(onewindow_store::audit::Who::system("online")),
        &code,
        &b.phone,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({ "code": a.code, "state": a.state })))
}

async fn check_in_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(code): Path<String>,
) -> ApiResult<(StatusCode, Json<Ticket>)> {
    p.require(Permission::IssueTickets)?;
    let a = appointments::by_code(state.store.reader(), &code).await?;
    authorize_record_hall(&state, &p, Permission::IssueTickets, a.hall_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(check_in(&state, &code, p.user.who()).await?),
    ))
}

#[derive(Deserialize)]
struct WindowStateBody {
    state: String,
}

async fn window_state_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<WindowStateBody>,
) -> ApiResult<Json<ServiceWindow>> {
    let to = WindowState::parse(&b.state).ok_or_else(|| {
        AppError::invalid("state", "unknown", "state 应为 open、paused 或 closed")
    })?;
    Ok(Json(set_window(&state, &p, id, to).await?))
}

async fn call_next_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "ticket": call_next(&state, &p, id).await? })))
}

#[derive(Deserialize)]
struct TicketActionBody {
    #[serde(flatten)]
    action: TicketAction,
    #[serde(default)]
    case_nos: Vec<String>,
}

async fn ticket_action_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<TicketActionBody>,
) -> ApiResult<Json<Ticket>> {
    Ok(Json(
        ticket_action(&state, &p, id, &b.action, &b.case_nos).await?,
    ))
}

/// On PostgreSQL, every instance listens for queue events committed by any instance and
/// broadcasts them to its own display screens. Reconnects after a dropped connection.
pub fn spawn_pg_relay(state: AppState) {
    tokio::spawn(async move {
        loop {
            match relay_once(&state).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "queue relay lost its connection; reconnecting");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    });
}

async fn relay_once(state: &AppState) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(state.store.url()).await?;
    listener.listen("onewindow_queue").await?;
    loop {
        let n = listener.recv().await?;
        match store_queue::parse_notification(n.payload()) {
            store_queue::Notified::Event(e) => {
                let _ = state.queue_events.send(e);
            }
            store_queue::Notified::Id(id) => {
                match store_queue::event(state.store.reader(), id).await {
                    Ok(e) => {
                        let _ = state.queue_events.send(e);
                    }
                    Err(e) => tracing::warn!(error = %e, event = id, "queue event not readable"),
                }
            }
            store_queue::Notified::Unknown => {
                tracing::warn!(payload = n.payload(), "queue notification not understood");
            }
        }
    }
}

async fn hours_api(
    State(state): State<AppState>,
    Path(hall): Path<i64>,
) -> ApiResult<Json<OpeningHours>> {
    hall_name(&state, hall).await?;
    Ok(Json(opening_hours(&state, hall).await?))
}

/// Sets a hall's opening hours (workday sessions, evening extras, weekend sessions,
/// explicitly opened dates, slot length). Administrators of the hall's scope.
async fn set_hours_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(hall): Path<i64>,
    ApiJson(hours): ApiJson<OpeningHours>,
) -> ApiResult<Json<OpeningHours>> {
    hall_name(&state, hall).await?;
    authorize_hall(&state, &p, Permission::ManageCalendar, hall).await?;
    hours.validate()?;
    let mut tx = state.store.begin().await?;
    settings::set_json(
        &mut tx,
        &state.change(p.user.who()),
        &format!("queue.hours.{hall}"),
        &serde_json::to_value(&hours).expect("hours serialise"),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(hours))
}

#[derive(Deserialize)]
struct ClassBody {
    slot_capacity: i64,
}

/// Sets how many appointments one slot of a class takes.
async fn set_class_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path((hall, code)): Path<(i64, String)>,
    ApiJson(b): ApiJson<ClassBody>,
) -> ApiResult<Json<Value>> {
    authorize_hall(&state, &p, Permission::ManageCalendar, hall).await?;
    if !(0..=500).contains(&b.slot_capacity) {
        return Err(AppError::invalid(
            "slot_capacity",
            "out_of_range",
            "每个时段可预约人数应在0至500之间",
        )
        .into());
    }
    let mut tx = state.store.begin().await?;
    store_queue::set_slot_capacity(
        &mut tx,
        &state.change(p.user.who()),
        hall,
        &code,
        b.slot_capacity,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(
        json!({ "class": code, "slot_capacity": b.slot_capacity }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, hall_id: i64) -> QueueEvent {
        QueueEvent {
            id,
            hall_id,
            at: 0,
            kind: "called".into(),
            payload: json!({}),
        }
    }

    #[tokio::test]
    async fn a_display_gets_its_halls_new_events_once() {
        let (tx, rx) = tokio::sync::broadcast::channel(16);
        let sent = [11].into_iter().collect();
        for e in [
            event(9, 1),
            event(10, 1),
            event(11, 1),
            event(12, 2),
            event(13, 1),
        ] {
            tx.send(e).unwrap();
        }
        drop(tx);
        let ids: Vec<i64> = live_events(rx, 1, 9, sent).map(|e| e.id).collect().await;
        assert_eq!(
            ids,
            vec![10, 13],
            "after the floor, not already sent, this hall only"
        );
    }

    #[tokio::test]
    async fn a_display_that_fell_behind_is_told_to_reconnect() {
        let (tx, rx) = tokio::sync::broadcast::channel(2);
        for id in 1..=5 {
            tx.send(event(id, 1)).unwrap();
        }
        // The sender stays open: without the lag rule the stream would wait for more.
        let ids: Vec<i64> = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            live_events(rx, 1, 0, Default::default())
                .map(|e| e.id)
                .collect::<Vec<_>>(),
        )
        .await
        .expect("the stream ends at the gap instead of carrying on");
        assert!(ids.is_empty(), "nothing after a gap is sent: {ids:?}");
        drop(tx);
    }
}
