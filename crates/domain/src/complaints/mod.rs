//! 接诉即办 (SPEC C6; Beijing 接诉即办 regulation 2021, local standard 2023): what a request
//! is, how it moves from intake to a closed, called-back state, which limits apply, and
//! what each figure means — the pure rules. The store keeps the records and the escalation
//! engine times dispatch and feedback (the first steps of issue 13; the store, pages and
//! API follow).
//!
//! The loop is [`State`]; every act is an [`Act`] checked by [`next_state`]: received →
//! dispatched (派单, to a lead department, possibly with co-handlers) → signed for (签收) →
//! replied → called back. A department may ask for re-dispatch (退单) with a reason, which
//! the dispatcher accepts (re-dispatched elsewhere) or refuses (back to the same
//! department). A callback that finds the person not satisfied reopens the request to the
//! same department, at most [`Limits::max_reopens`] times; after that it goes to the
//! supervisor. A new request that repeats an open or recent one can be merged into it.

pub mod suggest;

use crate::access::Role;
use crate::escalation::{DeadlineRule, KindSpec, NoticeKind, StageSpec, Tier};
use crate::figures::Rate;
use crate::validation::TextLimit;
use serde::{Deserialize, Serialize};

words! {
    /// What the person asks for (诉求类型).
    pub enum RequestType {
        Consultation = ("consultation", "咨询"),
        Help = ("help", "求助"),
        Complaint = ("complaint", "投诉"),
        Report = ("report", "举报"),
        Suggestion = ("suggestion", "建议"),
        /// About a hall's own windows and staff (服务质量、服务态度): handled by the hall's
        /// management, never shown to the staff member complained about.
        ServiceComplaint = ("service_complaint", "窗口服务投诉"),
    }
}

words! {
    /// Where a request came in.
    pub enum Channel {
        Phone = ("phone", "电话"),
        Web = ("web", "网上"),
        Window = ("window", "窗口"),
        /// Pushed by an external 12345 system (its own id kept).
        Hotline = ("hotline", "12345"),
    }
}

words! {
    /// 紧急程度 (SPEC: dispatch within 1 h / 2 h / 24 h).
    pub enum Urgency {
        /// Emergencies and risks to life or property.
        Emergency = ("emergency", "紧急（危及生命财产安全）"),
        /// Water, power, gas, heating, extreme weather.
        Utilities = ("utilities", "水电气热、极端天气"),
        Ordinary = ("ordinary", "一般"),
    }
}

words! {
    /// Where a request stands.
    pub enum State {
        Received = ("received", "已受理"),
        Dispatched = ("dispatched", "已派单"),
        Signed = ("signed", "已签收"),
        /// The department asked for re-dispatch (退单); the dispatcher decides.
        ReturnAsked = ("return_asked", "退单待审"),
        Replied = ("replied", "已答复"),
        /// Not satisfied at the callback: back with the same department.
        Reopened = ("reopened", "已重办"),
        /// Reopened more than the limit allows: with the supervisor.
        Supervised = ("supervised", "督办中"),
        /// Called back and closed.
        Closed = ("closed", "已办结"),
        /// Merged into an earlier request as its repeat.
        Merged = ("merged", "已合并"),
    }
}

impl State {
    pub fn is_final(self) -> bool {
        matches!(self, State::Closed | State::Merged)
    }

    /// What the person reads on the tracking page: where their request is, in their words.
    pub fn public_label(self) -> &'static str {
        match self {
            State::Received => "已受理，正在分派到承办部门",
            State::Dispatched | State::ReturnAsked => "已派单，等待承办部门签收",
            State::Signed => "承办部门正在办理",
            State::Reopened | State::Supervised => "您表示不满意，已重新交办",
            State::Replied => "承办部门已答复，等待回访",
            State::Closed => "已办结",
            State::Merged => "与您此前反映的诉求合并办理",
        }
    }

    /// Whether the department holds it (its inbox shows it).
    pub fn with_department(self) -> bool {
        matches!(
            self,
            State::Dispatched | State::Signed | State::Reopened | State::Supervised
        )
    }
}

words! {
    /// The person's answer at the callback (回访).
    pub enum Satisfaction {
        Satisfied = ("satisfied", "满意"),
        Basic = ("basic", "基本满意"),
        Dissatisfied = ("dissatisfied", "不满意"),
    }
}

impl Satisfaction {
    /// 满意率 counts 满意 and 基本满意.
    pub fn counts_satisfied(self) -> bool {
        !matches!(self, Satisfaction::Dissatisfied)
    }
}

/// The limits, from settings; defaults from the SPEC (Beijing): dispatch within 1 h / 2 h /
/// 24 h by urgency; feedback within 2 h / 24 h / 7 days, 15 days for complex cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub dispatch: [DeadlineRule; 3],
    pub feedback: [DeadlineRule; 3],
    pub feedback_complex: DeadlineRule,
    /// Reopenings to the same department before the supervisor takes over.
    pub max_reopens: u32,
    /// How long the dispatcher has to call the person back after the reply.
    pub callback: DeadlineRule,
}

impl Limits {
    /// The SPEC's (Beijing) limits.
    pub fn beijing() -> Limits {
        Limits {
            dispatch: [
                DeadlineRule::Hours(1),
                DeadlineRule::Hours(2),
                DeadlineRule::Hours(24),
            ],
            feedback: [
                DeadlineRule::Hours(2),
                DeadlineRule::Hours(24),
                DeadlineRule::CalendarDays(7),
            ],
            feedback_complex: DeadlineRule::CalendarDays(15),
            max_reopens: 2,
            callback: DeadlineRule::WorkingDays(2),
        }
    }

    /// The fallback-window seed's stricter preset: respond (dispatch) within 24 hours, close
    /// within 3 working days, for every urgency no looser than that.
    pub fn seed_preset() -> Limits {
        let b = Limits::beijing();
        Limits {
            dispatch: [b.dispatch[0], b.dispatch[1], DeadlineRule::Hours(24)],
            feedback: [b.feedback[0], b.feedback[1], DeadlineRule::WorkingDays(3)],
            feedback_complex: DeadlineRule::WorkingDays(3),
            max_reopens: b.max_reopens,
            callback: b.callback,
        }
    }

    fn index(u: Urgency) -> usize {
        match u {
            Urgency::Emergency => 0,
            Urgency::Utilities => 1,
            Urgency::Ordinary => 2,
        }
    }

    /// The limits from the settings' numbers (`complaints.*`): dispatch hours by urgency,
    /// feedback hours (emergency, utilities) and days (ordinary, complex), reopenings,
    /// callback working days; with `seed_preset` the seed's stricter ordinary limits
    /// (24 h / 3 working days) replace the ordinary ones.
    pub fn from_settings(s: &LimitSettings) -> Limits {
        let u = |v: i64| v.clamp(1, 10_000) as u32;
        let set = Limits {
            dispatch: [
                DeadlineRule::Hours(u(s.dispatch_hours[0])),
                DeadlineRule::Hours(u(s.dispatch_hours[1])),
                DeadlineRule::Hours(u(s.dispatch_hours[2])),
            ],
            feedback: [
                DeadlineRule::Hours(u(s.feedback_hours[0])),
                DeadlineRule::Hours(u(s.feedback_hours[1])),
                DeadlineRule::CalendarDays(u(s.feedback_days)),
            ],
            feedback_complex: DeadlineRule::CalendarDays(u(s.feedback_complex_days)),
            max_reopens: s.max_reopens.clamp(0, 100) as u32,
            callback: DeadlineRule::WorkingDays(u(s.callback_days)),
        };
        if !s.seed_preset {
            return set;
        }
        let preset = Limits::seed_preset();
        Limits {
            dispatch: [set.dispatch[0], set.dispatch[1], preset.dispatch[2]],
            feedback: [set.feedback[0], set.feedback[1], preset.feedback[2]],
            feedback_complex: preset.feedback_complex,
            ..set
        }
    }

    /// How long dispatch may take for a request of `urgency`.
    pub fn dispatch_rule(&self, urgency: Urgency) -> DeadlineRule {
        self.dispatch[Limits::index(urgency)]
    }

    /// How long the department has to reply (and handle) after signing.
    pub fn feedback_rule(&self, urgency: Urgency, complex: bool) -> DeadlineRule {
        if complex && urgency == Urgency::Ordinary {
            self.feedback_complex
        } else {
            self.feedback[Limits::index(urgency)]
        }
    }
}

/// The settings' numbers the limits are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    pub dispatch_hours: [i64; 3],
    pub feedback_hours: [i64; 2],
    pub feedback_days: i64,
    pub feedback_complex_days: i64,
    pub max_reopens: i64,
    pub callback_days: i64,
    pub seed_preset: bool,
}

/// The engine's kinds: the dispatcher's side (派单, 退单审核, 回访), owned by the receiving
/// street or district, and the department's (签收, 办理答复), owned by the lead department.
/// Two kinds because the people who answer for a stage differ: tier 0 of the first is the
/// dispatchers, of the second the department's handlers.
pub const DISPATCH_KIND: &str = "complaints.dispatch";
pub const HANDLE_KIND: &str = "complaints.handle";
pub const STAGE_CALLBACK: &str = "callback";

/// The dispatch stage of a request of `urgency` (one stage per urgency: the rule differs).
pub fn dispatch_stage(urgency: Urgency) -> String {
    format!("dispatch_{}", urgency.as_str())
}
/// The 退单 review's stage: as urgent as the dispatch.
pub fn review_stage(urgency: Urgency) -> String {
    format!("review_{}", urgency.as_str())
}
/// The department's signing stage: signed for within the dispatch limit of its urgency.
pub fn sign_stage(urgency: Urgency) -> String {
    format!("sign_{}", urgency.as_str())
}
/// The department's reply stage, counted from the dispatch.
pub fn feedback_stage(urgency: Urgency, complex: bool) -> String {
    if complex && urgency == Urgency::Ordinary {
        "feedback_complex".into()
    } else {
        format!("feedback_{}", urgency.as_str())
    }
}

fn stage(name: String, label: &str, rule: DeadlineRule, notice: Option<NoticeKind>) -> StageSpec {
    StageSpec {
        name,
        label: label.into(),
        rule,
        notice,
    }
}

/// The dispatcher's kind with the current limits.
pub fn dispatch_kind(limits: &Limits) -> KindSpec {
    let mut stages = Vec::new();
    for &u in Urgency::ALL {
        stages.push(stage(
            dispatch_stage(u),
            "派单",
            limits.dispatch_rule(u),
            None,
        ));
        stages.push(stage(
            review_stage(u),
            "退单审核",
            limits.dispatch_rule(u),
            None,
        ));
    }
    stages.push(stage(
        STAGE_CALLBACK.into(),
        "回访",
        limits.callback,
        Some(NoticeKind::CallbackDue),
    ));
    KindSpec {
        kind: DISPATCH_KIND.into(),
        label: "接诉即办·派单回访".into(),
        stages,
        tiers: vec![
            Tier {
                role: Role::Dispatcher,
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

/// The department's kind with the current limits.
pub fn handle_kind(limits: &Limits) -> KindSpec {
    let mut stages = Vec::new();
    for &u in Urgency::ALL {
        stages.push(stage(sign_stage(u), "签收", limits.dispatch_rule(u), None));
        stages.push(stage(
            feedback_stage(u, false),
            "办理答复",
            limits.feedback_rule(u, false),
            None,
        ));
    }
    stages.push(stage(
        feedback_stage(Urgency::Ordinary, true),
        "办理答复（复杂诉求）",
        limits.feedback_complex,
        None,
    ));
    KindSpec {
        kind: HANDLE_KIND.into(),
        label: "接诉即办·部门办理".into(),
        stages,
        tiers: vec![
            Tier {
                role: Role::DeptHandler,
                up: 0,
            },
            Tier {
                role: Role::Approver,
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

/// The request number: SQ + date + a six-digit daily sequence (诉求).
pub fn request_number(date: chrono::NaiveDate, daily_seq: u32) -> String {
    format!("SQ{}{daily_seq:06}", date.format("%Y%m%d"))
}

/// Whether `s` looks like a request number (the lookup limiter keys on those only).
pub fn is_request_number(s: &str) -> bool {
    let s = s.trim().to_ascii_uppercase();
    s.strip_prefix("SQ").is_some_and(|rest| {
        rest.len() == 14
            && rest.bytes().all(|b| b.is_ascii_digit())
            && chrono::NaiveDate::parse_from_str(&rest[..8], "%Y%m%d").is_ok()
    })
}

/// Text limits of a request's fields.
pub const CONTENT: TextLimit = TextLimit::multi_line(2000);
pub const REPLY: TextLimit = TextLimit::multi_line(2000);
pub const REASON: TextLimit = TextLimit::multi_line(500);
pub const ADDRESS: TextLimit = TextLimit::one_line(200);
pub const NAME: TextLimit = TextLimit::one_line(50);
pub const SHORT: TextLimit = TextLimit::one_line(100);
pub const HELP_TEXT: TextLimit = TextLimit::multi_line(1000);

/// Whether a coordinate pair is a place on earth (WGS84, latitude first).
pub fn valid_coordinates(lat: f64, lon: f64) -> bool {
    lat.is_finite()
        && lon.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lon)
}

/// An act on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "act")]
pub enum Act {
    /// 派单: a lead department and co-handlers (none when the lead handles alone).
    Dispatch {
        lead: i64,
        #[serde(default)]
        co: Vec<i64>,
    },
    /// 签收 by the lead department.
    Sign,
    /// 退单: the department asks for re-dispatch, with its reason.
    AskReturn { reason: String },
    /// The dispatcher's review of a 退单: accepted (re-dispatched to `lead`) or refused.
    DecideReturn { accept: bool, lead: Option<i64> },
    /// The department's reply: what was done.
    Reply { content: String },
    /// 回访: the person's satisfaction and whether it was solved.
    Callback {
        satisfaction: Satisfaction,
        solved: bool,
    },
    /// The request repeats an earlier one: merged into it.
    Merge { original: i64 },
}

/// What the rules need beside the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub state: State,
    pub lead: Option<i64>,
    pub reopens: u32,
}

/// Why an act is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActError {
    #[error("诉求当前为“{0}”，不能进行这一步")]
    WrongState(&'static str),
    #[error("退单须写明理由")]
    NoReason,
    #[error("答复须写明办理情况")]
    NoContent,
    #[error("请选择承办部门")]
    NoLead,
    #[error("重新派单须派给另一个部门")]
    SameLead,
    #[error("牵头部门不能同时是协办部门")]
    LeadIsCo,
    #[error("协办部门最多{MAX_CO_HANDLERS}个")]
    TooManyCo,
}

/// Co-handling departments of one request at most.
pub const MAX_CO_HANDLERS: usize = 10;

impl ActError {
    pub fn field(&self) -> &'static str {
        match self {
            ActError::WrongState(_) => "act",
            ActError::NoReason => "reason",
            ActError::NoContent => "content",
            ActError::NoLead | ActError::SameLead => "lead",
            ActError::LeadIsCo | ActError::TooManyCo => "co",
        }
    }
}

/// The state after `act`, or why not. A dissatisfied callback answers `Reopened` while
/// reopenings are left, `Supervised` after.
pub fn next_state(facts: &Facts, act: &Act, limits: &Limits) -> Result<State, ActError> {
    use State as S;
    let wrong = || ActError::WrongState(facts.state.label());
    match act {
        Act::Dispatch { co, .. } if co.len() > MAX_CO_HANDLERS => Err(ActError::TooManyCo),
        Act::Dispatch { lead, co } => {
            if facts.state != S::Received {
                return Err(wrong());
            }
            if co.contains(lead) {
                return Err(ActError::LeadIsCo);
            }
            Ok(S::Dispatched)
        }
        Act::Sign => (facts.state == S::Dispatched)
            .then_some(S::Signed)
            .ok_or_else(wrong),
        Act::AskReturn { reason } => {
            if !matches!(facts.state, S::Dispatched | S::Signed) {
                return Err(wrong());
            }
            if crate::validation::is_blank(reason) {
                return Err(ActError::NoReason);
            }
            Ok(S::ReturnAsked)
        }
        Act::DecideReturn { accept, lead } => {
            if facts.state != S::ReturnAsked {
                return Err(wrong());
            }
            match (accept, lead) {
                (false, _) => Ok(S::Dispatched),
                (true, None) => Err(ActError::NoLead),
                (true, Some(l)) if Some(*l) == facts.lead => Err(ActError::SameLead),
                (true, Some(_)) => Ok(S::Dispatched),
            }
        }
        Act::Reply { content } => {
            if !matches!(facts.state, S::Signed | S::Reopened | S::Supervised) {
                return Err(wrong());
            }
            if crate::validation::is_blank(content) {
                return Err(ActError::NoContent);
            }
            Ok(S::Replied)
        }
        Act::Callback { satisfaction, .. } => {
            if facts.state != S::Replied {
                return Err(wrong());
            }
            Ok(match satisfaction.counts_satisfied() {
                true => S::Closed,
                false if facts.reopens < limits.max_reopens => S::Reopened,
                false => S::Supervised,
            })
        }
        Act::Merge { .. } => (facts.state == S::Received)
            .then_some(S::Merged)
            .ok_or_else(wrong),
    }
}

/// Whether `viewer` may see a request: a complaint about a staff member (窗口服务投诉) is
/// never shown to that staff member, whatever their role.
pub fn visible_to(complained_about: Option<i64>, viewer: i64) -> bool {
    complained_about != Some(viewer)
}

/// The great-circle distance between two WGS84 points in metres (haversine; the earth as
/// a sphere of mean radius 6,371,008.8 m — within 0.5% of the ellipsoid, enough for "the
/// same place" within tens to hundreds of metres).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    const R: f64 = 6_371_008.8;
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().min(1.0).asin()
}

words! {
    /// A counter of the daily rollup; each is bumped by the act that settles it.
    pub enum Metric {
        Requests = ("requests", "诉求"),
        Dispatched = ("dispatched", "派单"),
        SignedOnTime = ("signed_on_time", "按时签收"),
        Replied = ("replied", "答复"),
        RepliedOnTime = ("replied_on_time", "按时答复"),
        CalledBack = ("called_back", "回访"),
        Solved = ("solved", "已解决"),
        Satisfied = ("satisfied", "满意和基本满意"),
        ReturnsAsked = ("returns_asked", "退单"),
        Repeats = ("repeats", "重复诉求"),
        Closed = ("closed", "办结"),
        Told = ("told", "已反馈结果"),
    }
}

impl Counts {
    /// Adds a rollup row's count to its counter.
    pub fn add(&mut self, metric: Metric, n: i64) {
        let field = match metric {
            Metric::Requests => &mut self.requests,
            Metric::Dispatched => &mut self.dispatched,
            Metric::SignedOnTime => &mut self.signed_on_time,
            Metric::Replied => &mut self.replied,
            Metric::RepliedOnTime => &mut self.replied_on_time,
            Metric::CalledBack => &mut self.called_back,
            Metric::Solved => &mut self.solved,
            Metric::Satisfied => &mut self.satisfied,
            Metric::ReturnsAsked => &mut self.returns_asked,
            Metric::Repeats => &mut self.repeats,
            Metric::Closed => &mut self.closed,
            Metric::Told => &mut self.told,
        };
        *field += n;
    }
}

/// The counters one department (or category) has for a period; every figure is a ratio of
/// two of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub dispatched: i64,
    pub signed_on_time: i64,
    pub replied: i64,
    pub replied_on_time: i64,
    pub called_back: i64,
    pub solved: i64,
    pub satisfied: i64,
    pub returns_asked: i64,
    pub requests: i64,
    pub repeats: i64,
    pub closed: i64,
    pub told: i64,
}

impl Counts {
    /// 响应率 = requests signed for within the dispatch-to-sign limit ÷ requests dispatched.
    pub fn response_rate(&self) -> Rate {
        Rate::new(self.signed_on_time, self.dispatched)
    }
    /// 解决率 = requests the person said were solved at the callback ÷ requests called back.
    pub fn solution_rate(&self) -> Rate {
        Rate::new(self.solved, self.called_back)
    }
    /// 满意率 = 满意 and 基本满意 at the callback ÷ requests called back.
    pub fn satisfaction_rate(&self) -> Rate {
        Rate::new(self.satisfied, self.called_back)
    }
    /// 按时办结率 = replies within the feedback limit ÷ replies.
    pub fn on_time_rate(&self) -> Rate {
        Rate::new(self.replied_on_time, self.replied)
    }
    /// 重复诉求率 = requests merged as repeats ÷ all requests taken in.
    pub fn repeat_rate(&self) -> Rate {
        Rate::new(self.repeats, self.requests)
    }
    /// 结果反馈率 = dispatches whose department fed its result back to the person (its
    /// first reply, which goes to the person with the rating link) ÷ dispatches. A request
    /// handed back by 退单 or never answered lowers it.
    pub fn feedback_rate(&self) -> Rate {
        Rate::new(self.told, self.dispatched)
    }
    /// 退单率 = 退单 asked ÷ requests dispatched.
    pub fn return_rate(&self) -> Rate {
        Rate::new(self.returns_asked, self.dispatched)
    }

    /// The monthly ranking's score (Beijing's weighting of the three rates): 响应率 × 10% +
    /// 解决率 × 45% + 满意率 × 45%, in tenths of a point out of 100.0 (a rate without a
    /// denominator counts as 0: a department nobody called back has not earned the points).
    pub fn composite_tenths(&self) -> i64 {
        let pm = |r: Rate| r.per_mille().unwrap_or(0);
        (pm(self.response_rate()) * 10
            + pm(self.solution_rate()) * 45
            + pm(self.satisfaction_rate()) * 45)
            / 100
    }
}

#[cfg(test)]
mod tests;
