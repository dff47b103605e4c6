//! The fallback window's figures. Each is read from the daily rollup (`fallback_rollup`),
//! which every act writes in its own transaction; a metric is counted on the day of the
//! act that settles it (a response on the day it was given, an outcome on the day of 办结).

use serde::{Deserialize, Serialize};

words! {
    /// A counter of the rollup. `dim` is `org` (the window's organisation) unless noted.
    pub enum Metric {
        /// Cases taken in (by the day of receipt).
        Received = ("received", "受理"),
        /// Not taken (negative list or conditions not met), or sent back to 12345.
        Refused = ("refused", "不予受理"),
        /// Classified (the response), and of those within the respond limit (1 hour).
        Responded = ("responded", "已响应"),
        RespondedOnTime = ("responded_on_time", "按时响应"),
        /// Coordination finished, and of those within the coordinate limit (3 WD).
        Coordinated = ("coordinated", "协调完成"),
        CoordinatedOnTime = ("coordinated_on_time", "按时协调"),
        /// 办结, and of those within the close limit (7 WD from receipt, before extension).
        Concluded = ("concluded", "办结"),
        ConcludedOnTime = ("concluded_on_time", "按时办结"),
        Solved = ("solved", "已解决"),
        PartlySolved = ("partly_solved", "部分解决"),
        Unsolved = ("unsolved", "未解决"),
        ToPolicy = ("to_policy", "转政策建议"),
        /// Concluded cases above the window tier (joint meeting, leading group), and the sum
        /// of their working days from receipt to 办结.
        ComplexConcluded = ("complex_concluded", "复杂案件办结"),
        ComplexWorkingDays = ("complex_working_days", "复杂案件办理工作日合计"),
        /// Coordination rounds of the concluded cases (sum).
        Rounds = ("rounds", "协调轮次合计"),
        /// Extensions approved.
        Extended = ("extended", "延期"),
        /// Satisfaction given at feedback, and of those 非常满意/满意/基本满意.
        Rated = ("rated", "评价"),
        Satisfied = ("satisfied", "满意"),
        /// A department's 否定答复报告 (dim `dept`).
        RefusalReports = ("refusal_reports", "否定答复"),
        /// Policy suggestions decided, and of those adopted.
        SuggestionsDecided = ("suggestions_decided", "建议已决定"),
        SuggestionsAdopted = ("suggestions_adopted", "建议已采纳"),
    }
}

use crate::figures::Rate;
use std::collections::BTreeMap;

/// The seed's targets, shown beside the figures (seed §3.4, §5.2).
/// Complex cases are handled within this many working days on average (≤ 10).
pub const TARGET_COMPLEX_DAYS: i64 = 10;
/// Coordination rounds per case (跨部门协调次数控制在2次以内, ≤ 2).
pub const TARGET_ROUNDS: i64 = 2;
/// Policy suggestions adopted (≥ 60%), in per mille.
pub const TARGET_ADOPTION_PERMILLE: i64 = 600;

/// The counters of a period for one unit (a window's organisation, or the whole scope),
/// summed from the daily rollup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts(pub BTreeMap<&'static str, i64>);

impl Counts {
    pub fn get(&self, m: Metric) -> i64 {
        self.0.get(m.as_str()).copied().unwrap_or(0)
    }

    pub fn add(&mut self, m: Metric, n: i64) {
        *self.0.entry(m.as_str()).or_insert(0) += n;
    }

    /// Adds another unit's counters (a total over several windows).
    pub fn merge(&mut self, other: &Counts) {
        for m in Metric::ALL {
            self.add(*m, other.get(*m));
        }
    }
}

/// 1小时响应率: cases classified (the response) within the respond limit, over the cases
/// classified, both on the day of the response:
///
/// ```text
/// respond_rate = responded_on_time / responded
/// ```
pub fn respond_rate(c: &Counts) -> Rate {
    Rate::new(c.get(Metric::RespondedOnTime), c.get(Metric::Responded))
}

/// 3个工作日协调率: coordination finished within the coordinate limit, over coordination
/// finished, on the day it finished:
///
/// ```text
/// coordinate_rate = coordinated_on_time / coordinated
/// ```
pub fn coordinate_rate(c: &Counts) -> Rate {
    Rate::new(c.get(Metric::CoordinatedOnTime), c.get(Metric::Coordinated))
}

/// 7个工作日办结率: cases concluded (办结) within 7 working days of receipt (before any
/// extension), over the cases concluded, on the day of 办结:
///
/// ```text
/// close_rate = concluded_on_time / concluded
/// ```
pub fn close_rate(c: &Counts) -> Rate {
    Rate::new(c.get(Metric::ConcludedOnTime), c.get(Metric::Concluded))
}

/// 解决率 (the seed judges by problems solved, not cases closed):
///
/// ```text
/// solve_rate = concluded with outcome 已解决 / concluded
/// ```
pub fn solve_rate(c: &Counts) -> Rate {
    Rate::new(c.get(Metric::Solved), c.get(Metric::Concluded))
}

/// The share of each outcome of the cases concluded (已解决/部分解决/未解决/转政策建议):
///
/// ```text
/// outcome_share(o) = concluded with outcome o / concluded
/// ```
pub fn outcome_breakdown(c: &Counts) -> Vec<(crate::fallback::Outcome, i64, Rate)> {
    use crate::fallback::Outcome as O;
    [
        (O::Solved, Metric::Solved),
        (O::PartlySolved, Metric::PartlySolved),
        (O::Unsolved, Metric::Unsolved),
        (O::ToPolicy, Metric::ToPolicy),
    ]
    .into_iter()
    .map(|(o, m)| (o, c.get(m), Rate::new(c.get(m), c.get(Metric::Concluded))))
    .collect()
}

/// Average working days of a complex case (joint meeting or leading group), receipt to
/// 办结, in tenths of a day (`85` is 8.5), rounded half up; `None` without such cases.
/// Target ≤ [`TARGET_COMPLEX_DAYS`]:
///
/// ```text
/// complex_days = Σ working days of complex cases concluded / complex cases concluded
/// ```
pub fn complex_days_tenths(c: &Counts) -> Option<i64> {
    tenths(
        c.get(Metric::ComplexWorkingDays),
        c.get(Metric::ComplexConcluded),
    )
}

/// Coordination rounds per concluded case, in tenths; target ≤ [`TARGET_ROUNDS`]:
///
/// ```text
/// rounds_per_case = Σ rounds of the cases concluded / concluded
/// ```
pub fn rounds_tenths(c: &Counts) -> Option<i64> {
    tenths(c.get(Metric::Rounds), c.get(Metric::Concluded))
}

/// 政策建议采纳率; target ≥ 60% ([`TARGET_ADOPTION_PERMILLE`]):
///
/// ```text
/// adoption_rate = suggestions adopted / suggestions decided (adopted + rejected)
/// ```
pub fn adoption_rate(c: &Counts) -> Rate {
    Rate::new(
        c.get(Metric::SuggestionsAdopted),
        c.get(Metric::SuggestionsDecided),
    )
}

/// 满意度 of fallback cases (given at feedback):
///
/// ```text
/// satisfaction = (非常满意 + 满意 + 基本满意) / rated
/// ```
pub fn satisfaction_rate(c: &Counts) -> Rate {
    Rate::new(c.get(Metric::Satisfied), c.get(Metric::Rated))
}

/// Refusal reports (否定答复报告) of a department in the period: the counter itself (dim
/// `dept`, metric `refusal_reports`), summed.
pub fn refusal_reports(c: &Counts) -> i64 {
    c.get(Metric::RefusalReports)
}

/// `a / b` in tenths, rounded half up; `None` when `b` is 0.
fn tenths(a: i64, b: i64) -> Option<i64> {
    (b > 0).then(|| (a * 20 + b) / (2 * b))
}

/// `8.5`, or `—`.
pub fn tenths_text(t: Option<i64>) -> String {
    match t {
        Some(t) => format!("{}.{}", t / 10, t % 10),
        None => "—".into(),
    }
}

/// Whether a figure meets its target (`None` without data): at most `max` in tenths.
pub fn at_most(t: Option<i64>, max: i64) -> Option<bool> {
    t.map(|t| t <= max * 10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fallback::Outcome;

    fn counts(pairs: &[(Metric, i64)]) -> Counts {
        let mut c = Counts::default();
        for (m, n) in pairs {
            c.add(*m, *n);
        }
        c
    }

    #[test]
    fn fallback_rates_follow_their_formulas() {
        let c = counts(&[
            (Metric::Responded, 4),
            (Metric::RespondedOnTime, 3),
            (Metric::Coordinated, 3),
            (Metric::CoordinatedOnTime, 2),
            (Metric::Concluded, 3),
            (Metric::ConcludedOnTime, 2),
            (Metric::Solved, 2),
            (Metric::Unsolved, 1),
            (Metric::ComplexConcluded, 2),
            (Metric::ComplexWorkingDays, 17),
            (Metric::Rounds, 4),
            (Metric::SuggestionsDecided, 3),
            (Metric::SuggestionsAdopted, 2),
            (Metric::Rated, 2),
            (Metric::Satisfied, 1),
        ]);
        assert_eq!(respond_rate(&c).percent_text(), "75.0%");
        assert_eq!(coordinate_rate(&c).percent_text(), "66.7%");
        assert_eq!(close_rate(&c).percent_text(), "66.7%");
        assert_eq!(solve_rate(&c).percent_text(), "66.7%");
        assert_eq!(complex_days_tenths(&c), Some(85));
        assert_eq!(tenths_text(complex_days_tenths(&c)), "8.5");
        assert_eq!(
            at_most(complex_days_tenths(&c), TARGET_COMPLEX_DAYS),
            Some(true)
        );
        assert_eq!(rounds_tenths(&c), Some(13));
        assert_eq!(at_most(rounds_tenths(&c), TARGET_ROUNDS), Some(true));
        assert_eq!(adoption_rate(&c).per_mille(), Some(667));
        assert_eq!(satisfaction_rate(&c).percent_text(), "50.0%");
        let b = outcome_breakdown(&c);
        assert_eq!(b[0], (Outcome::Solved, 2, Rate::new(2, 3)));
        assert_eq!(b[2].1, 1);
        assert_eq!(b[3].2.percent_text(), "0.0%");
    }

    #[test]
    fn fallback_figures_without_counts_are_undefined() {
        let c = Counts::default();
        assert_eq!(respond_rate(&c).percent_text(), "—");
        assert_eq!(complex_days_tenths(&c), None);
        assert_eq!(tenths_text(rounds_tenths(&c)), "—");
        assert_eq!(at_most(None, TARGET_ROUNDS), None);
        let mut total = Counts::default();
        total.merge(&counts(&[(Metric::Rounds, 3)]));
        total.merge(&counts(&[(Metric::Rounds, 2)]));
        assert_eq!(total.get(Metric::Rounds), 5);
    }
}
