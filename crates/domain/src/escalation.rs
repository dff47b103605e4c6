//! The escalation engine's rules (督办): a tracked item of some loop (a rating's
//! rectification, a fallback-window case, a complaint, a grid event) sits in a stage with a
//! deadline; it is warned (yellow) when a share of its time is left, red at the deadline,
//! and escalated to the next tier when overdue. Pure: time is passed in, the calendar too.
//!
//! A loop plugs in by describing its kind ([`KindSpec`]: stages with their [`DeadlineRule`],
//! the [`Tier`]s an overdue item climbs) — the engine names no loop.
//!
//! **Escalation restarts the stage clock.** When an item goes overdue at tier k it moves to
//! tier k+1 with a fresh deadline of the same stage rule, counted from the escalation
//! moment. Why: the higher tier must have time of its own to act (督办 gives the supervisor
//! a period to get it done); with the old deadline kept, an overdue item would climb every
//! tier at once and no supervisor could ever be on time. The first moment the stage went
//! overdue is kept (`overdue_since`), so on-time figures still count from the original
//! deadline, and the light stays red for the rest of the stage.
//!
//! Deadline ends: clock hours end exactly N hours after the stage started; calendar and
//! working days end at 24:00 Beijing time of the last day (the day the stage started not
//! counted, 民法典 §201, like a case's deadline). A working-day deadline reaching into a
//! year whose arrangement is not loaded is pending — never guessed — and rechecked daily.

use crate::access::Role;
use crate::calendar::{CalendarError, WorkCalendar};
use crate::org::OrgPath;
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// UTC microseconds since the Unix epoch (as stored everywhere).
pub type Micros = i64;

pub const MICROS_PER_HOUR: Micros = 3_600_000_000;
pub const MICROS_PER_DAY: Micros = 24 * MICROS_PER_HOUR;
/// Beijing time is UTC+8 all year.
const BEIJING_OFFSET: Micros = 8 * MICROS_PER_HOUR;

/// Default share of the time left at which the yellow warning goes out: 200‰ = 20%.
pub const DEFAULT_WARN_PERMILLE: u32 = 200;
/// How often an item whose deadline waits for a year's calendar is looked at again.
pub const PENDING_RECHECK: Micros = MICROS_PER_DAY;
/// The longest kind and stage names (`rating.rectification`).
pub const NAME_MAX_CHARS: usize = 40;
/// Most tiers a kind may have, and the largest amount a rule may have.
pub const MAX_TIERS: usize = 10;
pub const MAX_AMOUNT: u32 = 10_000;

/// How long a stage may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "unit", content = "amount")]
pub enum DeadlineRule {
    /// Clock hours (e.g. 1 hour to respond), weekends and holidays included.
    Hours(u32),
    /// Calendar days, ending at 24:00 of the last day.
    CalendarDays(u32),
    /// Working days through the calendar (e.g. 3 working days to coordinate).
    WorkingDays(u32),
}

/// A stage's deadline as far as the calendar can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Due at `due_at`; yellow from `warn_at` (none when the warning share is 0).
    Due {
        due_at: Micros,
        warn_at: Option<Micros>,
    },
    /// The deadline reaches into `year`, whose arrangement is not loaded.
    Pending { year: i32 },
}

fn local_date(at: Micros) -> NaiveDate {
    Utc.timestamp_micros(at + BEIJING_OFFSET)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

/// 00:00 Beijing time of `date`, in UTC microseconds.
pub fn local_midnight(date: NaiveDate) -> Micros {
    date.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp_micros()
        - BEIJING_OFFSET
}

/// 24:00 Beijing time of `date`: the end of that day.
fn end_of_day(date: NaiveDate) -> Micros {
    local_midnight(date) + MICROS_PER_DAY
}

impl DeadlineRule {
    pub fn amount(self) -> u32 {
        match self {
            DeadlineRule::Hours(n)
            | DeadlineRule::CalendarDays(n)
            | DeadlineRule::WorkingDays(n) => n,
        }
    }

    /// The stored form: `hours:1`, `calendar_days:7`, `working_days:3`.
    pub fn as_stored(self) -> String {
        let unit = match self {
            DeadlineRule::Hours(_) => "hours",
            DeadlineRule::CalendarDays(_) => "calendar_days",
            DeadlineRule::WorkingDays(_) => "working_days",
        };
        format!("{unit}:{}", self.amount())
    }

    pub fn parse(s: &str) -> Option<DeadlineRule> {
        let (unit, n) = s.split_once(':')?;
        let n: u32 = n.parse().ok()?;
        match unit {
            "hours" => Some(DeadlineRule::Hours(n)),
            "calendar_days" => Some(DeadlineRule::CalendarDays(n)),
            "working_days" => Some(DeadlineRule::WorkingDays(n)),
            _ => None,
        }
    }

    /// `1小时`, `7天`, `3个工作日`.
    pub fn label(self) -> String {
        match self {
            DeadlineRule::Hours(n) => format!("{n}小时"),
            DeadlineRule::CalendarDays(n) => format!("{n}天"),
            DeadlineRule::WorkingDays(n) => format!("{n}个工作日"),
        }
    }

    /// The due time of a stage started at `start`, and when its yellow warning goes out:
    /// when `warn_permille`‰ of the time is left — of the clock time for hours and calendar
    /// days; of the working days for working days (the warning at 00:00 of the first of the
    /// last ⌈n·‰⌉ working days, so it never falls on a holiday). 0‰: no warning.
    pub fn schedule(
        self,
        cal: &WorkCalendar,
        start: Micros,
        warn_permille: u32,
    ) -> Result<Schedule, CalendarError> {
        let permille = i64::from(warn_permille.min(1000));
        let clock_share = |due_at: Micros| {
            (permille > 0).then(|| due_at - ((due_at - start) * permille + 999) / 1000)
        };
        match self {
            DeadlineRule::Hours(n) => {
                let due_at = start + i64::from(n) * MICROS_PER_HOUR;
                Ok(Schedule::Due {
                    due_at,
                    warn_at: clock_share(due_at),
                })
            }
            DeadlineRule::CalendarDays(n) => {
                let due_at = end_of_day(local_date(start) + Duration::days(i64::from(n)));
                Ok(Schedule::Due {
                    due_at,
                    warn_at: clock_share(due_at),
                })
            }
            DeadlineRule::WorkingDays(n) => {
                let day = local_date(start);
                let due = match cal.add_working_days(day, n) {
                    Ok(d) => d,
                    Err(CalendarError::YearNotCovered(year)) => {
                        return Ok(Schedule::Pending { year })
                    }
                    Err(e) => return Err(e),
                };
                let left = ((u64::from(n) * permille as u64).div_ceil(1000)) as u32;
                let warn_at = if permille == 0 || n == 0 {
                    None
                } else if left >= n {
                    Some(start)
                } else {
                    // The first of the last `left` working days: the (n-left+1)th.
                    Some(local_midnight(cal.add_working_days(day, n - left + 1)?))
                };
                Ok(Schedule::Due {
                    due_at: end_of_day(due),
                    warn_at,
                })
            }
        }
    }
}

/// Where an overdue item goes: holders of `role` at the owning unit (`up` = 0) or at its
/// ancestor `up` levels above (1: the parent — "the supervisor of the owning unit's
/// parent" is `Tier { role: Supervisor, up: 1 }`). Above the root means the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    pub role: Role,
    pub up: u32,
}

impl Tier {
    /// The organisation this tier's people sit at, for an item owned by `owner`.
    pub fn org(&self, owner: &OrgPath) -> OrgPath {
        let ids = owner.ids();
        let keep = ids.len().saturating_sub(self.up as usize).max(1);
        let mut path = OrgPath::root(ids.first().copied().unwrap_or(0));
        for id in ids.iter().take(keep).skip(1) {
            path = path.child(*id);
        }
        path
    }

    /// The id of that organisation.
    pub fn org_id(&self, owner: &OrgPath) -> i64 {
        self.org(owner).ids().last().copied().unwrap_or(0)
    }
}

/// One stage of a kind and its deadline rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageSpec {
    pub name: String,
    /// What pages call it (核实, 整改, 回访).
    pub label: String,
    pub rule: DeadlineRule,
    /// The notice its people get when an item enters the stage: an assignment unless the
    /// loop says otherwise (a callback stage: [`NoticeKind::CallbackDue`]).
    #[serde(default)]
    pub notice: Option<NoticeKind>,
}

/// A loop's description of its tracked items: the settings per kind and stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindSpec {
    /// The loop's name, e.g. `rating.rectification`.
    pub kind: String,
    pub label: String,
    pub stages: Vec<StageSpec>,
    /// Tier 0 is the owner's; an overdue item climbs one tier per deadline missed.
    pub tiers: Vec<Tier>,
    /// The yellow warning's share of time left, in ‰; `None`: the installation's setting
    /// (`escalation.warn_permille`, default [`DEFAULT_WARN_PERMILLE`]), filled in by the
    /// store when it reads the kind.
    #[serde(default)]
    pub warn_permille: Option<u32>,
}

/// Why a kind description is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("类型名称须为1至40个小写字母、数字、点或下划线")]
    BadName,
    #[error("至少需要一个环节和一个督办层级")]
    Empty,
    #[error("环节名称重复或不合规：{0}")]
    BadStage(String),
    #[error("时限须在1至10000之间：{0}")]
    BadAmount(String),
    #[error("督办层级不能超过10级")]
    TooManyTiers,
    #[error("预警比例须在0至1000‰之间")]
    BadPermille,
}

fn good_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= NAME_MAX_CHARS
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_')
}

impl KindSpec {
    pub fn validate(&self) -> Result<(), SpecError> {
        if !good_name(&self.kind) || self.label.chars().count() > NAME_MAX_CHARS {
            return Err(SpecError::BadName);
        }
        if self.stages.is_empty() || self.tiers.is_empty() {
            return Err(SpecError::Empty);
        }
        if self.tiers.len() > MAX_TIERS {
            return Err(SpecError::TooManyTiers);
        }
        if self.warn_permille.is_some_and(|p| p > 1000) {
            return Err(SpecError::BadPermille);
        }
        for (i, s) in self.stages.iter().enumerate() {
            if !good_name(&s.name)
                || s.label.chars().count() > NAME_MAX_CHARS
                || self.stages[..i].iter().any(|o| o.name == s.name)
            {
                return Err(SpecError::BadStage(s.name.clone()));
            }
            let n = s.rule.amount();
            if n == 0 || n > MAX_AMOUNT {
                return Err(SpecError::BadAmount(s.name.clone()));
            }
        }
        Ok(())
    }

    /// The warning share in force: the kind's own, else [`DEFAULT_WARN_PERMILLE`].
    pub fn permille(&self) -> u32 {
        self.warn_permille.unwrap_or(DEFAULT_WARN_PERMILLE)
    }

    pub fn stage(&self, name: &str) -> Option<&StageSpec> {
        self.stages.iter().find(|s| s.name == name)
    }
}

/// The clock of one tracked item, as the job reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemClock {
    pub stage: String,
    pub stage_started_at: Micros,
    pub due_at: Option<Micros>,
    pub pending_year: Option<i32>,
    pub warn_at: Option<Micros>,
    pub warned: bool,
    /// When this stage first went overdue (kept through escalations).
    pub overdue_since: Option<Micros>,
    /// Overdue at the last tier: nothing further to do.
    pub exhausted: bool,
    pub tier: u32,
}

impl ItemClock {
    /// A stage starting at `at` (tier 0, or the given tier).
    pub fn start(stage: &str, at: Micros, schedule: Schedule, tier: u32) -> ItemClock {
        let mut c = ItemClock {
            stage: stage.to_string(),
            stage_started_at: at,
            due_at: None,
            pending_year: None,
            warn_at: None,
            warned: false,
            overdue_since: None,
            exhausted: false,
            tier,
        };
        c.set_schedule(schedule);
        c
    }

    fn set_schedule(&mut self, schedule: Schedule) {
        match schedule {
            Schedule::Due { due_at, warn_at } => {
                self.due_at = Some(due_at);
                self.warn_at = warn_at;
                self.pending_year = None;
            }
            Schedule::Pending { year } => {
                self.due_at = None;
                self.warn_at = None;
                self.pending_year = Some(year);
            }
        }
    }

    /// When the job must look at the item next, given it was last looked at `now`: the
    /// warning, else the deadline; a pending deadline daily; never once exhausted.
    pub fn next_check_at(&self, now: Micros) -> Option<Micros> {
        if self.exhausted {
            return None;
        }
        if self.pending_year.is_some() {
            return Some(now + PENDING_RECHECK);
        }
        match (self.warn_at, self.due_at) {
            (Some(w), Some(d)) if !self.warned && w < d => Some(w),
            (_, d) => d,
        }
    }

    /// The light now: red from the deadline on (for the rest of the stage), yellow from the
    /// warning, green before; none while the deadline is pending.
    pub fn light(&self, now: Micros) -> Option<Light> {
        if self.overdue_since.is_some() || self.due_at.is_some_and(|d| now >= d) {
            return Some(Light::Red);
        }
        self.due_at?;
        if self.warned || self.warn_at.is_some_and(|w| now >= w) {
            Some(Light::Yellow)
        } else {
            Some(Light::Green)
        }
    }
}

/// 红黄绿灯 of a tracked item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Light {
    Green,
    Yellow,
    Red,
}

impl Light {
    pub fn label(self) -> &'static str {
        match self {
            Light::Green => "正常",
            Light::Yellow => "预警",
            Light::Red => "超期",
        }
    }
}

/// What a staff notice (站内通知) is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// Work handed to the recipients (an item tracked, a stage begun).
    Assignment,
    /// Yellow: the deadline is near.
    Warning,
    /// Overdue: handed up to the recipients (督办).
    Escalation,
    /// A callback to a resident is due (回访).
    CallbackDue,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 4] = [
        NoticeKind::Assignment,
        NoticeKind::Warning,
        NoticeKind::Escalation,
        NoticeKind::CallbackDue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Assignment => "assignment",
            NoticeKind::Warning => "warning",
            NoticeKind::Escalation => "escalation",
            NoticeKind::CallbackDue => "callback_due",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            NoticeKind::Assignment => "交办",
            NoticeKind::Warning => "预警",
            NoticeKind::Escalation => "督办",
            NoticeKind::CallbackDue => "待回访",
        }
    }
}

/// The text of a notice the engine sends, in the page's words.
pub fn notice_text(
    action: &Action,
    title: &str,
    stage_label: &str,
    due: &str,
) -> (NoticeKind, String) {
    match action {
        Action::Warn => (
            NoticeKind::Warning,
            format!("【临期预警】{title}：{stage_label}环节将于{due}到期"),
        ),
        Action::Escalate { .. } => (
            NoticeKind::Escalation,
            format!("【超期督办】{title}：{stage_label}环节已超期，已升级至您处督办，新时限{due}"),
        ),
        Action::Exhausted => (
            NoticeKind::Escalation,
            format!("【超期】{title}：{stage_label}环节已超期，已是最高督办层级"),
        ),
        Action::Resolve { .. } | Action::Recheck => (
            NoticeKind::Assignment,
            format!("{title}：{stage_label}环节时限{due}"),
        ),
    }
}

/// The largest notice text (the engine's texts and a loop's own).
pub const NOTICE_TEXT: crate::validation::TextLimit = crate::validation::TextLimit::one_line(300);
/// A link to the item a notice is about: a path inside the product.
pub const LINK: crate::validation::TextLimit = crate::validation::TextLimit::one_line(200);
/// An item's title as notices and lists show it.
pub const TITLE: crate::validation::TextLimit = crate::validation::TextLimit::one_line(100);
/// A resident's message (SMS text).
pub const SMS_TEXT: crate::validation::TextLimit = crate::validation::TextLimit::one_line(500);

/// Delivery attempts to a resident's phone before giving up.
pub const MAX_SEND_ATTEMPTS: i64 = 5;

/// When to try a failed message again after `attempts` attempts: 1, 2, 4, 8 minutes
/// (doubling); `None` once [`MAX_SEND_ATTEMPTS`] were made.
pub fn retry_at(now: Micros, attempts: i64) -> Option<Micros> {
    (attempts < MAX_SEND_ATTEMPTS).then(|| now + 60_000_000 * (1i64 << (attempts - 1).clamp(0, 10)))
}

/// What the job must do with an item now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// The calendar now covers the pending deadline: here it is.
    Resolve { schedule: Schedule },
    /// The deadline is still pending: look again later.
    Recheck,
    /// Yellow: tell the current tier.
    Warn,
    /// Overdue: hand to `to_tier`, with a fresh deadline from now.
    Escalate { to_tier: u32, schedule: Schedule },
    /// Overdue at the last tier: red, told once, nothing further.
    Exhausted,
}

/// [`step`]'s answer: the action, and the item's clock after it (with the next time to look).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub action: Action,
    pub after: ItemClock,
    pub next_check_at: Option<Micros>,
}

/// What the job must do with `item` of `spec` at `now`, if anything. Applying the step and
/// asking again at the same `now` answers `None` (or the next due action for an item that
/// was behind by more than one), so a job that repeats is idempotent.
pub fn step(
    spec: &KindSpec,
    item: &ItemClock,
    cal: &WorkCalendar,
    now: Micros,
) -> Result<Option<Step>, CalendarError> {
    if item.exhausted {
        return Ok(None);
    }
    // A stage the kind no longer describes has no deadline to watch.
    let Some(rule) = spec.stage(&item.stage).map(|s| s.rule) else {
        return Ok(None);
    };
    let mut after = item.clone();
    let action = if item.pending_year.is_some() {
        match rule.schedule(cal, item.stage_started_at, spec.permille())? {
            schedule @ Schedule::Due { .. } => {
                after.set_schedule(schedule);
                Action::Resolve { schedule }
            }
            Schedule::Pending { year } => {
                after.pending_year = Some(year);
                Action::Recheck
            }
        }
    } else {
        let Some(due) = item.due_at else {
            return Ok(None);
        };
        if now >= due {
            after.overdue_since.get_or_insert(due);
            let next = item.tier + 1;
            if (next as usize) < spec.tiers.len() {
                let schedule = rule.schedule(cal, now, spec.permille())?;
                after.set_schedule(schedule);
                after.tier = next;
                after.warned = false;
                after.stage_started_at = now;
                Action::Escalate {
                    to_tier: next,
                    schedule,
                }
            } else {
                after.exhausted = true;
                Action::Exhausted
            }
        } else if !item.warned && item.warn_at.is_some_and(|w| now >= w) {
            after.warned = true;
            Action::Warn
        } else {
            return Ok(None);
        }
    };
    let next_check_at = after.next_check_at(now);
    Ok(Some(Step {
        action,
        after,
        next_check_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> Micros {
        local_midnight(NaiveDate::from_ymd_opt(y, m, d).unwrap())
            + i64::from(h) * MICROS_PER_HOUR
            + i64::from(min) * 60_000_000
    }

    fn spec(rule: DeadlineRule, tiers: usize) -> KindSpec {
        KindSpec {
            kind: "test.loop".into(),
            label: "测试".into(),
            stages: vec![
                StageSpec {
                    name: "handle".into(),
                    label: "办理".into(),
                    rule,
                    notice: None,
                },
                StageSpec {
                    name: "respond".into(),
                    label: "响应".into(),
                    rule: DeadlineRule::Hours(1),
                    notice: None,
                },
            ],
            tiers: (0..tiers)
                .map(|i| Tier {
                    role: if i == 0 {
                        Role::DeptHandler
                    } else {
                        Role::Supervisor
                    },
                    up: i as u32,
                })
                .collect(),
            warn_permille: None,
        }
    }

    #[test]
    fn working_days_across_the_national_day_holiday() {
        let cal = WorkCalendar::shipped();
        // Monday 2026-09-28 10:00: 9-29, 9-30, (10-1…10-7 off), 10-8, 10-9, 10-10 (补班).
        let start = at(2026, 9, 28, 10, 0);
        let s = DeadlineRule::WorkingDays(5)
            .schedule(&cal, start, 200)
            .unwrap();
        assert_eq!(
            s,
            Schedule::Due {
                due_at: at(2026, 10, 11, 0, 0),
                // 20% of 5 = the last working day, the make-up Saturday.
                warn_at: Some(at(2026, 10, 10, 0, 0)),
            }
        );
        // 15 working days, 20%: 9-29, 9-30, 10-8..10-10 = 5, 10-12..10-16 = 10,
        // 10-19..10-23 = 15; the last three are 10-21..10-23.
        let s = DeadlineRule::WorkingDays(15)
            .schedule(&cal, start, 200)
            .unwrap();
        assert_eq!(
            s,
            Schedule::Due {
                due_at: at(2026, 10, 24, 0, 0),
                warn_at: Some(at(2026, 10, 21, 0, 0)),
            }
        );
    }

    #[test]
    fn hours_and_calendar_days() {
        let cal = WorkCalendar::new();
        let start = at(2026, 10, 1, 9, 30);
        assert_eq!(
            DeadlineRule::Hours(1).schedule(&cal, start, 200).unwrap(),
            Schedule::Due {
                due_at: at(2026, 10, 1, 10, 30),
                warn_at: Some(at(2026, 10, 1, 10, 18)),
            }
        );
        assert_eq!(
            DeadlineRule::Hours(10).schedule(&cal, start, 0).unwrap(),
            Schedule::Due {
                due_at: at(2026, 10, 1, 19, 30),
                warn_at: None,
            }
        );
        // Calendar days need no calendar data and end at 24:00 of the last day.
        let Schedule::Due { due_at, warn_at } = DeadlineRule::CalendarDays(3)
            .schedule(&cal, start, 200)
            .unwrap()
        else {
            panic!("due")
        };
        assert_eq!(due_at, at(2026, 10, 5, 0, 0));
        assert!(warn_at.unwrap() < due_at && warn_at.unwrap() > start);
    }

    #[test]
    fn a_year_without_data_is_pending() {
        let cal = WorkCalendar::shipped();
        let start = at(2026, 12, 28, 9, 0);
        assert_eq!(
            DeadlineRule::WorkingDays(5)
                .schedule(&cal, start, 200)
                .unwrap(),
            Schedule::Pending { year: 2027 }
        );
        let spec = spec(DeadlineRule::WorkingDays(5), 2);
        let item = ItemClock::start("handle", start, Schedule::Pending { year: 2027 }, 0);
        assert_eq!(item.light(start), None);
        assert_eq!(item.next_check_at(start), Some(start + PENDING_RECHECK));
        let s = step(&spec, &item, &cal, start + PENDING_RECHECK)
            .unwrap()
            .unwrap();
        assert_eq!(s.action, Action::Recheck);
        // Once 2027 is loaded (here: an arrangement with only 元旦), the deadline is computed.
        let mut cal27 = WorkCalendar::shipped();
        cal27.merge(
            WorkCalendar::from_csv("date,kind,festival\n2027-01-01,holiday,元旦\n").unwrap(),
        );
        let s = step(&spec, &item, &cal27, start + PENDING_RECHECK)
            .unwrap()
            .unwrap();
        assert!(matches!(s.action, Action::Resolve { .. }));
        // 12-29, 12-30, 12-31, (1-1 off), 1-4, 1-5.
        assert_eq!(s.after.due_at, Some(at(2027, 1, 6, 0, 0)));
    }

    #[test]
    fn warn_then_escalate_once_per_tier_then_exhausted() {
        let cal = WorkCalendar::new();
        let spec = spec(DeadlineRule::Hours(10), 2);
        let start = at(2026, 11, 23, 9, 0);
        let s0 = DeadlineRule::Hours(10).schedule(&cal, start, 200).unwrap();
        let item = ItemClock::start("handle", start, s0, 0);
        assert_eq!(item.next_check_at(start), Some(at(2026, 11, 23, 17, 0)));
        assert_eq!(item.light(start), Some(Light::Green));
        // Nothing before the warning.
        assert_eq!(
            step(&spec, &item, &cal, at(2026, 11, 23, 16, 59)).unwrap(),
            None
        );
        let w = step(&spec, &item, &cal, at(2026, 11, 23, 17, 0))
            .unwrap()
            .unwrap();
        assert_eq!(w.action, Action::Warn);
        assert_eq!(w.next_check_at, Some(at(2026, 11, 23, 19, 0)));
        assert_eq!(w.after.light(at(2026, 11, 23, 17, 0)), Some(Light::Yellow));
        // Asked again at the same moment: nothing (idempotent).
        assert_eq!(
            step(&spec, &w.after, &cal, at(2026, 11, 23, 17, 0)).unwrap(),
            None
        );
        // At the deadline: escalate to tier 1 with a fresh 10 hours.
        let now = at(2026, 11, 23, 19, 0);
        let e = step(&spec, &w.after, &cal, now).unwrap().unwrap();
        assert!(matches!(e.action, Action::Escalate { to_tier: 1, .. }));
        assert_eq!(e.after.tier, 1);
        assert_eq!(e.after.overdue_since, Some(now));
        assert_eq!(e.after.due_at, Some(now + 10 * MICROS_PER_HOUR));
        assert_eq!(e.after.light(now), Some(Light::Red));
        assert_eq!(step(&spec, &e.after, &cal, now).unwrap(), None);
        // Overdue again at the last tier: exhausted, told once, then nothing more.
        let later = now + 10 * MICROS_PER_HOUR;
        let x = step(&spec, &e.after, &cal, later).unwrap().unwrap();
        assert_eq!(x.action, Action::Exhausted);
        assert_eq!(x.next_check_at, None);
        assert_eq!(x.after.overdue_since, Some(now));
        assert_eq!(
            step(&spec, &x.after, &cal, later + MICROS_PER_DAY).unwrap(),
            None
        );
    }

    #[test]
    fn a_late_look_skips_the_warning_and_escalates() {
        let cal = WorkCalendar::new();
        let spec = spec(DeadlineRule::Hours(1), 3);
        let start = at(2026, 11, 23, 9, 0);
        let item = ItemClock::start(
            "respond",
            start,
            DeadlineRule::Hours(1).schedule(&cal, start, 200).unwrap(),
            0,
        );
        let e = step(&spec, &item, &cal, at(2026, 11, 23, 12, 0))
            .unwrap()
            .unwrap();
        assert!(matches!(e.action, Action::Escalate { to_tier: 1, .. }));
    }

    #[test]
    fn retries_back_off_then_give_up() {
        assert_eq!(retry_at(0, 1), Some(60_000_000));
        assert_eq!(retry_at(0, 3), Some(240_000_000));
        assert_eq!(retry_at(0, MAX_SEND_ATTEMPTS), None);
    }

    #[test]
    fn tiers_name_the_owner_or_an_ancestor() {
        let owner = OrgPath::from_stored("/1/2/9/".into());
        let t = |up| Tier {
            role: Role::Supervisor,
            up,
        };
        assert_eq!(t(0).org(&owner).as_str(), "/1/2/9/");
        assert_eq!(t(1).org(&owner).as_str(), "/1/2/");
        assert_eq!(t(1).org_id(&owner), 2);
        assert_eq!(t(5).org(&owner).as_str(), "/1/");
    }

    #[test]
    fn specs_are_validated_and_rules_round_trip() {
        assert!(spec(DeadlineRule::WorkingDays(3), 2).validate().is_ok());
        let mut bad = spec(DeadlineRule::WorkingDays(0), 2);
        assert!(matches!(bad.validate(), Err(SpecError::BadAmount(_))));
        bad = spec(DeadlineRule::WorkingDays(3), 0);
        assert_eq!(bad.validate(), Err(SpecError::Empty));
        bad = spec(DeadlineRule::WorkingDays(3), 1);
        bad.kind = "Bad Name".into();
        assert_eq!(bad.validate(), Err(SpecError::BadName));
        for r in [
            DeadlineRule::Hours(1),
            DeadlineRule::CalendarDays(7),
            DeadlineRule::WorkingDays(3),
        ] {
            assert_eq!(DeadlineRule::parse(&r.as_stored()), Some(r));
        }
        assert_eq!(DeadlineRule::WorkingDays(3).label(), "3个工作日");
    }
}
