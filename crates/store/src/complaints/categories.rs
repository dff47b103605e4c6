//! The category tree (诉求分类): each category with its default department and help text,
//! owned by the organisation that keeps it (a city or a district); a street reads its
//! ancestors' trees. Edits are versioned and audited; a category is retired, never
//! deleted, since past requests name it.

use crate::audit::{self, Change};
use crate::{Result, StoreError};
use onewindow_domain::complaints as rules;
use onewindow_domain::org::OrgPath;
use onewindow_domain::validation::FieldErrors;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

#[derive(Debug, Clone, Serialize)]
pub struct Category {
    pub id: i64,
    pub org_id: i64,
    #[serde(skip)]
    pub org_path: OrgPath,
    pub parent_id: Option<i64>,
    pub code: String,
    pub name: String,
    pub department_id: Option<i64>,
    pub department_name: Option<String>,
    pub help_text: String,
    pub active: bool,
    pub version: i64,
}

const SELECT: &str = "SELECT k.*, o.path AS org_path, d.name AS department_name FROM \
    complaint_categories k JOIN orgs o ON o.id = k.org_id LEFT JOIN orgs d ON d.id = k.department_id";

fn from_row(r: &AnyRow) -> Category {
    Category {
        id: r.get("id"),
        org_id: r.get("org_id"),
        org_path: OrgPath::from_stored(r.get("org_path")),
        parent_id: r.get("parent_id"),
        code: r.get("code"),
        name: r.get("name"),
        department_id: r.get("department_id"),
        department_name: r.get("department_name"),
        help_text: r.get("help_text"),
        active: r.get::<i64, _>("active") == 1,
        version: r.get("version"),
    }
}

pub async fn get<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    e: E,
    id: i64,
) -> Result<Category> {
    sqlx::query(&format!("{SELECT} WHERE k.id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(|r| from_row(&r))
        .ok_or(StoreError::NotFound)
}

/// The categories `viewer` works with: those kept by its organisation or one above it,
/// parents before children, by code. The tree is hundreds of rows at most.
pub async fn for_viewer(
    pool: &AnyPool,
    viewer: &OrgPath,
    with_retired: bool,
) -> Result<Vec<Category>> {
    let rows = sqlx::query(&format!("{SELECT} ORDER BY k.code"))
        .fetch_all(pool)
        .await?;
    Ok(rows
        .iter()
        .map(from_row)
        .filter(|c| c.org_path.contains(viewer) || viewer.contains(&c.org_path))
        .filter(|c| with_retired || c.active)
        .collect())
}

/// Categories whose name, code or help text holds every word of `q` (search as you type).
pub fn search<'a>(all: &'a [Category], q: &str) -> Vec<&'a Category> {
    let words: Vec<&str> = q.split_whitespace().collect();
    all.iter()
        .filter(|c| {
            words
                .iter()
                .all(|w| c.name.contains(w) || c.code.contains(w) || c.help_text.contains(w))
        })
        .collect()
}

/// What an edit sends.
#[derive(Debug, Clone)]
pub struct CategoryInput {
    pub org_id: i64,
    pub parent_id: Option<i64>,
    pub code: String,
    pub name: String,
    pub department_id: Option<i64>,
    pub help_text: String,
    pub active: bool,
}

fn check(input: &CategoryInput) -> Result<()> {
    let mut errors = FieldErrors::new();
    errors.text("name", "分类名称", &input.name, rules::SHORT);
    errors.text("help_text", "说明", &input.help_text, rules::HELP_TEXT);
    if input.name.trim().is_empty() {
        errors.add("name", "required", "请填写分类名称");
    }
    let code = input.code.trim();
    if code.is_empty()
        || code.len() > 40
        || !code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_')
    {
        errors.add(
            "code",
            "invalid_code",
            "分类代码须为1至40个小写字母、数字、点或下划线",
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(errors))
    }
}

async fn check_refs(
    conn: &mut AnyConnection,
    input: &CategoryInput,
    own: Option<i64>,
) -> Result<()> {
    if let Some(p) = input.parent_id {
        let parent = get(&mut *conn, p)
            .await
            .map_err(|_| StoreError::invalid("parent_id", "unknown_category", "上级分类不存在"))?;
        if Some(parent.id) == own || parent.parent_id.is_some_and(|pp| Some(pp) == own) {
            return Err(StoreError::invalid(
                "parent_id",
                "cycle",
                "上级分类不能是本分类或其下级",
            ));
        }
    }
    if let Some(d) = input.department_id {
        crate::orgs::get(&mut *conn, d).await.map_err(|_| {
            StoreError::invalid("department_id", "unknown_department", "默认承办部门不存在")
        })?;
    }
    Ok(())
}

pub async fn create(
    conn: &mut AnyConnection,
    change: &Change,
    input: &CategoryInput,
) -> Result<Category> {
    check(input)?;
    check_refs(conn, input, None).await?;
    let row = sqlx::query(
        "INSERT INTO complaint_categories (org_id, parent_id, code, name, department_id, \
         help_text, active, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (code) DO NOTHING RETURNING id",
    )
    .bind(input.org_id)
    .bind(input.parent_id)
    .bind(input.code.trim())
    .bind(input.name.trim())
    .bind(input.department_id)
    .bind(input.help_text.trim())
    .bind(i64::from(input.active))
    .bind(change.at)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::invalid("code", "duplicate_code", "分类代码已被使用"))?;
    let id: i64 = row.get("id");
    audit::append(conn, change, "complaint.category_create", "complaint_category", &id.to_string(),
        &json!({ "code": input.code.trim(), "name": input.name.trim(), "department_id": input.department_id }))
    .await?;
    get(&mut *conn, id).await
}

pub async fn update(
    conn: &mut AnyConnection,
    change: &Change,
    id: i64,
    version: i64,
    input: &CategoryInput,
) -> Result<Category> {
    check(input)?;
    check_refs(conn, input, Some(id)).await?;
    let done = sqlx::query(
        "UPDATE complaint_categories SET parent_id = $1, name = $2, department_id = $3, \
         help_text = $4, active = $5, updated_at = $6, version = version + 1 WHERE id = $7 AND \
         version = $8",
    )
    .bind(input.parent_id)
    .bind(input.name.trim())
    .bind(input.department_id)
    .bind(input.help_text.trim())
    .bind(i64::from(input.active))
    .bind(change.at)
    .bind(id)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::version_conflict("该分类"));
    }
    audit::append(conn, change, "complaint.category_update", "complaint_category", &id.to_string(),
        &json!({ "name": input.name.trim(), "department_id": input.department_id, "active": input.active }))
    .await?;
    get(&mut *conn, id).await
}
