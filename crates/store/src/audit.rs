//! The audit log: appended in the writer's transaction, hash-chained, verified by streaming.

use crate::page::{CursorKey, KeyPart, ListId, Page, PageRequest};
use crate::{Backend, Result};
use onewindow_domain::audit::{event_hash, AuditEvent, ChainBreak, ChainVerifier, NewAuditEvent};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

/// Who performed a change, for the audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    pub user_id: Option<i64>,
    pub label: String,
}

impl Who {
    pub fn user(id: i64, username: &str) -> Who {
        Who {
            user_id: Some(id),
            label: username.to_string(),
        }
    }

    pub fn system(label: &str) -> Who {
        Who {
            user_id: None,
            label: label.to_string(),
        }
    }
}

/// What every audited write needs besides the connection: who acts, when, and which
/// database is underneath (for its locking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub backend: Backend,
    /// UTC microseconds: the time the change is recorded with.
    pub at: i64,
    pub who: Who,
}

/// One event to append: what happened to which record, and who did it.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub who: &'a Who,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: &'a str,
    pub detail: serde_json::Value,
}

/// Appends one event inside the caller's transaction (see [`append_many`]).
pub async fn append(
    conn: &mut AnyConnection,
    change: &Change,
    action: &str,
    entity: &str,
    entity_id: &str,
    detail: &serde_json::Value,
) -> Result<()> {
    let entry = Entry {
        who: &change.who,
        action,
        entity,
        entity_id,
        detail: detail.clone(),
    };
    append_many(conn, change, std::slice::from_ref(&entry)).await
}

/// Appends events, in order, inside the caller's transaction: they commit with the change
/// they describe or not at all.
///
/// SQLite: chained at once — read the head, insert the events with their seq and hash,
/// move the head. Its single writer (group commit) serialises this already, so holding
/// the head costs nothing extra.
///
/// PostgreSQL: inserted into `audit_pending` without touching the head. Holding the head
/// row until commit (the earlier design) made every write in the product wait for the
/// previous writer's commit fsync, capping all writes at the disk's fsync rate; now
/// transactions commit in parallel (and share fsyncs), and [`chain_pending`] chains the
/// committed events in short batches right after. Readers of the chain
/// ([`verify`], the audit list, the test kit) chain what is pending first.
pub async fn append_many(
    conn: &mut AnyConnection,
    change: &Change,
    entries: &[Entry<'_>],
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let details: Vec<String> = entries.iter().map(|e| e.detail.to_string()).collect();
    match change.backend {
        Backend::Postgres => {
            let mut sql = String::from(
                "INSERT INTO audit_pending (at, actor_user_id, actor, action, entity, entity_id, detail) VALUES ",
            );
            push_placeholders(&mut sql, entries.len(), 7);
            let mut q = sqlx::query(&sql);
            for (e, detail) in entries.iter().zip(&details) {
                q = q
                    .bind(change.at)
                    .bind(e.who.user_id)
                    .bind(&e.who.label)
                    .bind(e.action)
                    .bind(e.entity)
                    .bind(e.entity_id)
                    .bind(detail);
            }
            q.execute(&mut *conn).await?;
            Ok(())
        }
        Backend::Sqlite => {
            let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(&mut *conn)
                .await?;
            let events: Vec<Chained> = entries
                .iter()
                .zip(details)
                .map(|(e, detail)| Pending {
                    at: change.at,
                    actor_user_id: e.who.user_id,
                    actor: e.who.label.clone(),
                    action: e.action.to_string(),
                    entity: e.entity.to_string(),
                    entity_id: e.entity_id.to_string(),
                    detail,
                })
                .collect::<Vec<_>>()
                .into_iter()
                .scan(
                    (head.get::<i64, _>("seq"), head.get::<String, _>("hash")),
                    chain_one,
                )
                .collect();
            insert_chained(&mut *conn, &events).await
        }
    }
}

/// An event as written, before it has a place in the chain.
struct Pending {
    at: i64,
    actor_user_id: Option<i64>,
    actor: String,
    action: String,
    entity: String,
    entity_id: String,
    detail: String,
}

/// An event with its place in the chain.
struct Chained {
    seq: i64,
    prev_hash: String,
    hash: String,
    event: Pending,
}

/// Gives `event` the next seq after `head` and its hash, and moves `head` on.
fn chain_one(head: &mut (i64, String), event: Pending) -> Option<Chained> {
    let seq = head.0 + 1;
    let new = NewAuditEvent {
        at: event.at,
        actor_user_id: event.actor_user_id,
        actor: &event.actor,
        action: &event.action,
        entity: &event.entity,
        entity_id: &event.entity_id,
        detail: &event.detail,
    };
    let hash = event_hash(seq, &head.1, &new);
    let prev_hash = std::mem::replace(&mut head.1, hash.clone());
    head.0 = seq;
    Some(Chained {
        seq,
        prev_hash,
        hash,
        event,
    })
}

/// Inserts chained events (one statement) and moves the head to the last of them.
async fn insert_chained(conn: &mut AnyConnection, events: &[Chained]) -> Result<()> {
    let Some(last) = events.last() else {
        return Ok(());
    };
    let mut sql = String::from(
        "INSERT INTO audit_events (seq, at, actor_user_id, actor, action, entity, entity_id, detail, prev_hash, hash) VALUES ",
    );
    push_placeholders(&mut sql, events.len(), 10);
    let mut q = sqlx::query(&sql);
    for c in events {
        let e = &c.event;
        q = q
            .bind(c.seq)
            .bind(e.at)
            .bind(e.actor_user_id)
            .bind(&e.actor)
            .bind(&e.action)
            .bind(&e.entity)
            .bind(&e.entity_id)
            .bind(&e.detail)
            .bind(&c.prev_hash)
            .bind(&c.hash);
    }
    q.execute(&mut *conn).await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(last.seq)
        .bind(&last.hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// `($1, …, $cols), (…)` for `rows` rows.
pub(crate) fn push_placeholders(sql: &mut String, rows: usize, cols: usize) {
    use std::fmt::Write;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            let _ = write!(
                sql,
                "{}${}",
                if c == 0 { "" } else { ", " },
                r * cols + c + 1
            );
        }
        sql.push(')');
    }
}

/// How many pending events one chaining transaction takes.
const CHAIN_BATCH: i64 = 500;

/// Chains the committed pending events (PostgreSQL) in id order, a batch per short
/// transaction holding the head row; returns how many it chained. Safe with several
/// instances: the head lock serialises them, and each batch is taken with one
/// `DELETE … RETURNING`, so no event is chained twice or skipped. On SQLite there is
/// never anything pending and this returns 0 at once.
pub async fn chain_pending(pool: &AnyPool) -> Result<u64> {
    let mut total = 0u64;
    loop {
        let mut tx = pool.begin().await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
            .fetch_one(&mut *tx)
            .await?;
        let rows = sqlx::query(
            "DELETE FROM audit_pending WHERE id IN (SELECT id FROM audit_pending ORDER BY id LIMIT $1) \
             RETURNING id, at, actor_user_id, actor, action, entity, entity_id, detail",
        )
        .bind(CHAIN_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.rollback().await?;
            return Ok(total);
        }
        let mut pending: Vec<(i64, Pending)> = rows
            .iter()
            .map(|r| {
                (
                    r.get("id"),
                    Pending {
                        at: r.get("at"),
                        actor_user_id: r.get("actor_user_id"),
                        actor: r.get("actor"),
                        action: r.get("action"),
                        entity: r.get("entity"),
                        entity_id: r.get("entity_id"),
                        detail: r.get("detail"),
                    },
                )
            })
            .collect();
        // RETURNING promises no order; the chain follows the order events were written in.
        pending.sort_by_key(|(id, _)| *id);
        let n = pending.len();
        let chained: Vec<Chained> = pending
            .into_iter()
            .map(|(_, p)| p)
            .scan(
                (head.get::<i64, _>("seq"), head.get::<String, _>("hash")),
                chain_one,
            )
            .collect();
        insert_chained(&mut tx, &chained).await?;
        tx.commit().await?;
        total += n as u64;
        if (n as i64) < CHAIN_BATCH {
            return Ok(total);
        }
    }
}

/// The background chainer of one instance (PostgreSQL): woken after every commit that
/// may have appended events, and once a second for events another instance left behind.
/// Its task starts at the first wake-up, so a store that only migrates or reads never
/// holds a connection for it.
#[derive(Debug)]
pub struct Chainer {
    pool: AnyPool,
    wake: tokio::sync::Notify,
    stopped: std::sync::atomic::AtomicBool,
    started: std::sync::Once,
    me: std::sync::Weak<Chainer>,
}

impl Chainer {
    pub fn new(pool: AnyPool) -> std::sync::Arc<Chainer> {
        std::sync::Arc::new_cyclic(|me| Chainer {
            pool,
            wake: tokio::sync::Notify::new(),
            stopped: Default::default(),
            started: std::sync::Once::new(),
            me: me.clone(),
        })
    }

    fn spawn(&self) {
        let weak = self.me.clone();
        tokio::spawn(async move {
            while let Some(me) = weak.upgrade() {
                if me.stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                if let Err(e) = chain_pending(&me.pool).await {
                    tracing::warn!(error = %e, "chaining audit events failed; retrying");
                }
                tokio::select! {
                    _ = me.wake.notified() => {}
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
            }
        });
    }

    pub fn wake(&self) {
        if self.stopped.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        self.started.call_once(|| self.spawn());
        self.wake.notify_one();
    }

    pub fn stop(&self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.wake.notify_one();
    }
}

fn event_from_row(r: &AnyRow) -> AuditEvent {
    AuditEvent {
        seq: r.get("seq"),
        at: r.get("at"),
        actor_user_id: r.get("actor_user_id"),
        actor: r.get("actor"),
        action: r.get("action"),
        entity: r.get("entity"),
        entity_id: r.get("entity_id"),
        detail: r.get("detail"),
        prev_hash: r.get("prev_hash"),
        hash: r.get("hash"),
    }
}

const COLUMNS: &str =
    "seq, at, actor_user_id, actor, action, entity, entity_id, detail, prev_hash, hash";

/// What to list from the audit log. `at` is a half-open range of UTC microseconds.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub entity: Option<String>,
    /// Only with `entity` (an id means nothing without its kind).
    pub entity_id: Option<String>,
    pub actor: Option<String>,
    /// Actions starting with this, e.g. `case.` or `user.create`.
    pub action_prefix: Option<String>,
    pub at: (Option<i64>, Option<i64>),
}

/// How far an event's time may lag behind the chain order: `at` is taken when a request
/// starts, the event is chained when it commits, and a request ends within its timeout
/// (and the chainer within seconds). A generous bound, used only to turn a date range into
/// a seq range that surely contains it; the times themselves are then checked exactly.
pub const CHAIN_LAG_MICROS: i64 = 3_600 * 1_000_000;

/// The most distinct actions an action-prefix filter reads one by one.
const MAX_ACTIONS: usize = 200;

/// Newest first (seq descending), one keyset page.
///
/// Each filter is answered by an index range that stops after the page: entity and id by
/// `audit_events_entity_seq`, an actor by `audit_events_actor`, an entity by
/// `audit_events_entity_only`, an action prefix by `audit_events_action`, one scan per
/// distinct action with that prefix (found by skipping through the index, not by reading
/// the events). When several are given, the most selective drives and the others are
/// checked on its rows. A date range becomes a seq range (two probes of `audit_events_at`,
/// widened by [`CHAIN_LAG_MICROS`]) and the times are checked exactly.
pub async fn list(
    pool: &AnyPool,
    key: &CursorKey,
    id: &ListId<'_>,
    filter: &AuditFilter,
    req: &PageRequest,
) -> Result<Page<AuditEvent>> {
    let mut conn = pool.acquire().await?;
    let after = match &req.after {
        None => None,
        Some(k) if k.len() == 1 => Some(req.after_int(0).ok_or_else(bad_cursor)?),
        Some(_) => return Err(bad_cursor()),
    };
    // The seq range that holds the date range.
    let mut below: Option<i64> = after;
    let mut from_seq: Option<i64> = None;
    if let Some(from) = filter.at.0 {
        // The last event clearly before the range: everything in the range comes after it.
        let r = sqlx::query(
            "SELECT seq FROM audit_events WHERE at < $1 ORDER BY at DESC, seq DESC LIMIT 1",
        )
        .bind(from - CHAIN_LAG_MICROS)
        .fetch_optional(&mut *conn)
        .await?;
        from_seq = r.map(|r| r.get::<i64, _>("seq") + 1);
    }
    if let Some(until) = filter.at.1 {
        // The first event clearly after the range: everything in the range comes before it.
        let r = sqlx::query("SELECT seq FROM audit_events WHERE at >= $1 ORDER BY at, seq LIMIT 1")
            .bind(until + CHAIN_LAG_MICROS)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(r) = r {
            let s: i64 = r.get("seq");
            below = Some(below.map_or(s, |b| b.min(s)));
        }
    }
    // Which index drives, and the equality values of each scan.
    let mut residual: Vec<(&str, String)> = Vec::new();
    let scans: Vec<Vec<(&str, String)>> =
        if let (Some(e), Some(i)) = (&filter.entity, &filter.entity_id) {
            residual.extend(filter.actor.clone().map(|a| ("actor", a)));
            vec![vec![("entity", e.clone()), ("entity_id", i.clone())]]
        } else if let Some(a) = &filter.actor {
            residual.extend(filter.entity.clone().map(|e| ("entity", e)));
            vec![vec![("actor", a.clone())]]
        } else if let Some(e) = &filter.entity {
            vec![vec![("entity", e.clone())]]
        } else if let Some(p) = &filter.action_prefix {
            let actions = actions_with_prefix(&mut conn, p).await?;
            match actions {
                Some(list) => list.into_iter().map(|a| vec![("action", a)]).collect(),
                // More distinct actions than we read one by one: check the prefix per row.
                None => vec![vec![]],
            }
        } else {
            vec![vec![]]
        };
    if scans.is_empty() {
        return Ok(Page::from_rows(key, id, req, vec![], |e: &AuditEvent| {
            vec![KeyPart::Int(e.seq)]
        }));
    }
    let driven_by_action = filter.entity.is_none() && filter.actor.is_none();
    let mut binds: Vec<Value> = Vec::new();
    let mut p = |v: Value| {
        binds.push(v);
        format!("${}", binds.len())
    };
    let mut shared = Vec::new();
    if let Some(b) = below {
        shared.push(format!("seq < {}", p(Value::Int(b))));
    }
    if let Some(f) = from_seq {
        shared.push(format!("seq >= {}", p(Value::Int(f))));
    }
    if let Some(from) = filter.at.0 {
        shared.push(format!("at >= {}", p(Value::Int(from))));
    }
    if let Some(until) = filter.at.1 {
        shared.push(format!("at < {}", p(Value::Int(until))));
    }
    for (col, v) in &residual {
        shared.push(format!("{col} = {}", p(Value::Text(v.clone()))));
    }
    let action_drives = driven_by_action && !scans[0].is_empty();
    if let (Some(prefix), false) = (&filter.action_prefix, action_drives) {
        // Checked on the rows when the action does not drive the scans.
        shared.push(format!(
            "substr(action, 1, {}) = {}",
            prefix.chars().count(),
            p(Value::Text(prefix.clone()))
        ));
    }
    let limit = p(Value::Int(req.fetch()));
    let mut members = Vec::new();
    for (n, scan) in scans.iter().enumerate() {
        let mut w: Vec<String> = scan
            .iter()
            .map(|(col, v)| format!("{col} = {}", p(Value::Text(v.clone()))))
            .collect();
        w.extend(shared.iter().cloned());
        let cond = if w.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", w.join(" AND "))
        };
        members.push(format!(
            "SELECT * FROM (SELECT {COLUMNS} FROM audit_events{cond} ORDER BY seq DESC LIMIT {limit}) a{n}"
        ));
    }
    let sql = if members.len() == 1 {
        members.pop().unwrap_or_default()
    } else {
        format!(
            "SELECT * FROM ({}) u ORDER BY seq DESC LIMIT {limit}",
            members.join(" UNION ALL ")
        )
    };
    tracing::trace!(sql = %sql, binds = ?binds, "list statement");
    let mut q = sqlx::query(&sql);
    for b in &binds {
        q = match b {
            Value::Int(v) => q.bind(*v),
            Value::Text(v) => q.bind(v.clone()),
        };
    }
    let rows: Vec<AuditEvent> = q
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(event_from_row)
        .collect();
    Ok(Page::from_rows(key, id, req, rows, |e| {
        vec![KeyPart::Int(e.seq)]
    }))
}

/// The newest `limit` events, unfiltered (the home page shows the head of the chain).
pub async fn newest(pool: &AnyPool, limit: i64) -> Result<Vec<AuditEvent>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM audit_events ORDER BY seq DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(event_from_row).collect())
}

#[derive(Debug)]
enum Value {
    Int(i64),
    Text(String),
}

fn bad_cursor() -> crate::StoreError {
    let e = crate::page::PageError::Forged;
    crate::StoreError::invalid(e.field(), e.code(), e.to_string())
}

/// The distinct actions starting with `prefix`, found by skipping through
/// `audit_events_action` — one probe per distinct action in the log (a few dozen), not one
/// per event; `None` when the log holds more than [`MAX_ACTIONS`]. All distinct actions,
/// then the prefix in Rust: a prefix is not a range under every collation.
async fn actions_with_prefix(
    conn: &mut AnyConnection,
    prefix: &str,
) -> Result<Option<Vec<String>>> {
    let rows = sqlx::query(
        "WITH RECURSIVE acts(a, n) AS (SELECT MIN(action), 1 FROM audit_events \
         UNION ALL SELECT (SELECT MIN(action) FROM audit_events WHERE action > acts.a), n + 1 \
         FROM acts WHERE acts.a IS NOT NULL AND n <= $1) SELECT a FROM acts WHERE a IS NOT NULL",
    )
    .bind(MAX_ACTIONS as i64)
    .fetch_all(&mut *conn)
    .await?;
    if rows.len() > MAX_ACTIONS {
        return Ok(None);
    }
    Ok(Some(
        rows.iter()
            .map(|r| r.get::<String, _>("a"))
            .filter(|a| a.starts_with(prefix))
            .collect(),
    ))
}

/// The result of re-checking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub checked: u64,
    pub head_seq: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken: Option<ChainBreak>,
}

/// Re-computes the whole chain in seq order, a page at a time, and reports the first break.
/// Chains what is pending first (PostgreSQL), so every committed event is checked.
pub async fn verify(store: &crate::Store) -> Result<Verification> {
    store.settle_audit().await?;
    let pool = store.reader();
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(pool)
        .await?;
    let head_seq: i64 = head.get("seq");
    let head_hash: String = head.get("hash");
    let mut verifier = ChainVerifier::default();
    let mut checked = 0u64;
    // Keyset pages over the stored order; `after` is the last seq seen (not the expected
    // one), so a gap or a reordering shows up as a link failure, not as a skipped page.
    let mut after = i64::MIN;
    loop {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT 2000"
        ))
        .bind(after)
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let e = event_from_row(r);
            if let Err(broken) = verifier.check(&e) {
                return Ok(Verification {
                    checked,
                    head_seq,
                    broken: Some(broken),
                });
            }
            checked += 1;
            after = e.seq;
        }
    }
    match verifier.finish(head_seq, &head_hash) {
        Ok(n) => Ok(Verification {
            checked: n,
            head_seq,
            broken: None,
        }),
        Err(broken) => Ok(Verification {
            checked,
            head_seq,
            broken: Some(broken),
        }),
    }
}
