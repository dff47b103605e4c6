//! The service item catalog: the public service guide (办事指南) and keyword search, and
//! the administrator's editing, import and export (JSON, CSV, XLSX).

use crate::catalog_form::ItemForm;
use crate::chrome::Chrome;
use crate::context::{ApiUser, Ctx, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::ApiJson;
use crate::form::FormData;
use crate::lists::{self, Listed, Pager};
use crate::pages::{render, render_form};
use crate::paging::{filter_string, ListBody, PageParams};
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use onewindow_domain::access::{
    authorize_reference_data, new_catalog_item_owner, Permission, ReferenceData,
};
use onewindow_domain::catalog::{
    self, Bundle, Catalog, ItemType, Material, MaterialForm, ServiceItem, WINDOW_CLASSES,
};
use onewindow_domain::validation::{self, FieldError, FieldErrors};
use onewindow_store::catalog::{
    self as store_catalog, ItemFilter, ItemSummary, SaveReport, StoredItem,
};
use onewindow_store::clock::local_date;
use onewindow_store::orgs::{self, Org};
use onewindow_store::page::ListId;
use serde::Deserialize;
use serde_json::json;
use sqlx::AnyConnection;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/guide", get(guide_index))
        .route("/guide/items/{code}", get(guide_item))
        .route("/guide/bundles/{code}", get(guide_bundle))
        .route(
            "/admin/catalog",
            get(admin_list)
                .post(admin_import_form)
                .layer(DefaultBodyLimit::max(crate::form::MAX_UPLOAD_BYTES)),
        )
        .route(
            "/admin/catalog/items/{code}",
            get(admin_edit).post(admin_save_form),
        )
        .route("/api/v1/catalog/items", get(search_api))
        .route("/api/v1/catalog/items/{code}", get(item_api).put(save_api))
        .route("/api/v1/catalog/bundles", get(bundles_api))
        .route("/api/v1/catalog/bundles/{code}", get(bundle_api))
        .route("/api/v1/catalog/export", get(export_api))
        .route("/api/v1/catalog/import", axum::routing::post(import_api))
}

// ---- operations ----

/// May `p` (of organisation `editor_org`) save the item `code`? An existing item needs the
/// catalog permission at the organisation owning it; a new one becomes the editor's own
/// organisation's, which must be a city or district (`access::new_catalog_item_owner`).
async fn authorize_item(
    conn: &mut AnyConnection,
    p: &Principal,
    editor_org: &Org,
    code: &str,
) -> Result<(), AppError> {
    match store_catalog::owner_of(conn, code).await? {
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

/// May `p` edit the item as stored (for pages: whether to offer the edit controls).
pub fn may_edit_item(p: &Principal, s: &StoredItem) -> bool {
    authorize_reference_data(
        &p.actor(),
        ReferenceData::CatalogItem {
            owner: &s.owner_path,
        },
    )
    .is_ok()
}

/// Keyword search over the current catalog for the window's item picker: the first
/// matches in code order, one list. The query is bounded first: a long one is refused with
/// a field error on `q`, and never reaches the LIKE pattern, which SQLite refuses beyond
/// 50,000 bytes (that was a 500). The guide and the API page through [`search_page`].
pub async fn search(state: &AppState, q: &SearchQuery) -> Result<Vec<ItemSummary>, AppError> {
    let mut e = FieldErrors::new();
    e.text("q", "搜索词", &q.q, validation::SEARCH_QUERY);
    e.text("class", "窗口类别", &q.class, validation::LABEL);
    e.into_result()?;
    let class = Some(q.class.as_str()).filter(|c| !c.is_empty());
    Ok(store_catalog::search(state.store.reader(), &q.q, class).await?)
}

/// The catalog search's query string (guide, API): filters, then `limit` and `cursor`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ItemsQuery {
    /// Keywords, every one of which must occur (substring).
    pub q: Option<String>,
    /// Window class (窗口类别).
    pub class: Option<String>,
    /// The responsible department's organisation id.
    pub department: Option<String>,
    /// The owning organisation's id (a city or district).
    pub owner: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// One page of the public catalog search, in code order.
pub async fn search_page(
    state: &AppState,
    query: &ItemsQuery,
) -> Result<Listed<ItemSummary>, AppError> {
    let mut e = FieldErrors::new();
    let q = lists::text(
        &mut e,
        "q",
        "搜索词",
        query.q.as_deref(),
        validation::SEARCH_QUERY,
    );
    let class = lists::text(
        &mut e,
        "class",
        "窗口类别",
        query.class.as_deref(),
        validation::LABEL,
    );
    let department = lists::id(
        &mut e,
        "department",
        "实施部门",
        query.department.as_deref(),
    );
    let owner = lists::id(&mut e, "owner", "所属机构", query.owner.as_deref());
    e.into_result()?;
    let mut e = FieldErrors::new();
    if let Some(id) = department {
        match orgs::get(state.store.reader(), id).await {
            Ok(o) if o.kind == onewindow_domain::org::OrgKind::Department => {}
            Ok(_) | Err(onewindow_store::StoreError::NotFound) => {
                e.add("department", "not_found", "实施部门不存在")
            }
            Err(err) => return Err(err.into()),
        }
    }
    if let Some(id) = owner {
        match orgs::get(state.store.reader(), id).await {
            Ok(_) => {}
            Err(onewindow_store::StoreError::NotFound) => {
                e.add("owner", "not_found", "所属机构不存在")
            }
            Err(err) => return Err(err.into()),
        }
    }
    e.into_result()?;
    let department_text = department.map(|d| d.to_string()).unwrap_or_default();
    let owner_text = owner.map(|d| d.to_string()).unwrap_or_default();
    let filters = filter_string(&[
        ("q", q.as_deref().unwrap_or("")),
        ("class", class.as_deref().unwrap_or("")),
        ("department", &department_text),
        ("owner", &owner_text),
    ]);
    let list = ListId {
        list: "catalog_items",
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
    let page = store_catalog::page(
        state.store.reader(),
        key,
        &list,
        &req,
        &ItemFilter {
            q: q.as_deref().unwrap_or(""),
            window_class: class.as_deref(),
            department_id: department,
            owner_org_id: owner,
        },
    )
    .await?;
    Ok(Listed { page, filters, req })
}

/// Imports a catalog (JSON `Catalog` or CSV of items) as one transaction. Refused whole,
/// before anything is written, if any item (or any bundle) is not the editor's to change.
pub async fn import(
    state: &AppState,
    p: &Principal,
    catalog: &Catalog,
    effective_from: Option<NaiveDate>,
) -> Result<SaveReport, AppError> {
    p.require(Permission::ManageCatalog)?;
    let from = effective_from.unwrap_or_else(|| local_date(state.now()));
    let mut tx = state.store.begin().await?;
    let editor_org = orgs::get(&mut *tx, p.user.org_id).await?;
    for item in &catalog.items {
        authorize_item(&mut tx, p, &editor_org, &item.code).await?;
    }
    for m in &catalog.materials {
        crate::materials::authorize_material(&mut tx, p, &editor_org, &m.id).await?;
    }
    if !catalog.bundles.is_empty() {
        authorize_reference_data(&p.actor(), ReferenceData::Bundles)?;
    }
    let report = store_catalog::import(
        &mut tx,
        &state.change(p.user.who()),
        catalog,
        from,
        &editor_org,
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

pub async fn save(
    state: &AppState,
    p: &Principal,
    item: &ServiceItem,
    effective_from: Option<NaiveDate>,
    version: Option<i64>,
) -> Result<SaveReport, AppError> {
    p.require(Permission::ManageCatalog)?;
    let from = effective_from.unwrap_or_else(|| local_date(state.now()));
    let mut report = SaveReport::default();
    let mut tx = state.store.begin().await?;
    let editor_org = orgs::get(&mut *tx, p.user.org_id).await?;
    authorize_item(&mut tx, p, &editor_org, &item.code).await?;
    store_catalog::save_item(
        &mut tx,
        &state.change(p.user.who()),
        item,
        from,
        version,
        &editor_org,
        &mut report,
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

/// Parses an import body by its content type: JSON catalog, or CSV items.
pub fn parse_import(content_type: &str, body: &[u8]) -> Result<Catalog, AppError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| AppError::invalid("file", "encoding", "文件须为UTF-8编码"))?;
    if content_type.starts_with("text/csv")
        || (!text.trim_start().starts_with('{') && content_type != "application/json")
    {
        let items = catalog::items_from_csv(text)
            .map_err(|e| AppError::invalid("file", e.code(), e.to_string()))?;
        Ok(Catalog {
            items,
            bundles: vec![],
            materials: vec![],
        })
    } else {
        serde_json::from_str(text)
            .map_err(|e| AppError::invalid("file", "bad_json", format!("JSON格式有误：{e}")))
    }
}

// ---- list rows ----

/// One line of a catalog list: an item with its time limits in words and, under it, its
/// variants (办理项) — a variant is not a second item beside its parent.
pub struct ListedItem {
    pub s: ItemSummary,
    /// 「即办」 or 「承诺N个工作日」.
    pub promised: String,
    /// 「法定N个工作日」, where the law sets a limit.
    pub legal: Option<String>,
    pub variants: Vec<ListedItem>,
    /// A variant listed without its parent on the page (a search matched only it, or the
    /// page began inside a group): the parent's code and name.
    pub parent: Option<(String, String)>,
    /// Whether the administrator looking may edit it (admin list only).
    pub editable: bool,
}

impl ListedItem {
    fn new(s: ItemSummary) -> ListedItem {
        ListedItem {
            promised: promised_words(s.promised_limit_days),
            legal: s.legal_limit_days.map(|d| format!("法定{d}个工作日")),
            s,
            variants: vec![],
            parent: None,
            editable: false,
        }
    }
}

/// The promised limit in words: 0 is 即办.
pub fn promised_words(days: u32) -> String {
    if days == 0 {
        "即办".into()
    } else {
        format!("承诺{days}个工作日")
    }
}

/// Puts each variant under its parent when the parent is on the same page (the list is in
/// code order, and a variant's code extends its parent's, so they arrive together); a
/// variant whose parent is not on the page stays a line of its own, naming the parent.
pub fn group_variants(items: Vec<ItemSummary>) -> Vec<ListedItem> {
    let mut out: Vec<ListedItem> = Vec::new();
    for s in items {
        let parent_here = s
            .parent_code
            .as_deref()
            .and_then(|p| out.iter().position(|l| l.s.code == p));
        match parent_here {
            Some(i) => out[i].variants.push(ListedItem::new(s)),
            None => out.push(ListedItem::new(s)),
        }
    }
    out
}

/// Names the parents of the variants listed alone (a few reads, one per such line).
async fn name_parents(state: &AppState, rows: &mut [ListedItem]) -> Result<(), AppError> {
    for row in rows.iter_mut() {
        if let Some(code) = row.s.parent_code.clone() {
            let name = match store_catalog::get(state.store.reader(), &code).await {
                Ok(p) => p.item.name,
                Err(onewindow_store::StoreError::NotFound) => code.clone(),
                Err(e) => return Err(e.into()),
            };
            row.parent = Some((code, name));
        }
    }
    Ok(())
}

// ---- public pages ----

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub class: String,
}

#[derive(Template)]
#[template(path = "guide_index.html")]
struct GuideIndex {
    chrome: Chrome,
    q: String,
    /// Why the query was refused (too long, control characters).
    error: Option<String>,
    class: String,
    /// Window classes with whether each is the one chosen.
    classes: Vec<(&'static str, bool)>,
    items: Vec<ListedItem>,
    pager: Pager,
    bundles: Vec<Bundle>,
}

async fn guide_index(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Query<ItemsQuery>,
) -> PageResult {
    let (items, pager, error) = match search_page(&state, &query).await {
        Ok(listed) => {
            let pager = Pager::new("/guide", &listed);
            let mut rows = group_variants(listed.page.items);
            name_parents(&state, &mut rows).await?;
            (rows, pager, None)
        }
        Err(AppError::Invalid(f)) => (
            vec![],
            Pager::default(),
            f.0.first().map(|e| e.message.clone()),
        ),
        Err(e) => return Err(e.into()),
    };
    let q = query.q.unwrap_or_default();
    let class = query.class.unwrap_or_default();
    let first_page = query.cursor.as_deref().is_none_or(|c| c.trim().is_empty());
    let bundles = if q.is_empty() && class.is_empty() && first_page {
        store_catalog::bundles(state.store.reader()).await?
    } else {
        vec![]
    };
    let refused = error.is_some();
    render_form(
        &GuideIndex {
            chrome: Chrome::new(&state, &ctx, "办事指南"),
            // Echo what fits in the box, not a megabyte of it.
            q: q.chars().take(validation::SEARCH_QUERY.max).collect(),
            error,
            classes: WINDOW_CLASSES.iter().map(|c| (*c, *c == class)).collect(),
            class: class.chars().take(validation::LABEL.max).collect(),
            items,
            pager,
            bundles,
        },
        refused,
    )
}

pub struct MaterialRow {
    pub m: Material,
    pub form: &'static str,
}

pub fn material_rows(ms: &[Material]) -> Vec<MaterialRow> {
    ms.iter()
        .map(|m| MaterialRow {
            form: m.form.label(),
            m: m.clone(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "guide_item.html")]
struct GuideItem {
    chrome: Chrome,
    s: StoredItem,
    type_label: &'static str,
    materials: Vec<MaterialRow>,
    variants: Vec<ItemSummary>,
    /// The halls that take the item in and where one can book a time: (id, name).
    halls: Vec<(i64, String)>,
}

async fn guide_item(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
) -> PageResult {
    let s =
        store_catalog::get_effective(state.store.reader(), &code, local_date(state.now())).await?;
    let variants = store_catalog::variants(state.store.reader(), &code).await?;
    let halls = halls_serving(&state, &s).await?;
    render(&GuideItem {
        chrome: Chrome::new(&state, &ctx, s.item.name.clone()),
        type_label: s.item.item_type.label(),
        materials: material_rows(&s.item.materials),
        variants,
        halls,
        s,
    })
}

/// The service halls (with a queue, so one can book there) that may take `s` in: those
/// inside the tree of the item's owner (`access::check_item_routing`: a district's item
/// serves its district).
pub async fn halls_serving(
    state: &AppState,
    s: &StoredItem,
) -> Result<Vec<(i64, String)>, AppError> {
    let mut out = Vec::new();
    for (id, name) in onewindow_store::queue::halls(state.store.reader()).await? {
        let hall = orgs::get(state.store.reader(), id).await?;
        if s.owner_path.contains(&hall.path) {
            out.push((id, name));
        }
    }
    Ok(out)
}

/// A bundle with its items' current versions, merged materials and combined limit.
pub struct BundleView {
    pub bundle: Bundle,
    pub items: Vec<StoredItem>,
    pub materials: Vec<Material>,
    pub limit_days: u32,
}

pub async fn bundle_view(state: &AppState, code: &str) -> Result<BundleView, AppError> {
    let bundle = store_catalog::bundle(state.store.reader(), code).await?;
    let mut items = Vec::new();
    for c in &bundle.item_codes {
        items.push(
            store_catalog::get_effective(state.store.reader(), c, local_date(state.now())).await?,
        );
    }
    let refs: Vec<&ServiceItem> = items.iter().map(|s| &s.item).collect();
    let materials = catalog::merge_materials(refs.iter().copied());
    let limit_days = catalog::bundle_limit_days(&bundle, &refs);
    Ok(BundleView {
        bundle,
        items,
        materials,
        limit_days,
    })
}

#[derive(Template)]
#[template(path = "guide_bundle.html")]
struct GuideBundle {
    chrome: Chrome,
    v: BundleView,
    materials: Vec<MaterialRow>,
}

async fn guide_bundle(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
) -> PageResult {
    let v = bundle_view(&state, &code).await?;
    render(&GuideBundle {
        chrome: Chrome::new(&state, &ctx, v.bundle.name.clone()),
        materials: material_rows(&v.materials),
        v,
    })
}

// ---- admin pages ----

#[derive(Template)]
#[template(path = "admin_catalog.html")]
struct AdminCatalog {
    chrome: Chrome,
    /// One page of items, variants under their item.
    items: Vec<ListedItem>,
    /// The keywords searched for, as typed (bounded).
    q: String,
    pager: Pager,
    /// Whether this administrator may import (their organisation may own items).
    may_import: bool,
    report: Option<SaveReport>,
    errors: Vec<FieldError>,
}

async fn admin_page(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    query: &ItemsQuery,
    report: Option<SaveReport>,
    mut errors: Vec<FieldError>,
) -> PageResult {
    p.require(Permission::ManageCatalog)?;
    // The same keyset search as the guide: the catalog in code order, 25 at a time.
    let (rows, pager) = match search_page(state, query).await {
        Ok(listed) => {
            let pager = Pager::new("/admin/catalog", &listed);
            let mut rows = group_variants(listed.page.items);
            name_parents(state, &mut rows).await?;
            (rows, pager)
        }
        Err(AppError::Invalid(f)) => {
            errors.extend(f.0);
            (vec![], Pager::default())
        }
        Err(e) => return Err(e.into()),
    };
    // Who may edit is decided at each item's owner; a page has a handful of owners.
    let mut owners: std::collections::HashMap<i64, bool> = std::collections::HashMap::new();
    let mut items = rows;
    for row in items.iter_mut() {
        row.editable = may_edit_at(state, p, &mut owners, row.s.owner_org_id).await?;
        for v in row.variants.iter_mut() {
            v.editable = may_edit_at(state, p, &mut owners, v.s.owner_org_id).await?;
        }
    }
    let editor_org = orgs::get(state.store.reader(), p.user.org_id).await?;
    let may_import = new_catalog_item_owner(&p.actor(), editor_org.kind).is_ok();
    let refused = !errors.is_empty();
    render_form(
        &AdminCatalog {
            chrome: Chrome::new(state, ctx, "事项目录管理"),
            items,
            q: query
                .q
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(validation::SEARCH_QUERY.max)
                .collect(),
            pager,
            may_import,
            report,
            errors,
        },
        refused,
    )
}

/// May `p` edit items owned by `owner_id` (remembered per owner for one page).
async fn may_edit_at(
    state: &AppState,
    p: &Principal,
    known: &mut std::collections::HashMap<i64, bool>,
    owner_id: i64,
) -> Result<bool, AppError> {
    if let Some(e) = known.get(&owner_id) {
        return Ok(*e);
    }
    let owner = orgs::get(state.store.reader(), owner_id).await?;
    let e = authorize_reference_data(
        &p.actor(),
        ReferenceData::CatalogItem { owner: &owner.path },
    )
    .is_ok();
    known.insert(owner_id, e);
    Ok(e)
}

async fn admin_list(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(query): Query<ItemsQuery>,
) -> PageResult {
    admin_page(&state, &p, &ctx, &query, None, vec![]).await
}

/// The import form: a chosen file (JSON or CSV, as exported; CSV also as Excel saves it
/// on a Chinese Windows, in GBK) or pasted text, validated whole before anything is written.
async fn admin_import_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let attempt = async {
        let multipart = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("multipart/form-data"));
        let (upload, pasted, effective_from) = if multipart {
            let mut parts = crate::form::multipart_parts(&headers, body).await?;
            let text = |parts: &mut std::collections::HashMap<String, crate::form::Part>, k| {
                parts
                    .remove(k)
                    .map(|p| String::from_utf8_lossy(&p.bytes).into_owned())
                    .unwrap_or_default()
            };
            let pasted = text(&mut parts, "content");
            let from = text(&mut parts, "effective_from");
            let upload = parts.remove("file").filter(|f| !f.bytes.is_empty());
            (upload, pasted, from)
        } else {
            let form = FormData::parse(&body);
            (
                None,
                form.get("content").to_string(),
                form.get("effective_from").to_string(),
            )
        };
        let (text, file_name) = match upload {
            Some(file) => (
                decode_upload(&file.bytes)?,
                file.file_name.unwrap_or_default(),
            ),
            None if pasted.trim().is_empty() => {
                return Err(AppError::invalid(
                    "file",
                    "required",
                    "请选择要导入的文件，或粘贴导入内容",
                ))
            }
            None => (pasted, String::new()),
        };
        let catalog = parse_import(import_kind(&file_name, &text)?, text.as_bytes())?;
        import(&state, &p, &catalog, parse_date_opt(&effective_from)?).await
    };
    match attempt.await {
        Ok(report) => {
            admin_page(
                &state,
                &p,
                &ctx,
                &ItemsQuery::default(),
                Some(report),
                vec![],
            )
            .await
        }
        Err(AppError::Invalid(f)) => {
            admin_page(&state, &p, &ctx, &ItemsQuery::default(), None, f.0).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The text of an uploaded file: UTF-8 (a byte-order mark dropped), or else GB18030/GBK,
/// which is how Excel on a Chinese Windows saves CSV.
pub fn decode_upload(bytes: &[u8]) -> Result<String, AppError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_string());
    }
    let (text, _, malformed) = encoding_rs::GB18030.decode(bytes);
    if malformed {
        return Err(AppError::invalid(
            "file",
            "encoding",
            "文件编码无法识别，请另存为UTF-8或GBK编码的CSV/JSON文件",
        ));
    }
    Ok(text.into_owned())
}

/// Which parser an import needs: by the file's extension, else by its first character.
pub fn import_kind(file_name: &str, text: &str) -> Result<&'static str, AppError> {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "json" => Ok("application/json"),
        "csv" | "txt" => Ok("text/csv"),
        "xlsx" | "xls" => Err(AppError::invalid(
            "file",
            "unsupported_format",
            "暂不支持直接导入Excel文件，请在Excel中“另存为”CSV后导入",
        )),
        _ if text.trim_start().starts_with('{') => Ok("application/json"),
        _ => Ok("text/csv"),
    }
}

fn parse_date_opt(s: &str) -> Result<Option<NaiveDate>, AppError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|_| AppError::invalid("effective_from", "bad_date", "生效日期格式应为YYYY-MM-DD"))
}

#[derive(Template)]
#[template(path = "admin_item.html")]
struct AdminItem {
    chrome: Chrome,
    s: StoredItem,
    form: ItemForm,
    item_types: Vec<(&'static str, &'static str)>,
    material_forms: Vec<(&'static str, &'static str)>,
    /// Each class, and whether the form has it selected.
    window_classes: Vec<(&'static str, bool)>,
    departments: Vec<(String, String)>,
    /// The material catalogue the rows pick from: (id, label).
    catalogue: Vec<(String, String)>,
    versions: Vec<(i64, String, String)>,
    errors: Vec<FieldError>,
    saved: bool,
    /// Whether this administrator may save the item (else the page is read-only).
    editable: bool,
}

impl AdminItem {
    /// The message about `field`, if the last save was refused because of it.
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    /// Messages about any field of row `i` of a list (`materials[i].copies`, `faq[i].a`).
    fn row_errors(&self, list: &str, i: &usize) -> Vec<&str> {
        let prefix = format!("{list}[{i}].");
        self.errors
            .iter()
            .filter(|e| e.field.starts_with(&prefix))
            .map(|e| e.message.as_str())
            .collect()
    }

    fn row_has_error(&self, list: &str, i: &usize) -> bool {
        !self.row_errors(list, i).is_empty()
    }

    /// Whether the catalogue holds `id` (a row naming one it does not is shown as such).
    fn in_catalogue(&self, id: &str) -> bool {
        self.catalogue.iter().any(|(c, _)| c == id)
    }
}

async fn admin_item_page(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    code: &str,
    submitted: Option<ItemForm>,
    errors: Vec<FieldError>,
    saved: bool,
) -> PageResult {
    p.require(Permission::ManageCatalog)?;
    let s = store_catalog::get(state.store.reader(), code).await?;
    let versions = store_catalog::versions(state.store.reader(), code).await?;
    // Only departments inside the item's owner can carry it out (the save refuses others).
    let mut departments: Vec<(String, String)> = orgs::departments(state.store.reader())
        .await?
        .into_iter()
        .filter(|o| s.owner_path.contains(&o.path))
        .filter_map(|o| o.code.map(|c| (c, o.name)))
        .collect();
    let editable = may_edit_item(p, &s);
    let form = submitted.unwrap_or_else(|| ItemForm::from_item(&s.item, s.version));
    // An item naming a department that no longer exists keeps showing that code (and the
    // save names the problem) rather than silently taking the first department listed.
    if !departments.iter().any(|(c, _)| *c == form.department_code) {
        let missing = form.department_code.clone();
        departments.insert(0, (missing.clone(), format!("{missing}（未找到该部门）")));
    }
    let window_classes = WINDOW_CLASSES
        .iter()
        .map(|c| (*c, form.window_class == *c))
        .collect();
    let catalogue = onewindow_store::materials::all(state.store.reader())
        .await?
        .into_iter()
        .map(|m| {
            let label = format!(
                "{} {}（{}）",
                m.material.id,
                m.material.name,
                m.material.kind.label()
            );
            (m.material.id, label)
        })
        .collect();
    let refused = !errors.is_empty();
    render_form(
        &AdminItem {
            chrome: Chrome::new(state, ctx, format!("编辑事项 {}", s.item.name)),
            s,
            form,
            item_types: ItemType::ALL.map(|t| (t.as_str(), t.label())).to_vec(),
            material_forms: MaterialForm::ALL.map(|f| (f.as_str(), f.label())).to_vec(),
            window_classes,
            departments,
            catalogue,
            versions,
            errors,
            saved,
            editable,
        },
        refused,
    )
}

#[derive(Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

async fn admin_edit(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(code): Path<String>,
    Query(q): Query<SavedQuery>,
) -> PageResult {
    admin_item_page(&state, &p, &ctx, &code, None, vec![], q.saved.is_some()).await
}

async fn admin_save_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(code): Path<String>,
    form: FormData,
) -> PageResult {
    // Refused before the form is read: an administrator who may not edit the item gets
    // the 403 page, not a form full of field errors.
    let stored = store_catalog::get(state.store.reader(), &code).await?;
    authorize_reference_data(
        &p.actor(),
        ReferenceData::CatalogItem {
            owner: &stored.owner_path,
        },
    )?;
    let submitted = ItemForm::from_form(&form);
    // The form's own reading names its inputs already; what `save` refuses is named in the
    // item's terms and is renamed to the inputs before it is shown.
    let item = match submitted.to_item(&code) {
        // A row given only a material of the catalogue takes the catalogue's name.
        Ok(mut item) => {
            let catalogue = onewindow_store::materials::all(state.store.reader()).await?;
            onewindow_domain::materials::fill_names(&mut item, |id| {
                catalogue
                    .iter()
                    .find(|m| m.material.id == id)
                    .map(|m| m.material.name.clone())
            });
            item
        }
        Err(f) => {
            return admin_item_page(&state, &p, &ctx, &code, Some(submitted), f.0, false).await
        }
    };
    let attempt = async {
        let version = form.int("version", "版本")?;
        let from = parse_date_opt(&submitted.effective_from)?;
        save(&state, &p, &item, from, Some(version)).await
    };
    let errors = match attempt.await {
        Ok(_) => {
            return Ok(
                Redirect::to(&format!("/admin/catalog/items/{code}?saved=1")).into_response(),
            )
        }
        Err(AppError::Invalid(f)) => submitted.errors_in_form_terms(&code, f.0),
        // Someone saved this item since the form was opened: say so on the form, keep
        // what was typed, and leave the choice to the administrator.
        Err(AppError::Conflict {
            code: reason,
            message,
        }) => vec![FieldError {
            field: "version".into(),
            code: reason.into(),
            message: format!("{message}（本页填写的内容仍保留；请另开页面查看最新版本后再决定）"),
        }],
        Err(e) => return Err(e.into()),
    };
    admin_item_page(&state, &p, &ctx, &code, Some(submitted), errors, false).await
}

// ---- API ----

async fn search_api(
    State(state): State<AppState>,
    Query(query): Query<ItemsQuery>,
) -> ApiResult<Json<ListBody<ItemSummary>>> {
    let listed = search_page(&state, &query).await?;
    Ok(Json(ListBody::new(
        listed.page,
        "/api/v1/catalog/items",
        &listed.filters,
        &listed.req,
    )))
}

async fn item_api(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<Json<StoredItem>> {
    Ok(Json(store_catalog::get(state.store.reader(), &code).await?))
}

#[derive(Deserialize)]
struct SaveBody {
    item: ServiceItem,
    effective_from: Option<NaiveDate>,
    /// The catalog version the editor saw; omit to create a new item.
    version: Option<i64>,
}

async fn save_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(code): Path<String>,
    ApiJson(b): ApiJson<SaveBody>,
) -> ApiResult<Json<SaveReport>> {
    if b.item.code != code {
        return Err(AppError::invalid(
            "item.code",
            "code_mismatch",
            "路径中的事项编码与内容不一致",
        )
        .into());
    }
    Ok(Json(
        save(&state, &p, &b.item, b.effective_from, b.version).await?,
    ))
}

async fn bundles_api(State(state): State<AppState>) -> ApiResult<Json<Vec<Bundle>>> {
    Ok(Json(store_catalog::bundles(state.store.reader()).await?))
}

async fn bundle_api(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let v = bundle_view(&state, &code).await?;
    Ok(Json(json!({
        "bundle": v.bundle,
        "items": v.items.iter().map(|s| &s.item.code).collect::<Vec<_>>(),
        "materials": v.materials,
        "limit_days": v.limit_days,
    })))
}

#[derive(Deserialize)]
struct ExportQuery {
    format: Option<String>,
}

/// The current catalog as JSON (default), CSV or XLSX.
async fn export_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    p.require(Permission::ManageCatalog)?;
    let cat = store_catalog::export(state.store.reader()).await?;
    let attach = |ext: &str| format!("attachment; filename=\"catalog.{ext}\"");
    Ok(match q.format.as_deref().unwrap_or("json") {
        "json" => ([(header::CONTENT_DISPOSITION, attach("json"))], Json(cat)).into_response(),
        "csv" => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, attach("csv")),
            ],
            catalog::items_to_csv(&cat.items),
        )
            .into_response(),
        "xlsx" => (
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
                ),
                (header::CONTENT_DISPOSITION, attach("xlsx")),
            ],
            crate::xlsx::catalog(&cat)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("xlsx: {e}")))?,
        )
            .into_response(),
        other => {
            return Err(AppError::invalid(
                "format",
                "unknown",
                format!("未知格式{other}，可选 json、csv、xlsx"),
            )
            .into())
        }
    })
}

#[derive(Deserialize)]
struct ImportQuery {
    effective_from: Option<NaiveDate>,
}

async fn import_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<SaveReport>> {
    p.require(Permission::ManageCatalog)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let catalog = parse_import(ct, &body)?;
    Ok(Json(import(&state, &p, &catalog, q.effective_from).await?))
}

#[cfg(test)]
mod upload_tests {
    use super::*;

    #[test]
    fn uploads_are_read_as_utf8_with_or_without_a_bom_or_as_gbk() {
        let text = "编码,名称\nMZ-0101,最低生活保障申请\n";
        assert_eq!(decode_upload(text.as_bytes()).unwrap(), text);
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        assert_eq!(decode_upload(&with_bom).unwrap(), text);
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        assert_eq!(decode_upload(&gbk).unwrap(), text);
        assert!(
            decode_upload(b"\xFF\xFF\xFF").is_err(),
            "neither UTF-8 nor GBK"
        );
    }

    #[test]
    fn the_parser_follows_the_extension_then_the_content() {
        assert_eq!(import_kind("目录.JSON", "").unwrap(), "application/json");
        assert_eq!(import_kind("目录.csv", "{").unwrap(), "text/csv");
        assert_eq!(
            import_kind("", "  {\"items\":[]}").unwrap(),
            "application/json"
        );
        assert_eq!(import_kind("", "code,name").unwrap(), "text/csv");
        assert!(import_kind("目录.xlsx", "").is_err());
    }
}
