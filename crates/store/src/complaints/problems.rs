//! 民情收集: requests marked as needs roll up into problems; a street turns a problem into
//! a project with an owner and a status (问题—需求—项目).

use crate::audit::{self, Change};
use crate::{Result, StoreError};
use onewindow_domain::complaints as rules;
use onewindow_domain::org::OrgPath;
use onewindow_domain::validation::FieldErrors;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

/// Where a problem stands.
pub const STATES: [(&str, &str); 4] = [
    ("collected", "已收集"),
    ("project", "已立项"),
    ("in_progress", "实施中"),
    ("done", "已完成"),
];

pub fn state_label(s: &str) -> &'static str {
    STATES
        .iter()
        .find(|(k, _)| *k == s)
        .map(|(_, l)| *l)
        .unwrap_or("已收集")
}

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub id: i64,
    pub org_id: i64,
    #[serde(skip)]
    pub org_path: OrgPath,
    pub title: String,
    pub state: String,
    pub project_name: Option<String>,
    pub owner_user_id: Option<i64>,
    pub owner_name: Option<String>,
    pub note: String,
    /// Requests marked as its needs.
    pub needs: i64,
    pub version: i64,
}

const SELECT: &str = "SELECT p.*, o.path AS org_path, u.display_name AS owner_name, \
    (SELECT COUNT(*) FROM complaints c WHERE c.problem_id = p.id) AS needs FROM complaint_problems p \
    JOIN orgs o ON o.id = p.org_id LEFT JOIN users u ON u.id = p.owner_user_id";

fn from_row(r: &AnyRow) -> Problem {
    Problem {
        id: r.get("id"),
        org_id: r.get("org_id"),
        org_path: OrgPath::from_stored(r.get("org_path")),
        title: r.get("title"),
        state: r.get("state"),
        project_name: r.get("project_name"),
        owner_user_id: r.get("owner_user_id"),
        owner_name: r.get("owner_name"),
        note: r.get("note"),
        needs: r.get("needs"),
        version: r.get("version"),
    }
}

pub async fn get<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    e: E,
    id: i64,
) -> Result<Problem> {
    sqlx::query(&format!("{SELECT} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(|r| from_row(&r))
        .ok_or(StoreError::NotFound)
}

/// Problems of organisations inside `scope`, newest first.
pub async fn list(pool: &AnyPool, scope: &OrgPath, limit: i64) -> Result<Vec<Problem>> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE o.path >= $1 AND o.path < $2 ORDER BY p.id DESC LIMIT $3"
    ))
    .bind(scope.as_str())
    .bind(crate::path_upper_bound(scope.as_str()))
    .bind(limit.clamp(1, 500))
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

pub async fn create(
    conn: &mut AnyConnection,
    change: &Change,
    org_id: i64,
    title: &str,
) -> Result<Problem> {
    let mut errors = FieldErrors::new();
    errors.text("title", "问题", title, rules::SHORT);
    if title.trim().is_empty() {
        errors.add("title", "required", "请填写问题");
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let id: i64 = sqlx::query(
        "INSERT INTO complaint_problems (org_id, title, state, created_by, created_at, updated_at) \
         VALUES ($1, $2, 'collected', $3, $4, $4) RETURNING id",
    )
    .bind(org_id)
    .bind(title.trim())
    .bind(change.who.user_id)
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    audit::append(
        conn,
        change,
        "complaint.problem_create",
        "complaint_problem",
        &id.to_string(),
        &json!({ "title": title.trim() }),
    )
    .await?;
    get(&mut *conn, id).await
}

/// Turns a problem into a project or moves its status: a project needs a name and an owner.
#[allow(clippy::too_many_arguments)]
pub async fn update(
    conn: &mut AnyConnection,
    change: &Change,
    id: i64,
    version: i64,
    state: &str,
    project_name: &str,
    owner_user_id: Option<i64>,
    note: &str,
) -> Result<Problem> {
    let mut errors = FieldErrors::new();
    errors.text("project_name", "项目名称", project_name, rules::SHORT);
    errors.text("note", "进展说明", note, rules::REASON);
    if !STATES.iter().any(|(k, _)| *k == state) {
        errors.add("state", "unknown_state", "请选择状态");
    }
    if state != "collected" {
        if project_name.trim().is_empty() {
            errors.add("project_name", "required", "立项须写明项目名称");
        }
        if owner_user_id.is_none() {
            errors.add("owner_user_id", "required", "立项须指定负责人");
        }
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let problem = get(&mut *conn, id).await?;
    if let Some(u) = owner_user_id {
        let owner = crate::users::get(&mut *conn, u)
            .await
            .map_err(|_| StoreError::invalid("owner_user_id", "unknown_user", "负责人不存在"))?;
        if !problem.org_path.contains(&owner.org_path)
            && !owner.org_path.contains(&problem.org_path)
        {
            return Err(StoreError::invalid(
                "owner_user_id",
                "other_org",
                "负责人须为本单位工作人员",
            ));
        }
    }
    let done = sqlx::query(
        "UPDATE complaint_problems SET state = $1, project_name = $2, owner_user_id = $3, note = $4, \
         updated_at = $5, version = version + 1 WHERE id = $6 AND version = $7",
    )
    .bind(state)
    .bind((!project_name.trim().is_empty()).then(|| project_name.trim().to_string()))
    .bind(owner_user_id)
    .bind(note.trim())
    .bind(change.at)
    .bind(id)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::version_conflict("该民情问题"));
    }
    audit::append(conn, change, "complaint.problem_update", "complaint_problem", &id.to_string(),
        &json!({ "state": state, "project_name": project_name.trim(), "owner_user_id": owner_user_id }))
    .await?;
    get(&mut *conn, id).await
}
