//! Login, logout, password change: pages and API over one set of operations.

use crate::chrome::Chrome;
use crate::context::{
    safe_next, set_cookie, ApiUser, Ctx, PageUser, Principal, LARGE_TEXT_COOKIE, SESSION_COOKIE,
};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::ApiJson;
use crate::form::FormData;
use crate::pages::{render, render_form};
use crate::AppState;
use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use onewindow_store::users::{self, User};
use onewindow_store::{demo, passwords, sessions};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

// ---- bounded password hashing ----

/// Bounds how many password hashes run at once. Each Argon2 check holds 19 MiB and a core
/// for tens of milliseconds; unbounded, 200 anonymous logins took the server from 1.8 to
/// 5.0 GB. Every hash and check in the product (login, the dummy check, password change,
/// account creation and reset) takes a permit here, waits at most `wait` for one (then 503
/// with `Retry-After`), and runs off the async workers.
pub struct HashGate {
    permits: Arc<Semaphore>,
    wait: Duration,
    running: Arc<AtomicUsize>,
    high_water: Arc<AtomicUsize>,
    account_checks: AtomicU64,
}

impl HashGate {
    pub fn new(slots: usize, wait: Duration) -> HashGate {
        HashGate {
            permits: Arc::new(Semaphore::new(slots.max(1))),
            wait,
            running: Arc::new(AtomicUsize::new(0)),
            high_water: Arc::new(AtomicUsize::new(0)),
            account_checks: AtomicU64::new(0),
        }
    }

    /// Waits for a hashing slot, at most the configured time.
    pub async fn permit(&self) -> Result<HashPermit, AppError> {
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(HashPermit {
                _permit: permit,
                running: self.running.clone(),
                high_water: self.high_water.clone(),
            }),
            Ok(Err(closed)) => Err(AppError::Internal(closed.into())),
            Err(_) => Err(AppError::Busy {
                retry_after_secs: self.wait.as_secs().max(1),
            }),
        }
    }

    /// Hashes that are running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// The most hashes that ever ran at once on this instance (for tests and operators).
    pub fn high_water(&self) -> usize {
        self.high_water.load(Ordering::SeqCst)
    }

    /// How many passwords were checked against a real account's stored hash (dummy checks
    /// not included): the lock-out promises at most `max_failures` of these per window.
    pub fn account_checks(&self) -> u64 {
        self.account_checks.load(Ordering::SeqCst)
    }
}

/// A slot to hash in. It moves into the blocking task and is released only when the hash
/// has finished — not when the request is dropped — so a client that hangs up cannot
/// leave more hashes running than there are slots.
pub struct HashPermit {
    _permit: OwnedSemaphorePermit,
    running: Arc<AtomicUsize>,
    high_water: Arc<AtomicUsize>,
}

impl HashPermit {
    async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        tokio::task::spawn_blocking(move || {
            /// Counts the hash as running until it ends, even if it panics.
            struct Running(Arc<AtomicUsize>);
            impl Drop for Running {
                fn drop(&mut self) {
                    self.0.fetch_sub(1, Ordering::SeqCst);
                }
            }
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.high_water.fetch_max(now, Ordering::SeqCst);
            let running = Running(self.running.clone());
            let out = work();
            // Not running any more before the slot is free (also when unwinding: locals
            // drop before the captured permit), so the count never exceeds the slots.
            drop(running);
            drop(self);
            out
        })
        .await
        .map_err(|e| AppError::Internal(e.into()))
    }

    pub async fn hash(self, password: String) -> Result<String, AppError> {
        self.run(move || passwords::hash(&password)).await
    }

    pub async fn verify(self, password: String, hash: String) -> Result<bool, AppError> {
        self.run(move || passwords::verify(&password, &hash)).await
    }

    /// The same work as a real check, against a hash no password matches.
    async fn verify_dummy(self, password: String) -> Result<bool, AppError> {
        self.run(move || passwords::verify(&password, passwords::dummy_hash()))
            .await
    }
}

/// Hashes a new password (creation, reset, change) within the hashing bound.
pub async fn hash_password(state: &AppState, password: String) -> Result<String, AppError> {
    state.hashing.permit().await?.hash(password).await
}

// ---- login rate limits (per instance) ----

/// Login attempts allowed per client address and per account name in a window (0: no
/// limit). Counted in memory **per instance**: they bound the work one instance does for
/// one source. The lock-out, kept in the database, is what holds across instances.
#[derive(Debug, Clone, Copy)]
pub struct LoginRate {
    pub per_ip: u32,
    pub per_account: u32,
    pub window_secs: i64,
}

impl Default for LoginRate {
    fn default() -> Self {
        LoginRate {
            per_ip: 30,
            per_account: 10,
            window_secs: 60,
        }
    }
}

/// Keys kept before expired windows are swept; past it, new keys are let through
/// uncounted rather than growing without bound (the lock-out and the hashing bound hold).
const MAX_KEYS: usize = 100_000;

/// A fixed window per key: its start and the attempts counted in it.
pub struct KeyedWindow {
    limit: u32,
    window_micros: i64,
    counts: Mutex<HashMap<String, (i64, u32)>>,
}

impl KeyedWindow {
    pub fn new(limit: u32, window_secs: i64) -> KeyedWindow {
        KeyedWindow {
            limit,
            window_micros: window_secs.max(1) * 1_000_000,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt, or answers how many seconds until the key's window ends.
    pub fn take(&self, key: &str, now: i64) -> Result<(), u64> {
        if self.limit == 0 {
            return Ok(());
        }
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() >= MAX_KEYS && !counts.contains_key(key) {
            counts.retain(|_, (start, _)| *start + self.window_micros > now);
            if counts.len() >= MAX_KEYS {
                return Ok(());
            }
        }
        let entry = counts.entry(key.to_string()).or_insert((now, 0));
        if entry.0 + self.window_micros <= now {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            let left = entry.0 + self.window_micros - now;
            return Err(((left + 999_999) / 1_000_000).max(1) as u64);
        }
        entry.1 += 1;
        Ok(())
    }

    /// A successful login does not use up the budget (a hall of clerks behind one address
    /// signing in at 8:30 is not an attack).
    pub fn give_back(&self, key: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = counts.get_mut(key) {
            entry.1 = entry.1.saturating_sub(1);
        }
    }
}

/// The per-address and per-account windows of one instance.
pub struct LoginLimits {
    per_ip: KeyedWindow,
    per_account: KeyedWindow,
}

/// The attempt counted for one login, handed back when it succeeds.
struct LoginTicket {
    ip: String,
    account: String,
}

impl LoginLimits {
    pub fn new(rate: LoginRate) -> LoginLimits {
        LoginLimits {
            per_ip: KeyedWindow::new(rate.per_ip, rate.window_secs),
            per_account: KeyedWindow::new(rate.per_account, rate.window_secs),
        }
    }

    fn take(&self, ip: Option<IpAddr>, username: &str, now: i64) -> Result<LoginTicket, AppError> {
        let ip = ip.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
        // Usernames are at most 32 characters; a longer key is no account's.
        let account: String = username.trim().chars().take(64).collect();
        self.per_ip
            .take(&ip, now)
            .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })?;
        if let Err(retry_after_secs) = self.per_account.take(&account, now) {
            self.per_ip.give_back(&ip);
            return Err(AppError::RateLimited { retry_after_secs });
        }
        Ok(LoginTicket { ip, account })
    }

    fn give_back(&self, ticket: &LoginTicket) {
        self.per_ip.give_back(&ticket.ip);
        self.per_account.give_back(&ticket.account);
    }
}

/// The caller's address: the connection's peer, or — only when the operator said a proxy
/// in front is trusted — the last `X-Forwarded-For` entry (the one our proxy added; the
/// ones before it are whatever the client sent).
pub fn client_ip(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<&ConnectInfo<SocketAddr>>,
) -> Option<IpAddr> {
    if state.config.trust_proxy {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .last()
            .and_then(|v| v.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer.map(|ConnectInfo(addr)| addr.ip())
}

// ---- login ----

/// One answer for a wrong password, an unknown name, an inactive or a locked account, so
/// the answer never tells which accounts exist or are locked (issue 8, finding 7).
pub const BAD_CREDENTIALS: &str =
    "用户名或密码错误，或账号已被暂时锁定。请核对后重试，多次失败请稍后再试或联系管理员";

fn bad_credentials() -> AppError {
    AppError::Login {
        code: "invalid_credentials",
        message: BAD_CREDENTIALS.into(),
    }
}

/// Checks credentials within the rate limits, the hashing bound and the lock-out, and
/// opens a session.
pub async fn login(
    state: &AppState,
    client: Option<IpAddr>,
    username: &str,
    password: &str,
) -> Result<(User, sessions::NewSession), AppError> {
    let ticket = state.login_limits.take(client, username, state.now())?;
    let result = check_and_open(state, username, password).await;
    if result.is_ok() {
        state.login_limits.give_back(&ticket);
    }
    result
}

/// The lock-out's order: reserve an attempt in the database, *then* check the password,
/// so parallel guesses cannot all be checked (issue 8, finding 3). Every refusal does one
/// Argon2 check (real or dummy), so it takes about the same time whatever the reason.
/// The password is verified outside any write transaction, so a slow hash never holds
/// the database's write lock.
async fn check_and_open(
    state: &AppState,
    username: &str,
    password: &str,
) -> Result<(User, sessions::NewSession), AppError> {
    // Longer than any account's name or password can be: refused before any lookup or
    // hashing (a 1 MB password is not hashed). This tells nothing about any account.
    if passwords::too_long(password) || username.trim().len() > 64 {
        return Err(bad_credentials());
    }
    // The hashing slot first: a check that could not run (503) must not use up one of the
    // account's attempts.
    let permit = state.hashing.permit().await?;
    let policy = state.config.lockout;
    let found = {
        let mut conn = state.store.reader().acquire().await?;
        users::find_for_login(&mut conn, username).await?
    };
    let reserved = match &found {
        Some((user, _)) => {
            let mut tx = state.store.begin().await?;
            let attempt =
                users::reserve_login_attempt(&mut tx, user.id, state.now(), policy).await?;
            tx.commit().await?;
            attempt
        }
        None => None,
    };
    let (Some((user, hash)), Some(attempt)) = (found, reserved) else {
        // Unknown, inactive or locked, or every attempt of the window is taken.
        permit.verify_dummy(password.to_string()).await?;
        return Err(bad_credentials());
    };
    state.hashing.account_checks.fetch_add(1, Ordering::SeqCst);
    let ok = permit.verify(password.to_string(), hash).await?;
    let mut tx = state.store.begin().await?;
    if !ok {
        users::record_failed_login(&mut tx, &state.change(user.who()), &user, attempt, policy)
            .await?;
        tx.commit().await?;
        return Err(bad_credentials());
    }
    users::record_login(&mut tx, &state.change(user.who()), &user).await?;
    let session =
        sessions::create(&mut tx, user.id, state.now(), state.config.session_ttl_secs).await?;
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
    // An over-long current password is wrong without hashing it.
    if passwords::too_long(current)
        || !state
            .hashing
            .permit()
            .await?
            .verify(current.to_string(), hash)
            .await?
    {
        errors.add("current_password", "wrong", "当前密码不正确");
    }
    errors.into_result()?;
    let new_hash = hash_password(state, new.to_string()).await?;
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
        next: safe_next(next),
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

async fn login_form(
    State(state): State<AppState>,
    ctx: Ctx,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    form: FormData,
) -> PageResult {
    let (username, next) = (form.get("username"), form.get("next"));
    let client = client_ip(&state, &headers, peer.as_deref());
    match login(&state, client, username, form.get("password")).await {
        Ok((user, session)) => {
            let headers = session_cookies(&state, &user, &session.token);
            Ok((headers, Redirect::to(&safe_next(next))).into_response())
        }
        // Refused, limited or busy: the form again, with the reason beside it.
        Err(
            e @ (AppError::Login { .. } | AppError::RateLimited { .. } | AppError::Busy { .. }),
        ) => {
            let (status, retry_after) = (e.status(), e.retry_after());
            let mut res = login_view(&state, &ctx, Some(e.to_string()), next, username)?;
            *res.status_mut() = status;
            Ok(AppError::with_retry_after(retry_after, res))
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
    let refused = !errors.is_empty();
    render_form(
        &PasswordPage {
            chrome: Chrome::new(&state, &ctx, "修改密码"),
            errors,
            done,
        },
        refused,
    )
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
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Response> {
    let client = client_ip(&state, &headers, peer.as_deref());
    let (user, session) = login(&state, client, &body.username, &body.password).await?;
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
