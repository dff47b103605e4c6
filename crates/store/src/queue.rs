//! Queue tickets, windows and the display's event log (取号、叫号); appointments are in
//! [`crate::appointments`].
//!
//! Concurrency: "call next" picks the first waiting ticket with `FOR UPDATE SKIP LOCKED`
//! on PostgreSQL (SQLite has one writer), then claims it with a conditional update
//! (`… AND state = 'waiting'`), so two windows never get the same ticket and none is
//! skipped. Every change records an event for the display screens; on PostgreSQL it is
//! also `pg_notify`d, and [`EventListener`] (LISTEN) hands other instances' events to this
//! one's screens.

use crate::audit::{self, Change};
use crate::page::sql::Sql;
use crate::page::{CursorKey, KeyPart, ListId, Page, PageRequest};
use crate::{Backend, Result, StoreError};
use chrono::NaiveDate;
use onewindow_domain::queue::{
    self as rules, Lane, Placement, PriorityReason, PriorityRule, TicketAction, TicketFacts,
    TicketState, WindowState,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};

#[derive(Debug, Clone, Serialize)]
pub struct QueueClass {
    pub id: i64,
    pub hall_id: i64,
    pub code: String,
    pub name: String,
    pub slot_capacity: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceWindow {
    pub id: i64,
    pub hall_id: i64,
    pub number: i64,
    pub name: String,
    pub classes: Vec<String>,
    pub state: WindowState,
    pub clerk_id: Option<i64>,
    pub current_ticket_id: Option<i64>,
    pub version: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ticket {
    pub id: i64,
    pub hall_id: i64,
    pub class_code: String,
    pub day: String,
    pub number: String,
    /// 爱心通道 (an appointment's ticket is in its own lane, not this one).
    pub priority: bool,
    pub priority_reason: Option<PriorityReason>,
    /// The line it waits in: ordinary, 爱心通道, or 预约.
    pub lane: Lane,
    pub source: String,
    pub state: TicketState,
    pub issued_at: i64,
    pub called_at: Option<i64>,
    pub served_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub window_id: Option<i64>,
    pub window_number: Option<i64>,
    pub recall_count: i64,
    pub requeue_count: i64,
    pub appointment_id: Option<i64>,
    pub case_nos: Vec<String>,
    pub version: i64,
}

/// One thing the display screens show: an issue, a call, a recall, a change of counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEvent {
    pub id: i64,
    pub hall_id: i64,
    pub at: i64,
    pub kind: String,
    pub payload: serde_json::Value,
}

fn parse_enum<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(json!(s)).ok()
}

fn ticket_from_row(r: &AnyRow) -> Ticket {
    let reason: Option<String> = r.get("priority_reason");
    let priority = crate::flag(r, "priority");
    let appointment_id: Option<i64> = r.get("appointment_id");
    Ticket {
        id: r.get("id"),
        hall_id: r.get("hall_id"),
        class_code: r.get("class_code"),
        day: r.get("day"),
        number: r.get("number"),
        priority,
        priority_reason: reason.and_then(|s| parse_enum(&s)),
        lane: Lane::of(priority, appointment_id.is_some()),
        source: r.get("source"),
        state: parse_enum(&r.get::<String, _>("state")).unwrap_or(TicketState::Waiting),
        issued_at: r.get("issued_at"),
        called_at: r.get("called_at"),
        served_at: r.get("served_at"),
        finished_at: r.get("finished_at"),
        window_id: r.get("window_id"),
        window_number: r.get("window_number"),
        recall_count: r.get("recall_count"),
        requeue_count: r.get("requeue_count"),
        appointment_id,
        case_nos: serde_json::from_str(&r.get::<String, _>("case_nos")).unwrap_or_default(),
        version: r.get("version"),
    }
}

fn window_from_row(r: &AnyRow) -> ServiceWindow {
    ServiceWindow {
        id: r.get("id"),
        hall_id: r.get("hall_id"),
        number: r.get("number"),
        name: r.get("name"),
        classes: serde_json::from_str(&r.get::<String, _>("classes")).unwrap_or_default(),
        state: parse_enum(&r.get::<String, _>("state")).unwrap_or(WindowState::Closed),
        clerk_id: r.get("clerk_id"),
        current_ticket_id: r.get("current_ticket_id"),
        version: r.get("version"),
    }
}

pub async fn classes<'c, E: Executor<'c, Database = Any>>(
    e: E,
    hall_id: i64,
) -> Result<Vec<QueueClass>> {
    let rows = sqlx::query("SELECT id, hall_id, code, name, slot_capacity FROM queue_classes WHERE hall_id = $1 ORDER BY code")
        .bind(hall_id)
        .fetch_all(e)
        .await?;
    Ok(rows
        .iter()
        .map(|r| QueueClass {
            id: r.get("id"),
            hall_id: r.get("hall_id"),
            code: r.get("code"),
            name: r.get("name"),
            slot_capacity: r.get("slot_capacity"),
        })
        .collect())
}

pub async fn windows<'c, E: Executor<'c, Database = Any>>(
    e: E,
    hall_id: i64,
) -> Result<Vec<ServiceWindow>> {
    let rows = sqlx::query("SELECT * FROM service_windows WHERE hall_id = $1 ORDER BY number")
        .bind(hall_id)
        .fetch_all(e)
        .await?;
    Ok(rows.iter().map(window_from_row).collect())
}

pub async fn window<'c, E: Executor<'c, Database = Any>>(e: E, id: i64) -> Result<ServiceWindow> {
    sqlx::query("SELECT * FROM service_windows WHERE id = $1")
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(|r| window_from_row(&r))
        .ok_or(StoreError::NotFound)
}

pub async fn ticket<'c, E: Executor<'c, Database = Any>>(e: E, id: i64) -> Result<Ticket> {
    sqlx::query("SELECT * FROM tickets WHERE id = $1")
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(|r| ticket_from_row(&r))
        .ok_or(StoreError::NotFound)
}

/// How many waiting tickets of the same class will be called before this one (by the
/// stored order key, the rule of [`call_next`]).
pub async fn ahead_of<'c, E: Executor<'c, Database = Any>>(e: E, ticket_id: i64) -> Result<i64> {
    Ok(sqlx::query(
        "SELECT COUNT(*) AS n FROM tickets o JOIN tickets me ON me.id = $1 \
         WHERE o.hall_id = me.hall_id AND o.day = me.day AND o.class_code = me.class_code AND o.state = 'waiting' \
         AND (o.order_key < me.order_key OR (o.order_key = me.order_key AND o.id < me.id))",
    )
    .bind(ticket_id)
    .fetch_one(e)
    .await?
    .get("n"))
}

/// Halls are organisations that have queue classes.
pub async fn halls<'c, E: Executor<'c, Database = Any>>(e: E) -> Result<Vec<(i64, String)>> {
    let rows = sqlx::query(
        "SELECT DISTINCT o.id, o.name FROM orgs o JOIN queue_classes q ON q.hall_id = o.id ORDER BY o.id",
    )
    .fetch_all(e)
    .await?;
    Ok(rows.iter().map(|r| (r.get("id"), r.get("name"))).collect())
}

/// Records an event for the display screens, inside the caller's transaction. On
/// PostgreSQL it also notifies every instance (delivered at commit).
pub async fn record_event(
    conn: &mut AnyConnection,
    backend: Backend,
    hall_id: i64,
    at: i64,
    kind: &str,
    payload: &serde_json::Value,
) -> Result<i64> {
    let id: i64 = sqlx::query("INSERT INTO queue_events (hall_id, at, kind, payload) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(hall_id)
        .bind(at)
        .bind(kind)
        .bind(payload.to_string())
        .fetch_one(&mut *conn)
        .await?
        .get("id");
    if backend == Backend::Postgres {
        let event = QueueEvent {
            id,
            hall_id,
            at,
            kind: kind.to_string(),
            payload: payload.clone(),
        };
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(notification_payload(&event))
            .execute(&mut *conn)
            .await?;
    }
    Ok(id)
}

/// PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more; stay well below.
const NOTIFY_PAYLOAD_MAX: usize = 7_000;

/// What a queue notification carries: the whole event, so every instance can put it on
/// its screens without a read (a read through the shared pool queued behind busy windows
/// and made screens lag ~100 ms, as measured in BENCHMARKS.md) — or, for an event too big
/// for a notification, only its id, to be read from `queue_events`.
pub fn notification_payload(event: &QueueEvent) -> String {
    let whole = serde_json::to_string(event).expect("queue events serialise");
    if whole.len() <= NOTIFY_PAYLOAD_MAX {
        whole
    } else {
        event.id.to_string()
    }
}

/// What a received queue notification says.
#[derive(Debug, Clone, PartialEq)]
pub enum Notified {
    /// The whole event.
    Event(QueueEvent),
    /// Only the id of an event to read from `queue_events`.
    Id(i64),
    /// Something this version does not understand (ignored, and logged by the caller).
    Unknown,
}

pub fn parse_notification(payload: &str) -> Notified {
    if let Ok(id) = payload.parse::<i64>() {
        return Notified::Id(id);
    }
    serde_json::from_str(payload)
        .map(Notified::Event)
        .unwrap_or(Notified::Unknown)
}

/// The PostgreSQL channel queue events are notified on.
const CHANNEL: &str = "onewindow_queue";

/// Queue events committed by any instance (PostgreSQL LISTEN on [`CHANNEL`]), for this
/// instance's screens. SQLite has one process and no LISTEN: its events are read from the
/// log after each commit instead ([`events_since`]).
pub struct EventListener {
    listener: sqlx::postgres::PgListener,
    pool: AnyPool,
}

impl EventListener {
    /// Connects and listens. Only on PostgreSQL (a configuration error on SQLite).
    pub async fn connect(store: &crate::Store) -> Result<EventListener> {
        if store.backend() != Backend::Postgres {
            return Err(StoreError::Config(
                "queue notifications need PostgreSQL".into(),
            ));
        }
        let mut listener = sqlx::postgres::PgListener::connect(store.url()).await?;
        listener.listen(CHANNEL).await?;
        Ok(EventListener {
            listener,
            pool: store.reader().clone(),
        })
    }

    /// The next event: carried whole by the notification, or read by its id when it was
    /// too big for one. A notification this version does not understand, or an event that
    /// cannot be read, is logged and skipped. An error means the connection is lost.
    pub async fn next(&mut self) -> Result<QueueEvent> {
        loop {
            let n = self.listener.recv().await?;
            match parse_notification(n.payload()) {
                Notified::Event(e) => return Ok(e),
                Notified::Id(id) => match event(&self.pool, id).await {
                    Ok(e) => return Ok(e),
                    Err(e) => tracing::warn!(error = %e, event = id, "queue event not readable"),
                },
                Notified::Unknown => {
                    tracing::warn!(payload = n.payload(), "queue notification not understood");
                }
            }
        }
    }
}

/// Waiting counts per class of a hall's day, for event payloads: a display updates its
/// counts from the event alone.
async fn waiting_map(
    conn: &mut AnyConnection,
    hall_id: i64,
    day: &str,
) -> Result<serde_json::Value> {
    let rows = sqlx::query(
        "SELECT q.code, (SELECT COUNT(*) FROM tickets t WHERE t.hall_id = q.hall_id AND t.day = $2 AND t.class_code = q.code AND t.state = 'waiting') AS n \
         FROM queue_classes q WHERE q.hall_id = $1",
    )
    .bind(hall_id)
    .bind(day)
    .fetch_all(conn)
    .await?;
    let mut m = serde_json::Map::new();
    for r in rows {
        m.insert(r.get::<String, _>("code"), json!(r.get::<i64, _>("n")));
    }
    Ok(serde_json::Value::Object(m))
}

fn event_from_row(r: &AnyRow) -> QueueEvent {
    QueueEvent {
        id: r.get("id"),
        hall_id: r.get("hall_id"),
        at: r.get("at"),
        kind: r.get("kind"),
        payload: serde_json::from_str(&r.get::<String, _>("payload")).unwrap_or_default(),
    }
}

pub async fn event<'c, E: Executor<'c, Database = Any>>(e: E, id: i64) -> Result<QueueEvent> {
    sqlx::query("SELECT * FROM queue_events WHERE id = $1")
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(|r| event_from_row(&r))
        .ok_or(StoreError::NotFound)
}

/// Events after `after` (for a display reconnecting with Last-Event-ID), bounded.
/// The most events a reconnecting display is sent to catch up; a longer gap is answered
/// with a fresh page instead (see `web::queue::display`).
pub const REPLAY_LIMIT: usize = 200;

pub async fn events_after<'c, E: Executor<'c, Database = Any>>(
    e: E,
    hall_id: i64,
    after: i64,
) -> Result<Vec<QueueEvent>> {
    let rows = sqlx::query(
        "SELECT * FROM queue_events WHERE hall_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(hall_id)
    .bind(after)
    .bind(REPLAY_LIMIT as i64)
    .fetch_all(e)
    .await?;
    Ok(rows.iter().map(event_from_row).collect())
}

/// Events of every hall after `from`, in id order (bounded).
pub async fn events_since<'c, E: Executor<'c, Database = Any>>(
    e: E,
    from: i64,
) -> Result<Vec<QueueEvent>> {
    let rows = sqlx::query("SELECT * FROM queue_events WHERE id > $1 ORDER BY id LIMIT 1000")
        .bind(from)
        .fetch_all(e)
        .await?;
    Ok(rows.iter().map(event_from_row).collect())
}

pub async fn last_event_id<'c, E: Executor<'c, Database = Any>>(e: E) -> Result<i64> {
    let max: Option<i64> = sqlx::query("SELECT MAX(id) AS m FROM queue_events")
        .fetch_one(e)
        .await?
        .get("m");
    Ok(max.unwrap_or(0))
}

/// How a resident joins the queue: walking in (in the 爱心通道 with a reason), or checking
/// in an appointment (the 预约 lane, ordered by the slot's start, UTC microseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joining {
    WalkIn(Option<PriorityReason>),
    Appointment { id: i64, slot_start: i64 },
}

impl Joining {
    fn placement(self) -> Placement {
        match self {
            Joining::WalkIn(None) => Placement::Ordinary,
            Joining::WalkIn(Some(_)) => Placement::Priority,
            Joining::Appointment { slot_start, .. } => Placement::Appointment { slot_start },
        }
    }
}

/// Issues a ticket with the next number of the class today.
#[allow(clippy::too_many_arguments)]
pub async fn issue(
    conn: &mut AnyConnection,
    change: &Change,
    hall_id: i64,
    class_code: &str,
    day: NaiveDate,
    joining: Joining,
    source: &str,
    rule: PriorityRule,
) -> Result<Ticket> {
    let (priority, appointment_id) = match joining {
        Joining::WalkIn(reason) => (reason, None),
        Joining::Appointment { id, .. } => (None, Some(id)),
    };
    let class = sqlx::query("SELECT code FROM queue_classes WHERE hall_id = $1 AND code = $2")
        .bind(hall_id)
        .bind(class_code)
        .fetch_optional(&mut *conn)
        .await?;
    if class.is_none() {
        return Err(StoreError::invalid(
            "class_code",
            "unknown",
            "没有这个业务类别",
        ));
    }
    let day_s = day.to_string();
    let seq: i64 = sqlx::query(
        "INSERT INTO ticket_counters (hall_id, class_code, day, seq) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (hall_id, class_code, day) DO UPDATE SET seq = ticket_counters.seq + 1 RETURNING seq",
    )
    .bind(hall_id)
    .bind(class_code)
    .bind(&day_s)
    .fetch_one(&mut *conn)
    .await?
    .get("seq");
    let number = rules::ticket_number(class_code, seq as u32);
    let order_key = rule.key(change.at, joining.placement());
    let id: i64 = sqlx::query(
        "INSERT INTO tickets (hall_id, class_code, day, seq, number, priority, priority_reason, source, state, order_key, issued_at, appointment_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'waiting', $9, $10, $11) RETURNING id",
    )
    .bind(hall_id)
    .bind(class_code)
    .bind(&day_s)
    .bind(seq)
    .bind(&number)
    .bind(i64::from(priority.is_some()))
    .bind(priority.map(|p| p.as_str()))
    .bind(source)
    .bind(order_key)
    .bind(change.at)
    .bind(appointment_id)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    let waiting = waiting_map(&mut *conn, hall_id, &day_s).await?;
    record_event(
        &mut *conn,
        change.backend,
        hall_id,
        change.at,
        "issued",
        &json!({ "ticket": number, "class": class_code, "waiting": waiting }),
    )
    .await?;
    audit::append(
        &mut *conn,
        change,
        "ticket.issue",
        "ticket",
        &id.to_string(),
        &json!({ "number": number, "priority": priority, "lane": joining.placement().lane(), "source": source }),
    )
    .await?;
    ticket(conn, id).await
}

/// The window's clerk calls the next ticket of the classes the window serves.
pub async fn call_next(
    conn: &mut AnyConnection,
    change: &Change,
    window_id: i64,
    day: NaiveDate,
) -> Result<Option<Ticket>> {
    let lock = change.backend.for_update();
    let w = sqlx::query(&format!(
        "SELECT * FROM service_windows WHERE id = $1{lock}"
    ))
    .bind(window_id)
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| window_from_row(&r))
    .ok_or(StoreError::NotFound)?;
    if w.state != WindowState::Open {
        return Err(StoreError::Conflict {
            code: "window_not_open",
            message: format!("{}号窗口未开放，请先开窗", w.number),
        });
    }
    if let Some(current) = w.current_ticket_id {
        let t = ticket(&mut *conn, current).await?;
        if matches!(t.state, TicketState::Called | TicketState::Serving) {
            return Err(StoreError::Conflict {
                code: "window_busy",
                message: format!("{}号票尚未办结，请先办结或过号再叫下一位", t.number),
            });
        }
    }
    if w.classes.is_empty() {
        return Ok(None);
    }
    let placeholders: Vec<String> = (0..w.classes.len())
        .map(|i| format!("${}", i + 3))
        .collect();
    let skip = match change.backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "SELECT id FROM tickets WHERE hall_id = $1 AND day = $2 AND state = 'waiting' AND class_code IN ({}) \
         ORDER BY order_key, id LIMIT 1{skip}",
        placeholders.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(w.hall_id).bind(day.to_string());
    for c in &w.classes {
        q = q.bind(c);
    }
    let Some(row) = q.fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let id: i64 = row.get("id");
    let claimed = sqlx::query(
        "UPDATE tickets SET state = 'called', called_at = $1, window_id = $2, window_number = $3, version = version + 1 \
         WHERE id = $4 AND state = 'waiting'",
    )
    .bind(change.at)
    .bind(w.id)
    .bind(w.number)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if claimed == 0 {
        // Only reachable if the row changed between the locked read and the update.
        return Err(StoreError::Conflict {
            code: "ticket_taken",
            message: "该号已被其他窗口叫走，请再叫一次".into(),
        });
    }
    sqlx::query("UPDATE service_windows SET current_ticket_id = $1, updated_at = $2, version = version + 1 WHERE id = $3")
        .bind(id)
        .bind(change.at)
        .bind(w.id)
        .execute(&mut *conn)
        .await?;
    let t = ticket(&mut *conn, id).await?;
    announce(&mut *conn, change, &t, w.number, "called", false).await?;
    audit::append(
        &mut *conn,
        change,
        "ticket.call",
        "ticket",
        &id.to_string(),
        &json!({ "number": t.number, "window": w.number }),
    )
    .await?;
    Ok(Some(t))
}

async fn announce(
    conn: &mut AnyConnection,
    change: &Change,
    t: &Ticket,
    window_number: i64,
    kind: &str,
    recall: bool,
) -> Result<()> {
    let text = rules::announcement(&t.number, window_number, recall);
    let waiting = waiting_map(&mut *conn, t.hall_id, &t.day).await?;
    record_event(conn, change.backend, t.hall_id, change.at, kind, &json!({ "ticket": t.number, "window": window_number, "class": t.class_code, "text": text, "waiting": waiting })).await?;
    Ok(())
}

/// Applies a ticket action at a window: recall, start, finish (with the case numbers the
/// visit produced), no-show, re-queue, transfer, cancel.
pub async fn act(
    conn: &mut AnyConnection,
    change: &Change,
    ticket_id: i64,
    action: &TicketAction,
    max_recalls: u32,
    case_nos: &[String],
) -> Result<Ticket> {
    let lock = change.backend.for_update();
    let t = sqlx::query(&format!("SELECT * FROM tickets WHERE id = $1{lock}"))
        .bind(ticket_id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| ticket_from_row(&r))
        .ok_or(StoreError::NotFound)?;
    let facts = TicketFacts {
        state: t.state,
        requeue_count: t.requeue_count as u32,
        recall_count: t.recall_count as u32,
    };
    let tr = rules::apply(&facts, action, max_recalls).map_err(|e| match e {
        rules::QueueError::Invalid { field, message } => {
            StoreError::invalid(field, "invalid", message)
        }
        other => StoreError::Conflict {
            code: other.code(),
            message: other.to_string(),
        },
    })?;
    let served = match action {
        TicketAction::Finish => {
            let mut all = t.case_nos.clone();
            for no in case_nos {
                if !all.contains(no) {
                    all.push(no.clone());
                }
            }
            all
        }
        _ => case_nos.to_vec(),
    };
    let (mut set, mut clear_window) = (String::from("state = $1"), false);
    match action {
        TicketAction::Recall => set.push_str(", recall_count = recall_count + 1"),
        TicketAction::StartService => set.push_str(", served_at = $2"),
        TicketAction::Finish => {
            set.push_str(", finished_at = $2, case_nos = $3");
            clear_window = true;
        }
        TicketAction::NoShow => clear_window = true,
        // Back in the line behind those waiting now: a second chance, not a jump.
        TicketAction::Requeue => set.push_str(", requeue_count = requeue_count + 1, order_key = $2, window_id = NULL, window_number = NULL"),
        // A transfer keeps the ticket's place in line, in the new class.
        TicketAction::Transfer { .. } => {
            set.push_str(", class_code = $3, window_id = NULL, window_number = NULL");
            clear_window = true;
        }
        TicketAction::Cancel | TicketAction::Call => {}
    }
    let third = match action {
        TicketAction::Transfer { to_class } => {
            let known =
                sqlx::query("SELECT code FROM queue_classes WHERE hall_id = $1 AND code = $2")
                    .bind(t.hall_id)
                    .bind(to_class)
                    .fetch_optional(&mut *conn)
                    .await?;
            if known.is_none() {
                return Err(StoreError::invalid(
                    "to_class",
                    "unknown",
                    "没有这个业务类别",
                ));
            }
            to_class.clone()
        }
        // Finishing keeps the cases linked while serving and adds those named now.
        _ => serde_json::to_string(&served).expect("list serialises"),
    };
    let changed = sqlx::query(&format!(
        "UPDATE tickets SET {set}, version = version + 1 WHERE id = $4 AND version = $5"
    ))
    .bind(tr.to.as_str())
    .bind(change.at)
    .bind(&third)
    .bind(t.id)
    .bind(t.version)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    crate::error::optimistic(changed, "该号")?;
    if clear_window {
        if let Some(w) = t.window_id {
            sqlx::query("UPDATE service_windows SET current_ticket_id = NULL, updated_at = $1, version = version + 1 WHERE id = $2 AND current_ticket_id = $3")
                .bind(change.at)
                .bind(w)
                .bind(t.id)
                .execute(&mut *conn)
                .await?;
        }
    }
    let after = ticket(&mut *conn, t.id).await?;
    if matches!(action, TicketAction::Finish) {
        // A visit against each case the ticket served (domain::visits).
        crate::visits::record_ticket(&mut *conn, change, &after).await?;
        // Who finished it, and the rating prompt on the window's device (好差评).
        crate::ratings::on_ticket_finished(&mut *conn, change, after.id, t.window_id).await?;
    }
    match action {
        TicketAction::Recall => {
            announce(
                &mut *conn,
                change,
                &after,
                t.window_number.unwrap_or(0),
                "recalled",
                true,
            )
            .await?
        }
        _ => {
            // Only these actions change who is waiting; the others carry no counts
            // (the display keeps the counts it has).
            let waiting = match action {
                TicketAction::Requeue | TicketAction::Transfer { .. } | TicketAction::Cancel => {
                    waiting_map(&mut *conn, t.hall_id, &t.day).await?
                }
                _ => serde_json::Value::Null,
            };
            record_event(
                &mut *conn,
                change.backend,
                t.hall_id,
                change.at,
                action_name(action),
                &json!({ "ticket": t.number, "window": t.window_number, "class": after.class_code, "waiting": waiting }),
            )
            .await?;
        }
    }
    audit::append(
        conn,
        change,
        &format!("ticket.{}", action_name(action)),
        "ticket",
        &t.id.to_string(),
        &json!({ "number": t.number, "from": tr.from.as_str(), "to": tr.to.as_str(), "action": action, "case_nos": served }),
    )
    .await?;
    Ok(after)
}

fn action_name(a: &TicketAction) -> &'static str {
    match a {
        TicketAction::Call => "call",
        TicketAction::Recall => "recall",
        TicketAction::StartService => "start",
        TicketAction::Finish => "finish",
        TicketAction::NoShow => "no_show",
        TicketAction::Requeue => "requeue",
        TicketAction::Transfer { .. } => "transfer",
        TicketAction::Cancel => "cancel",
    }
}

/// Opens, pauses or closes a window; opening assigns the clerk.
pub async fn set_window_state(
    conn: &mut AnyConnection,
    change: &Change,
    window_id: i64,
    state: WindowState,
    clerk_id: Option<i64>,
) -> Result<ServiceWindow> {
    let w = window(&mut *conn, window_id).await?;
    if state == WindowState::Closed {
        if let Some(current) = w.current_ticket_id {
            let t = ticket(&mut *conn, current).await?;
            if matches!(t.state, TicketState::Called | TicketState::Serving) {
                return Err(StoreError::Conflict {
                    code: "window_busy",
                    message: format!("{}号票尚未办结，不能关窗", t.number),
                });
            }
        }
    }
    sqlx::query("UPDATE service_windows SET state = $1, clerk_id = $2, updated_at = $3, version = version + 1 WHERE id = $4")
        .bind(state.as_str())
        .bind(clerk_id)
        .bind(change.at)
        .bind(window_id)
        .execute(&mut *conn)
        .await?;
    record_event(
        &mut *conn,
        change.backend,
        w.hall_id,
        change.at,
        "window",
        &json!({ "window": w.number, "state": state.as_str() }),
    )
    .await?;
    audit::append(
        &mut *conn,
        change,
        "window.state",
        "window",
        &window_id.to_string(),
        &json!({ "number": w.number, "from": w.state.as_str(), "to": state.as_str() }),
    )
    .await?;
    window(conn, window_id).await
}

/// What a display screen shows when it connects.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub windows: Vec<WindowNow>,
    pub recent_calls: Vec<serde_json::Value>,
    pub waiting: Vec<(String, String, i64)>,
    pub last_event_id: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowNow {
    pub number: i64,
    pub name: String,
    pub state: WindowState,
    pub ticket: Option<String>,
}

pub async fn snapshot(pool: &AnyPool, hall_id: i64, day: NaiveDate) -> Result<Snapshot> {
    let ws = windows(pool, hall_id).await?;
    let mut out = Vec::new();
    for w in ws {
        let ticket = match w.current_ticket_id {
            Some(id) => Some(ticket(pool, id).await?.number),
            None => None,
        };
        out.push(WindowNow {
            number: w.number,
            name: w.name,
            state: w.state,
            ticket,
        });
    }
    let calls = sqlx::query("SELECT payload FROM queue_events WHERE hall_id = $1 AND kind IN ('called','recalled') ORDER BY id DESC LIMIT 8")
        .bind(hall_id)
        .fetch_all(pool)
        .await?;
    let recent_calls = calls
        .iter()
        .map(|r| serde_json::from_str(&r.get::<String, _>("payload")).unwrap_or_default())
        .collect();
    let waiting = waiting_counts(pool, hall_id, day).await?;
    let last: Option<i64> = sqlx::query("SELECT MAX(id) AS m FROM queue_events WHERE hall_id = $1")
        .bind(hall_id)
        .fetch_one(pool)
        .await?
        .get("m");
    Ok(Snapshot {
        windows: out,
        recent_calls,
        waiting,
        last_event_id: last.unwrap_or(0),
    })
}

/// (class code, class name, waiting count) for every class of the hall.
pub async fn waiting_counts(
    pool: &AnyPool,
    hall_id: i64,
    day: NaiveDate,
) -> Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query(
        "SELECT q.code, q.name, (SELECT COUNT(*) FROM tickets t WHERE t.hall_id = q.hall_id AND t.class_code = q.code AND t.day = $2 AND t.state = 'waiting') AS n \
         FROM queue_classes q WHERE q.hall_id = $1 ORDER BY q.code",
    )
    .bind(hall_id)
    .bind(day.to_string())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get("code"), r.get("name"), r.get("n")))
        .collect())
}

/// Waiting and handling figures of a class.
#[derive(Debug, Clone, Serialize)]
pub struct ClassStats {
    pub code: String,
    pub name: String,
    pub waiting: i64,
    /// Average wait (issue → call) of tickets called today, seconds.
    pub avg_wait_today_secs: Option<f64>,
    /// Average handling (service start → finish) over the last 28 days, seconds.
    pub avg_handling_secs: Option<f64>,
    pub windows_open: i64,
    pub estimate_minutes: Option<u32>,
}

pub async fn stats(
    pool: &AnyPool,
    hall_id: i64,
    day: NaiveDate,
) -> Result<(Vec<ClassStats>, Option<f64>)> {
    let since = (day - chrono::Duration::days(28)).to_string();
    let mut out = Vec::new();
    let ws = windows(pool, hall_id).await?;
    for (code, name, waiting) in waiting_counts(pool, hall_id, day).await? {
        let r = sqlx::query(
            "SELECT CAST(AVG(called_at - issued_at) AS DOUBLE PRECISION) AS w FROM tickets \
             WHERE hall_id = $1 AND class_code = $2 AND day = $3 AND called_at IS NOT NULL",
        )
        .bind(hall_id)
        .bind(&code)
        .bind(day.to_string())
        .fetch_one(pool)
        .await?;
        let avg_wait: Option<f64> = r.get::<Option<f64>, _>("w").map(|v| v / 1e6);
        let r = sqlx::query(
            "SELECT CAST(AVG(finished_at - served_at) AS DOUBLE PRECISION) AS h FROM tickets \
             WHERE hall_id = $1 AND class_code = $2 AND day >= $3 AND finished_at IS NOT NULL AND served_at IS NOT NULL",
        )
        .bind(hall_id)
        .bind(&code)
        .bind(&since)
        .fetch_one(pool)
        .await?;
        let avg_handling: Option<f64> = r.get::<Option<f64>, _>("h").map(|v| v / 1e6);
        let open = ws
            .iter()
            .filter(|w| w.state == WindowState::Open && w.classes.contains(&code))
            .count() as i64;
        let estimate = rules::estimate_wait_minutes(
            waiting as u32,
            avg_handling.unwrap_or(600.0),
            open as u32,
        );
        out.push(ClassStats {
            code,
            name,
            waiting,
            avg_wait_today_secs: avg_wait,
            avg_handling_secs: avg_handling,
            windows_open: open,
            estimate_minutes: estimate,
        });
    }
    let hall: Option<f64> = sqlx::query(
        "SELECT CAST(AVG(called_at - issued_at) AS DOUBLE PRECISION) AS w FROM tickets WHERE hall_id = $1 AND day = $2 AND called_at IS NOT NULL",
    )
    .bind(hall_id)
    .bind(day.to_string())
    .fetch_one(pool)
    .await?
    .get::<Option<f64>, _>("w");
    Ok((out, hall.map(|v| v / 1e6)))
}

/// Which of a hall's tickets a list shows: one day's, all or in one state.
#[derive(Debug, Clone)]
pub struct TicketFilter {
    pub hall_id: i64,
    pub day: NaiveDate,
    pub state: Option<TicketState>,
}

/// One page of a hall's tickets of a day, newest first; the id is the sort key. One range
/// scan of `tickets_day_id` (or `tickets_day_state_id` with a state) from the cursor on.
pub async fn tickets_page<'c, E: Executor<'c, Database = Any>>(
    e: E,
    key: &CursorKey,
    list: &ListId<'_>,
    req: &PageRequest,
    filter: &TicketFilter,
) -> Result<Page<Ticket>> {
    let mut sql = Sql::new("SELECT * FROM tickets");
    sql.push(
        " WHERE hall_id = ? AND day = ?",
        [KeyPart::Int(filter.hall_id), filter.day.to_string().into()],
    );
    if let Some(state) = filter.state {
        sql.push(" AND state = ?", [state.as_str().into()]);
    }
    if let Some(after) = req.after_int(0) {
        sql.push(" AND id < ?", [KeyPart::Int(after)]);
    }
    sql.push(" ORDER BY id DESC LIMIT ?", [req.fetch().into()]);
    let rows = sql.query().fetch_all(e).await?;
    Ok(Page::from_rows(
        key,
        list,
        req,
        rows.iter().map(ticket_from_row).collect(),
        |t: &Ticket| vec![KeyPart::Int(t.id)],
    ))
}

/// How many appointments one slot of a class takes (future slots take the new capacity;
/// slots already materialised keep theirs, so nobody booked is pushed out).
pub async fn set_slot_capacity(
    conn: &mut AnyConnection,
    change: &Change,
    hall_id: i64,
    code: &str,
    capacity: i64,
) -> Result<()> {
    let changed =
        sqlx::query("UPDATE queue_classes SET slot_capacity = $1 WHERE hall_id = $2 AND code = $3")
            .bind(capacity)
            .bind(hall_id)
            .bind(code)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    audit::append(
        conn,
        change,
        "queue.class_capacity",
        "queue_class",
        &format!("{hall_id}:{code}"),
        &json!({ "slot_capacity": capacity }),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(payload: serde_json::Value) -> QueueEvent {
        QueueEvent {
            id: 42,
            hall_id: 3,
            at: 1_795_000_000,
            kind: "called".into(),
            payload,
        }
    }

    #[test]
    fn a_notification_carries_the_whole_event() {
        let e = event(json!({ "ticket": "A001", "window": 5, "text": "请A001号到5号窗口" }));
        assert_eq!(
            parse_notification(&notification_payload(&e)),
            Notified::Event(e)
        );
    }

    #[test]
    fn an_event_too_big_for_a_notification_is_sent_by_id() {
        let e = event(json!({ "text": "叫".repeat(NOTIFY_PAYLOAD_MAX) }));
        let payload = notification_payload(&e);
        assert!(payload.len() < 8_000, "PostgreSQL's NOTIFY limit");
        assert_eq!(parse_notification(&payload), Notified::Id(42));
    }

    #[test]
    fn a_notification_from_another_version_is_ignored() {
        assert_eq!(parse_notification("{\"unexpected\":1}"), Notified::Unknown);
        assert_eq!(parse_notification(""), Notified::Unknown);
    }
}
