//! Server-side login sessions. The cookie carries a random token; only its SHA-256 is
//! stored, so a leaked database does not hand out live sessions. Any app instance can
//! resolve any session: nothing is kept in process memory.

use crate::users::{self, User};
use crate::Result;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new session: the cookie token and the CSRF token forms must echo back.
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
}

pub async fn create(
    conn: &mut AnyConnection,
    user_id: i64,
    now: i64,
    ttl_secs: i64,
) -> Result<NewSession> {
    let token = random_token();
    let csrf_token = random_token();
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash(&token))
    .bind(user_id)
    .bind(&csrf_token)
    .bind(now)
    .bind(now + ttl_secs * 1_000_000)
    .execute(conn)
    .await?;
    Ok(NewSession { token, csrf_token })
}

/// The live session's user (active, with roles) and its CSRF token.
pub async fn lookup(
    conn: &mut AnyConnection,
    token: &str,
    now: i64,
) -> Result<Option<(User, String)>> {
    let Some(row) = sqlx::query(
        "SELECT s.user_id, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active = 1",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let user = users::get(conn, row.get("user_id")).await?;
    Ok(Some((user, row.get("csrf_token"))))
}

pub async fn delete(conn: &mut AnyConnection, token: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash(token))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_for_user(conn: &mut AnyConnection, user_id: i64) -> Result<()> {
    delete_for_user_except(conn, user_id, None).await
}

/// Ends every session of a user but the one given (the one changing the password).
pub async fn delete_for_user_except(
    conn: &mut AnyConnection,
    user_id: i64,
    keep_token: Option<&str>,
) -> Result<()> {
    let keep = keep_token.map(token_hash).unwrap_or_default();
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(user_id)
        .bind(keep)
        .execute(conn)
        .await?;
    Ok(())
}

/// Housekeeping: drop expired sessions. Returns how many went.
pub async fn purge_expired(conn: &mut AnyConnection, now: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(conn)
        .await?
        .rows_affected())
}
