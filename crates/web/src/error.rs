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
    /// Refused by a rule about this record and this person (首接负责: not your case).
    #[error("{message}")]
    NotYours { code: &'static str, message: String },
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
    /// Too many failed lookups of one case number (tracking, rating): 429 with Retry-After.
    #[error("查询次数过多，请{retry_after_secs}秒后再试")]
    TooManyLookups { retry_after_secs: u64 },
    /// Too many public submissions from this address or for this phone number: 429.
    #[error("提交过于频繁，请{}后再试；急事请拨打12345", wait_words(*retry_after_secs))]
    TooManySubmissions { retry_after_secs: u64 },
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
            AppError::Forbidden(_) | AppError::NotYours { .. } | AppError::Csrf => {
                StatusCode::FORBIDDEN
            }
            AppError::NotFound | AppError::NoRoute => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::RateLimited { .. }
            | AppError::TooManyLookups { .. }
            | AppError::TooManySubmissions { .. } => StatusCode::TOO_MANY_REQUESTS,
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
            AppError::Conflict { code, .. }
            | AppError::Login { code, .. }
            | AppError::NotYours { code, .. } => code,
            AppError::Csrf => "csrf_failed",
            AppError::BadRequest(_) => "bad_request",
            AppError::Busy { .. } => "busy",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::TooManyLookups { .. } => "too_many_lookups",
            AppError::TooManySubmissions { .. } => "too_many_submissions",
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
            AppError::Busy { retry_after_secs }
            | AppError::RateLimited { retry_after_secs }
            | AppError::TooManyLookups { retry_after_secs }
            | AppError::TooManySubmissions { retry_after_secs } => Some(*retry_after_secs),
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

    /// The error page. Pages with forms render their own errors inline; this is for
    /// everything else (403, 404, conflicts, failures). The response carries a
    /// [`PageProblem`], which [`page_errors`] renders in the site's layout for whoever
    /// asked; the bare page in the body is only what a router without that layer shows.
    pub fn into_page(self) -> Response {
        self.log();
        if matches!(self, AppError::Unauthenticated) {
            return axum::response::Redirect::to("/login").into_response();
        }
        let problem = PageProblem {
            status: self.status(),
            code: self.code().to_string(),
            message: self.to_string(),
            details: self.fields().iter().map(|f| f.message.clone()).collect(),
        };
        let mut res = (problem.status, Html(problem.bare_page())).into_response();
        res.extensions_mut().insert(problem);
        Self::with_retry_after(self.retry_after(), res)
    }
}

// ---- error pages ------------------------------------------------------------------------

/// What an error page says for each code: a plain heading, and what the person can do
/// next. The one table of the site's error wording; the error's own message (Chinese,
/// from [`AppError`]'s `Display`) stands under the heading. Codes not listed (the many
/// conflict codes, each with its own message) take their status's row.
const PAGE_TEXT: &[(&str, &str, &str)] = &[
    (
        "validation_failed",
        "填写的内容需要修改",
        "请按下面的提示修改后重新提交。",
    ),
    ("unauthenticated", "请先登录", "请登录后再继续办理。"),
    (
        "forbidden_role",
        "您的岗位不能使用此功能",
        "如确需使用，请联系本单位系统管理员调整您的角色。",
    ),
    (
        "forbidden_scope",
        "该数据不在您的管辖范围内",
        "您只能查看和办理本机构及下级机构的数据；如有疑问，请联系系统管理员。",
    ),
    (
        "forbidden_level",
        "事项目录由市、区两级维护",
        "街道、社区可以查看事项目录；需要修改时，请联系区级系统管理员。",
    ),
    (
        "forbidden",
        "您的岗位不能使用此功能",
        "如确需使用，请联系本单位系统管理员调整您的角色。",
    ),
    (
        "not_found",
        "没有找到要查看的内容",
        "它可能已被删除，或者链接有误。请返回上一页重新查找。",
    ),
    (
        "no_route",
        "没有这个页面",
        "请检查网址是否完整，或从首页重新进入。",
    ),
    (
        "csrf_failed",
        "页面已过期",
        "为了您的安全，页面打开较久后提交会失效。请返回上一页，刷新后重新提交。",
    ),
    (
        "invalid_credentials",
        "登录没有成功",
        "请核对用户名和密码后重新登录。",
    ),
    (
        "locked",
        "账号已被暂时锁定",
        "请稍后再试，或联系系统管理员解除锁定。",
    ),
    (
        "version_conflict",
        "内容已被他人修改",
        "请返回上一页并刷新，看过最新内容后再修改。",
    ),
    (
        "conflict",
        "操作没有完成",
        "相关信息可能已经变化。请返回上一页，刷新后查看最新情况。",
    ),
    (
        "bad_request",
        "无法处理这个请求",
        "请返回上一页重试；如果反复出现，请联系系统管理员。",
    ),
    (
        "method_not_allowed",
        "不能这样打开此页面",
        "请从页面上的链接或按钮进入。",
    ),
    (
        "unsupported_media_type",
        "无法处理这个请求",
        "请返回上一页重试；如果反复出现，请联系系统管理员。",
    ),
    (
        "payload_too_large",
        "提交的内容过大",
        "请减少内容或拆分文件后重新提交。",
    ),
    ("timeout", "处理超时", "系统这次没能及时完成，请稍后重试。"),
    ("rate_limited", "尝试次数过多", "为了账号安全，请稍后再试。"),
    (
        "too_many_submissions",
        "提交过于频繁",
        "同一台设备或同一个手机号码一小时内提交次数有限，请到上面所说的时间后再提交；急事可直接到窗口或拨打12345。",
    ),
    ("busy", "系统繁忙", "请稍等片刻后重试。"),
    (
        "internal",
        "系统出了点问题",
        "请稍后重试；如果问题持续，请联系系统管理员，并说明出错的时间和页面。",
    ),
];

/// The heading and the advice for `code` (with `status` deciding for unlisted codes).
pub fn page_text(code: &str, status: StatusCode) -> (&'static str, &'static str) {
    let row = |c: &str| PAGE_TEXT.iter().find(|(k, _, _)| *k == c);
    let by_status = match status.as_u16() {
        400 => "bad_request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "no_route",
        405 => "method_not_allowed",
        408 => "timeout",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "validation_failed",
        429 => "rate_limited",
        503 => "busy",
        _ => "internal",
    };
    let (_, heading, advice) = row(code)
        .or_else(|| row(by_status))
        .expect("every status has a row");
    (heading, advice)
}

/// An error a page route answered, for [`page_errors`] to render in the layout.
#[derive(Debug, Clone)]
pub struct PageProblem {
    pub status: StatusCode,
    /// The stable code (kept as a `data-code` attribute, never as the text).
    pub code: String,
    /// The error's own Chinese sentence.
    pub message: String,
    /// Field messages of a refused input.
    pub details: Vec<String>,
}

impl PageProblem {
    /// An error answered before or around a handler (an extractor's rejection, 405, 413,
    /// 408): only its status is known.
    fn from_status(status: StatusCode) -> PageProblem {
        let (code, message) = match status.as_u16() {
            400 => ("bad_request", "网址或提交的内容格式有误"),
            403 => ("forbidden", "无权执行此操作"),
            404 => ("no_route", "页面或接口不存在"),
            405 => ("method_not_allowed", "此页面不支持这种打开方式"),
            408 => ("timeout", "请求处理超时，请稍后重试"),
            413 => ("payload_too_large", "提交的内容过大"),
            415 => ("unsupported_media_type", "提交的内容类型不受支持"),
            422 => ("validation_failed", "提交的内容有误"),
            429 => ("rate_limited", "请求过于频繁，请稍后重试"),
            503 => ("busy", "系统繁忙，请稍后重试"),
            s if s >= 500 => ("internal", "系统内部错误，请稍后重试"),
            _ => ("bad_request", "请求有误"),
        };
        PageProblem {
            status,
            code: code.into(),
            message: message.into(),
            details: vec![],
        }
    }

    /// A page without the layout, for a router that lacks [`page_errors`].
    fn bare_page(&self) -> String {
        let (heading, advice) = page_text(&self.code, self.status);
        let details: String = self
            .details
            .iter()
            .map(|d| format!("<li>{}</li>", crate::pages::escape(d)))
            .collect();
        format!(
            "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{heading} - 一窗通办</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
             <body><main class=\"container\"><h1>{heading}</h1><div class=\"notice notice-error\" role=\"alert\">\
             <p>{message}</p><ul>{details}</ul></div><p>{advice}</p>\
             <p><a href=\"/home\">返回工作台</a> · <a href=\"/\">返回首页</a></p></main></body></html>",
            message = crate::pages::escape(&self.message),
        )
    }
}

#[derive(askama::Template)]
#[template(path = "error_page.html")]
struct ErrorPage {
    chrome: crate::chrome::Chrome,
    status: u16,
    code: String,
    heading: &'static str,
    message: String,
    details: Vec<String>,
    advice: &'static str,
    /// Where 返回上一页 leads without script: the page the person came from, if ours.
    back: String,
}

/// Renders every error a page route answers in the site's layout, for whoever asked:
/// the errors of handlers ([`PageProblem`]) and what is answered before or around them
/// (an extractor's rejection, 405, 413, 408) alike. Pages that render their own errors
/// (a form with its messages) are HTML already and pass untouched, as does everything
/// under `/api/` (problem+json, [`api_problems`]). A layer, so no page route can answer
/// a bare technical page. Installed outside the request context, whose chrome it reads
/// from the response (`context::middleware` hands it on with every error).
pub async fn page_errors(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/api/")
        || path.starts_with("/open311/")
        || path.starts_with("/static/")
        || path == "/healthz"
        || path == "/metrics"
    {
        return next.run(req).await;
    }
    let query = req.uri().query().unwrap_or("").to_string();
    let headers = req.headers().clone();
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let problem = match res.extensions().get::<PageProblem>() {
        Some(p) => p.clone(),
        None => {
            let content_type = res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if content_type.starts_with("text/html")
                || content_type.starts_with("text/event-stream")
            {
                return res;
            }
            PageProblem::from_status(status)
        }
    };
    let ctx = res
        .extensions()
        .get::<crate::context::Ctx>()
        .cloned()
        .unwrap_or_else(|| crate::context::Ctx {
            principal: None,
            csrf_token: crate::context::cookie(&headers, crate::context::CSRF_COOKIE)
                .unwrap_or("")
                .to_string(),
            large_text: crate::context::cookie(&headers, crate::context::LARGE_TEXT_COOKIE)
                == Some("1"),
            path: path.clone(),
            query,
            unread: None,
        });
    let (heading, advice) = page_text(&problem.code, status);
    let back = back_link(&headers);
    let mut chrome = crate::chrome::Chrome::new(&state, &ctx, heading);
    // The page does not name what was asked for (an id outside one's scope reads exactly
    // like a missing one); switching the text size without script returns where one was.
    chrome.path = back.clone();
    let page = ErrorPage {
        chrome,
        status: status.as_u16(),
        code: problem.code.clone(),
        heading,
        message: problem.message.clone(),
        details: problem.details.clone(),
        advice,
        back,
    };
    let Ok(body) = askama::Template::render(&page) else {
        return res;
    };
    let (mut parts, _) = res.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// The page the person came from (the `Referer`, when it is one of ours), else the front
/// page.
fn back_link(headers: &axum::http::HeaderMap) -> String {
    let Some(referer) = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
    else {
        return "/".into();
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = referer.host_str().map(|h| match referer.port() {
        Some(p) => format!("{h}:{p}"),
        None => h.to_string(),
    });
    if host.is_none() || origin_host.as_deref() != host {
        return "/".into();
    }
    let mut out = referer.path().to_string();
    if let Some(q) = referer.query() {
        out.push('?');
        out.push_str(q);
    }
    crate::context::safe_next(&out)
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Invalid(f) => AppError::Invalid(f),
            StoreError::Conflict { code, message } => AppError::Conflict { code, message },
            StoreError::Forbidden { code, message } => AppError::NotYours { code, message },
            StoreError::Config(m) => AppError::Internal(anyhow::anyhow!(m)),
            StoreError::Db(e) => AppError::Internal(e.into()),
            StoreError::CommitFailed(m) => AppError::Internal(anyhow::anyhow!(m)),
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

/// Makes every error answer under `/api/` problem+json, whoever produced it. Handlers'
/// own errors already are and pass through untouched; this catches what is answered
/// before or around a handler: axum's extractor rejections (text/plain), 405 from the
/// method router (empty body; its `Allow` header is kept), 413 from body limits, 408 from
/// the timeout layer. A layer rather than one extractor per kind, so a new handler cannot
/// forget it. Installed outermost in `router()`, so it also sees the timeout's answer.
pub async fn api_problems(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path().to_string();
    let api = path.starts_with("/api/");
    let res = next.run(req).await;
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !api || is_problem || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let (parts, body) = res.into_parts();
    // The rejection's own text names what could not be read; beyond 8 KiB it is not a
    // rejection message, and the problem is still right without it.
    let text = axum::body::to_bytes(body, 8 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let mut out = rejection_problem(status, &path, &text);
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

/// The problem for an HTTP-level error: a stable code per status, a Chinese title, the
/// field named when axum's rejection names one (a path or query parameter), and the
/// technical reason as `detail`.
fn rejection_problem(status: StatusCode, path: &str, text: &str) -> Response {
    let (code, title) = match status.as_u16() {
        400 => ("bad_request", "请求格式有误"),
        401 => ("unauthenticated", "请先登录"),
        403 => ("forbidden", "无权执行此操作"),
        404 => ("no_route", "页面或接口不存在"),
        405 => ("method_not_allowed", "该接口不支持此请求方法"),
        408 => ("timeout", "请求处理超时，请稍后重试"),
        413 => ("payload_too_large", "请求内容过大"),
        415 => ("unsupported_media_type", "请求内容类型不受支持"),
        422 => ("validation_failed", "输入有误"),
        429 => ("too_many_requests", "请求过于频繁，请稍后重试"),
        503 => ("unavailable", "服务繁忙，请稍后重试"),
        s if s >= 500 => ("internal", "系统内部错误，请稍后重试"),
        _ => ("bad_request", "请求格式有误"),
    };
    let fields = rejected_field(path, text)
        .map(|(field, message)| {
            let mut e = FieldErrors::new();
            e.add(&field, "invalid", message);
            e.0
        })
        .unwrap_or_default();
    let detail = text.trim();
    let mut body = json!({
        "type": format!("https://onewindow.invalid/problems/{code}"),
        "title": title,
        "status": status.as_u16(),
        "code": code,
        "fields": fields,
    });
    if !detail.is_empty() {
        body["detail"] = json!(detail);
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// The parameter an axum `Path`/`Query` rejection names, with a Chinese message. The
/// shapes are axum's (0.8): "Failed to deserialize query string: FIELD: reason",
/// "… Cannot parse `KEY` with value `VALUE` …" and, for a lone parameter, "Cannot parse
/// `VALUE` to a `TYPE`" — whose name is then read from the documented path template.
fn rejected_field(path: &str, text: &str) -> Option<(String, String)> {
    if let Some(rest) = text.strip_prefix("Failed to deserialize query string: ") {
        if let Some(name) = backticked(rest, "missing field ") {
            return Some((name.clone(), format!("缺少参数 {name}")));
        }
        let (field, _) = rest.split_once(": ")?;
        return Some((field.to_string(), format!("参数 {field} 的值无效")));
    }
    let i = text.find("Cannot parse `")?;
    let first = backticked(&text[i..], "Cannot parse ")?;
    let key = if text[i..].contains("` with value `") {
        first
    } else {
        lone_path_parameter(path)?
    };
    Some((key.clone(), format!("路径参数 {key} 的值无效")))
}

/// The one `{parameter}` of the documented path template `path` matches, if exactly one.
fn lone_path_parameter(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let paths = crate::openapi::document().get("paths")?.as_object()?;
    paths.keys().find_map(|template| {
        let t: Vec<&str> = template.split('/').collect();
        let fits = t.len() == segments.len()
            && t.iter()
                .zip(&segments)
                .all(|(t, s)| t == s || t.starts_with('{'));
        let mut params = t.iter().filter(|t| t.starts_with('{'));
        match (fits, params.next(), params.next()) {
            (true, Some(p), None) => Some(p.trim_matches(['{', '}']).to_string()),
            _ => None,
        }
    })
}

/// `name` in "…{prefix}`name`…".
fn backticked(text: &str, prefix: &str) -> Option<String> {
    let rest = &text[text.find(prefix)? + prefix.len()..];
    let rest = rest.strip_prefix('`')?;
    Some(rest[..rest.find('`')?].to_string())
}

/// A wait in the words a resident reads: seconds under two minutes, else minutes.
fn wait_words(secs: u64) -> String {
    if secs < 120 {
        format!("{secs}秒")
    } else {
        format!("{}分钟", secs.div_ceil(60))
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use axum::Router;
    use std::time::Duration;
    use tower::ServiceExt;

    /// The timeout layer answers 408 with an empty body; under /api/ it becomes a problem.
    #[tokio::test]
    async fn a_timeout_under_api_is_problem_json() {
        let app = Router::new()
            .route(
                "/api/slow",
                get(|| async { tokio::time::sleep(Duration::from_secs(5)).await }),
            )
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_millis(10),
            ))
            .layer(axum::middleware::from_fn(super::api_problems));
        let res = app
            .oneshot(Request::get("/api/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let body = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["code"], "timeout");
        assert_eq!(problem["status"], 408);
    }

    #[test]
    fn rejections_name_their_parameter() {
        let q = super::rejected_field(
            "/api/v1/calendar/due",
            "Failed to deserialize query string: n: invalid digit found in string",
        );
        assert_eq!(q.unwrap().0, "n");
        let q = super::rejected_field(
            "/api/v1/calendar/due",
            "Failed to deserialize query string: missing field `date`",
        );
        assert_eq!(q.unwrap().0, "date");
        let p = super::rejected_field("/api/v1/orgs/abc", "Cannot parse `abc` to a `i64`");
        assert_eq!(p.unwrap().0, "id");
        let p = super::rejected_field(
            "/api/v1/queue/halls/x/classes/A",
            "Invalid URL: Cannot parse `hall` with value `x` to a `i64`",
        );
        assert_eq!(p.unwrap().0, "hall");
    }
}
