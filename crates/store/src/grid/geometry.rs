//! Grids as stored: the GeoJSON import (checked whole by `domain::grid::geometry`, then
//! written in one transaction), the polygons read back, and the assignment of a point to
//! its grid.
//!
//! Assignment reads the grids whose bounding box holds the point (`grid_areas` keeps the box
//! as four columns, so this is a range test, not a polygon parse per grid), builds a
//! `GridIndex` of them and asks it: the exact test and the boundary rule (an edge or vertex
//! is inside, shared edges to the lowest code, holes outside) are the domain's. No cache:
//! a handful of polygons per point.

use crate::audit::{self, Change};
use crate::{Result, StoreError};
use geo::{BoundingRect, MultiPolygon, Polygon};
use onewindow_domain::grid::geometry::{self as rules, Assignment, Grid, GridIndex};
use onewindow_domain::org::OrgKind;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

/// A grid as stored, with its area.
#[derive(Debug, Clone, Serialize)]
pub struct StoredGrid {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub org_id: Option<i64>,
    pub community_org_id: Option<i64>,
    pub street_org_id: i64,
    pub households: Option<i64>,
    /// The area as GeoJSON geometry.
    pub geometry: serde_json::Value,
    pub bbox: [f64; 4],
}

impl StoredGrid {
    /// The domain's grid (its area parsed back from the stored GeoJSON).
    pub fn to_grid(&self) -> Option<Grid> {
        Some(Grid {
            id: self.id,
            code: self.code.clone(),
            name: self.name.clone(),
            community_org_id: self.community_org_id,
            area: parse_area(&self.geometry)?,
        })
    }
}

/// A multipolygon as GeoJSON geometry (`MultiPolygon`, rings closed as stored).
pub fn to_geojson(area: &MultiPolygon<f64>) -> serde_json::Value {
    let ring =
        |l: &geo::LineString<f64>| -> Vec<[f64; 2]> { l.coords().map(|c| [c.x, c.y]).collect() };
    let polygon = |p: &Polygon<f64>| -> Vec<Vec<[f64; 2]>> {
        std::iter::once(ring(p.exterior()))
            .chain(p.interiors().iter().map(ring))
            .collect()
    };
    json!({ "type": "MultiPolygon", "coordinates": area.0.iter().map(polygon).collect::<Vec<_>>() })
}

/// The area of a stored geometry, read back through the domain's import (it was checked
/// when written; a row that no longer parses is skipped rather than guessed at).
pub fn parse_area(geometry: &serde_json::Value) -> Option<MultiPolygon<f64>> {
    let text = json!({ "type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": { "code": "g", "name": "g" }, "geometry": geometry,
    }]})
    .to_string();
    rules::import_geojson(&text, &[])
        .ok()?
        .into_iter()
        .next()
        .map(|f| f.area)
}

const COLUMNS: &str = "id, code, name, org_id, community_org_id, street_org_id, households, \
                       geojson, min_lon, min_lat, max_lon, max_lat";

fn from_row(r: &AnyRow) -> StoredGrid {
    let text: String = r.get("geojson");
    StoredGrid {
        id: r.get("id"),
        code: r.get("code"),
        name: r.get("name"),
        org_id: r.get("org_id"),
        community_org_id: r.get("community_org_id"),
        street_org_id: r.get("street_org_id"),
        households: r.get("households"),
        geometry: serde_json::from_str(&text).unwrap_or_default(),
        bbox: [
            r.get("min_lon"),
            r.get("min_lat"),
            r.get("max_lon"),
            r.get("max_lat"),
        ],
    }
}

/// The grids of a street, by code.
pub async fn of_street(pool: &AnyPool, street_org_id: i64) -> Result<Vec<StoredGrid>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM grid_areas WHERE street_org_id = $1 ORDER BY code"
    ))
    .bind(street_org_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> Result<StoredGrid> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM grid_areas WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| from_row(&r))
        .ok_or(StoreError::NotFound)
}

/// Where (lon, lat) falls: the grid (with its row), or outside all.
pub async fn assign(conn: &mut AnyConnection, lon: f64, lat: f64) -> Result<Option<StoredGrid>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM grid_areas WHERE min_lon <= $1 AND max_lon >= $1 \
         AND min_lat <= $2 AND max_lat >= $2 ORDER BY code"
    ))
    .bind(lon)
    .bind(lat)
    .fetch_all(&mut *conn)
    .await?;
    let stored: Vec<StoredGrid> = rows.iter().map(from_row).collect();
    let index = GridIndex::new(stored.iter().filter_map(StoredGrid::to_grid).collect());
    Ok(match index.assign(lon, lat) {
        Assignment::Grid(id) => stored.into_iter().find(|g| g.id == id),
        Assignment::OutsideAll => None,
    })
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub created: usize,
    pub updated: usize,
}

/// Imports a street's grids from a GeoJSON FeatureCollection: every feature checked by the
/// domain (all problems returned, each naming its feature, nothing written when any), a
/// `community` property naming a community of the street (by id), the grid linked to the
/// organisation of kind grid with the same code when there is one. Grids are matched by
/// code: an existing one is replaced, a new one added; one audit event per grid.
pub async fn import(
    conn: &mut AnyConnection,
    change: &Change,
    street_org_id: i64,
    text: &str,
) -> Result<Imported> {
    let street = crate::orgs::get(&mut *conn, street_org_id).await?;
    if street.kind != OrgKind::Street {
        return Err(StoreError::invalid(
            "street",
            "not_a_street",
            format!("{}不是街道，网格须导入到街道", street.name),
        ));
    }
    let communities = community_areas_of(conn, &street.path).await?;
    let features = rules::import_geojson(text, &communities).map_err(feature_errors)?;
    let mut errors = onewindow_domain::validation::FieldErrors::new();
    for (i, f) in features.iter().enumerate() {
        if let Some(c) = f.community_org_id {
            let ok = crate::orgs::get(&mut *conn, c).await.ok().is_some_and(|o| {
                o.kind == OrgKind::Community && street.path.contains(&o.path) && o.id != street.id
            });
            if !ok {
                errors.add(
                    &format!("features[{i}].properties.community"),
                    "unknown_community",
                    format!("网格{}：编号{c}不是{}的社区", f.code, street.name),
                );
            }
        }
    }
    // A grid may not reach into another street's grids: where two overlap, the place would
    // go to one street by the lowest code and the other would lose its own events (sharing
    // an edge is fine).
    for (i, f) in features.iter().enumerate() {
        let Some(b) = f.area.bounding_rect() else {
            continue;
        };
        let near = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM grid_areas WHERE street_org_id <> $1 AND min_lon <= $2 \
             AND max_lon >= $3 AND min_lat <= $4 AND max_lat >= $5"
        ))
        .bind(street.id)
        .bind(b.max().x)
        .bind(b.min().x)
        .bind(b.max().y)
        .bind(b.min().y)
        .fetch_all(&mut *conn)
        .await?;
        for other in near.iter().map(from_row) {
            use geo::Relate;
            let overlaps = other.to_grid().is_some_and(|g| {
                let m = f.area.relate(&g.area);
                m.is_intersects() && !m.is_touches()
            });
            if overlaps {
                errors.add(
                    &format!("features[{i}].geometry"),
                    "overlaps_other_street",
                    format!(
                        "网格{}与其他街道的网格{}（{}）重叠",
                        f.code, other.name, other.code
                    ),
                );
            }
        }
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let mut out = Imported {
        created: 0,
        updated: 0,
    };
    for f in &features {
        let Some(b) = f.area.bounding_rect() else {
            continue;
        };
        let org: Option<i64> = sqlx::query("SELECT id FROM orgs WHERE code = $1 AND kind = 'grid'")
            .bind(&f.code)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| r.get("id"));
        let geometry = to_geojson(&f.area).to_string();
        let existing: Option<(i64, i64)> =
            sqlx::query("SELECT id, street_org_id FROM grid_areas WHERE code = $1")
                .bind(&f.code)
                .fetch_optional(&mut *conn)
                .await?
                .map(|r| (r.get("id"), r.get("street_org_id")));
        let id = match existing {
            Some((_, s)) if s != street.id => {
                return Err(StoreError::invalid(
                    "features",
                    "code_taken",
                    format!("网格编码{}已属于其他街道", f.code),
                ))
            }
            Some((id, _)) => {
                sqlx::query(
                    "UPDATE grid_areas SET name = $1, org_id = $2, community_org_id = $3, \
                     households = $4, geojson = $5, min_lon = $6, min_lat = $7, max_lon = $8, \
                     max_lat = $9, updated_at = $10, version = version + 1 WHERE id = $11",
                )
                .bind(&f.name)
                .bind(org)
                .bind(f.community_org_id)
                .bind(f.households.map(i64::from))
                .bind(&geometry)
                .bind(b.min().x)
                .bind(b.min().y)
                .bind(b.max().x)
                .bind(b.max().y)
                .bind(change.at)
                .bind(id)
                .execute(&mut *conn)
                .await?;
                out.updated += 1;
                id
            }
            None => {
                let id: i64 = sqlx::query(
                    "INSERT INTO grid_areas (code, name, org_id, community_org_id, street_org_id, \
                     households, geojson, min_lon, min_lat, max_lon, max_lat, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                )
                .bind(&f.code)
                .bind(&f.name)
                .bind(org)
                .bind(f.community_org_id)
                .bind(street.id)
                .bind(f.households.map(i64::from))
                .bind(&geometry)
                .bind(b.min().x)
                .bind(b.min().y)
                .bind(b.max().x)
                .bind(b.max().y)
                .bind(change.at)
                .fetch_one(&mut *conn)
                .await?
                .get("id");
                out.created += 1;
                id
            }
        };
        audit::append(
            conn,
            change,
            "grid.import",
            "grid_area",
            &id.to_string(),
            &json!({ "code": f.code, "name": f.name, "street": street.id,
                     "community": f.community_org_id, "replaced": existing.is_some() }),
        )
        .await?;
    }
    Ok(out)
}

/// The boundaries of the communities under `street` that have one.
async fn community_areas_of(
    conn: &mut AnyConnection,
    street: &onewindow_domain::org::OrgPath,
) -> Result<Vec<(i64, MultiPolygon<f64>)>> {
    let rows = sqlx::query(
        "SELECT a.org_id, a.geojson FROM community_areas a JOIN orgs o ON o.id = a.org_id \
         WHERE o.path LIKE $1",
    )
    .bind(format!("{}%", street.as_str()))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let g: serde_json::Value = serde_json::from_str(&r.get::<String, _>("geojson")).ok()?;
            Some((r.get("org_id"), parse_area(&g)?))
        })
        .collect())
}

/// Imports the boundaries of a street's communities from a GeoJSON FeatureCollection: each
/// feature's `code` names a community of the street (its organisation code), its geometry
/// checked as a grid's is. A boundary that would leave one of the community's grids
/// sticking out is refused, naming the grid. All or nothing; audited per community.
pub async fn import_communities(
    conn: &mut AnyConnection,
    change: &Change,
    street_org_id: i64,
    text: &str,
) -> Result<Imported> {
    let street = crate::orgs::get(&mut *conn, street_org_id).await?;
    let features = rules::import_geojson(text, &[]).map_err(feature_errors)?;
    let grids: Vec<StoredGrid> = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM grid_areas WHERE street_org_id = $1 ORDER BY code"
    ))
    .bind(street.id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(from_row)
    .collect();
    let mut errors = onewindow_domain::validation::FieldErrors::new();
    let mut found = vec![];
    for (i, f) in features.iter().enumerate() {
        let org = crate::orgs::find_by_code(&mut *conn, &f.code).await?;
        match org {
            Some(o)
                if o.kind == OrgKind::Community
                    && street.path.contains(&o.path)
                    && o.id != street.id =>
            {
                use geo::Contains;
                for g in grids.iter().filter(|g| g.community_org_id == Some(o.id)) {
                    let inside = g.to_grid().is_some_and(|grid| f.area.contains(&grid.area));
                    if !inside {
                        errors.add(
                            &format!("features[{i}].geometry"),
                            "grid_outside",
                            format!("社区{}的范围没有包含其网格{}（{}）", o.name, g.name, g.code),
                        );
                    }
                }
                found.push((o, f));
            }
            _ => errors.add(
                &format!("features[{i}].properties.code"),
                "unknown_community",
                format!("{}没有编码为{}的社区", street.name, f.code),
            ),
        }
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let mut out = Imported {
        created: 0,
        updated: 0,
    };
    for (org, f) in found {
        let geometry = to_geojson(&f.area).to_string();
        let replaced = sqlx::query(
            "UPDATE community_areas SET geojson = $1, updated_at = $2 WHERE org_id = $3",
        )
        .bind(&geometry)
        .bind(change.at)
        .bind(org.id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
            > 0;
        if replaced {
            out.updated += 1;
        } else {
            sqlx::query(
                "INSERT INTO community_areas (org_id, geojson, updated_at) VALUES ($1, $2, $3)",
            )
            .bind(org.id)
            .bind(&geometry)
            .bind(change.at)
            .execute(&mut *conn)
            .await?;
            out.created += 1;
        }
        audit::append(
            conn,
            change,
            "grid.community_area",
            "org",
            &org.id.to_string(),
            &json!({ "code": f.code, "street": street.id, "replaced": replaced }),
        )
        .await?;
    }
    Ok(out)
}

/// The domain's import problems as field errors, each naming its feature.
fn feature_errors(errors: Vec<rules::ImportError>) -> StoreError {
    let mut e = onewindow_domain::validation::FieldErrors::new();
    for err in errors {
        let field = match err.index {
            Some(i) => format!("features[{i}].{}", err.field),
            None => err.field.to_string(),
        };
        e.add(&field, "bad_feature", err.to_string());
    }
    StoreError::Invalid(e)
}

/// A building (楼栋) as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredBuilding {
    pub id: i64,
    pub grid_id: i64,
    pub code: String,
    pub name: String,
    pub households: Option<i64>,
    pub geometry: serde_json::Value,
    pub lon: f64,
    pub lat: f64,
}

/// What a buildings import did, and each touched grid's household count after it.
#[derive(Debug, Clone, Serialize)]
pub struct BuildingsImported {
    pub created: usize,
    pub updated: usize,
    /// (grid id, households): the sum over the grid's buildings that give a count.
    pub households: Vec<(i64, i64)>,
}

/// Imports a street's buildings from a GeoJSON FeatureCollection (checked by
/// `domain::grid::geometry::import_buildings`). A building names its grid by code (one of
/// this street's) or falls into the grid its anchor point lies in — the domain's
/// assignment over the street's grids; a building in none of them is an error naming it,
/// never a building without a grid. Matched by code (replaced, or added); a code another
/// street's building has is refused. Then each touched grid's `households` becomes the sum
/// of its buildings' (seed 001: a grid is counted in households, about 300). All or nothing.
pub async fn import_buildings(
    conn: &mut AnyConnection,
    change: &Change,
    street_org_id: i64,
    text: &str,
) -> Result<BuildingsImported> {
    let grids: Vec<StoredGrid> = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM grid_areas WHERE street_org_id = $1 ORDER BY code"
    ))
    .bind(street_org_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(from_row)
    .collect();
    if grids.is_empty() {
        return Err(StoreError::invalid(
            "street_id",
            "no_grids",
            "该街道尚未导入网格，请先导入网格再导入楼栋",
        ));
    }
    let buildings = rules::import_buildings(text).map_err(feature_errors)?;
    let index = GridIndex::new(grids.iter().filter_map(StoredGrid::to_grid).collect());
    let mut errors = onewindow_domain::validation::FieldErrors::new();
    let mut placed = vec![];
    for (i, b) in buildings.iter().enumerate() {
        let grid = match &b.grid_code {
            Some(code) => grids.iter().find(|g| &g.code == code).map(|g| g.id),
            None => {
                let anchor = b.anchor();
                match index.assign(anchor.x(), anchor.y()) {
                    Assignment::Grid(id) => Some(id),
                    Assignment::OutsideAll => None,
                }
            }
        };
        match (grid, &b.grid_code) {
            (Some(g), _) => placed.push((b, g)),
            (None, Some(code)) => errors.add(
                &format!("features[{i}].properties.grid"),
                "unknown_grid",
                format!("楼栋{}：本街道没有编码为{code}的网格", b.code),
            ),
            (None, None) => errors.add(
                &format!("features[{i}].geometry"),
                "outside_all_grids",
                format!("楼栋{}不在本街道任何网格内", b.code),
            ),
        }
    }
    for (i, (b, _)) in placed.iter().enumerate() {
        if placed[..i].iter().any(|(o, _)| o.code == b.code) {
            errors.add(
                "features",
                "duplicate_code",
                format!("楼栋编码{}重复", b.code),
            );
        }
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let mut out = BuildingsImported {
        created: 0,
        updated: 0,
        households: vec![],
    };
    let mut touched: Vec<i64> = vec![];
    for (b, grid_id) in placed {
        let anchor = b.anchor();
        let geometry = match &b.shape {
            rules::Shape::Point(p) => json!({ "type": "Point", "coordinates": [p.x(), p.y()] }),
            rules::Shape::Polygon(poly) => json!({
                "type": "Polygon",
                "coordinates": to_geojson(&MultiPolygon(vec![poly.clone()]))["coordinates"][0],
            }),
        };
        let existing: Option<(i64, i64)> = sqlx::query(
            "SELECT b.id, g.street_org_id FROM grid_buildings b              JOIN grid_areas g ON g.id = b.grid_id WHERE b.code = $1",
        )
        .bind(&b.code)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| (r.get("id"), r.get("street_org_id")));
        let households = b.households.map(i64::from);
        let id = match existing {
            Some((_, street)) if street != street_org_id => {
                return Err(StoreError::invalid(
                    "features",
                    "code_taken",
                    format!("楼栋编码{}已属于其他街道", b.code),
                ))
            }
            Some((id, _)) => {
                let old: Option<i64> =
                    sqlx::query("SELECT grid_id FROM grid_buildings WHERE id = $1")
                        .bind(id)
                        .fetch_one(&mut *conn)
                        .await?
                        .get("grid_id");
                touched.extend(old);
                sqlx::query(
                    "UPDATE grid_buildings SET grid_id = $1, name = $2, households = $3,                      geojson = $4, lon = $5, lat = $6, updated_at = $7 WHERE id = $8",
                )
                .bind(grid_id)
                .bind(&b.name)
                .bind(households)
                .bind(geometry.to_string())
                .bind(anchor.x())
                .bind(anchor.y())
                .bind(change.at)
                .bind(id)
                .execute(&mut *conn)
                .await?;
                out.updated += 1;
                id
            }
            None => {
                let id: i64 = sqlx::query(
                    "INSERT INTO grid_buildings (grid_id, code, name, households, geojson, lon,                      lat, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(grid_id)
                .bind(&b.code)
                .bind(&b.name)
                .bind(households)
                .bind(geometry.to_string())
                .bind(anchor.x())
                .bind(anchor.y())
                .bind(change.at)
                .fetch_one(&mut *conn)
                .await?
                .get("id");
                out.created += 1;
                id
            }
        };
        touched.push(grid_id);
        audit::append(
            conn,
            change,
            "grid.building_import",
            "grid_building",
            &id.to_string(),
            &json!({ "code": b.code, "name": b.name, "grid": grid_id, "households": households,
                     "replaced": existing.is_some() }),
        )
        .await?;
    }
    touched.sort_unstable();
    touched.dedup();
    for grid_id in touched {
        let total: Option<i64> = sqlx::query(
            "SELECT CAST(SUM(households) AS BIGINT) AS n FROM grid_buildings WHERE grid_id = $1",
        )
        .bind(grid_id)
        .fetch_one(&mut *conn)
        .await?
        .get("n");
        if let Some(n) = total {
            sqlx::query(
                "UPDATE grid_areas SET households = $1, version = version + 1 WHERE id = $2",
            )
            .bind(n)
            .bind(grid_id)
            .execute(&mut *conn)
            .await?;
            out.households.push((grid_id, n));
        }
    }
    Ok(out)
}

/// The buildings of a grid, by code.
pub async fn buildings_of(pool: &AnyPool, grid_id: i64) -> Result<Vec<StoredBuilding>> {
    let rows = sqlx::query(
        "SELECT id, grid_id, code, name, households, geojson, lon, lat FROM grid_buildings \
         WHERE grid_id = $1 ORDER BY code",
    )
    .bind(grid_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| StoredBuilding {
            id: r.get("id"),
            grid_id: r.get("grid_id"),
            code: r.get("code"),
            name: r.get("name"),
            households: r.get("households"),
            geometry: serde_json::from_str(&r.get::<String, _>("geojson")).unwrap_or_default(),
            lon: r.get("lon"),
            lat: r.get("lat"),
        })
        .collect())
}

/// Adds a grid worker to a grid (full or part time); audited.
pub async fn add_worker(
    conn: &mut AnyConnection,
    change: &Change,
    grid_id: i64,
    user_id: i64,
    role: onewindow_domain::grid::WorkerRole,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO grid_workers (grid_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (grid_id, user_id) DO UPDATE SET role = $3",
    )
    .bind(grid_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(change.at)
    .execute(&mut *conn)
    .await?;
    audit::append(
        conn,
        change,
        "grid.worker",
        "grid_area",
        &grid_id.to_string(),
        &json!({ "user_id": user_id, "role": role.as_str() }),
    )
    .await
}

/// The grids `user_id` works in.
pub async fn grids_of_worker(pool: &AnyPool, user_id: i64) -> Result<Vec<(i64, String)>> {
    let rows = sqlx::query(
        "SELECT g.id, g.name FROM grid_workers w JOIN grid_areas g ON g.id = w.grid_id \
         WHERE w.user_id = $1 ORDER BY g.code",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(|r| (r.get("id"), r.get("name"))).collect())
}
