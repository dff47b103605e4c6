//! Resource limits every request is held to: a body size (larger for the upload routes)
//! and a time to answer (not the display screens' event stream, which is meant to stay
//! open). Both are settings (`--max-body-bytes`, `--request-timeout-secs`); refusals are
//! `AppError`s, so the API answers problem+json and pages a Chinese error page.

use crate::error::AppError;
use crate::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

/// Default body limit: far above any form or JSON body of the product (a full case
/// intake is a few KiB), small enough that a flood of bodies cannot exhaust memory.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Default time to answer one request.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 60;

/// Routes that take file uploads (catalog and calendar imports) and keep the upload limit.
const UPLOAD_ROUTES: [&str; 4] = [
    "/admin/catalog",
    "/api/v1/catalog/import",
    "/admin/calendar",
    "/api/v1/calendar/import",
];

/// The routes that take photos from a phone camera: the report form, an event's act form
/// (the handling's after-photos) and the API's photo upload.
fn is_grid_photo_form(path: &str) -> bool {
    let under = |prefix: &str, suffix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
    };
    path == "/grid/report"
        || under("/grid/events/", "/act")
        || under("/api/v1/grid/events/", "/photos")
}

/// The body limit for `path`: uploads get [`crate::form::MAX_UPLOAD_BYTES`] (or the
/// general limit when that was set higher).
pub fn body_limit_for(max_body_bytes: usize, path: &str) -> usize {
    if UPLOAD_ROUTES.contains(&path) || is_grid_photo_form(path) {
        max_body_bytes.max(crate::form::MAX_UPLOAD_BYTES)
    } else {
        max_body_bytes
    }
}

/// The display screen's server-sent events: a response that never ends by design.
fn is_event_stream(path: &str) -> bool {
    path.strip_prefix("/halls/")
        .and_then(|rest| rest.strip_suffix("/events"))
        .is_some_and(|hall| !hall.contains('/'))
}

fn reject(path: &str, e: AppError) -> Response {
    if path.starts_with("/api/") {
        e.into_problem()
    } else {
        e.into_page()
    }
}

/// Refuses a declared `Content-Length` over the limit before reading anything, and caps
/// a body without one (chunked) as it is read: the reader then fails with a length-limit
/// error (axum's extractors answer it 413; `ApiJson` as problem+json).
pub async fn body_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let limit = body_limit_for(state.config.max_body_bytes, &path);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return reject(&path, AppError::PayloadTooLarge { limit });
    }
    let mut req = req.map(|b| Body::new(http_body_util::Limited::new(b, limit)));
    req.extensions_mut().insert(BodyLimit(limit));
    next.run(req).await
}

/// The limit [`body_limit`] applied, for extractors that report a body cut short.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Answers 408 when the handler has not answered within the configured time. The event
/// stream is exempt: its response starts at once and then stays open for hours.
pub async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if is_event_stream(&path) {
        return next.run(req).await;
    }
    match tokio::time::timeout(state.config.request_timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(path = %path, "request timed out");
            reject(&path, AppError::Timeout)
        }
    }
}

/// Public submissions (the fallback window's online form; later the complaint form): a
/// budget per address and per phone number in a fixed window, so one machine or one number
/// cannot flood the officers' lists. No CAPTCHA service is needed.
pub struct SubmitLimits {
    per_ip: crate::auth::KeyedWindow,
    per_phone: crate::auth::KeyedWindow,
}

/// Submissions an address may make an hour (a hall's shared terminal included).
pub const SUBMISSIONS_PER_IP_HOUR: u32 = 20;
/// Submissions one phone number may make an hour.
pub const SUBMISSIONS_PER_PHONE_HOUR: u32 = 5;

impl Default for SubmitLimits {
    fn default() -> Self {
        SubmitLimits {
            per_ip: crate::auth::KeyedWindow::new(SUBMISSIONS_PER_IP_HOUR, 3600),
            per_phone: crate::auth::KeyedWindow::new(SUBMISSIONS_PER_PHONE_HOUR, 3600),
        }
    }
}

impl SubmitLimits {
    /// Counts one submission from `ip` for `phone`, or the seconds until it may be tried
    /// again. A submission refused as invalid is given back ([`Self::give_back`]).
    pub fn take(&self, ip: &str, phone: &str, now: i64) -> Result<(), u64> {
        self.per_ip.take(ip, now)?;
        let phone = phone.trim();
        if !phone.is_empty() {
            if let Err(wait) = self.per_phone.take(phone, now) {
                self.per_ip.give_back(ip);
                return Err(wait);
            }
        }
        Ok(())
    }

    /// A submission refused for a field the person can correct does not use up the budget:
    /// a resident retyping a phone number at the hall's shared terminal is not a flood.
    pub fn give_back(&self, ip: &str, phone: &str) {
        self.per_ip.give_back(ip);
        let phone = phone.trim();
        if !phone.is_empty() {
            self.per_phone.give_back(phone);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_keep_the_larger_limit() {
        assert_eq!(body_limit_for(1024, "/api/v1/users"), 1024);
        assert_eq!(
            body_limit_for(1024, "/api/v1/catalog/import"),
            crate::form::MAX_UPLOAD_BYTES
        );
        assert_eq!(body_limit_for(usize::MAX, "/admin/catalog"), usize::MAX);
    }

    #[test]
    fn only_the_event_stream_is_exempt_from_the_timeout() {
        assert!(is_event_stream("/halls/1/events"));
        assert!(!is_event_stream("/halls/1/display"));
        assert!(!is_event_stream("/halls/1/x/events"));
        assert!(!is_event_stream("/api/v1/halls/1/events"));
    }

    #[test]
    fn submissions_are_limited_per_address_and_per_phone() {
        let limits = super::SubmitLimits::default();
        for _ in 0..super::SUBMISSIONS_PER_PHONE_HOUR {
            assert_eq!(limits.take("10.0.0.1", "13800138000", 0), Ok(()));
        }
        assert_eq!(limits.take("10.0.0.2", "13800138000", 1_000_000), Err(3599));
        assert_eq!(limits.take("10.0.0.2", "13900139000", 1_000_000), Ok(()));
        assert_eq!(
            limits.take("10.0.0.2", "13800138000", 3_600_000_000),
            Ok(())
        );
    }
}
