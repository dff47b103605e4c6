//! Event categories (事件类别, Open311 services): shared reference data owned by a city or
//! district (`access::ReferenceData::GridCategory`). Anyone signed in reads them (Open311
//! publishes them anyway); an administrator of a city or district creates them and then
//! owns them; only the permission at the owner changes one. The page `/grid/categories`
//! and the API share [`save`]; a category's extra fields (Open311 attributes) are kept
//! through the API and shown on the page.

use crate::chrome::Chrome;
use crate::context::{ApiUser, Ctx, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::{ApiJson, FormData};
use crate::pages::{render, render_form};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use onewindow_domain::access::{
    authorize_reference_data, may_own_catalog, Denied, Permission, ReferenceData,
};
use onewindow_domain::escalation::DeadlineRule;
use onewindow_domain::grid::Category;
use onewindow_domain::validation::FieldError;
use onewindow_store::grid::categories::{self, StoredCategory};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/grid/categories",
            get(categories_api).post(save_category_api),
        )
        .route("/grid/categories", get(categories_page).post(create_form))
        .route("/grid/categories/{id}", post(update_form))
}

/// Creates a category (`id` none: an administrator of a city or district, who then owns
/// it) or changes one (`id` with its version: the permission at its owner). The default
/// department must lie inside the owner, as a catalog item's does. Whether it was created.
pub async fn save(
    state: &AppState,
    p: &Principal,
    id: Option<(i64, i64)>,
    category: &Category,
) -> Result<(StoredCategory, bool), AppError> {
    let reader = state.store.reader();
    let owner = match id {
        Some((id, _)) => {
            let old = categories::get(reader, id).await?;
            onewindow_store::orgs::get(reader, old.org_id).await?
        }
        None => {
            p.authorize(Permission::ManageGridCategories, &p.user.org_path)?;
            let own = onewindow_store::orgs::get(reader, p.user.org_id).await?;
            if !may_own_catalog(own.kind) {
                return Err(AppError::Forbidden(Denied::Level));
            }
            own
        }
    };
    authorize_reference_data(
        &p.actor(),
        ReferenceData::GridCategory { owner: &owner.path },
    )?;
    if let Some(d) = category.default_department {
        let inside = onewindow_store::orgs::get(reader, d)
            .await
            .is_ok_and(|d| owner.path.contains(&d.path));
        if !inside {
            return Err(AppError::invalid(
                "default_department",
                "department_outside_owner",
                "默认处置部门须在类别所属机构的辖区内",
            ));
        }
    }
    let mut tx = state.store.begin().await?;
    let saved =
        categories::save(&mut tx, &state.change(p.user.who()), owner.id, id, category).await?;
    tx.commit().await?;
    Ok((saved, id.is_none()))
}

async fn categories_api(
    State(state): State<AppState>,
    ApiUser(_p): ApiUser,
) -> ApiResult<Json<Value>> {
    let items = categories::list(state.store.reader()).await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
struct CategoryInput {
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    version: Option<i64>,
    #[serde(flatten)]
    category: Category,
}

async fn save_category_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(input): ApiJson<CategoryInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = match (input.id, input.version) {
        (Some(id), Some(v)) => Some((id, v)),
        (Some(_), None) => {
            return Err(AppError::invalid("version", "required", "修改类别须带上版本号").into())
        }
        (None, _) => None,
    };
    let (saved, created) = save(&state, &p, id, &input.category).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!(saved))))
}

/// The units a limit may be counted in, as the form offers them.
const UNITS: [(&str, &str); 3] = [
    ("hours", "小时"),
    ("calendar_days", "自然日"),
    ("working_days", "工作日"),
];

fn unit_of(rule: DeadlineRule) -> &'static str {
    match rule {
        DeadlineRule::Hours(_) => "hours",
        DeadlineRule::CalendarDays(_) => "calendar_days",
        DeadlineRule::WorkingDays(_) => "working_days",
    }
}

/// One form's fields as shown: what was typed if it came back refused, else what is stored.
struct Fields {
    /// The category's id, none for the new one.
    key: Option<i64>,
    /// For element ids: the category id or `new`.
    dom: String,
    version: i64,
    title: String,
    open: bool,
    code: String,
    name: String,
    group: String,
    keywords: String,
    help: String,
    default_department: String,
    respond: String,
    respond_unit: String,
    close: String,
    close_unit: String,
}

impl Fields {
    fn respond_in(&self, unit: &str) -> bool {
        self.respond_unit == unit
    }

    fn close_in(&self, unit: &str) -> bool {
        self.close_unit == unit
    }

    fn new(key: Option<i64>, c: &Category, version: i64, refused: Option<&FormData>) -> Fields {
        let pick = |field: &str, stored: String| match refused {
            Some(f) => f.get(field).to_string(),
            None => stored,
        };
        Fields {
            key,
            dom: key.map_or_else(|| "new".to_string(), |k| k.to_string()),
            version,
            title: c.name.clone(),
            open: refused.is_some(),
            code: pick("code", c.code.clone()),
            name: pick("name", c.name.clone()),
            group: pick("group", c.group.clone()),
            keywords: pick("keywords", c.keywords.clone()),
            help: pick("help", c.help.clone()),
            default_department: pick(
                "default_department",
                c.default_department
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            ),
            respond: pick("respond_amount", c.respond.amount().to_string()),
            respond_unit: pick("respond_unit", unit_of(c.respond).to_string()),
            close: pick("close_amount", c.close.amount().to_string()),
            close_unit: pick("close_unit", unit_of(c.close).to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "grid_categories.html")]
struct CategoriesPage {
    chrome: Chrome,
    categories: Vec<StoredCategory>,
    /// The edit forms of the categories the caller may change.
    edits: Vec<Fields>,
    /// The new category's form, for those who may create one.
    new: Option<Fields>,
    departments: Vec<(i64, String)>,
    units: [(&'static str, &'static str); 3],
    /// The form that came back refused (its category id, none for the new one).
    refused: Option<Option<i64>>,
    errors: Vec<FieldError>,
}

impl CategoriesPage {
    /// The error of `field` when the form `f` came back refused.
    fn error_for(&self, f: &Fields, field: &str) -> Option<&str> {
        if self.refused != Some(f.key) {
            return None;
        }
        self.errors
            .iter()
            .find(|e| e.field == field || e.field.starts_with(&format!("{field}.")))
            .map(|e| e.message.as_str())
    }
}

async fn view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    refused: Option<Option<i64>>,
    errors: Vec<FieldError>,
    form: FormData,
) -> Result<CategoriesPage, AppError> {
    let pool = state.store.reader();
    let categories = categories::list(pool).await?;
    let actor = p.actor();
    let typed = |key: Option<i64>| (refused == Some(key)).then_some(&form);
    let mut edits = vec![];
    for c in &categories {
        let owner = onewindow_store::orgs::get(pool, c.org_id).await?;
        if authorize_reference_data(&actor, ReferenceData::GridCategory { owner: &owner.path })
            .is_ok()
        {
            edits.push(Fields::new(
                Some(c.id),
                &c.category,
                c.version,
                typed(Some(c.id)),
            ));
        }
    }
    let own = onewindow_store::orgs::get(pool, p.user.org_id).await?;
    let may_create = may_own_catalog(own.kind)
        && p.authorize(Permission::ManageGridCategories, &p.user.org_path)
            .is_ok();
    Ok(CategoriesPage {
        chrome: Chrome::new(state, ctx, "事件类别"),
        categories,
        edits,
        new: may_create.then(|| Fields::new(None, &Category::new("", ""), 0, typed(None))),
        departments: onewindow_store::orgs::departments(pool)
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect(),
        units: UNITS,
        refused,
        errors,
    })
}

async fn categories_page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    render(&view(&state, &p, &ctx, None, vec![], FormData::default()).await?)
}

/// A limit from the form's `{field}_amount` and `{field}_unit`.
fn rule_from(form: &FormData, field: &str, label: &str) -> Result<DeadlineRule, AppError> {
    let amount = form.get(&format!("{field}_amount")).trim();
    let amount: u32 =
        amount.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            AppError::invalid(field, "invalid_amount", format!("{label}须为正整数"))
        })?;
    Ok(match form.get(&format!("{field}_unit")) {
        "hours" => DeadlineRule::Hours(amount),
        "working_days" => DeadlineRule::WorkingDays(amount),
        _ => DeadlineRule::CalendarDays(amount),
    })
}

/// The category the form describes; the attributes kept from `old` (the form has none).
fn category_from(form: &FormData, old: Option<&StoredCategory>) -> Result<Category, AppError> {
    let mut c = match old {
        Some(o) => o.category.clone(),
        None => Category::new(form.get("code").trim(), ""),
    };
    c.name = form.get("name").to_string();
    c.group = form.get("group").to_string();
    c.keywords = form.get("keywords").to_string();
    c.help = form.get("help").to_string();
    c.default_department = form.get("default_department").trim().parse().ok();
    c.respond = rule_from(form, "respond", "响应时限")?;
    c.close = rule_from(form, "close", "办结时限")?;
    Ok(c)
}

async fn refused_or(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    id: Option<i64>,
    form: FormData,
    result: Result<(StoredCategory, bool), AppError>,
) -> PageResult {
    match result {
        Ok(_) => Ok(Redirect::to("/grid/categories").into_response()),
        Err(AppError::Invalid(f)) => {
            render_form(&view(state, p, ctx, Some(id), f.0, form).await?, true)
        }
        Err(e) => Err(e.into()),
    }
}

async fn create_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    let result = match category_from(&form, None) {
        Ok(c) => save(&state, &p, None, &c).await,
        Err(e) => Err(e),
    };
    refused_or(&state, &p, &ctx, None, form, result).await
}

async fn update_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let old = categories::get(state.store.reader(), id)
        .await
        .map_err(AppError::from)?;
    let version = form.int("version", "版本号")?;
    let result = match category_from(&form, Some(&old)) {
        Ok(c) => save(&state, &p, Some((id, version)), &c).await,
        Err(e) => Err(e),
    };
    refused_or(&state, &p, &ctx, Some(id), form, result).await
}
