//! 好差评 (GB/T 39734-2020, GB/T 39735-2020, 国办发〔2019〕51号): what a rating is, who may
//! give one and when, how a bad rating is rectified, and what each figure means — the pure
//! rules; the store keeps ratings append-only and the escalation engine times the
//! rectification.

use crate::figures::Rate;
use chrono::{Duration, NaiveDateTime};
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
    #[error("请选择1到5颗星")]
    NoLevel,
    #[error("“{0}”不是这类评价的评价项")]
    UnknownCriterion(String),
}

/// The facts a rating request is judged on.
pub struct RatingFacts {
    pub subject: Subject,
    /// A rating already exists for this visit or case.
    pub already_rated: bool,
    /// When the visit finished or the case closed; `None` while it has not.
    pub finished_at: Option<NaiveDateTime>,
    pub now: NaiveDateTime,
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
    if facts.now > finished + Duration::days(facts.late_days) {
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
    closed_at: NaiveDateTime,
    now: NaiveDateTime,
    after_days: i64,
    rated: bool,
    invited: bool,
) -> bool {
    !rated && !invited && now >= closed_at + Duration::days(after_days)
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
    /// The rater called back; their level for the rectification.
    CalledBack { rater_level: Level, note: String },
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
}

/// The next state of a rectification after `step`, or why not.
pub fn rectify(
    state: RectificationState,
    step: &RectificationStep,
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
        (S::CallbackDue, RectificationStep::CalledBack { .. }) => Ok(S::Closed),
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

/// 回访率:
///
/// ```text
/// callback_rate = rectifications whose rater was called back / bad ratings
/// ```
pub fn callback_rate(called_back: i64, bad_ratings: i64) -> Rate {
    Rate::new(called_back, bad_ratings)
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
/// the threshold (a setting, default 850‰ = 85%). A unit without ratings is not listed —
/// it is shown as unrated instead.
pub fn under_threshold(rate: Rate, threshold_per_mille: i64) -> bool {
    rate.per_mille().is_some_and(|m| m < threshold_per_mille)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    fn facts(finished: Option<NaiveDateTime>, now: NaiveDateTime) -> RatingFacts {
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
            rectify(S::Verifying, &verify(true, Some(Remedy::ByDeadline))),
            Ok(S::Rectifying)
        );
        assert_eq!(
            rectify(S::Verifying, &verify(true, Some(Remedy::AtOnce))),
            Ok(S::CallbackDue)
        );
        assert_eq!(
            rectify(S::Verifying, &verify(false, None)),
            Ok(S::CallbackDue)
        );
        assert_eq!(
            rectify(S::Verifying, &verify(true, None)),
            Err(RectificationError::NoRemedy)
        );
        let blank = RectificationStep::Verify {
            founded: false,
            evidence: " ".into(),
            remedy: None,
        };
        assert_eq!(
            rectify(S::Verifying, &blank),
            Err(RectificationError::NoEvidence)
        );
        let done = RectificationStep::Rectified {
            done: "已对窗口人员批评教育并培训".into(),
        };
        assert_eq!(rectify(S::Rectifying, &done), Ok(S::CallbackDue));
        assert_eq!(
            rectify(S::Verifying, &done),
            Err(RectificationError::WrongStage)
        );
        let called = RectificationStep::CalledBack {
            rater_level: Level::Satisfied,
            note: "电话回访".into(),
        };
        assert_eq!(rectify(S::CallbackDue, &called), Ok(S::Closed));
        assert_eq!(
            rectify(S::Closed, &called),
            Err(RectificationError::WrongStage)
        );
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
        assert!(under_threshold(good_rate(&t, true), 850));
        assert!(
            !under_threshold(Rate::new(0, 0), 850),
            "unrated is not listed"
        );
    }
}
