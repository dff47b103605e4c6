//! Cases at the one window: intake (前台综合受理) with the receipt or one-time notice,
//! the department queue (后台审批), the issuance window (统一出件), and public tracking.

use crate::context::Principal;
use crate::error::AppError;
use crate::AppState;
use axum::Router;
use chrono::NaiveDate;
use onewindow_domain::access::Permission;
use onewindow_domain::calendar::WorkCalendar;
use onewindow_domain::cases::{self as machine, CaseAction, CaseState, Light, Performer};
use onewindow_domain::catalog::AcceptanceKind;
use onewindow_store::cases::{self as store_cases, CaseEvent, CaseRecord, CaseSummary};
use onewindow_store::clock::local_date;
use onewindow_store::settings;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;

mod deadlines;
pub(crate) mod intake;
mod issuance;
mod lists;
mod review;
pub(crate) mod tracking;

pub use deadlines::run_deadline_job;

/// Failed public lookups (tracking, online rating) of one case number allowed a minute.
pub const LOOKUP_FAILURES_PER_MINUTE: u32 = 10;
pub use intake::{intake, subject, IntakeInput, Subject};
pub use lists::{list_cases, CaseQuery};
pub use review::act;
pub use tracking::{awaited_text, track};

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(intake::routes())
        .merge(review::routes())
        .merge(issuance::routes())
        .merge(lists::routes())
        .merge(tracking::routes())
        .merge(deadlines::routes())
}

/// The role this user acts in for an action, or why they may not.
fn performer_for(p: &Principal, action: &CaseAction) -> Result<Performer, AppError> {
    p.user
        .roles
        .iter()
        .map(|r| Performer::Staff(*r))
        .find(|perf| machine::may_perform(*perf, action.kind()))
        .ok_or(AppError::Forbidden(onewindow_domain::access::Denied::Role))
}

/// Whether the caller may see the case: each of its places sees it — where it was taken
/// in, the department deciding it, and where its result is handed out.
fn visible(p: &Principal, case: &CaseRecord) -> bool {
    let handout = onewindow_domain::places::handout_place_sees(case.accepted_on.is_some())
        .then_some(&case.handout_path);
    [
        Some(&case.intake_path),
        Some(&case.department_path),
        handout,
    ]
    .into_iter()
    .flatten()
    .any(|path| p.authorize(Permission::ViewCases, path).is_ok())
}

/// Reads a case the caller may see: clerks and supervisors by the hall that took it in or
/// hands it out, approvers by the department the case is routed to.
pub async fn get_case(state: &AppState, p: &Principal, id: i64) -> Result<CaseRecord, AppError> {
    p.require(Permission::ViewCases)?;
    let case = store_cases::get(state.store.reader(), id).await?;
    if !visible(p, &case) {
        // Looks exactly like an unknown id: the caller learns nothing about other halls.
        return Err(AppError::NotFound);
    }
    Ok(case)
}

/// Deadline lights for listing, by the thresholds in settings.
pub struct Lights {
    cal: Arc<WorkCalendar>,
    today: NaiveDate,
    yellow: u32,
    red: u32,
}

impl Lights {
    pub async fn load(state: &AppState) -> Result<Lights, AppError> {
        let [yellow, red] = settings::get_ints(
            state.store.reader(),
            ["deadline.yellow_days", "deadline.red_days"],
        )
        .await?;
        Ok(Lights {
            cal: state.calendar().await?,
            today: local_date(state.now()),
            yellow: yellow as u32,
            red: red as u32,
        })
    }

    /// The light and working days left, for a case whose clock is running.
    pub fn of(&self, case: &CaseRecord) -> Option<(Light, i64)> {
        self.of_state(case.state, case.due_date)
    }

    /// The light of a case in `state` due on `due`: only while its clock runs (the same
    /// states the light filter of the lists reads).
    pub fn of_state(&self, state: CaseState, due: Option<NaiveDate>) -> Option<(Light, i64)> {
        let due = due?;
        if !state.clock_running() {
            return None;
        }
        // Overdue is a matter of dates alone, even where the calendar has no data yet.
        if self.today > due {
            return Some((Light::Overdue, 0));
        }
        let light = machine::light(&self.cal, self.today, due, self.yellow, self.red).ok()?;
        let left = self.cal.working_days_between(self.today, due).ok()?;
        Some((light, left))
    }

    /// The due dates that show `light` today, as the domain defines them.
    fn due_range(&self, light: Light) -> Result<(Option<NaiveDate>, Option<NaiveDate>), AppError> {
        machine::light_due_range(&self.cal, self.today, light, self.yellow, self.red)
            .map_err(|e| AppError::invalid("light", e.code(), e.to_string()))
    }
}

/// A case as the detail page shows it.
#[derive(Serialize)]
pub struct CaseRow {
    pub case: CaseRecord,
    pub state_label: &'static str,
    pub light: Option<&'static str>,
    pub light_label: Option<&'static str>,
    pub days_left: Option<i64>,
}

fn rows(cases: Vec<CaseRecord>, lights: &Lights) -> Vec<CaseRow> {
    cases
        .into_iter()
        .map(|c| {
            let l = lights.of(&c);
            CaseRow {
                state_label: c.state.label(),
                light: l.map(|(l, _)| l.as_str()),
                light_label: l.map(|(l, _)| l.label()),
                days_left: l.map(|(_, d)| d),
                case: c,
            }
        })
        .collect()
}

/// A row of a case list (API and pages): the compact case, its state's name and its light.
#[derive(Debug, Serialize)]
pub struct ListRow {
    #[serde(flatten)]
    pub case: CaseSummary,
    pub state_label: &'static str,
    pub light: Option<&'static str>,
    pub light_label: Option<&'static str>,
    pub days_left: Option<i64>,
}

impl ListRow {
    fn new(case: CaseSummary, lights: &Lights) -> ListRow {
        let l = lights.of_state(case.state, case.due_date);
        ListRow {
            state_label: case.state.label(),
            light: l.map(|(l, _)| l.as_str()),
            light_label: l.map(|(l, _)| l.label()),
            days_left: l.map(|(_, d)| d),
            case,
        }
    }
}

fn kind_label(k: Option<AcceptanceKind>) -> &'static str {
    match k {
        Some(AcceptanceKind::Normal) => "一般受理",
        Some(AcceptanceKind::Tolerance) => "容缺受理",
        Some(AcceptanceKind::Commitment) => "告知承诺受理",
        None => "",
    }
}

/// A case as the API shows it; `awaited` for public tracking.
pub fn case_json(case: &CaseRecord, events: Option<&[CaseEvent]>) -> Value {
    let mut v = serde_json::to_value(case).expect("case serialises");
    v["state_label"] = json!(case.state.label());
    v["resident_text"] = json!(case.state.resident_text());
    v["awaited"] = json!(awaited_text(case));
    if let Some(ev) = events {
        v["events"] = json!(ev);
    }
    v["places"] = places_json(case);
    v["channel_label"] = json!(case.channel.label());
    v["backfilled"] = json!(case.backfill_accepted_at.is_some());
    v
}

/// The three places of a case, in words and ids (the API's `places`).
pub fn places_json(case: &CaseRecord) -> Value {
    json!({
        "intake": {
            "org_id": case.intake_org_id,
            "name": case.intake_org_name,
            "kind": case.intake_place_kind,
            "kind_label": case.intake_place_kind.label(),
        },
        "decision": {
            "department_id": case.department_id,
            "name": case.department_name,
        },
        "handout": {
            "method": case.handout_method,
            "method_label": case.handout_method.label(),
            "org_id": case.handout_org_id,
            "name": case.handout_org_name,
            "address": case.handout_address,
            "text": handout_text(case),
        },
    })
}

/// Where and how the result reaches the applicant, in words: “阳光社区 窗口领取”, “邮寄至…”.
pub fn handout_text(case: &CaseRecord) -> String {
    use onewindow_domain::cases::IssueMethod;
    match case.handout_method {
        IssueMethod::Window => format!("到{}窗口领取", case.handout_org_name),
        IssueMethod::Mail => format!(
            "邮寄送达：{}",
            case.handout_address.as_deref().unwrap_or("")
        ),
        IssueMethod::Electronic => "电子证照（无需到现场领取）".to_string(),
    }
}
