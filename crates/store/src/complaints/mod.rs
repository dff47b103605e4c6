//! 接诉即办 requests: the records of `onewindow_domain::complaints`.
//!
//! - [`requests`]: intake from every channel, the duplicate check, the acts of the loop
//!   (派单、签收、退单、答复、回访、合并), the chain of events; each act in one transaction
//!   with its engine step, its audit entry, the messages to the person and its rollup rows.
//! - [`categories`]: the category tree with default departments and help text.
//! - [`suggest`]: the department suggestion's model, trained from the stored history.
//! - [`figures`]: the rates from the daily rollup, per department and category, the ranking.
//! - [`problems`]: 民情收集 — needs marked on requests, problems, projects.
//! - [`demo`]: the demo's requests in every state.

pub mod categories;
pub mod demo;
pub mod figures;
pub mod problems;
pub mod requests;
pub mod suggest;
