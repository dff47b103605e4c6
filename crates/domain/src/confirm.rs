//! What the window says after an act (办结 and every ticket or case action): a sentence
//! naming the ticket or case and what became of it, in the machines' own words.

use crate::cases::{CaseActionKind, CaseState};
use crate::queue::{TicketAction, WindowState};

/// After a ticket action: `A003 已办结，已记录到场：办件 YC…、YC…`.
pub fn ticket_done(action: &TicketAction, number: &str, case_nos: &[String]) -> String {
    let what = match action {
        TicketAction::Call => format!("已叫号：{number}"),
        TicketAction::Recall => format!("已重复呼叫 {number}"),
        TicketAction::StartService => format!("{number} 开始办理"),
        TicketAction::Finish => format!("{number} 已办结"),
        TicketAction::NoShow => format!("{number} 已过号"),
        TicketAction::Requeue => format!("{number} 已重新排队"),
        TicketAction::Transfer { to_class } => format!("{number} 已转到 {to_class} 类"),
        TicketAction::Cancel => format!("{number} 已取消"),
    };
    match (action, case_nos.is_empty()) {
        (TicketAction::Finish, false) => {
            format!("{what}，已记录到场：办件 {}", case_nos.join("、"))
        }
        (TicketAction::Finish, true) => format!("{what}（未关联办件）"),
        _ => what,
    }
}

/// After opening, pausing or closing a window: `3号窗口已开窗`.
pub fn window_done(number: i64, to: WindowState) -> String {
    let what = match to {
        WindowState::Open => "已开窗",
        WindowState::Paused => "已暂停",
        WindowState::Closed => "已关窗",
    };
    format!("{number}号窗口{what}")
}

/// After a case action: `已出件：办件 YC… 现为“已出件”`.
pub fn case_done(kind: CaseActionKind, case_no: &str, now: CaseState) -> String {
    format!("{}：办件 {case_no}，现为“{}”", kind.label(), now.label())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_confirmation_names_what_it_is_about() {
        let cases = vec!["YC20261123000001".to_string()];
        assert_eq!(
            ticket_done(&TicketAction::Finish, "A003", &cases),
            "A003 已办结，已记录到场：办件 YC20261123000001"
        );
        assert_eq!(
            ticket_done(&TicketAction::Finish, "A003", &[]),
            "A003 已办结（未关联办件）"
        );
        for a in [
            TicketAction::Recall,
            TicketAction::StartService,
            TicketAction::NoShow,
            TicketAction::Requeue,
            TicketAction::Transfer {
                to_class: "C".into(),
            },
            TicketAction::Cancel,
        ] {
            assert!(ticket_done(&a, "A003", &[]).contains("A003"), "{a:?}");
        }
        assert_eq!(window_done(3, WindowState::Open), "3号窗口已开窗");
        let text = case_done(CaseActionKind::Issue, "YC1", CaseState::Issued);
        assert!(text.contains("YC1") && text.contains(CaseState::Issued.label()));
        assert!(text.starts_with(CaseActionKind::Issue.label()));
    }
}
