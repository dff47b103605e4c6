//! Login, logout, password change: pages and API over one set of operations.

use crate::chrome::Chrome;
use crate::context::{
    safe_next, set_cookie, ApiUser, Ctx, PageUser, Principal, LARGE_TEXT_COOKIE, SESSION_COOKIE,
};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::ApiJson;
use crate::form::FormData;
use crate::pages::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use onewindow_store::clock::format_local;
use onewindow_store::users::{self, User};
use onewindow_store::{demo, passwords, sessions};
use serde::Deserialize;
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login_form))
        .route("/logout", post(logout_form))
        .route("/account/password", get(password_page).post(password_form))
        .route("/api/v1/login", post(login_api))
        .route("/api/v1/logout", post(logout_api))
        .route("/api/v1/me", get(me_api))
        .route("/api/v1/me/password", post(password_api))
}

/// Hashing and verifying cost CPU time: keep them off the async workers.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || passwords::hash(&password))
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

async fn verify_password(password: String, hash: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || passwords::verify(&password, &hash))
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

const BAD_CREDENTIALS: &str = "用户名或密码错误";

/// Checks credentials, applies the lock-out policy and opens a session.
/// The password is verified outside the write transaction, so a slow hash never holds
/// the database's write lock.
pub async fn login(
    state: &AppState,
    username: &str,
    password: &str,
) -> Result<(User, sessions::NewSession), AppError> {
    let now = state.now();
    let found = {
        let mut conn = state.store.reader().acquire().await?;
        users::find_for_login(&mut conn, username).await?
    };
    let Some((user, hash)) = found else {
        // Same work as a real check, so timing does not reveal which usernames exist.
        verify_password(password.to_string(), passwords::dummy_hash().to_string()).await?;
        return Err(AppError::Login {
            code: "invalid_credentials",
            message: BAD_CREDENTIALS.into(),
        });
    };
    if user.is_locked(now) {
        let until = format_local(user.locked_until.unwrap_or(now));
        return Err(AppError::Login {
            code: "account_locked",
            message: format!("连续登录失败次数过多，账号已锁定至{until}，请稍后重试或联系管理员"),
        });
    }
    let ok = user.active && verify_password(password.to_string(), hash).await?;
    let mut tx = state.store.begin().await?;
    if !ok {
        let locked = if user.active {
            users::record_failed_login(
                &mut tx,
                &state.change(user.who()),
                &user,
                state.config.lockout,
            )
            .await?
        } else {
            None
        };
        tx.commit().await?;
        return Err(match locked {
            Some(until) => AppError::Login {
                code: "account_locked",
                message: format!(
                    "连续登录失败次数过多，账号已锁定至{}，请稍后重试或联系管理员",
                    format_local(until)
                ),
            },
            None => AppError::Login {
                code: "invalid_credentials",
                message: BAD_CREDENTIALS.into(),
            },
        });
    }
    users::record_login(&mut tx, &state.change(user.who()), &user).await?;
    let session = sessions::create(&mut tx, user.id, now, state.config.session_ttl_secs).await?;
    tx.commit().await?;
    Ok((user, session))
}

fn session_cookies(state: &AppState, user: &User, token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.append(
        header::SET_COOKIE,
        set_cookie(state, SESSION_COOKIE, token, None, true),
    );
    if user.large_text {
        h.append(
            header::SET_COOKIE,
            set_cookie(state, LARGE_TEXT_COOKIE, "1", Some(400 * 86400), false),
        );
    }
    h
}

fn clear_session_cookie(state: &AppState) -> HeaderValue {
    set_cookie(state, SESSION_COOKIE, "", Some(0), true)
}

async fn logout(state: &AppState, p: &Principal) -> Result<(), AppError> {
    if let Some(token) = p.session_token() {
        let mut tx = state.store.begin().await?;
        sessions::delete(&mut tx, token).await?;
        onewindow_store::audit::append(
            &mut tx,
            &state.change(p.user.who()),
            "auth.logout",
            "user",
            &p.user.id.to_string(),
            &json!({}),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Changes the caller's own password after checking the current one.
async fn change_password(
    state: &AppState,
    p: &Principal,
    current: &str,
    new: &str,
    confirm: Option<&str>,
) -> Result<(), AppError> {
    let mut errors = onewindow_domain::validation::FieldErrors::new();
    if let Err(e) = passwords::check_policy("new_password", new, &p.user.username) {
        errors.0.extend(e.0);
    }
    if confirm.is_some_and(|c| c != new) {
        errors.add("confirm_password", "mismatch", "两次输入的新密码不一致");
    }
    let hash = {
        let mut conn = state.store.reader().acquire().await?;
        users::find_for_login(&mut conn, &p.user.username)
            .await?
            .map(|(_, h)| h)
            .unwrap_or_default()
    };
    if !verify_password(current.to_string(), hash).await? {
        errors.add("current_password", "wrong", "当前密码不正确");
    }
    errors.into_result()?;
    let new_hash = hash_password(new.to_string()).await?;
    let mut tx = state.store.begin().await?;
    users::set_password(
        &mut tx,
        &state.change(p.user.who()),
        p.user.id,
        &new_hash,
        p.session_token(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---- pages ----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    error: Option<String>,
    next: String,
    username: String,
    demo_password: &'static str,
    demo_accounts: Vec<(&'static str, &'static str, &'static str)>,
}

fn login_view(
    state: &AppState,
    ctx: &Ctx,
    error: Option<String>,
    next: &str,
    username: &str,
) -> PageResult {
    render(&LoginPage {
        chrome: Chrome::new(state, ctx, "工作人员登录"),
        error,
        next: safe_next(next).to_string(),
        username: username.to_string(),
        demo_password: demo::DEMO_PASSWORD,
        demo_accounts: demo::ACCOUNTS
            .iter()
            .map(|a| (a.username, a.role.label(), a.org))
            .collect(),
    })
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<NextQuery>,
) -> PageResult {
    if ctx.principal.is_some() {
        return Ok(Redirect::to("/home").into_response());
    }
    login_view(&state, &ctx, None, q.next.as_deref().unwrap_or("/home"), "")
}

async fn login_form(State(state): State<AppState>, ctx: Ctx, form: FormData) -> PageResult {
    let (username, next) = (form.get("username"), form.get("next"));
    match login(&state, username, form.get("password")).await {
        Ok((user, session)) => {
            let headers = session_cookies(&state, &user, &session.token);
            Ok((headers, Redirect::to(safe_next(next))).into_response())
        }
        Err(AppError::Login { message, .. }) => {
            let mut res = login_view(&state, &ctx, Some(message), next, username)?;
            *res.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

async fn logout_form(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    if let Some(p) = &ctx.principal {
        logout(&state, p).await?;
    }
    Ok((
        [(header::SET_COOKIE, clear_session_cookie(&state))],
        Redirect::to("/login"),
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    chrome: Chrome,
    errors: Vec<onewindow_domain::validation::FieldError>,
    done: bool,
}

async fn password_page(State(state): State<AppState>, PageUser(_, ctx): PageUser) -> PageResult {
    render(&PasswordPage {
        chrome: Chrome::new(&state, &ctx, "修改密码"),
        errors: vec![],
        done: false,
    })
}

async fn password_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    let result = change_password(
        &state,
        &p,
        form.get("current_password"),
        form.get("new_password"),
        Some(form.get("confirm_password")),
    )
    .await;
    let (errors, done) = match result {
        Ok(()) => (vec![], true),
        Err(AppError::Invalid(f)) => (f.0, false),
        Err(e) => return Err(e.into()),
    };
    let mut res = render(&PasswordPage {
        chrome: Chrome::new(&state, &ctx, "修改密码"),
        errors: errors.clone(),
        done,
    })?;
    if !errors.is_empty() {
        *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

// ---- API ----

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

/// The signed-in user as the API shows it.
pub fn user_json(u: &User) -> serde_json::Value {
    json!({
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "org_id": u.org_id,
        "org_name": u.org_name,
        "roles": u.roles,
        "active": u.active,
        "locked_until": u.locked_until,
        "large_text": u.large_text,
        "version": u.version,
    })
}

async fn login_api(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Response> {
    let (user, session) = login(&state, &body.username, &body.password).await?;
    let headers = session_cookies(&state, &user, &session.token);
    Ok((
        headers,
        Json(json!({ "user": user_json(&user), "csrf_token": session.csrf_token })),
    )
        .into_response())
}

async fn logout_api(State(state): State<AppState>, ApiUser(p): ApiUser) -> ApiResult<Response> {
    logout(&state, &p).await?;
    Ok((
        [(header::SET_COOKIE, clear_session_cookie(&state))],
        Json(json!({ "ok": true })),
    )
        .into_response())
}

async fn me_api(ApiUser(p): ApiUser) -> Json<serde_json::Value> {
    Json(user_json(&p.user))
}

#[derive(Deserialize)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

async fn password_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    ApiJson(b): ApiJson<PasswordBody>,
) -> ApiResult<Json<serde_json::Value>> {
    change_password(&state, &p, &b.current_password, &b.new_password, None).await?;
    Ok(Json(json!({ "ok": true })))
}
