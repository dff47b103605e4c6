//! onewindow's HTTP layer: axum router, request context, one error type, pages and API.
//!
//! A request flows: metrics → request id → trace span → [`context::middleware`] (resolves
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
pub mod context;
pub mod error;
pub mod form;
pub mod home;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod orgs;
pub mod pages;
pub mod queue;
pub mod users;
pub mod validate;
pub mod xlsx;

use axum::Router;
use onewindow_store::clock::Clock;
use onewindow_store::users::Lockout;
use onewindow_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
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
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            demo: false,
            secure_cookies: false,
            session_ttl_secs: 12 * 3600,
            lockout: Lockout::default(),
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
}

impl AppState {
    pub fn new(store: Store, clock: Arc<dyn Clock>, config: WebConfig) -> AppState {
        AppState {
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

/// The whole application: every capability's router plus the shared layers.
pub fn router(state: AppState) -> Router {
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    Router::new()
        .merge(ops::router())
        .merge(pages::router())
        .merge(auth::router())
        .merge(home::router())
        .merge(orgs::router())
        .merge(users::router())
        .merge(apikeys::router())
        .merge(audit_log::router())
        .merge(validate::router())
        .merge(catalog::router())
        .merge(cases::router())
        .merge(calendar_admin::router())
        .merge(queue::router())
        .merge(openapi::router())
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            context::middleware,
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
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::middleware,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        // Outermost, so even the timeout's 408 leaves /api/ as problem+json.
        .layer(axum::middleware::from_fn(error::api_problems))
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
        queue::spawn_pg_relay(state.clone());
    } else {
        // Start the cursor at the current end of the log.
        let _ = state.pump_events().await;
    }
    axum::serve(listener, router(state))
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
