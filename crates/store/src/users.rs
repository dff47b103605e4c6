//! Staff accounts: identity, organisation, roles, login state and preferences.

use crate::audit::{self, Change, Who};
use crate::page::sql::{like_prefix, Sql};
use crate::page::{CursorKey, KeyPart, ListId, Page, PageRequest};
use crate::{flag, orgs, path_upper_bound, Result, StoreError};
use onewindow_domain::access::{Actor, Role};
use onewindow_domain::org::OrgPath;
use onewindow_domain::validation::FieldErrors;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub org_path: OrgPath,
    pub username: String,
    pub display_name: String,
    pub active: bool,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub large_text: bool,
    pub roles: Vec<Role>,
    pub version: i64,
}

impl User {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.id,
            org_path: self.org_path.clone(),
            roles: self.roles.clone(),
        }
    }

    pub fn who(&self) -> Who {
        Who::user(self.id, &self.username)
    }

    pub fn is_locked(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }
}

const SELECT: &str = "SELECT u.id, u.org_id, o.name AS org_name, o.path AS org_path, u.username, \
     u.display_name, u.active, u.failed_logins, u.locked_until, u.large_text, u.version \
     FROM users u JOIN orgs o ON o.id = u.org_id";

fn from_row(r: &AnyRow) -> User {
    User {
        id: r.get("id"),
        org_id: r.get("org_id"),
        org_name: r.get("org_name"),
        org_path: OrgPath::from_stored(r.get("org_path")),
        username: r.get("username"),
        display_name: r.get("display_name"),
        active: flag(r, "active"),
        failed_logins: r.get("failed_logins"),
        locked_until: r.get("locked_until"),
        large_text: flag(r, "large_text"),
        roles: Vec::new(),
        version: r.get("version"),
    }
}

async fn roles_of<'c, E: Executor<'c, Database = Any>>(e: E, user_id: i64) -> Result<Vec<Role>> {
    let rows = sqlx::query("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
        .bind(user_id)
        .fetch_all(e)
        .await?;
    let mut roles: Vec<Role> = rows
        .iter()
        .filter_map(|r| Role::parse(&r.get::<String, _>("role")))
        .collect();
    roles.sort();
    Ok(roles)
}

/// One user with roles. Takes a connection because it runs two queries.
pub async fn get(conn: &mut AnyConnection, id: i64) -> Result<User> {
    let row = sqlx::query(&format!("{SELECT} WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let mut user = from_row(&row);
    user.roles = roles_of(&mut *conn, id).await?;
    Ok(user)
}

/// The user and stored password hash for a login attempt.
pub async fn find_for_login(
    conn: &mut AnyConnection,
    username: &str,
) -> Result<Option<(User, String)>> {
    let Some(row) = sqlx::query("SELECT id, password_hash FROM users WHERE username = $1")
        .bind(username.trim())
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let user = get(conn, row.get("id")).await?;
    Ok(Some((user, row.get("password_hash"))))
}

pub async fn find_id_by_username(conn: &mut AnyConnection, username: &str) -> Result<Option<i64>> {
    Ok(sqlx::query("SELECT id FROM users WHERE username = $1")
        .bind(username.trim())
        .fetch_optional(conn)
        .await?
        .map(|r| r.get("id")))
}

/// Users whose organisation lies inside `scope`, ordered by organisation then username:
/// the choices of a form (an API key's owner), bounded like before pagination. Lists of
/// staff use [`page`].
pub async fn list_in_scope(conn: &mut AnyConnection, scope: &OrgPath) -> Result<Vec<User>> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE o.path >= $1 AND o.path < $2 ORDER BY o.path, u.username LIMIT 1000"
    ))
    .bind(scope.as_str())
    .bind(path_upper_bound(scope.as_str()))
    .fetch_all(&mut *conn)
    .await?;
    let mut users: Vec<User> = rows.iter().map(from_row).collect();
    attach_roles(&mut *conn, &mut users).await?;
    Ok(users)
}

/// Reads the roles of `users` in one query and sorts each user's roles.
async fn attach_roles(conn: &mut AnyConnection, users: &mut [User]) -> Result<()> {
    if users.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new("SELECT user_id, role FROM user_roles WHERE user_id IN (");
    for (i, u) in users.iter().enumerate() {
        sql.push(if i == 0 { "?" } else { ", ?" }, [KeyPart::Int(u.id)]);
    }
    sql.push(")", []);
    let rows = sql.query().fetch_all(&mut *conn).await?;
    let index: std::collections::HashMap<i64, usize> =
        users.iter().enumerate().map(|(i, u)| (u.id, i)).collect();
    for r in rows {
        let uid: i64 = r.get("user_id");
        if let (Some(&i), Some(role)) = (index.get(&uid), Role::parse(&r.get::<String, _>("role")))
        {
            users[i].roles.push(role);
        }
    }
    for u in users.iter_mut() {
        u.roles.sort();
    }
    Ok(())
}

/// What the staff list is narrowed to. `scope` is the caller's subtree, or the subtree of
/// an organisation inside it that the caller chose (the `org` filter).
#[derive(Debug, Clone)]
pub struct UserFilter<'a> {
    pub scope: &'a OrgPath,
    pub role: Option<Role>,
    pub active: Option<bool>,
    /// Start of the username or of the display name (case-insensitive).
    pub q: Option<&'a str>,
}

/// One page of staff inside `filter.scope`, ordered by organisation (tree order), then
/// username, which is unique: the sort key is (organisation path, username).
///
/// The plan is an index walk, not a scan of the table: the scope's organisations in path
/// order (`orgs_path`, from the cursor's organisation on), and for each its accounts by
/// username (`users_org_username`, or `users_org_active_username` with `active`); it stops
/// after `limit + 1` rows. `role` (a primary-key probe of `user_roles`) and `q` are checked
/// on the accounts walked, so with them a page reads as many accounts of the scope as it
/// takes to find a page of matches.
pub async fn page(
    conn: &mut AnyConnection,
    key: &CursorKey,
    list: &ListId<'_>,
    req: &PageRequest,
    filter: &UserFilter<'_>,
) -> Result<Page<User>> {
    let start = filter.scope.as_str();
    let mut sql = Sql::new(SELECT_BY_ORG);
    match (req.after_text(0), req.after_text(1)) {
        (Some(path), Some(username)) => {
            // Start the walk at the cursor's organisation, never before the scope.
            let from = if path > start { path } else { start };
            sql.push(" WHERE o.path >= ?", [from.into()]).push(
                " AND (o.path > ? OR u.username > ?)",
                [path.into(), username.into()],
            );
        }
        _ => {
            sql.push(" WHERE o.path >= ?", [start.into()]);
        }
    }
    sql.push(" AND o.path < ?", [path_upper_bound(start).into()]);
    if let Some(active) = filter.active {
        sql.push(" AND u.active = ?", [KeyPart::Int(i64::from(active))]);
    }
    if let Some(q) = filter.q.map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = like_prefix(&q.to_lowercase());
        sql.push(
            " AND (u.username LIKE ? ESCAPE '\\' OR LOWER(u.display_name) LIKE ? ESCAPE '\\')",
            [pattern.clone().into(), pattern.into()],
        );
    }
    if let Some(role) = filter.role {
        sql.push(
            " AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = ?)",
            [role.as_str().into()],
        );
    }
    sql.push(
        " ORDER BY o.path, o.id, u.username LIMIT ?",
        [req.fetch().into()],
    );
    let rows = sql.query().fetch_all(&mut *conn).await?;
    let mut users: Vec<User> = rows.iter().map(from_row).collect();
    attach_roles(&mut *conn, &mut users).await?;
    Ok(Page::from_rows(key, list, req, users, |u| {
        vec![u.org_path.as_str().into(), u.username.as_str().into()]
    }))
}

/// [`SELECT`] with the organisations first, so the planner walks them in path order.
const SELECT_BY_ORG: &str =
    "SELECT u.id, u.org_id, o.name AS org_name, o.path AS org_path, u.username, \
     u.display_name, u.active, u.failed_logins, u.locked_until, u.large_text, u.version \
     FROM orgs o JOIN users u ON u.org_id = o.id";

#[derive(Debug, Clone)]
pub struct NewUser {
    pub org_id: i64,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
}

pub fn check_username(e: &mut FieldErrors, username: &str) {
    let ok = (3..=32).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !ok {
        e.add("username", "format", "用户名为3至32位小写字母、数字或._-");
    }
}

/// Creates a staff account. The password arrives hashed; policy is checked by the caller
/// on the clear text.
pub async fn create(
    conn: &mut AnyConnection,
    change: &Change,
    new: &NewUser,
    password_hash: &str,
) -> Result<User> {
    let mut e = FieldErrors::new();
    let username = new.username.trim();
    check_username(&mut e, username);
    let name = e.required("display_name", "姓名", &new.display_name);
    e.max_chars("display_name", "姓名", name, 40);
    if new.roles.is_empty() {
        e.add("roles", "required", "至少选择一个角色");
    }
    match orgs::get(&mut *conn, new.org_id).await {
        Ok(_) => {}
        Err(StoreError::NotFound) => e.add("org_id", "not_found", "所属机构不存在"),
        Err(err) => return Err(err),
    }
    if e.is_empty() && find_id_by_username(&mut *conn, username).await?.is_some() {
        e.add("username", "duplicate", "该用户名已被使用");
    }
    e.into_result().map_err(StoreError::Invalid)?;
    let id: i64 = sqlx::query(
        "INSERT INTO users (org_id, username, display_name, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(new.org_id)
    .bind(username)
    .bind(name)
    .bind(password_hash)
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await
    .map_err(|err| {
        let err = StoreError::from(err);
        if err.is_unique_violation() {
            StoreError::invalid("username", "duplicate", "该用户名已被使用")
        } else {
            err
        }
    })?
    .get("id");
    insert_roles(&mut *conn, id, &new.roles).await?;
    let user = get(&mut *conn, id).await?;
    audit::append(
        conn,
        change,
        "user.create",
        "user",
        &id.to_string(),
        &json!({ "after": &user }),
    )
    .await?;
    Ok(user)
}

async fn insert_roles(conn: &mut AnyConnection, id: i64, roles: &[Role]) -> Result<()> {
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    for role in roles {
        sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
            .bind(id)
            .bind(role.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// What an administrator may change on an account in one go.
#[derive(Debug, Clone)]
pub struct UserChange {
    pub display_name: String,
    pub roles: Vec<Role>,
    pub active: bool,
}

/// Updates name, roles and active flag if the row is still at `expected_version`.
pub async fn update(
    conn: &mut AnyConnection,
    change: &Change,
    id: i64,
    expected_version: i64,
    edit: &UserChange,
) -> Result<User> {
    let mut e = FieldErrors::new();
    let name = e.required("display_name", "姓名", &edit.display_name);
    e.max_chars("display_name", "姓名", name, 40);
    if edit.roles.is_empty() {
        e.add("roles", "required", "至少选择一个角色");
    }
    e.into_result().map_err(StoreError::Invalid)?;
    let before = get(&mut *conn, id).await?;
    let changed = sqlx::query(
        "UPDATE users SET display_name = $1, active = $2, updated_at = $3, version = version + 1 \
         WHERE id = $4 AND version = $5",
    )
    .bind(name)
    .bind(i64::from(edit.active))
    .bind(change.at)
    .bind(id)
    .bind(expected_version)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    crate::error::optimistic(changed, "该账号")?;
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    insert_roles(&mut *conn, id, &edit.roles).await?;
    if !edit.active {
        crate::sessions::delete_for_user(&mut *conn, id).await?;
    }
    let after = get(&mut *conn, id).await?;
    audit::append(
        conn,
        change,
        "user.update",
        "user",
        &id.to_string(),
        &json!({ "before": &before, "after": &after }),
    )
    .await?;
    Ok(after)
}

/// Sets a new password hash, clears any lock-out and ends the user's other sessions.
pub async fn set_password(
    conn: &mut AnyConnection,
    change: &Change,
    id: i64,
    password_hash: &str,
    keep_session: Option<&str>,
) -> Result<()> {
    let changed = sqlx::query(
        "UPDATE users SET password_hash = $1, failed_logins = 0, login_window_start = NULL, \
         locked_until = NULL, updated_at = $2, version = version + 1 WHERE id = $3",
    )
    .bind(password_hash)
    .bind(change.at)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    crate::sessions::delete_for_user_except(&mut *conn, id, keep_session).await?;
    audit::append(
        conn,
        change,
        "user.password",
        "user",
        &id.to_string(),
        &json!({ "password": "changed", "sessions": "ended" }),
    )
    .await?;
    Ok(())
}

/// Login policy: how many password checks in a row may fail before the account locks, for
/// how long it then stays locked, and how long a count of attempts is remembered.
#[derive(Debug, Clone, Copy)]
pub struct Lockout {
    pub max_failures: i64,
    pub lock_secs: i64,
    /// Attempts older than this no longer count: a reservation left behind by an instance
    /// that died mid-check cannot keep an account closed for ever.
    pub window_secs: i64,
}

impl Default for Lockout {
    fn default() -> Self {
        Lockout {
            max_failures: 5,
            lock_secs: 15 * 60,
            window_secs: 15 * 60,
        }
    }
}

/// Reserves one password check for the account, atomically and before the check runs, so
/// parallel guesses (on any number of instances) can never get more than
/// `policy.max_failures` checks between lock-outs: one conditional `UPDATE`, which
/// PostgreSQL re-evaluates on the latest row version and SQLite runs on its one writer.
/// Returns the attempt's number in the window, or `None` when the account is locked or all
/// its attempts are taken. The reservation is bookkeeping for the outcome, which
/// [`record_failed_login`] or [`record_login`] audits; a refusal writes nothing.
pub async fn reserve_login_attempt(
    conn: &mut AnyConnection,
    user_id: i64,
    now: i64,
    policy: Lockout,
) -> Result<Option<i64>> {
    let stale = now - policy.window_secs * 1_000_000;
    let row = sqlx::query(
        "UPDATE users SET \
           failed_logins = CASE WHEN login_window_start IS NULL OR login_window_start <= $2 \
                                THEN 1 ELSE failed_logins + 1 END, \
           login_window_start = CASE WHEN login_window_start IS NULL OR login_window_start <= $2 \
                                     THEN $3 ELSE login_window_start END \
         WHERE id = $1 AND active = 1 AND (locked_until IS NULL OR locked_until <= $3) \
           AND (failed_logins < $4 OR login_window_start IS NULL OR login_window_start <= $2) \
         RETURNING failed_logins",
    )
    .bind(user_id)
    .bind(stale)
    .bind(now)
    .bind(policy.max_failures)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.get("failed_logins")))
}

/// Records a failed check whose attempt was reserved (it stays counted) and locks the
/// account once every attempt of the window is taken. Returns the lock's end when this
/// failure locked it.
pub async fn record_failed_login(
    conn: &mut AnyConnection,
    change: &Change,
    user: &User,
    attempt: i64,
    policy: Lockout,
) -> Result<Option<i64>> {
    let until = change.at + policy.lock_secs * 1_000_000;
    // The count includes checks still running elsewhere: when all are taken and this one
    // failed, lock now; a right password among the others still opens the account.
    let locked = sqlx::query(
        "UPDATE users SET failed_logins = 0, login_window_start = NULL, locked_until = $1 \
         WHERE id = $2 AND failed_logins >= $3 AND (locked_until IS NULL OR locked_until <= $4) \
         RETURNING id",
    )
    .bind(until)
    .bind(user.id)
    .bind(policy.max_failures)
    .bind(change.at)
    .fetch_optional(&mut *conn)
    .await?
    .is_some();
    let locked_until = locked.then_some(until);
    audit::append(
        conn,
        change,
        if locked {
            "auth.locked"
        } else {
            "auth.login_failed"
        },
        "user",
        &user.id.to_string(),
        &json!({ "failures": attempt, "locked_until": locked_until }),
    )
    .await?;
    Ok(locked_until)
}

/// Lifts a lock-out early (an administrator's decision).
pub async fn unlock(conn: &mut AnyConnection, change: &Change, id: i64) -> Result<()> {
    sqlx::query(
        "UPDATE users SET failed_logins = 0, login_window_start = NULL, locked_until = NULL \
         WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    audit::append(
        conn,
        change,
        "user.unlock",
        "user",
        &id.to_string(),
        &json!({}),
    )
    .await?;
    Ok(())
}

/// Clears the attempt count (and any lock) after a good password.
pub async fn record_login(conn: &mut AnyConnection, change: &Change, user: &User) -> Result<()> {
    sqlx::query(
        "UPDATE users SET failed_logins = 0, login_window_start = NULL, locked_until = NULL \
         WHERE id = $1",
    )
    .bind(user.id)
    .execute(&mut *conn)
    .await?;
    audit::append(
        conn,
        change,
        "auth.login",
        "user",
        &user.id.to_string(),
        &json!({}),
    )
    .await?;
    Ok(())
}

/// Remembers the large-text (适老化) preference so it follows the user to any device.
pub async fn set_large_text(
    conn: &mut AnyConnection,
    change: &Change,
    user: &User,
    on: bool,
) -> Result<()> {
    sqlx::query("UPDATE users SET large_text = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(on))
        .bind(change.at)
        .bind(user.id)
        .execute(&mut *conn)
        .await?;
    audit::append(
        conn,
        change,
        "user.preference",
        "user",
        &user.id.to_string(),
        &json!({ "large_text": on }),
    )
    .await?;
    Ok(())
}
