//! The service item catalog (事项目录): items with every version kept, bundles (一件事),
//! import/export, and the public keyword search.

use crate::audit::{self, Change};
use crate::orgs::{self, Org};
use crate::page::sql::Sql;
use crate::page::{CursorKey, KeyPart, ListId, Page, PageRequest, MAX_LIMIT};
use crate::{Result, StoreError};
use chrono::NaiveDate;
use onewindow_domain::access::{check_item_routing, RoutingError};
use onewindow_domain::catalog::{Bundle, Catalog, ServiceItem};
use onewindow_domain::org::{OrgKind, OrgPath};
use onewindow_domain::validation::FieldErrors;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};

/// An item as stored: the current version's content plus where it sits.
#[derive(Debug, Clone, Serialize)]
pub struct StoredItem {
    pub id: i64,
    pub item: ServiceItem,
    pub department_id: i64,
    pub department_name: String,
    /// The organisation (city or district) the item belongs to: editing it needs the
    /// catalog permission there, and its cases stay inside its subtree.
    pub owner_org_id: i64,
    pub owner_name: String,
    pub owner_path: OrgPath,
    /// The catalog version number (1, 2, …) and the row holding it.
    pub version: i64,
    pub version_id: i64,
    pub effective_from: String,
    pub active: bool,
}

/// A line in the public catalog list.
#[derive(Debug, Clone, Serialize)]
pub struct ItemSummary {
    pub code: String,
    pub name: String,
    pub window_class: String,
    /// The responsible department and the owning organisation: what the `department` and
    /// `owner` filters of the search take.
    pub department_id: i64,
    pub department_name: String,
    pub owner_org_id: i64,
    pub immediate: bool,
    pub parent_code: Option<String>,
    /// 新设 / 变更 / 注销 …: what a variant of its parent handles.
    pub variant: Option<String>,
    /// 法定时限 and 承诺时限 in working days (0: 即办), of the current version.
    pub legal_limit_days: Option<u32>,
    pub promised_limit_days: u32,
    /// The owning organisation's name, the current version and since when it applies.
    pub owner_name: String,
    pub version: i64,
    pub effective_from: String,
}

/// The current version's fields a summary shows, read from its body.
#[derive(serde::Deserialize)]
struct SummaryFields {
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    legal_limit_days: Option<u32>,
    #[serde(default)]
    promised_limit_days: u32,
}

/// What a catalog list row reads: the item, its department and owner, and its current
/// version (one row per item through the unique (item_id, version) index).
const SUMMARY_SELECT: &str = "SELECT i.code, i.name, i.window_class, i.immediate, i.parent_code, i.department_id, \
     i.owner_org_id, o.name AS department_name, w.name AS owner_name, i.current_version, \
     v.effective_from, v.body \
     FROM catalog_items i JOIN orgs o ON o.id = i.department_id JOIN orgs w ON w.id = i.owner_org_id \
     JOIN catalog_item_versions v ON v.item_id = i.id AND v.version = i.current_version";

const SELECT: &str = "SELECT i.id, i.active, i.current_version, o.name AS department_name, i.department_id, \
     i.owner_org_id, w.name AS owner_name, w.path AS owner_path, \
     v.id AS version_id, v.effective_from, v.body \
     FROM catalog_items i JOIN catalog_item_versions v ON v.item_id = i.id AND v.version = i.current_version \
     JOIN orgs o ON o.id = i.department_id JOIN orgs w ON w.id = i.owner_org_id";

fn stored_from_row(r: &AnyRow) -> Result<StoredItem> {
    let body: String = r.get("body");
    let item: ServiceItem = serde_json::from_str(&body)
        .map_err(|e| StoreError::Config(format!("stored catalog item is not valid JSON: {e}")))?;
    Ok(StoredItem {
        id: r.get("id"),
        item,
        department_id: r.get("department_id"),
        department_name: r.get("department_name"),
        owner_org_id: r.get("owner_org_id"),
        owner_name: r.get("owner_name"),
        owner_path: OrgPath::from_stored(r.get("owner_path")),
        version: r.get("current_version"),
        version_id: r.get("version_id"),
        effective_from: r.get("effective_from"),
        active: crate::flag(r, "active"),
    })
}

pub async fn get<'c, E: Executor<'c, Database = Any>>(e: E, code: &str) -> Result<StoredItem> {
    let row = sqlx::query(&format!("{SELECT} WHERE i.code = $1"))
        .bind(code)
        .fetch_optional(e)
        .await?
        .ok_or(StoreError::NotFound)?;
    stored_from_row(&row)
}

/// The version in force on `day`: the newest whose effective date has come. A version
/// saved today to take effect next month leaves today's intake on the previous one.
pub async fn get_effective<'c, E: Executor<'c, Database = Any>>(
    e: E,
    code: &str,
    day: NaiveDate,
) -> Result<StoredItem> {
    let row = sqlx::query(
        "SELECT i.id, i.active, v.version AS current_version, o.name AS department_name, i.department_id, \
         i.owner_org_id, w.name AS owner_name, w.path AS owner_path, \
         v.id AS version_id, v.effective_from, v.body \
         FROM catalog_items i JOIN catalog_item_versions v ON v.item_id = i.id \
         JOIN orgs o ON o.id = i.department_id JOIN orgs w ON w.id = i.owner_org_id \
         WHERE i.code = $1 AND v.effective_from <= $2 ORDER BY v.version DESC LIMIT 1",
    )
    .bind(code)
    .bind(day.to_string())
    .fetch_optional(e)
    .await?
    .ok_or(StoreError::NotFound)?;
    stored_from_row(&row)
}

/// The item exactly as it was at one version (what a case was accepted under).
pub async fn version_body<'c, E: Executor<'c, Database = Any>>(
    e: E,
    version_id: i64,
) -> Result<ServiceItem> {
    let body: String = sqlx::query("SELECT body FROM catalog_item_versions WHERE id = $1")
        .bind(version_id)
        .fetch_optional(e)
        .await?
        .ok_or(StoreError::NotFound)?
        .get("body");
    serde_json::from_str(&body)
        .map_err(|e| StoreError::Config(format!("stored version is not valid JSON: {e}")))
}

/// Every version of an item, newest first: (version, effective_from, created_by).
pub async fn versions(pool: &AnyPool, code: &str) -> Result<Vec<(i64, String, String)>> {
    let rows = sqlx::query(
        "SELECT v.version, v.effective_from, v.created_by FROM catalog_item_versions v \
         JOIN catalog_items i ON i.id = v.item_id WHERE i.code = $1 ORDER BY v.version DESC",
    )
    .bind(code)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get("version"),
                r.get("effective_from"),
                r.get("created_by"),
            )
        })
        .collect())
}

/// All active items' current versions, in code order (for export and bundles).
pub async fn all_items(pool: &AnyPool) -> Result<Vec<StoredItem>> {
    let rows = sqlx::query(&format!("{SELECT} WHERE i.active = 1 ORDER BY i.code"))
        .fetch_all(pool)
        .await?;
    rows.iter().map(stored_from_row).collect()
}

pub async fn bundles(pool: &AnyPool) -> Result<Vec<Bundle>> {
    let rows = sqlx::query("SELECT body FROM catalog_bundles ORDER BY code")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            serde_json::from_str(&r.get::<String, _>("body"))
                .map_err(|e| StoreError::Config(format!("stored bundle is not valid JSON: {e}")))
        })
        .collect()
}

pub async fn bundle(pool: &AnyPool, code: &str) -> Result<Bundle> {
    let body: String = sqlx::query("SELECT body FROM catalog_bundles WHERE code = $1")
        .bind(code)
        .fetch_optional(pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .get("body");
    serde_json::from_str(&body)
        .map_err(|e| StoreError::Config(format!("stored bundle is not valid JSON: {e}")))
}

/// The whole current catalog, as the import/export format.
pub async fn export(pool: &AnyPool) -> Result<Catalog> {
    Ok(Catalog {
        items: all_items(pool).await?.into_iter().map(|s| s.item).collect(),
        bundles: bundles(pool).await?,
        materials: crate::materials::all(pool)
            .await?
            .into_iter()
            .map(|m| m.material)
            .collect(),
    })
}

/// What the public search matches: code, name, variant, class, department, keywords.
fn search_text(item: &ServiceItem, department_name: &str) -> String {
    let mut s = format!(
        "{} {} {} {} {}",
        item.code,
        item.name,
        item.variant.as_deref().unwrap_or(""),
        item.window_class,
        department_name
    );
    for k in &item.keywords {
        s.push(' ');
        s.push_str(k);
    }
    s.to_lowercase()
}

/// What the catalog search is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter<'a> {
    /// Keywords: every whitespace-separated term (the first five) must occur in the item's
    /// code, name, variant, class, department or keywords, ignoring case.
    pub q: &'a str,
    pub window_class: Option<&'a str>,
    pub department_id: Option<i64>,
    pub owner_org_id: Option<i64>,
}

/// Active items matching `filter`, in code order, from after `req`'s cursor; `req.fetch()`
/// rows at most.
///
/// A walk of one index in code order from the cursor on, stopping after `limit + 1`
/// matches: the unique code index, or `catalog_items_class_code`,
/// `catalog_items_department_code`, `catalog_items_owner_code` with those filters.
/// Keywords are a substring match over `search_text` (which suits Chinese without a
/// tokenizer) checked on the items walked, so a rare keyword walks more of a catalog of a
/// few thousand items — never more than the catalog.
async fn search_rows(
    pool: &AnyPool,
    req: &PageRequest,
    filter: &ItemFilter<'_>,
) -> Result<Vec<ItemSummary>> {
    let mut sql = Sql::new(&format!("{SUMMARY_SELECT} WHERE i.active = 1"));
    if let Some(after) = req.after_text(0) {
        sql.push(" AND i.code > ?", [after.into()]);
    }
    // Wildcards typed by the user are dropped, as they always were: a term is literal text.
    for term in filter.q.split_whitespace().take(5) {
        sql.push(
            " AND i.search_text LIKE ?",
            [format!("%{}%", term.to_lowercase().replace(['%', '_'], "")).into()],
        );
    }
    if let Some(class) = filter.window_class {
        sql.push(" AND i.window_class = ?", [class.into()]);
    }
    if let Some(id) = filter.department_id {
        sql.push(" AND i.department_id = ?", [KeyPart::Int(id)]);
    }
    if let Some(id) = filter.owner_org_id {
        sql.push(" AND i.owner_org_id = ?", [KeyPart::Int(id)]);
    }
    sql.push(" ORDER BY i.code LIMIT ?", [req.fetch().into()]);
    let rows = sql.query().fetch_all(pool).await?;
    rows.iter().map(summary_from_row).collect()
}

fn summary_from_row(r: &AnyRow) -> Result<ItemSummary> {
    let body: String = r.get("body");
    let fields: SummaryFields = serde_json::from_str(&body)
        .map_err(|e| StoreError::Config(format!("stored catalog item is not valid JSON: {e}")))?;
    Ok(ItemSummary {
        variant: fields.variant,
        legal_limit_days: fields.legal_limit_days,
        promised_limit_days: fields.promised_limit_days,
        owner_name: r.get("owner_name"),
        version: r.get("current_version"),
        effective_from: r.get("effective_from"),
        code: r.get("code"),
        name: r.get("name"),
        window_class: r.get("window_class"),
        department_id: r.get("department_id"),
        department_name: r.get("department_name"),
        owner_org_id: r.get("owner_org_id"),
        immediate: crate::flag(r, "immediate"),
        parent_code: r.get("parent_code"),
    })
}

/// One page of the catalog search (the guide, the API), in code order; the code is the
/// sort key.
pub async fn page(
    pool: &AnyPool,
    key: &CursorKey,
    list: &ListId<'_>,
    req: &PageRequest,
    filter: &ItemFilter<'_>,
) -> Result<Page<ItemSummary>> {
    let rows = search_rows(pool, req, filter).await?;
    Ok(Page::from_rows(key, list, req, rows, |i| {
        vec![i.code.as_str().into()]
    }))
}

/// The first [`MAX_LIMIT`] matches of a keyword search, in code order (the window's item
/// picker, which shows one list without pages).
pub async fn search(
    pool: &AnyPool,
    query: &str,
    window_class: Option<&str>,
) -> Result<Vec<ItemSummary>> {
    let req = PageRequest::first(MAX_LIMIT);
    let mut rows = search_rows(
        pool,
        &req,
        &ItemFilter {
            q: query,
            window_class,
            ..ItemFilter::default()
        },
    )
    .await?;
    rows.truncate(MAX_LIMIT as usize);
    Ok(rows)
}

/// The active variants of an item (children naming it as `parent_code`), in code order.
pub async fn variants(pool: &AnyPool, parent_code: &str) -> Result<Vec<ItemSummary>> {
    let rows = sqlx::query(&format!(
        "{SUMMARY_SELECT} WHERE i.parent_code = $1 AND i.active = 1 ORDER BY i.code LIMIT $2"
    ))
    .bind(parent_code)
    .bind(MAX_LIMIT)
    .fetch_all(pool)
    .await?;
    rows.iter().map(summary_from_row).collect()
}

/// The organisation owning an item, `None` for a code not in the catalog yet.
pub async fn owner_of(conn: &mut AnyConnection, code: &str) -> Result<Option<Org>> {
    let id: Option<i64> = sqlx::query("SELECT owner_org_id FROM catalog_items WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.get("owner_org_id"));
    match id {
        Some(id) => Ok(Some(orgs::get(&mut *conn, id).await?)),
        None => Ok(None),
    }
}

/// Finds the department an item names by its organisation code; it must lie inside the
/// item's owner, so the item can never route a case out of the owner's tree.
async fn department(
    conn: &mut AnyConnection,
    item: &ServiceItem,
    owner: &Org,
    errors: &mut FieldErrors,
) -> Result<Option<Org>> {
    match orgs::find_by_code(&mut *conn, &item.department_code).await? {
        Some(o) if o.kind == OrgKind::Department => {
            if let Err(e @ RoutingError::DepartmentOutsideOwner) =
                check_item_routing(&owner.path, &o.path, &owner.path)
            {
                errors.add(
                    &format!("{}.department_code", item.code),
                    e.code(),
                    format!(
                        "事项{}属于{}，实施部门“{}”不在{}的辖区内，不能指定",
                        item.code, owner.name, o.name, owner.name
                    ),
                );
                return Ok(None);
            }
            Ok(Some(o))
        }
        _ => {
            errors.add(
                &format!("{}.department_code", item.code),
                "unknown_department",
                format!(
                    "事项{}的实施部门编码“{}”不存在",
                    item.code, item.department_code
                ),
            );
            Ok(None)
        }
    }
}

/// What an import or save changed.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SaveReport {
    pub created: Vec<String>,
    pub new_versions: Vec<String>,
    pub unchanged: Vec<String>,
    pub bundles: usize,
    /// Materials of the material catalogue saved (created or changed or unchanged).
    pub materials: usize,
}

/// Saves one item: a new item, or a new version when its content changed. Versions take
/// effect from `effective_from`; cases keep the version they were accepted under.
/// `expected_version` (the version the editor saw) guards against lost updates.
/// `new_owner` owns the item if it is new; an existing item keeps its owner. Whether the
/// caller may edit it is the caller's check (`access::authorize_reference_data`).
#[allow(clippy::too_many_arguments)]
pub async fn save_item(
    conn: &mut AnyConnection,
    change: &Change,
    item: &ServiceItem,
    effective_from: NaiveDate,
    expected_version: Option<i64>,
    new_owner: &Org,
    report: &mut SaveReport,
) -> Result<()> {
    let mut errors = FieldErrors::new();
    if let Err(e) = item.validate() {
        errors.0.extend(e.0);
    }
    // Every material row refers to a material the catalogue holds (or to none).
    let mut known = std::collections::HashSet::new();
    for id in item
        .materials
        .iter()
        .filter_map(|m| m.material_id.as_deref())
    {
        if crate::materials::exists(&mut *conn, id).await? {
            known.insert(id.to_string());
        }
    }
    errors
        .0
        .extend(onewindow_domain::materials::unknown_references(item, |id| known.contains(id)).0);
    let owner = owner_of(&mut *conn, &item.code)
        .await?
        .unwrap_or_else(|| new_owner.clone());
    let dept = department(&mut *conn, item, &owner, &mut errors).await?;
    errors.into_result().map_err(StoreError::Invalid)?;
    let dept = dept.expect("checked above");
    let (dept_id, dept_name) = (dept.id, dept.name);
    let body = serde_json::to_string(item).expect("item serialises");
    let existing = sqlx::query(
        "SELECT i.id, i.current_version, v.body FROM catalog_items i \
         JOIN catalog_item_versions v ON v.item_id = i.id AND v.version = i.current_version WHERE i.code = $1",
    )
    .bind(&item.code)
    .fetch_optional(&mut *conn)
    .await?;
    let search = search_text(item, &dept_name);
    match existing {
        None => {
            if expected_version.is_some_and(|v| v != 0) {
                return Err(StoreError::NotFound);
            }
            let id: i64 = sqlx::query(
                "INSERT INTO catalog_items (code, name, window_class, department_id, parent_code, immediate, current_version, search_text, updated_at, owner_org_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9) RETURNING id",
            )
            .bind(&item.code)
            .bind(&item.name)
            .bind(&item.window_class)
            .bind(dept_id)
            .bind(&item.parent_code)
            .bind(i64::from(item.is_immediate()))
            .bind(&search)
            .bind(change.at)
            .bind(owner.id)
            .fetch_one(&mut *conn)
            .await?
            .get("id");
            insert_version(conn, change, id, 1, effective_from, &body).await?;
            audit::append(
                conn,
                change,
                "catalog.item_create",
                "catalog_item",
                &item.code,
                &json!({ "owner_org_id": owner.id, "after": item }),
            )
            .await?;
            report.created.push(item.code.clone());
        }
        Some(row) => {
            let id: i64 = row.get("id");
            let current: i64 = row.get("current_version");
            if let Some(v) = expected_version {
                if v != current {
                    return Err(StoreError::version_conflict(&format!(
                        "事项{}（当前第{current}版）",
                        item.code
                    )));
                }
            }
            let old_body: String = row.get("body");
            if old_body == body {
                report.unchanged.push(item.code.clone());
                return Ok(());
            }
            let next = current + 1;
            insert_version(&mut *conn, change, id, next, effective_from, &body).await?;
            let changed = sqlx::query(
                "UPDATE catalog_items SET name = $1, window_class = $2, department_id = $3, parent_code = $4, immediate = $5, \
                 current_version = $6, search_text = $7, updated_at = $8, version = version + 1 \
                 WHERE id = $9 AND current_version = $10",
            )
            .bind(&item.name)
            .bind(&item.window_class)
            .bind(dept_id)
            .bind(&item.parent_code)
            .bind(i64::from(item.is_immediate()))
            .bind(next)
            .bind(&search)
            .bind(change.at)
            .bind(id)
            .bind(current)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            crate::error::optimistic(changed, &format!("事项{}", item.code))?;
            let before: serde_json::Value = serde_json::from_str(&old_body).unwrap_or_default();
            audit::append(
                conn,
                change,
                "catalog.item_version",
                "catalog_item",
                &item.code,
                &json!({ "version": next, "effective_from": effective_from.to_string(), "before": before, "after": item }),
            )
            .await?;
            report.new_versions.push(item.code.clone());
        }
    }
    Ok(())
}

async fn insert_version(
    conn: &mut AnyConnection,
    change: &Change,
    item_id: i64,
    version: i64,
    effective_from: NaiveDate,
    body: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO catalog_item_versions (item_id, version, effective_from, body, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(item_id)
    .bind(version)
    .bind(effective_from.to_string())
    .bind(body)
    .bind(change.at)
    .bind(&change.who.label)
    .execute(conn)
    .await?;
    Ok(())
}

/// Imports a whole catalog in the caller's transaction: validated first as a whole (so a
/// bad file changes nothing), then item by item, then bundles. New items belong to
/// `new_owner`; the caller has checked it may edit every item of the file.
pub async fn import(
    conn: &mut AnyConnection,
    change: &Change,
    catalog: &Catalog,
    effective_from: NaiveDate,
    new_owner: &Org,
) -> Result<SaveReport> {
    catalog.validate().map_err(StoreError::Invalid)?;
    let mut report = SaveReport::default();
    // Materials first: the file's items may refer to them.
    for m in &catalog.materials {
        crate::materials::save(&mut *conn, change, m, None, new_owner).await?;
        report.materials += 1;
    }
    // Parents before their variants, so a variant never points at a missing item.
    let mut items: Vec<&ServiceItem> = catalog.items.iter().collect();
    items.sort_by_key(|i| i.parent_code.is_some());
    for item in items {
        save_item(
            &mut *conn,
            change,
            item,
            effective_from,
            None,
            new_owner,
            &mut report,
        )
        .await?;
    }
    for b in &catalog.bundles {
        save_bundle(&mut *conn, change, b).await?;
        report.bundles += 1;
    }
    Ok(report)
}

pub async fn save_bundle(conn: &mut AnyConnection, change: &Change, bundle: &Bundle) -> Result<()> {
    let body = serde_json::to_string(bundle).expect("bundle serialises");
    sqlx::query(
        "INSERT INTO catalog_bundles (code, name, body, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, body = excluded.body, updated_at = excluded.updated_at",
    )
    .bind(&bundle.code)
    .bind(&bundle.name)
    .bind(&body)
    .bind(change.at)
    .execute(&mut *conn)
    .await?;
    audit::append(
        conn,
        change,
        "catalog.bundle_save",
        "catalog_bundle",
        &bundle.code,
        &json!({ "after": bundle }),
    )
    .await?;
    Ok(())
}
