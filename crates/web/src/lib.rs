//! onewindow's HTTP layer: axum router, request context, one error type, pages and API.
//!
//! A request flows: security headers → metrics → timeout → request id → trace span →
//! body limit → [`context::middleware`] (resolves
//! the session or API key, checks CSRF on writes, reads the large-text preference) → the
//! capability's router → a thin handler that calls the capability's operation (authorize,
//! one transaction, audit) → JSON or an askama page.

pub mod apikeys;
pub mod audit_log;
pub mod auth;
pub mod calendar_admin;
pub mod cases;
pub mod catalog;
pub mod catalog_form;
pub mod chrome;
pub mod complaints;
pub mod context;
pub mod error;
pub mod escalation;
pub mod fallback;
pub mod fees;
pub mod figures;
pub mod form;
pub mod grants;
pub mod grid;
pub mod home;
pub mod inbox;
pub mod limits;
pub mod lists;
pub mod materials;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod orgs;
pub mod pages;
pub mod paging;
pub mod qr;
pub mod queue;
pub mod ratings;
pub mod users;
pub mod validate;
pub mod visits;
pub mod xlsx;

use axum::Router;
use onewindow_store::clock::Clock;
use onewindow_store::users::Lockout;
use onewindow_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, AppError, PageError};

/// Settings the web layer needs; all have safe defaults.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Demo mode shows the demo accounts on the login page.
    pub demo: bool,
    /// Mark cookies `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    pub session_ttl_secs: i64,
    pub lockout: Lockout,
    /// Password hashes that may run at once (each Argon2 check holds 19 MiB): the cores.
    pub hash_slots: usize,
    /// How long a login or password change waits for a hashing slot before answering 503.
    pub hash_wait: Duration,
    /// Login attempts per client address and per account name (per instance).
    pub login_rate: auth::LoginRate,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_proxy: bool,
    /// Largest request body (`--max-body-bytes`); upload routes accept more.
    pub max_body_bytes: usize,
    /// Time to answer one request (`--request-timeout-secs`); not the event stream.
    pub request_timeout: Duration,
    /// With a token, `/metrics` answers only to `Authorization: Bearer <token>`;
    /// without one, only to loopback clients (`--metrics-token`).
    pub metrics_token: Option<String>,
    /// Where residents reach the product (`--public-url`), printed on receipts and notices.
    pub public_url: Option<String>,
    /// The SMS gateway messages to residents go to (`--sms-webhook-url`); none: recorded only.
    pub sms_webhook: Option<inbox::SmsWebhook>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            demo: false,
            secure_cookies: false,
            session_ttl_secs: 12 * 3600,
            lockout: Lockout::default(),
            hash_slots: std::thread::available_parallelism().map_or(2, |n| n.get()),
            hash_wait: Duration::from_secs(5),
            login_rate: auth::LoginRate::default(),
            trust_proxy: false,
            max_body_bytes: limits::DEFAULT_MAX_BODY_BYTES,
            request_timeout: Duration::from_secs(limits::DEFAULT_REQUEST_TIMEOUT_SECS),
            metrics_token: None,
            public_url: None,
            sms_webhook: None,
        }
    }
}

/// Everything a handler can reach. Cheap to clone; holds no per-user state, so any number
/// of instances can serve the same database.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<WebConfig>,
    pub metrics: Arc<metrics::Metrics>,
    /// Queue events for the live display screens of this instance.
    pub queue_events: tokio::sync::broadcast::Sender<onewindow_store::queue::QueueEvent>,
    /// The last queue event id broadcast (SQLite: one writer, so ids commit in order).
    pumped: Arc<tokio::sync::Mutex<Option<i64>>>,
    /// The working-day calendar, reloaded only when its stored revision moves.
    calendar: Arc<onewindow_store::calendar::CalendarCache>,
    /// The bound on concurrent password hashing (this instance).
    pub hashing: Arc<auth::HashGate>,
    /// Login rate limits per address and per account name (this instance).
    pub login_limits: Arc<auth::LoginLimits>,
    /// Failed lookups by case number and query code (tracking, online rating) per case
    /// number (this instance): the query code cannot be guessed by trying.
    pub lookup_limits: Arc<auth::KeyedWindow>,
    /// Public submissions per address and per phone number (this instance).
    pub submit_limits: Arc<limits::SubmitLimits>,
    /// The department suggestion's model last read from the store (this instance).
    pub complaint_model: Arc<onewindow_store::complaints::suggest::ModelCache>,
}

impl AppState {
    pub fn new(store: Store, clock: Arc<dyn Clock>, config: WebConfig) -> AppState {
        AppState {
            hashing: Arc::new(auth::HashGate::new(config.hash_slots, config.hash_wait)),
            login_limits: Arc::new(auth::LoginLimits::new(config.login_rate)),
            lookup_limits: Arc::new(auth::KeyedWindow::new(
                crate::cases::LOOKUP_FAILURES_PER_MINUTE,
                60,
            )),
            submit_limits: Arc::new(limits::SubmitLimits::default()),
            complaint_model: Arc::default(),
            store,
            clock,
            config: Arc::new(config),
            metrics: Arc::new(metrics::Metrics::default()),
            queue_events: tokio::sync::broadcast::channel(4096).0,
            pumped: Arc::new(tokio::sync::Mutex::new(None)),
            calendar: Arc::new(onewindow_store::calendar::CalendarCache::new()),
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The working-day calendar as stored now (cached while its revision is unchanged).
    pub async fn calendar(
        &self,
    ) -> Result<Arc<onewindow_domain::calendar::WorkCalendar>, onewindow_store::StoreError> {
        self.calendar.get(self.store.reader()).await
    }

    /// After a queue change commits: on SQLite, broadcast the new events to this
    /// instance's screens (on PostgreSQL the LISTEN relay does it for every instance).
    pub fn publish_local(&self, _hall_id: i64) {
        if self.store.backend() != onewindow_store::Backend::Sqlite {
            return;
        }
        let state = self.clone();
        tokio::spawn(async move {
            if let Err(e) = state.pump_events().await {
                tracing::warn!(error = %e, "queue event pump failed");
            }
        });
    }

    /// Broadcasts queue events newer than the last one sent (SQLite). The first call only
    /// places the cursor at the end of the log: what happened before start is history.
    async fn pump_events(&self) -> Result<(), onewindow_store::StoreError> {
        let mut last = self.pumped.lock().await;
        match *last {
            None => *last = Some(onewindow_store::queue::last_event_id(self.store.reader()).await?),
            Some(from) => {
                for e in onewindow_store::queue::events_since(self.store.reader(), from).await? {
                    *last = Some(e.id);
                    let _ = self.queue_events.send(e);
                }
            }
        }
        Ok(())
    }
}

/// What a page may load and who may frame it: only our own scripts, styles and
/// connections (no inline script or style anywhere in the templates), never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; \
     frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'";

/// The browser hardening headers every response carries (pages and API alike; a handler
/// that set its own keeps it).
fn security_headers() -> [(axum::http::HeaderName, axum::http::HeaderValue); 4] {
    use axum::http::{header, HeaderValue};
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ),
    ]
}

/// The whole application: every capability's router plus the shared layers.
pub fn router(state: AppState) -> Router {
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    let app = Router::new()
        .merge(ops::router())
        .merge(pages::router())
        .merge(auth::router())
        .merge(home::router())
        .merge(orgs::router())
        .merge(users::router())
        .merge(grants::router())
        .merge(figures::router())
        .merge(apikeys::router())
        .merge(audit_log::router())
        .merge(validate::router())
        .merge(catalog::router())
        .merge(materials::router())
        .merge(cases::router())
        .merge(fees::router())
        .merge(calendar_admin::router())
        .merge(queue::router())
        .merge(escalation::router())
        .merge(inbox::router())
        .merge(ratings::router())
        .merge(fallback::router())
        .merge(complaints::router())
        .merge(grid::router())
        .merge(openapi::router())
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            context::middleware,
        ))
        // `limits::body_limit` bounds every body; axum's own 2 MB default would otherwise
        // cap uploads below their limit.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::body_limit,
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        // Inside metrics, so a request that timed out is counted (as 408).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::middleware,
        ))
        // Outside the timeout and the limits, so their 408 and 413 leave /api/ as
        // problem+json too, and pages' as pages in the layout.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            error::page_errors,
        ))
        .layer(axum::middleware::from_fn(error::api_problems));
    security_headers()
        .into_iter()
        .fold(app, |app, (name, value)| {
            app.layer(SetResponseHeaderLayer::if_not_present(name, value))
        })
        .with_state(state)
}

/// Serves the app on `listener` until `shutdown` completes, then lets in-flight requests
/// finish. Used by `onewindow serve` and by the tests (on port 0).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if state.store.backend() == onewindow_store::Backend::Postgres {
        queue::spawn_pg_relay(state.clone()).await;
    } else {
        // Start the cursor at the current end of the log.
        let _ = state.pump_events().await;
    }
    // With the peer address: login is rate-limited per client, `/metrics` may answer
    // loopback clients only.
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Periodic, idempotent upkeep: the deadline job every minute (overdue marks, lapsed 容缺
/// cases) and expired sessions every hour. Safe with several instances: every step is a
/// conditional update only one runner can win.
pub fn spawn_housekeeping(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        let mut minutes = 0u64;
        loop {
            tick.tick().await;
            if let Err(e) = queue::mark_no_shows(&state).await {
                tracing::warn!(error = %e, "no-show marking failed");
            }
            match calendar_admin::catch_up_pending(&state).await {
                Ok(n) if n > 0 => tracing::info!(computed = n, "pending deadlines computed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pending deadlines failed"),
            }
            match cases::run_deadline_job(&state).await {
                Ok(run) if !run.marked_overdue.is_empty() || !run.lapsed.is_empty() => {
                    tracing::info!(
                        overdue = run.marked_overdue.len(),
                        lapsed = run.lapsed.len(),
                        "deadline job"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "deadline job failed"),
            }
            match escalation::run_job(&state).await {
                Ok(run) if !run.is_empty() => tracing::info!(
                    warned = run.warned.len(),
                    escalated = run.escalated.len(),
                    "escalation job"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "escalation job failed"),
            }
            match ratings::run_invitations(&state).await {
                Ok(sent) if !sent.is_empty() => {
                    tracing::info!(invited = sent.len(), "rating invitations")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "rating invitations failed"),
            }
            if let Err(e) = inbox::deliver_outbox(&state).await {
                tracing::warn!(error = %e, "outbox delivery failed");
            }
            minutes += 1;
            if minutes % 60 != 1 {
                continue;
            }
            let purge = async {
                let mut tx = state.store.begin().await?;
                let n = onewindow_store::sessions::purge_expired(&mut tx, state.now()).await?;
                tx.commit().await?;
                Ok::<u64, onewindow_store::StoreError>(n)
            };
            match purge.await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "expired sessions removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "session purge failed"),
            }
        }
    })
}

impl AppState {
    /// The audit context of a change made now by `who`.
    pub fn change(&self, who: onewindow_store::audit::Who) -> onewindow_store::audit::Change {
        onewindow_store::audit::Change {
            backend: self.store.backend(),
            at: self.now(),
            who,
        }
    }
}
