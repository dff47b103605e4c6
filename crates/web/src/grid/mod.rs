//! 网格事件 (SPEC C7, issue 14): the staff API and the Open311 GeoReport v2 API. The rules
//! are `onewindow_domain::grid`, the records `onewindow_store::grid`.
//!
//! - [`areas`]: the street's grids and buildings (楼栋), imported from GeoJSON.
//! - [`events`]: report, list, one event with its chain and next acts, the acts, photos
//!   (the public copy GPS-free).
//! - [`categories`]: the event categories (Open311 services), page and API.
//! - [`figures`]: the rates per grid, community, street, department or category, page and
//!   API.
//! - [`pages`]: the dispatcher board with the grid map (server-rendered SVG) and one event
//!   with its chain and act forms.
//! - [`open311`]: `/open311/v2/…` in XML and JSON, keys from `api_keys`, errors in the
//!   spec's format.

pub mod areas;
pub mod categories;
pub mod events;
pub mod figures;
pub mod open311;
pub mod pages;

use crate::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(areas::router())
        .merge(categories::router())
        .merge(events::router())
        .merge(figures::router())
        .merge(open311::router())
        .merge(pages::router())
}
