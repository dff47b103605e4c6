//! 网格事件 (SPEC C7, issue 14; street-reform seed 001 §5.1): the closed loop
//! 网格发现—街道派单—部门处置—结果反馈 as pure rules. The store keeps events, photos and
//! their chain (一事件一链); the escalation engine times the stages; the web serves pages and
//! the Open311 GeoReport v2 API ([`open311`]). Grid polygons and the assignment of a place
//! to its grid are [`geometry`]; photos are checked and stripped of GPS in [`photo`].
//!
//! The loop is [`State`]; every act is an [`Act`] whose order only [`next_state`] decides,
//! and who may take it only [`may_act`] decides:
//!
//! ```text
//! reported ──dispatch──▶ dispatched ──sign──▶ signed ──start──┐
//!    │  ▲                    │                  │             ▼
//!    │  └──── not_ours ──────┴──────────────────┘        in_progress ◀── reopen ──┐
//!    ├─community_takes─▶ handled_by_community ──start──────────▲ │                 │
//!    │                                                           handle            │
//!    └─reject_duplicate─▶ rejected_duplicate                       ▼               │
//!                                                   handled ──────────────────────┘
//!                                                      │ confirm
//!                                                      ▼
//!                                                  confirmed ──close──▶ closed
//! ```
//!
//! The community route (seed §5.1: "社区可联合综合执法队现场处置，无需层层请示") skips the
//! street's dispatch: the community takes the event itself, and the event records that route
//! ([`Route::Community`]) so figures and the chain tell the two apart. Taking it is the
//! community's signing for it. A department that finds the event is not its business returns
//! it with a reason (`not_ours`): back to `reported`, for the street to dispatch again; the
//! public reads 退回重派. A reopened event goes back to the same handler, and the count of
//! reopenings is kept (the reopen rate counts events, not reopenings).
//!
//! Time limits (seed §3.2 "1日内响应、3日内办结": 日, calendar days, not working days) are
//! the stages of [`event_kind`]: `respond` from the report until the handler signs for it
//! (or the community takes it), `close` from the report (anchored at the report, not at the
//! signing) until the street closes it. Each category carries its own limits
//! ([`Category::respond`], [`Category::close`]), any of hours, calendar or working days.

pub mod geometry;
pub mod open311;
pub mod photo;

use crate::access::Role;
use crate::escalation::{DeadlineRule, KindSpec, StageSpec, Tier, MAX_AMOUNT};
use crate::figures::Rate;
use crate::validation::{FieldErrors, TextLimit};
use serde::{Deserialize, Serialize};

words! {
    /// Where an event stands in the loop.
    pub enum State {
        /// Found and reported (by a grid worker, a resident or an Open311 client); waiting
        /// for the street to dispatch it — or back here after a department returned it.
        Reported = ("reported", "已上报"),
        /// 派单: sent to a lead department (with co-handlers, if any); not yet signed for.
        Dispatched = ("dispatched", "已派单"),
        /// The community took it directly with the enforcement team (社区直接处置): the
        /// street's dispatch skipped. Counts as signed for.
        HandledByCommunity = ("handled_by_community", "社区直接处置"),
        /// 签收 by the lead department.
        Signed = ("signed", "已签收"),
        /// Being handled on site (处置中), also after a reopening.
        InProgress = ("in_progress", "处置中"),
        /// The handler replied with after-photos; the reporter is to confirm.
        Handled = ("handled", "已处置待确认"),
        /// The reporter confirmed the result; the street is to close it.
        Confirmed = ("confirmed", "已确认"),
        /// 办结: the loop is closed.
        Closed = ("closed", "已办结"),
        /// A duplicate of an earlier event, linked to it (重复上报).
        RejectedDuplicate = ("rejected_duplicate", "重复已合并"),
    }
}

impl State {
    pub fn is_final(self) -> bool {
        matches!(self, State::Closed | State::RejectedDuplicate)
    }

    /// The engine stage the state is timed by: `respond` until someone has signed for the
    /// event, `close` after, none once final.
    pub fn stage(self) -> Option<&'static str> {
        match self {
            State::Reported | State::Dispatched => Some(STAGE_RESPOND),
            State::HandledByCommunity
            | State::Signed
            | State::InProgress
            | State::Handled
            | State::Confirmed => Some(STAGE_CLOSE),
            State::Closed | State::RejectedDuplicate => None,
        }
    }
}

words! {
    /// How the event is being handled.
    pub enum Route {
        /// 街道派单: the street dispatched it to a department.
        Street = ("street", "街道派单"),
        /// 社区直接处置: the community handles it with the enforcement team.
        Community = ("community", "社区直接处置"),
    }
}

words! {
    /// Who reported the event.
    pub enum ReporterKind {
        GridWorker = ("grid_worker", "网格员"),
        Resident = ("resident", "居民"),
        /// A third-party 311 client through the Open311 API.
        Open311 = ("open311", "Open311客户端"),
    }
}

words! {
    /// Who may see an event: public events are listed over Open311 and on public pages
    /// (photos only in their GPS-free copies); private ones (a neighbour dispute, a person's
    /// home) only to staff.
    pub enum Visibility {
        Public = ("public", "公开"),
        Private = ("private", "不公开"),
    }
}

words! {
    /// The words the public reads: richer than Open311's open/closed, poorer than the
    /// loop's states (signed and dispatched look alike from outside).
    pub enum PublicStatus {
        Reported = ("reported", "已上报"),
        Dispatched = ("dispatched", "已派单"),
        InProgress = ("in_progress", "处置中"),
        Handled = ("handled", "已处置待确认"),
        Closed = ("closed", "已办结"),
        Duplicate = ("duplicate", "重复已合并"),
        /// Returned by a department, waiting for the street to dispatch it again.
        Redispatch = ("redispatch", "退回重派"),
    }
}

words! {
    /// Open311 GeoReport v2's two statuses ("open: it has been reported. closed: it has
    /// been resolved.").
    pub enum Open311Status {
        Open = ("open", "未办结"),
        Closed = ("closed", "已办结"),
    }
}

/// The public's words for an event in `state`, `returns` times returned by a department.
pub fn public_status(state: State, returns: u32) -> PublicStatus {
    match state {
        State::Reported if returns > 0 => PublicStatus::Redispatch,
        State::Reported => PublicStatus::Reported,
        State::Dispatched | State::Signed => PublicStatus::Dispatched,
        State::HandledByCommunity | State::InProgress => PublicStatus::InProgress,
        State::Handled => PublicStatus::Handled,
        State::Confirmed | State::Closed => PublicStatus::Closed,
        State::RejectedDuplicate => PublicStatus::Duplicate,
    }
}

/// Our state as Open311's status. `closed` means resolved: confirmed by the reporter (the
/// street's closing is book-keeping that follows), closed, or a duplicate (the spec's own
/// example answers a duplicate with `closed` and the note "Duplicate request."). Everything
/// else is `open` — `handled` too, since the reporter may still reopen it.
pub fn open311_status(state: State) -> Open311Status {
    match state {
        State::Confirmed | State::Closed | State::RejectedDuplicate => Open311Status::Closed,
        _ => Open311Status::Open,
    }
}

/// The states an Open311 status filter asks for (`GET requests?status=open`).
pub fn states_with_status(status: Open311Status) -> Vec<State> {
    State::ALL
        .iter()
        .copied()
        .filter(|s| open311_status(*s) == status)
        .collect()
}

words! {
    /// A grid worker's place in a grid (seed §5.1, §7.1: one full-time worker hired by the
    /// street, two part-time ones from party members and volunteers). A worker may belong to
    /// several grids.
    pub enum WorkerRole {
        FullTime = ("full_time", "专职网格员"),
        PartTime = ("part_time", "兼职网格员"),
    }
}

/// The seed's grid: about 300 households, one full-time and two part-time grid workers.
pub const HOUSEHOLDS_PER_GRID: u32 = 300;
pub const FULL_TIME_PER_GRID: usize = 1;
pub const PART_TIME_PER_GRID: usize = 2;

/// What a grid lacks against the seed's staffing, in words (empty: fully staffed).
pub fn staffing_gaps(workers: &[WorkerRole]) -> Vec<String> {
    let count = |r| workers.iter().filter(|w| **w == r).count();
    [
        (WorkerRole::FullTime, FULL_TIME_PER_GRID),
        (WorkerRole::PartTime, PART_TIME_PER_GRID),
    ]
    .into_iter()
    .filter(|(r, want)| count(*r) < *want)
    .map(|(r, want)| format!("缺{}{}名", r.label(), want - count(r)))
    .collect()
}

/// An open event as the duplicate warning compares it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearbyEvent {
    pub id: i64,
    pub category_id: i64,
    pub state: State,
    /// WGS84 (lon, lat).
    pub at: (f64, f64),
}

/// The events a new report of `category_id` at `at` (lon, lat) may repeat: open events of
/// the same category within `within_m` metres, nearest first (the dispatcher board's
/// warning; merging is the dispatcher's decision, never automatic).
pub fn possible_duplicates(
    category_id: i64,
    at: (f64, f64),
    open: &[NearbyEvent],
    within_m: f64,
) -> Vec<(i64, f64)> {
    let mut near: Vec<(i64, f64)> = open
        .iter()
        .filter(|e| e.category_id == category_id && !e.state.is_final())
        .map(|e| {
            // distance_m takes (lat, lon).
            let d = crate::complaints::distance_m((at.1, at.0), (e.at.1, e.at.0));
            (e.id, d)
        })
        .filter(|(_, d)| *d <= within_m)
        .collect();
    near.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    near
}

/// Open311's `expected_datetime`: when an event of `category` reported at `reported_at`
/// (UTC microseconds) is due to be closed — `None` while the deadline reaches into a year
/// the calendar does not have (never a guessed date).
pub fn close_due(
    category: &Category,
    cal: &crate::calendar::WorkCalendar,
    reported_at: crate::escalation::Micros,
) -> Option<crate::escalation::Micros> {
    match category.close.schedule(cal, reported_at, 0).ok()? {
        crate::escalation::Schedule::Due { due_at, .. } => Some(due_at),
        crate::escalation::Schedule::Pending { .. } => None,
    }
}

/// Co-handling departments of one event at most.
pub const MAX_CO_HANDLERS: usize = 10;
/// After-photos one handling may carry at most.
pub const MAX_PHOTOS: u32 = 9;

/// Free-text limits of the loop's acts and of categories.
pub const DESCRIPTION: TextLimit = TextLimit::multi_line(4000);
pub const REPLY: TextLimit = TextLimit::multi_line(2000);
pub const REASON: TextLimit = TextLimit::multi_line(500);
pub const NOTE: TextLimit = TextLimit::multi_line(500);
pub const CATEGORY_NAME: TextLimit = TextLimit::one_line(60);
pub const HELP_TEXT: TextLimit = TextLimit::multi_line(1000);
pub const ADDRESS: TextLimit = TextLimit::one_line(200);

/// An act on an event. The store records each as an event of its chain with its detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "act")]
pub enum Act {
    /// 派单 by the street: a lead department and co-handlers (none when it handles alone).
    Dispatch {
        department: i64,
        #[serde(default)]
        co: Vec<i64>,
    },
    /// The community takes the event itself (with the enforcement team when `enforcement`).
    CommunityTakes {
        #[serde(default)]
        enforcement: bool,
        #[serde(default)]
        note: String,
    },
    /// 签收 by the lead department.
    Sign,
    /// The handler starts on site.
    Start,
    /// The handler's result: the reply and how many after-photos were attached (≥ 1). The
    /// store counts them itself (those uploaded before and those sent with the act), so a
    /// client need not send the count.
    Handle {
        reply: String,
        #[serde(default)]
        after_photos: u32,
    },
    /// The reporter confirms the result.
    Confirm,
    /// The reporter finds it not done: back to the same handler.
    Reopen { reason: String },
    /// 办结 by the street.
    Close,
    /// A duplicate of the earlier event `original`.
    RejectDuplicate { original: i64 },
    /// The handler returns it: not its responsibility, with the reason.
    NotOurs { reason: String },
}

impl Act {
    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }

    pub fn kind(&self) -> ActKind {
        match self {
            Act::Dispatch { .. } => ActKind::Dispatch,
            Act::CommunityTakes { .. } => ActKind::CommunityTakes,
            Act::Sign => ActKind::Sign,
            Act::Start => ActKind::Start,
            Act::Handle { .. } => ActKind::Handle,
            Act::Confirm => ActKind::Confirm,
            Act::Reopen { .. } => ActKind::Reopen,
            Act::Close => ActKind::Close,
            Act::RejectDuplicate { .. } => ActKind::RejectDuplicate,
            Act::NotOurs { .. } => ActKind::NotOurs,
        }
    }

    /// The free texts of the act, with field, label and limit, for the length checks.
    pub fn texts(&self) -> Vec<(&'static str, &'static str, &str, TextLimit)> {
        match self {
            Act::CommunityTakes { note, .. } => vec![("note", "处置说明", note, NOTE)],
            Act::Handle { reply, .. } => vec![("reply", "处置结果", reply, REPLY)],
            Act::Reopen { reason } => vec![("reason", "重新处置理由", reason, REASON)],
            Act::NotOurs { reason } => vec![("reason", "退回理由", reason, REASON)],
            _ => vec![],
        }
    }
}

words! {
    /// The acts without their data: what buttons, the audit log and the role table name.
    pub enum ActKind {
        Dispatch = ("dispatch", "派单"),
        CommunityTakes = ("community_takes", "社区直接处置"),
        Sign = ("sign", "签收"),
        Start = ("start", "开始处置"),
        Handle = ("handle", "处置完成"),
        Confirm = ("confirm", "确认办结"),
        Reopen = ("reopen", "退回重新处置"),
        Close = ("close", "办结归档"),
        RejectDuplicate = ("reject_duplicate", "重复合并"),
        NotOurs = ("not_ours", "非本部门职责退回"),
    }
}

/// What the rules need to know about an event beside its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub event_id: i64,
    pub state: State,
    /// Set by dispatch or the community's taking; cleared when a department returns it.
    pub route: Option<Route>,
    pub reporter: ReporterKind,
    /// The lead department, while dispatched.
    pub department: Option<i64>,
    pub reopens: u32,
    pub returns: u32,
}

impl Facts {
    /// A new event, just reported.
    pub fn reported(event_id: i64, reporter: ReporterKind) -> Facts {
        Facts {
            event_id,
            state: State::Reported,
            route: None,
            reporter,
            department: None,
            reopens: 0,
            returns: 0,
        }
    }

    /// The facts after `act` took the event to `next` (the store's copy of the bookkeeping).
    pub fn after(&self, act: &Act, next: State) -> Facts {
        let mut f = Facts {
            state: next,
            ..*self
        };
        match act {
            Act::Dispatch { department, .. } => {
                f.route = Some(Route::Street);
                f.department = Some(*department);
            }
            Act::CommunityTakes { .. } => {
                f.route = Some(Route::Community);
                f.department = None;
            }
            Act::Reopen { .. } => f.reopens += 1,
            Act::NotOurs { .. } => {
                f.returns += 1;
                f.route = None;
                f.department = None;
            }
            _ => {}
        }
        f
    }
}

/// Why an act is refused (409 for the state, 422 for the input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActError {
    #[error("事件当前为“{0}”，不能进行这一步")]
    WrongState(&'static str),
    #[error("请填写{1}")]
    Required(&'static str, &'static str),
    #[error("处置完成须上传至少一张处置后照片")]
    NoAfterPhoto,
    #[error("处置后照片最多{MAX_PHOTOS}张")]
    TooManyPhotos,
    #[error("牵头部门不能同时是协办部门")]
    LeadIsCo,
    #[error("协办部门最多{MAX_CO_HANDLERS}个，且不能重复")]
    BadCo,
    #[error("不能把事件合并到它自己")]
    OwnOriginal,
}

impl ActError {
    pub fn field(&self) -> &'static str {
        match self {
            ActError::WrongState(_) => "act",
            ActError::Required(field, _) => field,
            ActError::NoAfterPhoto | ActError::TooManyPhotos => "after_photos",
            ActError::LeadIsCo | ActError::BadCo => "co",
            ActError::OwnOriginal => "original",
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ActError::WrongState(_) => "wrong_state",
            ActError::Required(..) => "required",
            ActError::NoAfterPhoto => "no_after_photo",
            ActError::TooManyPhotos => "too_many_photos",
            ActError::LeadIsCo => "lead_is_co",
            ActError::BadCo => "bad_co",
            ActError::OwnOriginal => "own_original",
        }
    }

    /// A conflict with the event's state (409) rather than bad input (422).
    pub fn is_conflict(&self) -> bool {
        matches!(self, ActError::WrongState(_))
    }
}

fn required(value: &str, field: &'static str, label: &'static str) -> Result<(), ActError> {
    if crate::validation::is_blank(value) {
        Err(ActError::Required(field, label))
    } else {
        Ok(())
    }
}

/// The state after `act`, or why not: the state first (a wrong state is a conflict whatever
/// the input), then the act's data. The only place the loop's order is decided.
pub fn next_state(facts: &Facts, act: &Act) -> Result<State, ActError> {
    use State as S;
    let wrong = || ActError::WrongState(facts.state.label());
    let at = |states: &[State]| {
        if states.contains(&facts.state) {
            Ok(())
        } else {
            Err(wrong())
        }
    };
    match act {
        Act::Dispatch { department, co } => {
            at(&[S::Reported])?;
            if co.contains(department) {
                return Err(ActError::LeadIsCo);
            }
            let mut sorted = co.clone();
            sorted.sort_unstable();
            sorted.dedup();
            if co.len() > MAX_CO_HANDLERS || sorted.len() != co.len() {
                return Err(ActError::BadCo);
            }
            Ok(S::Dispatched)
        }
        Act::CommunityTakes { .. } => at(&[S::Reported]).map(|_| S::HandledByCommunity),
        Act::Sign => at(&[S::Dispatched]).map(|_| S::Signed),
        Act::Start => at(&[S::Signed, S::HandledByCommunity]).map(|_| S::InProgress),
        Act::Handle {
            reply,
            after_photos,
        } => {
            at(&[S::InProgress])?;
            required(reply, "reply", "处置结果")?;
            if *after_photos == 0 {
                return Err(ActError::NoAfterPhoto);
            }
            if *after_photos > MAX_PHOTOS {
                return Err(ActError::TooManyPhotos);
            }
            Ok(S::Handled)
        }
        Act::Confirm => at(&[S::Handled]).map(|_| S::Confirmed),
        Act::Reopen { reason } => {
            at(&[S::Handled])?;
            required(reason, "reason", "重新处置理由")?;
            Ok(S::InProgress)
        }
        Act::Close => at(&[S::Confirmed]).map(|_| S::Closed),
        Act::RejectDuplicate { original } => {
            at(&[S::Reported])?;
            if *original == facts.event_id {
                return Err(ActError::OwnOriginal);
            }
            Ok(S::RejectedDuplicate)
        }
        Act::NotOurs { reason } => {
            at(&[S::Dispatched, S::Signed, S::HandledByCommunity])?;
            required(reason, "reason", "退回理由")?;
            Ok(S::Reported)
        }
    }
}

words! {
    /// Who is acting, as the rules see them: the store maps the signed-in user to one of these
    /// through the event (its reporter, the street over its grid, its lead department, its
    /// community). A user who is several (a community worker who reported) is asked about in
    /// each relation; one that allows the act is enough.
    pub enum Actor {
        /// The grid worker who reported this event.
        Reporter = ("reporter", "上报网格员"),
        /// A dispatcher of the street the event's grid lies in.
        StreetDispatcher = ("street_dispatcher", "街道派单员"),
        /// A handler of the event's lead department.
        LeadHandler = ("lead_handler", "牵头部门处置人"),
        /// Staff of the community the event's grid belongs to.
        Community = ("community", "社区"),
        /// Anyone else, co-handling departments included (they work through the lead).
        Other = ("other", "其他人员"),
    }
}

/// Why someone may not take an act (403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("“{act}”须由{who}进行")]
pub struct NotYours {
    pub act: &'static str,
    pub who: &'static str,
}

impl NotYours {
    pub fn code(&self) -> &'static str {
        "not_yours"
    }
    pub fn field(&self) -> &'static str {
        "act"
    }
}

/// Who may take `act` on an event with `facts`: the street dispatches, merges duplicates
/// and closes; the community takes events directly; the handler of the route (the lead
/// department on the street route, the community on its own) signs, starts, handles and
/// returns; the reporting grid worker confirms or reopens — and when no grid worker reported
/// the event (a resident, an Open311 client), the street confirms or reopens for the person
/// after asking them, since nobody else is there to. Whether the state allows the act is
/// [`next_state`]'s question, asked separately.
pub fn may_act(actor: Actor, act: ActKind, facts: &Facts) -> Result<(), NotYours> {
    let handler = match facts.route {
        Some(Route::Community) => Actor::Community,
        _ => Actor::LeadHandler,
    };
    let confirmer = match facts.reporter {
        ReporterKind::GridWorker => Actor::Reporter,
        ReporterKind::Resident | ReporterKind::Open311 => Actor::StreetDispatcher,
    };
    let who = match act {
        ActKind::Dispatch | ActKind::RejectDuplicate | ActKind::Close => Actor::StreetDispatcher,
        ActKind::CommunityTakes => Actor::Community,
        ActKind::Sign => Actor::LeadHandler,
        ActKind::Start | ActKind::Handle | ActKind::NotOurs => handler,
        ActKind::Confirm | ActKind::Reopen => confirmer,
    };
    if actor == who {
        Ok(())
    } else {
        Err(NotYours {
            act: act.label(),
            who: who.label(),
        })
    }
}

/// The acts `actor` can take now (the event page's buttons).
pub fn available(actor: Actor, facts: &Facts) -> Vec<ActKind> {
    ActKind::ALL
        .iter()
        .copied()
        .filter(|k| may_act(actor, *k, facts).is_ok() && state_allows(facts.state, *k))
        .collect()
}

/// Whether the state allows an act of kind `kind` at all (whatever its data).
pub fn state_allows(state: State, kind: ActKind) -> bool {
    use State as S;
    match kind {
        ActKind::Dispatch | ActKind::CommunityTakes | ActKind::RejectDuplicate => {
            state == S::Reported
        }
        ActKind::Sign => state == S::Dispatched,
        ActKind::Start => matches!(state, S::Signed | S::HandledByCommunity),
        ActKind::Handle => state == S::InProgress,
        ActKind::Confirm | ActKind::Reopen => state == S::Handled,
        ActKind::Close => state == S::Confirmed,
        ActKind::NotOurs => matches!(state, S::Dispatched | S::Signed | S::HandledByCommunity),
    }
}

pub const STAGE_RESPOND: &str = "respond";
pub const STAGE_CLOSE: &str = "close";
/// The engine kind of grid events with the default limits; a category with its own limits
/// has its own kind, [`category_kind_name`].
pub const KIND: &str = "grid.event";

/// The seed's limits: respond within 1 day, close within 3 — calendar days (日).
pub const DEFAULT_RESPOND: DeadlineRule = DeadlineRule::CalendarDays(1);
pub const DEFAULT_CLOSE: DeadlineRule = DeadlineRule::CalendarDays(3);

/// The engine kind's name for events of category `category_id` (`grid.event.12`): the
/// engine keeps one rule per stage and kind, and categories differ in their limits.
pub fn category_kind_name(category_id: i64) -> String {
    format!("{KIND}.{category_id}")
}

/// The engine's description of grid events with the given limits: `respond` (report to
/// signing), `close` (report to closing, anchored at the report); an overdue event climbs
/// from the handling unit's handlers (the lead department's, the community's; the street's
/// dispatchers while nobody has signed) to that unit's supervisors, then the supervisors one
/// level up (the street's, for a community; the district's, for a department).
pub fn event_kind(kind: &str, respond: DeadlineRule, close: DeadlineRule) -> KindSpec {
    let stage = |name: &str, label: &str, rule| StageSpec {
        name: name.into(),
        label: label.into(),
        rule,
        notice: None,
    };
    KindSpec {
        kind: kind.into(),
        label: "网格事件".into(),
        stages: vec![
            stage(STAGE_RESPOND, "响应", respond),
            stage(STAGE_CLOSE, "办结", close),
        ],
        tiers: vec![
            Tier {
                role: Role::DeptHandler,
                up: 0,
            },
            Tier {
                role: Role::Supervisor,
                up: 0,
            },
            Tier {
                role: Role::Supervisor,
                up: 1,
            },
        ],
        warn_permille: None,
    }
}

/// The kind of events of `category`, named by its id.
pub fn category_kind(category_id: i64, category: &Category) -> KindSpec {
    event_kind(
        &category_kind_name(category_id),
        category.respond,
        category.close,
    )
}

words! {
    /// An extra field's datatype: exactly Open311's service-definition datatypes.
    pub enum Datatype {
        /// One line of text (`<input>`).
        String = ("string", "单行文字"),
        Number = ("number", "数字"),
        /// An ISO 8601 date-time with its offset.
        Datetime = ("datetime", "日期时间"),
        /// Text that may hold line breaks (`<textarea>`).
        Text = ("text", "多行文字"),
        SingleValueList = ("singlevaluelist", "单选"),
        MultiValueList = ("multivaluelist", "多选"),
    }
}

impl Datatype {
    pub fn is_list(self) -> bool {
        matches!(self, Datatype::SingleValueList | Datatype::MultiValueList)
    }
}

/// One option of a list attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeValue {
    pub key: String,
    pub name: String,
}

/// A category's extra field — published as an Open311 service attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub code: String,
    pub datatype: Datatype,
    pub required: bool,
    /// Open311's `variable`: false for a line shown to the reporter, asked nothing.
    #[serde(default = "yes")]
    pub variable: bool,
    /// What to enter and where to find it.
    pub description: String,
    #[serde(default)]
    pub datatype_description: String,
    /// The options of a list datatype.
    #[serde(default)]
    pub values: Vec<AttributeValue>,
    /// 1 is shown first.
    pub order: u32,
}

fn yes() -> bool {
    true
}

/// An event category (事件类别), shared reference data kept by a city's or district's
/// administrators (`access::ReferenceData::GridCategory`); an Open311 service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// Stable, also the Open311 `service_code`.
    pub code: String,
    pub name: String,
    /// Open311's `group` (e.g. 市容环境).
    #[serde(default)]
    pub group: String,
    /// Comma-separated synonyms (Open311's `keywords`).
    #[serde(default)]
    pub keywords: String,
    /// The department the street usually dispatches to (the board preselects it).
    #[serde(default)]
    pub default_department: Option<i64>,
    /// Until someone signs for it; the seed's 1 calendar day when not given.
    #[serde(default = "default_respond")]
    pub respond: DeadlineRule,
    /// Until it is closed, from the report; the seed's 3 calendar days when not given.
    #[serde(default = "default_close")]
    pub close: DeadlineRule,
    /// What to report and how (shown to the reporter; Open311's `description`).
    #[serde(default)]
    pub help: String,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
}

fn default_respond() -> DeadlineRule {
    DEFAULT_RESPOND
}

fn default_close() -> DeadlineRule {
    DEFAULT_CLOSE
}

impl Category {
    /// A category with the seed's limits and no extra fields.
    pub fn new(code: &str, name: &str) -> Category {
        Category {
            code: code.into(),
            name: name.into(),
            group: String::new(),
            keywords: String::new(),
            default_department: None,
            respond: DEFAULT_RESPOND,
            close: DEFAULT_CLOSE,
            help: String::new(),
            attributes: vec![],
        }
    }

    /// The attributes in their order (Open311 `order`, then code).
    pub fn ordered_attributes(&self) -> Vec<&Attribute> {
        let mut a: Vec<&Attribute> = self.attributes.iter().collect();
        a.sort_by(|x, y| x.order.cmp(&y.order).then_with(|| x.code.cmp(&y.code)));
        a
    }
}

/// Longest codes (categories, attributes, list keys), and most attributes and options.
pub const CODE_MAX_CHARS: usize = 32;
pub const MAX_ATTRIBUTES: usize = 30;
pub const MAX_VALUES: usize = 100;
/// The longest value of a `string` and a `text` attribute.
pub const STRING_MAX_CHARS: usize = 200;
pub const TEXT_MAX_CHARS: usize = 4000;

fn good_code(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= CODE_MAX_CHARS
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// Checks a category as an administrator saved it: every problem under its field.
pub fn check_category(c: &Category) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::new();
    if !good_code(&c.code) {
        e.add(
            "code",
            "bad_code",
            format!("类别编码须为1至{CODE_MAX_CHARS}个字母、数字、点、横线或下划线"),
        );
    }
    if !crate::validation::is_blank(e.required("name", "类别名称", &c.name)) {
        e.text("name", "类别名称", &c.name, CATEGORY_NAME);
    }
    e.text("help", "填报说明", &c.help, HELP_TEXT);
    e.text("group", "分组", &c.group, CATEGORY_NAME);
    e.text("keywords", "关键词", &c.keywords, crate::validation::LABEL);
    for (field, label, rule) in [
        ("respond", "响应时限", c.respond),
        ("close", "办结时限", c.close),
    ] {
        if rule.amount() == 0 || rule.amount() > MAX_AMOUNT {
            e.add(
                field,
                "bad_limit",
                format!("{label}须在1至{MAX_AMOUNT}之间"),
            );
        }
    }
    if c.attributes.len() > MAX_ATTRIBUTES {
        e.add(
            "attributes",
            "too_many",
            format!("附加字段最多{MAX_ATTRIBUTES}个"),
        );
    }
    for (i, a) in c.attributes.iter().enumerate() {
        let f = format!("attributes[{i}]");
        if !good_code(&a.code) {
            e.add(
                &format!("{f}.code"),
                "bad_code",
                format!("字段编码须为1至{CODE_MAX_CHARS}个字母、数字、点、横线或下划线"),
            );
        } else if c.attributes[..i].iter().any(|o| o.code == a.code) {
            e.add(
                &format!("{f}.code"),
                "duplicate",
                format!("字段编码“{}”重复", a.code),
            );
        }
        if a.order == 0 {
            e.add(&format!("{f}.order"), "bad_order", "排序须为正整数");
        } else if c.attributes[..i].iter().any(|o| o.order == a.order) {
            // Open311: "Any positive integer not used for other attributes".
            e.add(
                &format!("{f}.order"),
                "duplicate",
                format!("排序{}已被其他字段使用", a.order),
            );
        }
        e.required(&format!("{f}.description"), "字段说明", &a.description);
        e.text(
            &format!("{f}.description"),
            "字段说明",
            &a.description,
            HELP_TEXT,
        );
        match (a.datatype.is_list(), a.values.is_empty()) {
            (true, true) => e.add(
                &format!("{f}.values"),
                "required",
                "单选、多选字段须列出选项",
            ),
            (false, false) => e.add(
                &format!("{f}.values"),
                "not_list",
                "只有单选、多选字段有选项",
            ),
            _ => {}
        }
        if a.values.len() > MAX_VALUES {
            e.add(
                &format!("{f}.values"),
                "too_many",
                format!("选项最多{MAX_VALUES}个"),
            );
        }
        for (j, v) in a.values.iter().enumerate() {
            if !good_code(&v.key) || a.values[..j].iter().any(|o| o.key == v.key) {
                e.add(
                    &format!("{f}.values[{j}].key"),
                    "bad_key",
                    "选项值须为不重复的字母、数字、点、横线或下划线",
                );
            }
            e.required(&format!("{f}.values[{j}].name"), "选项名称", &v.name);
        }
    }
    e.into_result()
}

/// An answer to one attribute, normalised: one value, or the chosen keys in the order
/// given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub code: String,
    pub values: Vec<String>,
}

/// Checks the answers given for a category's attributes — `given` as (code, value) pairs,
/// a multi-value list repeating its code — against the definitions: unknown codes, required
/// ones missing, numbers that do not parse, date-times that are not ISO 8601 with an
/// offset, list values that are not among the keys, one value for all but multi-value lists.
/// Errors are under `attribute[CODE]`, the name Open311 POSTs them by. Attributes that are
/// not `variable` ask nothing: an answer to one is ignored. Answers come back in the
/// attributes' order.
pub fn validate_attributes(
    defs: &[Attribute],
    given: &[(String, String)],
) -> Result<Vec<Answer>, FieldErrors> {
    let mut e = FieldErrors::new();
    for (code, _) in given {
        if !defs.iter().any(|d| &d.code == code) {
            e.add(
                &format!("attribute[{code}]"),
                "unknown",
                format!("该类别没有附加字段“{code}”"),
            );
        }
    }
    let mut ordered: Vec<&Attribute> = defs.iter().filter(|d| d.variable).collect();
    ordered.sort_by_key(|d| d.order);
    let mut answers = vec![];
    for d in ordered {
        let field = format!("attribute[{}]", d.code);
        let label = if d.description.is_empty() {
            d.code.as_str()
        } else {
            d.description.as_str()
        };
        let values: Vec<&str> = given
            .iter()
            .filter(|(c, v)| c == &d.code && !crate::validation::is_blank(v))
            .map(|(_, v)| v.trim())
            .collect();
        if values.is_empty() {
            if d.required {
                e.add(&field, "required", format!("请填写{label}"));
            }
            continue;
        }
        if d.datatype != Datatype::MultiValueList && values.len() > 1 {
            e.add(&field, "one_value", format!("{label}只能填一个值"));
            continue;
        }
        let mut ok = true;
        for v in &values {
            let problem = match d.datatype {
                Datatype::String if v.contains(['\n', '\r']) => Some("不能换行".to_string()),
                Datatype::String if v.chars().count() > STRING_MAX_CHARS => {
                    Some(format!("不能超过{STRING_MAX_CHARS}个字"))
                }
                Datatype::Text if v.chars().count() > TEXT_MAX_CHARS => {
                    Some(format!("不能超过{TEXT_MAX_CHARS}个字"))
                }
                Datatype::Number if !is_number(v) => Some("须为数字".to_string()),
                Datatype::Datetime if open311::parse_datetime("", v).is_err() => {
                    Some("须为带时区的ISO 8601日期时间，如2024-05-01T08:30:00+08:00".to_string())
                }
                Datatype::SingleValueList | Datatype::MultiValueList
                    if !d.values.iter().any(|o| o.key == *v) =>
                {
                    Some(format!("“{v}”不是可选的值"))
                }
                _ => None,
            };
            if let Some(p) = problem {
                e.add(&field, "bad_value", format!("{label}{p}"));
                ok = false;
                break;
            }
        }
        if ok && d.datatype == Datatype::MultiValueList {
            let mut seen: Vec<&str> = vec![];
            for v in &values {
                if seen.contains(v) {
                    e.add(&field, "repeated", format!("{label}的选项“{v}”重复"));
                    ok = false;
                    break;
                }
                seen.push(v);
            }
        }
        if ok {
            answers.push(Answer {
                code: d.code.clone(),
                values: values.iter().map(|v| v.to_string()).collect(),
            });
        }
    }
    e.into_result().map(|()| answers)
}

/// A decimal number as a form sends it: optional sign, digits, optional fraction, optional
/// exponent; not `NaN`, not `inf` (which `f64::from_str` would take).
fn is_number(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    body.chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.')
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        && s.parse::<f64>().is_ok_and(f64::is_finite)
}

/// The counters of one grid, community, street, department or category for a period; every
/// figure is a ratio of two of them. Events are counted by the period they were reported
/// in; duplicates count nowhere but `duplicates`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Events reported, duplicates excluded.
    pub reported: i64,
    pub duplicates: i64,
    /// Events signed for (or taken by the community) within the respond limit.
    pub responded_on_time: i64,
    /// Events closed (办结), and those closed within the close limit.
    pub closed: i64,
    pub closed_on_time: i64,
    /// Events dispatched with at least one co-handling department (跨部门协同事项), and
    /// those of them closed.
    pub cross_department: i64,
    pub cross_department_closed: i64,
    /// Events handled at least once, and those reopened at least once.
    pub handled: i64,
    pub reopened: i64,
}

/// The seed's target for 跨部门协同事项完成率 (§3.1 "跨部门协同事项完成率达90%以上").
pub const CROSS_DEPARTMENT_TARGET_PERMILLE: i64 = 900;

impl Counts {
    /// 按时响应率 = events signed for (or taken by the community) within the respond limit
    /// ÷ events reported (duplicates excluded): an event nobody signed for counts against.
    pub fn responded_on_time_rate(&self) -> Rate {
        Rate::new(self.responded_on_time, self.reported)
    }
    /// 按时办结率 = events closed within the close limit ÷ events closed.
    pub fn closed_on_time_rate(&self) -> Rate {
        Rate::new(self.closed_on_time, self.closed)
    }
    /// 办结率 (seed: "办结率达96.3%") = events closed ÷ events reported (duplicates
    /// excluded).
    pub fn closure_rate(&self) -> Rate {
        Rate::new(self.closed, self.reported)
    }
    /// 跨部门协同事项完成率 = events with co-handlers closed ÷ events with co-handlers.
    pub fn cross_department_rate(&self) -> Rate {
        Rate::new(self.cross_department_closed, self.cross_department)
    }
    /// Whether the cross-department rate reaches the seed's 90 % (undefined: no verdict).
    pub fn meets_cross_department_target(&self) -> Option<bool> {
        self.cross_department_rate()
            .per_mille()
            .map(|m| m >= CROSS_DEPARTMENT_TARGET_PERMILLE)
    }
    /// 重新处置率 = events reopened at least once ÷ events handled at least once (an event
    /// reopened three times counts once: the rate says how often a result did not hold).
    pub fn reopen_rate(&self) -> Rate {
        Rate::new(self.reopened, self.handled)
    }

    /// Adds another unit's counters (a street's are its communities' sums).
    pub fn add(&mut self, o: &Counts) {
        self.reported += o.reported;
        self.duplicates += o.duplicates;
        self.responded_on_time += o.responded_on_time;
        self.closed += o.closed;
        self.closed_on_time += o.closed_on_time;
        self.cross_department += o.cross_department;
        self.cross_department_closed += o.cross_department_closed;
        self.handled += o.handled;
        self.reopened += o.reopened;
    }
}

#[cfg(test)]
mod tests;
