//! Window approval grants (即审即办 / 首席代表): "this clerk approves at the window for
//! department X". One row per clerk and department; granting and revoking are audited in
//! the caller's transaction.

use crate::audit::{self, Change};
use crate::{Result, StoreError};
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

/// A grant as listed on the account's page and in the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub user_id: i64,
    pub department_id: i64,
    pub department_name: String,
    pub granted_by: String,
    pub created_at: i64,
}

/// Whether `user_id` may approve at the window for `department_id`.
pub async fn holds(conn: &mut AnyConnection, user_id: i64, department_id: i64) -> Result<bool> {
    Ok(
        sqlx::query("SELECT 1 AS one FROM window_grants WHERE user_id = $1 AND department_id = $2")
            .bind(user_id)
            .bind(department_id)
            .fetch_optional(&mut *conn)
            .await?
            .is_some(),
    )
}

/// The grants one account holds, by department name.
pub async fn of_user(conn: &mut AnyConnection, user_id: i64) -> Result<Vec<Grant>> {
    let rows = sqlx::query(
        "SELECT g.user_id, g.department_id, d.name AS department_name, g.granted_by, g.created_at \
         FROM window_grants g JOIN orgs d ON d.id = g.department_id WHERE g.user_id = $1 \
         ORDER BY d.name, g.department_id",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Grant {
            user_id: r.get("user_id"),
            department_id: r.get("department_id"),
            department_name: r.get("department_name"),
            granted_by: r.get("granted_by"),
            created_at: r.get("created_at"),
        })
        .collect())
}

/// Grants the power (idempotent: granting twice keeps the first grant and audits nothing).
/// Whether the caller may grant it, and to whom, is the web operation's check.
pub async fn grant(
    conn: &mut AnyConnection,
    change: &Change,
    user: (i64, &str),
    department: (i64, &str),
) -> Result<bool> {
    let added = sqlx::query(
        "INSERT INTO window_grants (user_id, department_id, granted_by, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, department_id) DO NOTHING",
    )
    .bind(user.0)
    .bind(department.0)
    .bind(&change.who.label)
    .bind(change.at)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if added {
        audit::append(
            conn,
            change,
            "user.window_grant",
            "user",
            user.1,
            &json!({ "department_id": department.0, "department": department.1 }),
        )
        .await?;
    }
    Ok(added)
}

/// Revokes the power; unknown grants are a 404.
pub async fn revoke(
    conn: &mut AnyConnection,
    change: &Change,
    user: (i64, &str),
    department_id: i64,
) -> Result<()> {
    let gone = sqlx::query("DELETE FROM window_grants WHERE user_id = $1 AND department_id = $2")
        .bind(user.0)
        .bind(department_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if gone == 0 {
        return Err(StoreError::NotFound);
    }
    audit::append(
        conn,
        change,
        "user.window_grant_revoke",
        "user",
        user.1,
        &json!({ "department_id": department_id }),
    )
    .await
}
