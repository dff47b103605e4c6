//! Per-request context, resolved once by [`middleware`]: who is calling (session cookie or
//! API key), the CSRF token, and the large-text preference. Also the one CSRF check for
//! every state-changing request, so no handler can forget it.

use crate::error::{ApiError, AppError, PageError};
use crate::AppState;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use onewindow_domain::access::{authorize, Actor, Permission};
use onewindow_domain::org::OrgPath;
use onewindow_store::users::User;
use onewindow_store::{apikeys, sessions};

pub const SESSION_COOKIE: &str = "ow_session";
pub const CSRF_COOKIE: &str = "ow_csrf";
pub const LARGE_TEXT_COOKIE: &str = "ow_large";
pub const CSRF_FIELD: &str = "_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    /// A browser session: the cookie token (needed to log out) and its CSRF token.
    Session {
        token: String,
        csrf: String,
    },
    ApiKey,
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub via: Via,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        self.user.actor()
    }

    /// The authorisation rule applied to data belonging to `target`.
    pub fn authorize(&self, permission: Permission, target: &OrgPath) -> Result<(), AppError> {
        authorize(&self.actor(), permission, target).map_err(AppError::from)
    }

    /// The rule for a record addressed by id: out of scope answers exactly like a record
    /// that does not exist (404), so ids of other communities' records cannot be probed.
    /// A missing role stays 403: it says nothing about the record.
    pub fn authorize_visible(
        &self,
        permission: Permission,
        target: &OrgPath,
    ) -> Result<(), AppError> {
        match authorize(&self.actor(), permission, target) {
            Ok(()) => Ok(()),
            Err(onewindow_domain::access::Denied::Scope) => Err(AppError::NotFound),
            Err(d) => Err(AppError::Forbidden(d)),
        }
    }

    /// Role check alone, for screens that list within the caller's own scope.
    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        self.authorize(permission, &self.user.org_path.clone())
    }

    pub fn session_token(&self) -> Option<&str> {
        match &self.via {
            Via::Session { token, .. } => Some(token),
            Via::ApiKey => None,
        }
    }
}

/// What every handler may read about the request.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub principal: Option<Principal>,
    pub csrf_token: String,
    pub large_text: bool,
    pub path: String,
    /// The query string as sent (without `?`), so a page can name itself whole.
    pub query: String,
    /// Unread notices of the signed-in user, for the page header (`inbox`); pages only.
    pub unread: Option<i64>,
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value with the flags every cookie of ours carries.
pub fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    max_age_secs: Option<i64>,
    http_only: bool,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; SameSite=Lax");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if state.config.secure_cookies {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age_secs {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).expect("cookie value is ASCII")
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
}

fn reject(path: &str, e: AppError) -> Response {
    if is_api(path) {
        e.into_problem()
    } else {
        e.into_page()
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Requests that may change data without a CSRF token: the JSON login (nothing to forge
/// yet; browsers cannot send cross-site JSON without a CORS preflight, which we never grant),
/// and Open311 (third-party clients post forms with their `api_key`; those handlers never
/// read the session, so a forged post carries no authority).
fn csrf_exempt(path: &str) -> bool {
    path == "/api/v1/login" || path.starts_with("/open311/")
}

pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/static/") || path == "/healthz" || path == "/metrics" {
        return next.run(req).await;
    }
    let now = state.now();
    let headers = req.headers().clone();

    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let resolved = async {
        let mut conn = state
            .store
            .reader()
            .acquire()
            .await
            .map_err(AppError::from)?;
        if let Some(key) = bearer {
            match apikeys::authenticate(&mut conn, key.trim()).await? {
                Some(user) => {
                    return Ok::<_, AppError>(Some(Principal {
                        user,
                        via: Via::ApiKey,
                    }))
                }
                None => return Err(AppError::Unauthenticated),
            }
        }
        if let Some(token) = cookie(&headers, SESSION_COOKIE) {
            if let Some((user, csrf)) = sessions::lookup(&mut conn, token, now).await? {
                let token = token.to_string();
                return Ok(Some(Principal {
                    user,
                    via: Via::Session { token, csrf },
                }));
            }
        }
        Ok(None)
    }
    .await;
    let principal = match resolved {
        Ok(p) => p,
        Err(e) => return reject(&path, e),
    };

    let session_csrf = match &principal {
        Some(Principal {
            via: Via::Session { csrf, .. },
            ..
        }) => Some(csrf.clone()),
        _ => None,
    };
    let anon_csrf = cookie(&headers, CSRF_COOKIE).map(str::to_string);
    let (csrf_token, new_csrf_cookie) = match (&session_csrf, &anon_csrf) {
        (Some(c), _) => (c.clone(), false),
        (None, Some(c)) if c.len() == 64 => (c.clone(), false),
        _ => (sessions::random_token(), true),
    };

    let large_text = match cookie(&headers, LARGE_TEXT_COOKIE) {
        Some(v) => v == "1",
        None => principal.as_ref().is_some_and(|p| p.user.large_text),
    };

    let mut req = req;
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let via_key = matches!(
        principal,
        Some(Principal {
            via: Via::ApiKey,
            ..
        })
    );
    // Anonymous JSON needs no token: there is no ambient authority to abuse, and browsers
    // cannot send cross-site JSON without a CORS preflight, which we never grant.
    let anonymous_json = principal.is_none()
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json"));
    if unsafe_method && !via_key && !anonymous_json && !csrf_exempt(&path) {
        let header_token = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        let ok = if let Some(t) = header_token {
            constant_time_eq(t, &csrf_token)
        } else if headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
        {
            let (parts, body) = req.into_parts();
            let bytes = match axum::body::to_bytes(body, 2 * 1024 * 1024).await {
                Ok(b) => b,
                Err(_) => {
                    return reject(
                        &path,
                        AppError::PayloadTooLarge {
                            limit: crate::limits::body_limit_for(
                                state.config.max_body_bytes,
                                &path,
                            ),
                        },
                    )
                }
            };
            let form = crate::form::FormData::parse(&bytes);
            let ok = constant_time_eq(form.get(CSRF_FIELD), &csrf_token);
            req = Request::from_parts(parts, Body::from(bytes));
            ok
        } else if headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("multipart/form-data"))
        {
            // File uploads: the token is a form field like any other; read the body once,
            // find the field, and hand the same bytes on to the handler.
            let (parts, body) = req.into_parts();
            let bytes = match axum::body::to_bytes(body, crate::form::MAX_UPLOAD_BYTES).await {
                Ok(b) => b,
                Err(_) => {
                    return reject(
                        &path,
                        AppError::PayloadTooLarge {
                            limit: crate::limits::body_limit_for(
                                state.config.max_body_bytes,
                                &path,
                            ),
                        },
                    )
                }
            };
            let token = crate::form::multipart_field(&parts.headers, bytes.clone(), CSRF_FIELD)
                .await
                .unwrap_or_default();
            req = Request::from_parts(parts, Body::from(bytes));
            constant_time_eq(&token, &csrf_token)
        } else {
            false
        };
        if !ok {
            return reject(&path, AppError::Csrf);
        }
    }

    let unread = match &principal {
        Some(p) if *req.method() == Method::GET && crate::inbox::shows_unread(&path) => {
            crate::inbox::unread(&state, p).await.ok()
        }
        _ => None,
    };
    let ctx = Ctx {
        principal,
        csrf_token: csrf_token.clone(),
        large_text,
        path: path.clone(),
        query: req.uri().query().unwrap_or("").to_string(),
        unread,
    };
    req.extensions_mut().insert(ctx.clone());
    let mut res = next.run(req).await;
    // Error pages are drawn in the layout by `error::page_errors`, for this caller.
    if res.status().is_client_error() || res.status().is_server_error() {
        res.extensions_mut().insert(ctx);
    }
    if new_csrf_cookie {
        res.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&state, CSRF_COOKIE, &csrf_token, None, true),
        );
    }
    res
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Ctx>().cloned().ok_or_else(|| {
            PageError(AppError::Internal(anyhow::anyhow!(
                "context middleware missing"
            )))
        })
    }
}

/// A logged-in caller of a page; anonymous visitors are sent to the login page.
pub struct PageUser(pub Principal, pub Ctx);

impl<S: Send + Sync> FromRequestParts<S> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Self::Rejection> {
        let ctx = Ctx::from_request_parts(parts, s)
            .await
            .map_err(IntoResponse::into_response)?;
        match ctx.principal.clone() {
            Some(p) => Ok(PageUser(p, ctx)),
            None => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/home");
                let to = format!("/login?next={}", urlencode(next));
                Err(axum::response::Redirect::to(&to).into_response())
            }
        }
    }
}

/// A logged-in caller of the API (session or API key); otherwise 401 problem+json.
pub struct ApiUser(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Ctx>()
            .and_then(|c| c.principal.clone())
            .map(ApiUser)
            .ok_or(ApiError(AppError::Unauthenticated))
    }
}

pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)])
        .map(|v| v[2..].to_string())
        .unwrap_or_default()
}

/// The origin `next` values are resolved against. Any fixed origin works: only whether the
/// joined URL keeps it matters, and the path and query are what we hand back.
const OWN_ORIGIN: &str = "http://onewindow.invalid/";

/// Longer `next` values are not ours (our own paths are short): refused, not truncated.
pub const MAX_NEXT_LEN: usize = 2048;

/// A control character (C0, DEL, C1) or a backslash. Browsers drop tab/CR/LF from a
/// `Location` (so `/\t/evil.example` becomes `//evil.example`) and read `\` as `/`, and
/// CR/LF/DEL cannot go into a header at all.
fn unsafe_char(c: char) -> bool {
    c.is_control() || c == '\\'
}

/// Where to send the caller after login or a preference switch: the path and query of
/// `next` if, joined to our own origin as a browser would, it stays on that origin and
/// carries no control character or backslash (raw or percent-encoded); else `/home`.
/// The result is always a valid header value starting with one `/` (never `//` or `/\`).
pub fn safe_next(next: &str) -> String {
    const HOME: &str = "/home";
    if next.is_empty()
        || next.len() > MAX_NEXT_LEN
        || next.chars().any(unsafe_char)
        || percent_encoding::percent_decode_str(next)
            .decode_utf8_lossy()
            .chars()
            .any(unsafe_char)
    {
        return HOME.into();
    }
    let origin = url::Url::parse(OWN_ORIGIN).expect("own origin parses");
    let Ok(joined) = origin.join(next) else {
        return HOME.into();
    };
    if joined.origin() != origin.origin()
        || !joined.username().is_empty()
        || joined.password().is_some()
    {
        return HOME.into();
    }
    let mut out = joined.path().to_string();
    if let Some(q) = joined.query() {
        out.push('?');
        out.push_str(q);
    }
    // `/.//evil.example` joins to the path `//evil.example`, which a browser would read as
    // another host: the path itself must not look like one.
    if out.starts_with("//") || out.starts_with("/\\") || !out.starts_with('/') {
        return HOME.into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_same_site_only() {
        assert_eq!(safe_next("/admin/users"), "/admin/users");
        assert_eq!(safe_next("/cases?state=open&p=2"), "/cases?state=open&p=2");
        assert_eq!(safe_next("//evil.example"), "/home");
        assert_eq!(safe_next("https://evil.example"), "/home");
        assert_eq!(safe_next("/\\evil"), "/home");
        assert_eq!(safe_next(""), "/home");
    }

    /// The cases from issue 8, finding 2, and their relatives.
    #[test]
    fn next_refuses_what_browsers_would_follow_elsewhere() {
        for bad in [
            "/\t/evil.example/x",
            "/%09/evil.example/x",
            "/\r\n/evil.example",
            "/%0d%0a/evil.example",
            "/%0D%0ASet-Cookie:%20x=1",
            "/x\u{7f}",
            "/x%7F",
            "/%5cevil.example",
            "/%5C%5Cevil.example",
            "\\\\evil.example",
            "/\u{0}x",
            "/%00x",
            "/\u{85}x",
            "/.//evil.example/x",
            "/..//evil.example",
            "///evil.example",
            "https:evil.example",
            "http://onewindow.invalid@evil.example/",
            "http://evil.example/home",
            "javascript:alert(1)",
            "data:text/html,x",
            "http://user@onewindow.invalid/x",
        ] {
            assert_eq!(safe_next(bad), "/home", "{bad:?}");
        }
        assert_eq!(
            safe_next(&format!("/{}", "a".repeat(MAX_NEXT_LEN))),
            "/home"
        );
    }

    #[test]
    fn next_is_normalised_to_a_header_safe_path() {
        // Non-ASCII is percent-encoded (it could not go into a Location header raw).
        assert_eq!(safe_next("/guide?q=户籍"), "/guide?q=%E6%88%B7%E7%B1%8D");
        assert_eq!(safe_next("/a/../admin/users"), "/admin/users");
        assert_eq!(safe_next("/cases#top"), "/cases");
        assert_eq!(safe_next("home"), "/home");
        assert_eq!(safe_next("/"), "/");
        // Our own origin written out is still ours.
        assert_eq!(safe_next("//onewindow.invalid/x"), "/x");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// For any input: `/home`, or one `/` then neither `/` nor `\\`, no control
        /// character, a valid header value, and it stays on our origin when joined.
        #[test]
        fn next_is_always_a_local_path(next in proptest::prelude::any::<String>()) {
            check_local(&safe_next(&next));
        }

        /// The same, for inputs built from the characters that make redirects dangerous.
        #[test]
        fn next_is_local_for_tricky_inputs(
            next in "[/\\\\.:@%?#a-z0-9\t\r\n\u{7f}\u{0}-]{0,24}"
        ) {
            check_local(&safe_next(&next));
        }
    }

    fn check_local(out: &str) {
        if out == "/home" {
            return;
        }
        assert!(out.starts_with('/'), "{out:?}");
        let second = out.chars().nth(1);
        assert!(second != Some('/') && second != Some('\\'), "{out:?}");
        assert!(!out.chars().any(|c| c.is_control()), "{out:?}");
        assert!(HeaderValue::from_str(out).is_ok(), "{out:?}");
        let origin = url::Url::parse(OWN_ORIGIN).unwrap();
        assert_eq!(
            origin.join(out).unwrap().origin(),
            origin.origin(),
            "{out:?}"
        );
    }

    #[test]
    fn cookies_parse() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; ow_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "zzz"), None);
    }
}
