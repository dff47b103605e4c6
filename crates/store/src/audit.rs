//! The audit log: appended in the writer's transaction, hash-chained, verified by streaming.

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

/// Newest first, keyset-paginated by `before` (a seq).
pub async fn list(
    pool: &AnyPool,
    before: Option<i64>,
    entity: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditEvent>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM audit_events \
         WHERE ($1 IS NULL OR seq < $1) AND ($2 IS NULL OR entity = $2) \
         ORDER BY seq DESC LIMIT $3"
    ))
    .bind(before)
    .bind(entity)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(event_from_row).collect())
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
