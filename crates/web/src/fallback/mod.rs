//! 办不成事 fallback window (SPEC C5): pages and API. Operations are shared by the pages
//! and the API of each part; the rules are `onewindow_domain::fallback`, the records
//! `onewindow_store::fallback`.
//!
//! - [`cases`]: intake (window, phone, online, 12345 hand-overs), the acts of the loop,
//!   department tasks (the department inbox), the person's progress page.
//! - [`reference`]: the negative list (public page), tags, liaisons, the expert pool.
//! - [`library`]: the case library and policy suggestions.
//! - [`figures`]: figures, the ledger export, the hall screen, the monthly notice.

pub mod case_pages;
pub mod cases;
pub mod figures;
pub mod library;
pub mod reference;

use crate::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(cases::router())
        .merge(case_pages::router())
        .merge(reference::router())
        .merge(library::router())
        .merge(figures::router())
}
