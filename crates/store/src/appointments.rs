//! Appointments (预约): slots generated from the hall's opening hours and the working-day
//! calendar, booked online or by a clerk on the phone, cancelled with the phone number,
//! checked in on arrival — at the booking's own hall, inside the check-in window around the
//! slot (`onewindow_domain::queue::check_in`) — as a ticket in the 预约 lane, no-shows
//! recorded. A slot is claimed with a conditional increment, so the last place can only be
//! taken once however many people press "book" at the same moment.

use crate::audit::{self, Change};
use crate::page::sql::Sql;
use crate::page::{CursorKey, KeyPart, ListId, Page, PageRequest};
use crate::{queue, Result, StoreError};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use onewindow_domain::queue::{
    self as rules, AppointmentState, CheckInWindow, PriorityRule, Session,
};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, Row};

#[derive(Debug, Clone, Serialize)]
pub struct Slot {
    pub id: i64,
    pub hall_id: i64,
    pub class_code: String,
    pub day: String,
    pub start_time: String,
    pub end_time: String,
    pub capacity: i64,
    pub booked: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Appointment {
    pub id: i64,
    pub code: String,
    pub slot_id: i64,
    pub hall_id: i64,
    pub class_code: String,
    pub day: String,
    pub start_time: String,
    pub name: String,
    pub id_masked: String,
    #[serde(skip)]
    pub phone: String,
    pub state: AppointmentState,
    pub ticket_id: Option<i64>,
    pub booked_by: String,
}

fn slot_from_row(r: &AnyRow) -> Slot {
    Slot {
        id: r.get("id"),
        hall_id: r.get("hall_id"),
        class_code: r.get("class_code"),
        day: r.get("day"),
        start_time: r.get("start_time"),
        end_time: r.get("end_time"),
        capacity: r.get("capacity"),
        booked: r.get("booked"),
    }
}

fn appt_from_row(r: &AnyRow) -> Appointment {
    Appointment {
        id: r.get("id"),
        code: r.get("code"),
        slot_id: r.get("slot_id"),
        hall_id: r.get("hall_id"),
        class_code: r.get("class_code"),
        day: r.get("day"),
        start_time: r.get("start_time"),
        name: r.get("name"),
        id_masked: r.get("id_masked"),
        phone: r.get("phone"),
        state: AppointmentState::parse(&r.get::<String, _>("state"))
            .unwrap_or(AppointmentState::NoShow),
        ticket_id: r.get("ticket_id"),
        booked_by: r.get("booked_by"),
    }
}

/// The hash that identifies a person across bookings without storing the ID number twice.
pub fn person_hash(id_number: &str) -> String {
    hex::encode(Sha256::digest(
        format!("onewindow-person:{id_number}").as_bytes(),
    ))
}

/// Makes sure the slot rows of a day exist (idempotent), then lists them.
pub async fn slots_for(
    conn: &mut AnyConnection,
    hall_id: i64,
    class_code: &str,
    day: NaiveDate,
    sessions: &[Session],
    capacity: i64,
) -> Result<Vec<Slot>> {
    for s in sessions {
        sqlx::query(
            "INSERT INTO appointment_slots (hall_id, class_code, day, start_time, end_time, capacity) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (hall_id, class_code, day, start_time) DO NOTHING",
        )
        .bind(hall_id)
        .bind(class_code)
        .bind(day.to_string())
        .bind(s.start.format("%H:%M").to_string())
        .bind(s.end.format("%H:%M").to_string())
        .bind(capacity)
        .execute(&mut *conn)
        .await?;
    }
    let rows = sqlx::query("SELECT * FROM appointment_slots WHERE hall_id = $1 AND class_code = $2 AND day = $3 ORDER BY start_time")
        .bind(hall_id)
        .bind(class_code)
        .bind(day.to_string())
        .fetch_all(&mut *conn)
        .await?;
    // Only the slots the opening hours still offer (hours may have changed since).
    let offered: Vec<String> = sessions
        .iter()
        .map(|s| s.start.format("%H:%M").to_string())
        .collect();
    Ok(rows
        .iter()
        .map(slot_from_row)
        .filter(|s| offered.contains(&s.start_time))
        .collect())
}

pub async fn slot<'c, E: Executor<'c, Database = Any>>(e: E, id: i64) -> Result<Slot> {
    sqlx::query("SELECT * FROM appointment_slots WHERE id = $1")
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(|r| slot_from_row(&r))
        .ok_or(StoreError::NotFound)
}

pub async fn by_code<'c, E: Executor<'c, Database = Any>>(e: E, code: &str) -> Result<Appointment> {
    sqlx::query("SELECT * FROM appointments WHERE code = $1")
        .bind(code.trim().to_ascii_uppercase())
        .fetch_optional(e)
        .await?
        .map(|r| appt_from_row(&r))
        .ok_or(StoreError::NotFound)
}

/// Which of a hall's appointments a list shows: one day's, all or in one state.
#[derive(Debug, Clone)]
pub struct AppointmentFilter {
    pub hall_id: i64,
    pub day: NaiveDate,
    pub state: Option<AppointmentState>,
}

/// One page of a hall's appointments of a day, by start time then id (the sort key). One
/// range scan of `appointments_day_start` (or `appointments_day_state_start` with a
/// state) from the cursor on.
pub async fn page<'c, E: Executor<'c, Database = Any>>(
    e: E,
    key: &CursorKey,
    list: &ListId<'_>,
    req: &PageRequest,
    filter: &AppointmentFilter,
) -> Result<Page<Appointment>> {
    let mut sql = Sql::new("SELECT * FROM appointments");
    sql.push(
        " WHERE hall_id = ? AND day = ?",
        [KeyPart::Int(filter.hall_id), filter.day.to_string().into()],
    );
    if let Some(state) = filter.state {
        sql.push(" AND state = ?", [state.as_str().into()]);
    }
    if let (Some(start), Some(id)) = (req.after_text(0), req.after_int(1)) {
        sql.push(
            " AND start_time >= ? AND (start_time > ? OR id > ?)",
            [start.into(), start.into(), KeyPart::Int(id)],
        );
    }
    sql.push(" ORDER BY start_time, id LIMIT ?", [req.fetch().into()]);
    let rows = sql.query().fetch_all(e).await?;
    Ok(Page::from_rows(
        key,
        list,
        req,
        rows.iter().map(appt_from_row).collect(),
        |a: &Appointment| vec![a.start_time.as_str().into(), KeyPart::Int(a.id)],
    ))
}

/// Who is booking.
#[derive(Debug, Clone)]
pub struct Booker {
    pub name: String,
    pub id_number: String,
    pub id_masked: String,
    pub phone: String,
    /// `online`, or the clerk's username for a booking taken by phone.
    pub booked_by: String,
}

/// Books a place in a slot. Refused when the slot is full, the person already holds a
/// booking for that class on that day, or has reached the no-show limit.
pub async fn book(
    conn: &mut AnyConnection,
    change: &Change,
    slot_id: i64,
    who: &Booker,
    code: &str,
    no_show_limit: u32,
    since_day: NaiveDate,
) -> Result<Appointment> {
    let s = slot(&mut *conn, slot_id).await?;
    let hash = person_hash(&who.id_number);
    let no_shows: i64 = sqlx::query("SELECT COUNT(*) AS n FROM appointments WHERE id_hash = $1 AND state = 'no_show' AND day >= $2")
        .bind(&hash)
        .bind(since_day.to_string())
        .fetch_one(&mut *conn)
        .await?
        .get("n");
    if onewindow_domain::queue::booking_blocked(no_shows as u32, no_show_limit) {
        return Err(StoreError::Conflict {
            code: "no_show_limit",
            message: format!(
                "近期已有{no_shows}次预约未到，暂不能在线预约，请到大厅现场取号或联系窗口"
            ),
        });
    }
    let dup: i64 = sqlx::query("SELECT COUNT(*) AS n FROM appointments WHERE id_hash = $1 AND day = $2 AND class_code = $3 AND state = 'booked'")
        .bind(&hash)
        .bind(&s.day)
        .bind(&s.class_code)
        .fetch_one(&mut *conn)
        .await?
        .get("n");
    if dup > 0 {
        return Err(StoreError::Conflict {
            code: "already_booked",
            message: "您当天已预约过该类业务，无需重复预约".into(),
        });
    }
    let claimed = sqlx::query(
        "UPDATE appointment_slots SET booked = booked + 1 WHERE id = $1 AND booked < capacity",
    )
    .bind(slot_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if claimed == 0 {
        return Err(StoreError::Conflict {
            code: "slot_full",
            message: format!("{} {} 的号已约满，请选择其他时段", s.day, s.start_time),
        });
    }
    let id: i64 = sqlx::query(
        "INSERT INTO appointments (code, slot_id, hall_id, class_code, day, start_time, name, id_hash, id_masked, phone, state, booked_by, created_at, updated_at) \
         SELECT $1, id, hall_id, class_code, day, start_time, $2, $3, $4, $5, 'booked', $6, $7, $7 FROM appointment_slots WHERE id = $8 RETURNING id",
    )
    .bind(code)
    .bind(who.name.trim())
    .bind(&hash)
    .bind(&who.id_masked)
    .bind(who.phone.trim())
    .bind(&who.booked_by)
    .bind(change.at)
    .bind(slot_id)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    audit::append(&mut *conn, change, "appointment.book", "appointment", code, &json!({ "slot": s.id, "day": s.day, "start": s.start_time, "class": s.class_code, "by": who.booked_by, "id": who.id_masked })).await?;
    by_code(conn, code).await.map(|a| Appointment { id, ..a })
}

/// Cancels a booking. The phone number must match (it is the resident's proof): a wrong one
/// is a field error on `phone`, an unknown code is `NotFound`. A booking no longer booked
/// (cancelled already, checked in, expired) is refused by the domain's rule.
pub async fn cancel(
    conn: &mut AnyConnection,
    change: &Change,
    code: &str,
    phone: &str,
) -> Result<Appointment> {
    let a = by_code(&mut *conn, code).await?;
    if a.phone != phone.trim() {
        return Err(StoreError::invalid(
            "phone",
            "phone_mismatch",
            "手机号码与预约时登记的不一致，请核对后再试",
        ));
    }
    rules::cancel(a.state).map_err(refused)?;
    let changed = sqlx::query("UPDATE appointments SET state = 'cancelled', updated_at = $1 WHERE id = $2 AND state = 'booked'")
        .bind(change.at)
        .bind(a.id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if changed == 0 {
        // Changed by someone else since it was read: say what it is now.
        let now = by_code(&mut *conn, code).await?;
        return Err(rules::cancel(now.state)
            .err()
            .map(refused)
            .unwrap_or_else(|| StoreError::version_conflict("该预约")));
    }
    sqlx::query("UPDATE appointment_slots SET booked = booked - 1 WHERE id = $1 AND booked > 0")
        .bind(a.slot_id)
        .execute(&mut *conn)
        .await?;
    audit::append(
        &mut *conn,
        change,
        "appointment.cancel",
        "appointment",
        &a.code,
        &json!({}),
    )
    .await?;
    Ok(Appointment {
        state: AppointmentState::Cancelled,
        ..a
    })
}

/// A refusal of the domain's appointment rules as a conflict (its code and Chinese text).
fn refused(e: rules::AppointmentError) -> StoreError {
    StoreError::Conflict {
        code: e.code(),
        message: e.to_string(),
    }
}

/// The start of a booking's slot: its local (Beijing) date and time, as UTC microseconds.
pub fn slot_start_micros(day: &str, start_time: &str) -> Result<i64> {
    let (day, start) = slot_start_local(day, start_time)?;
    Ok(crate::clock::china()
        .from_local_datetime(&day.and_time(start))
        .single()
        .map(|t| t.timestamp_micros())
        .unwrap_or_default())
}

fn slot_start_local(day: &str, start_time: &str) -> Result<(NaiveDate, NaiveTime)> {
    let bad = || StoreError::Config(format!("appointment slot {day} {start_time} is unreadable"));
    Ok((
        NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| bad())?,
        NaiveTime::parse_from_str(start_time, "%H:%M").map_err(|_| bad())?,
    ))
}

/// Arrival at a hall: the booking becomes a ticket in the 预约 lane, ordered by its slot.
/// Refused when the booking is another hall's (`wrong_hall`, naming it: the kiosk or desk
/// of one hall never issues another hall's ticket), no longer booked, or outside the
/// check-in window around its slot (`wrong_day`, `too_early`, `too_late`).
pub async fn check_in(
    conn: &mut AnyConnection,
    change: &Change,
    code: &str,
    at_hall: i64,
    rule: PriorityRule,
    window: CheckInWindow,
) -> Result<queue::Ticket> {
    let a = by_code(&mut *conn, code).await?;
    if a.hall_id != at_hall {
        let theirs = crate::orgs::get(&mut *conn, a.hall_id).await?;
        return Err(StoreError::Conflict {
            code: "wrong_hall",
            message: format!(
                "该预约是在“{}”办理的，不能在本大厅签到，请到该大厅签到",
                theirs.name
            ),
        });
    }
    let (day, start) = slot_start_local(&a.day, &a.start_time)?;
    let now: NaiveDateTime = crate::clock::to_local(change.at).naive_local();
    rules::check_in(a.state, day, start, now, window).map_err(refused)?;
    let t = queue::issue(
        &mut *conn,
        change,
        a.hall_id,
        &a.class_code,
        day,
        queue::Joining::Appointment {
            id: a.id,
            slot_start: slot_start_micros(&a.day, &a.start_time)?,
        },
        "appointment",
        rule,
    )
    .await?;
    let changed = sqlx::query("UPDATE appointments SET state = 'checked_in', ticket_id = $1, updated_at = $2 WHERE id = $3 AND state = 'booked'")
        .bind(t.id)
        .bind(change.at)
        .bind(a.id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if changed == 0 {
        return Err(refused(rules::AppointmentError::AlreadyCheckedIn));
    }
    audit::append(
        &mut *conn,
        change,
        "appointment.check_in",
        "appointment",
        &a.code,
        &json!({ "ticket": t.number }),
    )
    .await?;
    Ok(t)
}

/// Marks bookings of past days that nobody checked in for as no-shows. Idempotent.
pub async fn mark_no_shows(
    conn: &mut AnyConnection,
    change: &Change,
    today: NaiveDate,
) -> Result<u64> {
    let rows = sqlx::query(
        "SELECT code FROM appointments WHERE state = 'booked' AND day < $1 ORDER BY id LIMIT 1000",
    )
    .bind(today.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut n = 0;
    for r in rows {
        let code: String = r.get("code");
        let changed = sqlx::query("UPDATE appointments SET state = 'no_show', updated_at = $1 WHERE code = $2 AND state = 'booked'")
            .bind(change.at)
            .bind(&code)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if changed == 1 {
            audit::append(
                &mut *conn,
                change,
                "appointment.no_show",
                "appointment",
                &code,
                &json!({}),
            )
            .await?;
            n += 1;
        }
    }
    Ok(n)
}
