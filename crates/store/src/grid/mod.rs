//! 网格事件 (issue 14): the records of `onewindow_domain::grid`.
//!
//! - [`geometry`]: grids imported from GeoJSON (checked by the domain), stored with their
//!   bounding boxes; a point assigned to its grid through `GridIndex`; grid workers.
//! - [`categories`]: event categories (Open311 services) with their limits and attributes.
//! - [`events`]: the report, every act through `next_state` and `may_act` in one
//!   transaction with its engine step, chain entry, audit entry and rollup counters; photos
//!   (the public copy GPS-stripped); duplicates near; the reads Open311 answers from.
//! - [`figures`]: the rates from the daily rollup, per grid, community, street, department
//!   and category.
//! - [`demo`]: the demo street's grids, categories and events in several states.

pub mod categories;
pub mod demo;
pub mod events;
pub mod figures;
pub mod geometry;
