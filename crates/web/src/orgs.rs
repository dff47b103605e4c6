//! Organisations: view the tree within scope; administrators add and rename units.

use crate::chrome::Chrome;
use crate::context::{ApiUser, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::ApiJson;
use crate::form::FormData;
use crate::lists::{self, Listed, Pager};
use crate::pages::{render, render_form};
use crate::paging::{filter_string, ListBody, PageParams};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Json, Router};
use onewindow_domain::access::Permission;
use onewindow_domain::org::OrgKind;
use onewindow_domain::validation::{self, FieldError, FieldErrors};
use onewindow_store::orgs::{self, NewOrg, Org};
use onewindow_store::page::ListId;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/orgs", get(list_page).post(create_form))
        .route("/admin/orgs/{id}", get(edit_page).post(edit_form))
        .route("/api/v1/orgs", get(list_api).post(create_api))
        .route("/api/v1/orgs/{id}", get(get_api).patch(update_api))
}

// ---- operations: authorisation and the transaction, shared by pages and API ----

/// The whole tree in the caller's scope, for the choices of a form (a parent, an account's
/// organisation); the organisation list uses [`page`].
pub async fn list(state: &AppState, p: &Principal) -> Result<Vec<Org>, AppError> {
    p.require(Permission::ViewOrgs)?;
    let mut conn = state.store.reader().acquire().await?;
    Ok(orgs::subtree(&mut *conn, &p.user.org_path).await?)
}

/// The organisation list's query string: filters, then `limit` and `cursor`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrgQuery {
    /// An organisation in scope: its direct children.
    pub parent: Option<String>,
    pub kind: Option<String>,
    /// Start of the name.
    pub q: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// One page of the organisations in scope, in tree order.
pub async fn page(
    state: &AppState,
    p: &Principal,
    query: &OrgQuery,
) -> Result<Listed<Org>, AppError> {
    p.require(Permission::ViewOrgs)?;
    let mut e = FieldErrors::new();
    let parent = lists::id(&mut e, "parent", "上级机构", query.parent.as_deref());
    let kind = lists::one_of(
        &mut e,
        "kind",
        "机构类型",
        query.kind.as_deref(),
        "city、district、street、community、grid、department",
        OrgKind::parse,
    );
    let q = lists::text(
        &mut e,
        "q",
        "搜索词",
        query.q.as_deref(),
        validation::SEARCH_QUERY,
    );
    e.into_result()?;
    if let Some(id) = parent {
        // A parent outside the scope reads like a missing one.
        match orgs::get(state.store.reader(), id).await {
            Ok(o) if p.authorize(Permission::ViewOrgs, &o.path).is_ok() => {}
            Ok(_) | Err(onewindow_store::StoreError::NotFound) => {
                return Err(AppError::invalid("parent", "not_found", "上级机构不存在"))
            }
            Err(err) => return Err(err.into()),
        }
    }
    let parent_text = parent.map(|o| o.to_string()).unwrap_or_default();
    let filters = filter_string(&[
        ("parent", &parent_text),
        ("kind", kind.map(OrgKind::as_str).unwrap_or("")),
        ("q", q.as_deref().unwrap_or("")),
    ]);
    let list = ListId {
        list: "orgs",
        filters: &filters,
    };
    let req = lists::request(
        state,
        &PageParams {
            limit: query.limit.clone(),
            cursor: query.cursor.clone(),
        },
        &list,
    )
    .await?;
    let key = state.store.cursor_key().await?;
    let page = orgs::page(
        state.store.reader(),
        key,
        &list,
        &req,
        &orgs::OrgFilter {
            scope: &p.user.org_path,
            parent_id: parent,
            kind,
            q: q.as_deref(),
        },
    )
    .await?;
    Ok(Listed { page, filters, req })
}

pub async fn get_one(state: &AppState, p: &Principal, id: i64) -> Result<Org, AppError> {
    let org = orgs::get(state.store.reader(), id).await?;
    p.authorize_visible(Permission::ViewOrgs, &org.path)?;
    Ok(org)
}

pub async fn create(state: &AppState, p: &Principal, new: NewOrg) -> Result<Org, AppError> {
    p.require(Permission::ManageOrgs)?;
    let Some(parent_id) = new.parent_id else {
        return Err(AppError::invalid("parent_id", "required", "请选择上级机构"));
    };
    let mut tx = state.store.begin().await?;
    let parent = match orgs::get(&mut *tx, parent_id).await {
        Ok(p) => p,
        Err(onewindow_store::StoreError::NotFound) => {
            return Err(AppError::invalid(
                "parent_id",
                "not_found",
                "上级机构不存在",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    p.authorize(Permission::ManageOrgs, &parent.path)?;
    check_names(&new.name, new.code.as_deref())?;
    let org = orgs::create(&mut tx, &state.change(p.user.who()), &new).await?;
    tx.commit().await?;
    Ok(org)
}

pub async fn update(
    state: &AppState,
    p: &Principal,
    id: i64,
    version: i64,
    name: &str,
    code: Option<&str>,
) -> Result<Org, AppError> {
    p.require(Permission::ManageOrgs)?;
    let mut tx = state.store.begin().await?;
    let org = orgs::get(&mut *tx, id).await?;
    p.authorize_visible(Permission::ManageOrgs, &org.path)?;
    check_names(name, code)?;
    let org = orgs::update(
        &mut tx,
        &state.change(p.user.who()),
        id,
        version,
        name,
        code,
    )
    .await?;
    tx.commit().await?;
    Ok(org)
}

/// The text rule for an organisation's name and code (no control characters, bounded).
fn check_names(name: &str, code: Option<&str>) -> Result<(), AppError> {
    let mut e = FieldErrors::new();
    e.text("name", "机构名称", name, validation::ORG_NAME);
    if let Some(code) = code {
        e.text("code", "机构编码", code, validation::REFERENCE);
    }
    Ok(e.into_result()?)
}

fn parse_kind(s: &str) -> Result<OrgKind, AppError> {
    OrgKind::parse(s).ok_or_else(|| AppError::invalid("kind", "unknown", "机构类型无效"))
}

// ---- pages ----

pub struct OrgRow {
    pub org: Org,
    pub indent: usize,
    pub kind_label: &'static str,
}

#[derive(Template)]
#[template(path = "orgs.html")]
struct OrgsPage {
    chrome: Chrome,
    rows: Vec<OrgRow>,
    pager: Pager,
    /// Organisations that may take a child: the parent choices of the form.
    parents: Vec<OrgRow>,
    /// The filter form: the name typed, the kinds with whether each is chosen.
    filter_q: String,
    kind_filter: Vec<(&'static str, &'static str, bool)>,
    can_manage: bool,
    kinds: Vec<(&'static str, &'static str)>,
    errors: Vec<FieldError>,
    form_name: String,
    form_code: String,
    form_parent: i64,
    form_kind: String,
}

fn org_row(p: &Principal, o: Org) -> OrgRow {
    OrgRow {
        indent: o.depth().saturating_sub(p.user.org_path.ids().len() - 1),
        kind_label: o.kind.label(),
        org: o,
    }
}

async fn orgs_page(
    state: &AppState,
    p: &Principal,
    ctx: &crate::context::Ctx,
    query: OrgQuery,
    errors: Vec<FieldError>,
    form: Option<&FormData>,
) -> PageResult {
    let listed = page(state, p, &query).await?;
    let pager = Pager::new("/admin/orgs", &listed);
    let rows = listed
        .page
        .items
        .into_iter()
        .map(|o| org_row(p, o))
        .collect();
    let can_manage = p.actor().may(Permission::ManageOrgs);
    let parents = if can_manage {
        list(state, p)
            .await?
            .into_iter()
            .filter(|o| o.kind != OrgKind::Grid)
            .map(|o| org_row(p, o))
            .collect()
    } else {
        vec![]
    };
    let refused = !errors.is_empty();
    let page = OrgsPage {
        chrome: Chrome::new(state, ctx, "机构管理"),
        rows,
        pager,
        parents,
        filter_q: query.q.clone().unwrap_or_default(),
        kind_filter: OrgKind::ALL
            .iter()
            .map(|k| {
                (
                    k.as_str(),
                    k.label(),
                    query.kind.as_deref() == Some(k.as_str()),
                )
            })
            .collect(),
        can_manage,
        kinds: OrgKind::ALL
            .iter()
            .filter(|k| **k != OrgKind::City)
            .map(|k| (k.as_str(), k.label()))
            .collect(),
        errors,
        form_name: form.map(|f| f.get("name").to_string()).unwrap_or_default(),
        form_code: form.map(|f| f.get("code").to_string()).unwrap_or_default(),
        form_parent: form
            .and_then(|f| f.get("parent_id").parse().ok())
            .unwrap_or(0),
        form_kind: form.map(|f| f.get("kind").to_string()).unwrap_or_default(),
    };
    render_form(&page, refused)
}

async fn list_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(query): Query<OrgQuery>,
) -> PageResult {
    orgs_page(&state, &p, &ctx, query, vec![], None).await
}

async fn create_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    let attempt = async {
        let new = NewOrg {
            parent_id: Some(form.int("parent_id", "上级机构")?),
            kind: parse_kind(form.get("kind"))?,
            name: form.get("name").to_string(),
            code: Some(form.get("code").to_string()),
        };
        create(&state, &p, new).await
    };
    match attempt.await {
        Ok(_) => Ok(Redirect::to("/admin/orgs").into_response()),
        Err(AppError::Invalid(f)) => {
            orgs_page(&state, &p, &ctx, OrgQuery::default(), f.0, Some(&form)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "org_edit.html")]
struct OrgEditPage {
    chrome: Chrome,
    org: Org,
    kind_label: &'static str,
    can_manage: bool,
    errors: Vec<FieldError>,
}

async fn edit_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
) -> PageResult {
    let org = get_one(&state, &p, id).await?;
    render(&OrgEditPage {
        chrome: Chrome::new(&state, &ctx, org.name.clone()),
        kind_label: org.kind.label(),
        can_manage: p.actor().may(Permission::ManageOrgs),
        org,
        errors: vec![],
    })
}

async fn edit_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let version = form.int("version", "版本")?;
    let code = form.get("code");
    match update(&state, &p, id, version, form.get("name"), Some(code)).await {
        Ok(_) => Ok(Redirect::to("/admin/orgs").into_response()),
        Err(AppError::Invalid(f)) => {
            let org = get_one(&state, &p, id).await?;
            render_form(
                &OrgEditPage {
                    chrome: Chrome::new(&state, &ctx, org.name.clone()),
                    kind_label: org.kind.label(),
                    can_manage: true,
                    org,
                    errors: f.0,
                },
                true,
            )
        }
        Err(e) => Err(e.into()),
    }
}

// ---- API ----

async fn list_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(query): Query<OrgQuery>,
) -> ApiResult<Json<ListBody<Org>>> {
    let listed = page(&state, &p, &query).await?;
    Ok(Json(ListBody::new(
        listed.page,
        "/api/v1/orgs",
        &listed.filters,
        &listed.req,
    )))
}

async fn get_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Org>> {
    Ok(Json(get_one(&state, &p, id).await?))
}

#[derive(Deserialize)]
struct CreateBody {
    parent_id: Option<i64>,
    kind: String,
    name: String,
    code: Option<String>,
}

async fn create_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(b): ApiJson<CreateBody>,
) -> ApiResult<(StatusCode, Json<Org>)> {
    let new = NewOrg {
        parent_id: b.parent_id,
        kind: parse_kind(&b.kind)?,
        name: b.name,
        code: b.code,
    };
    Ok((StatusCode::CREATED, Json(create(&state, &p, new).await?)))
}

#[derive(Deserialize)]
struct UpdateBody {
    name: String,
    code: Option<String>,
    version: i64,
}

async fn update_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<UpdateBody>,
) -> ApiResult<Json<Org>> {
    Ok(Json(
        update(&state, &p, id, b.version, &b.name, b.code.as_deref()).await?,
    ))
}
