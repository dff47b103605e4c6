//! The staff inbox (站内通知) and the outbox of messages to residents (短信).
//!
//! A notice goes to holders of a role at an organisation — seen by users holding that role
//! at the organisation or above it (`org_path` prefix, as scope is everywhere) — or to one
//! user. It is written inside the transaction of the act it is about (an item tracked,
//! warned, escalated; a loop's callback due), whose audit event names it. A notice to a
//! role is one shared task: marked read by any of its recipients, read for all of them
//! (`read_by` says who).
//!
//! The outbox: every message to a resident is a row (`outbox_messages`) with each attempt
//! to deliver it (`outbox_attempts`). The sender is an interface in the web layer; the
//! default one records the message and marks it sent, so nothing needs an outside service.

use crate::audit::{self, Change};
use crate::page::{CursorKey, KeyPart, ListId, Page, PageRequest};
use crate::{Result, StoreError};
use onewindow_domain::access::Role;
use onewindow_domain::escalation::{NoticeKind, LINK, NOTICE_TEXT, SMS_TEXT};
use onewindow_domain::ids::MobileNumber;
use onewindow_domain::org::OrgPath;
use onewindow_domain::validation::{check_text, FieldErrors};
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

/// Who a notice is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// Holders of `role` at `org_id` (path `org_path`) or above it.
    Role {
        role: Role,
        org_id: i64,
        org_path: OrgPath,
    },
    User(i64),
}

/// A notice to write.
#[derive(Debug, Clone)]
pub struct NewNotice {
    pub recipient: Recipient,
    pub kind: NoticeKind,
    pub text: String,
    pub link: String,
    pub item_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub id: i64,
    pub kind: NoticeKind,
    pub kind_label: &'static str,
    pub text: String,
    pub link: String,
    pub item_id: Option<i64>,
    pub recipient_role: Option<Role>,
    pub org_id: Option<i64>,
    pub recipient_user_id: Option<i64>,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

/// Who is reading the inbox: their id, roles and organisation.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user_id: i64,
    pub roles: Vec<Role>,
    pub org_path: OrgPath,
}

/// Writes a notice inside the caller's transaction (the caller audits the act). The text
/// and link are checked against their limits.
pub async fn add(conn: &mut AnyConnection, change: &Change, n: &NewNotice) -> Result<i64> {
    let mut errors = FieldErrors::new();
    for (field, label, value, limit) in [
        ("text", "通知内容", &n.text, NOTICE_TEXT),
        ("link", "链接", &n.link, LINK),
    ] {
        if let Err(e) = check_text(field, label, value, limit) {
            errors.0.push(e);
        }
    }
    if !n.link.starts_with('/') {
        errors.add("link", "invalid", "链接须为本系统内的地址");
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let (role, org_id, org_path, user_id) = match &n.recipient {
        Recipient::Role {
            role,
            org_id,
            org_path,
        } => (
            Some(role.as_str()),
            Some(*org_id),
            Some(org_path.as_str().to_string()),
            None,
        ),
        Recipient::User(id) => (None, None, None, Some(*id)),
    };
    let id: i64 = sqlx::query(
        "INSERT INTO notices (recipient_role, org_id, org_path, recipient_user_id, kind, text, \
         link, item_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(role)
    .bind(org_id)
    .bind(org_path)
    .bind(user_id)
    .bind(n.kind.as_str())
    .bind(&n.text)
    .bind(&n.link)
    .bind(n.item_id)
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    Ok(id)
}

/// The condition "visible to the viewer" with its binds, from placeholder `$first` on.
fn visible(v: &Viewer, first: usize) -> (String, Vec<KeyPart>) {
    let roles: Vec<String> = v
        .roles
        .iter()
        .map(|r| format!("'{}'", r.as_str()))
        .collect();
    let by_role = if roles.is_empty() {
        String::new()
    } else {
        // Role names are the domain's own constants: safe to inline.
        format!(
            " OR (recipient_role IN ({}) AND org_path >= ${} AND org_path < ${})",
            roles.join(","),
            first + 1,
            first + 2
        )
    };
    (
        format!("(recipient_user_id = ${first}{by_role})"),
        vec![
            KeyPart::Int(v.user_id),
            v.org_path.as_str().into(),
            crate::path_upper_bound(v.org_path.as_str()).into(),
        ],
    )
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    parts: &'q [KeyPart],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for p in parts {
        q = match p {
            KeyPart::Int(i) => q.bind(*i),
            KeyPart::Text(t) => q.bind(t.as_str()),
        };
    }
    q
}

/// Unread notices for the viewer: the page header's count.
pub async fn unread_count(pool: &AnyPool, v: &Viewer) -> Result<i64> {
    let (cond, binds) = visible(v, 1);
    let sql = format!("SELECT COUNT(*) AS n FROM notices WHERE read_at IS NULL AND {cond}");
    Ok(bind_all(sqlx::query(&sql), &binds)
        .fetch_one(pool)
        .await?
        .get("n"))
}

const COLUMNS: &str = "id, recipient_role, org_id, recipient_user_id, kind, text, link, \
                       item_id, created_at, read_at";

fn from_row(r: &AnyRow) -> Notice {
    let kind = NoticeKind::parse(&r.get::<String, _>("kind")).unwrap_or(NoticeKind::Assignment);
    Notice {
        id: r.get("id"),
        kind,
        kind_label: kind.label(),
        text: r.get("text"),
        link: r.get("link"),
        item_id: r.get("item_id"),
        recipient_role: r
            .get::<Option<String>, _>("recipient_role")
            .and_then(|s| Role::parse(&s)),
        org_id: r.get("org_id"),
        recipient_user_id: r.get("recipient_user_id"),
        created_at: r.get("created_at"),
        read_at: r.get("read_at"),
    }
}

/// The viewer's notices, newest first (unread only when asked), a page at a time.
pub async fn page(
    pool: &AnyPool,
    key: &CursorKey,
    list: &ListId<'_>,
    req: &PageRequest,
    v: &Viewer,
    unread_only: bool,
) -> Result<Page<Notice>> {
    let (cond, mut binds) = visible(v, 1);
    let mut sql = format!("SELECT {COLUMNS} FROM notices WHERE {cond}");
    if unread_only {
        sql.push_str(" AND read_at IS NULL");
    }
    if let Some(after) = req.after_int(0) {
        binds.push(KeyPart::Int(after));
        sql.push_str(&format!(" AND id < ${}", binds.len()));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", req.fetch()));
    let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(pool).await?;
    let rows: Vec<Notice> = rows.iter().map(from_row).collect();
    Ok(Page::from_rows(key, list, req, rows, |n| {
        vec![KeyPart::Int(n.id)]
    }))
}

/// Marks a notice read for the viewer. A notice the viewer cannot see is not found (so
/// ids cannot be probed); a second mark changes nothing and writes no audit event.
pub async fn mark_read(
    conn: &mut AnyConnection,
    change: &Change,
    v: &Viewer,
    id: i64,
) -> Result<Notice> {
    let (cond, mut binds) = visible(v, 2);
    binds.insert(0, KeyPart::Int(id));
    let sql = format!("SELECT {COLUMNS} FROM notices WHERE id = $1 AND {cond}");
    let row = bind_all(sqlx::query(&sql), &binds)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let mut n = from_row(&row);
    if n.read_at.is_some() {
        return Ok(n);
    }
    let changed = sqlx::query(
        "UPDATE notices SET read_at = $1, read_by = $2 WHERE id = $3 AND read_at IS NULL",
    )
    .bind(change.at)
    .bind(v.user_id)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if changed == 1 {
        audit::append(
            conn,
            change,
            "notice.read",
            "notice",
            &id.to_string(),
            &json!({}),
        )
        .await?;
        n.read_at = Some(change.at);
    }
    Ok(n)
}

// ---- outbox ---------------------------------------------------------------------------

/// A message to a resident and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxMessage {
    pub id: i64,
    /// Masked (`138****8000`): staff lists never show the whole number.
    pub phone: String,
    pub message: String,
    pub org_id: i64,
    pub state: String,
    pub attempts: i64,
    pub sender: String,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// Queues a message to `phone` on behalf of `org_id`, inside the caller's transaction
/// (audited as `outbox.send`). Returns its id; the sender delivers it after commit.
pub async fn queue(
    conn: &mut AnyConnection,
    change: &Change,
    org_id: i64,
    phone: &str,
    message: &str,
    sender: &str,
) -> Result<i64> {
    let mut errors = FieldErrors::new();
    let phone = match MobileNumber::parse(phone) {
        Ok(p) => Some(p),
        Err(_) => {
            errors.add("phone", "invalid", "手机号码格式不正确");
            None
        }
    };
    if let Err(e) = check_text("message", "短信内容", message, SMS_TEXT) {
        errors.0.push(e);
    }
    if message.trim().is_empty() {
        errors.add("message", "required", "短信内容不能为空");
    }
    let (Some(phone), true) = (phone, errors.is_empty()) else {
        return Err(StoreError::Invalid(errors));
    };
    let org = crate::orgs::get(&mut *conn, org_id).await?;
    let id: i64 = sqlx::query(
        "INSERT INTO outbox_messages (phone, message, org_id, org_path, state, sender, \
         created_at, next_try_at) VALUES ($1, $2, $3, $4, 'queued', $5, $6, $6) RETURNING id",
    )
    .bind(phone.as_str())
    .bind(message)
    .bind(org_id)
    .bind(org.path.as_str())
    .bind(sender)
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    audit::append(
        conn,
        change,
        "outbox.send",
        "outbox_message",
        &id.to_string(),
        &json!({ "phone": phone.to_string(), "sender": sender }),
    )
    .await?;
    Ok(id)
}

/// A message waiting for delivery (the sender's view: the whole number).
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: i64,
    pub phone: String,
    pub message: String,
    pub attempts: i64,
}

/// Messages due for an attempt at `now` (queued, or failed with a retry due), at most `n`.
pub async fn due(pool: &AnyPool, now: i64, n: i64) -> Result<Vec<Pending>> {
    let rows = sqlx::query(
        "SELECT id, phone, message, attempts FROM outbox_messages \
         WHERE state = 'queued' AND next_try_at <= $1 ORDER BY next_try_at, id LIMIT $2",
    )
    .bind(now)
    .bind(n)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Pending {
            id: r.get("id"),
            phone: r.get("phone"),
            message: r.get("message"),
            attempts: r.get("attempts"),
        })
        .collect())
}

/// Claims a message for one delivery attempt: counts the attempt and moves its next try to
/// `lease_until` (so a sender that dies mid-attempt is retried then). Conditional on the
/// attempt count read: of several senders, one claims it — a message is never handed to
/// the gateway twice at once. Returns whether this one won.
pub async fn claim(
    conn: &mut AnyConnection,
    id: i64,
    attempts_before: i64,
    lease_until: i64,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE outbox_messages SET attempts = attempts + 1, next_try_at = $1 \
         WHERE id = $2 AND attempts = $3 AND state = 'queued'",
    )
    .bind(lease_until)
    .bind(id)
    .bind(attempts_before)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Records the outcome of a claimed attempt: sent, or failed with the next try at
/// `retry_at` (`None`: given up, `failed`).
pub async fn record_attempt(
    conn: &mut AnyConnection,
    at: i64,
    id: i64,
    ok: bool,
    detail: &str,
    retry_at: Option<i64>,
) -> Result<()> {
    let state = match (ok, retry_at) {
        (true, _) => "sent",
        (false, Some(_)) => "queued",
        (false, None) => "failed",
    };
    sqlx::query(
        "UPDATE outbox_messages SET state = $1, next_try_at = $2, \
         sent_at = CASE WHEN $3 = 1 THEN $4 ELSE sent_at END WHERE id = $5",
    )
    .bind(state)
    .bind(retry_at)
    .bind(i64::from(ok))
    .bind(at)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let detail: String = detail.chars().take(500).collect();
    sqlx::query("INSERT INTO outbox_attempts (message_id, at, ok, detail) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(at)
        .bind(i64::from(ok))
        .bind(detail)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn masked(phone: &str) -> String {
    MobileNumber::parse(phone)
        .map(|p| p.to_string())
        .unwrap_or_else(|_| "***".into())
}

/// The outbox of `scope` (messages sent on behalf of organisations inside it), newest first.
pub async fn outbox_page(
    pool: &AnyPool,
    key: &CursorKey,
    list: &ListId<'_>,
    req: &PageRequest,
    scope: &OrgPath,
) -> Result<Page<OutboxMessage>> {
    let mut sql = "SELECT id, phone, message, org_id, state, attempts, sender, created_at, \
                   sent_at FROM outbox_messages WHERE org_path >= $1 AND org_path < $2"
        .to_string();
    if req.after_int(0).is_some() {
        sql.push_str(" AND id < $3");
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", req.fetch()));
    let mut q = sqlx::query(&sql)
        .bind(scope.as_str())
        .bind(crate::path_upper_bound(scope.as_str()));
    if let Some(after) = req.after_int(0) {
        q = q.bind(after);
    }
    let rows: Vec<OutboxMessage> = q
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| OutboxMessage {
            id: r.get("id"),
            phone: masked(&r.get::<String, _>("phone")),
            message: onewindow_domain::ratings::redact_for_staff(&r.get::<String, _>("message")),
            org_id: r.get("org_id"),
            state: r.get("state"),
            attempts: r.get("attempts"),
            sender: r.get("sender"),
            created_at: r.get("created_at"),
            sent_at: r.get("sent_at"),
        })
        .collect();
    Ok(Page::from_rows(key, list, req, rows, |m| {
        vec![KeyPart::Int(m.id)]
    }))
}

/// Every attempt to deliver a message, oldest first: `(at, ok, detail)`.
pub async fn attempts(pool: &AnyPool, id: i64) -> Result<Vec<(i64, bool, String)>> {
    Ok(
        sqlx::query("SELECT at, ok, detail FROM outbox_attempts WHERE message_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| (r.get("at"), r.get::<i64, _>("ok") == 1, r.get("detail")))
            .collect(),
    )
}
