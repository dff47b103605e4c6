//! Visits per case at the window (`store::visits`, rules in `domain::visits`): what intake
//! and case actions record inside their own transaction, the case numbers a clerk names
//! when finishing a ticket (each must be a case they may see), and a case's visits as the
//! case page and API show them.

use crate::context::Principal;
use crate::error::AppError;
use crate::AppState;
use chrono::NaiveDate;
use onewindow_domain::access::Permission;
use onewindow_domain::cases::CaseAction;
use onewindow_domain::visits::{self as rules, VisitKind};
use onewindow_store::audit::Change;
use onewindow_store::cases::{self as store_cases, CaseRecord};
use onewindow_store::clock::format_local;
use onewindow_store::queue::Ticket;
use onewindow_store::visits::{self as store_visits, NewVisit, Visit};
use onewindow_store::StoreError;
use serde_json::{json, Value};
use sqlx::AnyConnection;

/// The case numbers a clerk names when finishing a ticket: each one a case the clerk may
/// see (by the hall it was taken in at, or its department); another's looks unknown.
pub async fn check_case_nos(
    state: &AppState,
    p: &Principal,
    nos: &[String],
) -> Result<(), AppError> {
    for no in nos {
        let visible = match store_cases::by_number(state.store.reader(), no).await {
            Ok(case) => {
                p.authorize(Permission::ViewCases, &case.intake_path)
                    .is_ok()
                    || p.authorize(Permission::ViewCases, &case.department_path)
                        .is_ok()
            }
            Err(StoreError::NotFound) => false,
            Err(e) => return Err(e.into()),
        };
        if !visible {
            return Err(AppError::invalid(
                "case_nos",
                "unknown_case",
                format!("没有编号为{no}的办件（或不在您的管辖范围内）"),
            ));
        }
    }
    Ok(())
}

/// After intake, in its transaction: the case is linked to the ticket the clerk is
/// serving (the ticket's finish records the visit), or, with no ticket, the intake at the
/// window is the visit. Returns the ticket linked to.
pub async fn at_intake(
    conn: &mut AnyConnection,
    change: &Change,
    p: &Principal,
    case: &CaseRecord,
    today: NaiveDate,
) -> Result<Option<Ticket>, AppError> {
    if !rules::intake_is_visit(case.channel) {
        return Ok(None);
    }
    // A 补录 records the trip of the paper intake, on its day; the ticket the clerk may be
    // serving now is someone else's.
    let day = match case.backfill_accepted_at {
        Some(at) => onewindow_store::clock::local_date(at),
        None => {
            if let Some(t) =
                store_visits::link_to_serving(conn, change, p.user.id, &case.case_no).await?
            {
                return Ok(Some(t));
            }
            today
        }
    };
    let visit = NewVisit {
        kind: VisitKind::Intake,
        day,
        ticket_id: None,
        appointment_id: None,
        org_id: p.user.org_id,
        window_number: None,
    };
    store_visits::record(conn, change, case.id, &case.case_no, &visit).await?;
    Ok(None)
}

/// Before a case action, in its transaction (the ticket is locked before the case): an
/// act that means the applicant is at the window links the case to the ticket the clerk is
/// serving; a hand-over at the window without a ticket is a visit of its own. Mail and
/// electronic issuance, and the department's decisions, record nothing.
pub async fn at_case_action(
    conn: &mut AnyConnection,
    change: &Change,
    p: &Principal,
    case: &CaseRecord,
    action: &CaseAction,
    today: NaiveDate,
) -> Result<(), AppError> {
    if !rules::action_in_person(action) {
        return Ok(());
    }
    let linked =
        store_visits::link_to_serving(&mut *conn, change, p.user.id, &case.case_no).await?;
    if linked.is_none() && matches!(action, CaseAction::Issue { .. }) {
        let visit = NewVisit {
            kind: VisitKind::Issuance,
            day: today,
            ticket_id: None,
            appointment_id: None,
            org_id: p.user.org_id,
            window_number: None,
        };
        store_visits::record(conn, change, case.id, &case.case_no, &visit).await?;
    }
    Ok(())
}

/// A visit as the case page shows it: when, how, where.
pub struct VisitLine {
    pub when: String,
    pub how: String,
    pub place: String,
    pub clerk: String,
}

impl VisitLine {
    fn of(v: &Visit) -> VisitLine {
        let how = match &v.ticket_number {
            Some(n) => format!("{}（{n}号）", v.kind_label),
            None => v.kind_label.to_string(),
        };
        let place = match v.window_number {
            Some(w) => format!("{} {w}号窗口", v.org_name),
            None => v.org_name.clone(),
        };
        VisitLine {
            when: format_local(v.at),
            how,
            place,
            clerk: v.clerk_name.clone().unwrap_or_default(),
        }
    }
}

/// A case's visits for its page (the caller has read the case in scope).
pub async fn lines(state: &AppState, case_id: i64) -> Result<Vec<VisitLine>, AppError> {
    Ok(store_visits::of_case(state.store.reader(), case_id)
        .await?
        .iter()
        .map(VisitLine::of)
        .collect())
}

/// A case's visits for the API (the caller has read the case in scope): the list (when,
/// how, where) and how many.
pub async fn json(state: &AppState, case_id: i64) -> Result<Value, AppError> {
    let visits = store_visits::of_case(state.store.reader(), case_id).await?;
    Ok(json!({ "visits": visits, "visit_count": visits.len() }))
}
