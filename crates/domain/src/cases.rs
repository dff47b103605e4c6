//! The one-window case lifecycle (一窗受理、后台审批、统一出件) as one explicit state machine.
//!
//! A case is taken in at the comprehensive window (前台综合受理), routed to the responsible
//! department (后台分类审批), decided there, and comes back to one window for issuance
//! (统一窗口出件). Every change of state goes through [`apply`], which checks, in this order:
//!
//! 1. the performer: may this role (or the system) do this action at all? A wrong role always
//!    gets [`CaseError::RoleNotAllowed`], whatever the state, so a clerk who presses an
//!    approver's button learns that it is not theirs rather than "not now";
//! 2. the state graph: is the action legal in the current state? If not,
//!    [`CaseError::IllegalTransition`] — never a silent change (SPEC C2);
//! 3. the guards: the payload and the case facts (reasons filled in, a tracking number for
//!    mail, the 容缺 deadline passed before a lapse, no 容缺 materials still owed before a
//!    result is issued …). If not, [`CaseError::Invalid`] naming the field.
//!
//! [`apply`] is pure: it reads [`CaseFacts`] (including "today", passed in) and returns a
//! [`Transition`] saying what the storage layer must change — the new state, whether the
//! legal clock pauses or resumes, whether the 容缺 supplement is set or cleared. Storing the
//! change, attributing it to a user and auditing it are the caller's job; deciding whether it
//! is allowed is only ever this module's.
//!
//! The clock: the time limit (自受理之日起N个工作日) runs from acceptance to the decision and
//! stops while the case waits for the applicant in [`CaseState::Returned`] (补正). Pauses are
//! half-open date intervals `[from, until)` as in [`WorkCalendar::due_date_with_pauses`];
//! [`due_date`] turns acceptance date, limit and pauses into the deadline and [`light`] into
//! the red/yellow/green light (红黄绿灯) of electronic supervision.
//!
//! 容缺: a case accepted with non-core materials missing ([`AcceptanceKind::Tolerance`]) owes
//! them from acceptance until the result is handed over. Up to then — in Accepted, Routed,
//! InReview, Returned, Approved and ResultReady — they can arrive
//! ([`CaseAction::SupplementReceived`]), and once their date has passed the system can end
//! the case ([`CaseAction::Lapse`], in the same states except Returned). A result is not
//! issued from ResultReady while they are owed; a written rejection is, since the applicant
//! must learn of the decision either way.
//!
//! [`apply`]: crate::cases::apply
//! [`CaseError::RoleNotAllowed`]: crate::cases::CaseError::RoleNotAllowed
//! [`CaseError::IllegalTransition`]: crate::cases::CaseError::IllegalTransition
//! [`CaseError::Invalid`]: crate::cases::CaseError::Invalid
//! [`CaseFacts`]: crate::cases::CaseFacts
//! [`Transition`]: crate::cases::Transition
//! [`CaseState::Returned`]: crate::cases::CaseState::Returned
//! [`WorkCalendar::due_date_with_pauses`]: crate::calendar::WorkCalendar::due_date_with_pauses
//! [`due_date`]: crate::cases::due_date
//! [`light`]: crate::cases::light
//! [`AcceptanceKind::Tolerance`]: crate::catalog::AcceptanceKind::Tolerance
//! [`CaseAction::SupplementReceived`]: crate::cases::CaseAction::SupplementReceived
//! [`CaseAction::Lapse`]: crate::cases::CaseAction::Lapse

use crate::access::Role;
use crate::calendar::{CalendarError, Deadline, WorkCalendar};
use crate::catalog::{Material, MaterialCheck};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

// --- states ---------------------------------------------------------------------------------

/// Where a case stands. The spelling of [`CaseState::as_str`] is what the database stores
/// and the API returns; [`CaseState::label`] is for staff pages and
/// [`CaseState::resident_text`] for the public tracking page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Being checked at the window, not yet accepted (预审). No clock runs.
    Draft,
    /// Refused with a one-time notice of everything missing (一次性告知). The applicant
    /// comes back with a new application, not this one; only a notice given by mistake is
    /// taken back ([`CaseState::NoticeRetracted`]).
    Refused,
    /// The one-time notice was given by mistake and taken back by the window, with the
    /// reason recorded. Terminal: the application is taken in again as a new case.
    NoticeRetracted,
    /// Accepted at the window; the time limit starts on this day (day 0).
    Accepted,
    /// Routed to the responsible department's queue.
    Routed,
    /// An approver has taken the case and is reviewing it.
    InReview,
    /// Returned to the applicant for correction (补正); the clock is paused.
    Returned,
    /// Approved; the result (licence, certificate, payment decision) is being produced.
    Approved,
    /// Not approved (不予批准); the written decision still has to be delivered.
    Rejected,
    /// The result is ready to be handed over at the window, mailed, or issued electronically
    /// — once any 容缺 materials still owed have been supplied.
    ResultReady,
    /// The result (or the written rejection) has been handed over.
    Issued,
    /// Finished (办结). Terminal.
    Closed,
    /// Withdrawn by the applicant. Terminal.
    Withdrawn,
    /// Accepted with missing non-core materials (容缺) that were not supplied by the agreed
    /// date; the case ends. Terminal. Possible at any point from acceptance until the result
    /// is handed over (Accepted, Routed, InReview, Approved, ResultReady), but not while the
    /// case is Returned: then it waits for the applicant anyway.
    Lapsed,
}

impl CaseState {
    pub const ALL: [CaseState; 14] = [
        CaseState::Draft,
        CaseState::Refused,
        CaseState::NoticeRetracted,
        CaseState::Accepted,
        CaseState::Routed,
        CaseState::InReview,
        CaseState::Returned,
        CaseState::Approved,
        CaseState::Rejected,
        CaseState::ResultReady,
        CaseState::Issued,
        CaseState::Closed,
        CaseState::Withdrawn,
        CaseState::Lapsed,
    ];

    /// The stable spelling stored in the database and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Draft => "draft",
            CaseState::Refused => "refused",
            CaseState::NoticeRetracted => "notice_retracted",
            CaseState::Accepted => "accepted",
            CaseState::Routed => "routed",
            CaseState::InReview => "in_review",
            CaseState::Returned => "returned",
            CaseState::Approved => "approved",
            CaseState::Rejected => "rejected",
            CaseState::ResultReady => "result_ready",
            CaseState::Issued => "issued",
            CaseState::Closed => "closed",
            CaseState::Withdrawn => "withdrawn",
            CaseState::Lapsed => "lapsed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// The short Chinese name staff see in lists and on the case page.
    pub fn label(self) -> &'static str {
        match self {
            CaseState::Draft => "预审中",
            CaseState::Refused => "一次性告知（未受理）",
            CaseState::NoticeRetracted => "告知书已撤回",
            CaseState::Accepted => "已受理",
            CaseState::Routed => "已分办",
            CaseState::InReview => "审查中",
            CaseState::Returned => "退回补正",
            CaseState::Approved => "审批通过",
            CaseState::Rejected => "不予批准",
            CaseState::ResultReady => "待出件",
            CaseState::Issued => "已出件",
            CaseState::Closed => "已办结",
            CaseState::Withdrawn => "已撤回",
            CaseState::Lapsed => "容缺逾期终止",
        }
    }

    /// One plain sentence for the public tracking page: what is happening and what, if
    /// anything, the applicant has to do. Written for a resident of seventy — no internal
    /// words such as 分办 or 领办.
    pub fn resident_text(self) -> &'static str {
        match self {
            CaseState::Draft => "工作人员正在核对您的材料，还没有正式受理。",
            CaseState::Refused => {
                "材料还不齐全，这次没有受理，请按一次性告知书列出的材料准备齐全后再来办理。"
            }
            CaseState::NoticeRetracted => {
                "之前给您的一次性告知书有误，已经撤回，不需要按它补材料。请以窗口重新出具的受理回执为准。"
            }
            CaseState::Accepted => "您的申请已经受理，我们会在承诺的时间内办好。",
            CaseState::Routed => "您的申请已经送到负责审批的部门，正在等待审批。",
            CaseState::InReview => "审批部门正在审查您的申请，请耐心等待，不需要您再跑一趟。",
            CaseState::Returned => {
                "材料需要补正，请按通知补齐后到窗口提交，补正期间办理时限暂停计算。"
            }
            CaseState::Approved => "您的申请已经审批通过，正在制作证件或办理结果。",
            CaseState::Rejected => "您的申请没有获得批准，我们会把写明原因和依据的决定书交给您。",
            CaseState::ResultReady => "办理结果已经准备好，请按您选择的方式领取。",
            CaseState::Issued => "办理结果已经交给您或已经寄出，请注意查收。",
            CaseState::Closed => "这件事已经全部办完。",
            CaseState::Withdrawn => "您已经撤回了这次申请，如果还需要办理，可以重新申请。",
            CaseState::Lapsed => {
                "缺少的材料没有在约定日期前补交，这次申请已经终止，如需办理请带齐材料重新申请。"
            }
        }
    }

    /// The state's name on the public tracking page: plain words, no 分办/领办/出证.
    pub fn resident_label(self) -> &'static str {
        match self {
            CaseState::Draft => "正在核对材料",
            CaseState::Refused => "材料不齐，未受理",
            CaseState::NoticeRetracted => "告知书已撤回",
            CaseState::Accepted => "已受理",
            CaseState::Routed | CaseState::InReview | CaseState::Approved => "正在办理",
            CaseState::Returned => "需要补正材料",
            CaseState::Rejected => "未获批准",
            CaseState::ResultReady => "办理结果已出",
            CaseState::Issued => "已交付",
            CaseState::Closed => "已办结",
            CaseState::Withdrawn => "已撤回",
            CaseState::Lapsed => "已终止",
        }
    }

    /// No action changes a terminal case again. A resident who comes back after a refusal,
    /// a withdrawal or a lapse starts a new case, so the old one keeps an honest history. A
    /// refusal is not terminal only in that its notice, if given by mistake, can still be
    /// retracted; nothing else happens to a refused case.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            CaseState::NoticeRetracted
                | CaseState::Closed
                | CaseState::Withdrawn
                | CaseState::Lapsed
        )
    }

    /// Whether the legal time limit is running in this state.
    ///
    /// The limit (自受理之日起N个工作日) is the time the administration has to *decide*
    /// (行政许可法 §42), so it runs in [`Accepted`](CaseState::Accepted),
    /// [`Routed`](CaseState::Routed) and [`InReview`](CaseState::InReview) and stops at the
    /// decision: it does **not** run in [`Approved`](CaseState::Approved) or
    /// [`Rejected`](CaseState::Rejected) — producing and delivering the result has its own
    /// limit (§44) and is supervised separately. It is paused in
    /// [`Returned`](CaseState::Returned), while the case waits for the applicant (补正), and
    /// has not started in [`Draft`](CaseState::Draft).
    pub fn clock_running(self) -> bool {
        matches!(
            self,
            CaseState::Accepted | CaseState::Routed | CaseState::InReview
        )
    }

    /// Every state whose clock runs ([`clock_running`](Self::clock_running)): what the
    /// deadline job marks overdue and the lights colour.
    pub fn clock_running_states() -> Vec<CaseState> {
        Self::ALL
            .into_iter()
            .filter(|s| s.clock_running())
            .collect()
    }

    /// Every state from which a case can lapse (容缺 materials still owed): the deadline
    /// job's lapse query, read off the state graph.
    pub fn lapsable_states() -> Vec<CaseState> {
        Self::ALL
            .into_iter()
            .filter(|&s| next_state(s, CaseActionKind::Lapse).is_some())
            .collect()
    }

    /// Whether the clock is paused waiting for the applicant: exactly the state in which a
    /// pause interval is open.
    pub fn is_paused(self) -> bool {
        self == CaseState::Returned
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// --- acceptance and issuance ---------------------------------------------------------------

/// How a case was accepted: one type shared with the catalog's intake decision.
pub use crate::catalog::AcceptanceKind;

/// How the result reaches the applicant (统一窗口出件).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueMethod {
    /// Picked up at the window (窗口领取): the default.
    #[default]
    Window,
    /// Sent by post (邮寄); needs the tracking number so the resident can follow it.
    Mail,
    /// Issued as an electronic certificate (电子证照); needs its number.
    Electronic,
}

impl IssueMethod {
    pub const ALL: [IssueMethod; 3] = [
        IssueMethod::Window,
        IssueMethod::Mail,
        IssueMethod::Electronic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IssueMethod::Window => "window",
            IssueMethod::Mail => "mail",
            IssueMethod::Electronic => "electronic",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            IssueMethod::Window => "窗口领取",
            IssueMethod::Mail => "邮寄",
            IssueMethod::Electronic => "电子证照",
        }
    }
}

// --- materials on the case ---------------------------------------------------------------

/// One material as the clerk ticked it at intake, kept on the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterialLine {
    pub name: String,
    pub check: MaterialCheck,
    pub required: bool,
    pub tolerable: bool,
}

impl MaterialLine {
    /// The catalog's material as the clerk ticked it at intake.
    pub fn ticked(m: &Material, check: MaterialCheck) -> Self {
        MaterialLine {
            name: m.name.clone(),
            check,
            required: m.required,
            tolerable: m.tolerable,
        }
    }

    /// Owed under 容缺: a required material the item lets the applicant bring later, and
    /// which was missing at intake. The one definition of "owed"; whether it has arrived
    /// since is the case's `supplement_pending` flag, not the line.
    pub fn is_owed(&self) -> bool {
        self.required && self.tolerable && self.check == MaterialCheck::Missing
    }
}

/// One step of a case's history as the resident reads it on the tracking page, by the
/// recorded event's action name (a [`CaseActionKind`] name, or `create` / `overdue`, the
/// store's own events). Staff notes stay on the staff pages.
pub fn resident_event_text(action: &str) -> &'static str {
    use CaseActionKind as K;
    match (action, CaseActionKind::parse(action)) {
        ("create", _) => "窗口收到您的申请",
        ("overdue", _) => "已超过承诺的办理时间，我们正在督办",
        (_, Some(K::Accept)) => "申请已受理",
        (_, Some(K::Refuse)) => "材料不齐，已一次性告知需补齐的全部材料",
        (_, Some(K::RetractNotice)) => "一次性告知书有误，已撤回",
        (_, Some(K::Route)) => "申请已送到负责审批的部门",
        (_, Some(K::Take)) => "审批部门开始审查",
        (_, Some(K::Approve)) => "审批通过",
        (_, Some(K::ApproveAtWindow)) => "窗口当场审批通过",
        (_, Some(K::CompleteAtWindow)) => "窗口当场办结",
        (_, Some(K::Reject)) => "未获批准，决定书写明了原因和依据",
        (_, Some(K::Return)) => "需要补正材料",
        (_, Some(K::Resubmit)) => "补正的材料已提交，继续审查",
        (_, Some(K::SupplementReceived)) => "后补的材料已收到",
        (_, Some(K::ResultReady)) => "办理结果已制作好",
        (_, Some(K::Issue)) => "办理结果已交付",
        (_, Some(K::Close)) => "已全部办完",
        (_, Some(K::Withdraw)) => "申请已撤回",
        (_, Some(K::Lapse)) => "后补材料逾期未交，申请已终止",
        (_, None) => "办理进度已更新",
    }
}

/// What public tracking needs to tell the applicant what to do now.
pub struct Awaiting<'a> {
    pub state: CaseState,
    pub supplement_pending: bool,
    pub supplement_due: Option<NaiveDate>,
    pub materials: &'a [MaterialLine],
    /// The one-time notice's list (Refused) or the correction list (Returned).
    pub missing: &'a [String],
}

/// What the applicant must do now, in plain words (public tracking and the API's
/// `awaited`). Owed 容缺 materials come first: without them the result is not handed over,
/// so an applicant is never told to collect a result before being told to bring them.
pub fn awaited_text(a: &Awaiting<'_>) -> String {
    let owed: Vec<&str> = a
        .materials
        .iter()
        .filter(|m| m.is_owed())
        .map(|m| m.name.as_str())
        .collect();
    match a.state {
        CaseState::Refused => format!(
            "请按一次性告知书补齐以下材料后重新申请：{}。",
            a.missing.join("、")
        ),
        CaseState::NoticeRetracted => {
            "这份一次性告知书已撤回，不需要按它补材料，请以窗口重新出具的受理回执为准。".into()
        }
        CaseState::Returned => format!(
            "请补正以下内容后到窗口提交：{}。",
            if a.missing.is_empty() {
                "见退回通知".to_string()
            } else {
                a.missing.join("、")
            }
        ),
        _ if a.supplement_pending && !a.state.is_terminal() => format!(
            "请于{}前把{}送到受理窗口{}。",
            a.supplement_due
                .map(|d| format!("{}月{}日", d.month(), d.day()))
                .unwrap_or_default(),
            if owed.is_empty() {
                "容缺材料".to_string()
            } else {
                owed.join("、")
            },
            if a.state == CaseState::ResultReady {
                "；补齐后即可领取办理结果"
            } else {
                ""
            }
        ),
        CaseState::ResultReady => "办理结果已出，请携带身份证件和受理回执到窗口领取。".into(),
        CaseState::Issued | CaseState::Closed => "已办结，办理结果已交付，无需再做什么。".into(),
        CaseState::Withdrawn | CaseState::Lapsed => "本次申请已终止。如需办理，请重新申请。".into(),
        _ => "暂不需要您做什么，请耐心等待。".into(),
    }
}

// --- actions --------------------------------------------------------------------------------

/// Everything that can happen to a case, with the data each action needs. The serde form
/// (`{"action": "return", "reasons": …, "items": […]}`) is the JSON API's request body; the
/// `action` tag equals [`CaseAction::name`], which is also what the audit log records. Text
/// left out reads as blank, so the machine's guard names the missing field in Chinese.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CaseAction {
    /// Accept the application. `supplement_due` is required iff `kind` is
    /// [`AcceptanceKind::Tolerance`]: the date by which the missing materials must arrive.
    Accept {
        kind: AcceptanceKind,
        supplement_due: Option<NaiveDate>,
    },
    /// Refuse with a one-time notice (一次性告知书) listing *everything* missing — never a
    /// partial list, so the list must not be empty.
    Refuse { missing: Vec<String> },
    /// Take back a one-time notice given by mistake (the materials were in fact complete,
    /// or the wrong item was chosen); the reason is required and audited. The application
    /// is then taken in again as a new case.
    RetractNotice {
        #[serde(default)]
        reason: String,
    },
    /// Route to the responsible department (manually, or by the system's routing rule).
    Route,
    /// An approver takes the case from the department queue (领办).
    Take,
    /// Approve. The opinion is recorded as written; it may be empty ("同意" is implied).
    Approve {
        #[serde(default)]
        opinion: String,
    },
    /// Reject: both the reasons and the legal basis are required, because the written
    /// decision must state them (行政许可法 §38).
    Reject {
        #[serde(default)]
        reasons: String,
        #[serde(default)]
        legal_basis: String,
    },
    /// Return for correction (补正); reasons required. The clock pauses.
    Return {
        #[serde(default)]
        reasons: String,
        #[serde(default)]
        items: Vec<String>,
    },
    /// The corrected materials arrived; the case goes back to the approver and the clock
    /// resumes.
    Resubmit,
    /// The 容缺 materials were supplied: not a change of state, clears the pending supplement.
    /// Possible in every state from Accepted up to ResultReady (Returned included): the
    /// materials are owed until the result is handed over.
    SupplementReceived,
    /// 即审即办: a clerk holding the department's grant approves at intake an item the catalog
    /// flags for it: Accepted → ResultReady, recorded as approved at the window.
    ApproveAtWindow {
        #[serde(default)]
        opinion: String,
    },
    /// 即办: the clerk decides at once (only for immediate items): Accepted → ResultReady.
    CompleteAtWindow {
        #[serde(default)]
        opinion: String,
    },
    /// The result (licence, certificate …) has been produced: Approved → ResultReady.
    ResultReady,
    /// Hand the result — or the written rejection — to the applicant. A result
    /// (from [`CaseState::ResultReady`]) is not handed over while 容缺 materials are still
    /// owed; a written rejection is, because the applicant must learn of it either way.
    Issue {
        #[serde(default)]
        method: IssueMethod,
        /// Required iff `method` is [`IssueMethod::Mail`]; refused for other methods.
        tracking_no: Option<String>,
        /// Required iff `method` is [`IssueMethod::Electronic`]; optional otherwise (a paper
        /// licence handed over at the window has a number too). For a rejection issued
        /// electronically it is the number of the electronic decision document.
        certificate_no: Option<String>,
    },
    /// Close a case whose result has been issued.
    Close,
    /// The applicant withdraws (at the window); the reason is required.
    Withdraw {
        #[serde(default)]
        reason: String,
    },
    /// The system ends a 容缺 case whose supplement deadline has passed and whose result has
    /// not been handed over yet (Accepted, Routed, InReview, Approved or ResultReady).
    Lapse,
}

/// An action without its data: what a button, a permission table or a state graph talks
/// about. [`CaseAction::kind`] gives the kind of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseActionKind {
    Accept,
    Refuse,
    RetractNotice,
    Route,
    Take,
    Approve,
    Reject,
    Return,
    Resubmit,
    SupplementReceived,
    ApproveAtWindow,
    CompleteAtWindow,
    ResultReady,
    Issue,
    Close,
    Withdraw,
    Lapse,
}

impl CaseActionKind {
    pub const ALL: [CaseActionKind; 17] = [
        CaseActionKind::Accept,
        CaseActionKind::Refuse,
        CaseActionKind::RetractNotice,
        CaseActionKind::Route,
        CaseActionKind::Take,
        CaseActionKind::Approve,
        CaseActionKind::Reject,
        CaseActionKind::Return,
        CaseActionKind::Resubmit,
        CaseActionKind::SupplementReceived,
        CaseActionKind::ApproveAtWindow,
        CaseActionKind::CompleteAtWindow,
        CaseActionKind::ResultReady,
        CaseActionKind::Issue,
        CaseActionKind::Close,
        CaseActionKind::Withdraw,
        CaseActionKind::Lapse,
    ];

    /// The stable snake_case name: the JSON `action` tag, the form's `action` field and the
    /// audit log's action.
    pub fn name(self) -> &'static str {
        match self {
            CaseActionKind::Accept => "accept",
            CaseActionKind::Refuse => "refuse",
            CaseActionKind::RetractNotice => "retract_notice",
            CaseActionKind::Route => "route",
            CaseActionKind::Take => "take",
            CaseActionKind::Approve => "approve",
            CaseActionKind::Reject => "reject",
            CaseActionKind::Return => "return",
            CaseActionKind::Resubmit => "resubmit",
            CaseActionKind::SupplementReceived => "supplement_received",
            CaseActionKind::ApproveAtWindow => "approve_at_window",
            CaseActionKind::CompleteAtWindow => "complete_at_window",
            CaseActionKind::ResultReady => "result_ready",
            CaseActionKind::Issue => "issue",
            CaseActionKind::Close => "close",
            CaseActionKind::Withdraw => "withdraw",
            CaseActionKind::Lapse => "lapse",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether staff take this action by hand (a button, an API call). Accepting or refusing
    /// is the intake decision itself, routing follows from the catalog's rule at intake,
    /// approval at the window is chosen on the intake form and done in the intake, and
    /// lapsing is the deadline job's: none of them is offered or accepted as a case action.
    pub fn taken_by_hand(self) -> bool {
        !matches!(
            self,
            CaseActionKind::Accept
                | CaseActionKind::Refuse
                | CaseActionKind::Route
                | CaseActionKind::ApproveAtWindow
                | CaseActionKind::Lapse
        )
    }

    /// The Chinese verb shown on buttons, in the case history and in error messages.
    pub fn label(self) -> &'static str {
        match self {
            CaseActionKind::Accept => "受理",
            CaseActionKind::Refuse => "一次性告知",
            CaseActionKind::RetractNotice => "撤回告知书",
            CaseActionKind::Route => "分办",
            CaseActionKind::Take => "领办",
            CaseActionKind::Approve => "审批通过",
            CaseActionKind::Reject => "不予批准",
            CaseActionKind::Return => "退回补正",
            CaseActionKind::Resubmit => "重新提交",
            CaseActionKind::SupplementReceived => "补齐容缺材料",
            CaseActionKind::ApproveAtWindow => "即审即办",
            CaseActionKind::CompleteAtWindow => "即办办结",
            CaseActionKind::ResultReady => "出证",
            CaseActionKind::Issue => "出件",
            CaseActionKind::Close => "办结",
            CaseActionKind::Withdraw => "撤回",
            CaseActionKind::Lapse => "容缺逾期终止",
        }
    }
}

impl CaseAction {
    pub fn kind(&self) -> CaseActionKind {
        match self {
            CaseAction::Accept { .. } => CaseActionKind::Accept,
            CaseAction::Refuse { .. } => CaseActionKind::Refuse,
            CaseAction::RetractNotice { .. } => CaseActionKind::RetractNotice,
            CaseAction::Route => CaseActionKind::Route,
            CaseAction::Take => CaseActionKind::Take,
            CaseAction::Approve { .. } => CaseActionKind::Approve,
            CaseAction::Reject { .. } => CaseActionKind::Reject,
            CaseAction::Return { .. } => CaseActionKind::Return,
            CaseAction::Resubmit => CaseActionKind::Resubmit,
            CaseAction::SupplementReceived => CaseActionKind::SupplementReceived,
            CaseAction::ApproveAtWindow { .. } => CaseActionKind::ApproveAtWindow,
            CaseAction::CompleteAtWindow { .. } => CaseActionKind::CompleteAtWindow,
            CaseAction::ResultReady => CaseActionKind::ResultReady,
            CaseAction::Issue { .. } => CaseActionKind::Issue,
            CaseAction::Close => CaseActionKind::Close,
            CaseAction::Withdraw { .. } => CaseActionKind::Withdraw,
            CaseAction::Lapse => CaseActionKind::Lapse,
        }
    }

    /// The stable snake_case name: the JSON `action` tag and the audit log's action.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The Chinese verb shown on buttons, in the case history and in error messages.
    pub fn label(&self) -> &'static str {
        self.kind().label()
    }
}

// --- performers -----------------------------------------------------------------------------

/// Who performs an action: a staff role, or the system (background jobs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Performer {
    Staff(Role),
    /// A window clerk holding a department's grant to approve at the window (首席代表 /
    /// 派驻审批: "approves at the window for department X"), acting on a case of that
    /// department. Whether the grant is held is the store's to look up; what it allows is here.
    WindowApprover,
    System,
}

impl Performer {
    /// The name used in error messages and the case history.
    pub fn label(self) -> &'static str {
        match self {
            Performer::Staff(role) => role.label(),
            Performer::WindowApprover => "窗口首席代表",
            Performer::System => "系统",
        }
    }
}

const CLERK: &[Performer] = &[Performer::Staff(Role::WindowClerk)];
const CLERK_OR_SYSTEM: &[Performer] = &[Performer::Staff(Role::WindowClerk), Performer::System];
const APPROVER: &[Performer] = &[Performer::Staff(Role::Approver)];
const SYSTEM_ONLY: &[Performer] = &[Performer::System];
const WINDOW_APPROVER: &[Performer] = &[Performer::WindowApprover];

/// Which performers may do which action: the whole role table, as one match.
///
/// The window clerk does everything that happens at the window (front desk in, front desk
/// out); the department's approver does everything that is a decision; the system routes
/// by rule, closes issued cases after the rating period, and lapses overdue 容缺 cases. The
/// guide desk, supervisors and administrators have no action here: pre-checking happens
/// before a case exists, and supervision watches cases without changing them.
pub fn allowed_performers(action: CaseActionKind) -> &'static [Performer] {
    match action {
        CaseActionKind::Accept
        | CaseActionKind::Refuse
        | CaseActionKind::RetractNotice
        | CaseActionKind::Resubmit
        | CaseActionKind::SupplementReceived
        | CaseActionKind::CompleteAtWindow
        | CaseActionKind::Issue
        | CaseActionKind::Withdraw => CLERK,
        CaseActionKind::Route | CaseActionKind::Close => CLERK_OR_SYSTEM,
        CaseActionKind::Take
        | CaseActionKind::Approve
        | CaseActionKind::Reject
        | CaseActionKind::Return
        | CaseActionKind::ResultReady => APPROVER,
        CaseActionKind::Lapse => SYSTEM_ONLY,
        CaseActionKind::ApproveAtWindow => WINDOW_APPROVER,
    }
}

/// Whether `performer` may do `action` in some state: [`allowed_performers`] as a predicate.
pub fn may_perform(performer: Performer, action: CaseActionKind) -> bool {
    allowed_performers(action).contains(&performer)
}

// --- the machine ----------------------------------------------------------------------------

/// What the machine needs to know about a case to decide a transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFacts {
    pub state: CaseState,
    /// The item is an immediate item (即办件).
    pub immediate: bool,
    /// The catalog lists the item for approval at the window (即审即办).
    pub window_approvable: bool,
    /// 容缺 materials are still owed.
    pub supplement_pending: bool,
    /// The date by which they are owed (the last day on which they may still be supplied).
    pub supplement_due: Option<NaiveDate>,
    /// The Beijing date of "now".
    pub today: NaiveDate,
    /// The fee still unpaid where the item says 先缴费后出件 (zero otherwise, and when paid):
    /// `fees::unpaid_before_issue`. Only issuance reads it.
    #[serde(default)]
    pub unpaid_fee: crate::fees::Fen,
}

/// The outcome of a legal action: the new state and what changes on the case.
///
/// `from == to` only for [`CaseAction::SupplementReceived`]. The caller opens a pause
/// interval on `today` when `pause_starts` and closes the open one on `today` when
/// `pause_ends`; both happen only at the edges of [`CaseState::Returned`], so a case has at
/// most one open pause, and has one exactly while it is Returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: CaseState,
    pub to: CaseState,
    /// Entering Returned: open a clock pause from today.
    pub pause_starts: bool,
    /// Leaving Returned: close the open pause at today.
    pub pause_ends: bool,
    /// The 容缺 supplement has been received: clear `supplement_pending`.
    pub clears_supplement: bool,
    /// Accepted under 容缺: set `supplement_pending` and this due date.
    pub sets_supplement_due: Option<NaiveDate>,
}

/// Why an action was refused. `code()` is stable for the API; the Display text is Chinese.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    /// The action has no edge out of the current state. Both fields are Chinese labels.
    #[error("当前状态“{state}”下不能执行“{action}”")]
    IllegalTransition {
        state: &'static str,
        action: &'static str,
    },
    /// The performer may never do this action. Both fields are Chinese labels.
    #[error("{role}无权执行“{action}”")]
    RoleNotAllowed {
        role: &'static str,
        action: &'static str,
    },
    /// A guard failed: a required field is missing or blank, a date is in the past, the case
    /// facts do not allow it yet. `field` names the payload field or [`CaseFacts`] field.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

impl CaseError {
    pub fn code(&self) -> &'static str {
        match self {
            CaseError::IllegalTransition { .. } => "illegal_transition",
            CaseError::RoleNotAllowed { .. } => "role_not_allowed",
            CaseError::Invalid { .. } => "invalid",
        }
    }

    /// The failing field, for [`CaseError::Invalid`].
    pub fn field(&self) -> Option<&'static str> {
        match self {
            CaseError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> CaseError {
    CaseError::Invalid {
        field,
        message: message.into(),
    }
}

/// The state graph: where `action` leads from `state`, before roles and guards. `None` means
/// the action is illegal in that state. This match is the only definition of the graph.
pub fn next_state(state: CaseState, action: CaseActionKind) -> Option<CaseState> {
    use CaseActionKind as K;
    use CaseState as S;
    let to = match (state, action) {
        (S::Draft, K::Accept) => S::Accepted,
        (S::Draft, K::Refuse) => S::Refused,
        (S::Refused, K::RetractNotice) => S::NoticeRetracted,
        (S::Accepted, K::Route) => S::Routed,
        (S::Accepted, K::CompleteAtWindow | K::ApproveAtWindow) => S::ResultReady,
        (S::Routed, K::Take) => S::InReview,
        (S::InReview, K::Approve) => S::Approved,
        (S::InReview, K::Reject) => S::Rejected,
        (S::InReview, K::Return) => S::Returned,
        (S::Returned, K::Resubmit) => S::InReview,
        (S::Approved, K::ResultReady) => S::ResultReady,
        // A rejection is issued too: the written decision (不予许可决定书) must reach the
        // applicant, with the reasons and the right to appeal.
        (S::ResultReady | S::Rejected, K::Issue) => S::Issued,
        (S::Issued, K::Close) => S::Closed,
        (S::Draft | S::Accepted | S::Routed | S::InReview | S::Returned, K::Withdraw) => {
            S::Withdrawn
        }
        // 容缺 materials are owed until the result is handed over: the case can still lapse,
        // and the owed materials can still arrive, up to issuance.
        (S::Accepted | S::Routed | S::InReview | S::Approved | S::ResultReady, K::Lapse) => {
            S::Lapsed
        }
        (
            S::Accepted | S::Routed | S::InReview | S::Returned | S::Approved | S::ResultReady,
            K::SupplementReceived,
        ) => state,
        _ => return None,
    };
    Some(to)
}

/// THE state machine: checks the performer, then the state, then the guards, and returns the
/// transition or why not. Pure: the same facts, performer and action always give the same
/// answer, and nothing is changed — the caller stores the [`Transition`].
pub fn apply(
    facts: &CaseFacts,
    performer: Performer,
    action: &CaseAction,
) -> Result<Transition, CaseError> {
    if !may_perform(performer, action.kind()) {
        return Err(CaseError::RoleNotAllowed {
            role: performer.label(),
            action: action.label(),
        });
    }
    let from = facts.state;
    let to = next_state(from, action.kind()).ok_or(CaseError::IllegalTransition {
        state: from.label(),
        action: action.label(),
    })?;
    let sets_supplement_due = check_guards(facts, action)?;
    Ok(Transition {
        from,
        to,
        pause_starts: to == CaseState::Returned && from != CaseState::Returned,
        pause_ends: from == CaseState::Returned && to != CaseState::Returned,
        clears_supplement: matches!(action, CaseAction::SupplementReceived),
        sets_supplement_due,
    })
}

fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// `Some` non-blank text, with blank strings counted as absent (web forms send "" for an
/// empty input).
fn present(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|s| !is_blank(s))
}

/// Every entry of a list non-blank; `what` names the list in the message.
fn check_items(field: &'static str, what: &str, items: &[String]) -> Result<(), CaseError> {
    match items.iter().position(|item| is_blank(item)) {
        Some(index) => Err(invalid(field, format!("{what}第{}项为空", index + 1))),
        None => Ok(()),
    }
}

/// The guards that depend on the case alone, not on what the action carries: whether an
/// action of this kind is possible for this case at all. [`available`] lists the actions
/// that pass them; [`apply`] checks them before the action's own data.
fn fact_guard(facts: &CaseFacts, kind: CaseActionKind) -> Result<(), CaseError> {
    use CaseActionKind as K;
    match kind {
        K::ApproveAtWindow if !facts.window_approvable => Err(invalid(
            "approve_at_window",
            "该事项未列入即审即办清单，须分办到部门审批",
        )),
        K::CompleteAtWindow if !facts.immediate => Err(invalid(
            "immediate",
            "该事项不是即办件，不能在窗口即办办结，请分办到部门审批",
        )),
        // A result is not handed over while 容缺 materials are still owed (a rejection
        // decision is: the applicant must learn of it either way).
        K::Issue if facts.state == CaseState::ResultReady && facts.supplement_pending => Err(
            invalid("supplement_pending", "容缺材料尚未补齐，须补齐后才能出件"),
        ),
        // 先缴费后出件: the result waits for the fee (a rejection decision does not).
        K::Issue if facts.state == CaseState::ResultReady && facts.unpaid_fee.is_positive() => {
            Err(invalid(
                "unpaid_fee",
                format!(
                    "本事项须先缴费后出件，尚有{}未缴，请先收费",
                    facts.unpaid_fee
                ),
            ))
        }
        K::SupplementReceived => {
            if facts.supplement_pending {
                Ok(())
            } else {
                Err(invalid("supplement_pending", "该办件没有待补交的容缺材料"))
            }
        }
        K::Lapse => {
            if !facts.supplement_pending {
                return Err(invalid(
                    "supplement_pending",
                    "该办件没有待补交的容缺材料，不能按容缺逾期终止",
                ));
            }
            match facts.supplement_due {
                None => Err(invalid(
                    "supplement_due",
                    "该办件没有记录容缺材料的补交期限",
                )),
                // The due date itself is still in time: the applicant may come that day.
                Some(due) if due >= facts.today => Err(invalid(
                    "supplement_due",
                    format!("容缺材料的补交期限{due}尚未届满，不能终止"),
                )),
                Some(_) => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// The actions `performer` can take on the case now: the role table, the state graph and the
/// case's own guards. What an action must carry (a reason, a tracking number) is checked
/// when it is applied; a page lays out one form per kind listed here.
pub fn available(facts: &CaseFacts, performer: Performer) -> Vec<CaseActionKind> {
    CaseActionKind::ALL
        .into_iter()
        .filter(|&k| {
            may_perform(performer, k)
                && next_state(facts.state, k).is_some()
                && fact_guard(facts, k).is_ok()
        })
        .collect()
}

/// The guards of the action, once role and state are known to be right. Returns the 容缺
/// due date to set, if any.
fn check_guards(facts: &CaseFacts, action: &CaseAction) -> Result<Option<NaiveDate>, CaseError> {
    fact_guard(facts, action.kind())?;
    match action {
        CaseAction::Accept {
            kind,
            supplement_due,
        } => match (kind, supplement_due) {
            (AcceptanceKind::Tolerance, None) => Err(invalid(
                "supplement_due",
                "容缺受理须填写补交材料的截止日期",
            )),
            (AcceptanceKind::Tolerance, Some(due)) if *due < facts.today => Err(invalid(
                "supplement_due",
                format!("补交材料的截止日期{due}早于今天（{}）", facts.today),
            )),
            (AcceptanceKind::Tolerance, Some(due)) => Ok(Some(*due)),
            (_, Some(_)) => Err(invalid(
                "supplement_due",
                "只有容缺受理才需要填写补交材料的截止日期",
            )),
            (_, None) => Ok(None),
        },
        CaseAction::Refuse { missing } => {
            if missing.is_empty() {
                return Err(invalid(
                    "missing",
                    "一次性告知书须列明缺少的全部材料，至少一项",
                ));
            }
            check_items("missing", "一次性告知书所列材料", missing)?;
            Ok(None)
        }
        CaseAction::Reject {
            reasons,
            legal_basis,
        } => {
            if is_blank(reasons) {
                return Err(invalid("reasons", "请填写不予批准的理由"));
            }
            if is_blank(legal_basis) {
                return Err(invalid("legal_basis", "请填写不予批准的法律依据"));
            }
            Ok(None)
        }
        CaseAction::Return { reasons, items } => {
            if is_blank(reasons) {
                return Err(invalid("reasons", "请填写退回补正的原因"));
            }
            check_items("items", "需补正的材料", items)?;
            Ok(None)
        }
        CaseAction::Issue {
            method,
            tracking_no,
            certificate_no,
        } => {
            let mail = *method == IssueMethod::Mail;
            if mail && !present(tracking_no) {
                return Err(invalid("tracking_no", "邮寄出件须填写快递单号"));
            }
            if !mail && present(tracking_no) {
                return Err(invalid(
                    "tracking_no",
                    format!("{}不填写快递单号，只有邮寄出件才需要", method.label()),
                ));
            }
            if *method == IssueMethod::Electronic && !present(certificate_no) {
                return Err(invalid("certificate_no", "电子证照出件须填写证照编号"));
            }
            Ok(None)
        }
        CaseAction::Withdraw { reason } => {
            if is_blank(reason) {
                Err(invalid("reason", "请填写撤回原因"))
            } else {
                Ok(None)
            }
        }
        CaseAction::RetractNotice { reason } => {
            if is_blank(reason) {
                Err(invalid("reason", "请填写撤回告知书的原因"))
            } else {
                Ok(None)
            }
        }
        CaseAction::Route
        | CaseAction::Take
        | CaseAction::Approve { .. }
        | CaseAction::Resubmit
        | CaseAction::SupplementReceived
        | CaseAction::CompleteAtWindow { .. }
        | CaseAction::ApproveAtWindow { .. }
        | CaseAction::ResultReady
        | CaseAction::Close
        | CaseAction::Lapse => Ok(None),
    }
}

// --- deadlines and lights -------------------------------------------------------------------

/// The due date: `n` working days after the acceptance date (the acceptance day is day 0,
/// 民法典 §201), extended by every pause. `n == 0` (即办) gives the acceptance date.
///
/// Each pause is the half-open date interval `[from, until)` of
/// [`WorkCalendar::due_date_with_pauses`]. A pause still open (`until == None`, the case is
/// Returned) is counted as if it ended tomorrow — that is, as if the applicant brought the
/// corrections today, today itself being paused. The result is the earliest deadline still
/// possible; it moves one working day later for every working day the pause stays open, so
/// callers recompute it and pages should say "暂停计时" rather than show it as final. An open
/// pause starting after tomorrow (not expected) counts as empty.
pub fn due_date(
    cal: &WorkCalendar,
    accepted_on: NaiveDate,
    n: u32,
    pauses: &[(NaiveDate, Option<NaiveDate>)],
    today: NaiveDate,
) -> Result<NaiveDate, CalendarError> {
    let tomorrow = today.succ_opt().unwrap_or(today);
    let closed: Vec<(NaiveDate, NaiveDate)> = pauses
        .iter()
        .map(|&(from, until)| (from, until.unwrap_or_else(|| tomorrow.max(from))))
        .collect();
    cal.due_date_with_pauses(accepted_on, n, &closed)
}

/// [`due_date`], or pending when a day it has to look at lies in a year whose arrangement is
/// not loaded yet. The rule: a resident is never refused, and a case never stuck, for
/// missing calendar data — the case is accepted with its deadline pending
/// ([`Deadline::Pending`], shown as 待定（日历未发布）, no light, never overdue) and the date is
/// computed when that year is imported. Other calendar errors (a bad pause) stay errors.
pub fn deadline(
    cal: &WorkCalendar,
    accepted_on: NaiveDate,
    n: u32,
    pauses: &[(NaiveDate, Option<NaiveDate>)],
    today: NaiveDate,
) -> Result<Deadline, CalendarError> {
    Deadline::from_result(due_date(cal, accepted_on, n, pauses, today))
}

/// Default threshold for a yellow light: two working days or fewer left.
pub const DEFAULT_YELLOW_DAYS: u32 = 2;
/// Default threshold for a red light: one working day or fewer left (due tomorrow or today).
pub const DEFAULT_RED_DAYS: u32 = 1;

/// The traffic light of electronic supervision (红黄绿灯).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Light {
    Green,
    Yellow,
    Red,
    Overdue,
}

impl Light {
    pub const ALL: [Light; 4] = [Light::Green, Light::Yellow, Light::Red, Light::Overdue];

    pub fn as_str(self) -> &'static str {
        match self {
            Light::Green => "green",
            Light::Yellow => "yellow",
            Light::Red => "red",
            Light::Overdue => "overdue",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Light::Green => "正常",
            Light::Yellow => "临近",
            Light::Red => "紧急",
            Light::Overdue => "超期",
        }
    }
}

/// The light by working days left until `due`, counted with the calendar, today not counted
/// (the working days in `(today, due]`): [`Light::Overdue`] once `today > due` (a weekend
/// after a Friday deadline adds no working day but is already late); otherwise
/// [`Light::Red`] when `left <= red_days`, [`Light::Yellow`] when `left <= yellow_days`,
/// else [`Light::Green`]. On the due day itself `left == 0`. Red is checked first, so a red
/// threshold above the yellow one simply makes yellow unreachable.
///
/// Purely by dates: whether a paused or finished case gets a light at all is the caller's
/// decision. Fails when a day between today and the due date lies in an uncovered year.
pub fn light(
    cal: &WorkCalendar,
    today: NaiveDate,
    due: NaiveDate,
    yellow_days: u32,
    red_days: u32,
) -> Result<Light, CalendarError> {
    if today > due {
        return Ok(Light::Overdue);
    }
    let left = u64::try_from(cal.working_days_between(today, due)?).unwrap_or(0);
    Ok(if left <= u64::from(red_days) {
        Light::Red
    } else if left <= u64::from(yellow_days) {
        Light::Yellow
    } else {
        Light::Green
    })
}

/// The due dates that give each light today, as half-open ranges `[from, until)` (`None`:
/// unbounded) — the inverse of [`light`], for lists that filter by light with a range
/// condition on the stored due date instead of computing the light row by row:
/// `light(cal, today, due, …) == l` exactly when `due` lies in `light_due_range(…, l)`.
///
/// Why it holds: working days left is monotone in `due`, so each light is one interval;
/// its ends are where the count passes a threshold, i.e. the (threshold + 1)-th working
/// day after today. Fails like [`light`] when those days lie in an uncovered year.
pub fn light_due_range(
    cal: &WorkCalendar,
    today: NaiveDate,
    wanted: Light,
    yellow_days: u32,
    red_days: u32,
) -> Result<(Option<NaiveDate>, Option<NaiveDate>), CalendarError> {
    // First due date with more than `n` working days left.
    let beyond = |n: u32| cal.add_working_days(today, n.saturating_add(1));
    Ok(match wanted {
        Light::Overdue => (None, Some(today)),
        Light::Red => (Some(today), Some(beyond(red_days)?)),
        Light::Yellow => {
            let from = beyond(red_days)?;
            // A red threshold at or above the yellow one leaves yellow empty.
            let until = beyond(yellow_days)?.max(from);
            (Some(from), Some(until))
        }
        Light::Green => (Some(beyond(red_days.max(yellow_days))?), None),
    })
}

// --- case numbers and query codes -----------------------------------------------------------

/// The case number: `YC` + the acceptance (or creation) date `yyyymmdd` + a 6-digit daily
/// sequence, e.g. `YC20261123000042`. Sortable by date, readable over the phone, and the date
/// tells a clerk at a glance how old a case is. A sequence above 999 999 (a million cases in
/// one hall in one day) widens the number rather than wrapping, so numbers stay unique.
pub fn case_number(date: NaiveDate, daily_seq: u32) -> String {
    format!("YC{}{daily_seq:06}", date.format("%Y%m%d"))
}

/// Reads a case number written by [`case_number`] back into its date and sequence; `None`
/// for anything else (surrounding spaces and lower case are tolerated).
pub fn parse_case_number(s: &str) -> Option<(NaiveDate, u32)> {
    let s = s.trim().to_ascii_uppercase();
    let rest = s.strip_prefix("YC")?;
    if rest.len() < 14 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let date = NaiveDate::parse_from_str(&rest[..8], "%Y%m%d").ok()?;
    let seq = rest[8..].parse().ok()?;
    Some((date, seq))
}

/// The query-code alphabet: digits and upper-case letters without the look-alikes 0/O, 1/I/L,
/// so a code read aloud or copied from a paper receipt by an elderly resident is typed right.
pub const QUERY_CODE_ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Query codes have six characters: 31⁶ ≈ 8.9 × 10⁸ codes.
pub const QUERY_CODE_LEN: usize = 6;

/// The query code printed on the receipt: with the case number it lets the applicant track
/// the case online without logging in. Derived from `entropy`, which must come from a secure
/// random source — the code is the only secret protecting the tracking page. The value is
/// first passed through a bijective mixer (the splitmix64 finaliser), so even neighbouring
/// inputs give unrelated codes; that hides nothing from someone who knows the input, it only
/// keeps a weak source from producing visibly sequential codes.
pub fn query_code(entropy: u64) -> String {
    let mut z = entropy;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let base = QUERY_CODE_ALPHABET.len() as u64;
    (0..QUERY_CODE_LEN)
        .map(|_| {
            let c = QUERY_CODE_ALPHABET[(z % base) as usize] as char;
            z /= base;
            c
        })
        .collect()
}

/// A query code as typed by a resident, normalised: spaces and dashes dropped, lower case
/// raised. `None` unless exactly six characters of [`QUERY_CODE_ALPHABET`] remain.
pub fn normalize_query_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid = code.chars().count() == QUERY_CODE_LEN
        && code.bytes().all(|b| QUERY_CODE_ALPHABET.contains(&b));
    valid.then_some(code)
}

/// Whether the code a resident typed (any width, spaces, dashes, case) is `stored`: every
/// byte compared whatever the first difference, so the time taken tells nothing about how
/// much of a guess was right. Case tracking, fallback progress and request tracking ask this.
pub fn query_code_matches(typed: &str, stored: &str) -> bool {
    let given = normalize_query_code(&crate::validation::halfwidth(typed)).unwrap_or_default();
    given.len() == stored.len()
        && given
            .bytes()
            .zip(stored.bytes())
            .fold(true, |ok, (a, b)| ok & (a == b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeSet, HashSet, VecDeque};
    use CaseState as S;
    use Performer as P;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn days(n: i64) -> chrono::Duration {
        chrono::Duration::days(n)
    }

    /// A Wednesday in an ordinary week.
    fn today() -> NaiveDate {
        d(2025, 3, 12)
    }

    // --- the expected behaviour, written out once as data -------------------------------

    /// The state graph: (from, action name, to). Written from the issue, independently of
    /// `next_state`, so the cross-product test compares the code with the specification.
    const EDGES: &[(S, &str, S)] = &[
        (S::Draft, "accept", S::Accepted),
        (S::Draft, "refuse", S::Refused),
        (S::Refused, "retract_notice", S::NoticeRetracted),
        (S::Accepted, "route", S::Routed),
        (S::Routed, "take", S::InReview),
        (S::InReview, "approve", S::Approved),
        (S::InReview, "reject", S::Rejected),
        (S::InReview, "return", S::Returned),
        (S::Returned, "resubmit", S::InReview),
        (S::Accepted, "complete_at_window", S::ResultReady),
        (S::Accepted, "approve_at_window", S::ResultReady),
        (S::Approved, "result_ready", S::ResultReady),
        (S::ResultReady, "issue", S::Issued),
        (S::Rejected, "issue", S::Issued),
        (S::Issued, "close", S::Closed),
        (S::Draft, "withdraw", S::Withdrawn),
        (S::Accepted, "withdraw", S::Withdrawn),
        (S::Routed, "withdraw", S::Withdrawn),
        (S::InReview, "withdraw", S::Withdrawn),
        (S::Returned, "withdraw", S::Withdrawn),
        (S::Accepted, "lapse", S::Lapsed),
        (S::Routed, "lapse", S::Lapsed),
        (S::InReview, "lapse", S::Lapsed),
        (S::Approved, "lapse", S::Lapsed),
        (S::ResultReady, "lapse", S::Lapsed),
        (S::Approved, "supplement_received", S::Approved),
        (S::ResultReady, "supplement_received", S::ResultReady),
        (S::Accepted, "supplement_received", S::Accepted),
        (S::Routed, "supplement_received", S::Routed),
        (S::InReview, "supplement_received", S::InReview),
        (S::Returned, "supplement_received", S::Returned),
    ];

    const CLERK_: P = P::Staff(Role::WindowClerk);
    const APPROVER_: P = P::Staff(Role::Approver);
    const SYSTEM_: P = P::System;

    /// The role table: action name → who may perform it. Nobody else may.
    const ROLE_TABLE: &[(&str, &[P])] = &[
        ("accept", &[CLERK_]),
        ("refuse", &[CLERK_]),
        ("retract_notice", &[CLERK_]),
        ("route", &[CLERK_, SYSTEM_]),
        ("take", &[APPROVER_]),
        ("approve", &[APPROVER_]),
        ("reject", &[APPROVER_]),
        ("return", &[APPROVER_]),
        ("resubmit", &[CLERK_]),
        ("supplement_received", &[CLERK_]),
        ("complete_at_window", &[CLERK_]),
        ("approve_at_window", &[P::WindowApprover]),
        ("result_ready", &[APPROVER_]),
        ("issue", &[CLERK_]),
        ("close", &[CLERK_, SYSTEM_]),
        ("withdraw", &[CLERK_]),
        ("lapse", &[SYSTEM_]),
    ];

    fn edge(state: S, name: &str) -> Option<S> {
        EDGES
            .iter()
            .find(|(from, action, _)| *from == state && *action == name)
            .map(|(_, _, to)| *to)
    }

    fn role_ok(performer: P, name: &str) -> bool {
        ROLE_TABLE
            .iter()
            .find(|(action, _)| *action == name)
            .unwrap_or_else(|| panic!("{name} missing from ROLE_TABLE"))
            .1
            .contains(&performer)
    }

    fn all_performers() -> Vec<P> {
        Role::ALL
            .into_iter()
            .map(P::Staff)
            .chain([P::WindowApprover, P::System])
            .collect()
    }

    fn s(text: &str) -> String {
        text.to_string()
    }

    /// At least one action per variant, each with a payload that passes its guards.
    fn valid_actions(today: NaiveDate, supplement_offset: i64) -> Vec<CaseAction> {
        vec![
            CaseAction::Accept {
                kind: AcceptanceKind::Normal,
                supplement_due: None,
            },
            CaseAction::Accept {
                kind: AcceptanceKind::Tolerance,
                supplement_due: Some(today + days(supplement_offset.max(0))),
            },
            CaseAction::Accept {
                kind: AcceptanceKind::Commitment,
                supplement_due: None,
            },
            CaseAction::Refuse {
                missing: vec![s("户口簿原件"), s("近期免冠照片2张")],
            },
            CaseAction::Route,
            CaseAction::Take,
            CaseAction::Approve {
                opinion: s("同意")
            },
            CaseAction::Approve { opinion: s("") },
            CaseAction::Reject {
                reasons: s("申请人不符合低保条件"),
                legal_basis: s("《社会救助暂行办法》第九条"),
            },
            CaseAction::Return {
                reasons: s("收入证明缺少单位盖章"),
                items: vec![s("收入证明")],
            },
            CaseAction::Return {
                reasons: s("表格填写不完整"),
                items: vec![],
            },
            CaseAction::Resubmit,
            CaseAction::SupplementReceived,
            CaseAction::ApproveAtWindow {
                opinion: s("符合条件，窗口即审即办"),
            },
            CaseAction::CompleteAtWindow {
                opinion: s("即办")
            },
            CaseAction::ResultReady,
            CaseAction::Issue {
                method: IssueMethod::Window,
                tracking_no: None,
                certificate_no: None,
            },
            CaseAction::Issue {
                method: IssueMethod::Window,
                tracking_no: Some(s("")),
                certificate_no: Some(s("京民证2025第0001号")),
            },
            CaseAction::Issue {
                method: IssueMethod::Mail,
                tracking_no: Some(s("SF1234567890")),
                certificate_no: None,
            },
            CaseAction::Issue {
                method: IssueMethod::Electronic,
                tracking_no: None,
                certificate_no: Some(s("DZZZ-2025-000123")),
            },
            CaseAction::Close,
            CaseAction::Withdraw {
                reason: s("申请人不再需要办理"),
            },
            CaseAction::RetractNotice {
                reason: s("材料其实齐全，告知有误"),
            },
            CaseAction::Lapse,
        ]
    }

    /// Actions whose payload fails a guard whatever the case facts.
    fn invalid_payload_actions(today: NaiveDate) -> Vec<CaseAction> {
        vec![
            CaseAction::Accept {
                kind: AcceptanceKind::Tolerance,
                supplement_due: None,
            },
            CaseAction::Accept {
                kind: AcceptanceKind::Tolerance,
                supplement_due: Some(today - days(1)),
            },
            CaseAction::Accept {
                kind: AcceptanceKind::Normal,
                supplement_due: Some(today + days(5)),
            },
            CaseAction::Accept {
                kind: AcceptanceKind::Commitment,
                supplement_due: Some(today),
            },
            CaseAction::Refuse { missing: vec![] },
            CaseAction::Refuse {
                missing: vec![s("户口簿"), s("  ")],
            },
            CaseAction::Reject {
                reasons: s(" "),
                legal_basis: s("《行政许可法》第三十八条"),
            },
            CaseAction::Reject {
                reasons: s("不符合条件"),
                legal_basis: s(""),
            },
            CaseAction::Return {
                reasons: s(""),
                items: vec![s("收入证明")],
            },
            CaseAction::Return {
                reasons: s("材料不全"),
                items: vec![s("")],
            },
            CaseAction::Issue {
                method: IssueMethod::Mail,
                tracking_no: None,
                certificate_no: None,
            },
            CaseAction::Issue {
                method: IssueMethod::Mail,
                tracking_no: Some(s("  ")),
                certificate_no: None,
            },
            CaseAction::Issue {
                method: IssueMethod::Electronic,
                tracking_no: None,
                certificate_no: None,
            },
            CaseAction::Issue {
                method: IssueMethod::Window,
                tracking_no: Some(s("SF1234567890")),
                certificate_no: None,
            },
            CaseAction::Withdraw { reason: s("\t") },
            CaseAction::RetractNotice { reason: s(" ") },
        ]
    }

    /// The payload rules of the issue, restated independently of `check_guards`.
    fn payload_ok(action: &CaseAction, today: NaiveDate) -> bool {
        let filled = |t: &str| !t.trim().is_empty();
        let filled_opt = |t: &Option<String>| t.as_deref().is_some_and(filled);
        match action {
            CaseAction::Accept {
                kind: AcceptanceKind::Tolerance,
                supplement_due,
            } => supplement_due.is_some_and(|due| due >= today),
            CaseAction::Accept { supplement_due, .. } => supplement_due.is_none(),
            CaseAction::Refuse { missing } => {
                !missing.is_empty() && missing.iter().all(|m| filled(m))
            }
            CaseAction::Reject {
                reasons,
                legal_basis,
            } => filled(reasons) && filled(legal_basis),
            CaseAction::Return { reasons, items } => {
                filled(reasons) && items.iter().all(|i| filled(i))
            }
            CaseAction::Issue {
                method,
                tracking_no,
                certificate_no,
            } => {
                (*method == IssueMethod::Mail) == filled_opt(tracking_no)
                    && (*method != IssueMethod::Electronic || filled_opt(certificate_no))
            }
            CaseAction::Withdraw { reason } | CaseAction::RetractNotice { reason } => {
                filled(reason)
            }
            _ => true,
        }
    }

    /// The fact guards of the issue, restated.
    fn facts_ok(facts: &CaseFacts, name: &str) -> bool {
        match name {
            "complete_at_window" => facts.immediate,
            "approve_at_window" => facts.window_approvable,
            "supplement_received" => facts.supplement_pending,
            "lapse" => {
                facts.supplement_pending && facts.supplement_due.is_some_and(|d| d < facts.today)
            }
            // 容缺 materials are owed until issuance: a result waits for them, a written
            // rejection does not.
            "issue" => match facts.state {
                S::ResultReady => !facts.supplement_pending,
                S::Rejected => true,
                other => panic!("issue has no edge from {other:?}"),
            },
            _ => true,
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    enum Outcome {
        To(S),
        RoleNotAllowed,
        IllegalTransition,
        Invalid,
    }

    fn expected(facts: &CaseFacts, performer: P, action: &CaseAction) -> Outcome {
        let name = action.name();
        if !role_ok(performer, name) {
            return Outcome::RoleNotAllowed;
        }
        let Some(to) = edge(facts.state, name) else {
            return Outcome::IllegalTransition;
        };
        if !payload_ok(action, facts.today) || !facts_ok(facts, name) {
            return Outcome::Invalid;
        }
        Outcome::To(to)
    }

    /// Runs `apply` and checks everything about the answer beyond its kind: the error
    /// fields, and the flags of a transition.
    fn actual(facts: &CaseFacts, performer: P, action: &CaseAction) -> Outcome {
        match apply(facts, performer, action) {
            Ok(t) => {
                assert_eq!(t.from, facts.state);
                assert_eq!(t.pause_starts, t.to == S::Returned && t.from != S::Returned);
                assert_eq!(t.pause_ends, t.from == S::Returned && t.to != S::Returned);
                assert_eq!(
                    t.clears_supplement,
                    matches!(action, CaseAction::SupplementReceived)
                );
                let expected_due = match action {
                    CaseAction::Accept {
                        kind: AcceptanceKind::Tolerance,
                        supplement_due,
                    } => *supplement_due,
                    _ => None,
                };
                assert_eq!(t.sets_supplement_due, expected_due);
                Outcome::To(t.to)
            }
            Err(e @ CaseError::RoleNotAllowed { role, action: a }) => {
                assert_eq!((role, a), (performer.label(), action.label()));
                assert_eq!(e.code(), "role_not_allowed");
                Outcome::RoleNotAllowed
            }
            Err(e @ CaseError::IllegalTransition { state, action: a }) => {
                assert_eq!((state, a), (facts.state.label(), action.label()));
                assert_eq!(e.code(), "illegal_transition");
                Outcome::IllegalTransition
            }
            Err(e @ CaseError::Invalid { .. }) => {
                assert_eq!(e.code(), "invalid");
                assert!(!e.to_string().trim().is_empty());
                Outcome::Invalid
            }
        }
    }

    fn facts_in(state: S, guards_hold: bool) -> CaseFacts {
        CaseFacts {
            state,
            immediate: guards_hold,
            window_approvable: guards_hold,
            supplement_pending: guards_hold,
            supplement_due: Some(today() - days(1)),
            today: today(),
            unpaid_fee: crate::fees::Fen::ZERO,
        }
    }

    // --- 1. every action × every state × every performer --------------------------------

    #[test]
    fn the_samples_cover_every_action_and_the_tables_every_name() {
        let names: BTreeSet<&str> = valid_actions(today(), 3)
            .iter()
            .map(CaseAction::name)
            .collect();
        let table: BTreeSet<&str> = ROLE_TABLE.iter().map(|(n, _)| *n).collect();
        assert_eq!(names.len(), 17);
        assert_eq!(names, table);
        assert_eq!(ROLE_TABLE.len(), 17, "an action listed twice");
        for (_, name, _) in EDGES {
            assert!(names.contains(name), "{name}");
        }
        for action in valid_actions(today(), 3) {
            assert!(payload_ok(&action, today()), "{action:?}");
        }
        for action in invalid_payload_actions(today()) {
            assert!(!payload_ok(&action, today()), "{action:?}");
        }
    }

    #[test]
    fn every_action_in_every_state_for_every_performer() {
        let mut seen: HashSet<Outcome> = HashSet::new();
        let mut checked = 0;
        let actions: Vec<CaseAction> = valid_actions(today(), 3)
            .into_iter()
            .chain(invalid_payload_actions(today()))
            .collect();
        for guards_hold in [true, false] {
            for state in S::ALL {
                let facts = facts_in(state, guards_hold);
                for performer in all_performers() {
                    for action in &actions {
                        let want = expected(&facts, performer, action);
                        let got = actual(&facts, performer, action);
                        assert_eq!(
                            got, want,
                            "{performer:?} {action:?} in {state:?} (guards hold: {guards_hold})"
                        );
                        seen.insert(got);
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 2 * 14 * all_performers().len() * actions.len());
        assert_eq!(all_performers().len(), Role::ALL.len() + 2);
        // Every outcome kind occurs, and every edge of the graph was taken.
        assert!(seen.contains(&Outcome::RoleNotAllowed));
        assert!(seen.contains(&Outcome::IllegalTransition));
        assert!(seen.contains(&Outcome::Invalid));
        for (from, _, to) in EDGES {
            assert!(seen.contains(&Outcome::To(*to)), "{from:?} → {to:?}");
        }
    }

    #[test]
    fn the_role_table_matches_allowed_performers_and_may_perform() {
        for action in valid_actions(today(), 3) {
            let mut listed: Vec<P> = allowed_performers(action.kind()).to_vec();
            listed.sort_by_key(|p| format!("{p:?}"));
            let mut want: Vec<P> = all_performers()
                .into_iter()
                .filter(|p| role_ok(*p, action.name()))
                .collect();
            want.sort_by_key(|p| format!("{p:?}"));
            assert_eq!(listed, want, "{}", action.name());
            for p in all_performers() {
                assert_eq!(may_perform(p, action.kind()), role_ok(p, action.name()));
            }
        }
        // Roles with no part in the case lifecycle can do nothing at all.
        for role in [
            Role::Admin,
            Role::Supervisor,
            Role::GuideDesk,
            Role::FallbackOfficer,
            Role::GridWorker,
            Role::DeptHandler,
            Role::Dispatcher,
        ] {
            for action in valid_actions(today(), 3) {
                assert!(!may_perform(P::Staff(role), action.kind()), "{role:?}");
            }
        }
    }

    #[test]
    fn next_state_and_actions_list_match_the_graph() {
        for state in S::ALL {
            let mut from_graph: BTreeSet<&str> = BTreeSet::new();
            for action in valid_actions(today(), 3) {
                assert_eq!(
                    next_state(state, action.kind()),
                    edge(state, action.name()),
                    "{state:?} {action:?}"
                );
                if edge(state, action.name()).is_some() {
                    from_graph.insert(action.name());
                }
            }
        }
    }

    #[test]
    fn available_lists_exactly_the_kinds_a_valid_action_passes() {
        for state in S::ALL {
            for immediate in [false, true] {
                for (pending, due) in [
                    (false, None),
                    (true, Some(today() + days(3))),
                    (true, Some(today() - days(1))),
                ] {
                    let facts = CaseFacts {
                        state,
                        immediate,
                        window_approvable: immediate,
                        supplement_pending: pending,
                        supplement_due: due,
                        today: today(),
                        unpaid_fee: crate::fees::Fen::ZERO,
                    };
                    for perf in all_performers() {
                        let listed: BTreeSet<CaseActionKind> =
                            available(&facts, perf).into_iter().collect();
                        // A kind is passable when some well-formed action of it applies.
                        let passable: BTreeSet<CaseActionKind> = valid_actions(today(), 3)
                            .iter()
                            .filter(|a| apply(&facts, perf, a).is_ok())
                            .map(CaseAction::kind)
                            .collect();
                        assert_eq!(listed, passable, "{facts:?} {perf:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_deadline_job_state_sets_come_from_the_graph() {
        assert_eq!(
            CaseState::clock_running_states(),
            vec![S::Accepted, S::Routed, S::InReview]
        );
        // 容缺 materials are owed up to issuance: decided and result-ready cases lapse too.
        assert_eq!(
            CaseState::lapsable_states(),
            vec![
                S::Accepted,
                S::Routed,
                S::InReview,
                S::Approved,
                S::ResultReady
            ]
        );
    }

    #[test]
    fn kinds_round_trip_and_match_their_actions() {
        for k in CaseActionKind::ALL {
            assert_eq!(CaseActionKind::parse(k.name()), Some(k));
        }
        for a in valid_actions(today(), 3) {
            assert_eq!(a.name(), a.kind().name());
            let json = serde_json::to_value(&a).unwrap();
            assert_eq!(json["action"], a.kind().name());
        }
    }

    /// States reachable from Draft along the graph.
    fn reachable_from_draft() -> BTreeSet<&'static str> {
        let mut seen = BTreeSet::from([S::Draft.as_str()]);
        let mut queue = VecDeque::from([S::Draft]);
        while let Some(state) = queue.pop_front() {
            for (from, _, to) in EDGES {
                if *from == state && seen.insert(to.as_str()) {
                    queue.push_back(*to);
                }
            }
        }
        seen
    }

    #[test]
    fn every_state_is_reachable_and_every_open_case_can_finish() {
        assert_eq!(reachable_from_draft().len(), 14);
        for state in S::ALL {
            let outgoing = EDGES
                .iter()
                .filter(|(from, _, to)| *from == state && *to != state);
            if state.is_terminal() {
                assert_eq!(outgoing.count(), 0, "{state:?} is terminal");
                assert!(CaseActionKind::ALL
                    .iter()
                    .all(|&k| next_state(state, k).is_none()));
                continue;
            }
            // No dead ends: some terminal state is reachable from every open state.
            let mut seen = BTreeSet::from([state.as_str()]);
            let mut queue = VecDeque::from([state]);
            let mut finishes = false;
            while let Some(current) = queue.pop_front() {
                finishes |= current.is_terminal();
                for (from, _, to) in EDGES {
                    if *from == current && seen.insert(to.as_str()) {
                        queue.push_back(*to);
                    }
                }
            }
            assert!(finishes, "{state:?} cannot reach a terminal state");
        }
    }

    // --- 2. guards ----------------------------------------------------------------------

    fn clerk(facts: &CaseFacts, action: CaseAction) -> Result<Transition, CaseError> {
        apply(facts, CLERK_, &action)
    }

    fn approver(facts: &CaseFacts, action: CaseAction) -> Result<Transition, CaseError> {
        apply(facts, APPROVER_, &action)
    }

    fn field_of(result: Result<Transition, CaseError>) -> &'static str {
        let err = result.expect_err("expected a refusal");
        err.field()
            .unwrap_or_else(|| panic!("not Invalid: {err:?}"))
    }

    fn plain(state: S) -> CaseFacts {
        CaseFacts {
            state,
            immediate: false,
            window_approvable: false,
            supplement_pending: false,
            supplement_due: None,
            today: today(),
            unpaid_fee: crate::fees::Fen::ZERO,
        }
    }

    #[test]
    fn tolerance_acceptance_needs_a_supplement_date_not_in_the_past() {
        let facts = plain(S::Draft);
        let accept = |kind, supplement_due| CaseAction::Accept {
            kind,
            supplement_due,
        };
        let err = clerk(&facts, accept(AcceptanceKind::Tolerance, None)).unwrap_err();
        assert_eq!(err.field(), Some("supplement_due"));
        assert_eq!(err.to_string(), "容缺受理须填写补交材料的截止日期");
        let err = clerk(
            &facts,
            accept(AcceptanceKind::Tolerance, Some(d(2025, 3, 11))),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "补交材料的截止日期2025-03-11早于今天（2025-03-12）"
        );
        // Today itself is allowed: the applicant may bring it this afternoon.
        let t = clerk(&facts, accept(AcceptanceKind::Tolerance, Some(today()))).unwrap();
        assert_eq!((t.to, t.sets_supplement_due), (S::Accepted, Some(today())));
        let later = d(2025, 3, 19);
        let t = clerk(&facts, accept(AcceptanceKind::Tolerance, Some(later))).unwrap();
        assert_eq!(t.sets_supplement_due, Some(later));
        assert!(!t.clears_supplement && !t.pause_starts && !t.pause_ends);
        // The other kinds must not carry a date.
        for kind in [AcceptanceKind::Normal, AcceptanceKind::Commitment] {
            assert_eq!(
                field_of(clerk(&facts, accept(kind, Some(later)))),
                "supplement_due"
            );
            let t = clerk(&facts, accept(kind, None)).unwrap();
            assert_eq!((t.to, t.sets_supplement_due), (S::Accepted, None));
        }
    }

    #[test]
    fn refusal_lists_everything_missing() {
        let facts = plain(S::Draft);
        let err = clerk(&facts, CaseAction::Refuse { missing: vec![] }).unwrap_err();
        assert_eq!(err.field(), Some("missing"));
        assert_eq!(err.code(), "invalid");
        let err = clerk(
            &facts,
            CaseAction::Refuse {
                missing: vec![s("户口簿"), s(" ")],
            },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "一次性告知书所列材料第2项为空");
        let t = clerk(
            &facts,
            CaseAction::Refuse {
                missing: vec![s("户口簿")],
            },
        )
        .unwrap();
        assert_eq!(t.to, S::Refused);
        // Only a retraction of a notice given by mistake leaves a refusal.
        let refused = plain(S::Refused);
        let nexts: Vec<CaseActionKind> = CaseActionKind::ALL
            .into_iter()
            .filter(|&k| next_state(S::Refused, k).is_some())
            .collect();
        assert_eq!(nexts, [CaseActionKind::RetractNotice]);
        let err = clerk(&refused, CaseAction::RetractNotice { reason: s("") }).unwrap_err();
        assert_eq!(err.to_string(), "请填写撤回告知书的原因");
        let t = clerk(
            &refused,
            CaseAction::RetractNotice {
                reason: s("选错了事项"),
            },
        )
        .unwrap();
        assert_eq!(t.to, S::NoticeRetracted);
        assert!(t.to.is_terminal());
    }

    #[test]
    fn rejection_needs_reasons_and_legal_basis() {
        let facts = plain(S::InReview);
        let reject = |reasons: &str, legal_basis: &str| CaseAction::Reject {
            reasons: s(reasons),
            legal_basis: s(legal_basis),
        };
        assert_eq!(field_of(approver(&facts, reject("", "第九条"))), "reasons");
        assert_eq!(
            field_of(approver(&facts, reject(" \n", "第九条"))),
            "reasons"
        );
        assert_eq!(
            field_of(approver(&facts, reject("不符合条件", "  "))),
            "legal_basis"
        );
        let err = approver(&facts, reject("", "")).unwrap_err();
        assert_eq!(err.to_string(), "请填写不予批准的理由");
        assert_eq!(
            approver(&facts, reject("不符合条件", "第九条")).unwrap().to,
            S::Rejected
        );
    }

    #[test]
    fn return_needs_reasons_and_pauses_the_clock() {
        let facts = plain(S::InReview);
        let err = approver(
            &facts,
            CaseAction::Return {
                reasons: s(""),
                items: vec![s("收入证明")],
            },
        )
        .unwrap_err();
        assert_eq!(err.field(), Some("reasons"));
        assert_eq!(err.to_string(), "请填写退回补正的原因");
        assert_eq!(
            field_of(approver(
                &facts,
                CaseAction::Return {
                    reasons: s("缺盖章"),
                    items: vec![s("收入证明"), s("")],
                },
            )),
            "items"
        );
        let t = approver(
            &facts,
            CaseAction::Return {
                reasons: s("缺盖章"),
                items: vec![s("收入证明")],
            },
        )
        .unwrap();
        assert_eq!(t.to, S::Returned);
        assert!(t.pause_starts && !t.pause_ends);
        assert!(!S::Returned.clock_running() && S::Returned.is_paused());

        let t = clerk(&plain(S::Returned), CaseAction::Resubmit).unwrap();
        assert_eq!(t.to, S::InReview);
        assert!(t.pause_ends && !t.pause_starts);
        // Withdrawing while returned closes the pause too.
        let t = clerk(
            &plain(S::Returned),
            CaseAction::Withdraw {
                reason: s("不办了"),
            },
        )
        .unwrap();
        assert_eq!(t.to, S::Withdrawn);
        assert!(t.pause_ends);
    }

    #[test]
    fn issuing_needs_the_tracking_or_certificate_number() {
        let facts = plain(S::ResultReady);
        let issue = |method, tracking: Option<&str>, certificate: Option<&str>| CaseAction::Issue {
            method,
            tracking_no: tracking.map(s),
            certificate_no: certificate.map(s),
        };
        let err = clerk(&facts, issue(IssueMethod::Mail, None, None)).unwrap_err();
        assert_eq!(err.field(), Some("tracking_no"));
        assert_eq!(err.to_string(), "邮寄出件须填写快递单号");
        assert_eq!(
            field_of(clerk(&facts, issue(IssueMethod::Mail, Some(""), None))),
            "tracking_no"
        );
        let err = clerk(&facts, issue(IssueMethod::Electronic, None, None)).unwrap_err();
        assert_eq!(err.field(), Some("certificate_no"));
        assert_eq!(err.to_string(), "电子证照出件须填写证照编号");
        assert_eq!(
            field_of(clerk(
                &facts,
                issue(IssueMethod::Electronic, Some("SF1"), Some("DZ1"))
            )),
            "tracking_no"
        );
        assert_eq!(
            field_of(clerk(&facts, issue(IssueMethod::Window, Some("SF1"), None))),
            "tracking_no"
        );
        for action in [
            issue(IssueMethod::Window, None, None),
            issue(IssueMethod::Window, None, Some("京民证0001")),
            issue(IssueMethod::Mail, Some("SF1234567890"), None),
            issue(IssueMethod::Electronic, None, Some("DZZZ-1")),
        ] {
            assert_eq!(clerk(&facts, action.clone()).unwrap().to, S::Issued);
            // The written rejection is delivered the same way.
            assert_eq!(clerk(&plain(S::Rejected), action).unwrap().to, S::Issued);
        }
    }

    #[test]
    fn a_result_waits_for_an_unpaid_fee_but_a_rejection_does_not() {
        let window = CaseAction::Issue {
            method: IssueMethod::Window,
            tracking_no: None,
            certificate_no: None,
        };
        let unpaid = |state| CaseFacts {
            unpaid_fee: crate::fees::Fen(8000),
            ..plain(state)
        };
        let err = clerk(&unpaid(S::ResultReady), window.clone()).unwrap_err();
        assert_eq!(err.field(), Some("unpaid_fee"));
        assert!(err.to_string().contains("80.00 元"), "{err}");
        assert_eq!(
            clerk(&unpaid(S::Rejected), window.clone()).unwrap().to,
            S::Issued
        );
        assert_eq!(clerk(&plain(S::ResultReady), window).unwrap().to, S::Issued);
    }

    #[test]
    fn complete_at_window_only_for_immediate_items() {
        let action = CaseAction::CompleteAtWindow {
            opinion: s("符合条件，当场办结"),
        };
        let err = clerk(&plain(S::Accepted), action.clone()).unwrap_err();
        assert_eq!(err.field(), Some("immediate"));
        assert_eq!(
            err.to_string(),
            "该事项不是即办件，不能在窗口即办办结，请分办到部门审批"
        );
        let immediate = CaseFacts {
            immediate: true,
            ..plain(S::Accepted)
        };
        assert_eq!(
            clerk(&immediate, action.clone()).unwrap().to,
            S::ResultReady
        );
        // Only straight after acceptance: once routed it belongs to the department.
        let routed = CaseFacts {
            state: S::Routed,
            ..immediate
        };
        assert_eq!(
            clerk(&routed, action).unwrap_err().code(),
            "illegal_transition"
        );
    }

    #[test]
    fn lapse_only_after_the_supplement_deadline() {
        let owing = |due: Option<NaiveDate>| CaseFacts {
            supplement_pending: true,
            supplement_due: due,
            ..plain(S::Routed)
        };
        let lapse = |facts: &CaseFacts| apply(facts, SYSTEM_, &CaseAction::Lapse);
        // Nothing owed.
        let nothing = CaseFacts {
            supplement_due: Some(d(2025, 3, 1)),
            ..plain(S::Routed)
        };
        assert_eq!(field_of(lapse(&nothing)), "supplement_pending");
        // Owed, but no date recorded.
        assert_eq!(field_of(lapse(&owing(None))), "supplement_due");
        // The due day itself is still in time; so is any later day.
        let err = lapse(&owing(Some(today()))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "容缺材料的补交期限2025-03-12尚未届满，不能终止"
        );
        assert_eq!(
            field_of(lapse(&owing(Some(d(2025, 3, 20))))),
            "supplement_due"
        );
        let t = lapse(&owing(Some(d(2025, 3, 11)))).unwrap();
        assert_eq!(t.to, S::Lapsed);
        assert!(!t.clears_supplement);
        // A clerk cannot end a case this way, whatever its state.
        assert_eq!(
            apply(&owing(Some(d(2025, 3, 11))), CLERK_, &CaseAction::Lapse)
                .unwrap_err()
                .to_string(),
            "综合受理窗口人员无权执行“容缺逾期终止”"
        );
    }

    #[test]
    fn supplement_received_clears_without_changing_state() {
        for state in [
            S::Accepted,
            S::Routed,
            S::InReview,
            S::Returned,
            S::Approved,
            S::ResultReady,
        ] {
            let owing = CaseFacts {
                supplement_pending: true,
                supplement_due: Some(d(2025, 3, 20)),
                ..plain(state)
            };
            let t = clerk(&owing, CaseAction::SupplementReceived).unwrap();
            assert_eq!((t.from, t.to), (state, state));
            assert!(t.clears_supplement && !t.pause_starts && !t.pause_ends);
            assert_eq!(
                field_of(clerk(&plain(state), CaseAction::SupplementReceived)),
                "supplement_pending"
            );
        }
    }

    /// What the storage layer does with a transition, as far as the facts go.
    fn commit(facts: &mut CaseFacts, t: &Transition) {
        assert_eq!(t.from, facts.state);
        facts.state = t.to;
        if t.clears_supplement {
            facts.supplement_pending = false;
        }
        if let Some(due) = t.sets_supplement_due {
            facts.supplement_pending = true;
            facts.supplement_due = Some(due);
        }
    }

    #[test]
    fn supplement_is_owed_after_the_decision_until_issuance() {
        let owing = |state, due| CaseFacts {
            supplement_pending: true,
            supplement_due: Some(due),
            ..plain(state)
        };
        let overdue = d(2025, 3, 11);
        for state in [S::Approved, S::ResultReady] {
            assert!(CaseState::lapsable_states().contains(&state), "{state:?}");
            assert!(
                next_state(state, CaseActionKind::SupplementReceived).is_some(),
                "{state:?}"
            );
            // Lapse: by the system, once the due date has passed, with the same guards as
            // before the decision.
            let t = apply(&owing(state, overdue), SYSTEM_, &CaseAction::Lapse).unwrap();
            assert_eq!((t.from, t.to), (state, S::Lapsed));
            assert!(!t.clears_supplement && !t.pause_starts && !t.pause_ends);
            assert_eq!(t.sets_supplement_due, None);
            let err = apply(&owing(state, today()), SYSTEM_, &CaseAction::Lapse).unwrap_err();
            assert_eq!(
                (err.field(), err.to_string()),
                (
                    Some("supplement_due"),
                    s("容缺材料的补交期限2025-03-12尚未届满，不能终止")
                )
            );
            let nothing = CaseFacts {
                supplement_due: Some(overdue),
                ..plain(state)
            };
            assert_eq!(
                field_of(apply(&nothing, SYSTEM_, &CaseAction::Lapse)),
                "supplement_pending"
            );
            let no_date = CaseFacts {
                supplement_due: None,
                ..owing(state, overdue)
            };
            assert_eq!(
                field_of(apply(&no_date, SYSTEM_, &CaseAction::Lapse)),
                "supplement_due"
            );
            assert_eq!(
                apply(&owing(state, overdue), CLERK_, &CaseAction::Lapse)
                    .unwrap_err()
                    .code(),
                "role_not_allowed"
            );
            // SupplementReceived: a self-transition that clears the supplement, even when
            // the due date has passed (the case has not been ended yet).
            for due in [overdue, today(), d(2025, 3, 20)] {
                let t = clerk(&owing(state, due), CaseAction::SupplementReceived).unwrap();
                assert_eq!((t.from, t.to), (state, state));
                assert!(t.clears_supplement && !t.pause_starts && !t.pause_ends);
            }
            assert_eq!(
                field_of(clerk(&plain(state), CaseAction::SupplementReceived)),
                "supplement_pending"
            );
            assert_eq!(
                approver(&owing(state, overdue), CaseAction::SupplementReceived)
                    .unwrap_err()
                    .code(),
                "role_not_allowed"
            );
        }
        // After a rejection, and once the result is handed over, neither exists any more.
        for state in [S::Rejected, S::Issued, S::Closed] {
            let facts = owing(state, overdue);
            assert_eq!(
                apply(&facts, SYSTEM_, &CaseAction::Lapse)
                    .unwrap_err()
                    .code(),
                "illegal_transition",
                "{state:?}"
            );
            assert_eq!(
                clerk(&facts, CaseAction::SupplementReceived)
                    .unwrap_err()
                    .code(),
                "illegal_transition",
                "{state:?}"
            );
        }
        // Still not while Returned: the case waits for the applicant anyway.
        assert_eq!(
            apply(&owing(S::Returned, overdue), SYSTEM_, &CaseAction::Lapse)
                .unwrap_err()
                .code(),
            "illegal_transition"
        );
    }

    #[test]
    fn no_result_is_issued_while_supplement_is_owed_but_a_rejection_is() {
        let issues = [
            CaseAction::Issue {
                method: IssueMethod::Window,
                tracking_no: None,
                certificate_no: None,
            },
            CaseAction::Issue {
                method: IssueMethod::Mail,
                tracking_no: Some(s("SF1234567890")),
                certificate_no: None,
            },
            CaseAction::Issue {
                method: IssueMethod::Electronic,
                tracking_no: None,
                certificate_no: Some(s("DZZZ-1")),
            },
        ];
        let bad_mail = CaseAction::Issue {
            method: IssueMethod::Mail,
            tracking_no: None,
            certificate_no: None,
        };

        // A 容缺 case walked from acceptance to a ready result, the materials still owed.
        let mut facts = plain(S::Draft);
        let walk: Vec<(P, CaseAction)> = vec![
            (
                CLERK_,
                CaseAction::Accept {
                    kind: AcceptanceKind::Tolerance,
                    supplement_due: Some(d(2025, 3, 20)),
                },
            ),
            (SYSTEM_, CaseAction::Route),
            (APPROVER_, CaseAction::Take),
            (
                APPROVER_,
                CaseAction::Approve {
                    opinion: s("同意")
                },
            ),
            (APPROVER_, CaseAction::ResultReady),
        ];
        for (performer, action) in walk {
            let t = apply(&facts, performer, &action).unwrap();
            commit(&mut facts, &t);
        }
        assert_eq!(facts.state, S::ResultReady);
        assert!(facts.supplement_pending);

        // Blocked while owed, whatever the method — before the due date, on it, after it.
        for today in [d(2025, 3, 13), d(2025, 3, 20), d(2025, 3, 21)] {
            let facts = CaseFacts {
                today,
                ..facts.clone()
            };
            for action in &issues {
                let err = clerk(&facts, action.clone()).unwrap_err();
                assert_eq!(err.code(), "invalid");
                assert_eq!(err.field(), Some("supplement_pending"), "{action:?}");
                assert_eq!(err.to_string(), "容缺材料尚未补齐，须补齐后才能出件");
            }
            // The owed materials are named before the payload is checked.
            assert_eq!(
                field_of(clerk(&facts, bad_mail.clone())),
                "supplement_pending"
            );
        }

        // Once the clerk records the materials, the result goes out.
        let t = clerk(&facts, CaseAction::SupplementReceived).unwrap();
        assert_eq!((t.from, t.to), (S::ResultReady, S::ResultReady));
        commit(&mut facts, &t);
        assert!(!facts.supplement_pending);
        assert_eq!(field_of(clerk(&facts, bad_mail.clone())), "tracking_no");
        for action in &issues {
            let t = clerk(&facts, action.clone()).unwrap();
            assert_eq!((t.from, t.to), (S::ResultReady, S::Issued));
            assert!(!t.clears_supplement);
        }

        // A written rejection is handed over while the materials are still owed, even
        // after their due date; its payload guards still apply.
        for due in [d(2025, 3, 20), d(2025, 3, 1)] {
            let rejected = CaseFacts {
                supplement_pending: true,
                supplement_due: Some(due),
                ..plain(S::Rejected)
            };
            for action in &issues {
                let t = clerk(&rejected, action.clone()).unwrap();
                assert_eq!((t.from, t.to), (S::Rejected, S::Issued));
                assert!(!t.clears_supplement);
            }
            assert_eq!(field_of(clerk(&rejected, bad_mail.clone())), "tracking_no");
        }
    }

    #[test]
    fn withdrawal_needs_a_reason() {
        let err = clerk(&plain(S::Accepted), CaseAction::Withdraw { reason: s("") }).unwrap_err();
        assert_eq!(
            (err.field(), err.to_string()),
            (Some("reason"), s("请填写撤回原因"))
        );
    }

    #[test]
    fn role_is_checked_before_state_and_state_before_guards() {
        // A guide-desk user pressing "reject" with no reasons on a closed case: the role.
        let bad_reject = CaseAction::Reject {
            reasons: s(""),
            legal_basis: s(""),
        };
        let err = apply(&plain(S::Closed), P::Staff(Role::GuideDesk), &bad_reject).unwrap_err();
        assert_eq!(err.code(), "role_not_allowed");
        assert_eq!(err.to_string(), "导办人员无权执行“不予批准”");
        // The right role on a closed case: the state.
        let err = approver(&plain(S::Closed), bad_reject.clone()).unwrap_err();
        assert_eq!(err.code(), "illegal_transition");
        assert_eq!(err.to_string(), "当前状态“已办结”下不能执行“不予批准”");
        assert_eq!(err.field(), None);
        // The right role in the right state: the guard.
        assert_eq!(
            approver(&plain(S::InReview), bad_reject)
                .unwrap_err()
                .code(),
            "invalid"
        );
        let err = apply(&plain(S::Draft), SYSTEM_, &CaseAction::Take).unwrap_err();
        assert_eq!(err.to_string(), "系统无权执行“领办”");
    }

    // --- labels, spellings, serde -------------------------------------------------------

    #[test]
    fn state_spellings_labels_and_texts() {
        let labels: Vec<&str> = S::ALL.iter().map(|st| st.label()).collect();
        assert_eq!(
            labels,
            [
                "预审中",
                "一次性告知（未受理）",
                "告知书已撤回",
                "已受理",
                "已分办",
                "审查中",
                "退回补正",
                "审批通过",
                "不予批准",
                "待出件",
                "已出件",
                "已办结",
                "已撤回",
                "容缺逾期终止"
            ]
        );
        let mut spellings = BTreeSet::new();
        for state in S::ALL {
            assert_eq!(S::parse(state.as_str()), Some(state));
            assert_eq!(state.to_string(), state.as_str());
            assert!(spellings.insert(state.as_str()));
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(state.as_str())
            );
            let text = state.resident_text();
            assert!(text.ends_with('。'), "{text}");
            for jargon in ["分办", "领办", "容缺受理", "state"] {
                assert!(!text.contains(jargon), "{state:?}: {text}");
            }
        }
        assert_eq!(S::parse("InReview"), None);
        assert_eq!(
            S::Returned.resident_text(),
            "材料需要补正，请按通知补齐后到窗口提交，补正期间办理时限暂停计算。"
        );
        let terminal: Vec<S> = S::ALL.into_iter().filter(|st| st.is_terminal()).collect();
        assert_eq!(
            terminal,
            [S::NoticeRetracted, S::Closed, S::Withdrawn, S::Lapsed]
        );
        let running: Vec<S> = S::ALL.into_iter().filter(|st| st.clock_running()).collect();
        assert_eq!(running, [S::Accepted, S::Routed, S::InReview]);
    }

    #[test]
    fn action_names_are_the_json_tags_and_labels_are_the_verbs() {
        let actions = valid_actions(today(), 3);
        let mut labels = BTreeSet::new();
        for action in &actions {
            let json = serde_json::to_value(action).unwrap();
            assert_eq!(json["action"], action.name(), "{json}");
            let back: CaseAction = serde_json::from_value(json).unwrap();
            assert_eq!(&back, action);
            labels.insert(action.label());
        }
        assert_eq!(labels.len(), 17);
        let verbs = [
            "受理",
            "一次性告知",
            "撤回告知书",
            "分办",
            "领办",
            "审批通过",
            "不予批准",
            "退回补正",
            "重新提交",
            "补齐容缺材料",
            "即审即办",
            "即办办结",
            "出证",
            "出件",
            "办结",
            "撤回",
            "容缺逾期终止",
        ];
        assert_eq!(labels, verbs.into_iter().collect());

        let parsed: CaseAction = serde_json::from_str(
            r#"{"action":"accept","kind":"tolerance","supplement_due":"2025-03-20"}"#,
        )
        .unwrap();
        assert_eq!(
            parsed,
            CaseAction::Accept {
                kind: AcceptanceKind::Tolerance,
                supplement_due: Some(d(2025, 3, 20))
            }
        );
        let route: CaseAction = serde_json::from_str(r#"{"action":"route"}"#).unwrap();
        assert_eq!(route, CaseAction::Route);
        let issue = serde_json::to_string(&CaseAction::Issue {
            method: IssueMethod::Mail,
            tracking_no: Some(s("SF1")),
            certificate_no: None,
        })
        .unwrap();
        assert_eq!(
            issue,
            r#"{"action":"issue","method":"mail","tracking_no":"SF1","certificate_no":null}"#
        );
        assert!(serde_json::from_str::<CaseAction>(r#"{"action":"approve_all"}"#).is_err());
    }

    #[test]
    fn small_enums_round_trip() {
        // Only the variants and the serde spelling: the API the catalog's enum shares.
        for (kind, spelling) in [
            (AcceptanceKind::Normal, "normal"),
            (AcceptanceKind::Tolerance, "tolerance"),
            (AcceptanceKind::Commitment, "commitment"),
        ] {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(spelling)
            );
            assert_eq!(
                serde_json::from_value::<AcceptanceKind>(serde_json::json!(spelling)).unwrap(),
                kind
            );
        }
        for method in IssueMethod::ALL {
            assert_eq!(IssueMethod::parse(method.as_str()), Some(method));
            assert_eq!(
                serde_json::to_value(method).unwrap(),
                serde_json::json!(method.as_str())
            );
        }
        let light_labels: Vec<&str> = Light::ALL.iter().map(|l| l.label()).collect();
        assert_eq!(light_labels, ["正常", "临近", "紧急", "超期"]);
        for l in Light::ALL {
            assert_eq!(Light::parse(l.as_str()), Some(l));
            assert_eq!(
                serde_json::to_value(l).unwrap(),
                serde_json::json!(l.as_str())
            );
        }
        let facts = facts_in(S::InReview, true);
        let json = serde_json::to_value(&facts).unwrap();
        assert_eq!(json["state"], "in_review");
        assert_eq!(json["supplement_due"], "2025-03-11");
        assert_eq!(serde_json::from_value::<CaseFacts>(json).unwrap(), facts);
    }

    // --- 4. due dates -------------------------------------------------------------------

    #[test]
    fn due_date_counts_working_days_across_the_national_day_holiday() {
        let cal = WorkCalendar::shipped();
        let accepted = d(2025, 9, 26); // Friday before 国庆节
                                       // Sun 09-28 (make-up) 1, 09-29 2, 09-30 3, holiday 10-01..10-08, 10-09 4, 10-10 5.
        assert_eq!(
            due_date(&cal, accepted, 5, &[], d(2025, 9, 26)).unwrap(),
            d(2025, 10, 10)
        );
        // Returned 09-29, resubmitted 10-01: two working days paused → two working days
        // later: Sat 10-11 (make-up), Mon 10-13.
        let pause = [(d(2025, 9, 29), Some(d(2025, 10, 1)))];
        let due = due_date(&cal, accepted, 5, &pause, d(2025, 10, 2)).unwrap();
        assert_eq!(due, d(2025, 10, 13));
        assert_eq!(due, cal.add_working_days(d(2025, 10, 10), 2).unwrap());
        // A pause lying only over the holiday moves nothing.
        let holiday_pause = [(d(2025, 10, 1), Some(d(2025, 10, 8)))];
        assert_eq!(
            due_date(&cal, accepted, 5, &holiday_pause, d(2025, 10, 9)).unwrap(),
            d(2025, 10, 10)
        );
    }

    #[test]
    fn an_open_pause_counts_as_ending_tomorrow() {
        let cal = WorkCalendar::shipped();
        let accepted = d(2025, 9, 26);
        let open = [(d(2025, 10, 9), None)];
        // Returned on 10-09 and still waiting that day: 10-09 paused, 10-10 is day 4,
        // Sat 10-11 (make-up) day 5.
        let on_the_day = due_date(&cal, accepted, 5, &open, d(2025, 10, 9)).unwrap();
        assert_eq!(on_the_day, d(2025, 10, 11));
        assert_eq!(
            on_the_day,
            due_date(
                &cal,
                accepted,
                5,
                &[(d(2025, 10, 9), Some(d(2025, 10, 10)))],
                d(2025, 10, 9)
            )
            .unwrap()
        );
        // Still waiting the next day: the deadline moves with it.
        assert_eq!(
            due_date(&cal, accepted, 5, &open, d(2025, 10, 10)).unwrap(),
            d(2025, 10, 13)
        );
        // An open pause dated after tomorrow (not expected) is empty, not an error.
        let future = [(d(2025, 10, 20), None)];
        assert_eq!(
            due_date(&cal, accepted, 5, &future, d(2025, 10, 9)).unwrap(),
            d(2025, 10, 10)
        );
        // Several pauses, one closed and one open.
        let both = [
            (d(2025, 9, 29), Some(d(2025, 10, 1))),
            (d(2025, 10, 13), None),
        ];
        assert_eq!(
            due_date(&cal, accepted, 5, &both, d(2025, 10, 13)).unwrap(),
            d(2025, 10, 14)
        );
    }

    #[test]
    fn due_date_edge_cases() {
        let cal = WorkCalendar::shipped();
        // 即办: the acceptance date, even where no calendar data exists.
        assert_eq!(
            due_date(&cal, d(2030, 5, 6), 0, &[], d(2030, 5, 6)).unwrap(),
            d(2030, 5, 6)
        );
        assert_eq!(
            due_date(&cal, d(2026, 12, 25), 5, &[], d(2026, 12, 25)),
            Err(CalendarError::YearNotCovered(2027))
        );
        let backwards = [(d(2025, 3, 7), Some(d(2025, 3, 5)))];
        assert_eq!(
            due_date(&cal, d(2025, 3, 3), 5, &backwards, d(2025, 3, 10))
                .unwrap_err()
                .code(),
            "bad_pause"
        );
    }

    // --- 5. lights ----------------------------------------------------------------------

    fn light_default(today: NaiveDate, due: NaiveDate) -> Light {
        light(
            &WorkCalendar::shipped(),
            today,
            due,
            DEFAULT_YELLOW_DAYS,
            DEFAULT_RED_DAYS,
        )
        .unwrap()
    }

    #[test]
    fn lights_around_the_thresholds() {
        let due = d(2025, 3, 14); // Friday
        assert_eq!(light_default(d(2025, 3, 10), due), Light::Green); // 4 left
        assert_eq!(light_default(d(2025, 3, 11), due), Light::Green); // 3 left
        assert_eq!(light_default(d(2025, 3, 12), due), Light::Yellow); // 2 left
        assert_eq!(light_default(d(2025, 3, 13), due), Light::Red); // 1 left
        assert_eq!(light_default(d(2025, 3, 14), due), Light::Red); // due today
        assert_eq!(light_default(d(2025, 3, 15), due), Light::Overdue); // Saturday after
        assert_eq!(light_default(d(2025, 4, 30), due), Light::Overdue);
        // Over a weekend: Friday with a Monday deadline has one working day left.
        let monday = d(2025, 3, 17);
        assert_eq!(light_default(d(2025, 3, 13), monday), Light::Yellow);
        assert_eq!(light_default(d(2025, 3, 14), monday), Light::Red);
        assert_eq!(light_default(d(2025, 3, 16), monday), Light::Red);
        // Over a holiday: a week of calendar days but one working day.
        let after_holiday = d(2025, 10, 9);
        assert_eq!(light_default(d(2025, 9, 26), after_holiday), Light::Green); // 4 left
        assert_eq!(light_default(d(2025, 9, 29), after_holiday), Light::Yellow); // 2 left
        assert_eq!(light_default(d(2025, 9, 30), after_holiday), Light::Red); // 1 left
    }

    #[test]
    fn light_thresholds_are_settings() {
        let cal = WorkCalendar::shipped();
        let due = d(2025, 3, 14);
        let at = |today, yellow, red| light(&cal, today, due, yellow, red).unwrap();
        assert_eq!(at(d(2025, 3, 7), 5, 2), Light::Yellow); // 5 left
        assert_eq!(at(d(2025, 3, 6), 5, 2), Light::Green); // 6 left
        assert_eq!(at(d(2025, 3, 12), 5, 2), Light::Red); // 2 left
        assert_eq!(at(d(2025, 3, 14), 0, 0), Light::Red);
        assert_eq!(at(d(2025, 3, 13), 0, 0), Light::Green);
        // A red threshold above the yellow one: red wins, yellow is never shown.
        assert_eq!(at(d(2025, 3, 12), 1, 3), Light::Red);
        assert_eq!(at(d(2025, 3, 10), 1, 3), Light::Green);
    }

    #[test]
    fn light_needs_calendar_data_only_before_the_deadline() {
        let cal = WorkCalendar::shipped();
        assert_eq!(
            light(&cal, d(2026, 12, 30), d(2027, 1, 5), 2, 1),
            Err(CalendarError::YearNotCovered(2027))
        );
        assert_eq!(
            light(&cal, d(2027, 1, 6), d(2027, 1, 5), 2, 1),
            Ok(Light::Overdue)
        );
    }

    #[test]
    fn a_deadline_in_a_year_not_loaded_is_pending_not_an_error() {
        let cal = WorkCalendar::shipped();
        // 25 working days from 2026-12-01 (特困人员救助供养, say) end in 2027.
        assert_eq!(
            deadline(&cal, d(2026, 12, 1), 25, &[], d(2026, 12, 1)),
            Ok(Deadline::Pending { year: 2027 })
        );
        // An open pause counted to tomorrow pushes a December deadline into 2027 too.
        assert_eq!(
            deadline(
                &cal,
                d(2026, 12, 1),
                18,
                &[(d(2026, 12, 3), None)],
                d(2026, 12, 20)
            ),
            Ok(Deadline::Pending { year: 2027 })
        );
        let loaded = cal
            .clone()
            .with_year(
                2027,
                [crate::calendar::SpecialDay::new(
                    d(2027, 1, 1),
                    crate::calendar::DayKind::Holiday,
                    "元旦",
                )],
            )
            .unwrap();
        let due = deadline(&loaded, d(2026, 12, 1), 25, &[], d(2026, 12, 1)).unwrap();
        assert_eq!(
            due.due(),
            Some(due_date(&loaded, d(2026, 12, 1), 25, &[], d(2026, 12, 1)).unwrap())
        );
        // Within loaded years it is exactly due_date; 即办 needs no calendar at all.
        assert_eq!(
            deadline(&cal, d(2026, 11, 23), 25, &[], d(2026, 11, 23)),
            Ok(Deadline::Due(d(2026, 12, 28)))
        );
        assert_eq!(
            deadline(&WorkCalendar::new(), d(2030, 1, 7), 0, &[], d(2030, 1, 7)),
            Ok(Deadline::Due(d(2030, 1, 7)))
        );
    }

    #[test]
    fn light_ranges_invert_the_light() {
        let cal = WorkCalendar::shipped();
        for (yellow, red) in [(2, 1), (5, 2), (0, 0), (1, 3), (3, 3)] {
            for start in 0..60 {
                let today = d(2025, 9, 1) + days(start);
                for ahead in -5..30 {
                    let due = today + days(ahead);
                    let l = light(&cal, today, due, yellow, red).unwrap();
                    for wanted in Light::ALL {
                        let (from, until) =
                            light_due_range(&cal, today, wanted, yellow, red).unwrap();
                        let inside = from.is_none_or(|f| due >= f) && until.is_none_or(|u| due < u);
                        assert_eq!(
                            inside,
                            l == wanted,
                            "today {today} due {due} ({yellow},{red}) {wanted:?}"
                        );
                    }
                }
            }
        }
    }

    // --- 6. case numbers and query codes ------------------------------------------------

    #[test]
    fn case_numbers() {
        let date = d(2026, 11, 23);
        assert_eq!(case_number(date, 42), "YC20261123000042");
        assert_eq!(case_number(date, 0), "YC20261123000000");
        assert_eq!(case_number(date, 999_999), "YC20261123999999");
        assert_eq!(case_number(date, 1_000_000), "YC202611231000000");
        assert_eq!(case_number(date, 42).len(), 16);
        assert_eq!(parse_case_number("YC20261123000042"), Some((date, 42)));
        assert_eq!(parse_case_number(" yc20261123000042 "), Some((date, 42)));
        assert_eq!(
            parse_case_number("YC202611231000000"),
            Some((date, 1_000_000))
        );
        for bad in [
            "",
            "YC",
            "YC2026112300004",
            "YC20261323000042",
            "YC20260230000042",
            "XC20261123000042",
            "YC2026112300004A",
            "YC-20261123000042",
        ] {
            assert_eq!(parse_case_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn query_codes() {
        assert_eq!(QUERY_CODE_ALPHABET.len(), 31);
        let distinct: BTreeSet<u8> = QUERY_CODE_ALPHABET.iter().copied().collect();
        assert_eq!(distinct.len(), 31);
        for ambiguous in b"0O1IL" {
            assert!(!QUERY_CODE_ALPHABET.contains(ambiguous));
        }
        assert_eq!(query_code(7), query_code(7));
        assert_ne!(query_code(0), query_code(1));
        // Neighbouring inputs do not give visibly sequential codes, and collisions are rare.
        let codes: BTreeSet<String> = (0..10_000u64).map(query_code).collect();
        assert!(codes.len() >= 9_990, "{}", codes.len());
        let code = query_code(0xdead_beef);
        assert_eq!(normalize_query_code(&code), Some(code.clone()));
        let typed = format!(" {}-{} ", &code[..3], &code[3..]).to_lowercase();
        assert_eq!(normalize_query_code(&typed), Some(code));
        for bad in [
            "", "ABCDE", "ABCDEFG", "ABCDE0", "abcdel", "ABCDEÉ", "ABC DE",
        ] {
            assert_eq!(normalize_query_code(bad), None, "{bad}");
        }
        assert_eq!(normalize_query_code("abc def"), Some(s("ABCDEF")));
        // As typed on a phone: full-width, lower case, a dash; a near miss is no match.
        assert!(query_code_matches("ａｂｃ-def", "ABCDEF"));
        assert!(!query_code_matches("ABCDEG", "ABCDEF"));
        assert!(!query_code_matches("", "ABCDEF"));
    }

    // --- 3. random walks through the machine --------------------------------------------

    /// A case as the storage layer would keep it, driven only by `Transition`s.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Model {
        facts: CaseFacts,
        accepted_on: Option<NaiveDate>,
        pauses: Vec<(NaiveDate, Option<NaiveDate>)>,
        /// A decision was made: Approved, Rejected, or completed at the window.
        decided: bool,
        path: Vec<S>,
    }

    impl Model {
        fn new(immediate: bool) -> Model {
            Model {
                facts: CaseFacts {
                    state: S::Draft,
                    immediate,
                    window_approvable: !immediate,
                    supplement_pending: false,
                    supplement_due: None,
                    today: d(2025, 3, 3),
                    unpaid_fee: crate::fees::Fen::ZERO,
                },
                accepted_on: None,
                pauses: Vec::new(),
                decided: false,
                path: vec![S::Draft],
            }
        }

        fn open_pauses(&self) -> usize {
            self.pauses
                .iter()
                .filter(|(_, until)| until.is_none())
                .count()
        }
    }

    #[derive(Debug, Clone)]
    struct Step {
        advance: i64,
        supplement_offset: i64,
        legal_bias: bool,
        pick: usize,
        right_role: bool,
        performer: usize,
    }

    fn step_strategy() -> impl Strategy<Value = Step> {
        (
            0i64..3,
            -2i64..6,
            prop::bool::weighted(0.75),
            any::<usize>(),
            prop::bool::weighted(0.85),
            0usize..9,
        )
            .prop_map(
                |(advance, supplement_offset, legal_bias, pick, right_role, performer)| Step {
                    advance,
                    supplement_offset,
                    legal_bias,
                    pick,
                    right_role,
                    performer,
                },
            )
    }

    /// Applies one step to the model, checking every invariant; returns the outcome.
    fn run_step(model: &mut Model, step: &Step, reachable: &BTreeSet<&str>) -> Outcome {
        model.facts.today += days(step.advance);
        let today = model.facts.today;
        let mut menu = valid_actions(today, step.supplement_offset);
        // A tolerance acceptance with a date possibly in the past.
        menu.push(CaseAction::Accept {
            kind: AcceptanceKind::Tolerance,
            supplement_due: Some(today + days(step.supplement_offset)),
        });
        menu.extend(invalid_payload_actions(today));
        if step.legal_bias {
            let legal: Vec<CaseAction> = menu
                .iter()
                .filter(|a| edge(model.facts.state, a.name()).is_some())
                .cloned()
                .collect();
            if !legal.is_empty() {
                menu = legal;
            }
        }
        let action = menu[step.pick % menu.len()].clone();
        let performer = if step.right_role {
            let allowed = allowed_performers(action.kind());
            allowed[step.performer % allowed.len()]
        } else {
            all_performers()[step.performer]
        };

        let before = model.clone();
        let want = expected(&model.facts, performer, &action);
        let result = apply(&model.facts, performer, &action);
        let got = actual(&model.facts, performer, &action);
        assert_eq!(got, want, "{performer:?} {action:?} on {:?}", model.facts);
        let t = match result {
            Err(_) => {
                assert_eq!(*model, before, "an error changed the case");
                return got;
            }
            Ok(t) => t,
        };

        // Terminal states never change again.
        assert!(!t.from.is_terminal(), "{:?} left a terminal state", t);
        // Pauses open only on entering Returned and close only on leaving it.
        if t.pause_starts {
            assert_eq!(t.to, S::Returned);
            assert_eq!(model.open_pauses(), 0);
            model.pauses.push((today, None));
        }
        if t.pause_ends {
            assert_eq!(t.from, S::Returned);
            let open = model.pauses.last_mut().expect("a pause to close");
            assert_eq!(open.1, None);
            open.1 = Some(today);
        }
        // The supplement is cleared only by SupplementReceived, set only by a 容缺 acceptance.
        if t.clears_supplement {
            assert_eq!(action, CaseAction::SupplementReceived);
            assert!(model.facts.supplement_pending);
            model.facts.supplement_pending = false;
        }
        if let Some(due) = t.sets_supplement_due {
            assert!(matches!(
                action,
                CaseAction::Accept {
                    kind: AcceptanceKind::Tolerance,
                    ..
                }
            ));
            assert!(due >= today);
            model.facts.supplement_pending = true;
            model.facts.supplement_due = Some(due);
        }
        if t.to == S::Lapsed {
            assert!(model.facts.supplement_pending);
            assert!(model.facts.supplement_due.is_some_and(|due| due < today));
            // 容缺 materials are owed, and can lapse, only until the result is handed over.
            assert!(!model.path.contains(&S::Issued), "{:?}", model.path);
        }
        if t.to == S::Accepted && t.from == S::Draft {
            model.accepted_on = Some(today);
        }
        // Only SupplementReceived leaves the state as it is.
        if t.from == t.to {
            assert_eq!(action, CaseAction::SupplementReceived, "{t:?}");
        }
        // ResultReady is entered only from Approved or by an immediate item at the window.
        if t.to == S::ResultReady && t.from != S::ResultReady {
            assert!(
                t.from == S::Approved
                    || (t.from == S::Accepted
                        && (model.facts.immediate || model.facts.window_approvable)),
                "{t:?}"
            );
        }
        if matches!(t.to, S::Approved | S::Rejected)
            || matches!(
                action,
                CaseAction::CompleteAtWindow { .. } | CaseAction::ApproveAtWindow { .. }
            )
        {
            model.decided = true;
        }
        // Issued only after a decision, from ResultReady or Rejected.
        if t.to == S::Issued {
            assert!(matches!(t.from, S::ResultReady | S::Rejected));
            assert!(model.decided);
            assert!(model.path.contains(&S::ResultReady) || model.path.contains(&S::Rejected));
            // A result is handed over only once no 容缺 materials are owed; a written
            // rejection may be handed over while they are.
            if t.from == S::ResultReady {
                assert!(!model.facts.supplement_pending, "{:?}", model.facts);
            }
        }
        model.facts.state = t.to;
        model.path.push(t.to);

        // Invariants of the new state.
        let state = model.facts.state;
        assert!(reachable.contains(state.as_str()));
        assert!(model.open_pauses() <= 1);
        assert_eq!(model.open_pauses() == 1, state == S::Returned);
        assert_eq!(state.is_paused(), state == S::Returned);
        if state.clock_running() {
            assert!(model.accepted_on.is_some() && !model.decided);
        }
        got
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_walks_keep_the_invariants(
            immediate in any::<bool>(),
            steps in prop::collection::vec(step_strategy(), 0..=40),
        ) {
            let reachable = reachable_from_draft();
            let mut model = Model::new(immediate);
            for step in &steps {
                run_step(&mut model, step, &reachable);
            }
            // The clock of any accepted case can be computed from its pauses, and pauses
            // only ever push the deadline later.
            if let Some(accepted) = model.accepted_on {
                let cal = WorkCalendar::shipped();
                let plain = cal.add_working_days(accepted, 10).unwrap();
                let due = due_date(&cal, accepted, 10, &model.pauses, model.facts.today).unwrap();
                prop_assert!(due >= plain);
                if model.pauses.is_empty() {
                    prop_assert_eq!(due, plain);
                }
            }
        }

        #[test]
        fn any_entropy_gives_a_valid_query_code(entropy in any::<u64>()) {
            let code = query_code(entropy);
            prop_assert_eq!(code.len(), QUERY_CODE_LEN);
            prop_assert!(code.bytes().all(|b| QUERY_CODE_ALPHABET.contains(&b)));
            prop_assert_eq!(normalize_query_code(&code.to_lowercase()), Some(code));
        }

        #[test]
        fn case_numbers_round_trip(offset in 0i64..40_000, seq in 0u32..2_000_000) {
            let date = d(2000, 1, 1) + days(offset);
            prop_assert_eq!(parse_case_number(&case_number(date, seq)), Some((date, seq)));
        }

        #[test]
        fn overdue_exactly_after_the_due_date(offset in 0i64..700, ahead in -30i64..30) {
            let cal = WorkCalendar::shipped();
            let due = d(2025, 1, 1) + days(offset);
            let today = due - days(ahead);
            let l = light(&cal, today, due, DEFAULT_YELLOW_DAYS, DEFAULT_RED_DAYS).unwrap();
            prop_assert_eq!(l == Light::Overdue, today > due);
        }
    }

    #[test]
    fn the_happy_paths_walk_through() {
        // A promised item: accept, route, take, return, resubmit, approve, produce, mail, close.
        let mut facts = plain(S::Draft);
        let steps: Vec<(P, CaseAction, S)> = vec![
            (
                CLERK_,
                CaseAction::Accept {
                    kind: AcceptanceKind::Normal,
                    supplement_due: None,
                },
                S::Accepted,
            ),
            (SYSTEM_, CaseAction::Route, S::Routed),
            (APPROVER_, CaseAction::Take, S::InReview),
            (
                APPROVER_,
                CaseAction::Return {
                    reasons: s("缺盖章"),
                    items: vec![s("收入证明")],
                },
                S::Returned,
            ),
            (CLERK_, CaseAction::Resubmit, S::InReview),
            (
                APPROVER_,
                CaseAction::Approve {
                    opinion: s("同意")
                },
                S::Approved,
            ),
            (APPROVER_, CaseAction::ResultReady, S::ResultReady),
            (
                CLERK_,
                CaseAction::Issue {
                    method: IssueMethod::Mail,
                    tracking_no: Some(s("SF1234567890")),
                    certificate_no: None,
                },
                S::Issued,
            ),
            (SYSTEM_, CaseAction::Close, S::Closed),
        ];
        for (performer, action, to) in steps {
            let t = apply(&facts, performer, &action).unwrap();
            assert_eq!(t.to, to, "{action:?}");
            facts.state = t.to;
        }
        assert!(facts.state.is_terminal());
    }
}

#[cfg(test)]
mod awaited_tests {
    use super::*;

    #[test]
    fn residents_read_plain_words_for_every_step() {
        let staff_words = ["分办", "领办", "出证", "不予受理"];
        for k in CaseActionKind::ALL {
            let text = resident_event_text(k.name());
            assert!(
                !staff_words.iter().any(|w| text.contains(w)),
                "{k:?}: {text}"
            );
            assert_ne!(text, "办理进度已更新", "{k:?} has its own words");
        }
        for state in CaseState::ALL {
            let label = state.resident_label();
            assert!(!staff_words.iter().any(|w| label.contains(w)), "{state}");
            assert!(
                !state.resident_text().contains("评价"),
                "no rating is invited before ratings exist: {state}"
            );
        }
        assert_eq!(resident_event_text("create"), "窗口收到您的申请");
        // A one-time notice is not a refusal of the application.
        assert!(!CaseState::Refused.label().contains("不予受理"));
    }

    fn line(name: &str, check: MaterialCheck, required: bool, tolerable: bool) -> MaterialLine {
        MaterialLine {
            name: name.into(),
            check,
            required,
            tolerable,
        }
    }

    #[test]
    fn owed_means_required_tolerable_and_missing() {
        assert!(line("户口簿", MaterialCheck::Missing, true, true).is_owed());
        assert!(!line("户口簿", MaterialCheck::Submitted, true, true).is_owed());
        assert!(!line("户口簿", MaterialCheck::Missing, false, true).is_owed());
        assert!(!line("户口簿", MaterialCheck::Missing, true, false).is_owed());
    }

    fn awaiting(state: CaseState, pending: bool, materials: &[MaterialLine]) -> String {
        awaited_text(&Awaiting {
            state,
            supplement_pending: pending,
            supplement_due: NaiveDate::from_ymd_opt(2026, 12, 9),
            materials,
            missing: &[],
        })
    }

    #[test]
    fn owed_materials_come_before_the_result() {
        let m = [
            line("户口簿", MaterialCheck::Missing, true, true),
            line("身份证", MaterialCheck::Submitted, true, false),
        ];
        let text = awaiting(CaseState::ResultReady, true, &m);
        assert!(
            text.starts_with("请于12月9日前把户口簿送到受理窗口"),
            "{text}"
        );
        assert!(text.contains("补齐后即可领取"), "{text}");
        // Once they arrived the result is ready to collect.
        let text = awaiting(CaseState::ResultReady, false, &m);
        assert!(text.starts_with("办理结果已出"), "{text}");
    }

    #[test]
    fn every_state_has_an_instruction() {
        for state in CaseState::ALL {
            assert!(!awaiting(state, false, &[]).is_empty(), "{state}");
        }
        let refused = awaited_text(&Awaiting {
            state: CaseState::Refused,
            supplement_pending: false,
            supplement_due: None,
            materials: &[],
            missing: &["结婚证".into(), "户口簿".into()],
        });
        assert!(refused.contains("结婚证、户口簿"), "{refused}");
    }
}
