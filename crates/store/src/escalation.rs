//! The escalation engine's storage and job (督办): tracked items of any loop, their events,
//! and the run that warns and escalates them.
//!
//! A loop plugs in without editing this module: it registers its kind
//! ([`register_kind`], a `domain::escalation::KindSpec`) and, inside its own transaction,
//! calls [`track`] when an item starts, [`advance_stage`] when it moves on, [`close`] when
//! done. Each writes the item, a `tracked_events` row, an audit event and the notice to the
//! tier's people (`notices`) — all in the caller's transaction.
//!
//! [`run`] reads only open items whose `next_check_at` has passed (index
//! `tracked_items_due (state, next_check_at)`), in bounded batches, never scanning the open
//! items. Each item is processed in its own transaction: read (locked on PostgreSQL),
//! decided by `domain::escalation::step`, written with `… AND version = $v`; a runner that
//! loses the race changes nothing. So several instances may run the job at once and every
//! warning and escalation happens exactly once.

use crate::audit::{self, Change};
use crate::notices::{self, NewNotice, Recipient};
use crate::{Result, Store, StoreError};
use onewindow_domain::calendar::WorkCalendar;
use onewindow_domain::escalation::{
    self as rules, notice_text, Action, DeadlineRule, ItemClock, KindSpec, Light, NoticeKind, LINK,
    TITLE,
};
use onewindow_domain::org::OrgPath;
use onewindow_domain::validation::{check_text, FieldErrors, REFERENCE};
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::HashMap;

/// Items one batch of a run claims, and batches per run (the rest waits a minute).
pub const BATCH: i64 = 200;
pub const MAX_BATCHES: usize = 50;

/// Registers (or replaces) a loop's kind: its stages, rules, tiers and warning share.
/// Items in flight keep the deadlines already computed; new stages use the new rules.
pub async fn register_kind(
    conn: &mut AnyConnection,
    change: &Change,
    spec: &KindSpec,
) -> Result<()> {
    spec.validate()
        .map_err(|e| StoreError::invalid("spec", "invalid_spec", e.to_string()))?;
    let text = serde_json::to_string(spec).map_err(|e| StoreError::Config(e.to_string()))?;
    let old: Option<String> = sqlx::query("SELECT spec FROM tracked_kinds WHERE kind = $1")
        .bind(&spec.kind)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.get("spec"));
    if old.as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO tracked_kinds (kind, spec, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (kind) DO UPDATE SET spec = $2, updated_at = $3",
    )
    .bind(&spec.kind)
    .bind(&text)
    .bind(change.at)
    .execute(&mut *conn)
    .await?;
    audit::append(
        conn,
        change,
        "escalation.kind",
        "tracked_kind",
        &spec.kind,
        &serde_json::to_value(spec).unwrap_or_default(),
    )
    .await
}

async fn kind_spec(conn: &mut AnyConnection, kind: &str) -> Result<KindSpec> {
    let text: String = sqlx::query("SELECT spec FROM tracked_kinds WHERE kind = $1")
        .bind(kind)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| {
            StoreError::invalid("kind", "unknown_kind", format!("未登记的督办类型{kind}"))
        })?
        .get("spec");
    let mut spec: KindSpec =
        serde_json::from_str(&text).map_err(|e| StoreError::Config(e.to_string()))?;
    if spec.warn_permille.is_none() {
        spec.warn_permille = Some(setting_permille(&mut *conn).await?);
    }
    Ok(spec)
}

/// The installation's warning share (`escalation.warn_permille`), for kinds without one.
async fn setting_permille(conn: &mut AnyConnection) -> Result<u32> {
    let v: Option<String> = sqlx::query("SELECT value FROM settings WHERE key = $1")
        .bind(WARN_SETTING)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.get("value"));
    Ok(v.and_then(|v| v.parse::<u32>().ok())
        .filter(|p| *p <= 1000)
        .unwrap_or(rules::DEFAULT_WARN_PERMILLE))
}

/// The setting's key.
pub const WARN_SETTING: &str = "escalation.warn_permille";

async fn all_kinds(pool: &AnyPool) -> Result<HashMap<String, KindSpec>> {
    let default = crate::settings::get_int(pool, WARN_SETTING).await? as u32;
    let mut out = HashMap::new();
    for r in sqlx::query("SELECT kind, spec FROM tracked_kinds")
        .fetch_all(pool)
        .await?
    {
        if let Ok(mut spec) = serde_json::from_str::<KindSpec>(&r.get::<String, _>("spec")) {
            spec.warn_permille.get_or_insert(default);
            out.insert(r.get("kind"), spec);
        }
    }
    Ok(out)
}

/// A tracked item as stored.
#[derive(Debug, Clone, Serialize)]
pub struct TrackedItem {
    pub id: i64,
    pub kind: String,
    pub subject_ref: String,
    pub title: String,
    pub link: String,
    pub owner_org_id: i64,
    pub owner_path: OrgPath,
    pub stage: String,
    pub stage_started_at: i64,
    pub due_at: Option<i64>,
    pub pending_year: Option<i32>,
    pub warn_at: Option<i64>,
    pub warned: bool,
    pub overdue_since: Option<i64>,
    pub exhausted: bool,
    pub tier: u32,
    pub state: String,
    pub next_check_at: Option<i64>,
    pub created_at: i64,
    pub closed_at: Option<i64>,
    pub version: i64,
}

impl TrackedItem {
    pub fn clock(&self) -> ItemClock {
        ItemClock {
            stage: self.stage.clone(),
            stage_started_at: self.stage_started_at,
            due_at: self.due_at,
            pending_year: self.pending_year,
            warn_at: self.warn_at,
            warned: self.warned,
            overdue_since: self.overdue_since,
            exhausted: self.exhausted,
            tier: self.tier,
        }
    }

    /// The light at `now` (none when closed or pending).
    pub fn light(&self, now: i64) -> Option<Light> {
        if self.state != "open" {
            return None;
        }
        self.clock().light(now)
    }
}

const COLUMNS: &str = "t.id, t.kind, t.subject_ref, t.title, t.link, t.owner_org_id, \
    o.path AS owner_path, t.stage, t.stage_started_at, t.due_at, t.pending_year, t.warn_at, \
    t.warned, t.overdue_since, t.exhausted, t.tier, t.state, t.next_check_at, t.created_at, \
    t.closed_at, t.version";

fn from_row(r: &AnyRow) -> TrackedItem {
    TrackedItem {
        id: r.get("id"),
        kind: r.get("kind"),
        subject_ref: r.get("subject_ref"),
        title: r.get("title"),
        link: r.get("link"),
        owner_org_id: r.get("owner_org_id"),
        owner_path: OrgPath::from_stored(r.get("owner_path")),
        stage: r.get("stage"),
        stage_started_at: r.get("stage_started_at"),
        due_at: r.get("due_at"),
        pending_year: r.get::<Option<i64>, _>("pending_year").map(|y| y as i32),
        warn_at: r.get("warn_at"),
        warned: r.get::<i64, _>("warned") == 1,
        overdue_since: r.get("overdue_since"),
        exhausted: r.get::<i64, _>("exhausted") == 1,
        tier: r.get::<i64, _>("tier") as u32,
        state: r.get("state"),
        next_check_at: r.get("next_check_at"),
        created_at: r.get("created_at"),
        closed_at: r.get("closed_at"),
        version: r.get("version"),
    }
}

/// Whether the item ever missed a deadline, in any stage (escalated or overdue at its last
/// tier): a loop's "on time" is never having been overdue. Reads the item's own events.
pub async fn ever_overdue(conn: &mut AnyConnection, item_id: i64) -> Result<bool> {
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM tracked_events WHERE item_id = $1 \
         AND action IN ('escalated', 'exhausted')",
    )
    .bind(item_id)
    .fetch_one(&mut *conn)
    .await?
    .get("n");
    Ok(n > 0)
}

/// An item read inside the caller's transaction (locked on PostgreSQL by the caller's
/// own lock of its subject, not here).
pub async fn get_in(conn: &mut AnyConnection, id: i64) -> Result<TrackedItem> {
    let sql = format!(
        "SELECT {COLUMNS} FROM tracked_items t JOIN orgs o ON o.id = t.owner_org_id WHERE t.id = $1"
    );
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| from_row(&r))
        .ok_or(StoreError::NotFound)
}

async fn read(conn: &mut AnyConnection, change: &Change, id: i64) -> Result<TrackedItem> {
    let sql = format!(
        "SELECT {COLUMNS} FROM tracked_items t JOIN orgs o ON o.id = t.owner_org_id \
         WHERE t.id = $1{}",
        match change.backend {
            crate::Backend::Postgres => " FOR UPDATE OF t",
            crate::Backend::Sqlite => "",
        }
    );
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| from_row(&r))
        .ok_or(StoreError::NotFound)
}

/// An item by id.
pub async fn get(pool: &AnyPool, id: i64) -> Result<TrackedItem> {
    let sql = format!(
        "SELECT {COLUMNS} FROM tracked_items t JOIN orgs o ON o.id = t.owner_org_id WHERE t.id = $1"
    );
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r))
        .ok_or(StoreError::NotFound)
}

/// The item a loop tracks for its subject, if any.
pub async fn find(pool: &AnyPool, kind: &str, subject_ref: &str) -> Result<Option<TrackedItem>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM tracked_items t JOIN orgs o ON o.id = t.owner_org_id \
         WHERE t.kind = $1 AND t.subject_ref = $2"
    );
    Ok(sqlx::query(&sql)
        .bind(kind)
        .bind(subject_ref)
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r)))
}

/// One thing that happened to an item.
#[derive(Debug, Clone, Serialize)]
pub struct TrackedEvent {
    pub at: i64,
    pub action: String,
    pub stage: String,
    pub tier: u32,
    pub actor: String,
    pub detail: serde_json::Value,
}

pub async fn events(pool: &AnyPool, item_id: i64) -> Result<Vec<TrackedEvent>> {
    Ok(sqlx::query(
        "SELECT at, action, stage, tier, actor, detail FROM tracked_events WHERE item_id = $1 \
         ORDER BY id",
    )
    .bind(item_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| TrackedEvent {
        at: r.get("at"),
        action: r.get("action"),
        stage: r.get("stage"),
        tier: r.get::<i64, _>("tier") as u32,
        actor: r.get("actor"),
        detail: serde_json::from_str(&r.get::<String, _>("detail")).unwrap_or_default(),
    })
    .collect())
}

/// What a loop starts tracking.
#[derive(Debug, Clone)]
pub struct NewTracked {
    pub kind: String,
    /// The loop's own reference of the subject (a rectification's id): one item per subject.
    pub subject_ref: String,
    /// What notices and lists call it (差评整改 R-0001).
    pub title: String,
    /// Where the item's page is, inside the product (`/ratings/rectifications/1`).
    pub link: String,
    pub owner_org_id: i64,
    /// The first stage (one of the kind's).
    pub stage: String,
}

fn check_new(n: &NewTracked) -> Result<()> {
    let mut errors = FieldErrors::new();
    for (field, label, value, limit) in [
        ("subject_ref", "业务编号", &n.subject_ref, REFERENCE),
        ("title", "标题", &n.title, TITLE),
        ("link", "链接", &n.link, LINK),
    ] {
        if let Err(e) = check_text(field, label, value, limit) {
            errors.0.push(e);
        }
        if value.trim().is_empty() {
            errors.add(field, "required", format!("{label}不能为空"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(errors))
    }
}

fn stage_of<'a>(spec: &'a KindSpec, stage: &str) -> Result<&'a rules::StageSpec> {
    spec.stage(stage).ok_or_else(|| {
        StoreError::invalid(
            "stage",
            "unknown_stage",
            format!("督办类型{}没有环节{stage}", spec.kind),
        )
    })
}

fn due_text(item: &ItemClock) -> String {
    match (item.due_at, item.pending_year) {
        (Some(d), _) => crate::clock::format_local(d),
        _ => onewindow_domain::calendar::DEADLINE_PENDING_LABEL.to_string(),
    }
}

async fn record_event(
    conn: &mut AnyConnection,
    change: &Change,
    item_id: i64,
    action: &str,
    clock: &ItemClock,
    detail: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO tracked_events (item_id, at, action, stage, tier, actor, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(item_id)
    .bind(change.at)
    .bind(action)
    .bind(&clock.stage)
    .bind(i64::from(clock.tier))
    .bind(&change.who.label)
    .bind(detail.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The notice to the people of `tier` of an item owned by `owner`.
async fn notify_tier(
    conn: &mut AnyConnection,
    change: &Change,
    spec: &KindSpec,
    tier: u32,
    item: &TrackedItem,
    kind: NoticeKind,
    text: String,
) -> Result<serde_json::Value> {
    let Some(t) = spec.tiers.get(tier as usize) else {
        return Ok(serde_json::Value::Null);
    };
    let org_path = t.org(&item.owner_path);
    let org_id = t.org_id(&item.owner_path);
    let text: String = text.chars().take(rules::NOTICE_TEXT.max).collect();
    notices::add(
        conn,
        change,
        &NewNotice {
            recipient: Recipient::Role {
                role: t.role,
                org_id,
                org_path,
            },
            kind,
            text,
            link: item.link.clone(),
            item_id: Some(item.id),
        },
    )
    .await?;
    Ok(json!({ "role": t.role.as_str(), "org_id": org_id, "kind": kind.as_str() }))
}

fn clock_columns(c: &ItemClock) -> [Option<i64>; 5] {
    [
        c.due_at,
        c.pending_year.map(i64::from),
        c.warn_at,
        c.overdue_since,
        Some(c.stage_started_at),
    ]
}

/// Starts tracking a loop's subject in its first stage, at tier 0 (the owner), with the
/// stage's deadline from `change.at`; tells tier 0 (an assignment notice). One item per
/// subject: a second `track` of the same subject is `already_tracked`.
pub async fn track(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    new: &NewTracked,
) -> Result<TrackedItem> {
    check_new(new)?;
    let spec = kind_spec(conn, &new.kind).await?;
    let stage = stage_of(&spec, &new.stage)?.clone();
    let owner = crate::orgs::get(&mut *conn, new.owner_org_id).await?;
    let schedule = stage
        .rule
        .schedule(cal, change.at, spec.permille())
        .map_err(|e| StoreError::invalid("stage", e.code(), e.to_string()))?;
    let clock = ItemClock::start(&stage.name, change.at, schedule, 0);
    let next = clock.next_check_at(change.at);
    let [due, pending, warn, _, started] = clock_columns(&clock);
    let inserted = sqlx::query(
        "INSERT INTO tracked_items (kind, subject_ref, title, link, owner_org_id, stage, \
         stage_started_at, due_at, pending_year, warn_at, state, next_check_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, $12) \
         ON CONFLICT (kind, subject_ref) DO NOTHING RETURNING id",
    )
    .bind(&new.kind)
    .bind(&new.subject_ref)
    .bind(&new.title)
    .bind(&new.link)
    .bind(owner.id)
    .bind(&stage.name)
    .bind(started)
    .bind(due)
    .bind(pending)
    .bind(warn)
    .bind(next)
    .bind(change.at)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = inserted else {
        return Err(StoreError::Conflict {
            code: "already_tracked",
            message: "该事项已在督办跟踪中".into(),
        });
    };
    let id: i64 = row.get("id");
    let text = format!(
        "【交办】{}：{}环节，时限{}",
        new.title,
        stage.label,
        due_text(&clock)
    );
    let item = read(conn, change, id).await?;
    let told = notify_tier(conn, change, &spec, 0, &item, NoticeKind::Assignment, text).await?;
    let detail = json!({ "kind": new.kind, "subject_ref": new.subject_ref, "stage": stage.name,
        "rule": stage.rule.as_stored(), "due_at": due, "pending_year": pending, "notice": told });
    record_event(conn, change, id, "tracked", &clock, &detail).await?;
    audit::append(
        conn,
        change,
        "escalation.track",
        "tracked_item",
        &id.to_string(),
        &detail,
    )
    .await?;
    Ok(item)
}

/// Moves an open item to `stage` (of its kind): a fresh deadline from `change.at`, back at
/// tier 0 with no warning or overdue mark; tells tier 0.
pub async fn advance_stage(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    item_id: i64,
    stage: &str,
) -> Result<TrackedItem> {
    advance_stage_from(conn, change, cal, item_id, stage, change.at).await
}

/// [`advance_stage`] with the stage's time counted from `from`, an earlier moment of the
/// loop (`from` later than now counts from now). Why: some limits run from the start of
/// the whole loop, not from the previous stage's end — a fallback case is closed within 7
/// working days of its receipt, however long coordination took.
pub async fn advance_stage_from(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    item_id: i64,
    stage: &str,
    from: i64,
) -> Result<TrackedItem> {
    let from = from.min(change.at);
    let item = read(conn, change, item_id).await?;
    if item.state != "open" {
        return Err(StoreError::Conflict {
            code: "item_closed",
            message: "该督办事项已结束".into(),
        });
    }
    let spec = kind_spec(conn, &item.kind).await?;
    let st = stage_of(&spec, stage)?.clone();
    let schedule = st
        .rule
        .schedule(cal, from, spec.permille())
        .map_err(|e| StoreError::invalid("stage", e.code(), e.to_string()))?;
    let clock = ItemClock::start(&st.name, from, schedule, 0);
    write_clock(conn, &item, &clock, clock.next_check_at(change.at)).await?;
    let kind = st.notice.unwrap_or(NoticeKind::Assignment);
    let text = format!(
        "【{}】{}：{}环节，时限{}",
        kind.label(),
        item.title,
        st.label,
        due_text(&clock)
    );
    let told = notify_tier(conn, change, &spec, 0, &item, kind, text).await?;
    let detail = json!({ "from": item.stage, "stage": st.name, "rule": st.rule.as_stored(),
        "due_at": clock.due_at, "notice": told });
    record_event(conn, change, item.id, "advanced", &clock, &detail).await?;
    audit::append(
        conn,
        change,
        "escalation.advance",
        "tracked_item",
        &item.id.to_string(),
        &detail,
    )
    .await?;
    read(conn, change, item.id).await
}

/// Extends the current stage (a granted 延期): the new deadline is `extra` counted from
/// the present one, the tier kept; an item already overdue turns back from red (its
/// `overdue` events stay, so [`ever_overdue`] still tells). Tells the item's current tier.
pub async fn extend(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    item_id: i64,
    extra: DeadlineRule,
    reason: &str,
) -> Result<TrackedItem> {
    let item = read(conn, change, item_id).await?;
    if item.state != "open" {
        return Err(StoreError::Conflict {
            code: "item_closed",
            message: "该督办事项已结束".into(),
        });
    }
    let spec = kind_spec(conn, &item.kind).await?;
    // Days count after the deadline's day: a day deadline ends at 24:00, which is already
    // the next date, so the base is the last moment before it.
    let due = item.due_at.unwrap_or(change.at).max(item.stage_started_at);
    let base = match extra {
        DeadlineRule::Hours(_) => due,
        DeadlineRule::CalendarDays(_) | DeadlineRule::WorkingDays(_) => due - 1,
    };
    let schedule = extra
        .schedule(cal, base, spec.permille())
        .map_err(|e| StoreError::invalid("days", e.code(), e.to_string()))?;
    let mut clock = ItemClock::start(&item.stage, item.stage_started_at, schedule, item.tier);
    if clock.warn_at.is_some_and(|w| w <= change.at) {
        clock.warn_at = Some(change.at);
    }
    write_clock(conn, &item, &clock, clock.next_check_at(change.at)).await?;
    let text = format!(
        "【延期】{}：时限延至{}（{}）",
        item.title,
        due_text(&clock),
        reason.chars().take(100).collect::<String>()
    );
    let told = notify_tier(
        conn,
        change,
        &spec,
        item.tier,
        &item,
        NoticeKind::Assignment,
        text,
    )
    .await?;
    let detail = json!({ "stage": item.stage, "rule": extra.as_stored(), "from_due_at": item.due_at,
        "due_at": clock.due_at, "reason": reason, "notice": told });
    record_event(conn, change, item.id, "extended", &clock, &detail).await?;
    audit::append(
        conn,
        change,
        "escalation.extend",
        "tracked_item",
        &item.id.to_string(),
        &detail,
    )
    .await?;
    read(conn, change, item.id).await
}

/// Ends tracking (the loop's subject is done): closed, never looked at again.
pub async fn close(conn: &mut AnyConnection, change: &Change, item_id: i64) -> Result<TrackedItem> {
    let item = read(conn, change, item_id).await?;
    if item.state != "open" {
        return Ok(item);
    }
    let changed = sqlx::query(
        "UPDATE tracked_items SET state = 'closed', closed_at = $1, next_check_at = NULL, \
         version = version + 1 WHERE id = $2 AND version = $3",
    )
    .bind(change.at)
    .bind(item.id)
    .bind(item.version)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    crate::error::optimistic(changed, "该督办事项")?;
    let on_time = item.overdue_since.is_none();
    let detail = json!({ "stage": item.stage, "on_time": on_time });
    record_event(conn, change, item.id, "closed", &item.clock(), &detail).await?;
    audit::append(
        conn,
        change,
        "escalation.close",
        "tracked_item",
        &item.id.to_string(),
        &detail,
    )
    .await?;
    read(conn, change, item.id).await
}

/// Writes a new clock with the optimistic version check.
async fn write_clock(
    conn: &mut AnyConnection,
    item: &TrackedItem,
    c: &ItemClock,
    next: Option<i64>,
) -> Result<()> {
    let changed = sqlx::query(
        "UPDATE tracked_items SET stage = $1, stage_started_at = $2, due_at = $3, \
         pending_year = $4, warn_at = $5, warned = $6, overdue_since = $7, exhausted = $8, \
         tier = $9, next_check_at = $10, version = version + 1 WHERE id = $11 AND version = $12",
    )
    .bind(&c.stage)
    .bind(c.stage_started_at)
    .bind(c.due_at)
    .bind(c.pending_year.map(i64::from))
    .bind(c.warn_at)
    .bind(i64::from(c.warned))
    .bind(c.overdue_since)
    .bind(i64::from(c.exhausted))
    .bind(i64::from(c.tier))
    .bind(next)
    .bind(item.id)
    .bind(item.version)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    crate::error::optimistic(changed, "该督办事项")
}

/// What one run did: item ids per action.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationRun {
    pub warned: Vec<i64>,
    pub escalated: Vec<i64>,
    pub exhausted: Vec<i64>,
    pub resolved: Vec<i64>,
    pub rechecked: Vec<i64>,
}

impl EscalationRun {
    pub fn is_empty(&self) -> bool {
        self.warned.is_empty()
            && self.escalated.is_empty()
            && self.exhausted.is_empty()
            && self.resolved.is_empty()
    }
}

/// The job's selection of due items, one batch: open, due at `$1`, after the keyset
/// `($2, $3)` = (next_check_at, id) of the last one seen, at most `$4` — by the index
/// `tracked_items_due (state, next_check_at, id)`. Public for the benchmark's query plans.
pub const DUE_SELECTION: &str = "SELECT id, next_check_at FROM tracked_items WHERE state = 'open' \
     AND next_check_at <= $1 AND (next_check_at, id) > ($2, $3) \
     ORDER BY next_check_at, id LIMIT $4";

/// The job: every open item whose next check has come, at `change.at`. Safe on several
/// instances at once (see the module comment); idempotent.
pub async fn run(store: &Store, change: &Change, cal: &WorkCalendar) -> Result<EscalationRun> {
    let now = change.at;
    let kinds = all_kinds(store.reader()).await?;
    let mut out = EscalationRun::default();
    let mut after_id = 0i64;
    let mut after_at = i64::MIN;
    for _ in 0..MAX_BATCHES {
        // Keyset over the due index: (next_check_at, id) after the last one seen, so items
        // another runner handled, or this run could not, are not read twice.
        let ids: Vec<(i64, i64)> = sqlx::query(DUE_SELECTION)
            .bind(now)
            .bind(after_at)
            .bind(after_id)
            .bind(BATCH)
            .fetch_all(store.reader())
            .await?
            .iter()
            .map(|r| (r.get("id"), r.get("next_check_at")))
            .collect();
        let full = ids.len() as i64 == BATCH;
        for (id, at) in ids {
            (after_at, after_id) = (at, id);
            let mut tx = store.begin().await?;
            match process(&mut tx, change, cal, &kinds, id, &mut out).await {
                Ok(true) => tx.commit().await?,
                Ok(false) => {}
                // Another runner got there first: nothing of ours is written.
                Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        if !full {
            break;
        }
    }
    Ok(out)
}

/// One item: read it (locked on PostgreSQL), apply the steps due at `now` (more than one
/// when the job was behind), each with its event, audit entry and notice. `false` when
/// there was nothing to do any more (another runner did it).
async fn process(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    kinds: &HashMap<String, KindSpec>,
    id: i64,
    out: &mut EscalationRun,
) -> Result<bool> {
    let now = change.at;
    let mut item = read(conn, change, id).await?;
    if item.state != "open" || item.next_check_at.is_none_or(|t| t > now) {
        return Ok(false);
    }
    let Some(spec) = kinds.get(&item.kind) else {
        // A kind no longer registered: stop looking at the item rather than loop on it.
        write_clock(conn, &item, &item.clock(), None).await?;
        return Ok(true);
    };
    let stage_label = spec
        .stage(&item.stage)
        .map(|s| s.label.clone())
        .unwrap_or_else(|| item.stage.clone());
    let mut changed = false;
    for _ in 0..4 {
        let step = rules::step(spec, &item.clock(), cal, now)
            .map_err(|e| StoreError::Config(e.to_string()))?;
        let Some(step) = step else {
            if item.next_check_at.is_some_and(|t| t <= now) {
                // Nothing to do now, yet due: move the next look to what the clock says.
                let next = item.clock().next_check_at(now).filter(|t| *t > now);
                write_clock(conn, &item, &item.clock(), next).await?;
                changed = true;
            }
            break;
        };
        write_clock(conn, &item, &step.after, step.next_check_at).await?;
        changed = true;
        let (action, audit_action) = match &step.action {
            Action::Warn => ("warned", "escalation.warn"),
            Action::Escalate { .. } => ("escalated", "escalation.escalate"),
            Action::Exhausted => ("exhausted", "escalation.exhausted"),
            Action::Resolve { .. } => ("resolved", "escalation.resolve"),
            Action::Recheck => ("rechecked", ""),
        };
        let mut detail = json!({ "stage": step.after.stage, "tier": step.after.tier,
            "due_at": step.after.due_at, "from_tier": item.tier });
        if !matches!(step.action, Action::Recheck) {
            if !matches!(step.action, Action::Resolve { .. }) {
                let (kind, text) = notice_text(
                    &step.action,
                    &item.title,
                    &stage_label,
                    &due_text(&step.after),
                );
                let told =
                    notify_tier(conn, change, spec, step.after.tier, &item, kind, text).await?;
                detail["notice"] = told;
            }
            record_event(conn, change, item.id, action, &step.after, &detail).await?;
            audit::append(
                conn,
                change,
                audit_action,
                "tracked_item",
                &item.id.to_string(),
                &detail,
            )
            .await?;
        }
        match step.action {
            Action::Warn => out.warned.push(item.id),
            Action::Escalate { .. } => out.escalated.push(item.id),
            Action::Exhausted => out.exhausted.push(item.id),
            Action::Resolve { .. } => out.resolved.push(item.id),
            Action::Recheck => out.rechecked.push(item.id),
        }
        item = read(conn, change, item.id).await?;
        if item.next_check_at.is_none_or(|t| t > now) {
            break;
        }
    }
    Ok(changed)
}

/// Open items owned inside `scope`, by deadline (for a supervisor's list): at most `n`.
pub async fn open_in_scope(pool: &AnyPool, scope: &OrgPath, n: i64) -> Result<Vec<TrackedItem>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM tracked_items t JOIN orgs o ON o.id = t.owner_org_id \
         WHERE o.path >= $1 AND o.path < $2 AND t.state = 'open' ORDER BY t.due_at, t.id LIMIT $3"
    );
    Ok(sqlx::query(&sql)
        .bind(scope.as_str())
        .bind(crate::path_upper_bound(scope.as_str()))
        .bind(n)
        .fetch_all(pool)
        .await?
        .iter()
        .map(from_row)
        .collect())
}
