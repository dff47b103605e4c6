//! onewindow's pure domain: rules that hold whatever the storage, transport or clock.
//!
//! Invariant: nothing here does I/O or reads the time. Functions that depend on "now" take
//! it as an argument, so every rule is unit-tested beside its code without a database.

#[macro_use]
mod words;

/// Roles, permissions and organisation scope: who may do what, where.
pub mod access;
/// The applicant and agent of a case: identifiers checked, masked, and what a decider sees.
pub mod applicant;
/// The hash-chained audit log: hashing and chain verification.
pub mod audit;
/// The working-day calendar: holidays, make-up days, deadlines in working days.
pub mod calendar;
/// The case lifecycle: one explicit state machine for intake to issuance.
pub mod cases;
/// The service item catalog: items, materials, bundles, intake decisions, CSV.
pub mod catalog;
/// 接诉即办 complaints and requests: the loop from intake to callback, limits by urgency,
/// reopening, repeats, the rates; the department suggestion.
pub mod complaints;
/// What the window says after an act: the ticket or case named, and what became of it.
pub mod confirm;
/// The escalation engine's rules: stage deadlines, warnings, tiers, the job's next step.
pub mod escalation;
/// 办不成事 fallback window: the closed loop, first-contact ownership, coordination rounds,
/// refusal reports, the negative list, the case library.
pub mod fallback;
/// Fees: an item's fee, payments and refunds of a case, its balance, the daily cash-up.
pub mod fees;
pub mod figures;
/// 网格事件: grids and their polygons, the event loop 发现—派单—处置—反馈, categories and
/// their extra fields, the figures, Open311 GeoReport v2 documents, photos without GPS.
pub mod grid;
/// Resident ID numbers, unified social credit codes, mobile numbers; masking.
pub mod ids;
/// The material catalogue: documents with stable ids that items' material lists refer to.
pub mod materials;
/// The organisation tree and its materialised paths.
pub mod org;
/// The three places of a case (intake, decision, handout), its channel, and 补录.
pub mod places;
/// Queue tickets, window calling, appointments and waiting-time estimates.
pub mod queue;
/// 好差评: levels, who may rate when, rectification, appeals, figures.
pub mod ratings;
/// Field-level validation errors shared by every capability.
pub mod validation;
/// Visits per case (跑动次数) and 一次办结.
pub mod visits;
