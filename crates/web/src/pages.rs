//! Shared page plumbing: the public front page, 404, the large-text switch, HTML escaping.

use crate::chrome::Chrome;
use crate::context::{safe_next, set_cookie, Ctx, LARGE_TEXT_COOKIE};
use crate::error::{AppError, PageResult};
use crate::form::FormData;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use onewindow_store::users;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/prefs/large-text", post(large_text))
}

/// Renders a template into a response.
pub fn render<T: Template>(t: &T) -> PageResult {
    Ok(Html(t.render().map_err(AppError::from)?).into_response())
}

/// Renders a form page: 200 when it is shown to be filled in, 422 when it comes back
/// `refused` with its errors beside the fields (and what was typed kept). Every form page
/// answers through this, so a refused submission never reads as a success.
pub fn render_form<T: Template>(t: &T, refused: bool) -> PageResult {
    let mut res = render(t)?;
    if refused {
        *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    chrome: Chrome,
    /// Service halls with a queue: (id, name), for booking and the display.
    halls: Vec<(i64, String)>,
}

async fn index(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    render(&IndexPage {
        chrome: Chrome::new(&state, &ctx, "首页"),
        halls: onewindow_store::queue::halls(state.store.reader()).await?,
    })
}

pub async fn not_found(ctx: Option<axum::Extension<Ctx>>) -> Response {
    match ctx {
        Some(axum::Extension(ctx)) if ctx.path.starts_with("/api/") => {
            AppError::NoRoute.into_problem()
        }
        _ => AppError::NoRoute.into_page(),
    }
}

/// Switches large-text mode (适老化). Kept in a cookie for everyone and, for a signed-in
/// user, on the account too, so it follows them to another window or device.
///
/// The switch must not cost the page: with script on, `static/app.js` posts the form in
/// the background (asking for JSON) and flips the page's class in place, so a half-filled
/// form keeps what was typed; without script the form's `next` is the page's whole
/// address, path and query (`Chrome::path`), so a tracking result or an intake form for
/// an item comes back as it was.
async fn large_text(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: axum::http::HeaderMap,
    form: FormData,
) -> PageResult {
    let on = form.checked("on");
    if let Some(p) = &ctx.principal {
        let mut tx = state.store.begin().await?;
        users::set_large_text(&mut tx, &state.change(p.user.who()), &p.user, on).await?;
        tx.commit().await?;
    }
    let cookie = set_cookie(
        &state,
        LARGE_TEXT_COOKIE,
        if on { "1" } else { "0" },
        Some(400 * 86400),
        false,
    );
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.starts_with("application/json"));
    if wants_json {
        return Ok((
            [(header::SET_COOKIE, cookie)],
            axum::Json(serde_json::json!({ "large_text": on })),
        )
            .into_response());
    }
    Ok((
        [(header::SET_COOKIE, cookie)],
        Redirect::to(&safe_next(form.get("next"))),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
