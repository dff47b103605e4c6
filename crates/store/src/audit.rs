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

/// Appends one event to the chain inside the caller's transaction. On PostgreSQL the
/// chain-head row is locked until commit, which serialises appends across instances.
pub async fn append(
    conn: &mut AnyConnection,
    change: &Change,
    action: &str,
    entity: &str,
    entity_id: &str,
    detail: &serde_json::Value,
) -> Result<i64> {
    let head = sqlx::query(&format!(
        "SELECT seq, hash FROM audit_head WHERE id = 1{}",
        change.backend.for_update()
    ))
    .fetch_one(&mut *conn)
    .await?;
    let prev_seq: i64 = head.get("seq");
    let prev_hash: String = head.get("hash");
    let seq = prev_seq + 1;
    let detail = detail.to_string();
    let (at, who) = (change.at, &change.who);
    let new = NewAuditEvent {
        at,
        actor_user_id: who.user_id,
        actor: &who.label,
        action,
        entity,
        entity_id,
        detail: &detail,
    };
    let hash = event_hash(seq, &prev_hash, &new);
    sqlx::query(
        "INSERT INTO audit_events (seq, at, actor_user_id, actor, action, entity, entity_id, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(seq)
    .bind(at)
    .bind(who.user_id)
    .bind(&who.label)
    .bind(action)
    .bind(entity)
    .bind(entity_id)
    .bind(&detail)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    Ok(seq)
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
pub async fn verify(pool: &AnyPool) -> Result<Verification> {
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
