//! One error type for every handler. API routes answer with `application/problem+json`
//! (stable `code`, failing `fields`); pages answer with a Chinese error page. Which one is
//! decided by the route's prefix, so handlers just use `?`.

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use onewindow_domain::access::Denied;
use onewindow_domain::validation::{FieldError, FieldErrors};
use onewindow_store::StoreError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("输入有误")]
    Invalid(FieldErrors),
    #[error("请先登录")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(Denied),
    #[error("页面或数据不存在")]
    NotFound,
    /// No route matches the path at all (distinct from a record that does not exist).
    #[error("页面或接口不存在")]
    NoRoute,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Login refused: wrong credentials or a locked account.
    #[error("{message}")]
    Login { code: &'static str, message: String },
    #[error("表单已过期，请刷新页面后重试")]
    Csrf,
    #[error("请求格式有误：{0}")]
    BadRequest(String),
    /// Too many password checks already waiting (hashing is bounded): 503 with Retry-After.
    #[error("系统繁忙，请稍后重试")]
    Busy { retry_after_secs: u64 },
    /// Too many login attempts from this address or for this account: 429 with Retry-After.
    #[error("登录尝试过于频繁，请{retry_after_secs}秒后再试")]
    RateLimited { retry_after_secs: u64 },
    /// The body is larger than the route accepts (`--max-body-bytes`, uploads more).
    #[error("提交的内容过大（不能超过{limit}字节）")]
    PayloadTooLarge { limit: usize },
    /// The request took longer than `--request-timeout-secs`.
    #[error("请求处理超时，请稍后重试")]
    Timeout,
    #[error("系统内部错误，请稍后重试")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> AppError {
        let mut e = FieldErrors::new();
        e.add(field, code, message);
        AppError::Invalid(e)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthenticated | AppError::Login { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::NotFound | AppError::NoRoute => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Timeout => StatusCode::REQUEST_TIMEOUT,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine code clients can switch on.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid(_) => "validation_failed",
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden(d) => d.code(),
            AppError::NotFound => "not_found",
            AppError::NoRoute => "no_route",
            AppError::Conflict { code, .. } | AppError::Login { code, .. } => code,
            AppError::Csrf => "csrf_failed",
            AppError::BadRequest(_) => "bad_request",
            AppError::Busy { .. } => "busy",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::PayloadTooLarge { .. } => "payload_too_large",
            AppError::Timeout => "timeout",
            AppError::Internal(_) => "internal",
        }
    }

    pub fn fields(&self) -> &[FieldError] {
        match self {
            AppError::Invalid(f) => &f.0,
            _ => &[],
        }
    }

    /// Seconds a client should wait before trying again (the `Retry-After` header).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::Busy { retry_after_secs } | AppError::RateLimited { retry_after_secs } => {
                Some(*retry_after_secs)
            }
            _ => None,
        }
    }

    /// Adds `Retry-After` to an error response when the error carries one.
    pub fn with_retry_after(retry_after: Option<u64>, mut res: Response) -> Response {
        if let Some(secs) = retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        res
    }

    fn log(&self) {
        if let AppError::Internal(e) = self {
            tracing::error!(error = ?e, "request failed");
        }
    }

    /// The problem+json body (RFC 9457).
    pub fn into_problem(self) -> Response {
        self.log();
        let retry_after = self.retry_after();
        let status = self.status();
        let body = json!({
            "type": format!("https://onewindow.invalid/problems/{}", self.code()),
            "title": self.to_string(),
            "status": status.as_u16(),
            "code": self.code(),
            "fields": self.fields(),
        });
        let res = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response();
        Self::with_retry_after(retry_after, res)
    }

    /// A plain Chinese error page. Pages with forms render their own errors inline; this
    /// is for everything else (403, 404, conflicts, failures).
    pub fn into_page(self) -> Response {
        self.log();
        if matches!(self, AppError::Unauthenticated) {
            return axum::response::Redirect::to("/login").into_response();
        }
        let status = self.status();
        let mut detail = String::new();
        for f in self.fields() {
            detail.push_str(&format!("<li>{}</li>", crate::pages::escape(&f.message)));
        }
        let body = format!(
            "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} - 一窗通办</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
             <body><main class=\"container\"><div class=\"notice notice-error\" role=\"alert\">\
             <h1>{title}</h1><p>错误代码：{status} {code}</p><ul>{detail}</ul>\
             <p><a href=\"/home\">返回工作台</a> · <a href=\"/\">返回首页</a></p></div></main></body></html>",
            title = crate::pages::escape(&self.to_string()),
            status = status.as_u16(),
            code = self.code(),
        );
        Self::with_retry_after(self.retry_after(), (status, Html(body)).into_response())
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Invalid(f) => AppError::Invalid(f),
            StoreError::Conflict { code, message } => AppError::Conflict { code, message },
            StoreError::Config(m) => AppError::Internal(anyhow::anyhow!(m)),
            StoreError::Db(e) => AppError::Internal(e.into()),
        }
    }
}

impl From<Denied> for AppError {
    fn from(d: Denied) -> Self {
        AppError::Forbidden(d)
    }
}

impl From<FieldErrors> for AppError {
    fn from(f: FieldErrors) -> Self {
        AppError::Invalid(f)
    }
}

impl From<sqlx_error::Error> for AppError {
    fn from(e: sqlx_error::Error) -> Self {
        AppError::from(StoreError::from(e))
    }
}

mod sqlx_error {
    pub use onewindow_store::SqlxError as Error;
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(e.into())
    }
}

/// API handlers return this: errors become problem+json.
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_problem()
    }
}

/// Page handlers return this: errors become an HTML page.
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.0.into_page()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
pub type PageResult<T = Response> = Result<T, PageError>;
