//! 好差评 (GB/T 39734-2020, GB/T 39735-2020, 国办发〔2019〕51号): what a rating is, who may
//! give one and when, how a bad rating is rectified, and what each figure means — the pure
//! rules; the store keeps ratings append-only and the escalation engine times the
//! rectification.

use crate::access::Role;
use crate::escalation::{DeadlineRule, KindSpec, Micros, StageSpec, Tier, MICROS_PER_DAY};
use crate::figures::Rate;
use crate::validation::TextLimit;
use serde::{Deserialize, Serialize};

/// The five levels, with their stars (非常满意 ★5 … 非常不满意 ★1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    VeryDissatisfied,
    Dissatisfied,
    Basic,
    Satisfied,
    VerySatisfied,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::VerySatisfied,
        Level::Satisfied,
        Level::Basic,
        Level::Dissatisfied,
        Level::VeryDissatisfied,
    ];

    pub fn stars(self) -> u8 {
        match self {
            Level::VerySatisfied => 5,
            Level::Satisfied => 4,
            Level::Basic => 3,
            Level::Dissatisfied => 2,
            Level::VeryDissatisfied => 1,
        }
    }

    pub fn from_stars(stars: u8) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.stars() == stars)
    }

    pub fn label(self) -> &'static str {
        match self {
            Level::VerySatisfied => "非常满意",
            Level::Satisfied => "满意",
            Level::Basic => "基本满意",
            Level::Dissatisfied => "不满意",
            Level::VeryDissatisfied => "非常不满意",
        }
    }

    /// 差评: 不满意 and 非常不满意. Each opens one rectification.
    pub fn is_bad(self) -> bool {
        matches!(self, Level::Dissatisfied | Level::VeryDissatisfied)
    }

    /// Whether the level counts as 好评 — 基本满意 only when the hall's setting says so
    /// (national practice counts it; some places do not). Every page showing 好评率 says
    /// which reading it uses.
    pub fn is_good(self, basic_counts_as_good: bool) -> bool {
        match self {
            Level::VerySatisfied | Level::Satisfied => true,
            Level::Basic => basic_counts_as_good,
            Level::Dissatisfied | Level::VeryDissatisfied => false,
        }
    }
}

/// Where a rating was given; recorded on every rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The rating device paired to a window, right after 完成办理.
    WindowDevice,
    /// Online, after the case closed (the link with case number and query code).
    Online,
    /// Entered by staff from a phone callback.
    PhoneCallback,
    /// The rater answered an SMS link.
    Sms,
}

/// What is rated: a visit (one finished queue ticket, 一次一评) or a case (一事一评).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Visit,
    Case,
}

/// The criteria scored beside the overall level: on site (a visit) and online (a case).
pub fn criteria(subject: Subject) -> &'static [(&'static str, &'static str)] {
    match subject {
        Subject::Visit => &[
            ("overall", "总体评价"),
            ("efficiency", "办事效率"),
            ("skill", "业务水平"),
            ("attitude", "服务态度"),
        ],
        Subject::Case => &[
            ("overall", "总体评价"),
            ("efficiency", "办事效率"),
            ("guide_accuracy", "指南准确"),
            ("convenience", "办事便捷"),
            ("usability", "平台好用"),
        ],
    }
}

/// Why a rating cannot be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatingError {
    #[error("已经评价过了，以第一次评价为准")]
    AlreadyRated,
    #[error("办件办结后才能评价")]
    NotClosed,
    #[error("补充评价期已过（办结后{days}天内可以评价）")]
    TooLate { days: i64 },
    #[error("请选择评价等级：非常满意、满意、基本满意、不满意或非常不满意")]
    NoLevel,
    #[error("“{0}”不是这类评价的评价项")]
    UnknownCriterion(String),
    #[error("分项评价为1到5颗星")]
    BadScore,
    #[error("办结{days}天后才能录入回访评价（此前由办事人自己评价）")]
    TooEarly { days: i64 },
    #[error("不能为自己办理的业务录入评价")]
    OwnWork,
}

/// The facts a rating request is judged on.
pub struct RatingFacts {
    pub subject: Subject,
    /// A rating already exists for this visit or case.
    pub already_rated: bool,
    /// When the visit finished or the case's result was handed over; `None` while not.
    pub finished_at: Option<Micros>,
    pub now: Micros,
    /// The late-rating period (补充评价) in days after finishing, a setting.
    pub late_days: i64,
}

/// Whether a rating with these criteria scores may be given now. The first rating stands:
/// ratings are immutable, and a second one for the same visit or case is refused.
pub fn may_rate(facts: &RatingFacts, criteria_given: &[&str]) -> Result<(), RatingError> {
    if facts.already_rated {
        return Err(RatingError::AlreadyRated);
    }
    let finished = facts.finished_at.ok_or(RatingError::NotClosed)?;
    if facts.now > finished + facts.late_days * MICROS_PER_DAY {
        return Err(RatingError::TooLate {
            days: facts.late_days,
        });
    }
    let known = criteria(facts.subject);
    if let Some(unknown) = criteria_given
        .iter()
        .find(|c| !known.iter().any(|(k, _)| k == *c))
    {
        return Err(RatingError::UnknownCriterion((*unknown).to_string()));
    }
    Ok(())
}

/// Whether an automatic invitation (an SMS through the sender) is due for a case that
/// closed at `closed_at` and has no rating: `after_days` after closing (default 3), once.
pub fn invitation_due(
    closed_at: Micros,
    now: Micros,
    after_days: i64,
    rated: bool,
    invited: bool,
) -> bool {
    !rated && !invited && now >= invitation_at(closed_at, after_days)
}

/// When the invitation for a case finished at `closed_at` falls due.
pub fn invitation_at(closed_at: Micros, after_days: i64) -> Micros {
    closed_at + after_days * MICROS_PER_DAY
}

// --- rectification -------------------------------------------------------------------------

/// The stages of a bad rating's rectification (差评整改): verify the facts, decide how to
/// act, call the rater back, and the rater's rating of the rectification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RectificationState {
    /// Opened by the bad rating, with the unit that did the work (谁办理谁负责).
    Verifying,
    /// Found true (属实) and being put right by the deadline (限期整改).
    Rectifying,
    /// Put right, or explained, or found untrue: the rater is to be called back.
    CallbackDue,
    /// The rater was called back; their rating of the rectification is recorded.
    Closed,
}

/// How the unit answered a verified rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Remedy {
    /// 立行立改: put right at once.
    AtOnce,
    /// 限期整改: put right by a deadline in working days (a setting, default 15).
    ByDeadline,
    /// 解释说明: no legal basis or a policy limit; explained to the rater.
    Explanation,
}

/// A step of a rectification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum RectificationStep {
    /// The facts checked: true (属实) with the remedy chosen, or untrue (不属实) with the
    /// evidence — an untrue finding goes straight to the callback.
    Verify {
        founded: bool,
        evidence: String,
        remedy: Option<Remedy>,
    },
    /// The rectification done (for 限期整改), with what was done.
    Rectified { done: String },
    /// The rater called back (by phone, or they answered the SMS link) with their level
    /// for the rectification; or, for a rating left without contact, no one to call.
    CalledBack {
        way: CallbackWay,
        rater_level: Option<Level>,
        note: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RectificationError {
    #[error("当前阶段不能进行这一步")]
    WrongStage,
    #[error("请填写核实情况和依据")]
    NoEvidence,
    #[error("核实属实的，请选择整改方式（立行立改、限期整改或解释说明）")]
    NoRemedy,
    #[error("请填写整改情况")]
    NothingDone,
    #[error("评价人留有联系方式，须回访")]
    HasContact,
    #[error("评价人没有留下联系方式，无法电话或短信回访")]
    NoContact,
    #[error("请记录评价人对整改结果的评价")]
    NoCallbackLevel,
}

/// The next state of a rectification after `step`, or why not.
/// `has_contact`: the rater left a phone number (实名), so the callback must reach them.
pub fn rectify(
    state: RectificationState,
    step: &RectificationStep,
    has_contact: bool,
) -> Result<RectificationState, RectificationError> {
    use RectificationState as S;
    match (state, step) {
        (
            S::Verifying,
            RectificationStep::Verify {
                founded,
                evidence,
                remedy,
            },
        ) => {
            if evidence.trim().is_empty() {
                return Err(RectificationError::NoEvidence);
            }
            match (founded, remedy) {
                (false, _) => Ok(S::CallbackDue),
                (true, None) => Err(RectificationError::NoRemedy),
                (true, Some(Remedy::ByDeadline)) => Ok(S::Rectifying),
                (true, Some(Remedy::AtOnce | Remedy::Explanation)) => Ok(S::CallbackDue),
            }
        }
        (S::Rectifying, RectificationStep::Rectified { done }) => {
            if done.trim().is_empty() {
                Err(RectificationError::NothingDone)
            } else {
                Ok(S::CallbackDue)
            }
        }
        (
            S::CallbackDue,
            RectificationStep::CalledBack {
                way, rater_level, ..
            },
        ) => match (way, rater_level) {
            (CallbackWay::NoContact, _) if has_contact => Err(RectificationError::HasContact),
            (CallbackWay::NoContact, _) => Ok(S::Closed),
            (_, _) if !has_contact => Err(RectificationError::NoContact),
            (CallbackWay::Unreachable, _) => Ok(S::Closed),
            (_, None) => Err(RectificationError::NoCallbackLevel),
            (_, Some(_)) => Ok(S::Closed),
        },
        _ => Err(RectificationError::WrongStage),
    }
}

// --- figures -------------------------------------------------------------------------------

/// Counts of ratings in a period for one unit (clerk, window, department, item or hall),
/// appeals upheld already excluded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Ratings per level, indexed by stars − 1.
    pub by_stars: [i64; 5],
}

impl Tally {
    pub fn add(&mut self, level: Level) {
        self.by_stars[usize::from(level.stars() - 1)] += 1;
    }

    pub fn total(&self) -> i64 {
        self.by_stars.iter().sum()
    }

    fn count(&self, pred: impl Fn(Level) -> bool) -> i64 {
        Level::ALL
            .into_iter()
            .filter(|l| pred(*l))
            .map(|l| self.by_stars[usize::from(l.stars() - 1)])
            .sum()
    }
}

/// 好评率:
///
/// ```text
/// good_rate = (非常满意 + 满意 [+ 基本满意 when the setting counts it]) / all ratings
/// ```
pub fn good_rate(t: &Tally, basic_counts_as_good: bool) -> Rate {
    Rate::new(t.count(|l| l.is_good(basic_counts_as_good)), t.total())
}

/// 差评率:
///
/// ```text
/// bad_rate = (不满意 + 非常不满意) / all ratings
/// ```
pub fn bad_rate(t: &Tally) -> Rate {
    Rate::new(t.count(Level::is_bad), t.total())
}

/// Average stars in tenths (`43` is ★4.3), rounded half up; `None` without ratings:
///
/// ```text
/// average = Σ stars / all ratings
/// ```
pub fn average_stars_tenths(t: &Tally) -> Option<i64> {
    let total = t.total();
    let stars: i64 = (0..5).map(|i| t.by_stars[i] * (i as i64 + 1)).sum();
    (total > 0).then(|| (stars * 20 + total) / (2 * total))
}

/// Rating coverage:
///
/// ```text
/// coverage = rated cases / closed cases
/// ```
pub fn coverage(rated_cases: i64, closed_cases: i64) -> Rate {
    Rate::new(rated_cases, closed_cases)
}

/// 差评整改率 (must reach 100%):
///
/// ```text
/// rectification_rate = rectifications closed / bad ratings
/// ```
pub fn rectification_rate(closed: i64, bad_ratings: i64) -> Rate {
    Rate::new(closed, bad_ratings)
}

/// 实名差评回访率 (must reach 100%): only a rater who left a phone number can be called back.
///
/// ```text
/// callback_rate = 差评 whose rater was reached (phone, or their own answer to the SMS link)
///                 / 差评 with the rater's contact (实名差评)
/// ```
pub fn callback_rate(called_back: i64, named_bad_ratings: i64) -> Rate {
    Rate::new(called_back, named_bad_ratings)
}

/// 按期整改率:
///
/// ```text
/// on_time_rate = rectifications closed by their deadline / rectifications closed
/// ```
pub fn on_time_rate(on_time: i64, closed: i64) -> Rate {
    Rate::new(on_time, closed)
}

/// Whether a unit is listed for rectification: its 好评率 over the last month is under
/// the threshold (a setting, default 850‰ = 85%) on at least `min_ratings` ratings (a
/// setting, default 10: one bad rating of one is no finding). A unit with fewer is not
/// listed.
pub fn under_threshold(rate: Rate, threshold_per_mille: i64, min_ratings: i64) -> bool {
    rate.denominator >= min_ratings && rate.per_mille().is_some_and(|m| m < threshold_per_mille)
}

/// 差评按期整改率 of a month, as 星级窗口 reads it: a 差评 not yet put right counts as not on
/// time (unlike [`on_time_rate`], which is over the rectifications closed).
///
/// ```text
/// star_on_time_rate = 差评 of the month rectified by their deadline / 差评 of the month
///                     (no 差评: 100%)
/// ```
pub fn star_on_time_rate(rectified_on_time: i64, bad_ratings: i64) -> Rate {
    Rate::new(rectified_on_time, bad_ratings)
}

/// Staff enter a rating from a phone or SMS callback only once the resident's own channels
/// had their time: `after_days` after finishing (the invitation's, a setting), so a unit
/// cannot get in first with a rating of its own (the first rating stands); and never the
/// clerk who did the work.
pub fn may_enter_callback(
    finished_at: Option<Micros>,
    now: Micros,
    after_days: i64,
    enterer_served_it: bool,
) -> Result<(), RatingError> {
    if enterer_served_it {
        return Err(RatingError::OwnWork);
    }
    match finished_at {
        Some(f) if now < invitation_at(f, after_days) => {
            Err(RatingError::TooEarly { days: after_days })
        }
        _ => Ok(()),
    }
}

// --- words, as stored and as shown ---------------------------------------------------------

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::VerySatisfied => "very_satisfied",
            Level::Satisfied => "satisfied",
            Level::Basic => "basic",
            Level::Dissatisfied => "dissatisfied",
            Level::VeryDissatisfied => "very_dissatisfied",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// `★★★☆☆`.
    pub fn star_text(self) -> String {
        let n = usize::from(self.stars());
        format!("{}{}", "★".repeat(n), "☆".repeat(5 - n))
    }
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::WindowDevice,
        Channel::Online,
        Channel::PhoneCallback,
        Channel::Sms,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::WindowDevice => "window_device",
            Channel::Online => "online",
            Channel::PhoneCallback => "phone_callback",
            Channel::Sms => "sms",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Channel::WindowDevice => "窗口评价器",
            Channel::Online => "网上评价",
            Channel::PhoneCallback => "电话回访",
            Channel::Sms => "短信评价",
        }
    }

    /// Channels staff enter on the rater's behalf (the others the rater uses directly).
    pub fn entered_by_staff(self) -> bool {
        matches!(self, Channel::PhoneCallback | Channel::Sms)
    }
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Visit => "visit",
            Subject::Case => "case",
        }
    }

    pub fn parse(s: &str) -> Option<Subject> {
        [Subject::Visit, Subject::Case]
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Subject::Visit => "现场服务（一次一评）",
            Subject::Case => "办件（一事一评）",
        }
    }
}

/// The tags a rater may tick, good ones and bad ones (as on the national 好差评 device).
pub const TAGS: &[(&str, &str, bool)] = &[
    ("warm", "热情周到", true),
    ("fast", "办事高效", true),
    ("one_visit", "一次办好", true),
    ("clear", "解释清楚", true),
    ("slow", "效率低", false),
    ("attitude", "态度差", false),
    ("unclear", "告知不清", false),
    ("many_trips", "多次跑腿", false),
    ("long_wait", "等候太久", false),
];

pub fn tag_label(code: &str) -> Option<&'static str> {
    TAGS.iter().find(|t| t.0 == code).map(|t| t.1)
}

/// A rater's comment.
pub const COMMENT: TextLimit = TextLimit::multi_line(500);
/// Evidence of a verification, what was done, a callback's note, an appeal's reasons and
/// its decision, the purpose of reading a rater's contact.
pub const NOTE: TextLimit = TextLimit::multi_line(1000);
/// At most this many tags on one rating.
pub const MAX_TAGS: usize = 5;

/// The criteria scores given (criterion → stars 1..5) checked against the subject's
/// criteria: unknown ones and scores outside 1..5 are refused.
pub fn check_scores(subject: Subject, scores: &[(String, u8)]) -> Result<(), RatingError> {
    let known = criteria(subject);
    for (code, stars) in scores {
        if !known.iter().any(|(k, _)| k == code) {
            return Err(RatingError::UnknownCriterion(code.clone()));
        }
        if !(1..=5).contains(stars) {
            return Err(RatingError::BadScore);
        }
    }
    Ok(())
}

/// The rater as staff see them: the surname kept, the rest masked (张** / 匿名), and the
/// phone's middle digits hidden (138****8000). The full contact is read only by the
/// rectification owner, through an audited read with its purpose.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        None => "匿名".to_string(),
        Some(first) => format!("{first}{}", "*".repeat(chars.count().clamp(1, 3))),
    }
}

pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().collect();
    if digits.len() < 7 {
        return "****".to_string();
    }
    let head: String = digits[..3].iter().collect();
    let tail: String = digits[digits.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// A case is finished for rating (一事一评) once its result is handed over (出件), closed or
/// not.
pub fn case_finished(state: crate::cases::CaseState) -> bool {
    matches!(
        state,
        crate::cases::CaseState::Issued | crate::cases::CaseState::Closed
    )
}

/// The path of the rater's own link to rate a rectification (短信回访), before its token.
pub const CALLBACK_LINK: &str = "/hf/";

/// A message as staff may read it: the token of any callback link hidden, so no one but
/// the rater can answer for the rater.
pub fn redact_callback_links(text: &str) -> String {
    redact_after(text, CALLBACK_LINK)
}

/// A message as staff may read it in the outbox: callback links and query codes (查询码,
/// which let whoever holds them follow and rate a request or case as the person) hidden.
pub fn redact_for_staff(text: &str) -> String {
    redact_after(&redact_callback_links(text), QUERY_CODE_MARK)
}

/// The words before a query code in every message to a resident.
pub const QUERY_CODE_MARK: &str = "查询码";

/// `text` with the token after each `marker` (letters, digits, `-`, `_`; after optional
/// spaces) replaced by asterisks.
fn redact_after(text: &str, marker: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(marker) {
        out.push_str(&rest[..i + marker.len()]);
        rest = &rest[i + marker.len()..];
        let spaces = rest.len() - rest.trim_start_matches(' ').len();
        out.push_str(&rest[..spaces]);
        rest = &rest[spaces..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        if end > 0 {
            out.push_str("******");
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

// --- the unit that did the work, and its rectification's clock -----------------------------

/// What kind of unit a rating is answered by (谁办理谁负责): a hall or station for a
/// visit (the window's), the deciding department for a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Hall,
    Department,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Hall => "hall",
            Unit::Department => "department",
        }
    }

    pub fn parse(s: &str) -> Option<Unit> {
        [Unit::Hall, Unit::Department]
            .into_iter()
            .find(|u| u.as_str() == s)
    }

    pub fn of(subject: Subject) -> Unit {
        match subject {
            Subject::Visit => Unit::Hall,
            Subject::Case => Unit::Department,
        }
    }

    /// The escalation kind a rectification of this unit is tracked as.
    pub fn tracked_kind(self) -> &'static str {
        match self {
            Unit::Hall => "rating.rectification.hall",
            Unit::Department => "rating.rectification.department",
        }
    }

    /// Who answers for the unit: a hall's supervisors, a department's approvers.
    pub fn owner_role(self) -> Role {
        match self {
            Unit::Hall => Role::Supervisor,
            Unit::Department => Role::Approver,
        }
    }
}

/// The rectification's stages on the escalation engine, by state.
pub const STAGE_VERIFY: &str = "verify";
pub const STAGE_RECTIFY: &str = "rectify";
pub const STAGE_CALLBACK: &str = "callback";

impl RectificationState {
    pub const ALL: [RectificationState; 4] = [
        RectificationState::Verifying,
        RectificationState::Rectifying,
        RectificationState::CallbackDue,
        RectificationState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RectificationState::Verifying => "verifying",
            RectificationState::Rectifying => "rectifying",
            RectificationState::CallbackDue => "callback_due",
            RectificationState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<RectificationState> {
        RectificationState::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            RectificationState::Verifying => "待核实",
            RectificationState::Rectifying => "整改中",
            RectificationState::CallbackDue => "待回访",
            RectificationState::Closed => "已办结",
        }
    }

    /// The engine's stage for this state; `None` once closed (the item is closed too).
    pub fn stage(self) -> Option<&'static str> {
        match self {
            RectificationState::Verifying => Some(STAGE_VERIFY),
            RectificationState::Rectifying => Some(STAGE_RECTIFY),
            RectificationState::CallbackDue => Some(STAGE_CALLBACK),
            RectificationState::Closed => None,
        }
    }
}

impl Remedy {
    pub const ALL: [Remedy; 3] = [Remedy::AtOnce, Remedy::ByDeadline, Remedy::Explanation];

    pub fn as_str(self) -> &'static str {
        match self {
            Remedy::AtOnce => "at_once",
            Remedy::ByDeadline => "by_deadline",
            Remedy::Explanation => "explanation",
        }
    }

    pub fn parse(s: &str) -> Option<Remedy> {
        Remedy::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Remedy::AtOnce => "立行立改",
            Remedy::ByDeadline => "限期整改",
            Remedy::Explanation => "解释说明",
        }
    }
}

/// The time limits of a rectification's stages (settings), in working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RectificationLimits {
    pub verify_days: u32,
    /// 限期整改: default 15 working days (some places use 5).
    pub rectify_days: u32,
    pub callback_days: u32,
}

/// The escalation kind of a unit's rectifications: verify, rectify, call back, each with
/// its working-day limit; overdue goes from the unit's owners to the supervisors one and
/// then two levels above it.
pub fn rectification_kind(unit: Unit, limits: RectificationLimits) -> KindSpec {
    let stage = |name: &str, label: &str, days: u32| StageSpec {
        name: name.into(),
        label: label.into(),
        rule: DeadlineRule::WorkingDays(days),
        notice: (name == STAGE_CALLBACK).then_some(crate::escalation::NoticeKind::CallbackDue),
    };
    KindSpec {
        kind: unit.tracked_kind().into(),
        label: "差评整改".into(),
        stages: vec![
            stage(STAGE_VERIFY, "核实", limits.verify_days),
            stage(STAGE_RECTIFY, "整改", limits.rectify_days),
            stage(STAGE_CALLBACK, "回访", limits.callback_days),
        ],
        tiers: vec![
            Tier {
                role: unit.owner_role(),
                up: 0,
            },
            Tier {
                role: Role::Supervisor,
                up: 1,
            },
            Tier {
                role: Role::Supervisor,
                up: 2,
            },
        ],
        warn_permille: None,
    }
}

/// The callback: by phone (the rater's level recorded by staff), or the rater had left no
/// contact (an anonymous device rating): then there is no one to call, and the record
/// closes without a callback — such ratings are outside 实名差评回访率.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackWay {
    Phone,
    SmsLink,
    /// Called several times without reaching the rater (多次联系未接通): closes the record,
    /// not counted as called back.
    Unreachable,
    NoContact,
}

impl CallbackWay {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackWay::Phone => "phone",
            CallbackWay::SmsLink => "sms_link",
            CallbackWay::Unreachable => "unreachable",
            CallbackWay::NoContact => "no_contact",
        }
    }

    /// The rater was reached: counts toward 回访率.
    pub fn reached(self) -> bool {
        matches!(self, CallbackWay::Phone | CallbackWay::SmsLink)
    }

    pub fn parse(s: &str) -> Option<CallbackWay> {
        [
            CallbackWay::Phone,
            CallbackWay::SmsLink,
            CallbackWay::Unreachable,
            CallbackWay::NoContact,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            CallbackWay::Phone => "电话回访",
            CallbackWay::SmsLink => "短信回访（评价人自评）",
            CallbackWay::Unreachable => "多次联系未接通",
            CallbackWay::NoContact => "匿名评价，无法回访",
        }
    }
}

// --- appeals (申诉复核) -----------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppealState {
    Pending,
    /// Upheld: the rating stays on record, excluded from every figure.
    Upheld,
    Dismissed,
}

impl AppealState {
    pub fn as_str(self) -> &'static str {
        match self {
            AppealState::Pending => "pending",
            AppealState::Upheld => "upheld",
            AppealState::Dismissed => "dismissed",
        }
    }

    pub fn parse(s: &str) -> Option<AppealState> {
        [
            AppealState::Pending,
            AppealState::Upheld,
            AppealState::Dismissed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            AppealState::Pending => "待复核",
            AppealState::Upheld => "申诉成立（不计入统计）",
            AppealState::Dismissed => "申诉不成立",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppealError {
    #[error("这条评价已经申诉过，一条评价只能申诉一次")]
    AlreadyAppealed,
    #[error("请写明申诉理由")]
    NoReason,
    #[error("申诉已经复核，不能再次复核")]
    AlreadyDecided,
    #[error("提出申诉的人不能复核自己的申诉")]
    OwnAppeal,
    #[error("申诉由被评价单位的上级复核，被评价单位不能复核自己的申诉")]
    OwnUnit,
    #[error("请写明复核意见")]
    NoDecisionReason,
}

impl AppealError {
    pub fn field(&self) -> &'static str {
        match self {
            AppealError::AlreadyAppealed | AppealError::NoReason => "reason",
            AppealError::AlreadyDecided | AppealError::OwnAppeal | AppealError::OwnUnit => "appeal",
            AppealError::NoDecisionReason => "reason",
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppealError::AlreadyAppealed => "already_appealed",
            AppealError::NoReason => "required",
            AppealError::AlreadyDecided => "already_decided",
            AppealError::OwnAppeal => "own_appeal",
            AppealError::OwnUnit => "own_unit",
            AppealError::NoDecisionReason => "required",
        }
    }
}

/// May the rated unit appeal this rating? Once, with reasons.
pub fn may_appeal(already: bool, reason: &str) -> Result<(), AppealError> {
    if already {
        return Err(AppealError::AlreadyAppealed);
    }
    if reason.trim().is_empty() {
        return Err(AppealError::NoReason);
    }
    Ok(())
}

/// May `decider` decide the appeal filed by `appellant`? Once, by someone else above the
/// rated unit (`decider_above_unit`: the decider's organisation strictly contains the
/// unit — the unit's own supervisors do not judge their own appeal), with the reason (the
/// supervisor's scope over the unit is checked by `access`).
pub fn may_decide_appeal(
    state: AppealState,
    appellant: i64,
    decider: i64,
    decider_above_unit: bool,
    reason: &str,
) -> Result<(), AppealError> {
    if state != AppealState::Pending {
        return Err(AppealError::AlreadyDecided);
    }
    if appellant == decider {
        return Err(AppealError::OwnAppeal);
    }
    if !decider_above_unit {
        return Err(AppealError::OwnUnit);
    }
    if reason.trim().is_empty() {
        return Err(AppealError::NoDecisionReason);
    }
    Ok(())
}

impl RatingError {
    pub fn field(&self) -> &'static str {
        match self {
            RatingError::AlreadyRated
            | RatingError::NotClosed
            | RatingError::TooLate { .. }
            | RatingError::TooEarly { .. }
            | RatingError::OwnWork => "subject",
            RatingError::NoLevel => "level",
            RatingError::UnknownCriterion(_) | RatingError::BadScore => "scores",
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            RatingError::AlreadyRated => "already_rated",
            RatingError::NotClosed => "not_closed",
            RatingError::TooLate { .. } => "too_late",
            RatingError::NoLevel => "no_level",
            RatingError::UnknownCriterion(_) => "unknown_criterion",
            RatingError::BadScore => "out_of_range",
            RatingError::TooEarly { .. } => "too_early",
            RatingError::OwnWork => "own_work",
        }
    }

    /// Refusals that are a conflict with what exists (409) rather than bad input (422).
    pub fn is_conflict(&self) -> bool {
        matches!(self, RatingError::AlreadyRated)
    }
}

impl RectificationError {
    pub fn field(&self) -> &'static str {
        match self {
            RectificationError::WrongStage => "step",
            RectificationError::NoEvidence => "evidence",
            RectificationError::NoRemedy => "remedy",
            RectificationError::NothingDone => "done",
            RectificationError::HasContact | RectificationError::NoContact => "way",
            RectificationError::NoCallbackLevel => "rater_level",
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            RectificationError::WrongStage => "wrong_stage",
            RectificationError::NoEvidence | RectificationError::NothingDone => "required",
            RectificationError::NoRemedy => "no_remedy",
            RectificationError::HasContact => "has_contact",
            RectificationError::NoContact => "no_contact",
            RectificationError::NoCallbackLevel => "required",
        }
    }
}

// --- 星级窗口 ----------------------------------------------------------------------------

/// The thresholds of the monthly star level of a window (settings): for each level from
/// ★5 down to ★1, the 好评率 and the on-time rectification rate it needs, in ‰, and the
/// fewest ratings a month must hold for a level at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StarRule {
    pub min_ratings: i64,
    /// `[(good ‰, on time ‰); 5]`, ★5 first.
    pub levels: [(i64, i64); 5],
}

impl Default for StarRule {
    fn default() -> StarRule {
        StarRule {
            min_ratings: 10,
            levels: [(990, 1000), (980, 950), (950, 900), (900, 850), (850, 800)],
        }
    }
}

/// 星级窗口: a window's star level for a month.
///
/// ```text
/// stars = the highest n in 5..1 with  good_rate ≥ levels[5-n].good
///                                 and on_time_rate ≥ levels[5-n].on_time
///         (on_time_rate = rectifications closed by their deadline / bad ratings of the
///          month; a month without bad ratings counts 100%)
///         0 (不评星) when no level is met or the month has fewer than min_ratings ratings
/// ```
pub fn star_level(rule: &StarRule, tally: &Tally, basic_counts: bool, on_time: Rate) -> u8 {
    if tally.total() < rule.min_ratings {
        return 0;
    }
    let good = good_rate(tally, basic_counts).per_mille().unwrap_or(0);
    let on_time = on_time.per_mille().unwrap_or(1000);
    for (i, (g, t)) in rule.levels.iter().enumerate() {
        if good >= *g && on_time >= *t {
            return 5 - i as u8;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::{local_midnight, MICROS_PER_HOUR};
    use chrono::NaiveDate;

    fn at(day: u32, hour: u32) -> Micros {
        local_midnight(NaiveDate::from_ymd_opt(2026, 11, day).unwrap())
            + i64::from(hour) * MICROS_PER_HOUR
    }

    fn facts(finished: Option<Micros>, now: Micros) -> RatingFacts {
        RatingFacts {
            subject: Subject::Case,
            already_rated: false,
            finished_at: finished,
            now,
            late_days: 15,
        }
    }

    #[test]
    fn levels_have_stars_words_and_two_bad_ones() {
        let stars: Vec<u8> = Level::ALL.iter().map(|l| l.stars()).collect();
        assert_eq!(stars, [5, 4, 3, 2, 1]);
        let bad: Vec<&str> = Level::ALL
            .iter()
            .filter(|l| l.is_bad())
            .map(|l| l.label())
            .collect();
        assert_eq!(bad, ["不满意", "非常不满意"]);
        assert_eq!(Level::from_stars(3), Some(Level::Basic));
        assert_eq!(Level::from_stars(0), None);
        assert!(Level::Basic.is_good(true));
        assert!(!Level::Basic.is_good(false));
    }

    #[test]
    fn one_rating_after_finishing_within_the_late_period() {
        assert_eq!(
            may_rate(&facts(None, at(23, 9)), &[]),
            Err(RatingError::NotClosed)
        );
        assert_eq!(
            may_rate(&facts(Some(at(1, 9)), at(16, 9)), &["overall"]),
            Ok(())
        );
        assert_eq!(
            may_rate(&facts(Some(at(1, 9)), at(16, 10)), &[]),
            Err(RatingError::TooLate { days: 15 })
        );
        let mut twice = facts(Some(at(1, 9)), at(2, 9));
        twice.already_rated = true;
        assert_eq!(may_rate(&twice, &[]), Err(RatingError::AlreadyRated));
        // On-site criteria are not online ones.
        assert_eq!(
            may_rate(&facts(Some(at(1, 9)), at(2, 9)), &["attitude"]),
            Err(RatingError::UnknownCriterion("attitude".into()))
        );
    }

    #[test]
    fn the_invitation_goes_once_after_n_days_without_a_rating() {
        assert!(!invitation_due(at(1, 9), at(4, 8), 3, false, false));
        assert!(invitation_due(at(1, 9), at(4, 9), 3, false, false));
        assert!(!invitation_due(at(1, 9), at(9, 9), 3, true, false));
        assert!(!invitation_due(at(1, 9), at(9, 9), 3, false, true));
    }

    #[test]
    fn a_rectification_is_verified_put_right_and_called_back() {
        use RectificationState as S;
        let verify = |founded, remedy| RectificationStep::Verify {
            founded,
            evidence: "调取窗口录像核实".into(),
            remedy,
        };
        assert_eq!(
            rectify(S::Verifying, &verify(true, Some(Remedy::ByDeadline)), true),
            Ok(S::Rectifying)
        );
        assert_eq!(
            rectify(S::Verifying, &verify(true, Some(Remedy::AtOnce)), true),
            Ok(S::CallbackDue)
        );
        assert_eq!(
            rectify(S::Verifying, &verify(false, None), true),
            Ok(S::CallbackDue)
        );
        assert_eq!(
            rectify(S::Verifying, &verify(true, None), true),
            Err(RectificationError::NoRemedy)
        );
        let blank = RectificationStep::Verify {
            founded: false,
            evidence: " ".into(),
            remedy: None,
        };
        assert_eq!(
            rectify(S::Verifying, &blank, true),
            Err(RectificationError::NoEvidence)
        );
        let done = RectificationStep::Rectified {
            done: "已对窗口人员批评教育并培训".into(),
        };
        assert_eq!(rectify(S::Rectifying, &done, true), Ok(S::CallbackDue));
        assert_eq!(
            rectify(S::Verifying, &done, true),
            Err(RectificationError::WrongStage)
        );
        let called = RectificationStep::CalledBack {
            way: CallbackWay::Phone,
            rater_level: Some(Level::Satisfied),
            note: "电话回访".into(),
        };
        assert_eq!(rectify(S::CallbackDue, &called, true), Ok(S::Closed));
        assert_eq!(
            rectify(S::Closed, &called, true),
            Err(RectificationError::WrongStage)
        );
        let silent = RectificationStep::CalledBack {
            way: CallbackWay::Phone,
            rater_level: None,
            note: String::new(),
        };
        assert_eq!(
            rectify(S::CallbackDue, &silent, true),
            Err(RectificationError::NoCallbackLevel)
        );
        let nobody = RectificationStep::CalledBack {
            way: CallbackWay::NoContact,
            rater_level: None,
            note: String::new(),
        };
        assert_eq!(
            rectify(S::CallbackDue, &nobody, true),
            Err(RectificationError::HasContact)
        );
        assert_eq!(rectify(S::CallbackDue, &nobody, false), Ok(S::Closed));
        // A phone callback needs someone to call; 未接通 closes without a level.
        assert_eq!(
            rectify(S::CallbackDue, &called, false),
            Err(RectificationError::NoContact)
        );
        let missed = RectificationStep::CalledBack {
            way: CallbackWay::Unreachable,
            rater_level: None,
            note: "三次致电未接通".into(),
        };
        assert_eq!(rectify(S::CallbackDue, &missed, true), Ok(S::Closed));
        assert!(!CallbackWay::Unreachable.reached());
    }

    #[test]
    fn figures_on_a_hand_counted_tally() {
        // 10 ratings: 4 × ★5, 3 × ★4, 1 × ★3, 1 × ★2, 1 × ★1.
        let mut t = Tally::default();
        for (level, n) in [
            (Level::VerySatisfied, 4),
            (Level::Satisfied, 3),
            (Level::Basic, 1),
            (Level::Dissatisfied, 1),
            (Level::VeryDissatisfied, 1),
        ] {
            for _ in 0..n {
                t.add(level);
            }
        }
        assert_eq!(t.total(), 10);
        // (4 + 3 + 1) / 10 with 基本满意 counted, (4 + 3) / 10 without.
        assert_eq!(good_rate(&t, true).percent_text(), "80.0%");
        assert_eq!(good_rate(&t, false).percent_text(), "70.0%");
        assert_eq!(bad_rate(&t).percent_text(), "20.0%");
        // (20 + 12 + 3 + 2 + 1) / 10 = 3.8
        assert_eq!(average_stars_tenths(&t), Some(38));
        assert_eq!(average_stars_tenths(&Tally::default()), None);
        assert_eq!(coverage(3, 4).percent_text(), "75.0%");
        assert_eq!(rectification_rate(1, 2).percent_text(), "50.0%");
        assert_eq!(callback_rate(2, 2).percent_text(), "100.0%");
        assert_eq!(on_time_rate(2, 3).percent_text(), "66.7%");
        assert!(under_threshold(good_rate(&t, true), 850, 10));
        assert!(
            !under_threshold(good_rate(&t, true), 850, 11),
            "too few ratings to list"
        );
        assert!(
            !under_threshold(Rate::new(0, 0), 850, 0),
            "unrated is not listed"
        );
        assert_eq!(star_on_time_rate(0, 0).percent_text(), "—");
        // Staff callback entry: not before N days, never by the clerk who served.
        let f = Some(at(1, 9));
        assert_eq!(
            may_enter_callback(f, at(4, 8), 3, false),
            Err(RatingError::TooEarly { days: 3 })
        );
        assert_eq!(may_enter_callback(f, at(4, 9), 3, false), Ok(()));
        assert_eq!(
            may_enter_callback(f, at(9, 9), 3, true),
            Err(RatingError::OwnWork)
        );
    }

    #[test]
    fn star_levels_follow_the_thresholds() {
        let rule = StarRule::default();
        let mut t = Tally::default();
        for _ in 0..99 {
            t.add(Level::VerySatisfied);
        }
        t.add(Level::Dissatisfied);
        // 99 / 100 = 990‰ good; the bad one rectified on time: ★5.
        assert_eq!(star_level(&rule, &t, true, Rate::new(1, 1)), 5);
        // Not on time: 0‰ on time meets no level.
        assert_eq!(star_level(&rule, &t, true, Rate::new(0, 1)), 0);
        // 9 ratings: too few for a level.
        let mut few = Tally::default();
        for _ in 0..9 {
            few.add(Level::VerySatisfied);
        }
        assert_eq!(star_level(&rule, &few, true, Rate::new(0, 0)), 0);
        // 10 ratings, 9 good (900‰), none bad → ★2 (900‰ good, on time counts 100%).
        let mut t2 = Tally::default();
        for _ in 0..9 {
            t2.add(Level::Satisfied);
        }
        t2.add(Level::Dissatisfied);
        assert_eq!(star_level(&rule, &t2, true, Rate::new(1, 1)), 2);
    }

    #[test]
    fn callback_links_are_hidden_from_staff() {
        assert_eq!(
            redact_callback_links("请评价：https://x.cn/hf/Ab3_x-9。谢谢"),
            "请评价：https://x.cn/hf/******。谢谢"
        );
        assert_eq!(redact_callback_links("没有链接"), "没有链接");
    }

    #[test]
    fn query_codes_are_hidden_from_staff() {
        assert_eq!(
            redact_for_staff("诉求编号SQ20261123000001，查询码N5MVAG8K。请记下"),
            "诉求编号SQ20261123000001，查询码******。请记下"
        );
        assert_eq!(
            redact_for_staff("查询码 AB12，链接https://x.cn/hf/Ab3"),
            "查询码 ******，链接https://x.cn/hf/******"
        );
    }

    #[test]
    fn raters_are_masked() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name(""), "匿名");
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_phone("123"), "****");
    }

    #[test]
    fn appeals_once_and_decided_by_someone_else() {
        assert_eq!(may_appeal(false, "评价人所述与录像不符"), Ok(()));
        assert_eq!(
            may_appeal(true, "再申诉"),
            Err(AppealError::AlreadyAppealed)
        );
        assert_eq!(may_appeal(false, "  "), Err(AppealError::NoReason));
        assert_eq!(
            may_decide_appeal(AppealState::Pending, 1, 2, true, "属实"),
            Ok(())
        );
        assert_eq!(
            may_decide_appeal(AppealState::Pending, 2, 2, true, "属实"),
            Err(AppealError::OwnAppeal)
        );
        assert_eq!(
            may_decide_appeal(AppealState::Pending, 1, 2, false, "属实"),
            Err(AppealError::OwnUnit)
        );
        assert_eq!(
            may_decide_appeal(AppealState::Upheld, 1, 2, true, "属实"),
            Err(AppealError::AlreadyDecided)
        );
    }

    #[test]
    fn the_rectification_kind_times_each_stage_in_working_days() {
        let k = rectification_kind(
            Unit::Department,
            RectificationLimits {
                verify_days: 3,
                rectify_days: 15,
                callback_days: 3,
            },
        );
        assert!(k.validate().is_ok());
        assert_eq!(k.kind, "rating.rectification.department");
        assert_eq!(
            k.stage(STAGE_RECTIFY).unwrap().rule,
            DeadlineRule::WorkingDays(15)
        );
        assert_eq!(k.tiers[0].role, Role::Approver);
        for s in RectificationState::ALL {
            if let Some(stage) = s.stage() {
                assert!(k.stage(stage).is_some(), "{stage}");
            }
        }
        assert!(check_scores(Subject::Visit, &[("attitude".into(), 5)]).is_ok());
        assert!(check_scores(Subject::Visit, &[("attitude".into(), 6)]).is_err());
        assert!(check_scores(Subject::Case, &[("attitude".into(), 5)]).is_err());
    }
}
