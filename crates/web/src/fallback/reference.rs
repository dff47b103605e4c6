//! The fallback window's reference data (SPEC C5): the negative list (负面清单, versioned,
//! published on a public page and in the API), problem tags, department liaisons (1+N) and
//! the expert pool. One operation per change, shared by the admin pages and the API; the
//! rules are `onewindow_domain::fallback::negative_list`, the records
//! `onewindow_store::fallback::reference`.
//!
//! Authorisation: `ManageFallbackLists` (administrators) against the organisation the data
//! belongs to — a street administrator keeps its street's entries, not the district's.
//! Staff read with `ViewFallback` or `HandleFallback` what lies inside and above their
//! organisation. The published list (`/fallback/negative-list`, `GET
//! /api/v1/fallback/negative-list`) needs no login.

use crate::chrome::Chrome;
use crate::context::{ApiUser, Ctx, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::{ApiJson, FormData};
use crate::pages::render_form;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use onewindow_domain::access::{Denied, Permission};
use onewindow_domain::fallback::negative_list::{Category, EntryText, ExpertText};
use onewindow_domain::org::{OrgKind, OrgPath};
use onewindow_domain::validation::FieldError;
use onewindow_store::clock::format_local;
use onewindow_store::fallback::reference::{
    self as store, DepartmentLiaison, Expert, Liaison, NegativeEntry, NegativeVersion, Tag,
};
use onewindow_store::orgs;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/fallback/negative-list",
            get(public_list_api).post(create_entry_api),
        )
        .route(
            "/api/v1/fallback/negative-list/{id}",
            get(entry_api).patch(patch_entry_api),
        )
        .route("/api/v1/fallback/tags", get(tags_api).post(create_tag_api))
        .route(
            "/api/v1/fallback/tags/{id}",
            axum::routing::patch(patch_tag_api),
        )
        .route("/api/v1/fallback/liaisons", get(liaisons_api))
        .route(
            "/api/v1/fallback/liaisons/{department_id}",
            put(put_liaison_api),
        )
        .route(
            "/api/v1/fallback/experts",
            get(experts_api).post(create_expert_api),
        )
        .route(
            "/api/v1/fallback/experts/{id}",
            axum::routing::patch(patch_expert_api),
        )
        .route("/fallback/negative-list", get(public_page))
        .route("/fallback/lists", get(lists_page))
        .route("/fallback/lists/negative", post(create_entry_form))
        .route(
            "/fallback/lists/negative/{id}",
            get(entry_page).post(edit_entry_form),
        )
        .route(
            "/fallback/lists/negative/{id}/active",
            post(entry_active_form),
        )
        .route("/fallback/lists/tags", post(create_tag_form))
        .route("/fallback/lists/tags/{id}", post(tag_form))
        .route(
            "/fallback/lists/liaisons/{department_id}",
            post(liaison_form),
        )
        .route("/fallback/lists/experts", post(create_expert_form))
        .route(
            "/fallback/lists/experts/{id}/active",
            post(expert_active_form),
        )
}

// ---- who may read and change --------------------------------------------------------------

/// Staff read the lists with `ViewFallback` or `HandleFallback`.
fn require_view(p: &Principal) -> Result<(), AppError> {
    let a = p.actor();
    if a.may(Permission::ViewFallback) || a.may(Permission::HandleFallback) {
        Ok(())
    } else {
        Err(AppError::Forbidden(Denied::Role))
    }
}

/// A record staff may read: inside their organisation or above it (what applies to them);
/// anything else reads like a record that does not exist.
fn require_visible(p: &Principal, path: &OrgPath) -> Result<(), AppError> {
    require_view(p)?;
    if p.user.org_path.contains(path) || path.contains(&p.user.org_path) {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

fn may_manage(p: &Principal, path: &OrgPath) -> bool {
    p.authorize(Permission::ManageFallbackLists, path).is_ok()
}

/// The organisation a new record belongs to: the one named, or the caller's own. The
/// caller must manage the lists there (403 otherwise, nothing written).
async fn owner_org(
    state: &AppState,
    p: &Principal,
    org_id: Option<i64>,
) -> Result<orgs::Org, AppError> {
    p.require(Permission::ManageFallbackLists)?;
    let org = orgs::get(state.store.reader(), org_id.unwrap_or(p.user.org_id))
        .await
        .map_err(|_| AppError::invalid("org_id", "unknown", "没有这个机构"))?;
    if matches!(org.kind, OrgKind::Department | OrgKind::Grid) {
        return Err(AppError::invalid(
            "org_id",
            "not_a_window_level",
            "负面清单、标签和专家库按市、区、街道、社区设置",
        ));
    }
    p.authorize(Permission::ManageFallbackLists, &org.path)?;
    Ok(org)
}

fn bad_bool(field: &str) -> AppError {
    AppError::invalid(
        field,
        "not_a_boolean",
        format!("{field} 只能是 true 或 false"),
    )
}

fn flag_param(field: &str, v: Option<&str>) -> Result<bool, AppError> {
    match v.map(str::trim) {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(bad_bool(field)),
    }
}

fn version_of(v: Option<i64>) -> Result<i64, AppError> {
    v.ok_or_else(|| AppError::invalid("version", "required", "请提供读取时的版本号（version）"))
}

// ---- operations (pages and API) -------------------------------------------------------------

/// A new or edited entry as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EntryInput {
    pub org_id: Option<i64>,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub right_channel: String,
    #[serde(default)]
    pub reason: String,
}

impl EntryInput {
    fn text(&self) -> EntryText {
        EntryText {
            category: self.category.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            right_channel: self.right_channel.clone(),
        }
    }
}

pub async fn create_entry(
    state: &AppState,
    p: &Principal,
    input: &EntryInput,
) -> Result<NegativeEntry, AppError> {
    let org = owner_org(state, p, input.org_id).await?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let e = store::create_negative(&mut tx, &change, org.id, &input.text(), &input.reason).await?;
    tx.commit().await?;
    Ok(e)
}

/// An entry the caller manages, by id (unknown: 404; another organisation's: 403).
async fn managed_entry(
    state: &AppState,
    p: &Principal,
    id: i64,
) -> Result<NegativeEntry, AppError> {
    p.require(Permission::ManageFallbackLists)?;
    let e = store::get_negative(state.store.reader(), id)
        .await
        .map_err(|_| AppError::NotFound)?;
    p.authorize(Permission::ManageFallbackLists, &e.org_path)?;
    Ok(e)
}

pub async fn edit_entry(
    state: &AppState,
    p: &Principal,
    id: i64,
    version: i64,
    input: &EntryInput,
) -> Result<NegativeEntry, AppError> {
    managed_entry(state, p, id).await?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let e =
        store::update_negative(&mut tx, &change, id, version, &input.text(), &input.reason).await?;
    tx.commit().await?;
    Ok(e)
}

pub async fn set_entry_active(
    state: &AppState,
    p: &Principal,
    id: i64,
    version: i64,
    active: bool,
    reason: &str,
) -> Result<NegativeEntry, AppError> {
    managed_entry(state, p, id).await?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let e = store::set_negative_active(&mut tx, &change, id, version, active, reason).await?;
    tx.commit().await?;
    Ok(e)
}

pub async fn create_tag(
    state: &AppState,
    p: &Principal,
    org_id: Option<i64>,
    name: &str,
) -> Result<Tag, AppError> {
    let org = owner_org(state, p, org_id).await?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let t = store::create_tag(&mut tx, &change, org.id, name).await?;
    tx.commit().await?;
    Ok(t)
}

pub async fn update_tag(
    state: &AppState,
    p: &Principal,
    id: i64,
    version: i64,
    name: Option<&str>,
    active: Option<bool>,
) -> Result<Tag, AppError> {
    p.require(Permission::ManageFallbackLists)?;
    let t = store::get_tag(state.store.reader(), id)
        .await
        .map_err(|_| AppError::NotFound)?;
    p.authorize(Permission::ManageFallbackLists, &t.org_path)?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let t = store::update_tag(&mut tx, &change, id, version, name, active).await?;
    tx.commit().await?;
    Ok(t)
}

/// Names a department's liaison; authorised at the department.
pub async fn set_liaison(
    state: &AppState,
    p: &Principal,
    department_id: i64,
    user_id: Option<i64>,
    phone: &str,
) -> Result<Liaison, AppError> {
    p.require(Permission::ManageFallbackLists)?;
    let dept = orgs::get(state.store.reader(), department_id)
        .await
        .map_err(|_| AppError::NotFound)?;
    p.authorize(Permission::ManageFallbackLists, &dept.path)?;
    let user_id =
        user_id.ok_or_else(|| AppError::invalid("user_id", "required", "请选择联络员"))?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let l = store::set_liaison(&mut tx, &change, department_id, user_id, phone).await?;
    tx.commit().await?;
    Ok(l)
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExpertInput {
    pub org_id: Option<i64>,
    pub version: Option<i64>,
    pub name: Option<String>,
    pub field: Option<String>,
    pub affiliation: Option<String>,
    pub phone: Option<String>,
    pub active: Option<bool>,
}

pub async fn create_expert(
    state: &AppState,
    p: &Principal,
    input: &ExpertInput,
) -> Result<Expert, AppError> {
    let org = owner_org(state, p, input.org_id).await?;
    let text = ExpertText {
        name: input.name.clone().unwrap_or_default(),
        field: input.field.clone().unwrap_or_default(),
        affiliation: input.affiliation.clone().unwrap_or_default(),
        phone: input.phone.clone().unwrap_or_default(),
    };
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let x = store::create_expert(&mut tx, &change, org.id, &text).await?;
    tx.commit().await?;
    Ok(x)
}

/// Edits an expert: the details given (the rest kept), and/or `active`.
pub async fn update_expert(
    state: &AppState,
    p: &Principal,
    id: i64,
    input: &ExpertInput,
) -> Result<Expert, AppError> {
    p.require(Permission::ManageFallbackLists)?;
    let before = store::get_expert(state.store.reader(), id)
        .await
        .map_err(|_| AppError::NotFound)?;
    p.authorize(Permission::ManageFallbackLists, &before.org_path)?;
    let version = version_of(input.version)?;
    let edits = input.name.is_some()
        || input.field.is_some()
        || input.affiliation.is_some()
        || input.phone.is_some();
    let text = edits.then(|| ExpertText {
        name: input.name.clone().unwrap_or(before.name.clone()),
        field: input.field.clone().unwrap_or(before.field.clone()),
        affiliation: input
            .affiliation
            .clone()
            .unwrap_or(before.affiliation.clone()),
        phone: input.phone.clone().unwrap_or(before.phone.clone()),
    });
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let x =
        store::update_expert(&mut tx, &change, id, version, text.as_ref(), input.active).await?;
    tx.commit().await?;
    Ok(x)
}

// ---- API ------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
struct PublicQuery {
    org_id: Option<String>,
}

/// The organisation a public reader chose (by id in the API, by code on the page).
fn group(entries: &[NegativeEntry]) -> Vec<(Category, Vec<&NegativeEntry>)> {
    Category::ALL
        .iter()
        .map(|c| (*c, entries.iter().filter(|e| e.category == *c).collect()))
        .filter(|(_, v): &(Category, Vec<&NegativeEntry>)| !v.is_empty())
        .collect()
}

/// The entry as the public reads it (no staff names).
fn public_entry(e: &NegativeEntry) -> Value {
    json!({
        "id": e.id, "org_id": e.org_id, "org_name": e.org_name, "category": e.category,
        "category_label": e.category_label, "title": e.title, "description": e.description,
        "right_channel": e.right_channel, "version": e.version, "updated_at": e.updated_at,
    })
}

async fn public_list_api(
    State(state): State<AppState>,
    Query(q): Query<PublicQuery>,
) -> ApiResult<Json<Value>> {
    let (org, list) = match q.org_id.as_deref().map(str::trim) {
        None | Some("") => (
            None,
            store::published_negative_list(state.store.reader()).await?,
        ),
        Some(s) => {
            let unknown = || AppError::invalid("org_id", "unknown", "没有这个机构");
            let id: i64 = s.parse().map_err(|_| unknown())?;
            let org = orgs::get(state.store.reader(), id)
                .await
                .map_err(|_| unknown())?;
            let list = store::active_negative_list(state.store.reader(), &org.path).await?;
            (Some(org), list)
        }
    };
    let categories: Vec<Value> = group(&list)
        .into_iter()
        .map(|(c, v)| {
            json!({ "category": c, "label": c.label(),
                    "entries": v.into_iter().map(public_entry).collect::<Vec<_>>() })
        })
        .collect();
    Ok(Json(json!({
        "org": org.map(|o| json!({ "id": o.id, "name": o.name })),
        "categories": categories,
    })))
}

async fn create_entry_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(input): ApiJson<EntryInput>,
) -> ApiResult<(StatusCode, Json<NegativeEntry>)> {
    let e = create_entry(&state, &p, &input).await?;
    Ok((StatusCode::CREATED, Json(e)))
}

async fn entry_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    require_view(&p)?;
    let e = store::get_negative(state.store.reader(), id)
        .await
        .map_err(|_| AppError::NotFound)?;
    require_visible(&p, &e.org_path)?;
    let versions = store::negative_versions(state.store.reader(), id).await?;
    let mut v = serde_json::to_value(&e).unwrap_or_default();
    v["versions"] = json!(versions);
    Ok(Json(v))
}

#[derive(Debug, Default, Deserialize)]
struct EntryPatch {
    version: Option<i64>,
    category: Option<String>,
    title: Option<String>,
    description: Option<String>,
    right_channel: Option<String>,
    active: Option<bool>,
    #[serde(default)]
    reason: String,
}

async fn patch_entry_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<EntryPatch>,
) -> ApiResult<Json<NegativeEntry>> {
    let before = managed_entry(&state, &p, id).await?;
    let version = version_of(b.version)?;
    let edits = b.category.is_some()
        || b.title.is_some()
        || b.description.is_some()
        || b.right_channel.is_some();
    if !edits && b.active.is_none() {
        return Err(AppError::invalid(
            "active",
            "nothing_to_change",
            "请给出要修改的内容，或 active（停用/恢复）",
        )
        .into());
    }
    let input = EntryInput {
        org_id: None,
        category: b.category.unwrap_or(before.category.as_str().to_string()),
        title: b.title.unwrap_or(before.title.clone()),
        description: b.description.unwrap_or(before.description.clone()),
        right_channel: b.right_channel.unwrap_or(before.right_channel.clone()),
        reason: b.reason.clone(),
    };
    // Both in one transaction: the edit, then the retirement (two versions, one request).
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let mut e = before;
    if edits {
        e = store::update_negative(&mut tx, &change, id, version, &input.text(), &b.reason).await?;
    }
    if let Some(active) = b.active {
        if active != e.active || !edits {
            // After an edit in this request, at the version it made; else at the one read.
            let at = if edits { e.version } else { version };
            e = store::set_negative_active(&mut tx, &change, id, at, active, &b.reason).await?;
        }
    }
    tx.commit().await?;
    Ok(Json(e))
}

#[derive(Debug, Default, Deserialize)]
struct StaffListQuery {
    include_retired: Option<String>,
}

async fn tags_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<StaffListQuery>,
) -> ApiResult<Json<Value>> {
    require_view(&p)?;
    let all = flag_param("include_retired", q.include_retired.as_deref())?;
    let items = store::tags_visible(state.store.reader(), &p.user.org_path, all).await?;
    let applies = store::active_tags(state.store.reader(), &p.user.org_path).await?;
    Ok(Json(json!({
        "items": items,
        "applicable": applies.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Default, Deserialize)]
struct TagInput {
    org_id: Option<i64>,
    version: Option<i64>,
    name: Option<String>,
    active: Option<bool>,
}

async fn create_tag_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(b): ApiJson<TagInput>,
) -> ApiResult<(StatusCode, Json<Tag>)> {
    let t = create_tag(&state, &p, b.org_id, b.name.as_deref().unwrap_or("")).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

async fn patch_tag_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<TagInput>,
) -> ApiResult<Json<Tag>> {
    let version = version_of(b.version);
    // Role and scope before the body's faults, so a refusal says why it is refused.
    let t = store::get_tag(state.store.reader(), id)
        .await
        .map_err(|_| AppError::NotFound)?;
    p.authorize(Permission::ManageFallbackLists, &t.org_path)?;
    Ok(Json(
        update_tag(&state, &p, id, version?, b.name.as_deref(), b.active).await?,
    ))
}

async fn liaisons_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
) -> ApiResult<Json<Value>> {
    require_view(&p)?;
    let items = store::liaisons_visible(state.store.reader(), &p.user.org_path).await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Default, Deserialize)]
struct LiaisonInput {
    user_id: Option<i64>,
    #[serde(default)]
    phone: String,
}

async fn put_liaison_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(department_id): Path<i64>,
    ApiJson(b): ApiJson<LiaisonInput>,
) -> ApiResult<Json<Liaison>> {
    Ok(Json(
        set_liaison(&state, &p, department_id, b.user_id, &b.phone).await?,
    ))
}

async fn experts_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<StaffListQuery>,
) -> ApiResult<Json<Value>> {
    require_view(&p)?;
    let all = flag_param("include_retired", q.include_retired.as_deref())?;
    let items = store::experts_visible(state.store.reader(), &p.user.org_path, all).await?;
    Ok(Json(json!({ "items": items })))
}

async fn create_expert_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(b): ApiJson<ExpertInput>,
) -> ApiResult<(StatusCode, Json<Expert>)> {
    let x = create_expert(&state, &p, &b).await?;
    Ok((StatusCode::CREATED, Json(x)))
}

async fn patch_expert_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<ExpertInput>,
) -> ApiResult<Json<Expert>> {
    Ok(Json(update_expert(&state, &p, id, &b).await?))
}

// ---- pages ------------------------------------------------------------------------------------

struct CategoryGroup {
    label: &'static str,
    code: &'static str,
    entries: Vec<NegativeEntry>,
}

#[derive(Template)]
#[template(path = "fallback_negative_list.html")]
struct PublicPage {
    chrome: Chrome,
    groups: Vec<CategoryGroup>,
    places: Vec<(String, String, bool)>,
    place: Option<String>,
    unknown_place: bool,
    updated: String,
}

#[derive(Debug, Default, Deserialize)]
struct PlaceQuery {
    org: Option<String>,
}

/// The published negative list: every current entry, or those that apply at a chosen
/// place (its organisation and those above), by category, each with its right channel.
async fn public_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<PlaceQuery>,
) -> PageResult {
    let reader = state.store.reader();
    let code = q.org.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let chosen = match code {
        Some(c) if c.chars().count() <= 64 => orgs::find_by_code(reader, c)
            .await?
            .filter(|o| !matches!(o.kind, OrgKind::Department | OrgKind::Grid)),
        _ => None,
    };
    let list = match &chosen {
        Some(o) => store::active_negative_list(reader, &o.path).await?,
        None => store::published_negative_list(reader).await?,
    };
    let updated = list
        .iter()
        .map(|e| e.updated_at)
        .max()
        .map(format_local)
        .unwrap_or_default();
    let groups = Category::ALL
        .iter()
        .map(|c| CategoryGroup {
            label: c.label(),
            code: c.as_str(),
            entries: list.iter().filter(|e| e.category == *c).cloned().collect(),
        })
        .filter(|g| !g.entries.is_empty())
        .collect();
    let mut places = Vec::new();
    // Every place a window can be (the whole tree from the root path "/").
    for o in orgs::subtree(reader, &OrgPath::from_stored("/".into())).await? {
        if matches!(o.kind, OrgKind::Department | OrgKind::Grid) {
            continue;
        }
        if let Some(c) = o.code.clone() {
            let selected = chosen.as_ref().is_some_and(|x| x.id == o.id);
            places.push((c, o.name.clone(), selected));
        }
    }
    render_form(
        &PublicPage {
            chrome: Chrome::new(&state, &ctx, "办不成事窗口负面清单"),
            groups,
            places,
            place: chosen.as_ref().map(|o| o.name.clone()),
            unknown_place: code.is_some() && chosen.is_none(),
            updated,
        },
        false,
    )
}

struct EntryRow {
    e: NegativeEntry,
    updated: String,
    may_edit: bool,
}

struct TagRow {
    t: Tag,
    may_edit: bool,
}

struct LiaisonRow {
    d: DepartmentLiaison,
    may_edit: bool,
    candidates: Vec<(i64, String, bool)>,
    updated: String,
}

struct ExpertRow {
    x: Expert,
    may_edit: bool,
}

#[derive(Template)]
#[template(path = "fallback_reference.html")]
struct ListsPage {
    chrome: Chrome,
    entries: Vec<EntryRow>,
    tags: Vec<TagRow>,
    liaisons: Vec<LiaisonRow>,
    experts: Vec<ExpertRow>,
    /// Organisations the admin may add to: (id, name, selected).
    owner_orgs: Vec<(i64, String, bool)>,
    categories: Vec<(&'static str, &'static str, bool)>,
    may_manage_any: bool,
    done: Option<&'static str>,
    /// The form that came back refused, its errors and what was typed.
    section: &'static str,
    errors: Vec<FieldError>,
    typed: Vec<(String, String)>,
}

fn typed_value<'a>(typed: &'a [(String, String)], name: &str) -> &'a str {
    typed
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

impl ListsPage {
    fn typed(&self, name: &str) -> &str {
        typed_value(&self.typed, name)
    }
    fn errors_in(&self, section: &str) -> bool {
        self.section == section && !self.errors.is_empty()
    }
}

#[derive(Debug, Default, Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

fn done_text(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "negative" => Some("负面清单已更新，并已记录版本。"),
        "tag" => Some("标签已保存。"),
        "liaison" => Some("联络员已设置。"),
        "expert" => Some("专家咨询库已更新。"),
        _ => None,
    }
}

async fn lists_view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    done: Option<&'static str>,
    section: &'static str,
    errors: Vec<FieldError>,
    typed: Vec<(String, String)>,
) -> PageResult {
    require_view(p)?;
    let reader = state.store.reader();
    let scope = &p.user.org_path;
    let entries = store::negative_list_visible(reader, scope, true)
        .await?
        .into_iter()
        .map(|e| EntryRow {
            may_edit: may_manage(p, &e.org_path),
            updated: format_local(e.updated_at),
            e,
        })
        .collect();
    let tags = store::tags_visible(reader, scope, true)
        .await?
        .into_iter()
        .map(|t| TagRow {
            may_edit: may_manage(p, &t.org_path),
            t,
        })
        .collect();
    let mut liaisons = Vec::new();
    for d in store::liaisons_visible(reader, scope).await? {
        let may_edit = may_manage(p, &d.department_path);
        let candidates = if may_edit {
            let mut conn = reader.acquire().await?;
            store::liaison_candidates(&mut conn, &d.department_path)
                .await?
                .into_iter()
                .map(|u| {
                    let selected = d.liaison.as_ref().is_some_and(|l| l.user_id == u.id);
                    (
                        u.id,
                        format!("{}（{}）", u.display_name, u.username),
                        selected,
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        liaisons.push(LiaisonRow {
            updated: d
                .liaison
                .as_ref()
                .map(|l| format_local(l.updated_at))
                .unwrap_or_default(),
            d,
            may_edit,
            candidates,
        });
    }
    let experts = store::experts_visible(reader, scope, true)
        .await?
        .into_iter()
        .map(|x| ExpertRow {
            may_edit: may_manage(p, &x.org_path),
            x,
        })
        .collect();
    let may_manage_any = p.actor().may(Permission::ManageFallbackLists);
    let owner_orgs = if may_manage_any {
        orgs::subtree(reader, scope)
            .await?
            .into_iter()
            .filter(|o| !matches!(o.kind, OrgKind::Department | OrgKind::Grid))
            .map(|o| {
                let selected =
                    !section.is_empty() && typed_value(&typed, "org_id") == o.id.to_string();
                (o.id, o.name, selected)
            })
            .collect()
    } else {
        Vec::new()
    };
    let refused = !errors.is_empty();
    render_form(
        &ListsPage {
            chrome: Chrome::new(state, ctx, "办不成事 · 清单与名录"),
            entries,
            tags,
            liaisons,
            experts,
            owner_orgs,
            categories: Category::ALL
                .iter()
                .map(|c| {
                    let selected =
                        section == "negative" && typed_value(&typed, "category") == c.as_str();
                    (c.as_str(), c.label(), selected)
                })
                .collect(),
            may_manage_any,
            done,
            section,
            errors,
            typed,
        },
        refused,
    )
}

async fn lists_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    lists_view(
        &state,
        &p,
        &ctx,
        done_text(q.done.as_deref()),
        "",
        vec![],
        vec![],
    )
    .await
}

/// A form's outcome: to the list with a notice, or back with the errors beside the fields
/// (a version conflict is shown the same way, on `version`).
async fn after_form<T>(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    form: &FormData,
    section: &'static str,
    outcome: Result<T, AppError>,
) -> PageResult {
    let errors = match outcome {
        Ok(_) => {
            return Ok(
                Redirect::to(&format!("/fallback/lists?done={section}#{section}")).into_response(),
            )
        }
        Err(AppError::Invalid(f)) => f.0,
        Err(AppError::Conflict { message, .. }) => vec![FieldError {
            field: "version".into(),
            code: "version_conflict".into(),
            message,
        }],
        Err(e) => return Err(e.into()),
    };
    lists_view(state, p, ctx, None, section, errors, form.0.clone()).await
}

fn form_org(form: &FormData) -> Option<i64> {
    form.get("org_id").trim().parse().ok()
}

fn entry_input(form: &FormData) -> EntryInput {
    EntryInput {
        org_id: form_org(form),
        category: form.get("category").to_string(),
        title: form.get("title").to_string(),
        description: form.get("description").to_string(),
        right_channel: form.get("right_channel").to_string(),
        reason: form.get("reason").to_string(),
    }
}

async fn create_entry_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    let out = create_entry(&state, &p, &entry_input(&form)).await;
    after_form(&state, &p, &ctx, &form, "negative", out).await
}

async fn create_tag_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    let out = create_tag(&state, &p, form_org(&form), form.get("name")).await;
    after_form(&state, &p, &ctx, &form, "tag", out).await
}

async fn tag_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let out = async {
        let version = form.int("version", "版本号")?;
        let name = form.has("name").then(|| form.get("name"));
        let active = match form.get("active") {
            "1" => Some(true),
            "0" => Some(false),
            _ => None,
        };
        update_tag(&state, &p, id, version, name, active).await
    }
    .await;
    after_form(&state, &p, &ctx, &form, "tag", out).await
}

async fn liaison_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(department_id): Path<i64>,
    form: FormData,
) -> PageResult {
    let user_id = form.get("user_id").trim().parse().ok();
    let out = set_liaison(&state, &p, department_id, user_id, form.get("phone")).await;
    after_form(&state, &p, &ctx, &form, "liaison", out).await
}

fn expert_input(form: &FormData) -> ExpertInput {
    ExpertInput {
        org_id: form_org(form),
        version: None,
        name: Some(form.get("name").to_string()),
        field: Some(form.get("field").to_string()),
        affiliation: Some(form.get("affiliation").to_string()),
        phone: Some(form.get("phone").to_string()),
        active: None,
    }
}

async fn create_expert_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    let out = create_expert(&state, &p, &expert_input(&form)).await;
    after_form(&state, &p, &ctx, &form, "expert", out).await
}

async fn expert_active_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let out = async {
        let input = ExpertInput {
            version: Some(form.int("version", "版本号")?),
            active: Some(form.get("active") == "1"),
            ..ExpertInput::default()
        };
        update_expert(&state, &p, id, &input).await
    }
    .await;
    after_form(&state, &p, &ctx, &form, "expert", out).await
}

struct VersionRow {
    v: NegativeVersion,
    at: String,
    title: String,
    channel: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "fallback_reference_entry.html")]
struct EntryPage {
    chrome: Chrome,
    e: NegativeEntry,
    updated: String,
    versions: Vec<VersionRow>,
    may_edit: bool,
    saved: bool,
    categories: Vec<(&'static str, &'static str, bool)>,
    errors: Vec<FieldError>,
    typed: Vec<(String, String)>,
}

impl EntryPage {
    /// What the edit form shows: what was typed when it came back, else the entry.
    fn value(&self, name: &str) -> String {
        if let Some((_, v)) = self.typed.iter().find(|(k, _)| k == name) {
            return v.clone();
        }
        match name {
            "category" => self.e.category.as_str().to_string(),
            "title" => self.e.title.clone(),
            "description" => self.e.description.clone(),
            "right_channel" => self.e.right_channel.clone(),
            _ => String::new(),
        }
    }
}

async fn entry_view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    id: i64,
    saved: bool,
    errors: Vec<FieldError>,
    typed: Vec<(String, String)>,
) -> PageResult {
    require_view(p)?;
    let e = store::get_negative(state.store.reader(), id)
        .await
        .map_err(|_| AppError::NotFound)?;
    require_visible(p, &e.org_path)?;
    let versions = store::negative_versions(state.store.reader(), id)
        .await?
        .into_iter()
        .map(|v| VersionRow {
            at: format_local(v.changed_at),
            title: v.snapshot["title"].as_str().unwrap_or("").to_string(),
            channel: v.snapshot["right_channel"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            active: v.snapshot["active"].as_bool().unwrap_or(true),
            v,
        })
        .collect();
    let refused = !errors.is_empty();
    let categories = Category::ALL
        .iter()
        .map(|c| {
            let chosen = match typed.iter().find(|(k, _)| k == "category") {
                Some((_, v)) => v == c.as_str(),
                None => e.category == *c,
            };
            (c.as_str(), c.label(), chosen)
        })
        .collect();
    render_form(
        &EntryPage {
            chrome: Chrome::new(state, ctx, "负面清单条目"),
            may_edit: may_manage(p, &e.org_path),
            updated: format_local(e.updated_at),
            e,
            versions,
            saved,
            categories,
            errors,
            typed,
        },
        refused,
    )
}

#[derive(Debug, Default, Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

async fn entry_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<SavedQuery>,
) -> PageResult {
    entry_view(&state, &p, &ctx, id, q.saved.is_some(), vec![], vec![]).await
}

async fn after_entry_form<T>(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    id: i64,
    form: &FormData,
    outcome: Result<T, AppError>,
) -> PageResult {
    let errors = match outcome {
        Ok(_) => {
            return Ok(
                Redirect::to(&format!("/fallback/lists/negative/{id}?saved=1")).into_response(),
            )
        }
        Err(AppError::Invalid(f)) => f.0,
        Err(AppError::Conflict { message, .. }) => vec![FieldError {
            field: "version".into(),
            code: "version_conflict".into(),
            message,
        }],
        Err(e) => return Err(e.into()),
    };
    entry_view(state, p, ctx, id, false, errors, form.0.clone()).await
}

async fn edit_entry_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let out = async {
        let version = form.int("version", "版本号")?;
        edit_entry(&state, &p, id, version, &entry_input(&form)).await
    }
    .await;
    after_entry_form(&state, &p, &ctx, id, &form, out).await
}

async fn entry_active_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let out = async {
        let version = form.int("version", "版本号")?;
        let active = form.get("active") == "1";
        set_entry_active(&state, &p, id, version, active, form.get("reason")).await
    }
    .await;
    after_entry_form(&state, &p, &ctx, id, &form, out).await
}
