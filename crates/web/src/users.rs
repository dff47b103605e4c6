//! Staff accounts: administrators create accounts, assign roles, reset passwords and lift
//! lock-outs for people inside their scope; supervisors may view.

use crate::auth::{hash_password, user_json};
use crate::chrome::Chrome;
use crate::context::{ApiUser, Ctx, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::ApiJson;
use crate::form::FormData;
use crate::lists::{self, Listed, Pager};
use crate::pages::render_form;
use crate::paging::{filter_string, ListBody, PageParams};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use onewindow_domain::access::{Permission, Role};
use onewindow_domain::validation::{self, FieldError, FieldErrors};
use onewindow_store::clock::format_local;
use onewindow_store::page::ListId;
use onewindow_store::users::{self, NewUser, User, UserChange};
use onewindow_store::{orgs, passwords};
use serde::Deserialize;
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list_page).post(create_form))
        .route("/admin/users/{id}", get(edit_page).post(edit_form))
        .route("/admin/users/{id}/password", post(reset_password_form))
        .route("/admin/users/{id}/unlock", post(unlock_form))
        .route("/api/v1/users", get(list_api).post(create_api))
        .route("/api/v1/users/{id}", get(get_api).patch(update_api))
        .route("/api/v1/users/{id}/password", post(reset_password_api))
        .route("/api/v1/users/{id}/unlock", post(unlock_api))
}

// ---- operations ----

/// Accounts in the caller's scope as the choices of a form (an API key's owner); staff
/// lists use [`page`].
pub async fn choices(state: &AppState, p: &Principal) -> Result<Vec<User>, AppError> {
    p.require(Permission::ViewUsers)?;
    let mut conn = state.store.reader().acquire().await?;
    Ok(users::list_in_scope(&mut conn, &p.user.org_path).await?)
}

/// The staff list's query string: filters, then `limit` and `cursor`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserQuery {
    /// An organisation inside the caller's scope: its subtree's accounts.
    pub org: Option<String>,
    pub role: Option<String>,
    pub active: Option<String>,
    /// Start of the username or display name.
    pub q: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// One page of staff in scope (admin, supervisor), by organisation then username.
pub async fn page(
    state: &AppState,
    p: &Principal,
    query: &UserQuery,
) -> Result<Listed<User>, AppError> {
    p.require(Permission::ViewUsers)?;
    let mut e = FieldErrors::new();
    let org = lists::id(&mut e, "org", "所属机构", query.org.as_deref());
    let role = lists::one_of(
        &mut e,
        "role",
        "角色",
        query.role.as_deref(),
        "admin、supervisor、guide_desk、window_clerk、approver、fallback_officer、grid_worker、dept_handler",
        Role::parse,
    );
    let active = lists::boolean(&mut e, "active", "账号状态", query.active.as_deref());
    let q = lists::text(
        &mut e,
        "q",
        "搜索词",
        query.q.as_deref(),
        validation::SEARCH_QUERY,
    );
    e.into_result()?;
    // The organisation must be one the caller sees; one outside reads like a missing one.
    let scope = match org {
        None => p.user.org_path.clone(),
        Some(id) => match orgs::get(state.store.reader(), id).await {
            Ok(o) if p.authorize(Permission::ViewUsers, &o.path).is_ok() => o.path,
            Ok(_) | Err(onewindow_store::StoreError::NotFound) => {
                return Err(AppError::invalid("org", "not_found", "所属机构不存在"))
            }
            Err(err) => return Err(err.into()),
        },
    };
    let org_text = org.map(|o| o.to_string()).unwrap_or_default();
    let active_text = active.map(|a| a.to_string()).unwrap_or_default();
    let filters = filter_string(&[
        ("org", &org_text),
        ("role", role.map(Role::as_str).unwrap_or("")),
        ("active", &active_text),
        ("q", q.as_deref().unwrap_or("")),
    ]);
    let list = ListId {
        list: "users",
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
    let filter = users::UserFilter {
        scope: &scope,
        role,
        active,
        q: q.as_deref(),
    };
    let key = state.store.cursor_key().await?;
    let mut conn = state.store.reader().acquire().await?;
    let page = users::page(&mut conn, key, &list, &req, &filter).await?;
    Ok(Listed { page, filters, req })
}

pub async fn get_one(state: &AppState, p: &Principal, id: i64) -> Result<User, AppError> {
    p.require(Permission::ViewUsers)?;
    let mut conn = state.store.reader().acquire().await?;
    let user = users::get(&mut conn, id).await?;
    p.authorize_visible(Permission::ViewUsers, &user.org_path)?;
    Ok(user)
}

pub fn parse_roles<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Vec<Role>, AppError> {
    names
        .into_iter()
        .map(|n| {
            Role::parse(n)
                .ok_or_else(|| AppError::invalid("roles", "unknown", format!("未知角色：{n}")))
        })
        .collect()
}

pub async fn create(
    state: &AppState,
    p: &Principal,
    new: NewUser,
    password: &str,
) -> Result<User, AppError> {
    p.require(Permission::ManageUsers)?;
    {
        // Scope first: refusing must not depend on whether the rest of the input is valid.
        let org = orgs::get(state.store.reader(), new.org_id)
            .await
            .map_err(|e| match e {
                onewindow_store::StoreError::NotFound => {
                    AppError::invalid("org_id", "not_found", "所属机构不存在")
                }
                e => e.into(),
            })?;
        p.authorize(Permission::ManageUsers, &org.path)?;
    }
    let mut e = FieldErrors::new();
    e.text("username", "用户名", &new.username, validation::USERNAME);
    e.text(
        "display_name",
        "姓名",
        &new.display_name,
        validation::PERSON_NAME,
    );
    e.into_result()?;
    passwords::check_policy("password", password, &new.username)?;
    let hash = hash_password(state, password.to_string()).await?;
    let mut tx = state.store.begin().await?;
    let org = orgs::get(&mut *tx, new.org_id).await?;
    p.authorize(Permission::ManageUsers, &org.path)?;
    let user = users::create(&mut tx, &state.change(p.user.who()), &new, &hash).await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn update(
    state: &AppState,
    p: &Principal,
    id: i64,
    version: i64,
    change: UserChange,
) -> Result<User, AppError> {
    p.require(Permission::ManageUsers)?;
    let mut tx = state.store.begin().await?;
    let target = users::get(&mut tx, id).await?;
    p.authorize_visible(Permission::ManageUsers, &target.org_path)?;
    let mut e = FieldErrors::new();
    e.text(
        "display_name",
        "姓名",
        &change.display_name,
        validation::PERSON_NAME,
    );
    e.into_result()?;
    if id == p.user.id && (!change.active || !change.roles.contains(&Role::Admin)) {
        return Err(AppError::invalid(
            "roles",
            "self_lockout",
            "不能停用自己的账号或取消自己的管理员角色",
        ));
    }
    let user = users::update(&mut tx, &state.change(p.user.who()), id, version, &change).await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn reset_password(
    state: &AppState,
    p: &Principal,
    id: i64,
    password: &str,
) -> Result<(), AppError> {
    let target = get_one(state, p, id).await?;
    p.authorize(Permission::ManageUsers, &target.org_path)?;
    passwords::check_policy("password", password, &target.username)?;
    let hash = hash_password(state, password.to_string()).await?;
    let mut tx = state.store.begin().await?;
    users::set_password(&mut tx, &state.change(p.user.who()), id, &hash, None).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn unlock(state: &AppState, p: &Principal, id: i64) -> Result<(), AppError> {
    let target = get_one(state, p, id).await?;
    p.authorize(Permission::ManageUsers, &target.org_path)?;
    let mut tx = state.store.begin().await?;
    users::unlock(&mut tx, &state.change(p.user.who()), id).await?;
    tx.commit().await?;
    Ok(())
}

// ---- pages ----

pub struct UserRow {
    pub user: User,
    pub roles: String,
    pub status: String,
}

fn row(u: User, now: i64) -> UserRow {
    let status = if !u.active {
        "已停用".to_string()
    } else if u.is_locked(now) {
        format!("锁定至{}", format_local(u.locked_until.unwrap_or(now)))
    } else {
        "正常".to_string()
    };
    UserRow {
        roles: u
            .roles
            .iter()
            .map(|r| r.label())
            .collect::<Vec<_>>()
            .join("、"),
        status,
        user: u,
    }
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    chrome: Chrome,
    rows: Vec<UserRow>,
    pager: Pager,
    /// The filters as shown in the filter form.
    filter: UserQuery,
    /// Role choices of the filter: (value, label, chosen).
    role_filter: Vec<(&'static str, &'static str, bool)>,
    /// The organisation chosen in the filter (0: none).
    org_chosen: i64,
    can_manage: bool,
    orgs: Vec<(i64, String)>,
    roles: Vec<(&'static str, &'static str, bool)>,
    errors: Vec<FieldError>,
    form: FormEcho,
}

#[derive(Default)]
struct FormEcho {
    username: String,
    display_name: String,
    org_id: i64,
}

async fn users_page(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    query: UserQuery,
    errors: Vec<FieldError>,
    form: Option<&FormData>,
) -> PageResult {
    let now = state.now();
    let listed = page(state, p, &query).await?;
    let pager = Pager::new("/admin/users", &listed);
    let rows = listed.page.items.into_iter().map(|u| row(u, now)).collect();
    let can_manage = p.actor().may(Permission::ManageUsers);
    // The organisation choices serve the filter and, for administrators, the new account.
    let orgs = crate::orgs::list(state, p)
        .await?
        .into_iter()
        .map(|o| (o.id, format!("{}（{}）", o.name, o.kind.label())))
        .collect();
    let chosen: Vec<&str> = form.map(|f| f.all("roles")).unwrap_or_default();
    let refused = !errors.is_empty();
    let role_chosen = query.role.as_deref().unwrap_or("");
    render_form(
        &UsersPage {
            chrome: Chrome::new(state, ctx, "人员管理"),
            rows,
            pager,
            role_filter: Role::ALL
                .iter()
                .map(|r| (r.as_str(), r.label(), r.as_str() == role_chosen))
                .collect(),
            org_chosen: query
                .org
                .as_deref()
                .and_then(|o| o.trim().parse().ok())
                .unwrap_or(0),
            filter: query,
            can_manage,
            orgs,
            roles: Role::ALL
                .iter()
                .map(|r| (r.as_str(), r.label(), chosen.contains(&r.as_str())))
                .collect(),
            errors,
            form: form
                .map(|f| FormEcho {
                    username: f.get("username").into(),
                    display_name: f.get("display_name").into(),
                    org_id: f.get("org_id").parse().unwrap_or(0),
                })
                .unwrap_or_default(),
        },
        refused,
    )
}

async fn list_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(query): Query<UserQuery>,
) -> PageResult {
    users_page(&state, &p, &ctx, query, vec![], None).await
}

async fn create_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    let attempt = async {
        let new = NewUser {
            org_id: form.int("org_id", "所属机构")?,
            username: form.get("username").to_string(),
            display_name: form.get("display_name").to_string(),
            roles: parse_roles(form.all("roles"))?,
        };
        create(&state, &p, new, form.get("password")).await
    };
    match attempt.await {
        Ok(u) => Ok(Redirect::to(&format!("/admin/users/{}", u.id)).into_response()),
        Err(AppError::Invalid(f)) => {
            users_page(&state, &p, &ctx, UserQuery::default(), f.0, Some(&form)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "user_edit.html")]
struct UserEditPage {
    chrome: Chrome,
    row: UserRow,
    can_manage: bool,
    locked: bool,
    roles: Vec<(&'static str, &'static str, bool)>,
    errors: Vec<FieldError>,
    notice: Option<&'static str>,
    /// 即审即办: the departments this clerk approves for at the window.
    grants: Vec<onewindow_store::grants::Grant>,
    /// Departments the caller may grant (shown for window clerks only).
    grantable: Vec<(i64, String)>,
}

async fn user_edit(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    id: i64,
    errors: Vec<FieldError>,
    notice: Option<&'static str>,
) -> PageResult {
    let user = get_one(state, p, id).await?;
    let now = state.now();
    let grants = crate::grants::of_user(state, p, id).await?;
    let can_manage = p.authorize(Permission::ManageUsers, &user.org_path).is_ok();
    let grantable = if can_manage && user.roles.contains(&Role::WindowClerk) {
        orgs::departments(state.store.reader())
            .await?
            .into_iter()
            .filter(|d| p.authorize(Permission::ManageUsers, &d.path).is_ok())
            .filter(|d| !grants.iter().any(|g| g.department_id == d.id))
            .map(|d| (d.id, d.name))
            .collect()
    } else {
        vec![]
    };
    let roles = Role::ALL
        .iter()
        .map(|r| (r.as_str(), r.label(), user.roles.contains(r)))
        .collect();
    let refused = !errors.is_empty();
    render_form(
        &UserEditPage {
            chrome: Chrome::new(state, ctx, user.display_name.clone()),
            can_manage,
            grants,
            grantable,
            locked: user.is_locked(now),
            roles,
            row: row(user, now),
            errors,
            notice,
        },
        refused,
    )
}

/// The account's page with errors of a form posted to it (the window grant form).
pub(crate) async fn edit_view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    id: i64,
    errors: Vec<FieldError>,
) -> PageResult {
    user_edit(state, p, ctx, id, errors, None).await
}

async fn edit_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
) -> PageResult {
    user_edit(&state, &p, &ctx, id, vec![], None).await
}

async fn edit_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let attempt = async {
        let change = UserChange {
            display_name: form.get("display_name").to_string(),
            roles: parse_roles(form.all("roles"))?,
            active: form.checked("active"),
        };
        update(&state, &p, id, form.int("version", "版本")?, change).await
    };
    match attempt.await {
        Ok(_) => user_edit(&state, &p, &ctx, id, vec![], Some("已保存")).await,
        Err(AppError::Invalid(f)) => user_edit(&state, &p, &ctx, id, f.0, None).await,
        Err(e) => Err(e.into()),
    }
}

async fn reset_password_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    match reset_password(&state, &p, id, form.get("password")).await {
        Ok(()) => {
            user_edit(
                &state,
                &p,
                &ctx,
                id,
                vec![],
                Some("密码已重置，该用户的登录已全部退出"),
            )
            .await
        }
        Err(AppError::Invalid(f)) => user_edit(&state, &p, &ctx, id, f.0, None).await,
        Err(e) => Err(e.into()),
    }
}

async fn unlock_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
) -> PageResult {
    unlock(&state, &p, id).await?;
    user_edit(&state, &p, &ctx, id, vec![], Some("已解除锁定")).await
}

// ---- API ----

async fn list_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(query): Query<UserQuery>,
) -> ApiResult<Json<ListBody<Value>>> {
    let listed = page(&state, &p, &query).await?;
    Ok(Json(ListBody::new(
        listed.page.map(|u| user_json(&u)),
        "/api/v1/users",
        &listed.filters,
        &listed.req,
    )))
}

async fn get_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(user_json(&get_one(&state, &p, id).await?)))
}

#[derive(Deserialize)]
struct CreateBody {
    org_id: i64,
    username: String,
    display_name: String,
    roles: Vec<String>,
    password: String,
}

async fn create_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(b): ApiJson<CreateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let new = NewUser {
        org_id: b.org_id,
        username: b.username,
        display_name: b.display_name,
        roles: parse_roles(b.roles.iter().map(String::as_str))?,
    };
    let user = create(&state, &p, new, &b.password).await?;
    Ok((StatusCode::CREATED, Json(user_json(&user))))
}

#[derive(Deserialize)]
struct UpdateBody {
    display_name: String,
    roles: Vec<String>,
    active: bool,
    version: i64,
}

async fn update_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<UpdateBody>,
) -> ApiResult<Json<Value>> {
    let change = UserChange {
        display_name: b.display_name,
        roles: parse_roles(b.roles.iter().map(String::as_str))?,
        active: b.active,
    };
    Ok(Json(user_json(
        &update(&state, &p, id, b.version, change).await?,
    )))
}

#[derive(Deserialize)]
struct PasswordBody {
    password: String,
}

async fn reset_password_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<PasswordBody>,
) -> ApiResult<Json<Value>> {
    reset_password(&state, &p, id, &b.password).await?;
    Ok(Json(serde_json::json!({ "ok": true })))
}

async fn unlock_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    unlock(&state, &p, id).await?;
    Ok(Json(serde_json::json!({ "ok": true })))
}
