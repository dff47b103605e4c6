//! Appointments (预约): the slots of a day, booking (online without login, or a clerk for a
//! caller) on the day the resident chose, cancelling with the phone number, check-in at the
//! booking's own hall inside its window around the slot, a hall's appointment list, the
//! no-show job, and the hall's opening hours and slot capacities.
//!
//! The booking page works without JavaScript: every class and every date is a link that
//! shows that day's slots, and the booking form carries the day it showed, which the slot
//! must be on (`onewindow_domain::queue::check_booking_choice`).
//!
//! Operations first (authorize + one transaction, shared by page and API handlers), then
//! page handlers, then API handlers.

use super::{
    authorize_hall, authorize_hall_list, authorize_record_hall, check_in_window, hall_list_filters,
    hall_name, int_setting, page_params, rule, today, HallListForm, HallListQuery,
};
use crate::chrome::Chrome;
use crate::context::{urlencode, ApiUser, Ctx, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::{ApiJson, FormData};
use crate::lists::{self, Listed, Pager};
use crate::pages::{render, render_form};
use crate::paging::ListBody;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{NaiveDate, NaiveTime};
use onewindow_domain::access::Permission;
use onewindow_domain::ids::{IdCardNumber, MobileNumber};
use onewindow_domain::queue::{self as rules, AppointmentState, OpeningHours};
use onewindow_domain::validation::{self, FieldError, FieldErrors};
use onewindow_store::appointments::{self, Appointment, Booker, Slot};
use onewindow_store::audit::Who;
use onewindow_store::clock::to_local;
use onewindow_store::page::ListId;
use onewindow_store::queue::{self as store_queue, ClassStats, Ticket};
use onewindow_store::settings;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/halls/{hall}/appointments", get(appointments_list_page))
        .route("/halls/{hall}/book", get(book_page).post(book_form))
        .route("/halls/{hall}/book/cancel", post(cancel_form))
        .route(
            "/api/v1/queue/halls/{hall}/hours",
            get(hours_api).put(set_hours_api),
        )
        .route(
            "/api/v1/queue/halls/{hall}/classes/{code}",
            axum::routing::put(set_class_api),
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
}

// ---- operations ----

/// The hall's opening hours (a setting stored as JSON; the demo hours by default).
pub async fn opening_hours(state: &AppState, hall_id: i64) -> Result<OpeningHours, AppError> {
    Ok(
        settings::get_json(state.store.reader(), &format!("queue.hours.{hall_id}"))
            .await?
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_else(OpeningHours::demo),
    )
}

/// Sets a hall's opening hours. Administrators of the hall's scope.
pub async fn set_hours(
    state: &AppState,
    p: &Principal,
    hall: i64,
    hours: &OpeningHours,
) -> Result<(), AppError> {
    hall_name(state, hall).await?;
    authorize_hall(state, p, Permission::ManageCalendar, hall).await?;
    hours.validate()?;
    let mut tx = state.store.begin().await?;
    settings::set_json(
        &mut tx,
        &state.change(p.user.who()),
        &format!("queue.hours.{hall}"),
        &serde_json::to_value(hours).expect("hours serialise"),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sets how many appointments one slot of a class takes. Administrators of the hall's scope.
pub async fn set_slot_capacity(
    state: &AppState,
    p: &Principal,
    hall: i64,
    code: &str,
    capacity: i64,
) -> Result<(), AppError> {
    authorize_hall(state, p, Permission::ManageCalendar, hall).await?;
    if !(0..=500).contains(&capacity) {
        return Err(AppError::invalid(
            "slot_capacity",
            "out_of_range",
            "每个时段可预约人数应在0至500之间",
        ));
    }
    let mut tx = state.store.begin().await?;
    store_queue::set_slot_capacity(&mut tx, &state.change(p.user.who()), hall, code, capacity)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Slots of a class on a day, by the hall's hours and the working-day calendar; today only
/// those not yet begun.
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
        let now = to_local(state.now()).time();
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

/// The booking input, from the online form or a clerk taking a phone call. `date` (and
/// `class`) are what the resident was shown: the slot must be on that day (the booking page
/// always sends them; the API may).
#[derive(Debug, Clone, Deserialize)]
pub struct BookingInput {
    pub slot_id: i64,
    pub name: String,
    pub id_number: String,
    pub phone: String,
    #[serde(default)]
    pub date: Option<NaiveDate>,
    #[serde(default)]
    pub class: Option<String>,
}

/// Who books: the clerk signed in (a booking by phone), else the resident online.
fn booker(p: Option<&Principal>) -> (String, Who) {
    match p {
        Some(p) => (p.user.username.clone(), p.user.who()),
        None => ("online".to_string(), Who::system("online")),
    }
}

pub async fn book(
    state: &AppState,
    p: Option<&Principal>,
    hall_id: i64,
    input: &BookingInput,
) -> Result<Appointment, AppError> {
    hall_name(state, hall_id).await?;
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
    let class_ok = input
        .class
        .as_deref()
        .is_none_or(|c| e.text("class", "业务类别", c, validation::REFERENCE));
    if !(name_ok && id_ok && phone_ok && class_ok) {
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
        .ok()
        .filter(|s| s.hall_id == hall_id)
        .ok_or_else(|| AppError::invalid("slot_id", "unknown", "请选择本大厅的预约时段"))?;
    let (slot_day, slot_start) = slot_when(&slot)?;
    if let Some(seen) = input.date {
        rules::check_booking_choice(
            slot_day,
            slot_start,
            &slot.class_code,
            seen,
            input.class.as_deref(),
            today(state),
        )?;
    }
    let now = to_local(state.now()).naive_local();
    if slot_day.and_time(slot_start) <= now {
        return Err(AppError::invalid(
            "slot_id",
            "past",
            "该时段已经开始或已过去，请选择其他时段",
        ));
    }
    let limit = int_setting(state, "queue.no_show_limit").await? as u32;
    let since = today(state) - chrono::Duration::days(90);
    let code = booking_code();
    let (booked_by, who) = booker(p);
    let booker = Booker {
        name: input.name.clone(),
        id_number: id.as_str().to_string(),
        id_masked: id.masked(),
        phone: input.phone.trim().to_string(),
        booked_by,
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

fn slot_when(s: &Slot) -> Result<(NaiveDate, NaiveTime), AppError> {
    parse_when(&s.day, &s.start_time)
}

fn parse_when(day: &str, start: &str) -> Result<(NaiveDate, NaiveTime), AppError> {
    match (
        NaiveDate::parse_from_str(day, "%Y-%m-%d"),
        NaiveTime::parse_from_str(start, "%H:%M"),
    ) {
        (Ok(d), Ok(t)) => Ok((d, t)),
        _ => Err(AppError::Internal(anyhow::anyhow!(
            "unreadable slot time {day} {start}"
        ))),
    }
}

/// When an appointment is, in words: `12月5日 星期六 14:30`.
fn when_in_words(state: &AppState, a: &Appointment) -> String {
    match parse_when(&a.day, &a.start_time) {
        Ok((d, t)) => rules::slot_in_words(d, t, today(state)),
        Err(_) => format!("{} {}", a.day, a.start_time),
    }
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

/// Cancels a booking with the phone number it was made with: an unknown code is 404, a
/// wrong phone a field error on `phone`, a booking no longer booked a conflict saying what
/// it is (already cancelled, checked in, expired).
pub async fn cancel(
    state: &AppState,
    p: Option<&Principal>,
    code: &str,
    phone: &str,
) -> Result<Appointment, AppError> {
    let mut e = FieldErrors::new();
    e.required("code", "预约码", code);
    e.required("phone", "手机号码", phone);
    e.text("code", "预约码", code, validation::REFERENCE);
    e.text("phone", "手机号码", phone, validation::PHONE);
    e.into_result()?;
    let (_, who) = booker(p);
    let mut tx = state.store.begin().await?;
    let a = appointments::cancel(&mut tx, &state.change(who), code, phone).await?;
    tx.commit().await?;
    Ok(a)
}

/// Where a booking is checked in: the hall's public kiosk, or staff (the guide desk, a
/// window clerk, a device with an API key).
pub enum CheckInAt<'a> {
    Kiosk,
    Staff(&'a Principal),
}

/// Checks a booking in at `hall` (for the API, the booking's own hall when not given): a
/// ticket in the 预约 lane. Staff act only in their scope: a booking of a hall outside it
/// answers like an unknown code (404). A booking of another hall is refused naming it
/// (`wrong_hall`), so no kiosk or desk issues a ticket it cannot show; outside the check-in
/// window around the slot the refusal says when to come (`too_early`, `too_late`,
/// `wrong_day`).
pub async fn check_in(
    state: &AppState,
    at: CheckInAt<'_>,
    hall: Option<i64>,
    code: &str,
) -> Result<Ticket, AppError> {
    let mut e = FieldErrors::new();
    e.text("code", "预约码", code, validation::REFERENCE);
    e.into_result()?;
    if let CheckInAt::Staff(p) = at {
        p.require(Permission::IssueTickets)?;
        if let Some(h) = hall {
            authorize_record_hall(state, p, Permission::IssueTickets, h).await?;
        }
    }
    let a = appointments::by_code(state.store.reader(), code).await?;
    if let CheckInAt::Staff(p) = at {
        authorize_record_hall(state, p, Permission::IssueTickets, a.hall_id).await?;
    }
    let at_hall = hall.unwrap_or(a.hall_id);
    let who = match at {
        CheckInAt::Kiosk => Who::system("kiosk"),
        CheckInAt::Staff(p) => p.user.who(),
    };
    let (rule, window) = (rule(state).await?, check_in_window(state).await?);
    let mut tx = state.store.begin().await?;
    let t =
        appointments::check_in(&mut tx, &state.change(who), &a.code, at_hall, rule, window).await?;
    tx.commit().await?;
    state.publish_local(t.hall_id);
    Ok(t)
}

/// A check-in typed into a page: an unknown code (or one outside the caller's scope) is a
/// field error on the form, not an error page.
pub fn unknown_code_on(field: &str, e: AppError) -> AppError {
    match e {
        AppError::NotFound => AppError::invalid(field, "unknown", "预约码不存在，请核对"),
        e => e,
    }
}

/// Bookings of past days nobody checked in for become no-shows (idempotent; run by the
/// housekeeping task and by the deadline job endpoint).
pub async fn mark_no_shows(state: &AppState) -> Result<u64, AppError> {
    let mut tx = state.store.begin().await?;
    let n = appointments::mark_no_shows(
        &mut tx,
        &state.change(Who::system("no-show-job")),
        today(state),
    )
    .await?;
    tx.commit().await?;
    Ok(n)
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
        AppointmentState::parse,
    );
    let (day, filters) = hall_list_filters(
        state,
        &mut e,
        q,
        appt_state.map(AppointmentState::as_str).unwrap_or(""),
    );
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

// ---- pages: booking ----

/// A class or a date to choose on the booking page: a link showing its slots.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub href: String,
    pub chosen: bool,
}

/// A booking just made, with its time in words.
pub struct Booked {
    pub a: Appointment,
    pub when: String,
}

#[derive(Template)]
#[template(path = "book.html")]
struct BookPage {
    chrome: Chrome,
    /// Today's queue per class, so a resident can choose between booking and coming now.
    stats: Vec<ClassStats>,
    hall_id: i64,
    hall: String,
    classes: Vec<Choice>,
    class: String,
    days: Vec<Choice>,
    /// The day shown (`YYYY-MM-DD`, carried by the booking form) and in words.
    date: String,
    date_words: String,
    slots: Vec<Slot>,
    /// Why no slots are shown, when none are.
    no_slots: String,
    errors: Vec<FieldError>,
    booked: Option<Booked>,
    cancelled: Option<String>,
    form: FormData,
    cancel_code: String,
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
    booked: Option<Booked>,
    cancelled: Option<String>,
    form: FormData,
    cancel_code: String,
}

/// How many days ahead the booking page offers, and how many of them at most.
const BOOK_DAYS_AHEAD: usize = 21;
const BOOK_DAYS_SHOWN: usize = 10;

fn book_href(hall: i64, class: &str, date: &str) -> String {
    format!(
        "/halls/{hall}/book?class={}&date={}#slots",
        urlencode(class),
        urlencode(date)
    )
}

async fn book_view(state: &AppState, ctx: &Ctx, hall: i64, o: BookOutcome) -> PageResult {
    let name = hall_name(state, hall).await?;
    let all_classes = store_queue::classes(state.store.reader(), hall).await?;
    let BookOutcome {
        class,
        date,
        errors,
        booked,
        cancelled,
        form,
        cancel_code,
    } = o;
    let class = all_classes
        .iter()
        .find(|c| c.code == class)
        .or(all_classes.first())
        .map(|c| c.code.clone())
        .unwrap_or_default();
    // The days with something still open, from today on.
    let cal = state.calendar().await?;
    let hours = opening_hours(state, hall).await?;
    let now = to_local(state.now()).naive_local();
    let mut open_days = Vec::new();
    let mut d = today(state);
    for _ in 0..BOOK_DAYS_AHEAD {
        let open = rules::slots_on(&hours, &cal, d)
            .is_ok_and(|s| s.iter().any(|s| d.and_time(s.start) > now));
        if open {
            open_days.push(d);
        }
        if open_days.len() >= BOOK_DAYS_SHOWN {
            break;
        }
        d = d.succ_opt().expect("date in range");
    }
    let chosen = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .ok()
        .or(open_days.first().copied());
    let (slots, no_slots) = match chosen {
        Some(day) => match slots(state, hall, &class, day).await {
            Ok(s) if s.is_empty() => (s, "该日没有可预约时段，请选择其他日期。".to_string()),
            Ok(s) => (s, String::new()),
            Err(AppError::Invalid(f)) => (
                vec![],
                f.0.first().map(|e| e.message.clone()).unwrap_or_default(),
            ),
            Err(e) => return Err(e.into()),
        },
        None => (vec![], "近期没有可预约的日期。".to_string()),
    };
    let date = chosen.map(|d| d.to_string()).unwrap_or_default();
    let classes = all_classes
        .iter()
        .map(|c| Choice {
            href: book_href(hall, &c.code, &date),
            label: format!("{} {}", c.code, c.name),
            chosen: c.code == class,
            value: c.code.clone(),
        })
        .collect();
    let days = open_days
        .iter()
        .map(|d| Choice {
            value: d.to_string(),
            label: rules::day_short(*d),
            href: book_href(hall, &class, &d.to_string()),
            chosen: Some(*d) == chosen,
        })
        .collect();
    let refused = !errors.is_empty();
    render_form(
        &BookPage {
            chrome: Chrome::new(state, ctx, format!("{name} 预约")),
            hall_id: hall,
            hall: name,
            stats: store_queue::stats(state.store.reader(), hall, today(state))
                .await?
                .0,
            classes,
            class,
            days,
            date_words: chosen
                .map(|d| rules::day_in_words(d, today(state)))
                .unwrap_or_default(),
            date,
            slots,
            no_slots,
            errors,
            booked,
            cancelled,
            form,
            cancel_code,
        },
        refused,
    )
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
    let retry = |errors: Vec<FieldError>| BookOutcome {
        class: form.get("class").into(),
        date: form.get("date").into(),
        errors,
        form: form.clone(),
        ..Default::default()
    };
    // The page always says which day it showed: a form without it was not made by it.
    let Ok(seen) = NaiveDate::parse_from_str(form.get("date").trim(), "%Y-%m-%d") else {
        let errors = vec![FieldError {
            field: "date".into(),
            code: "required".into(),
            message: "请先选择预约日期，再选择时段".into(),
        }];
        return book_view(&state, &ctx, hall, retry(errors)).await;
    };
    let input = BookingInput {
        slot_id: form.get("slot_id").parse().unwrap_or(0),
        name: form.get("name").into(),
        id_number: form.get("id_number").into(),
        phone: form.get("phone").into(),
        date: Some(seen),
        class: Some(form.get("class").into()),
    };
    let outcome = match book(&state, ctx.principal.as_ref(), hall, &input).await {
        Ok(a) => BookOutcome {
            class: a.class_code.clone(),
            date: a.day.clone(),
            booked: Some(Booked {
                when: when_in_words(&state, &a),
                a,
            }),
            ..Default::default()
        },
        Err(e) => match super::as_field_errors(e, "slot_id") {
            Ok(errors) => retry(errors),
            Err(e) => return Err(e.into()),
        },
    };
    book_view(&state, &ctx, hall, outcome).await
}

async fn cancel_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(hall): Path<i64>,
    form: FormData,
) -> PageResult {
    let code = form.get("code").trim().to_ascii_uppercase();
    let outcome = match cancel(&state, ctx.principal.as_ref(), &code, form.get("phone")).await {
        Ok(a) => BookOutcome {
            class: a.class_code.clone(),
            date: a.day.clone(),
            cancelled: Some(format!(
                "预约码 {} 的预约（{}）已取消。",
                a.code,
                when_in_words(&state, &a)
            )),
            ..Default::default()
        },
        Err(e) => {
            let e = unknown_code_on("code", e);
            match super::as_field_errors(e, "code") {
                // The code stays in the form: only what was wrong is typed again.
                Ok(errors) => BookOutcome {
                    errors,
                    cancel_code: code.chars().take(40).collect(),
                    ..Default::default()
                },
                Err(e) => return Err(e.into()),
            }
        }
    };
    book_view(&state, &ctx, hall, outcome).await
}

// ---- pages: a hall's appointment list ----

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
    let choices: Vec<(&'static str, &'static str)> = AppointmentState::ALL
        .iter()
        .map(|s| (s.as_str(), s.label()))
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
                state_label: a.state.label(),
                a,
            })
            .collect(),
        pager,
    })
}

// ---- API ----

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
    let a = book(&state, ctx.principal.as_ref(), hall, &b).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "code": a.code,
            "day": a.day,
            "start_time": a.start_time,
            "when": when_in_words(&state, &a),
            "class_code": a.class_code,
            "state": a.state,
            "id_masked": a.id_masked,
        })),
    ))
}

#[derive(Deserialize)]
struct CancelBody {
    phone: String,
}

async fn cancel_api(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
    ApiJson(b): ApiJson<CancelBody>,
) -> ApiResult<Json<Value>> {
    let a = cancel(&state, ctx.principal.as_ref(), &code, &b.phone).await?;
    Ok(Json(json!({ "code": a.code, "state": a.state })))
}

#[derive(Deserialize, Default)]
struct CheckInQuery {
    /// The hall where the resident arrived; the booking's own hall when absent.
    hall: Option<i64>,
}

async fn check_in_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(code): Path<String>,
    Query(q): Query<CheckInQuery>,
) -> ApiResult<(StatusCode, Json<Ticket>)> {
    Ok((
        StatusCode::CREATED,
        Json(check_in(&state, CheckInAt::Staff(&p), q.hall, &code).await?),
    ))
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
    set_hours(&state, &p, hall, &hours).await?;
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
    set_slot_capacity(&state, &p, hall, &code, b.slot_capacity).await?;
    Ok(Json(
        json!({ "class": code, "slot_capacity": b.slot_capacity }),
    ))
}
