//! The category tree (editable by the city or district owning it: shared reference data,
//! `access::authorize_reference_data`), retraining the department suggestion, and 民情收集
//! (problems and their projects).

use crate::chrome::Chrome;
use crate::context::{ApiUser, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::{ApiJson, FormData};
use crate::pages::{render, render_form};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use onewindow_domain::access::{
    authorize_reference_data, may_own_catalog, Permission, ReferenceData,
};
use onewindow_domain::validation::FieldError;
use onewindow_store::complaints::categories::{self, Category, CategoryInput};
use onewindow_store::complaints::problems::{self, Problem, STATES};
use onewindow_store::complaints::suggest;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/complaints/categories",
            get(categories_page).post(create_form),
        )
        .route("/complaints/categories/{id}", post(update_form))
        .route("/complaints/problems", get(problems_page))
        .route("/complaints/problems/{id}", post(problem_form))
        .route(
            "/api/v1/complaints/categories",
            get(categories_api).post(create_api),
        )
        .route("/api/v1/complaints/categories/{id}", put(update_api))
        .route("/api/v1/complaints/model", post(train_api))
        .route("/api/v1/complaints/problems", get(problems_api))
        .route("/api/v1/complaints/problems/{id}", put(problem_api))
}

/// Reading the tree: anyone who takes, dispatches or handles requests, or keeps the tree.
fn authorize_read(p: &Principal) -> Result<(), AppError> {
    let here = &p.user.org_path;
    [
        Permission::ViewComplaints,
        Permission::TakeComplaints,
        Permission::HandleComplaints,
        Permission::ManageComplaintCategories,
    ]
    .iter()
    .find(|perm| p.authorize(**perm, here).is_ok())
    .map(|_| ())
    .ok_or(AppError::Forbidden(onewindow_domain::access::Denied::Role))
}

/// What a category edit sends.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct CategoryBody {
    #[serde(default)]
    pub parent_id: Option<i64>,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub department_id: Option<i64>,
    #[serde(default)]
    pub help_text: String,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub version: Option<i64>,
}

fn yes() -> bool {
    true
}

/// Creates a category owned by the caller's organisation, which must be a city or a
/// district where the caller keeps the tree.
pub async fn create(
    state: &AppState,
    p: &Principal,
    body: &CategoryBody,
) -> Result<Category, AppError> {
    p.authorize(Permission::ManageComplaintCategories, &p.user.org_path)?;
    let org = onewindow_store::orgs::get(state.store.reader(), p.user.org_id).await?;
    if !may_own_catalog(org.kind) {
        return Err(AppError::Forbidden(onewindow_domain::access::Denied::Level));
    }
    if let Some(parent) = body.parent_id {
        let parent = categories::get(state.store.reader(), parent)
            .await
            .map_err(|_| AppError::invalid("parent_id", "unknown_category", "上级分类不存在"))?;
        authorize_reference_data(
            &p.actor(),
            ReferenceData::ComplaintCategory {
                owner: &parent.org_path,
            },
        )?;
    }
    let input = CategoryInput {
        org_id: org.id,
        parent_id: body.parent_id,
        code: body.code.clone(),
        name: body.name.clone(),
        department_id: body.department_id,
        help_text: body.help_text.clone(),
        active: body.active,
    };
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let c = categories::create(&mut tx, &change, &input).await?;
    tx.commit().await?;
    Ok(c)
}

/// Edits a category: the permission at the organisation owning it.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: i64,
    body: &CategoryBody,
) -> Result<Category, AppError> {
    let old = categories::get(state.store.reader(), id).await?;
    authorize_reference_data(
        &p.actor(),
        ReferenceData::ComplaintCategory {
            owner: &old.org_path,
        },
    )?;
    let input = CategoryInput {
        org_id: old.org_id,
        parent_id: body.parent_id,
        code: old.code.clone(),
        name: body.name.clone(),
        department_id: body.department_id,
        help_text: body.help_text.clone(),
        active: body.active,
    };
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let c = categories::update(
        &mut tx,
        &change,
        id,
        body.version.unwrap_or(old.version),
        &input,
    )
    .await?;
    tx.commit().await?;
    Ok(c)
}

/// Retrains the department suggestion on the stored history (the root's administrator;
/// also `onewindow train-suggestions`).
pub async fn train(state: &AppState, p: &Principal) -> Result<Value, AppError> {
    authorize_reference_data(&p.actor(), ReferenceData::ComplaintModel)?;
    let mut tx = state.store.begin().await?;
    let (id, model) = suggest::train(&mut tx, state.now(), &[]).await?;
    tx.commit().await?;
    Ok(json!({ "model_id": id, "requests": model.trained_on() }))
}

#[derive(Template)]
#[template(path = "complaints_categories.html")]
struct CategoriesPage {
    chrome: Chrome,
    categories: Vec<Category>,
    editable: Vec<i64>,
    may_create: bool,
    departments: Vec<(i64, String)>,
    errors: Vec<FieldError>,
    form: FormData,
}

impl CategoriesPage {
    fn may_edit(&self, id: &i64) -> bool {
        self.editable.contains(id)
    }
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
    fn is_department(&self, c: &Category, id: &i64) -> bool {
        c.department_id == Some(*id)
    }
}

async fn categories_view(
    state: &AppState,
    p: &Principal,
    ctx: &crate::context::Ctx,
    errors: Vec<FieldError>,
    form: FormData,
) -> Result<CategoriesPage, AppError> {
    authorize_read(p)?;
    let pool = state.store.reader();
    let categories = categories::for_viewer(pool, &p.user.org_path, true).await?;
    let actor = p.actor();
    let editable = categories
        .iter()
        .filter(|c| {
            authorize_reference_data(
                &actor,
                ReferenceData::ComplaintCategory { owner: &c.org_path },
            )
            .is_ok()
        })
        .map(|c| c.id)
        .collect();
    let org = onewindow_store::orgs::get(pool, p.user.org_id).await?;
    Ok(CategoriesPage {
        chrome: Chrome::new(state, ctx, "诉求分类"),
        categories,
        editable,
        may_create: may_own_catalog(org.kind)
            && p.authorize(Permission::ManageComplaintCategories, &p.user.org_path)
                .is_ok(),
        departments: onewindow_store::orgs::departments(pool)
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect(),
        errors,
        form,
    })
}

async fn categories_page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    render(&categories_view(&state, &p, &ctx, vec![], FormData::default()).await?)
}

fn body_from(form: &FormData) -> CategoryBody {
    let id = |n: &str| form.get(n).trim().parse::<i64>().ok();
    CategoryBody {
        parent_id: id("parent_id"),
        code: form.get("code").into(),
        name: form.get("name").into(),
        department_id: id("department_id"),
        help_text: form.get("help_text").into(),
        active: form.get("active") != "0",
        version: id("version"),
    }
}

async fn create_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    match create(&state, &p, &body_from(&form)).await {
        Ok(_) => Ok(Redirect::to("/complaints/categories").into_response()),
        Err(AppError::Invalid(f)) => {
            render_form(&categories_view(&state, &p, &ctx, f.0, form).await?, true)
        }
        Err(e) => Err(e.into()),
    }
}

async fn update_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    match update(&state, &p, id, &body_from(&form)).await {
        Ok(_) => Ok(Redirect::to("/complaints/categories").into_response()),
        Err(AppError::Invalid(f)) => {
            render_form(&categories_view(&state, &p, &ctx, f.0, form).await?, true)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn categories_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Value>> {
    authorize_read(&p)?;
    let all = categories::for_viewer(state.store.reader(), &p.user.org_path, false).await?;
    let items: Vec<&Category> = categories::search(&all, &q.q);
    Ok(Json(json!({ "items": items })))
}

async fn create_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(body): ApiJson<CategoryBody>,
) -> ApiResult<(StatusCode, Json<Category>)> {
    Ok((StatusCode::CREATED, Json(create(&state, &p, &body).await?)))
}

async fn update_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<CategoryBody>,
) -> ApiResult<Json<Category>> {
    Ok(Json(update(&state, &p, id, &body).await?))
}

async fn train_api(State(state): State<AppState>, ApiUser(p): ApiUser) -> ApiResult<Json<Value>> {
    Ok(Json(train(&state, &p).await?))
}

// ---- 民情收集 ----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "complaints_problems.html")]
struct ProblemsPage {
    chrome: Chrome,
    problems: Vec<Problem>,
    may_edit: bool,
    errors: Vec<FieldError>,
}

impl ProblemsPage {
    fn states(&self) -> &'static [(&'static str, &'static str)] {
        &STATES
    }
    fn label(&self, s: &str) -> &'static str {
        problems::state_label(s)
    }
    fn is_state(&self, p: &Problem, state: &str) -> bool {
        p.state == state
    }
}

async fn problems_page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    p.authorize(Permission::ViewComplaints, &p.user.org_path)?;
    render(&ProblemsPage {
        chrome: Chrome::new(&state, &ctx, "民情收集"),
        problems: problems::list(state.store.reader(), &p.user.org_path, 200).await?,
        may_edit: p
            .authorize(Permission::DispatchComplaints, &p.user.org_path)
            .is_ok(),
        errors: vec![],
    })
}

#[derive(Debug, Deserialize, Default)]
pub struct ProblemBody {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub project_name: String,
    #[serde(default)]
    pub owner_user_id: Option<i64>,
    #[serde(default)]
    pub note: String,
    pub version: i64,
}

pub async fn update_problem(
    state: &AppState,
    p: &Principal,
    id: i64,
    body: &ProblemBody,
) -> Result<Problem, AppError> {
    let problem = problems::get(state.store.reader(), id).await?;
    p.authorize_visible(Permission::DispatchComplaints, &problem.org_path)?;
    let change = state.change(p.user.who());
    let mut tx = state.store.begin().await?;
    let out = problems::update(
        &mut tx,
        &change,
        id,
        body.version,
        &body.state,
        &body.project_name,
        body.owner_user_id,
        &body.note,
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

async fn problem_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let body = ProblemBody {
        state: form.get("state").into(),
        project_name: form.get("project_name").into(),
        owner_user_id: form.get("owner_user_id").trim().parse().ok().or_else(|| {
            // "me": the dispatcher takes the project on.
            (form.get("owner") == "me").then_some(p.user.id)
        }),
        note: form.get("note").into(),
        version: form.get("version").parse().unwrap_or(0),
    };
    match update_problem(&state, &p, id, &body).await {
        Ok(_) => Ok(Redirect::to("/complaints/problems").into_response()),
        Err(AppError::Invalid(f)) => render_form(
            &ProblemsPage {
                chrome: Chrome::new(&state, &ctx, "民情收集"),
                problems: problems::list(state.store.reader(), &p.user.org_path, 200).await?,
                may_edit: true,
                errors: f.0,
            },
            true,
        ),
        Err(e) => Err(e.into()),
    }
}

async fn problems_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
) -> ApiResult<Json<Value>> {
    p.authorize(Permission::ViewComplaints, &p.user.org_path)?;
    let items = problems::list(state.store.reader(), &p.user.org_path, 200).await?;
    Ok(Json(json!({ "items": items })))
}

async fn problem_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ProblemBody>,
) -> ApiResult<Json<Problem>> {
    Ok(Json(update_problem(&state, &p, id, &body).await?))
}
