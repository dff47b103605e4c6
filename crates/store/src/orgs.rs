//! Organisations: the tree every scope check stands on.

use crate::audit::{self, Change};
use crate::page::sql::{like_prefix, Sql};
use crate::page::{CursorKey, KeyPart, ListId, Page, PageRequest};
use crate::{path_upper_bound, Result, StoreError};
use onewindow_domain::org::{OrgKind, OrgPath};
use onewindow_domain::validation::FieldErrors;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, Row};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Org {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub kind: OrgKind,
    pub name: String,
    pub code: Option<String>,
    pub path: OrgPath,
    pub version: i64,
}

impl Org {
    /// Depth in the tree, 0 for the root: used to indent tree views.
    pub fn depth(&self) -> usize {
        self.path.ids().len().saturating_sub(1)
    }
}

const COLUMNS: &str = "id, parent_id, kind, name, code, path, version";

fn from_row(r: &AnyRow) -> Org {
    let kind: String = r.get("kind");
    Org {
        id: r.get("id"),
        parent_id: r.get("parent_id"),
        kind: OrgKind::parse(&kind).unwrap_or(OrgKind::Department),
        name: r.get("name"),
        code: r.get("code"),
        path: OrgPath::from_stored(r.get("path")),
        version: r.get("version"),
    }
}

pub async fn get<'c, E: Executor<'c, Database = Any>>(e: E, id: i64) -> Result<Org> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM orgs WHERE id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(|r| from_row(&r))
        .ok_or(StoreError::NotFound)
}

pub async fn find_by_code<'c, E: Executor<'c, Database = Any>>(
    e: E,
    code: &str,
) -> Result<Option<Org>> {
    Ok(
        sqlx::query(&format!("SELECT {COLUMNS} FROM orgs WHERE code = $1"))
            .bind(code)
            .fetch_optional(e)
            .await?
            .map(|r| from_row(&r)),
    )
}

/// The organisation at `root` and everything below it, in tree order.
pub async fn subtree<'c, E: Executor<'c, Database = Any>>(
    e: E,
    root: &OrgPath,
) -> Result<Vec<Org>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM orgs WHERE path >= $1 AND path < $2 ORDER BY path"
    ))
    .bind(root.as_str())
    .bind(path_upper_bound(root.as_str()))
    .fetch_all(e)
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

/// What the organisation list is narrowed to: the caller's subtree (`scope`), and within
/// it the children of one organisation, one kind, a name prefix.
#[derive(Debug, Clone)]
pub struct OrgFilter<'a> {
    pub scope: &'a OrgPath,
    pub parent_id: Option<i64>,
    pub kind: Option<OrgKind>,
    pub q: Option<&'a str>,
}

/// One page of organisations in tree (path) order; a path names one organisation, so the
/// sort key is the path alone. An index range scan from the cursor on: `orgs_path`, or
/// `orgs_parent_path` / `orgs_kind_path` with those filters; the name prefix is checked
/// on the organisations walked (the tree is small).
pub async fn page<'c, E: Executor<'c, Database = Any>>(
    e: E,
    key: &CursorKey,
    list: &ListId<'_>,
    req: &PageRequest,
    filter: &OrgFilter<'_>,
) -> Result<Page<Org>> {
    let start = filter.scope.as_str();
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM orgs"));
    match req.after_text(0) {
        Some(after) if after >= start => sql.push(" WHERE path > ?", [after.into()]),
        _ => sql.push(" WHERE path >= ?", [start.into()]),
    };
    sql.push(" AND path < ?", [path_upper_bound(start).into()]);
    if let Some(parent) = filter.parent_id {
        sql.push(" AND parent_id = ?", [KeyPart::Int(parent)]);
    }
    if let Some(kind) = filter.kind {
        sql.push(" AND kind = ?", [kind.as_str().into()]);
    }
    if let Some(q) = filter.q.map(str::trim).filter(|q| !q.is_empty()) {
        sql.push(
            " AND LOWER(name) LIKE ? ESCAPE '\\'",
            [like_prefix(&q.to_lowercase()).into()],
        );
    }
    sql.push(" ORDER BY path LIMIT ?", [req.fetch().into()]);
    let rows = sql.query().fetch_all(e).await?;
    Ok(Page::from_rows(
        key,
        list,
        req,
        rows.iter().map(from_row).collect(),
        |o: &Org| vec![o.path.as_str().into()],
    ))
}

/// Every department that has a code (what a catalog item names as its 实施部门), in tree order.
pub async fn departments<'c, E: Executor<'c, Database = Any>>(e: E) -> Result<Vec<Org>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM orgs WHERE kind = $1 AND code IS NOT NULL ORDER BY path"
    ))
    .bind(OrgKind::Department.as_str())
    .fetch_all(e)
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

/// How many organisations exist at all: zero means a fresh database.
pub async fn count<'c, E: Executor<'c, Database = Any>>(e: E) -> Result<i64> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM orgs")
        .fetch_one(e)
        .await?
        .get("n"))
}

#[derive(Debug, Clone)]
pub struct NewOrg {
    pub parent_id: Option<i64>,
    pub kind: OrgKind,
    pub name: String,
    pub code: Option<String>,
}

fn check_fields(name: &str, code: Option<&str>) -> FieldErrors {
    let mut e = FieldErrors::new();
    let name = e.required("name", "机构名称", name);
    e.max_chars("name", "机构名称", name, 60);
    if let Some(code) = code {
        if !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            || code.len() > 32
        {
            e.add(
                "code",
                "format",
                "机构编码只能包含字母、数字、-、_，且不超过32位",
            );
        }
    }
    e
}

/// Creates an organisation under `parent_id` (a city when there is no parent).
pub async fn create(conn: &mut AnyConnection, change: &Change, new: &NewOrg) -> Result<Org> {
    let code = new.code.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let mut errors = check_fields(&new.name, code);
    let parent = match new.parent_id {
        Some(pid) => match get(&mut *conn, pid).await {
            Ok(p) => Some(p),
            Err(StoreError::NotFound) => {
                errors.add("parent_id", "not_found", "上级机构不存在");
                None
            }
            Err(e) => return Err(e),
        },
        None => None,
    };
    if errors.is_empty() && !OrgKind::may_contain(parent.as_ref().map(|p| p.kind), new.kind) {
        let under = parent.as_ref().map(|p| p.kind.label()).unwrap_or("顶层");
        errors.add(
            "kind",
            "not_allowed_here",
            format!("{}下不能设立{}", under, new.kind.label()),
        );
    }
    check_code_free(&mut *conn, code, None, &mut errors).await?;
    errors.into_result().map_err(StoreError::Invalid)?;
    let name = new.name.trim();
    let id: i64 = sqlx::query(
        "INSERT INTO orgs (parent_id, kind, name, code, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(new.parent_id)
    .bind(new.kind.as_str())
    .bind(name)
    .bind(code)
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| unique_to_field(e.into()))?
    .get("id");
    let path = match &parent {
        Some(p) => p.path.child(id),
        None => OrgPath::root(id),
    };
    sqlx::query("UPDATE orgs SET path = $1 WHERE id = $2")
        .bind(path.as_str())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let org = get(&mut *conn, id).await?;
    audit::append(
        conn,
        change,
        "org.create",
        "org",
        &id.to_string(),
        &json!({ "after": &org }),
    )
    .await?;
    Ok(org)
}

/// Renames an organisation or changes its code, if nobody changed it since `version`.
pub async fn update(
    conn: &mut AnyConnection,
    change: &Change,
    id: i64,
    expected_version: i64,
    name: &str,
    code: Option<&str>,
) -> Result<Org> {
    let code = code.map(str::trim).filter(|c| !c.is_empty());
    let mut errors = check_fields(name, code);
    check_code_free(&mut *conn, code, Some(id), &mut errors).await?;
    errors.into_result().map_err(StoreError::Invalid)?;
    let before = get(&mut *conn, id).await?;
    let changed = sqlx::query(
        "UPDATE orgs SET name = $1, code = $2, version = version + 1 WHERE id = $3 AND version = $4",
    )
    .bind(name.trim())
    .bind(code)
    .bind(id)
    .bind(expected_version)
    .execute(&mut *conn)
    .await
    .map_err(|e| unique_to_field(e.into()))?
    .rows_affected();
    crate::error::optimistic(changed, "该机构")?;
    let after = get(&mut *conn, id).await?;
    audit::append(
        conn,
        change,
        "org.update",
        "org",
        &id.to_string(),
        &json!({ "before": &before, "after": &after }),
    )
    .await?;
    Ok(after)
}

async fn check_code_free(
    conn: &mut AnyConnection,
    code: Option<&str>,
    own_id: Option<i64>,
    errors: &mut FieldErrors,
) -> Result<()> {
    if let Some(code) = code {
        if let Some(other) = find_by_code(conn, code).await? {
            if Some(other.id) != own_id {
                errors.add(
                    "code",
                    "duplicate",
                    format!("机构编码已被“{}”使用", other.name),
                );
            }
        }
    }
    Ok(())
}

fn unique_to_field(e: StoreError) -> StoreError {
    if e.is_unique_violation() {
        let mut f = FieldErrors::new();
        // The code is checked before writing, so the clash left is the sibling name.
        f.add("name", "duplicate", "同一上级下已有同名机构");
        StoreError::Invalid(f)
    } else {
        e
    }
}
