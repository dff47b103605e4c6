//! A street's geometry for staff: its grids (polygons, GeoJSON) and its buildings (楼栋),
//! imported from GeoJSON files by an administrator of the street or above (`ManageOrgs` at
//! the street), read by staff who see the street (`ViewOrgs`). The checks are the domain's
//! (`domain::grid::geometry`), the writes `onewindow_store::grid::geometry`, all or nothing.

use super::events::street_of;
use crate::context::{ApiUser, Principal};
use crate::error::{ApiResult, AppError};
use crate::form::ApiJson;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use onewindow_domain::access::Permission;
use onewindow_store::grid::geometry;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/grid/grids", get(grids_api).post(import_api))
        .route("/api/v1/grid/grids/{id}/buildings", get(buildings_api))
        .route("/api/v1/grid/communities", post(import_communities_api))
        .route("/api/v1/grid/buildings", post(import_buildings_api))
}

#[derive(Debug, Deserialize)]
struct StreetQuery {
    #[serde(default)]
    street_id: Option<i64>,
}

async fn street_in_scope(
    state: &AppState,
    p: &Principal,
    street_id: Option<i64>,
    permission: Permission,
) -> Result<onewindow_store::orgs::Org, AppError> {
    let id = match street_id {
        Some(id) => id,
        None => street_of(state, &p.user.org_path)
            .await?
            .ok_or_else(|| AppError::invalid("street_id", "required", "请选择街道"))?,
    };
    let street = onewindow_store::orgs::get(state.store.reader(), id).await?;
    p.authorize_visible(permission, &street.path)?;
    Ok(street)
}

/// The street's grids with their polygons (GeoJSON).
async fn grids_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<StreetQuery>,
) -> ApiResult<Json<Value>> {
    let street = street_in_scope(&state, &p, q.street_id, Permission::ViewOrgs).await?;
    let items = geometry::of_street(state.store.reader(), street.id).await?;
    Ok(Json(json!({ "street_id": street.id, "items": items })))
}

#[derive(Debug, Deserialize)]
struct ImportInput {
    #[serde(default)]
    street_id: Option<i64>,
    /// A GeoJSON FeatureCollection of grids.
    geojson: Value,
}

/// Imports a street's grids (an administrator of the street or above).
async fn import_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(input): ApiJson<ImportInput>,
) -> ApiResult<Json<geometry::Imported>> {
    let street = street_in_scope(&state, &p, input.street_id, Permission::ManageOrgs).await?;
    let mut tx = state.store.begin().await?;
    let done = geometry::import(
        &mut tx,
        &state.change(p.user.who()),
        street.id,
        &input.geojson.to_string(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(done))
}

#[derive(Debug, Deserialize)]
struct BuildingsInput {
    #[serde(default)]
    street_id: Option<i64>,
    /// A GeoJSON FeatureCollection of buildings: Point or Polygon features with `code`,
    /// `name`, optional `households` and `grid` (a grid code of the street).
    geojson: Value,
}

/// Imports a street's buildings; each touched grid's households become its buildings' sum.
async fn import_buildings_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(input): ApiJson<BuildingsInput>,
) -> ApiResult<Json<geometry::BuildingsImported>> {
    let street = street_in_scope(&state, &p, input.street_id, Permission::ManageOrgs).await?;
    let mut tx = state.store.begin().await?;
    let done = geometry::import_buildings(
        &mut tx,
        &state.change(p.user.who()),
        street.id,
        &input.geojson.to_string(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(done))
}

/// One grid's buildings, by code, for staff who see its street.
async fn buildings_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let reader = state.store.reader();
    let mut conn = reader.acquire().await.map_err(AppError::from)?;
    let grid = geometry::get(&mut conn, id).await?;
    drop(conn);
    let street = onewindow_store::orgs::get(reader, grid.street_org_id).await?;
    p.authorize_visible(Permission::ViewOrgs, &street.path)?;
    let items = geometry::buildings_of(reader, id).await?;
    Ok(Json(
        json!({ "grid_id": id, "households": grid.households, "items": items }),
    ))
}

/// Imports the boundaries of a street's communities (features coded by community), so that
/// its grids are checked to lie inside them.
async fn import_communities_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(input): ApiJson<ImportInput>,
) -> ApiResult<Json<geometry::Imported>> {
    let street = street_in_scope(&state, &p, input.street_id, Permission::ManageOrgs).await?;
    let mut tx = state.store.begin().await?;
    let done = geometry::import_communities(
        &mut tx,
        &state.change(p.user.who()),
        street.id,
        &input.geojson.to_string(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(done))
}
