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

use crate::escalation::DeadlineRule;
use crate::figures::Rate;
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
        }
    }

    fn index(u: Urgency) -> usize {
        match u {
            Urgency::Emergency => 0,
            Urgency::Utilities => 1,
            Urgency::Ordinary => 2,
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

/// An act on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "act")]
pub enum Act {
    /// 派单: a lead department and co-handlers (none when the lead handles alone).
    Dispatch { lead: i64, co: Vec<i64> },
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
    /// 结果反馈率 = closed requests whose person was told the result ÷ closed requests.
    pub fn feedback_rate(&self) -> Rate {
        Rate::new(self.told, self.closed)
    }
    /// 退单率 = 退单 asked ÷ requests dispatched.
    pub fn return_rate(&self) -> Rate {
        Rate::new(self.returns_asked, self.dispatched)
    }
}

#[cfg(test)]
mod tests;
