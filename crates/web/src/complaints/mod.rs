//! 接诉即办 (SPEC C6): pages and API. Operations are shared by the pages and the API of
//! each part; the rules are `onewindow_domain::complaints`, the records
//! `onewindow_store::complaints`.
//!
//! - [`requests`]: intake (phone, window, web, 12345 push), the duplicate check and the
//!   suggestion, the acts of the loop, the person's tracking and rating (API).
//! - [`pages`]: the phone intake form, the dispatcher board, one request with its chain
//!   and next steps, the department inbox (shared with the fallback window's tasks).
//! - [`public`]: the resident's pages: report a request, follow it, rate the reply.
//! - [`reference`]: the category tree (editable), retraining the suggestion, 民情收集.
//! - [`figures`]: the rates per department and category, the monthly ranking.

pub mod figures;
pub mod pages;
pub mod public;
pub mod reference;
pub mod requests;

use crate::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(requests::router())
        .merge(pages::router())
        .merge(public::router())
        .merge(reference::router())
        .merge(figures::router())
}
