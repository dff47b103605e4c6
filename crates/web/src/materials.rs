//! The material catalogue (材料目录): reading it (public, like the catalog) and changing it
//! (a catalog administrator at the material's owner: the same rule as a catalog item —
//! `access::authorize_reference_data` with `ReferenceData::CatalogItem`; a new material
//! belongs to the editor's own organisation, which must be a city or district). Items'
//! material rows refer to these ids; the item form picks them from here.

use crate::context::{ApiUser, Principal};
use crate::error::{ApiResult, AppError};
use crate::form::ApiJson;
use crate::lists::{self, Listed};
use crate::paging::{filter_string, ListBody, PageParams};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use onewindow_domain::access::{
    authorize_reference_data, new_catalog_item_owner, Permission, ReferenceData,
};
use onewindow_domain::materials::{CatalogueMaterial, MaterialKind};
use onewindow_domain::validation::FieldErrors;
use onewindow_store::materials::{self as store_materials, StoredMaterial};
use onewindow_store::orgs::{self, Org};
use onewindow_store::page::ListId;
use serde::Deserialize;
use sqlx::AnyConnection;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/materials", get(list_api))
        .route("/api/v1/materials/{id}", get(get_api).put(save_api))
}

// ---- operations ----

/// May `p` (of `editor_org`) save material `id`? An existing one needs the catalog
/// permission at its owner; a new one becomes the editor's organisation's (a city or a
/// district).
pub async fn authorize_material(
    conn: &mut AnyConnection,
    p: &Principal,
    editor_org: &Org,
    id: &str,
) -> Result<(), AppError> {
    match store_materials::owner_of(conn, id).await? {
        Some(owner) => authorize_reference_data(
            &p.actor(),
            ReferenceData::CatalogItem { owner: &owner.path },
        )?,
        None => {
            new_catalog_item_owner(&p.actor(), editor_org.kind)?;
        }
    }
    Ok(())
}

/// Creates or changes one material in one transaction with its audit event. Returns the
/// material as written and whether it was new.
pub async fn save(
    state: &AppState,
    p: &Principal,
    m: &CatalogueMaterial,
    version: Option<i64>,
) -> Result<(StoredMaterial, bool), AppError> {
    p.require(Permission::ManageCatalog)?;
    let mut tx = state.store.begin().await?;
    let editor_org = orgs::get(&mut *tx, p.user.org_id).await?;
    authorize_material(&mut tx, p, &editor_org, &m.id).await?;
    let done = store_materials::save(
        &mut tx,
        &state.change(p.user.who()),
        m,
        version,
        &editor_org,
    )
    .await?;
    tx.commit().await?;
    Ok(done)
}

/// The list's filter.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MaterialsQuery {
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub limit: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One page of the catalogue in id order (anyone may read it: the catalog is public).
pub async fn list(
    state: &AppState,
    q: &MaterialsQuery,
) -> Result<Listed<StoredMaterial>, AppError> {
    let mut e = FieldErrors::new();
    let allowed = MaterialKind::ALL
        .map(|k| format!("{}（{}）", k.as_str(), k.label()))
        .join("、");
    let kind = lists::one_of(
        &mut e,
        "kind",
        "材料类型",
        q.kind.as_deref(),
        &allowed,
        MaterialKind::parse,
    );
    e.into_result()?;
    let filters = filter_string(&[("kind", kind.map(|k| k.as_str()).unwrap_or(""))]);
    let list = ListId {
        list: "materials",
        filters: &filters,
    };
    let req = lists::request(
        state,
        &PageParams {
            limit: q.limit.clone(),
            cursor: q.cursor.clone(),
        },
        &list,
    )
    .await?;
    let key = state.store.cursor_key().await?;
    let page = store_materials::page(state.store.reader(), key, &list, &req, kind).await?;
    Ok(Listed { page, filters, req })
}

// ---- API ----

async fn list_api(
    State(state): State<AppState>,
    Query(q): Query<MaterialsQuery>,
) -> ApiResult<Json<ListBody<StoredMaterial>>> {
    let listed = list(&state, &q).await?;
    Ok(Json(ListBody::new(
        listed.page,
        "/api/v1/materials",
        &listed.filters,
        &listed.req,
    )))
}

async fn get_api(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<StoredMaterial>> {
    Ok(Json(store_materials::get(state.store.reader(), &id).await?))
}

#[derive(Deserialize)]
struct SaveBody {
    material: CatalogueMaterial,
    /// The version the editor saw; omit to create a new material.
    #[serde(default)]
    version: Option<i64>,
}

async fn save_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SaveBody>,
) -> ApiResult<(StatusCode, Json<StoredMaterial>)> {
    if b.material.id != id {
        return Err(AppError::invalid(
            "material.id",
            "id_mismatch",
            "路径中的材料编码与内容不一致",
        )
        .into());
    }
    let (m, created) = save(&state, &p, &b.material, b.version)
        .await
        .map_err(|e| match e {
            // Field names of the body: the material's fields sit under `material`.
            AppError::Invalid(mut f) => {
                for err in &mut f.0 {
                    err.field = format!("material.{}", err.field);
                }
                AppError::Invalid(f)
            }
            other => other,
        })?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(m)))
}
