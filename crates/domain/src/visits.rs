//! Visits per case (跑动次数) and 一次办结: when the applicant came in person for a case,
//! and whether, from the first application to the result in hand, they came at most once.
//!
//! A **visit** is the applicant at a window in person:
//! - a queue ticket, finished, that served the case ([`VisitKind::Ticket`]) — every case
//!   taken in or acted on while the clerk serves the ticket is linked to it by itself, and
//!   the clerk may name more case numbers when finishing it;
//! - the same from a ticket an appointment's check-in issued ([`VisitKind::Appointment`]):
//!   the check-in counts as the visit;
//! - without a ticket: the intake at the window ([`VisitKind::Intake`]) and the hand-over
//!   of the result at the window ([`VisitKind::Issuance`]).
//!
//! Mail (邮寄) and electronic issuance (电子证照) add no visit ([`issuance_is_visit`]).
//!
//! A visit is one trip: **one per case and day** ([`visit_key`]). Finishing the
//! same ticket again, naming a linked case a second time, or intake and pick-up at the
//! same counter that morning record nothing more.

use crate::cases::{CaseAction, IssueMethod};
use crate::figures::Rate;
use crate::places::Channel;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// How the applicant came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitKind {
    /// A walk-in queue ticket that served the case (取号办理).
    Ticket,
    /// A ticket issued by an appointment's check-in (预约签到办理).
    Appointment,
    /// Taken in at the window without a ticket.
    Intake,
    /// The result handed over at the window without a ticket.
    Issuance,
}

impl VisitKind {
    pub const ALL: [VisitKind; 4] = [
        VisitKind::Ticket,
        VisitKind::Appointment,
        VisitKind::Intake,
        VisitKind::Issuance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VisitKind::Ticket => "ticket",
            VisitKind::Appointment => "appointment",
            VisitKind::Intake => "intake",
            VisitKind::Issuance => "issuance",
        }
    }

    pub fn parse(s: &str) -> Option<VisitKind> {
        VisitKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// How the case page says it.
    pub fn label(self) -> &'static str {
        match self {
            VisitKind::Ticket => "取号办理",
            VisitKind::Appointment => "预约签到办理",
            VisitKind::Intake => "窗口受理（未取号）",
            VisitKind::Issuance => "窗口领取（未取号）",
        }
    }

    /// The kind of a finished ticket's visit: an appointment's ticket counts as the
    /// appointment's check-in.
    pub fn of_ticket(from_appointment: bool) -> VisitKind {
        if from_appointment {
            VisitKind::Appointment
        } else {
            VisitKind::Ticket
        }
    }
}

/// What makes two records the same visit of a case: the day (Beijing date). One trip per
/// case and day — whatever tickets, windows or acts it took.
pub fn visit_key(day: NaiveDate) -> String {
    day.to_string()
}

/// Whether handing a result over this way brings the applicant to the window.
pub fn issuance_is_visit(method: IssueMethod) -> bool {
    match method {
        IssueMethod::Window => true,
        IssueMethod::Mail | IssueMethod::Electronic => false,
    }
}

/// Whether taking an application in through `channel` means the applicant came: at a
/// hall's window, a community station or a self-service terminal they did (a phone booking
/// is taken in when they arrive for it); on a home visit the clerk went to them, and an
/// online application needs no trip at all.
pub fn intake_is_visit(channel: Channel) -> bool {
    match channel {
        Channel::Window
        | Channel::CommunityStation
        | Channel::PhoneBooking
        | Channel::SelfService => true,
        Channel::HomeVisit | Channel::Online => false,
    }
}

/// Whether a case action taken by a clerk means the applicant stands at the window, so the
/// case is linked to the ticket the clerk is serving: the result handed over at the
/// window, materials brought (容缺 supplied, 补正 resubmitted), 即办 done there, a
/// withdrawal signed. Decisions of the department and mail or electronic issuance do not.
pub fn action_in_person(action: &CaseAction) -> bool {
    match action {
        CaseAction::Issue { method, .. } => issuance_is_visit(*method),
        CaseAction::SupplementReceived
        | CaseAction::Resubmit
        | CaseAction::CompleteAtWindow { .. }
        | CaseAction::Withdraw { .. } => true,
        _ => false,
    }
}

/// Whether a visit on `visit_day` counts for 一次办结 of a case issued on `issued_on`:
/// visits up to the day the result was in hand count; a visit after it (a question at
/// the counter next week) is not part of getting the result.
pub fn counts_toward(visit_day: NaiveDate, issued_on: NaiveDate) -> bool {
    visit_day <= issued_on
}

/// 一次办结 for one case: from the first application to the result in hand the applicant
/// came at most once — counting the visits on or before the day of issuance
/// ([`counts_toward`]); mail and electronic issuance add none.
///
/// ```text
/// done_in_one_visit(case) = |{ v ∈ visits(case) : day(v) ≤ issued_on(case) }| ≤ 1
/// ```
pub fn done_in_one_visit(visits_until_issued: u32) -> bool {
    visits_until_issued <= 1
}

/// 一次办结率 over a period: the cases issued (finished, 办结出件) in the period that were
/// done in one visit, divided by the cases issued in the period, both counted on the day of
/// issuance per intake organisation (hall) and item:
///
/// ```text
/// rate = |{ c issued in [from, to] : done_in_one_visit(c) }| / |{ c issued in [from, to] }|
/// ```
///
/// Undefined (`—`), not 0 %, when nothing was issued.
pub fn one_visit_rate(issued: i64, done_in_one_visit: i64) -> Rate {
    Rate::new(done_in_one_visit, issued)
}

/// How the rollup's "done in one visit" count of an issued case changes when a visit is
/// recorded for it afterwards (a ticket finished after the hand-over it served, or a
/// linked case named late): `-1` when this visit is the second that counts, else `0`.
/// `counted_before` is the number of counting visits before this one.
pub fn rollup_change_on_late_visit(counted_before: u32, visit_counts: bool) -> i64 {
    if visit_counts && counted_before == 1 {
        -1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn kinds_round_trip_and_have_words() {
        for k in VisitKind::ALL {
            assert_eq!(VisitKind::parse(k.as_str()), Some(k));
            assert!(!k.label().is_empty());
        }
        assert_eq!(VisitKind::parse("mail"), None);
        assert_eq!(VisitKind::of_ticket(true), VisitKind::Appointment);
        assert_eq!(VisitKind::of_ticket(false), VisitKind::Ticket);
    }

    #[test]
    fn one_visit_per_day() {
        assert_eq!(visit_key(d("2026-11-23")), visit_key(d("2026-11-23")));
        assert_ne!(visit_key(d("2026-11-23")), visit_key(d("2026-11-24")));
    }

    #[test]
    fn mail_and_electronic_issuance_add_no_visit() {
        assert!(issuance_is_visit(IssueMethod::Window));
        assert!(!issuance_is_visit(IssueMethod::Mail));
        assert!(!issuance_is_visit(IssueMethod::Electronic));
        let issue = |method| CaseAction::Issue {
            method,
            tracking_no: None,
            certificate_no: None,
        };
        assert!(action_in_person(&issue(IssueMethod::Window)));
        assert!(!action_in_person(&issue(IssueMethod::Mail)));
        assert!(!action_in_person(&issue(IssueMethod::Electronic)));
        assert!(action_in_person(&CaseAction::SupplementReceived));
        assert!(!action_in_person(&CaseAction::Take));
        assert!(!action_in_person(&CaseAction::Approve {
            opinion: String::new()
        }));
    }

    #[test]
    fn done_in_one_visit_means_at_most_once() {
        // Taken in online or by a community worker and mailed: no visit at all.
        assert!(done_in_one_visit(0));
        // Taken in and handed over in the same trip (即审即办), or taken in and mailed.
        assert!(done_in_one_visit(1));
        // Taken in, then came back for the result.
        assert!(!done_in_one_visit(2));
        assert!(!done_in_one_visit(3));
    }

    #[test]
    fn visits_after_the_result_do_not_count() {
        assert!(counts_toward(d("2026-11-23"), d("2026-11-23")));
        assert!(counts_toward(d("2026-11-20"), d("2026-11-23")));
        assert!(!counts_toward(d("2026-11-24"), d("2026-11-23")));
    }

    #[test]
    fn the_rate_is_over_cases_issued() {
        let r = one_visit_rate(4, 3);
        assert_eq!(r.percent_text(), "75.0%");
        assert_eq!(one_visit_rate(0, 0).percent_text(), "—");
        assert_eq!(one_visit_rate(3, 3).per_mille(), Some(1000));
    }

    #[test]
    fn a_late_second_visit_takes_the_case_out_of_the_count() {
        // The ticket that served the hand-over finishes after it: first counting visit.
        assert_eq!(rollup_change_on_late_visit(0, true), 0);
        // A second counting visit: no longer done in one visit.
        assert_eq!(rollup_change_on_late_visit(1, true), -1);
        // A third changes nothing more; a visit after issuance never counts.
        assert_eq!(rollup_change_on_late_visit(2, true), 0);
        assert_eq!(rollup_change_on_late_visit(1, false), 0);
    }

    #[test]
    fn a_home_visit_or_an_online_application_is_no_trip() {
        use crate::places::Channel;
        assert!(super::intake_is_visit(Channel::Window));
        assert!(super::intake_is_visit(Channel::CommunityStation));
        assert!(super::intake_is_visit(Channel::SelfService));
        assert!(!super::intake_is_visit(Channel::HomeVisit));
        assert!(!super::intake_is_visit(Channel::Online));
    }
}
