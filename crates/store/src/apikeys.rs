//! API keys for machines (Open311 clients, imports). A key acts as the user who owns it,
//! with that user's roles and scope. Shown once at creation; stored as SHA-256.

use crate::audit::{self, Change};
use crate::page::sql::Sql;
use crate::page::{CursorKey, KeyPart, ListId, Page, PageRequest};
use crate::sessions::{random_token, token_hash};
use crate::users::{self, User};
use crate::{path_upper_bound, Result, StoreError};
use onewindow_domain::org::OrgPath;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub name: String,
    /// The first characters of the key, to recognise it in a list.
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Creates a key for `user_id` and returns it with the secret, which is never stored.
pub async fn create(
    conn: &mut AnyConnection,
    change: &Change,
    user_id: i64,
    name: &str,
) -> Result<(ApiKey, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(StoreError::invalid(
            "name",
            "required",
            "请填写密钥用途（60字以内）",
        ));
    }
    let secret = format!("ow_{}", random_token());
    let prefix: String = secret.chars().take(10).collect();
    let id: i64 = sqlx::query(
        "INSERT INTO api_keys (user_id, name, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user_id)
    .bind(name)
    .bind(&prefix)
    .bind(token_hash(&secret))
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    audit::append(
        &mut *conn,
        change,
        "apikey.create",
        "api_key",
        &id.to_string(),
        &json!({ "user_id": user_id, "name": name, "prefix": prefix }),
    )
    .await?;
    let (key, _) = get(conn, id).await?;
    Ok((key, secret))
}

const SELECT: &str = "SELECT k.id, k.user_id, u.username, k.name, k.prefix, k.created_at, k.revoked_at, \
     o.path AS org_path FROM api_keys k JOIN users u ON u.id = k.user_id JOIN orgs o ON o.id = u.org_id";

fn from_row(r: &AnyRow) -> ApiKey {
    ApiKey {
        id: r.get("id"),
        user_id: r.get("user_id"),
        username: r.get("username"),
        name: r.get("name"),
        prefix: r.get("prefix"),
        created_at: r.get("created_at"),
        revoked_at: r.get("revoked_at"),
    }
}

/// One key with the organisation path of its owner (for the scope check).
pub async fn get(conn: &mut AnyConnection, id: i64) -> Result<(ApiKey, OrgPath)> {
    sqlx::query(&format!("{SELECT} WHERE k.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .map(|r| (from_row(&r), OrgPath::from_stored(r.get("org_path"))))
        .ok_or(StoreError::NotFound)
}

/// What the key list is narrowed to: keys of accounts inside `scope`, of one account, in
/// force or revoked.
#[derive(Debug, Clone)]
pub struct KeyFilter<'a> {
    pub scope: &'a OrgPath,
    pub user_id: Option<i64>,
    /// `Some(true)`: revoked keys only; `Some(false)`: keys in force only.
    pub revoked: Option<bool>,
}

/// One page of keys, grouped by the account they act as — its organisation in tree order,
/// then username — and newest first within an account; the sort key is (organisation
/// path, username, key id). An index walk: the scope's organisations (`orgs_path`), their
/// accounts (`users_org_username`), each account's keys (`api_keys_user_id`), from the
/// cursor on.
pub async fn page(
    conn: &mut AnyConnection,
    key: &CursorKey,
    list: &ListId<'_>,
    req: &PageRequest,
    filter: &KeyFilter<'_>,
) -> Result<Page<ApiKey>> {
    let start = filter.scope.as_str();
    let mut sql = Sql::new(
        "SELECT k.id, k.user_id, u.username, k.name, k.prefix, k.created_at, k.revoked_at, \
         o.path AS org_path FROM orgs o JOIN users u ON u.org_id = o.id \
         JOIN api_keys k ON k.user_id = u.id",
    );
    match (req.after_text(0), req.after_text(1), req.after_int(2)) {
        (Some(path), Some(username), Some(id)) => {
            let from = if path > start { path } else { start };
            sql.push(" WHERE o.path >= ?", [from.into()]).push(
                " AND (o.path > ? OR u.username > ? OR (u.username = ? AND k.id < ?))",
                [
                    path.into(),
                    username.into(),
                    username.into(),
                    KeyPart::Int(id),
                ],
            );
        }
        _ => {
            sql.push(" WHERE o.path >= ?", [start.into()]);
        }
    }
    sql.push(" AND o.path < ?", [path_upper_bound(start).into()]);
    if let Some(user_id) = filter.user_id {
        sql.push(" AND u.id = ?", [KeyPart::Int(user_id)]);
    }
    match filter.revoked {
        Some(true) => {
            sql.push(" AND k.revoked_at IS NOT NULL", []);
        }
        Some(false) => {
            sql.push(" AND k.revoked_at IS NULL", []);
        }
        None => {}
    }
    sql.push(
        " ORDER BY o.path, o.id, u.username, k.id DESC LIMIT ?",
        [req.fetch().into()],
    );
    let rows = sql.query().fetch_all(conn).await?;
    let rows: Vec<(ApiKey, String)> = rows
        .iter()
        .map(|r| (from_row(r), r.get("org_path")))
        .collect();
    Ok(Page::from_rows(key, list, req, rows, |(k, path)| {
        vec![
            path.as_str().into(),
            k.username.as_str().into(),
            KeyPart::Int(k.id),
        ]
    })
    .map(|(k, _)| k))
}

/// The active user a presented key stands for, if the key is valid and not revoked.
pub async fn authenticate(conn: &mut AnyConnection, secret: &str) -> Result<Option<User>> {
    let Some(row) = sqlx::query(
        "SELECT k.user_id FROM api_keys k JOIN users u ON u.id = k.user_id \
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.active = 1",
    )
    .bind(token_hash(secret))
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(users::get(conn, row.get("user_id")).await?))
}

pub async fn revoke(conn: &mut AnyConnection, change: &Change, id: i64) -> Result<()> {
    let changed =
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(change.at)
            .bind(id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    audit::append(
        conn,
        change,
        "apikey.revoke",
        "api_key",
        &id.to_string(),
        &json!({}),
    )
    .await?;
    Ok(())
}
