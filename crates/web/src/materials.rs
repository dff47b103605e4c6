//! The material catalogue (材料目录): reading it (public, like the catalog) and changing it
//! (a catalog administrator at the material's owner: the same rule as a catalog item —
//! `access::authorize_reference_data` with `ReferenceData::CatalogItem`; a new material
//! belongs to the editor's own organisation, which must be a city or district). Items'
//! material rows refer to these ids; the item form picks them from here.

use crate::chrome::Chrome;
use crate::context::{ApiUser, Ctx, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::{ApiJson, FormData};
use crate::lists::{self, Listed, Pager};
use crate::pages::render_form;
use crate::paging::{filter_string, ListBody, PageParams};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Json, Router};
use onewindow_domain::access::{
    authorize_reference_data, new_catalog_item_owner, Permission, ReferenceData,
};
use onewindow_domain::materials::{CatalogueMaterial, MaterialKind};
use onewindow_domain::validation::FieldError;
use onewindow_domain::validation::FieldErrors;
use onewindow_store::materials::{self as store_materials, StoredMaterial};
use onewindow_store::orgs::{self, Org};
use onewindow_store::page::ListId;
use serde::Deserialize;
use sqlx::AnyConnection;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/materials", get(admin_list).post(admin_create))
        .route("/admin/materials/new", get(admin_new))
        .route("/admin/materials/{id}", get(admin_edit).post(admin_save))
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

/// May `p` change a material owned by `owner_org_id` (pages: edit controls or read-only)?
async fn may_edit(state: &AppState, p: &Principal, owner_org_id: i64) -> Result<bool, AppError> {
    let owner = orgs::get(state.store.reader(), owner_org_id).await?;
    Ok(authorize_reference_data(
        &p.actor(),
        ReferenceData::CatalogItem { owner: &owner.path },
    )
    .is_ok())
}

/// May `p` create materials (their organisation may own them)?
async fn may_create(state: &AppState, p: &Principal) -> Result<bool, AppError> {
    let org = orgs::get(state.store.reader(), p.user.org_id).await?;
    Ok(new_catalog_item_owner(&p.actor(), org.kind).is_ok())
}

// ---- pages ----

struct MaterialRow {
    m: StoredMaterial,
    kind: &'static str,
    editable: bool,
}

#[derive(Template)]
#[template(path = "admin_materials.html")]
struct AdminMaterials {
    chrome: Chrome,
    rows: Vec<MaterialRow>,
    /// (value, label, selected) of the kind filter.
    kinds: Vec<(&'static str, &'static str, bool)>,
    pager: Pager,
    may_create: bool,
    errors: Vec<FieldError>,
}

async fn admin_list(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<MaterialsQuery>,
) -> PageResult {
    p.require(Permission::ManageCatalog)?;
    let (listed, errors) = match list(&state, &q).await {
        Ok(l) => (Some(l), vec![]),
        Err(AppError::Invalid(f)) => (None, f.0),
        Err(e) => return Err(e.into()),
    };
    let chosen = MaterialKind::parse(q.kind.as_deref().unwrap_or(""));
    let mut rows = Vec::new();
    let mut owners = std::collections::HashMap::new();
    let pager = match &listed {
        Some(l) => Pager::new("/admin/materials", l),
        None => Pager::default(),
    };
    for m in listed.map(|l| l.page.items).unwrap_or_default() {
        let editable = match owners.get(&m.owner_org_id) {
            Some(e) => *e,
            None => {
                let e = may_edit(&state, &p, m.owner_org_id).await?;
                owners.insert(m.owner_org_id, e);
                e
            }
        };
        rows.push(MaterialRow {
            kind: m.material.kind.label(),
            m,
            editable,
        });
    }
    let refused = !errors.is_empty();
    render_form(
        &AdminMaterials {
            chrome: Chrome::new(&state, &ctx, "材料目录管理"),
            rows,
            kinds: MaterialKind::ALL
                .map(|k| (k.as_str(), k.label(), Some(k) == chosen))
                .to_vec(),
            pager,
            may_create: may_create(&state, &p).await?,
            errors,
        },
        refused,
    )
}

#[derive(Template)]
#[template(path = "admin_material.html")]
struct AdminMaterial {
    chrome: Chrome,
    /// None: a new material.
    stored: Option<StoredMaterial>,
    id: String,
    name: String,
    description: String,
    kinds: Vec<(&'static str, &'static str, bool)>,
    version: i64,
    editable: bool,
    saved: bool,
    errors: Vec<FieldError>,
}

impl AdminMaterial {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

fn kinds(chosen: &str) -> Vec<(&'static str, &'static str, bool)> {
    MaterialKind::ALL
        .map(|k| (k.as_str(), k.label(), k.as_str() == chosen))
        .to_vec()
}

/// The form for material `id` (None: a new one), showing the stored material or what was
/// submitted with why it was refused.
async fn material_form(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    id: Option<&str>,
    submitted: Option<&FormData>,
    errors: Vec<FieldError>,
    saved: bool,
) -> PageResult {
    p.require(Permission::ManageCatalog)?;
    let stored = match id {
        Some(id) => Some(store_materials::get(state.store.reader(), id).await?),
        None => None,
    };
    let editable = match &stored {
        Some(s) => may_edit(state, p, s.owner_org_id).await?,
        None => {
            let org = orgs::get(state.store.reader(), p.user.org_id).await?;
            new_catalog_item_owner(&p.actor(), org.kind).map_err(AppError::from)?;
            true
        }
    };
    let (mid, name, description, kind) = match (submitted, &stored) {
        (Some(f), _) => (
            f.get("id").to_string(),
            f.get("name").to_string(),
            f.get("description").to_string(),
            f.get("kind").to_string(),
        ),
        (None, Some(s)) => (
            s.material.id.clone(),
            s.material.name.clone(),
            s.material.description.clone(),
            s.material.kind.as_str().to_string(),
        ),
        (None, None) => (String::new(), String::new(), String::new(), String::new()),
    };
    let title = match &stored {
        Some(s) => format!("材料 {} {}", s.material.id, s.material.name),
        None => "新增材料".to_string(),
    };
    let refused = !errors.is_empty();
    render_form(
        &AdminMaterial {
            chrome: Chrome::new(state, ctx, title),
            version: stored.as_ref().map_or(0, |s| s.version),
            stored,
            id: mid,
            name,
            description,
            kinds: kinds(&kind),
            editable,
            saved,
            errors,
        },
        refused,
    )
}

#[derive(Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

async fn admin_new(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    material_form(&state, &p, &ctx, None, None, vec![], false).await
}

async fn admin_edit(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> PageResult {
    material_form(&state, &p, &ctx, Some(&id), None, vec![], q.saved.is_some()).await
}

/// Reads the form into a material (the kind is a choice: an unknown one is a field error).
fn from_form(form: &FormData, id: &str) -> Result<CatalogueMaterial, AppError> {
    let kind = MaterialKind::parse(form.get("kind")).ok_or_else(|| {
        AppError::invalid(
            "kind",
            "unknown",
            "请选择材料类型（证照、表格、证明、合同协议或其他）",
        )
    })?;
    Ok(CatalogueMaterial {
        id: id.trim().to_string(),
        name: form.get("name").to_string(),
        description: form.get("description").replace("\r\n", "\n"),
        kind,
    })
}

/// Saves from the form, then shows the material again (saved) or the form with the errors
/// beside their fields (what was typed kept).
async fn save_from_form(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    id: &str,
    existing: bool,
    form: &FormData,
) -> PageResult {
    let attempt = async {
        let m = from_form(form, id)?;
        let version = if existing {
            Some(form.int("version", "版本")?)
        } else {
            Some(0)
        };
        save(state, p, &m, version).await
    };
    match attempt.await {
        Ok((m, _)) => Ok(
            Redirect::to(&format!("/admin/materials/{}?saved=1", m.material.id)).into_response(),
        ),
        Err(AppError::Invalid(f)) => {
            let shown = existing.then_some(id);
            material_form(state, p, ctx, shown, Some(form), f.0, false).await
        }
        Err(AppError::Conflict { code, message }) if existing => {
            let errors = vec![FieldError {
                field: "version".into(),
                code: code.into(),
                message: format!("{message}（本页填写的内容仍保留）"),
            }];
            material_form(state, p, ctx, Some(id), Some(form), errors, false).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn admin_create(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    let id = form.get("id").trim().to_string();
    // An id already in the catalogue is not created again over it.
    if !id.is_empty()
        && store_materials::get(state.store.reader(), &id)
            .await
            .is_ok()
    {
        let errors = vec![FieldError {
            field: "id".into(),
            code: "duplicate".into(),
            message: format!("材料编码「{id}」已存在"),
        }];
        return material_form(&state, &p, &ctx, None, Some(&form), errors, false).await;
    }
    save_from_form(&state, &p, &ctx, &id, false, &form).await
}

async fn admin_save(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<String>,
    form: FormData,
) -> PageResult {
    // Refused before the form is read: one who may not edit gets the 403 page.
    p.require(Permission::ManageCatalog)?;
    let stored = store_materials::get(state.store.reader(), &id).await?;
    let owner = orgs::get(state.store.reader(), stored.owner_org_id).await?;
    authorize_reference_data(
        &p.actor(),
        ReferenceData::CatalogItem { owner: &owner.path },
    )
    .map_err(AppError::from)?;
    save_from_form(&state, &p, &ctx, &id, true, &form).await
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
