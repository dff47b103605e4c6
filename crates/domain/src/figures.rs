//! The figures the seeds measure, each defined once with its formula: the share of cases
//! approved at the window (即审即办率, "85%以上事项即审即办") and, with visits per case,
//! 一次办结率. Counting happens in the store's rollups; here is what a figure *means*.

use serde::Serialize;

/// A rate: `numerator / denominator`, undefined (not 0 %) when nothing was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rate {
    pub numerator: i64,
    pub denominator: i64,
}

impl Rate {
    pub fn new(numerator: i64, denominator: i64) -> Rate {
        Rate {
            numerator,
            denominator,
        }
    }

    /// Per mille, rounded half up; `None` when the denominator is 0.
    pub fn per_mille(self) -> Option<i64> {
        (self.denominator > 0)
            .then(|| (self.numerator * 2000 + self.denominator) / (2 * self.denominator))
    }

    /// `87.5%`, or `—` when nothing was counted.
    pub fn percent_text(self) -> String {
        match self.per_mille() {
            Some(m) => format!("{}.{}%", m / 10, m % 10),
            None => "—".into(),
        }
    }
}

/// 即审即办率: cases approved at the window by a clerk holding the department's grant,
/// divided by the cases accepted (refusals are not applications that could be approved),
/// both counted on the day of intake, per intake organisation and item:
///
/// ```text
/// share = approved_at_window / accepted
/// ```
pub fn window_approval_share(accepted: i64, approved_at_window: i64) -> Rate {
    Rate::new(approved_at_window, accepted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_round_and_say_when_undefined() {
        assert_eq!(window_approval_share(8, 7).percent_text(), "87.5%");
        assert_eq!(Rate::new(1, 3).percent_text(), "33.3%");
        assert_eq!(Rate::new(2, 3).percent_text(), "66.7%");
        assert_eq!(Rate::new(0, 0).percent_text(), "—");
        assert_eq!(Rate::new(5, 5).per_mille(), Some(1000));
    }
}
