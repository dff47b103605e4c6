//! API keys for machine clients: created by administrators for an account in scope, shown
//! once, revocable.

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
use onewindow_domain::access::Permission;
use onewindow_domain::validation::{FieldError, FieldErrors};
use onewindow_store::apikeys::{self, ApiKey};
use onewindow_store::clock::format_local;
use onewindow_store::page::ListId;
use onewindow_store::users;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/api-keys", get(list_page).post(create_form))
        .route("/admin/api-keys/{id}/revoke", post(revoke_form))
        .route("/api/v1/api-keys", get(list_api).post(create_api))
        .route("/api/v1/api-keys/{id}", axum::routing::delete(revoke_api))
}

/// The key list's query string: filters, then `limit` and `cursor`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyQuery {
    /// An account inside the caller's scope: its keys only.
    pub user: Option<String>,
    /// `active` (in force) or `revoked`.
    pub state: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// One page of the keys of accounts in scope (admin).
pub async fn page(
    state: &AppState,
    p: &Principal,
    query: &KeyQuery,
) -> Result<Listed<ApiKey>, AppError> {
    p.require(Permission::ManageApiKeys)?;
    let mut e = FieldErrors::new();
    let user = lists::id(&mut e, "user", "代表账号", query.user.as_deref());
    let revoked = lists::one_of(
        &mut e,
        "state",
        "密钥状态",
        query.state.as_deref(),
        "active、revoked",
        |s| match s {
            "active" => Some(false),
            "revoked" => Some(true),
            _ => None,
        },
    );
    e.into_result()?;
    let mut conn = state.store.reader().acquire().await?;
    if let Some(id) = user {
        // An account outside the scope reads like a missing one.
        match users::get(&mut conn, id).await {
            Ok(u) if p.authorize(Permission::ManageApiKeys, &u.org_path).is_ok() => {}
            Ok(_) | Err(onewindow_store::StoreError::NotFound) => {
                return Err(AppError::invalid("user", "not_found", "账号不存在"))
            }
            Err(err) => return Err(err.into()),
        }
    }
    let user_text = user.map(|u| u.to_string()).unwrap_or_default();
    let filters = filter_string(&[
        ("user", &user_text),
        (
            "state",
            match revoked {
                Some(true) => "revoked",
                Some(false) => "active",
                None => "",
            },
        ),
    ]);
    let list = ListId {
        list: "api_keys",
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
    let page = apikeys::page(
        &mut conn,
        key,
        &list,
        &req,
        &apikeys::KeyFilter {
            scope: &p.user.org_path,
            user_id: user,
            revoked,
        },
    )
    .await?;
    Ok(Listed { page, filters, req })
}

/// Creates a key acting as `user_id` (the caller when absent). Returns the secret once.
pub async fn create(
    state: &AppState,
    p: &Principal,
    user_id: Option<i64>,
    name: &str,
) -> Result<(ApiKey, String), AppError> {
    p.require(Permission::ManageApiKeys)?;
    onewindow_domain::validation::check_text(
        "name",
        "密钥用途",
        name,
        onewindow_domain::validation::KEY_NAME,
    )
    .map_err(onewindow_domain::validation::FieldErrors::from)?;
    let mut tx = state.store.begin().await?;
    let owner = users::get(&mut tx, user_id.unwrap_or(p.user.id))
        .await
        .map_err(|e| match e {
            onewindow_store::StoreError::NotFound => {
                AppError::invalid("user_id", "not_found", "账号不存在")
            }
            e => e.into(),
        })?;
    p.authorize(Permission::ManageApiKeys, &owner.org_path)?;
    let created = apikeys::create(&mut tx, &state.change(p.user.who()), owner.id, name).await?;
    tx.commit().await?;
    Ok(created)
}

pub async fn revoke(state: &AppState, p: &Principal, id: i64) -> Result<(), AppError> {
    p.require(Permission::ManageApiKeys)?;
    let mut tx = state.store.begin().await?;
    let (_, owner_path) = apikeys::get(&mut tx, id).await?;
    p.authorize_visible(Permission::ManageApiKeys, &owner_path)?;
    apikeys::revoke(&mut tx, &state.change(p.user.who()), id).await?;
    tx.commit().await?;
    Ok(())
}

pub struct KeyRow {
    pub key: ApiKey,
    pub created: String,
    pub revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "apikeys.html")]
struct KeysPage {
    chrome: Chrome,
    rows: Vec<KeyRow>,
    pager: Pager,
    users: Vec<(i64, String)>,
    secret: Option<String>,
    errors: Vec<FieldError>,
}

async fn keys_page(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    query: KeyQuery,
    secret: Option<String>,
    errors: Vec<FieldError>,
) -> PageResult {
    let listed = page(state, p, &query).await?;
    let pager = Pager::new("/admin/api-keys", &listed);
    let rows = listed
        .page
        .items
        .into_iter()
        .map(|k| KeyRow {
            created: format_local(k.created_at),
            revoked: k.revoked_at.map(format_local),
            key: k,
        })
        .collect();
    let users = crate::users::choices(state, p)
        .await?
        .into_iter()
        .map(|u| (u.id, format!("{}（{}）", u.display_name, u.username)))
        .collect();
    let refused = !errors.is_empty();
    render_form(
        &KeysPage {
            chrome: Chrome::new(state, ctx, "API密钥"),
            rows,
            pager,
            users,
            secret,
            errors,
        },
        refused,
    )
}

async fn list_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(query): Query<KeyQuery>,
) -> PageResult {
    keys_page(&state, &p, &ctx, query, None, vec![]).await
}

async fn create_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    let user_id = form.get("user_id").parse().ok();
    match create(&state, &p, user_id, form.get("name")).await {
        Ok((_, secret)) => {
            keys_page(&state, &p, &ctx, KeyQuery::default(), Some(secret), vec![]).await
        }
        Err(AppError::Invalid(f)) => {
            keys_page(&state, &p, &ctx, KeyQuery::default(), None, f.0).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn revoke_form(
    State(state): State<AppState>,
    PageUser(p, _): PageUser,
    Path(id): Path<i64>,
) -> PageResult {
    revoke(&state, &p, id).await?;
    Ok(Redirect::to("/admin/api-keys").into_response())
}

async fn list_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Query(query): Query<KeyQuery>,
) -> ApiResult<Json<ListBody<ApiKey>>> {
    let listed = page(&state, &p, &query).await?;
    Ok(Json(ListBody::new(
        listed.page,
        "/api/v1/api-keys",
        &listed.filters,
        &listed.req,
    )))
}

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    user_id: Option<i64>,
}

async fn create_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(b): ApiJson<CreateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (key, secret) = create(&state, &p, b.user_id, &b.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "key": key, "secret": secret })),
    ))
}

async fn revoke_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    revoke(&state, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
