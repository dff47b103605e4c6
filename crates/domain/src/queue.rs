//! Queue tickets (取号), window calling (叫号), appointments (预约) and waiting-time estimates.
//!
//! A resident takes a ticket for a window class (业务类别, e.g. "A" for 综合受理); the ticket
//! number is the class prefix and a daily sequence ([`ticket_number`]: `A001`). A window that
//! serves one or more classes calls the next waiting ticket ([`pick_next`]): first come, first
//! served, except for two lanes that are kept apart ([`Lane`]): priority tickets (爱心通道 —
//! elderly, disabled, pregnant) are ordered as if issued [`PriorityRule::boost_minutes`]
//! earlier, and tickets of residents arriving for an appointment (预约) as if issued
//! [`PriorityRule::appointment_lead_minutes`] before their slot begins — whenever they check
//! in, so arriving hours early gains nothing. Both are settings: a boost of 0 turns the
//! priority lane off, a very large value makes it strict. Within each lane the order is
//! always first come, first served.
//!
//! Appointments ([`AppointmentState`]) are checked in only inside a window around their slot
//! ([`check_in`]: by default from 30 minutes before its start to 15 minutes after), and
//! cancelled only while booked ([`cancel`]). Dates are said in words the way the hall says
//! them ([`slot_in_words`]: `12月5日 星期六 14:30`).
//!
//! Every change of a ticket goes through [`apply`], the ticket state machine:
//!
//! ```text
//! Waiting ──Call──▶ Called ──StartService──▶ Serving ──Finish──▶ Done
//!    │  ▲            │  ▲ │
//!    │  └─Transfer───┘  └─┘ Recall (at most max_recalls times)
//!    │                  │
//!  Cancel             NoShow ──▶ NoShow ──Requeue (once)──▶ Waiting
//!    ▼
//! Cancelled
//! ```
//!
//! Opening hours ([`OpeningHours`]) are a setting per hall: sessions on working days (by the
//! [`WorkCalendar`], so 调休 make-up Saturdays open like a weekday), extra evening sessions on
//! given weekdays (延时服务), sessions on ordinary weekends (周末不打烊 — not inside statutory
//! holiday periods), and sessions opened explicitly on given dates. [`sessions_on`] says what
//! is open on a date and [`slots_on`] cuts it into appointment slots.
//!
//! Like the rest of the crate, nothing here reads a clock: times are arguments (tickets carry
//! their issue time in microseconds since the Unix epoch, as the store keeps it).
//!
//! [`ticket_number`]: crate::queue::ticket_number
//! [`pick_next`]: crate::queue::pick_next
//! [`PriorityRule::boost_minutes`]: crate::queue::PriorityRule::boost_minutes
//! [`PriorityRule::appointment_lead_minutes`]: crate::queue::PriorityRule::appointment_lead_minutes
//! [`Lane`]: crate::queue::Lane
//! [`AppointmentState`]: crate::queue::AppointmentState
//! [`check_in`]: crate::queue::check_in
//! [`cancel`]: crate::queue::cancel
//! [`slot_in_words`]: crate::queue::slot_in_words
//! [`apply`]: crate::queue::apply
//! [`OpeningHours`]: crate::queue::OpeningHours
//! [`WorkCalendar`]: crate::calendar::WorkCalendar
//! [`sessions_on`]: crate::queue::sessions_on
//! [`slots_on`]: crate::queue::slots_on

use crate::calendar::{CalendarError, WorkCalendar};
use crate::validation::FieldErrors;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use std::fmt;

// --- priority reasons -----------------------------------------------------------------------

/// Why a ticket gets the priority lane (爱心通道). An appointment is not one of them: it has
/// its own lane ([`Lane::Appointment`]) and is reached only by checking in a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityReason {
    /// 老年人 (the age threshold is the hall's practice; the clerk or kiosk decides).
    Elderly,
    /// 残疾人.
    Disabled,
    /// 孕妇.
    Pregnant,
    /// Any other reason a clerk records (e.g. 现役军人、带婴幼儿).
    Other,
}

impl PriorityReason {
    pub const ALL: [PriorityReason; 4] = [
        PriorityReason::Elderly,
        PriorityReason::Disabled,
        PriorityReason::Pregnant,
        PriorityReason::Other,
    ];

    /// The stable spelling stored in the database and used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            PriorityReason::Elderly => "elderly",
            PriorityReason::Disabled => "disabled",
            PriorityReason::Pregnant => "pregnant",
            PriorityReason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The Chinese word shown on pages and tickets.
    pub fn label(self) -> &'static str {
        match self {
            PriorityReason::Elderly => "老年人",
            PriorityReason::Disabled => "残疾人",
            PriorityReason::Pregnant => "孕妇",
            PriorityReason::Other => "其他",
        }
    }
}

impl fmt::Display for PriorityReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// --- lanes ----------------------------------------------------------------------------------

/// The line a ticket waits in. The two priorities are distinct: 爱心通道 for the elderly,
/// disabled and pregnant ([`PriorityReason`]), and 预约 for a resident who booked and checked
/// in; each has its own rule in [`PriorityRule`] and its own label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    Ordinary,
    /// 爱心通道.
    Priority,
    /// 预约: a checked-in appointment.
    Appointment,
}

impl Lane {
    pub const ALL: [Lane; 3] = [Lane::Ordinary, Lane::Priority, Lane::Appointment];

    /// The stable spelling used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Ordinary => "ordinary",
            Lane::Priority => "priority",
            Lane::Appointment => "appointment",
        }
    }

    /// The Chinese word on tickets, window screens and lists.
    pub fn label(self) -> &'static str {
        match self {
            Lane::Ordinary => "普通",
            Lane::Priority => "爱心通道",
            Lane::Appointment => "预约",
        }
    }

    /// What a ticket shows beside its number: nothing for an ordinary ticket.
    pub fn badge(self) -> Option<&'static str> {
        (self != Lane::Ordinary).then(|| self.label())
    }

    /// The lane of a stored ticket: a checked-in appointment, else 爱心通道 when flagged.
    pub fn of(priority: bool, appointment: bool) -> Lane {
        if appointment {
            Lane::Appointment
        } else if priority {
            Lane::Priority
        } else {
            Lane::Ordinary
        }
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a new ticket is placed in the call order: its lane, and for an appointment the start
/// of its slot (microseconds), by which it is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Placement {
    Ordinary,
    Priority,
    Appointment { slot_start: i64 },
}

impl Placement {
    pub fn lane(self) -> Lane {
        match self {
            Placement::Ordinary => Lane::Ordinary,
            Placement::Priority => Lane::Priority,
            Placement::Appointment { .. } => Lane::Appointment,
        }
    }
}

// --- ticket states --------------------------------------------------------------------------

/// Where a ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    /// In the queue of its class.
    Waiting,
    /// Called to a window; the resident is on the way.
    Called,
    /// At the window, being served.
    Serving,
    /// Served. Terminal.
    Done,
    /// Did not come when called (过号). May be re-queued once.
    NoShow,
    /// Withdrawn before being called. Terminal.
    Cancelled,
}

impl TicketState {
    pub const ALL: [TicketState; 6] = [
        TicketState::Waiting,
        TicketState::Called,
        TicketState::Serving,
        TicketState::Done,
        TicketState::NoShow,
        TicketState::Cancelled,
    ];

    /// The stable spelling stored in the database and used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Waiting => "waiting",
            TicketState::Called => "called",
            TicketState::Serving => "serving",
            TicketState::Done => "done",
            TicketState::NoShow => "no_show",
            TicketState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The Chinese word shown on pages and the display screen.
    pub fn label(self) -> &'static str {
        match self {
            TicketState::Waiting => "等候中",
            TicketState::Called => "已叫号",
            TicketState::Serving => "办理中",
            TicketState::Done => "已办结",
            TicketState::NoShow => "过号",
            TicketState::Cancelled => "已取消",
        }
    }

    /// Whether no action leads out of this state any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, TicketState::Done | TicketState::Cancelled)
    }
}

impl fmt::Display for TicketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// --- window states --------------------------------------------------------------------------

/// Whether a window is calling tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowState {
    /// Staffed and calling.
    Open,
    /// Staffed but not calling for now (暂停), e.g. a break.
    Paused,
    /// Not staffed.
    Closed,
}

impl WindowState {
    pub const ALL: [WindowState; 3] = [WindowState::Open, WindowState::Paused, WindowState::Closed];

    /// The stable spelling stored in the database and used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            WindowState::Open => "open",
            WindowState::Paused => "paused",
            WindowState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == s)
    }

    /// The Chinese word shown on pages and the display screen.
    pub fn label(self) -> &'static str {
        match self {
            WindowState::Open => "开放",
            WindowState::Paused => "暂停",
            WindowState::Closed => "关闭",
        }
    }

    /// Whether a window in this state may call the next ticket.
    pub fn may_call(self) -> bool {
        self == WindowState::Open
    }
}

impl fmt::Display for WindowState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// --- actions and the state machine ----------------------------------------------------------

/// What a window (or the resident, for [`TicketAction::Cancel`]) does to a ticket. The serde
/// `action` tag equals [`TicketAction::name`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TicketAction {
    /// Call the ticket to a window.
    Call,
    /// Call it again (重复呼叫), at most `max_recalls` times.
    Recall,
    /// The resident has arrived at the window.
    StartService,
    /// Served.
    Finish,
    /// The resident did not come (过号).
    NoShow,
    /// A skipped resident turned up: back into the queue, once.
    Requeue,
    /// Send the ticket to another window class (转窗口); it waits in that class's queue.
    Transfer { to_class: String },
    /// Withdraw a waiting ticket.
    Cancel,
}

impl TicketAction {
    /// The stable name (the serde tag), also what the audit log records.
    pub fn name(&self) -> &'static str {
        match self {
            TicketAction::Call => "call",
            TicketAction::Recall => "recall",
            TicketAction::StartService => "start_service",
            TicketAction::Finish => "finish",
            TicketAction::NoShow => "no_show",
            TicketAction::Requeue => "requeue",
            TicketAction::Transfer { .. } => "transfer",
            TicketAction::Cancel => "cancel",
        }
    }

    /// The Chinese word on buttons and in messages.
    pub fn label(&self) -> &'static str {
        match self {
            TicketAction::Call => "叫号",
            TicketAction::Recall => "重复呼叫",
            TicketAction::StartService => "开始办理",
            TicketAction::Finish => "办结",
            TicketAction::NoShow => "过号",
            TicketAction::Requeue => "重新排队",
            TicketAction::Transfer { .. } => "转窗口",
            TicketAction::Cancel => "取消",
        }
    }
}

/// Facts about a ticket the machine needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketFacts {
    pub state: TicketState,
    /// How many times the ticket has been re-queued after a no-show.
    pub requeue_count: u32,
    /// How many times the current call has been repeated.
    pub recall_count: u32,
}

/// What [`apply`] allows: the ticket moves from `from` to `to`. The caller stores it (and
/// bumps `recall_count` on a recall, `requeue_count` on a re-queue, the class on a transfer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketTransition {
    pub from: TicketState,
    pub to: TicketState,
}

/// Why an action on a ticket was refused. `code()` is stable for the API; the Display text is
/// Chinese.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The action has no edge out of the current state. Both fields are Chinese labels.
    #[error("票号当前状态“{state}”下不能执行“{action}”")]
    IllegalTransition {
        state: &'static str,
        action: &'static str,
    },
    /// A skipped ticket can be re-queued once only.
    #[error("过号票只能重新排队一次，请重新取号")]
    RequeueLimit,
    /// The call has been repeated as often as the setting allows.
    #[error("已达到重复呼叫次数上限，请按过号处理")]
    RecallLimit,
    /// A payload field is missing or wrong.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

impl QueueError {
    pub fn code(&self) -> &'static str {
        match self {
            QueueError::IllegalTransition { .. } => "illegal_transition",
            QueueError::RequeueLimit => "requeue_limit",
            QueueError::RecallLimit => "recall_limit",
            QueueError::Invalid { .. } => "invalid",
        }
    }

    /// The failing field, for [`QueueError::Invalid`].
    pub fn field(&self) -> Option<&'static str> {
        match self {
            QueueError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// The state graph alone, before guards: where `action` leads from `state`, or `None` when it
/// is illegal there. This match is the only definition of the graph.
pub fn next_state(state: TicketState, action: &TicketAction) -> Option<TicketState> {
    use TicketState as S;
    let to = match (state, action) {
        (S::Waiting, TicketAction::Call) => S::Called,
        (S::Called, TicketAction::Recall) => S::Called,
        (S::Called, TicketAction::StartService) => S::Serving,
        (S::Serving, TicketAction::Finish) => S::Done,
        (S::Called, TicketAction::NoShow) => S::NoShow,
        (S::NoShow, TicketAction::Requeue) => S::Waiting,
        (S::Waiting | S::Called, TicketAction::Transfer { .. }) => S::Waiting,
        (S::Waiting, TicketAction::Cancel) => S::Cancelled,
        _ => return None,
    };
    Some(to)
}

/// The ticket state machine: Waiting→Called (Call); Called→Called (Recall, while
/// `recall_count < max_recalls`); Called→Serving (StartService); Serving→Done (Finish);
/// Called→NoShow (NoShow); NoShow→Waiting (Requeue, only if `requeue_count == 0`);
/// Waiting|Called→Waiting (Transfer to another class, `to_class` non-blank);
/// Waiting→Cancelled (Cancel). Everything else is [`QueueError::IllegalTransition`].
///
/// The state is checked before the guards, so a recall of a waiting ticket is illegal rather
/// than over a limit.
pub fn apply(
    facts: &TicketFacts,
    action: &TicketAction,
    max_recalls: u32,
) -> Result<TicketTransition, QueueError> {
    let from = facts.state;
    let to = next_state(from, action).ok_or(QueueError::IllegalTransition {
        state: from.label(),
        action: action.label(),
    })?;
    match action {
        TicketAction::Recall if facts.recall_count >= max_recalls => {
            return Err(QueueError::RecallLimit)
        }
        TicketAction::Requeue if facts.requeue_count > 0 => return Err(QueueError::RequeueLimit),
        TicketAction::Transfer { to_class } if to_class.trim().is_empty() => {
            return Err(QueueError::Invalid {
                field: "to_class",
                message: "请选择要转往的业务类别".to_string(),
            })
        }
        _ => {}
    }
    Ok(TicketTransition { from, to })
}

// --- ticket numbers -------------------------------------------------------------------------

/// Ticket number shown and spoken: prefix + daily sequence, at least 3 digits:
/// `("A", 1)` → `"A001"`, `("B", 1234)` → `"B1234"`.
pub fn ticket_number(prefix: &str, seq: u32) -> String {
    format!("{prefix}{seq:03}")
}

/// Valid class prefixes: one or two ASCII uppercase letters.
pub fn valid_prefix(p: &str) -> bool {
    (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_uppercase())
}

// --- call order -----------------------------------------------------------------------------

/// Microseconds per minute.
const MICROS_PER_MINUTE: i64 = 60_000_000;

/// The ordering rule (settings). The call order is by (effective time, then ticket id):
///
/// - an ordinary ticket: its issue time;
/// - 爱心通道: its issue time minus `boost_minutes` (0 = no priority lane; a very large
///   value = strict priority);
/// - 预约: the start of its slot minus `appointment_lead_minutes`, whenever it was checked
///   in — an early arrival waits for its slot like everyone else, a resident on time goes
///   before those who came without booking shortly before the slot.
///
/// Negative values count as 0, and values above [`PriorityRule::MAX_BOOST_MINUTES`] as that
/// maximum (already strict for any queue shorter than a year), so the arithmetic never
/// overflows and the tickets of each lane stay first come, first served among themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityRule {
    pub boost_minutes: i64,
    pub appointment_lead_minutes: i64,
}

impl Default for PriorityRule {
    fn default() -> Self {
        Self {
            boost_minutes: 30,
            appointment_lead_minutes: 10,
        }
    }
}

impl PriorityRule {
    /// The largest boost that is applied (about 694 days); larger settings are clamped.
    pub const MAX_BOOST_MINUTES: i64 = 1_000_000;

    /// Strict priority: every priority ticket goes before every ordinary one.
    pub const STRICT: PriorityRule = PriorityRule {
        boost_minutes: Self::MAX_BOOST_MINUTES,
        appointment_lead_minutes: 10,
    };

    /// The boost actually applied, in minutes (clamped to `0..=MAX_BOOST_MINUTES`).
    pub fn effective_boost_minutes(&self) -> i64 {
        self.boost_minutes.clamp(0, Self::MAX_BOOST_MINUTES)
    }

    /// The effective issue time (microseconds) of an ordinary (`priority == false`) or a
    /// 爱心通道 ticket.
    pub fn order_key(&self, issued_at_micros: i64, priority: bool) -> i64 {
        if priority {
            issued_at_micros.saturating_sub(self.effective_boost_minutes() * MICROS_PER_MINUTE)
        } else {
            issued_at_micros
        }
    }

    /// The effective issue time (microseconds) by which a ticket placed so is called.
    pub fn key(&self, issued_at_micros: i64, placement: Placement) -> i64 {
        match placement {
            Placement::Ordinary => self.order_key(issued_at_micros, false),
            Placement::Priority => self.order_key(issued_at_micros, true),
            Placement::Appointment { slot_start } => slot_start.saturating_sub(
                self.appointment_lead_minutes
                    .clamp(0, Self::MAX_BOOST_MINUTES)
                    * MICROS_PER_MINUTE,
            ),
        }
    }
}

/// A waiting ticket as [`pick_next`] sees it. `issued_at` is in microseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingTicket {
    pub id: i64,
    pub class_code: String,
    pub issued_at: i64,
    pub placement: Placement,
}

impl WaitingTicket {
    fn sort_key(&self, rule: PriorityRule) -> (i64, i64) {
        (rule.key(self.issued_at, self.placement), self.id)
    }
}

/// Chooses which waiting ticket a window calls next, purely: among `waiting` whose class the
/// window serves, the smallest (order_key, id). Used by tests and as the spec of the SQL.
pub fn pick_next<'a>(
    waiting: &'a [WaitingTicket],
    serves: &[String],
    rule: PriorityRule,
) -> Option<&'a WaitingTicket> {
    waiting
        .iter()
        .filter(|t| serves.contains(&t.class_code))
        .min_by_key(|t| t.sort_key(rule))
}

/// The whole call order of the tickets of the served classes: what [`pick_next`] would return
/// call after call. For the display screen and "people ahead of you".
pub fn call_order<'a>(
    waiting: &'a [WaitingTicket],
    serves: &[String],
    rule: PriorityRule,
) -> Vec<&'a WaitingTicket> {
    let mut order: Vec<&WaitingTicket> = waiting
        .iter()
        .filter(|t| serves.contains(&t.class_code))
        .collect();
    order.sort_by_key(|t| t.sort_key(rule));
    order
}

/// How many tickets of the same class are called before `ticket` (it need not be in
/// `waiting`; if it is, it does not count itself).
pub fn ahead_of(waiting: &[WaitingTicket], ticket: &WaitingTicket, rule: PriorityRule) -> u32 {
    let key = ticket.sort_key(rule);
    let n = waiting
        .iter()
        .filter(|t| t.class_code == ticket.class_code && t.sort_key(rule) < key)
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

// --- announcements --------------------------------------------------------------------------

/// The spoken announcement: "请A001号到3号窗口办理"; a recall says
/// "请A001号到3号窗口办理（重复呼叫）".
pub fn announcement(ticket_number: &str, window_number: i64, recall: bool) -> String {
    let mut text = format!("请{ticket_number}号到{window_number}号窗口办理");
    if recall {
        text.push_str("（重复呼叫）");
    }
    text
}

/// The English line under the Chinese one on the display screen.
pub fn announcement_text_en(ticket_number: &str, window_number: i64, recall: bool) -> String {
    let mut text = format!("Ticket {ticket_number}, please go to window {window_number}");
    if recall {
        text.push_str(" (repeat call)");
    }
    text
}

// --- opening hours and appointment slots ----------------------------------------------------

/// A half-open time span `[start, end)` within one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Session {
    pub fn new(start: NaiveTime, end: NaiveTime) -> Self {
        Self { start, end }
    }

    /// `Session::hm(9, 0, 12, 0)` is 09:00–12:00. Panics on an impossible time (for literals).
    pub fn hm(start_h: u32, start_m: u32, end_h: u32, end_m: u32) -> Self {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("a valid time of day");
        Self::new(t(start_h, start_m), t(end_h, end_m))
    }

    /// Length in whole minutes (0 when `end <= start`).
    pub fn minutes(&self) -> i64 {
        (self.end - self.start).num_minutes().max(0)
    }

    /// Whether `t` lies in `[start, end)`.
    pub fn contains(&self, t: NaiveTime) -> bool {
        self.start <= t && t < self.end
    }

    fn overlaps(&self, other: &Session) -> bool {
        self.start < other.end && other.start < self.end
    }
}

impl fmt::Display for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

/// Opening hours (a setting per hall).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpeningHours {
    /// Every working day (by the calendar, so 调休 make-up weekend days included).
    pub workday: Vec<Session>,
    /// Extra sessions on given weekdays when they are working days (延时服务, e.g. Thu 17:00-19:00).
    pub weekday_extra: Vec<(Weekday, Session)>,
    /// Sessions on Saturday/Sunday that are not working days (周末不打烊) — not inside
    /// statutory holiday periods.
    pub weekend: Vec<(Weekday, Session)>,
    /// Explicitly opened sessions on any date (e.g. a holiday service day).
    pub opened_dates: Vec<(NaiveDate, Session)>,
    /// Appointment slot length in minutes, e.g. 30.
    pub slot_minutes: u32,
}

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn weekday_label(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "周一",
        Weekday::Tue => "周二",
        Weekday::Wed => "周三",
        Weekday::Thu => "周四",
        Weekday::Fri => "周五",
        Weekday::Sat => "周六",
        Weekday::Sun => "周日",
    }
}

fn is_weekend(d: Weekday) -> bool {
    matches!(d, Weekday::Sat | Weekday::Sun)
}

impl OpeningHours {
    /// Slot lengths [`Self::validate`] accepts, in minutes.
    pub const SLOT_MINUTES_RANGE: std::ops::RangeInclusive<u32> = 5..=240;

    /// The demo hall: weekdays 09:00-12:00 and 13:30-17:00, Thursday evening 17:00-19:00
    /// (延时服务), Saturday mornings 09:00-12:00 (周末不打烊), 30-minute slots.
    pub fn demo() -> Self {
        Self {
            workday: vec![Session::hm(9, 0, 12, 0), Session::hm(13, 30, 17, 0)],
            weekday_extra: vec![(Weekday::Thu, Session::hm(17, 0, 19, 0))],
            weekend: vec![(Weekday::Sat, Session::hm(9, 0, 12, 0))],
            opened_dates: Vec::new(),
            slot_minutes: 30,
        }
    }

    /// Every session starts before it ends; sessions that can fall on the same day do not
    /// overlap (touching is fine); weekend sessions are on Saturday or Sunday;
    /// `slot_minutes` is in 5..=240.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        let check_order = |errors: &mut FieldErrors, field: &str, what: &str, s: &Session| {
            if s.start >= s.end {
                errors.add(
                    field,
                    "bad_session",
                    format!("{what}时段{s}的开始时间须早于结束时间"),
                );
            }
        };
        for s in &self.workday {
            check_order(&mut errors, "workday", "工作日", s);
        }
        for (d, s) in &self.weekday_extra {
            check_order(&mut errors, "weekday_extra", weekday_label(*d), s);
        }
        for (d, s) in &self.weekend {
            check_order(&mut errors, "weekend", weekday_label(*d), s);
            if !is_weekend(*d) {
                errors.add(
                    "weekend",
                    "not_weekend",
                    format!("周末时段只能设在周六或周日，{}不是周末", weekday_label(*d)),
                );
            }
        }
        for (date, s) in &self.opened_dates {
            check_order(&mut errors, "opened_dates", &date.to_string(), s);
        }

        // Overlaps among sessions that can fall on the same day.
        let mut report_overlaps = |field: &str, what: &str, sessions: &[&Session]| {
            for (i, a) in sessions.iter().enumerate() {
                for b in &sessions[i + 1..] {
                    if a.start < a.end && b.start < b.end && a.overlaps(b) {
                        errors.add(field, "overlap", format!("{what}的时段{a}与{b}重叠"));
                    }
                }
            }
        };
        let workday: Vec<&Session> = self.workday.iter().collect();
        report_overlaps("workday", "工作日", &workday);
        for d in WEEKDAYS {
            let extra: Vec<&Session> = self
                .weekday_extra
                .iter()
                .filter(|(w, _)| *w == d)
                .map(|(_, s)| s)
                .collect();
            if extra.is_empty() {
                continue;
            }
            let all: Vec<&Session> = workday.iter().copied().chain(extra).collect();
            report_overlaps(
                "weekday_extra",
                &format!("{}（工作日）", weekday_label(d)),
                &all,
            );
        }
        for d in [Weekday::Sat, Weekday::Sun] {
            let day: Vec<&Session> = self
                .weekend
                .iter()
                .filter(|(w, _)| *w == d)
                .map(|(_, s)| s)
                .collect();
            report_overlaps("weekend", weekday_label(d), &day);
        }
        let mut dates: Vec<NaiveDate> = self.opened_dates.iter().map(|(d, _)| *d).collect();
        dates.sort();
        dates.dedup();
        for date in dates {
            let day: Vec<&Session> = self
                .opened_dates
                .iter()
                .filter(|(d, _)| *d == date)
                .map(|(_, s)| s)
                .collect();
            report_overlaps("opened_dates", &date.to_string(), &day);
        }

        if !Self::SLOT_MINUTES_RANGE.contains(&self.slot_minutes) {
            errors.add(
                "slot_minutes",
                "out_of_range",
                format!(
                    "预约时段长度须在{}到{}分钟之间",
                    Self::SLOT_MINUTES_RANGE.start(),
                    Self::SLOT_MINUTES_RANGE.end()
                ),
            );
        }
        errors.into_result()
    }
}

/// The sessions open on `date`, sorted by start: on a working day (by the calendar, make-up
/// weekend days included) `workday` plus the `weekday_extra` sessions of its weekday; on an
/// ordinary Saturday or Sunday — not a working day and not inside a statutory holiday period
/// — the `weekend` sessions of that weekday; on a statutory holiday nothing; plus, on any
/// date, the `opened_dates` sessions for it. Overlapping sessions (an opened date over the
/// regular hours) are merged into one; touching ones are kept apart. Fails when the calendar
/// does not cover the year.
pub fn sessions_on(
    hours: &OpeningHours,
    cal: &WorkCalendar,
    date: NaiveDate,
) -> Result<Vec<Session>, CalendarError> {
    let weekday = date.weekday();
    let mut sessions: Vec<Session> = Vec::new();
    if cal.is_workday(date)? {
        sessions.extend(hours.workday.iter().cloned());
        sessions.extend(
            hours
                .weekday_extra
                .iter()
                .filter(|(d, _)| *d == weekday)
                .map(|(_, s)| s.clone()),
        );
    } else if is_weekend(weekday) && cal.special_day(date).is_none() {
        sessions.extend(
            hours
                .weekend
                .iter()
                .filter(|(d, _)| *d == weekday)
                .map(|(_, s)| s.clone()),
        );
    }
    sessions.extend(
        hours
            .opened_dates
            .iter()
            .filter(|(d, _)| *d == date)
            .map(|(_, s)| s.clone()),
    );
    sessions.retain(|s| s.start < s.end);
    sessions.sort_by_key(|s| (s.start, s.end));
    let mut merged: Vec<Session> = Vec::with_capacity(sessions.len());
    for s in sessions {
        match merged.last_mut() {
            Some(last) if s.start < last.end => last.end = last.end.max(s.end),
            _ => merged.push(s),
        }
    }
    Ok(merged)
}

/// Cuts sessions into consecutive slots of `slot_minutes` from each session's start; a
/// trailing partial slot is dropped. `slot_minutes == 0` gives no slots.
pub fn slots_in(sessions: &[Session], slot_minutes: u32) -> Vec<Session> {
    let mut slots = Vec::new();
    if slot_minutes == 0 {
        return slots;
    }
    let step = Duration::minutes(i64::from(slot_minutes));
    for s in sessions {
        let mut start = s.start;
        loop {
            // `overflowing_add_signed` wraps at midnight; a wrapped end is past the session.
            let (end, wrapped) = start.overflowing_add_signed(step);
            if wrapped != 0 || end > s.end || end <= start {
                break;
            }
            slots.push(Session::new(start, end));
            start = end;
        }
    }
    slots
}

/// Appointment slots of `slot_minutes` within the sessions on `date` (a trailing partial slot
/// is dropped).
pub fn slots_on(
    hours: &OpeningHours,
    cal: &WorkCalendar,
    date: NaiveDate,
) -> Result<Vec<Session>, CalendarError> {
    Ok(slots_in(
        &sessions_on(hours, cal, date)?,
        hours.slot_minutes,
    ))
}

// --- appointments ---------------------------------------------------------------------------

/// Where a booking stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentState {
    /// Booked; may be cancelled, or checked in around its slot.
    Booked,
    /// Checked in: a ticket in the 预约 lane was issued. Terminal.
    CheckedIn,
    /// Cancelled by the resident (with the phone number) or a clerk. Terminal.
    Cancelled,
    /// Nobody checked in on the day (marked by the daily job). Terminal.
    NoShow,
}

impl AppointmentState {
    pub const ALL: [AppointmentState; 4] = [
        AppointmentState::Booked,
        AppointmentState::CheckedIn,
        AppointmentState::Cancelled,
        AppointmentState::NoShow,
    ];

    /// The stable spelling stored in the database and used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentState::Booked => "booked",
            AppointmentState::CheckedIn => "checked_in",
            AppointmentState::Cancelled => "cancelled",
            AppointmentState::NoShow => "no_show",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The Chinese word shown on pages.
    pub fn label(self) -> &'static str {
        match self {
            AppointmentState::Booked => "已预约",
            AppointmentState::CheckedIn => "已签到",
            AppointmentState::Cancelled => "已取消",
            AppointmentState::NoShow => "未到",
        }
    }
}

impl fmt::Display for AppointmentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long before and after the start of its slot a booking may be checked in (settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInWindow {
    pub before_minutes: i64,
    pub after_minutes: i64,
}

impl Default for CheckInWindow {
    fn default() -> Self {
        Self {
            before_minutes: 30,
            after_minutes: 15,
        }
    }
}

/// Why a booking cannot be checked in or cancelled. `code()` is stable for the API; the
/// Display text is Chinese and says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppointmentError {
    #[error("该预约已签到，请留意叫号屏")]
    AlreadyCheckedIn,
    #[error("该预约已经取消，无需再次操作；如仍需办理，请重新预约或现场取号")]
    AlreadyCancelled,
    #[error("该预约当天未签到，已失效；请重新预约或现场取号")]
    Expired,
    /// Checked in on another day than the booking's.
    #[error("{}", wrong_day_text(.day, .today))]
    WrongDay { day: NaiveDate, today: NaiveDate },
    /// Before the check-in window opens.
    #[error("您预约的是{}，{}起可以签到，请稍候再来", .start.format("%H:%M"), .opens.format("%H:%M"))]
    TooEarly { start: NaiveTime, opens: NaiveTime },
    /// After the check-in window closed.
    #[error("您预约的是{}，签到时间已过（须在{}前签到），请现场取号排队", .start.format("%H:%M"), .closes.format("%H:%M"))]
    TooLate { start: NaiveTime, closes: NaiveTime },
}

fn wrong_day_text(day: &NaiveDate, today: &NaiveDate) -> String {
    let (day, today) = (*day, *today);
    if day < today {
        format!(
            "该预约的日期（{}）已过，请重新预约或现场取号",
            day_in_words(day, today)
        )
    } else {
        format!("该预约的日期是{}，请当天前来签到", day_in_words(day, today))
    }
}

impl AppointmentError {
    pub fn code(&self) -> &'static str {
        match self {
            AppointmentError::AlreadyCheckedIn => "already_checked_in",
            AppointmentError::AlreadyCancelled => "already_cancelled",
            AppointmentError::Expired => "expired",
            AppointmentError::WrongDay { .. } => "wrong_day",
            AppointmentError::TooEarly { .. } => "too_early",
            AppointmentError::TooLate { .. } => "too_late",
        }
    }

    /// The refusal for a booking that is no longer booked (`None` while it is).
    pub fn not_booked(state: AppointmentState) -> Option<AppointmentError> {
        match state {
            AppointmentState::Booked => None,
            AppointmentState::CheckedIn => Some(AppointmentError::AlreadyCheckedIn),
            AppointmentState::Cancelled => Some(AppointmentError::AlreadyCancelled),
            AppointmentState::NoShow => Some(AppointmentError::Expired),
        }
    }
}

/// The check-in rule: a booking that is still booked, on its day, from
/// `window.before_minutes` before the slot's start to `window.after_minutes` after it
/// (both ends included). `now` is the hall's local time.
pub fn check_in(
    state: AppointmentState,
    day: NaiveDate,
    start: NaiveTime,
    now: NaiveDateTime,
    window: CheckInWindow,
) -> Result<(), AppointmentError> {
    if let Some(refused) = AppointmentError::not_booked(state) {
        return Err(refused);
    }
    if now.date() != day {
        return Err(AppointmentError::WrongDay {
            day,
            today: now.date(),
        });
    }
    let begins = day.and_time(start);
    let opens = begins - Duration::minutes(window.before_minutes.clamp(0, 24 * 60));
    let closes = begins + Duration::minutes(window.after_minutes.clamp(0, 24 * 60));
    if now < opens {
        return Err(AppointmentError::TooEarly {
            start,
            opens: opens.time(),
        });
    }
    if now > closes {
        return Err(AppointmentError::TooLate {
            start,
            closes: closes.time(),
        });
    }
    Ok(())
}

/// The cancel rule: only a booking that is still booked (a second cancel is told it is
/// already cancelled).
pub fn cancel(state: AppointmentState) -> Result<(), AppointmentError> {
    match AppointmentError::not_booked(state) {
        Some(refused) => Err(refused),
        None => Ok(()),
    }
}

/// The booking form carries the day (and class) whose slots the resident was shown; the slot
/// booked must be one of them. Otherwise a field error on `date` (or `class`) saying which
/// day the slot is on — nothing is booked on a day the resident did not choose.
pub fn check_booking_choice(
    slot_day: NaiveDate,
    slot_start: NaiveTime,
    slot_class: &str,
    seen_day: NaiveDate,
    seen_class: Option<&str>,
    today: NaiveDate,
) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::new();
    if slot_day != seen_day {
        e.add(
            "date",
            "slot_not_on_date",
            format!(
                "所选时段是{}，不是您查看的{}，请在{}的时段中重新选择",
                slot_in_words(slot_day, slot_start, today),
                day_in_words(seen_day, today),
                day_in_words(seen_day, today)
            ),
        );
    }
    if seen_class.is_some_and(|c| !c.trim().is_empty() && c.trim() != slot_class) {
        e.add(
            "class",
            "slot_not_in_class",
            "所选时段不属于您查看的业务类别，请重新选择时段",
        );
    }
    e.into_result()
}

// --- dates in words -------------------------------------------------------------------------

/// `星期一` … `星期日`.
pub fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "星期一",
        Weekday::Tue => "星期二",
        Weekday::Wed => "星期三",
        Weekday::Thu => "星期四",
        Weekday::Fri => "星期五",
        Weekday::Sat => "星期六",
        Weekday::Sun => "星期日",
    }
}

/// A date as people say it: `12月5日 星期六`; with the year (`2027年1月4日 星期一`) when it
/// is not in `today`'s year.
pub fn day_in_words(date: NaiveDate, today: NaiveDate) -> String {
    let year = if date.year() == today.year() {
        String::new()
    } else {
        format!("{}年", date.year())
    };
    format!(
        "{year}{}月{}日 {}",
        date.month(),
        date.day(),
        weekday_name(date.weekday())
    )
}

/// The short form for a row of dates to choose from: `12月5日 周六`.
pub fn day_short(date: NaiveDate) -> String {
    format!(
        "{}月{}日 {}",
        date.month(),
        date.day(),
        weekday_label(date.weekday())
    )
}

/// When an appointment is, in words: `12月5日 星期六 14:30`.
pub fn slot_in_words(date: NaiveDate, start: NaiveTime, today: NaiveDate) -> String {
    format!("{} {}", day_in_words(date, today), start.format("%H:%M"))
}

// --- waiting time and booking limits --------------------------------------------------------

/// Waiting-time estimate for a class: people ahead × average handling time / windows serving
/// the class, rounded up to whole minutes; `None` when no window serves the class. A negative
/// or non-numeric average counts as 0.
pub fn estimate_wait_minutes(
    ahead: u32,
    avg_handling_secs: f64,
    windows_serving: u32,
) -> Option<u32> {
    if windows_serving == 0 {
        return None;
    }
    // `f64::max` ignores NaN, so NaN and negative averages both become 0.
    let avg = avg_handling_secs.max(0.0);
    let minutes = f64::from(ahead) * avg / (60.0 * f64::from(windows_serving));
    // A tolerance so that 5.000000000001 (floating noise) stays 5 rather than 6.
    let rounded = (minutes - 1e-9).ceil().max(0.0);
    // `as` saturates at u32::MAX.
    Some(rounded as u32)
}

/// No-show limit on appointments (a setting): true when `no_shows_in_window` ≥ `limit`
/// (`limit == 0` = no limit).
pub fn booking_blocked(no_shows_in_window: u32, limit: u32) -> bool {
    limit != 0 && no_shows_in_window >= limit
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // --- enums ------------------------------------------------------------------------------

    #[test]
    fn enum_spellings_round_trip() {
        for r in PriorityReason::ALL {
            assert_eq!(PriorityReason::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        for s in TicketState::ALL {
            assert_eq!(TicketState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for w in WindowState::ALL {
            assert_eq!(WindowState::parse(w.as_str()), Some(w));
            assert_eq!(serde_json::to_value(w).unwrap(), w.as_str());
        }
        assert_eq!(PriorityReason::parse("nope"), None);
        assert_eq!(TicketState::NoShow.as_str(), "no_show");
        assert_eq!(TicketState::NoShow.label(), "过号");
        assert_eq!(PriorityReason::Pregnant.label(), "孕妇");
        assert_eq!(WindowState::Paused.label(), "暂停");
        assert!(WindowState::Open.may_call());
        assert!(!WindowState::Paused.may_call());
    }

    #[test]
    fn actions_serialise_with_their_name_as_tag() {
        for a in all_actions("B") {
            let json = serde_json::to_value(&a).unwrap();
            assert_eq!(json["action"], a.name());
            let back: TicketAction = serde_json::from_value(json).unwrap();
            assert_eq!(back, a);
        }
        let t: TicketAction =
            serde_json::from_str(r#"{"action":"transfer","to_class":"C"}"#).unwrap();
        assert_eq!(
            t,
            TicketAction::Transfer {
                to_class: "C".into()
            }
        );
    }

    // --- the state machine ------------------------------------------------------------------

    fn all_actions(to_class: &str) -> Vec<TicketAction> {
        vec![
            TicketAction::Call,
            TicketAction::Recall,
            TicketAction::StartService,
            TicketAction::Finish,
            TicketAction::NoShow,
            TicketAction::Requeue,
            TicketAction::Transfer {
                to_class: to_class.to_string(),
            },
            TicketAction::Cancel,
        ]
    }

    fn facts(state: TicketState) -> TicketFacts {
        TicketFacts {
            state,
            requeue_count: 0,
            recall_count: 0,
        }
    }

    /// The expected graph, written out independently of `next_state`.
    fn expected(state: TicketState, action: &str) -> Option<TicketState> {
        use TicketState::*;
        let table: &[(TicketState, &str, TicketState)] = &[
            (Waiting, "call", Called),
            (Called, "recall", Called),
            (Called, "start_service", Serving),
            (Serving, "finish", Done),
            (Called, "no_show", NoShow),
            (NoShow, "requeue", Waiting),
            (Waiting, "transfer", Waiting),
            (Called, "transfer", Waiting),
            (Waiting, "cancel", Cancelled),
        ];
        table
            .iter()
            .find(|(s, a, _)| *s == state && *a == action)
            .map(|(_, _, to)| *to)
    }

    #[test]
    fn every_action_in_every_state() {
        for state in TicketState::ALL {
            for action in all_actions("B") {
                let result = apply(&facts(state), &action, 2);
                match expected(state, action.name()) {
                    Some(to) => assert_eq!(
                        result,
                        Ok(TicketTransition { from: state, to }),
                        "{state:?} {action:?}"
                    ),
                    None => {
                        let err = result.expect_err("illegal edge");
                        assert_eq!(err.code(), "illegal_transition", "{state:?} {action:?}");
                        assert_eq!(
                            err,
                            QueueError::IllegalTransition {
                                state: state.label(),
                                action: action.label()
                            }
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        for state in TicketState::ALL {
            let any_out = all_actions("B")
                .iter()
                .any(|a| next_state(state, a).is_some());
            assert_eq!(any_out, !state.is_terminal(), "{state:?}");
        }
    }

    #[test]
    fn requeue_once_only() {
        let first = TicketFacts {
            state: TicketState::NoShow,
            requeue_count: 0,
            recall_count: 3,
        };
        assert_eq!(
            apply(&first, &TicketAction::Requeue, 2).unwrap().to,
            TicketState::Waiting
        );
        let second = TicketFacts {
            requeue_count: 1,
            ..first
        };
        let err = apply(&second, &TicketAction::Requeue, 2).unwrap_err();
        assert_eq!(err, QueueError::RequeueLimit);
        assert_eq!(err.code(), "requeue_limit");
        assert!(err.to_string().contains("一次"));
        // A re-queued ticket can still be called, skipped, but not re-queued again.
        let waiting = TicketFacts {
            state: TicketState::Waiting,
            ..second
        };
        assert!(apply(&waiting, &TicketAction::Call, 2).is_ok());
    }

    #[test]
    fn recall_limit() {
        let mut f = facts(TicketState::Called);
        for n in 0..3 {
            f.recall_count = n;
            assert_eq!(
                apply(&f, &TicketAction::Recall, 3),
                Ok(TicketTransition {
                    from: TicketState::Called,
                    to: TicketState::Called
                })
            );
        }
        f.recall_count = 3;
        let err = apply(&f, &TicketAction::Recall, 3).unwrap_err();
        assert_eq!(err, QueueError::RecallLimit);
        assert_eq!(err.code(), "recall_limit");
        // With a setting of 0 recalls, none is allowed.
        assert_eq!(
            apply(&facts(TicketState::Called), &TicketAction::Recall, 0),
            Err(QueueError::RecallLimit)
        );
        // The limit does not stop other actions.
        assert!(apply(&f, &TicketAction::NoShow, 3).is_ok());
        assert!(apply(&f, &TicketAction::StartService, 3).is_ok());
    }

    #[test]
    fn state_is_checked_before_guards() {
        let f = TicketFacts {
            state: TicketState::Waiting,
            requeue_count: 5,
            recall_count: 5,
        };
        assert_eq!(
            apply(&f, &TicketAction::Recall, 0).unwrap_err().code(),
            "illegal_transition"
        );
        assert_eq!(
            apply(&f, &TicketAction::Requeue, 0).unwrap_err().code(),
            "illegal_transition"
        );
        let done = facts(TicketState::Done);
        let blank = TicketAction::Transfer {
            to_class: " ".into(),
        };
        assert_eq!(
            apply(&done, &blank, 0).unwrap_err().code(),
            "illegal_transition"
        );
    }

    #[test]
    fn transfer_needs_a_class() {
        for state in [TicketState::Waiting, TicketState::Called] {
            for blank in ["", "  ", "\t"] {
                let err = apply(
                    &facts(state),
                    &TicketAction::Transfer {
                        to_class: blank.into(),
                    },
                    2,
                )
                .unwrap_err();
                assert_eq!(err.code(), "invalid");
                assert_eq!(err.field(), Some("to_class"));
                assert!(!err.to_string().is_empty());
            }
        }
    }

    #[test]
    fn illegal_transition_message_is_chinese() {
        let err = apply(&facts(TicketState::Done), &TicketAction::Call, 2).unwrap_err();
        assert_eq!(err.to_string(), "票号当前状态“已办结”下不能执行“叫号”");
    }

    // --- ticket numbers ---------------------------------------------------------------------

    #[test]
    fn ticket_numbers() {
        assert_eq!(ticket_number("A", 1), "A001");
        assert_eq!(ticket_number("A", 42), "A042");
        assert_eq!(ticket_number("B", 999), "B999");
        assert_eq!(ticket_number("B", 1234), "B1234");
        assert_eq!(ticket_number("GA", 7), "GA007");
        assert_eq!(ticket_number("A", 0), "A000");
    }

    #[test]
    fn prefixes() {
        for ok in ["A", "Z", "AB", "GA"] {
            assert!(valid_prefix(ok), "{ok}");
        }
        for bad in ["", "a", "ABC", "A1", "1", "Ａ", "A ", "é"] {
            assert!(!valid_prefix(bad), "{bad}");
        }
    }

    // --- call order -------------------------------------------------------------------------

    const MIN: i64 = 60_000_000;

    const T0: i64 = 1_780_000_000_000_000;

    fn t(id: i64, class: &str, minute: i64, priority: bool) -> WaitingTicket {
        WaitingTicket {
            id,
            class_code: class.into(),
            issued_at: T0 + minute * MIN,
            placement: if priority {
                Placement::Priority
            } else {
                Placement::Ordinary
            },
        }
    }

    /// An appointment checked in at `minute` for a slot starting at `slot_minute`.
    fn appt(id: i64, class: &str, minute: i64, slot_minute: i64) -> WaitingTicket {
        WaitingTicket {
            id,
            class_code: class.into(),
            issued_at: T0 + minute * MIN,
            placement: Placement::Appointment {
                slot_start: T0 + slot_minute * MIN,
            },
        }
    }

    fn boost(boost_minutes: i64) -> PriorityRule {
        PriorityRule {
            boost_minutes,
            ..PriorityRule::default()
        }
    }

    fn serves(classes: &[&str]) -> Vec<String> {
        classes.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn order_key_and_default() {
        let rule = PriorityRule::default();
        assert_eq!(rule.boost_minutes, 30);
        assert_eq!(rule.order_key(100 * MIN, false), 100 * MIN);
        assert_eq!(rule.order_key(100 * MIN, true), 70 * MIN);
        let off = boost(0);
        assert_eq!(off.order_key(100 * MIN, true), 100 * MIN);
        let negative = boost(-10);
        assert_eq!(negative.order_key(100 * MIN, true), 100 * MIN);
        let huge = boost(i64::MAX);
        assert_eq!(
            huge.order_key(0, true),
            PriorityRule::STRICT.order_key(0, true)
        );
        assert_eq!(
            PriorityRule::STRICT.order_key(i64::MIN + 1, true),
            i64::MIN,
            "saturates"
        );
    }

    #[test]
    fn pick_next_with_boost() {
        let waiting = vec![
            t(1, "A", 0, false),
            t(2, "A", 10, false),
            t(3, "A", 25, true),  // effective -5 with boost 30
            t(4, "A", 40, true),  // effective 10: ties with #2, id decides
            t(5, "B", -60, true), // another class
        ];
        let a = serves(&["A"]);
        let rule = PriorityRule::default();
        assert_eq!(pick_next(&waiting, &a, rule).unwrap().id, 3);
        let order: Vec<i64> = call_order(&waiting, &a, rule)
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(order, vec![3, 1, 2, 4]);
        // No priority lane: plain FIFO.
        let off = boost(0);
        let order: Vec<i64> = call_order(&waiting, &a, off).iter().map(|t| t.id).collect();
        assert_eq!(order, vec![1, 2, 3, 4]);
        // Strict: all priority tickets first.
        let order: Vec<i64> = call_order(&waiting, &a, PriorityRule::STRICT)
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(order, vec![3, 4, 1, 2]);
    }

    #[test]
    fn pick_next_filters_by_class() {
        let waiting = vec![
            t(1, "A", 0, false),
            t(2, "B", 5, false),
            t(3, "C", -5, true),
        ];
        let rule = PriorityRule::default();
        assert_eq!(pick_next(&waiting, &serves(&["B"]), rule).unwrap().id, 2);
        assert_eq!(
            pick_next(&waiting, &serves(&["A", "B"]), rule).unwrap().id,
            1
        );
        assert_eq!(
            pick_next(&waiting, &serves(&["B", "C"]), rule).unwrap().id,
            3
        );
        assert_eq!(pick_next(&waiting, &serves(&["D"]), rule), None);
        assert_eq!(pick_next(&waiting, &[], rule), None);
        assert_eq!(pick_next(&[], &serves(&["A"]), rule), None);
    }

    #[test]
    fn pick_next_breaks_ties_by_id() {
        let waiting = vec![
            t(9, "A", 0, false),
            t(4, "A", 0, false),
            t(7, "A", 0, false),
        ];
        assert_eq!(
            pick_next(&waiting, &serves(&["A"]), PriorityRule::default())
                .unwrap()
                .id,
            4
        );
        // A priority ticket issued 30 minutes after an ordinary one ties with it.
        let waiting = vec![t(5, "A", 30, true), t(6, "A", 0, false)];
        assert_eq!(
            pick_next(&waiting, &serves(&["A"]), PriorityRule::default())
                .unwrap()
                .id,
            5
        );
        let waiting = vec![t(8, "A", 30, true), t(6, "A", 0, false)];
        assert_eq!(
            pick_next(&waiting, &serves(&["A"]), PriorityRule::default())
                .unwrap()
                .id,
            6
        );
    }

    #[test]
    fn people_ahead() {
        let waiting = vec![
            t(1, "A", 0, false),
            t(2, "A", 10, false),
            t(3, "B", 1, false),
            t(4, "A", 20, true),
        ];
        let rule = PriorityRule::default();
        assert_eq!(ahead_of(&waiting, &waiting[0], rule), 1); // #4 goes first
        assert_eq!(ahead_of(&waiting, &waiting[1], rule), 2);
        assert_eq!(ahead_of(&waiting, &waiting[2], rule), 0);
        assert_eq!(ahead_of(&waiting, &waiting[3], rule), 0);
        let newcomer = t(10, "A", 30, false);
        assert_eq!(ahead_of(&waiting, &newcomer, rule), 3);
    }

    #[test]
    fn the_two_priorities_are_distinct_lanes() {
        assert_eq!(Lane::of(false, false), Lane::Ordinary);
        assert_eq!(Lane::of(true, false), Lane::Priority);
        assert_eq!(Lane::of(false, true), Lane::Appointment);
        assert_eq!(Lane::of(true, true), Lane::Appointment);
        assert_eq!(Lane::Priority.label(), "爱心通道");
        assert_eq!(Lane::Appointment.label(), "预约");
        assert_eq!(Lane::Ordinary.badge(), None);
        assert_eq!(Lane::Appointment.badge(), Some("预约"));
        for l in Lane::ALL {
            assert_eq!(serde_json::to_value(l).unwrap(), l.as_str());
        }
        assert_eq!(
            Placement::Appointment { slot_start: 0 }.lane(),
            Lane::Appointment
        );
        // An appointment is not a 爱心通道 reason any more.
        assert_eq!(PriorityReason::parse("appointment"), None);
    }

    #[test]
    fn an_appointment_is_ordered_by_its_slot_not_its_check_in() {
        let rule = PriorityRule::default(); // 爱心通道 30 minutes, 预约 10 minutes
        assert_eq!(rule.appointment_lead_minutes, 10);
        // Checked in at 0 (hours early would be the same) for a slot at 60: placed at 50.
        assert_eq!(
            rule.key(
                T0,
                Placement::Appointment {
                    slot_start: T0 + 60 * MIN
                }
            ),
            T0 + 50 * MIN
        );
        let waiting = vec![
            appt(1, "A", 0, 60), // arrived an hour early: placed at 50
            t(2, "A", 10, false),
            t(3, "A", 55, false),
            t(4, "A", 70, true), // 爱心通道 at 40
        ];
        let a = serves(&["A"]);
        let order: Vec<i64> = call_order(&waiting, &a, rule)
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(order, vec![2, 4, 1, 3], "an early check-in does not jump");
        // On time for the slot: ahead of walk-ins who came shortly before it.
        let waiting = vec![t(5, "A", 52, false), appt(6, "A", 58, 60)];
        assert_eq!(pick_next(&waiting, &a, rule).unwrap().id, 6);
        let no_lead = PriorityRule {
            appointment_lead_minutes: -5,
            ..rule
        };
        assert_eq!(pick_next(&waiting, &a, no_lead).unwrap().id, 5);
        assert_eq!(ahead_of(&waiting, &waiting[0], rule), 1);
    }

    fn ticket_strategy() -> impl Strategy<Value = WaitingTicket> {
        (0i64..40, 0usize..3, -600i64..600, any::<bool>()).prop_map(|(id, c, minute, p)| {
            WaitingTicket {
                id,
                class_code: ["A", "B", "C"][c].to_string(),
                issued_at: T0 + minute * MIN + id,
                placement: if p {
                    Placement::Priority
                } else {
                    Placement::Ordinary
                },
            }
        })
    }

    fn earlier(a: &WaitingTicket, b: &WaitingTicket) -> bool {
        (a.issued_at, a.id) < (b.issued_at, b.id)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn without_boost_the_earliest_is_called(
            waiting in prop::collection::vec(ticket_strategy(), 0..30),
            classes in prop::sample::subsequence(vec!["A", "B", "C"], 0..=3),
        ) {
            let serves = serves(&classes);
            let picked = pick_next(&waiting, &serves, boost(0));
            let earliest = waiting
                .iter()
                .filter(|t| classes.contains(&t.class_code.as_str()))
                .min_by_key(|t| (t.issued_at, t.id));
            prop_assert_eq!(picked, earliest);
        }

        #[test]
        fn any_boost_keeps_each_lane_fifo(
            waiting in prop::collection::vec(ticket_strategy(), 0..30),
            classes in prop::sample::subsequence(vec!["A", "B", "C"], 0..=3),
            boost in prop_oneof![Just(0i64), 1i64..240, Just(i64::MAX), -100i64..0],
        ) {
            let serves = serves(&classes);
            let rule = self::boost(boost);
            let served: Vec<&WaitingTicket> = waiting
                .iter()
                .filter(|t| classes.contains(&t.class_code.as_str()))
                .collect();
            let Some(p) = pick_next(&waiting, &serves, rule) else {
                prop_assert!(served.is_empty());
                return Ok(());
            };
            prop_assert!(classes.contains(&p.class_code.as_str()));
            for q in &served {
                // Within a lane, nobody issued earlier waits behind the picked ticket.
                if q.placement == p.placement {
                    prop_assert!(!earlier(q, p), "{:?} before {:?}", q, p);
                }
                // A priority ticket is never overtaken by an ordinary ticket issued after it.
                if q.placement == Placement::Priority && p.placement == Placement::Ordinary {
                    prop_assert!(q.issued_at >= p.issued_at + rule.effective_boost_minutes() * MIN);
                }
            }
            // Strict priority: a waiting priority ticket always goes first.
            if boost == i64::MAX && served.iter().any(|t| t.placement == Placement::Priority) {
                prop_assert_eq!(p.placement, Placement::Priority);
            }
            // The whole call order begins with the pick and is what repeated picks give.
            let order = call_order(&waiting, &serves, rule);
            prop_assert_eq!(order.first().copied(), Some(p));
            let mut rest: Vec<WaitingTicket> = waiting.clone();
            for expected in order {
                let next = pick_next(&rest, &serves, rule).cloned().unwrap();
                prop_assert_eq!(&next, expected);
                let at = rest.iter().position(|t| *t == next).unwrap();
                rest.remove(at);
            }
        }
    }

    // --- announcements ----------------------------------------------------------------------

    #[test]
    fn announcements() {
        assert_eq!(announcement("A001", 3, false), "请A001号到3号窗口办理");
        assert_eq!(
            announcement("A001", 3, true),
            "请A001号到3号窗口办理（重复呼叫）"
        );
        assert_eq!(
            announcement_text_en("B1234", 12, false),
            "Ticket B1234, please go to window 12"
        );
        assert!(announcement_text_en("B1234", 12, true).ends_with("(repeat call)"));
    }

    // --- opening hours ----------------------------------------------------------------------

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn cal() -> WorkCalendar {
        WorkCalendar::shipped()
    }

    #[test]
    fn demo_hours_are_valid_and_round_trip() {
        let hours = OpeningHours::demo();
        assert_eq!(hours.validate(), Ok(()));
        let json = serde_json::to_string(&hours).unwrap();
        let back: OpeningHours = serde_json::from_str(&json).unwrap();
        assert_eq!(back, hours);
    }

    #[test]
    fn a_normal_monday() {
        let monday = d(2026, 11, 23);
        assert_eq!(monday.weekday(), Weekday::Mon);
        let s = sessions_on(&OpeningHours::demo(), &cal(), monday).unwrap();
        assert_eq!(
            s,
            vec![Session::hm(9, 0, 12, 0), Session::hm(13, 30, 17, 0)]
        );
        assert_eq!(
            slots_on(&OpeningHours::demo(), &cal(), monday)
                .unwrap()
                .len(),
            6 + 7
        );
    }

    #[test]
    fn thursday_evening() {
        let thursday = d(2026, 11, 26);
        assert_eq!(thursday.weekday(), Weekday::Thu);
        let s = sessions_on(&OpeningHours::demo(), &cal(), thursday).unwrap();
        assert_eq!(
            s,
            vec![
                Session::hm(9, 0, 12, 0),
                Session::hm(13, 30, 17, 0),
                Session::hm(17, 0, 19, 0)
            ]
        );
        let slots = slots_on(&OpeningHours::demo(), &cal(), thursday).unwrap();
        assert_eq!(slots.len(), 6 + 7 + 4);
        assert_eq!(slots.last(), Some(&Session::hm(18, 30, 19, 0)));
        // A Thursday inside the National Day holiday: closed, evening included.
        assert_eq!(
            sessions_on(&OpeningHours::demo(), &cal(), d(2026, 10, 1)).unwrap(),
            vec![]
        );
    }

    #[test]
    fn an_ordinary_saturday_and_sunday() {
        let saturday = d(2026, 11, 28);
        assert_eq!(saturday.weekday(), Weekday::Sat);
        let s = sessions_on(&OpeningHours::demo(), &cal(), saturday).unwrap();
        assert_eq!(s, vec![Session::hm(9, 0, 12, 0)]);
        assert_eq!(
            slots_on(&OpeningHours::demo(), &cal(), saturday)
                .unwrap()
                .len(),
            6
        );
        // The demo hall does not open on Sundays.
        assert_eq!(
            sessions_on(&OpeningHours::demo(), &cal(), d(2026, 11, 29)).unwrap(),
            vec![]
        );
    }

    #[test]
    fn a_makeup_saturday_opens_like_a_workday() {
        let makeup = d(2026, 2, 14);
        assert_eq!(makeup.weekday(), Weekday::Sat);
        let s = sessions_on(&OpeningHours::demo(), &cal(), makeup).unwrap();
        assert_eq!(
            s,
            vec![Session::hm(9, 0, 12, 0), Session::hm(13, 30, 17, 0)]
        );
    }

    #[test]
    fn a_statutory_holiday_is_closed_unless_opened() {
        let national_day = d(2026, 10, 1);
        let mut hours = OpeningHours::demo();
        assert_eq!(sessions_on(&hours, &cal(), national_day).unwrap(), vec![]);
        assert_eq!(slots_on(&hours, &cal(), national_day).unwrap(), vec![]);
        // 2026-10-03 is a Saturday inside the holiday: no 周末不打烊 sessions.
        let holiday_saturday = d(2026, 10, 3);
        assert_eq!(holiday_saturday.weekday(), Weekday::Sat);
        assert_eq!(
            sessions_on(&hours, &cal(), holiday_saturday).unwrap(),
            vec![]
        );
        // Explicitly opened.
        hours
            .opened_dates
            .push((national_day, Session::hm(10, 0, 12, 0)));
        assert_eq!(
            sessions_on(&hours, &cal(), national_day).unwrap(),
            vec![Session::hm(10, 0, 12, 0)]
        );
        assert_eq!(slots_on(&hours, &cal(), national_day).unwrap().len(), 4);
        // Only on that date.
        assert_eq!(sessions_on(&hours, &cal(), d(2026, 10, 2)).unwrap(), vec![]);
    }

    #[test]
    fn opened_dates_overlapping_regular_hours_are_merged() {
        let mut hours = OpeningHours::demo();
        let monday = d(2026, 11, 23);
        hours.opened_dates.push((monday, Session::hm(11, 0, 14, 0)));
        assert_eq!(
            sessions_on(&hours, &cal(), monday).unwrap(),
            vec![Session::hm(9, 0, 17, 0)]
        );
        assert_eq!(slots_on(&hours, &cal(), monday).unwrap().len(), 16);
    }

    #[test]
    fn uncovered_year_is_an_error() {
        let err = sessions_on(&OpeningHours::demo(), &cal(), d(2031, 3, 3)).unwrap_err();
        assert_eq!(err, CalendarError::YearNotCovered(2031));
        assert!(slots_on(&OpeningHours::demo(), &cal(), d(2031, 3, 3)).is_err());
    }

    #[test]
    fn slot_counts() {
        let morning = [Session::hm(9, 0, 12, 0)];
        assert_eq!(slots_in(&morning, 30).len(), 6);
        assert_eq!(slots_in(&morning, 45).len(), 4);
        assert_eq!(
            slots_in(&morning, 50).len(),
            3,
            "a trailing partial slot is dropped"
        );
        assert_eq!(slots_in(&morning, 180).len(), 1);
        assert_eq!(slots_in(&morning, 181).len(), 0);
        assert_eq!(slots_in(&morning, 0).len(), 0);
        let slots = slots_in(&[Session::hm(13, 30, 17, 0)], 40);
        assert_eq!(
            slots,
            vec![
                Session::hm(13, 30, 14, 10),
                Session::hm(14, 10, 14, 50),
                Session::hm(14, 50, 15, 30),
                Session::hm(15, 30, 16, 10),
                Session::hm(16, 10, 16, 50),
            ]
        );
        // Near midnight the slot arithmetic does not wrap around.
        let late = Session::new(
            NaiveTime::from_hms_opt(23, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(23, 59, 59).unwrap(),
        );
        assert_eq!(slots_in(&[late], 30).len(), 1);
    }

    #[test]
    fn validation() {
        let mut hours = OpeningHours::demo();
        hours.slot_minutes = 4;
        hours.workday.push(Session::hm(11, 0, 12, 30)); // overlaps 09:00-12:00
        hours
            .weekday_extra
            .push((Weekday::Fri, Session::hm(16, 0, 18, 0))); // overlaps 13:30-17:00
        hours.weekend.push((Weekday::Mon, Session::hm(9, 0, 10, 0)));
        hours.weekend.push((Weekday::Sun, Session::hm(10, 0, 9, 0)));
        hours
            .opened_dates
            .push((d(2026, 10, 1), Session::hm(9, 0, 11, 0)));
        hours
            .opened_dates
            .push((d(2026, 10, 1), Session::hm(10, 0, 12, 0)));
        let errors = hours.validate().unwrap_err();
        let codes: Vec<(&str, &str)> = errors
            .0
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        for expected in [
            ("slot_minutes", "out_of_range"),
            ("workday", "overlap"),
            ("weekday_extra", "overlap"),
            ("weekend", "not_weekend"),
            ("weekend", "bad_session"),
            ("opened_dates", "overlap"),
        ] {
            assert!(codes.contains(&expected), "{expected:?} in {codes:?}");
        }
        assert!(errors.0.iter().all(|e| !e.message.is_empty()));

        // Touching sessions are fine; so are the bounds of the slot range.
        let mut ok = OpeningHours::demo();
        ok.slot_minutes = 5;
        assert_eq!(ok.validate(), Ok(()));
        ok.slot_minutes = 240;
        assert_eq!(ok.validate(), Ok(()));
        ok.slot_minutes = 241;
        assert!(ok.validate().is_err());
        // The same date opened twice without overlap is fine; on different dates too.
        let mut ok = OpeningHours::demo();
        ok.opened_dates
            .push((d(2026, 10, 1), Session::hm(9, 0, 10, 0)));
        ok.opened_dates
            .push((d(2026, 10, 1), Session::hm(10, 0, 11, 0)));
        ok.opened_dates
            .push((d(2026, 10, 2), Session::hm(9, 0, 11, 0)));
        assert_eq!(ok.validate(), Ok(()));
    }

    // --- estimates and limits ---------------------------------------------------------------

    #[test]
    fn wait_estimates() {
        assert_eq!(estimate_wait_minutes(0, 300.0, 2), Some(0));
        assert_eq!(estimate_wait_minutes(3, 300.0, 1), Some(15));
        assert_eq!(estimate_wait_minutes(3, 300.0, 2), Some(8)); // 7.5 rounds up
        assert_eq!(estimate_wait_minutes(1, 61.0, 1), Some(2));
        assert_eq!(estimate_wait_minutes(1, 1.0, 1), Some(1));
        assert_eq!(estimate_wait_minutes(10, 6.0, 1), Some(1)); // exactly 60 s
        assert_eq!(estimate_wait_minutes(3, 20.0, 1), Some(1));
        assert_eq!(
            estimate_wait_minutes(7, 0.1 * 600.0, 7),
            Some(1),
            "floating noise"
        );
        assert_eq!(estimate_wait_minutes(5, 300.0, 0), None);
        assert_eq!(estimate_wait_minutes(0, 300.0, 0), None);
        assert_eq!(estimate_wait_minutes(5, -10.0, 1), Some(0));
        assert_eq!(estimate_wait_minutes(5, f64::NAN, 1), Some(0));
        assert_eq!(estimate_wait_minutes(5, f64::INFINITY, 1), Some(u32::MAX));
        assert_eq!(estimate_wait_minutes(u32::MAX, 1e9, 1), Some(u32::MAX));
    }

    fn at(y: i32, m: u32, day: u32, h: u32, min: u32) -> NaiveDateTime {
        d(y, m, day).and_hms_opt(h, min, 0).unwrap()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn appointment_states() {
        for a in AppointmentState::ALL {
            assert_eq!(AppointmentState::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        assert_eq!(AppointmentState::CheckedIn.label(), "已签到");
        assert_eq!(AppointmentState::parse("gone"), None);
    }

    #[test]
    fn check_in_only_around_the_slot() {
        use AppointmentState::*;
        let w = CheckInWindow::default();
        let (day, start) = (d(2026, 12, 5), hm(14, 30));
        let ok = |now| check_in(Booked, day, start, now, w);
        assert_eq!(ok(at(2026, 12, 5, 14, 0)), Ok(()), "30 minutes before");
        assert_eq!(ok(at(2026, 12, 5, 14, 30)), Ok(()));
        assert_eq!(ok(at(2026, 12, 5, 14, 45)), Ok(()), "15 minutes after");
        let early = ok(at(2026, 12, 5, 9, 0)).unwrap_err();
        assert_eq!(early.code(), "too_early");
        assert_eq!(
            early.to_string(),
            "您预约的是14:30，14:00起可以签到，请稍候再来"
        );
        assert_eq!(ok(at(2026, 12, 5, 13, 59)).unwrap_err().code(), "too_early");
        let late = ok(at(2026, 12, 5, 14, 46)).unwrap_err();
        assert_eq!(late.code(), "too_late");
        assert!(late.to_string().contains("14:45前"), "{late}");
        let before = ok(at(2026, 12, 3, 14, 30)).unwrap_err();
        assert_eq!(before.code(), "wrong_day");
        assert_eq!(
            before.to_string(),
            "该预约的日期是12月5日 星期六，请当天前来签到"
        );
        let after = ok(at(2026, 12, 7, 14, 30)).unwrap_err();
        assert!(after.to_string().contains("已过"), "{after}");
        // The state first: a checked-in booking is told so, whatever the time.
        assert_eq!(
            check_in(CheckedIn, day, start, at(2026, 12, 5, 14, 30), w),
            Err(AppointmentError::AlreadyCheckedIn)
        );
        assert_eq!(
            check_in(Cancelled, day, start, at(2026, 12, 1, 8, 0), w),
            Err(AppointmentError::AlreadyCancelled)
        );
        // A zero window: exactly at the start only.
        let exact = CheckInWindow {
            before_minutes: 0,
            after_minutes: 0,
        };
        assert!(check_in(Booked, day, start, at(2026, 12, 5, 14, 30), exact).is_ok());
        assert!(check_in(Booked, day, start, at(2026, 12, 5, 14, 31), exact).is_err());
        // A window reaching over midnight stays on the booking's day.
        let early_slot = check_in(Booked, day, hm(0, 10), at(2026, 12, 4, 23, 50), w);
        assert_eq!(early_slot.unwrap_err().code(), "wrong_day");
    }

    #[test]
    fn cancel_only_while_booked() {
        use AppointmentState::*;
        assert_eq!(cancel(Booked), Ok(()));
        let twice = cancel(Cancelled).unwrap_err();
        assert_eq!(twice.code(), "already_cancelled");
        assert!(twice.to_string().starts_with("该预约已经取消"));
        assert_eq!(cancel(CheckedIn).unwrap_err().code(), "already_checked_in");
        assert_eq!(cancel(NoShow).unwrap_err().code(), "expired");
    }

    #[test]
    fn a_booking_is_on_the_day_the_resident_saw() {
        let today = d(2026, 11, 23);
        assert!(check_booking_choice(
            d(2026, 11, 28),
            hm(9, 0),
            "A",
            d(2026, 11, 28),
            Some("A"),
            today
        )
        .is_ok());
        assert!(
            check_booking_choice(d(2026, 11, 28), hm(9, 0), "A", d(2026, 11, 28), None, today)
                .is_ok()
        );
        let e = check_booking_choice(
            d(2026, 11, 23),
            hm(14, 30),
            "A",
            d(2026, 11, 28),
            Some("A"),
            today,
        )
        .unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert_eq!(
            (e.0[0].field.as_str(), e.0[0].code.as_str()),
            ("date", "slot_not_on_date")
        );
        assert_eq!(
            e.0[0].message,
            "所选时段是11月23日 星期一 14:30，不是您查看的11月28日 星期六，请在11月28日 星期六的时段中重新选择"
        );
        let e = check_booking_choice(
            d(2026, 11, 28),
            hm(9, 0),
            "A",
            d(2026, 11, 28),
            Some("B"),
            today,
        )
        .unwrap_err();
        assert_eq!(e.0[0].field, "class");
    }

    #[test]
    fn dates_in_words() {
        let today = d(2026, 11, 23);
        assert_eq!(
            slot_in_words(d(2026, 12, 5), hm(14, 30), today),
            "12月5日 星期六 14:30"
        );
        assert_eq!(day_in_words(d(2026, 11, 23), today), "11月23日 星期一");
        assert_eq!(day_in_words(d(2026, 11, 29), today), "11月29日 星期日");
        assert_eq!(
            day_in_words(d(2027, 1, 4), today),
            "2027年1月4日 星期一",
            "another year says its year"
        );
        assert_eq!(day_short(d(2026, 12, 5)), "12月5日 周六");
        let names: Vec<&str> = WEEKDAYS.iter().map(|w| weekday_name(*w)).collect();
        assert_eq!(
            names,
            [
                "星期一",
                "星期二",
                "星期三",
                "星期四",
                "星期五",
                "星期六",
                "星期日"
            ]
        );
    }

    #[test]
    fn booking_limits() {
        assert!(!booking_blocked(0, 0));
        assert!(!booking_blocked(100, 0), "0 = no limit");
        assert!(!booking_blocked(2, 3));
        assert!(booking_blocked(3, 3));
        assert!(booking_blocked(4, 3));
        assert!(booking_blocked(1, 1));
    }
}
