//! Event categories (事件类别, Open311 services): saved checked by
//! `domain::grid::check_category`, the limits as `DeadlineRule::as_stored`, the attributes
//! as the domain's JSON. Saving registers the category's engine kind
//! (`grid.event.<id>`) with its limits, so new events use them at once.

use crate::audit::{self, Change};
use crate::escalation;
use crate::{Result, StoreError};
use onewindow_domain::escalation::DeadlineRule;
use onewindow_domain::grid::{self as rules, Category};
use onewindow_domain::org::OrgKind;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

/// A category as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredCategory {
    pub id: i64,
    pub org_id: i64,
    pub active: bool,
    pub version: i64,
    #[serde(flatten)]
    pub category: Category,
    pub default_department_name: Option<String>,
}

const COLUMNS: &str = "c.id, c.org_id, c.code, c.name, c.grp, c.keywords, \
    c.default_department_id, c.respond_rule, c.close_rule, c.help_text, c.attributes, \
    c.active, c.version, d.name AS department_name";
const FROM: &str = "grid_categories c LEFT JOIN orgs d ON d.id = c.default_department_id";

fn from_row(r: &AnyRow) -> StoredCategory {
    let rule =
        |col: &str, default| DeadlineRule::parse(&r.get::<String, _>(col)).unwrap_or(default);
    let attributes: String = r.get("attributes");
    StoredCategory {
        id: r.get("id"),
        org_id: r.get("org_id"),
        active: r.get::<i64, _>("active") != 0,
        version: r.get("version"),
        category: Category {
            code: r.get("code"),
            name: r.get("name"),
            group: r.get("grp"),
            keywords: r.get("keywords"),
            default_department: r.get("default_department_id"),
            respond: rule("respond_rule", rules::DEFAULT_RESPOND),
            close: rule("close_rule", rules::DEFAULT_CLOSE),
            help: r.get("help_text"),
            attributes: serde_json::from_str(&attributes).unwrap_or_default(),
        },
        default_department_name: r.get("department_name"),
    }
}

/// The active categories, by code.
pub async fn list(pool: &AnyPool) -> Result<Vec<StoredCategory>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE c.active = 1 ORDER BY c.code"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

pub async fn get<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    e: E,
    id: i64,
) -> Result<StoredCategory> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM {FROM} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(|r| from_row(&r))
        .ok_or(StoreError::NotFound)
}

/// An active category by its code (Open311's `service_code`).
pub async fn by_code<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    e: E,
    code: &str,
) -> Result<Option<StoredCategory>> {
    Ok(sqlx::query(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE c.code = $1 AND c.active = 1"
    ))
    .bind(code)
    .fetch_optional(e)
    .await?
    .map(|r| from_row(&r)))
}

/// Creates a category (no `id`) or changes one (with `id` and its `version`), owned by
/// `org_id`. The default department must be a department. Audited with before and after;
/// the engine kind registered with the limits.
pub async fn save(
    conn: &mut AnyConnection,
    change: &Change,
    org_id: i64,
    id: Option<(i64, i64)>,
    c: &Category,
) -> Result<StoredCategory> {
    rules::check_category(c).map_err(StoreError::Invalid)?;
    if let Some(d) = c.default_department {
        let ok = crate::orgs::get(&mut *conn, d)
            .await
            .is_ok_and(|o| o.kind == OrgKind::Department);
        if !ok {
            return Err(StoreError::invalid(
                "default_department",
                "not_a_department",
                "默认处置部门须为职能部门",
            ));
        }
    }
    let attributes = serde_json::to_string(&c.attributes).unwrap_or_else(|_| "[]".into());
    let (id, before) = match id {
        None => {
            let taken = by_code(&mut *conn, &c.code).await?.is_some();
            if taken {
                return Err(StoreError::invalid(
                    "code",
                    "code_taken",
                    format!("类别编码{}已被使用", c.code),
                ));
            }
            let id: i64 = sqlx::query(
                "INSERT INTO grid_categories (org_id, code, name, grp, keywords, \
                 default_department_id, respond_rule, close_rule, help_text, attributes, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            )
            .bind(org_id)
            .bind(c.code.trim())
            .bind(c.name.trim())
            .bind(c.group.trim())
            .bind(c.keywords.trim())
            .bind(c.default_department)
            .bind(c.respond.as_stored())
            .bind(c.close.as_stored())
            .bind(c.help.trim())
            .bind(&attributes)
            .bind(change.at)
            .fetch_one(&mut *conn)
            .await?
            .get("id");
            (id, serde_json::Value::Null)
        }
        Some((id, version)) => {
            let old = get(&mut *conn, id).await?;
            let changed = sqlx::query(
                "UPDATE grid_categories SET name = $1, grp = $2, keywords = $3, \
                 default_department_id = $4, respond_rule = $5, close_rule = $6, help_text = $7, \
                 attributes = $8, updated_at = $9, version = version + 1 \
                 WHERE id = $10 AND version = $11",
            )
            .bind(c.name.trim())
            .bind(c.group.trim())
            .bind(c.keywords.trim())
            .bind(c.default_department)
            .bind(c.respond.as_stored())
            .bind(c.close.as_stored())
            .bind(c.help.trim())
            .bind(&attributes)
            .bind(change.at)
            .bind(id)
            .bind(version)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            crate::error::optimistic(changed, "该事件类别")?;
            (id, serde_json::to_value(&old.category).unwrap_or_default())
        }
    };
    let saved = get(&mut *conn, id).await?;
    escalation::register_kind(conn, change, &rules::category_kind(id, &saved.category)).await?;
    audit::append(
        conn,
        change,
        "grid.category_save",
        "grid_category",
        &id.to_string(),
        &json!({ "before": before, "after": saved.category }),
    )
    .await?;
    Ok(saved)
}
