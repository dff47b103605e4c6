//! 办不成事 fallback window: the records of `onewindow_domain::fallback`.
//!
//! - [`cases`]: intake, the acts of the closed loop, department tasks, meetings, experts
//!   invited, the chain of events; each act in one transaction with its engine step, its
//!   audit entry and its rollup rows.
//! - [`reference`]: the negative list (versioned), tags, department liaisons, the expert pool.
//! - [`library`]: the case library (anonymised, searchable) and policy suggestions.
//! - [`figures`]: the figures from the daily rollup, the ledger, the hall screen's counts.
//! - [`rollup`]: the daily counters every act writes.
//! - [`demo`]: the demo's cases at every stage.

pub mod cases;
pub mod demo;
pub mod figures;
pub mod library;
pub mod reference;
pub mod rollup;
