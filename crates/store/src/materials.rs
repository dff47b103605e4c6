//! The material catalogue (材料目录): materials with stable ids, each owned by a city or a
//! district like a catalog item, changed with an optimistic version and audited
//! (`catalog.material_create`, `catalog.material_update`, before and after). Catalog items
//! refer to them by id (`catalog::save_item` refuses an id the catalogue does not hold).
//! Whether the caller may change a material is the caller's check
//! (`access::authorize_reference_data`, as for a catalog item).

use crate::audit::{self, Change, Who};
use crate::orgs::{self, Org};
use crate::page::{CursorKey, ListId, Page, PageRequest};
use crate::{Result, Store, StoreError};
use onewindow_domain::catalog::{Catalog, ServiceItem};
use onewindow_domain::materials::{CatalogueMaterial, MaterialKind};
use onewindow_domain::org::OrgPath;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};

/// A material as stored, with its owner and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredMaterial {
    #[serde(flatten)]
    pub material: CatalogueMaterial,
    pub owner_org_id: i64,
    pub owner_name: String,
    #[serde(skip)]
    pub owner_path: OrgPath,
    pub version: i64,
    /// UTC microseconds.
    pub updated_at: i64,
}

const SELECT: &str = "SELECT m.id, m.name, m.description, m.kind, m.owner_org_id, o.name AS owner_name, \
     o.path AS owner_path, m.version, m.updated_at FROM materials m JOIN orgs o ON o.id = m.owner_org_id";

fn from_row(r: &AnyRow) -> StoredMaterial {
    StoredMaterial {
        material: CatalogueMaterial {
            id: r.get("id"),
            name: r.get("name"),
            description: r.get("description"),
            kind: MaterialKind::parse(&r.get::<String, _>("kind")).unwrap_or(MaterialKind::Other),
        },
        owner_org_id: r.get("owner_org_id"),
        owner_name: r.get("owner_name"),
        owner_path: OrgPath::from_stored(r.get("owner_path")),
        version: r.get("version"),
        updated_at: r.get("updated_at"),
    }
}

pub async fn get<'c, E: Executor<'c, Database = Any>>(e: E, id: &str) -> Result<StoredMaterial> {
    let row = sqlx::query(&format!("{SELECT} WHERE m.id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(from_row(&row))
}

/// Every material, by id: the item form's picker, the export (a catalogue holds a few
/// hundred documents).
pub async fn all(pool: &AnyPool) -> Result<Vec<StoredMaterial>> {
    let rows = sqlx::query(&format!("{SELECT} ORDER BY m.id"))
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(from_row).collect())
}

/// One page of the catalogue in id order (the primary key walked from the cursor on),
/// optionally of one kind.
pub async fn page(
    pool: &AnyPool,
    key: &CursorKey,
    list: &ListId<'_>,
    req: &PageRequest,
    kind: Option<MaterialKind>,
) -> Result<Page<StoredMaterial>> {
    let mut sql = format!("{SELECT} WHERE m.id > $1");
    if kind.is_some() {
        sql.push_str(" AND m.kind = $3");
    }
    sql.push_str(" ORDER BY m.id LIMIT $2");
    let mut q = sqlx::query(&sql)
        .bind(req.after_text(0).unwrap_or("").to_string())
        .bind(req.fetch());
    if let Some(k) = kind {
        q = q.bind(k.as_str());
    }
    let rows: Vec<StoredMaterial> = q.fetch_all(pool).await?.iter().map(from_row).collect();
    Ok(Page::from_rows(key, list, req, rows, |m| {
        vec![m.material.id.as_str().into()]
    }))
}

/// The organisation owning material `id`, if it exists.
pub async fn owner_of(conn: &mut AnyConnection, id: &str) -> Result<Option<Org>> {
    let owner: Option<i64> = sqlx::query("SELECT owner_org_id FROM materials WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.get("owner_org_id"));
    match owner {
        Some(o) => Ok(Some(orgs::get(&mut *conn, o).await?)),
        None => Ok(None),
    }
}

/// Whether the catalogue holds material `id` (read in the caller's transaction).
pub async fn exists(conn: &mut AnyConnection, id: &str) -> Result<bool> {
    Ok(sqlx::query("SELECT 1 AS one FROM materials WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .is_some())
}

/// Creates the material, or changes it when its id exists (keeping its owner): refused
/// with a field error when invalid, `version_conflict` when `expected_version` is not the
/// stored one. Unchanged content writes nothing. Returns the material as written and
/// whether it was new.
pub async fn save(
    conn: &mut AnyConnection,
    change: &Change,
    m: &CatalogueMaterial,
    expected_version: Option<i64>,
    new_owner: &Org,
) -> Result<(StoredMaterial, bool)> {
    m.validate().map_err(StoreError::Invalid)?;
    let m = CatalogueMaterial {
        id: m.id.trim().to_string(),
        name: m.name.trim().to_string(),
        description: m.description.trim().to_string(),
        kind: m.kind,
    };
    let existing = match get(&mut *conn, &m.id).await {
        Ok(s) => Some(s),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e),
    };
    match existing {
        None => {
            if expected_version.is_some_and(|v| v != 0) {
                return Err(StoreError::NotFound);
            }
            sqlx::query(
                "INSERT INTO materials (id, name, description, kind, owner_org_id, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 1, $6, $6)",
            )
            .bind(&m.id)
            .bind(&m.name)
            .bind(&m.description)
            .bind(m.kind.as_str())
            .bind(new_owner.id)
            .bind(change.at)
            .execute(&mut *conn)
            .await?;
            audit::append(
                &mut *conn,
                change,
                "catalog.material_create",
                "material",
                &m.id,
                &json!({ "owner_org_id": new_owner.id, "after": m }),
            )
            .await?;
            Ok((get(&mut *conn, &m.id).await?, true))
        }
        Some(before) => {
            if expected_version.is_some_and(|v| v != before.version) {
                return Err(StoreError::version_conflict(&format!("材料{}", m.id)));
            }
            if before.material == m {
                return Ok((before, false));
            }
            let changed = sqlx::query(
                "UPDATE materials SET name = $1, description = $2, kind = $3, version = version + 1, updated_at = $4 \
                 WHERE id = $5 AND version = $6",
            )
            .bind(&m.name)
            .bind(&m.description)
            .bind(m.kind.as_str())
            .bind(change.at)
            .bind(&m.id)
            .bind(before.version)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            crate::error::optimistic(changed, &format!("材料{}", m.id))?;
            audit::append(
                &mut *conn,
                change,
                "catalog.material_update",
                "material",
                &m.id,
                &json!({ "version": before.version + 1, "before": before.material, "after": m }),
            )
            .await?;
            Ok((get(&mut *conn, &m.id).await?, false))
        }
    }
}

/// Upgrades an installation whose catalog was imported before the material catalogue
/// existed (migration 0018): when the catalogue is empty but items are stored, the shipped
/// materials (`Catalog::demo().materials`) are added, owned by the root organisation, and
/// every item of a shipped code whose current rows carry no ids gets a new version, from
/// today, with the ids of the shipped item's rows of the same name (a row without a match
/// keeps none and merges by name, as before). Audited as the system. Runs once: a catalogue
/// that holds anything is left alone, and a new database gets the materials with the demo.
pub async fn adopt_shipped(store: &Store, now: i64) -> Result<()> {
    // The usual answer, read without taking the write path: the catalogue is there.
    let held: i64 = sqlx::query("SELECT COUNT(*) AS n FROM materials")
        .fetch_one(store.reader())
        .await?
        .get("n");
    if held > 0 {
        return Ok(());
    }
    let mut tx = store.begin().await?;
    let held: i64 = sqlx::query("SELECT COUNT(*) AS n FROM materials")
        .fetch_one(&mut *tx)
        .await?
        .get("n");
    if held > 0 {
        return Ok(());
    }
    let rows = sqlx::query(
        "SELECT i.code, v.body FROM catalog_items i \
         JOIN catalog_item_versions v ON v.item_id = i.id AND v.version = i.current_version ORDER BY i.code",
    )
    .fetch_all(&mut *tx)
    .await?;
    let Some(root) = sqlx::query("SELECT id FROM orgs WHERE parent_id IS NULL ORDER BY id LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(());
    };
    if rows.is_empty() {
        return Ok(());
    }
    let root = orgs::get(&mut *tx, root.get("id")).await?;
    let change = Change {
        backend: store.backend(),
        at: now,
        who: Who::system("system"),
    };
    // Two instances starting together may both try; the loser's unique violation means
    // the catalogue is there, which is all this function promises.
    let adopted = async {
        let shipped = Catalog::demo();
        for m in &shipped.materials {
            save(&mut tx, &change, m, None, &root).await?;
        }
        let today = crate::clock::local_date(now);
        let mut report = crate::catalog::SaveReport::default();
        for r in &rows {
            let Ok(mut item) = serde_json::from_str::<ServiceItem>(&r.get::<String, _>("body"))
            else {
                continue;
            };
            let Some(template) = shipped.item(&item.code) else {
                continue;
            };
            let mut changed = false;
            for m in item
                .materials
                .iter_mut()
                .filter(|m| m.material_id.is_none())
            {
                if let Some(t) = template
                    .materials
                    .iter()
                    .find(|t| t.name.trim() == m.name.trim())
                {
                    m.material_id = t.material_id.clone();
                    changed |= m.material_id.is_some();
                }
            }
            if changed {
                // An item the rules no longer accept as stored is left as it is.
                match crate::catalog::save_item(
                    &mut tx,
                    &change,
                    &item,
                    today,
                    None,
                    &root,
                    &mut report,
                )
                .await
                {
                    Err(StoreError::Invalid(_)) => {}
                    other => other?,
                }
            }
        }
        tx.commit().await?;
        Ok::<(), StoreError>(())
    };
    match adopted.await {
        Err(e) if e.is_unique_violation() => Ok(()),
        other => other,
    }
}
