//! Cases (办件): intake, every transition through the domain state machine, the event
//! history, queues for departments and the issuance window, and public tracking.
//!
//! Every change loads the case row (locked on PostgreSQL), asks
//! `onewindow_domain::cases::apply` whether the action is legal, writes the new state with
//! an optimistic version check, records a case event and an audit event — all in the
//! caller's transaction. Two clerks acting at once: one wins, the other gets
//! `version_conflict` and nothing changes.

use crate::audit::{self, Change};
use crate::page::{CursorKey, KeyPart, ListId, Page, PageRequest};
use crate::{path_upper_bound, Result, StoreError};
use chrono::NaiveDate;
use onewindow_domain::calendar::{Deadline, WorkCalendar};
use onewindow_domain::cases::{
    self as machine, CaseAction, CaseFacts, CaseState, IssueMethod, Performer,
};
use onewindow_domain::catalog::{AcceptanceKind, MaterialCheck};
use onewindow_domain::org::OrgPath;
use onewindow_domain::places::{Backfill, Channel as IntakeChannel, Handout, PlaceKind};
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};

/// One material line as ticked at intake (a domain value: the owed-容缺 rule is there).
pub use onewindow_domain::cases::MaterialLine;

#[derive(Debug, Clone, Serialize)]
pub struct CaseRecord {
    pub id: i64,
    pub case_no: String,
    pub query_code: String,
    pub item_code: String,
    pub item_version_id: i64,
    pub bundle_code: Option<String>,
    pub title: String,
    pub department_id: i64,
    pub department_name: String,
    pub department_path: OrgPath,
    pub intake_org_id: i64,
    pub intake_org_name: String,
    pub intake_path: OrgPath,
    /// What kind of place took it in (a hall, a 社区服务站, a 代办点).
    pub intake_place_kind: PlaceKind,
    /// How the application came in (window, station, home visit …).
    pub channel: IntakeChannel,
    /// How the result reaches the applicant, as chosen at intake.
    pub handout_method: IssueMethod,
    /// The place that hands the result out (and issues it): the chosen hall or station,
    /// or the intake place for mail and electronic certificates.
    pub handout_org_id: i64,
    pub handout_org_name: String,
    pub handout_path: OrgPath,
    pub handout_address: Option<String>,
    /// 补录: the original acceptance time of a paper intake entered later.
    pub backfill_accepted_at: Option<i64>,
    pub backfill_reason: Option<String>,
    pub state: CaseState,
    pub acceptance_kind: Option<AcceptanceKind>,
    pub immediate: bool,
    /// The catalog listed the item for approval at the window (即审即办) at intake.
    pub window_approvable: bool,
    /// Approved at the window by a clerk holding the department's grant.
    pub approved_at_window: bool,
    pub applicant_kind: String,
    pub applicant_name: String,
    #[serde(skip)]
    pub applicant_id: String,
    pub applicant_id_masked: String,
    #[serde(skip)]
    pub applicant_phone: String,
    pub agent_name: Option<String>,
    pub agent_id_masked: Option<String>,
    pub materials: Vec<MaterialLine>,
    pub missing: Vec<String>,
    pub supplement_pending: bool,
    pub supplement_due: Option<NaiveDate>,
    pub limit_days: i64,
    pub accepted_on: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    /// The year whose holiday arrangement the deadline waits for (`due_date` is then
    /// `None`): see [`onewindow_domain::cases::deadline`].
    pub deadline_pending_year: Option<i32>,
    pub paused_since: Option<NaiveDate>,
    pub pauses: Vec<(NaiveDate, NaiveDate)>,
    pub decision: Option<String>,
    pub decision_text: Option<String>,
    pub legal_basis: Option<String>,
    pub issue_method: Option<String>,
    pub tracking_no: Option<String>,
    pub certificate_no: Option<String>,
    pub assignee_id: Option<i64>,
    pub overdue: bool,
    /// The clerk who took the application in (经办人 on the receipt).
    pub creator_name: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl CaseRecord {
    /// What the domain's machine needs to know about this case today; `unpaid_fee` is the
    /// fee still owed before issuance (`fees::unpaid_before_issue`).
    pub fn facts(&self, today: NaiveDate, unpaid_fee: onewindow_domain::fees::Fen) -> CaseFacts {
        CaseFacts {
            state: self.state,
            immediate: self.immediate,
            window_approvable: self.window_approvable,
            supplement_pending: self.supplement_pending,
            supplement_due: self.supplement_due,
            today,
            unpaid_fee,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseEvent {
    pub at: i64,
    /// The login name (or 系统) as recorded.
    pub actor: String,
    /// The person's display name, for pages.
    pub actor_name: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub note: String,
}

const SELECT: &str = "SELECT c.*, d.name AS department_name, d.path AS department_path, \
     h.name AS intake_org_name, h.path AS intake_path, u.display_name AS creator_name, \
     ho.name AS handout_org_name, ho.path AS handout_path \
     FROM cases c JOIN orgs d ON d.id = c.department_id JOIN orgs h ON h.id = c.intake_org_id \
     JOIN orgs ho ON ho.id = COALESCE(c.handout_org_id, c.intake_org_id) \
     JOIN users u ON u.id = c.created_by";

fn date(s: Option<String>) -> Option<NaiveDate> {
    s.and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok())
}

fn pending_year(r: &AnyRow) -> Option<i32> {
    r.get::<Option<i64>, _>("deadline_pending_year")
        .and_then(|y| i32::try_from(y).ok())
}

/// What pages show for a due date: the date, 待定（日历未发布） while it waits for a year's
/// arrangement, or nothing (no deadline).
fn due_text(due: Option<NaiveDate>, pending: Option<i32>) -> Option<String> {
    match (due, pending) {
        (Some(d), _) => Some(Deadline::Due(d).text()),
        (None, Some(year)) => Some(Deadline::Pending { year }.text()),
        (None, None) => None,
    }
}

impl CaseRecord {
    /// The due date as pages show it (see [`due_text`]).
    pub fn due_text(&self) -> Option<String> {
        due_text(self.due_date, self.deadline_pending_year)
    }
}

impl CaseSummary {
    /// The due date as lists show it.
    pub fn due_text(&self) -> Option<String> {
        due_text(self.due_date, self.deadline_pending_year)
    }
}

fn from_row(r: &AnyRow) -> CaseRecord {
    let state: String = r.get("state");
    let kind: Option<String> = r.get("acceptance_kind");
    CaseRecord {
        id: r.get("id"),
        case_no: r.get("case_no"),
        query_code: r.get("query_code"),
        item_code: r.get("item_code"),
        item_version_id: r.get("item_version_id"),
        bundle_code: r.get("bundle_code"),
        title: r.get("title"),
        department_id: r.get("department_id"),
        department_name: r.get("department_name"),
        department_path: OrgPath::from_stored(r.get("department_path")),
        intake_org_id: r.get("intake_org_id"),
        intake_org_name: r.get("intake_org_name"),
        intake_path: OrgPath::from_stored(r.get("intake_path")),
        intake_place_kind: PlaceKind::parse(&r.get::<String, _>("intake_place_kind"))
            .unwrap_or(PlaceKind::Hall),
        channel: IntakeChannel::parse(&r.get::<String, _>("channel"))
            .unwrap_or(IntakeChannel::Window),
        handout_method: IssueMethod::parse(&r.get::<String, _>("handout_method"))
            .unwrap_or_default(),
        handout_org_id: r
            .get::<Option<i64>, _>("handout_org_id")
            .unwrap_or_else(|| r.get("intake_org_id")),
        handout_org_name: r.get("handout_org_name"),
        handout_path: OrgPath::from_stored(r.get("handout_path")),
        handout_address: r.get("handout_address"),
        backfill_accepted_at: r.get("backfill_accepted_at"),
        backfill_reason: r.get("backfill_reason"),
        state: CaseState::parse(&state).unwrap_or(CaseState::Draft),
        acceptance_kind: kind.and_then(|k| serde_json::from_value(json!(k)).ok()),
        immediate: crate::flag(r, "immediate"),
        window_approvable: crate::flag(r, "window_approvable"),
        approved_at_window: crate::flag(r, "approved_at_window"),
        applicant_kind: r.get("applicant_kind"),
        applicant_name: r.get("applicant_name"),
        applicant_id: r.get("applicant_id"),
        applicant_id_masked: r.get("applicant_id_masked"),
        applicant_phone: r.get("applicant_phone"),
        agent_name: r.get("agent_name"),
        agent_id_masked: r.get("agent_id_masked"),
        materials: serde_json::from_str(&r.get::<String, _>("materials")).unwrap_or_default(),
        missing: serde_json::from_str(&r.get::<String, _>("missing")).unwrap_or_default(),
        supplement_pending: crate::flag(r, "supplement_pending"),
        supplement_due: date(r.get("supplement_due")),
        limit_days: r.get("limit_days"),
        accepted_on: date(r.get("accepted_on")),
        due_date: date(r.get("due_date")),
        deadline_pending_year: pending_year(r),
        paused_since: date(r.get("paused_since")),
        pauses: serde_json::from_str(&r.get::<String, _>("pauses")).unwrap_or_default(),
        decision: r.get("decision"),
        decision_text: r.get("decision_text"),
        legal_basis: r.get("legal_basis"),
        issue_method: r.get("issue_method"),
        tracking_no: r.get("tracking_no"),
        certificate_no: r.get("certificate_no"),
        assignee_id: r.get("assignee_id"),
        overdue: crate::flag(r, "overdue"),
        creator_name: r.get("creator_name"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        version: r.get("version"),
    }
}

pub async fn get<'c, E: Executor<'c, Database = Any>>(e: E, id: i64) -> Result<CaseRecord> {
    sqlx::query(&format!("{SELECT} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(|r| from_row(&r))
        .ok_or(StoreError::NotFound)
}

pub async fn by_number<'c, E: Executor<'c, Database = Any>>(
    e: E,
    case_no: &str,
) -> Result<CaseRecord> {
    sqlx::query(&format!("{SELECT} WHERE c.case_no = $1"))
        .bind(case_no.trim())
        .fetch_optional(e)
        .await?
        .map(|r| from_row(&r))
        .ok_or(StoreError::NotFound)
}

pub async fn events<'c, E: Executor<'c, Database = Any>>(
    e: E,
    case_id: i64,
) -> Result<Vec<CaseEvent>> {
    // Events keep the login name (what the audit log records); people read the name.
    let rows = sqlx::query(
        "SELECT e.at, e.actor, COALESCE(u.display_name, e.actor) AS actor_name, e.action, \
         e.from_state, e.to_state, e.note FROM case_events e LEFT JOIN users u ON u.username = e.actor \
         WHERE e.case_id = $1 ORDER BY e.id",
    )
        .bind(case_id)
        .fetch_all(e)
        .await?;
    Ok(rows
        .iter()
        .map(|r| CaseEvent {
            at: r.get("at"),
            actor: r.get("actor"),
            actor_name: r.get("actor_name"),
            action: r.get("action"),
            from_state: r.get("from_state"),
            to_state: r.get("to_state"),
            note: r.get("note"),
        })
        .collect())
}

/// Which list to read: the queues the pages show. Without a queue, a list holds every case
/// the caller may see (taken in, or routed to a department, inside their scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// Cases a department must act on: routed, in review, returned, approved; most urgent
    /// first.
    Department,
    /// Cases waiting at the unified issuance window, and 即办 cases to finish; oldest first.
    Issuance,
    /// Everything taken in at the hall, newest first.
    Intake,
}

impl Queue {
    pub const ALL: [Queue; 3] = [Queue::Department, Queue::Issuance, Queue::Intake];

    pub fn as_str(self) -> &'static str {
        match self {
            Queue::Department => "department",
            Queue::Issuance => "issuance",
            Queue::Intake => "intake",
        }
    }

    pub fn parse(s: &str) -> Option<Queue> {
        Self::ALL.into_iter().find(|q| q.as_str() == s)
    }

    /// Which organisation column puts a case into the caller's scope for this queue.
    pub fn sides(self) -> &'static [Side] {
        match self {
            Queue::Department => &[Side::Department],
            // Results wait where they are handed out (the station the applicant chose).
            Queue::Issuance => &[Side::Handout],
            Queue::Intake => &[Side::Intake],
        }
    }

    /// The states the queue holds; `None`: all.
    pub fn states(self) -> Option<&'static [CaseState]> {
        match self {
            Queue::Department => Some(&[
                CaseState::Routed,
                CaseState::InReview,
                CaseState::Returned,
                CaseState::Approved,
            ]),
            Queue::Issuance => Some(&[
                CaseState::ResultReady,
                CaseState::Rejected,
                CaseState::Accepted,
            ]),
            Queue::Intake => None,
        }
    }

    pub fn sort(self) -> Sort {
        match self {
            Queue::Department => Sort::Due,
            Queue::Issuance => Sort::Oldest,
            Queue::Intake => Sort::Newest,
        }
    }
}

/// Which organisation of a case puts it inside a scope: where it was taken in, the
/// department it is routed to, or the place that hands its result out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Intake,
    Department,
    Handout,
}

/// Every side: every case a caller may see (as `get` is scoped in the web layer).
pub const VISIBLE: &[Side] = &[Side::Intake, Side::Department, Side::Handout];

/// The order of a list. Every order ends with `id`, so it is total and a cursor is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// `created_at` descending, then `id` descending.
    Newest,
    /// `created_at` ascending, then `id` ascending (a work queue: first come, first served).
    Oldest,
    /// `due_date` ascending, then `id`: the most urgent first; then the cases whose deadline
    /// is pending on a year not loaded yet (their dates lie beyond every computed one), by
    /// `id`. Other cases without a due date are not in such a list.
    Due,
}

/// The sort key of a pending deadline in a due-ordered list: after every ISO date.
const PENDING_KEY: &str = "~";

/// Which part of a due-ordered list a scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DuePart {
    /// Not a due-ordered list: one part.
    Whole,
    /// The cases with a due date, by date.
    Dated,
    /// The cases whose deadline is pending, by id.
    Pending,
}

/// What to list. Dates are already turned into stored values: `created` is a half-open
/// range of UTC microseconds, `due` a half-open range of due dates.
#[derive(Debug, Clone)]
pub struct CaseList<'a> {
    /// The caller's organisation: cases inside its subtree (by `sides`) are listed.
    pub scope: &'a OrgPath,
    pub sides: &'a [Side],
    pub sort: Sort,
    /// Only these states; `None`: every state. An empty list matches nothing.
    pub states: Option<Vec<CaseState>>,
    pub item_code: Option<String>,
    pub department_id: Option<i64>,
    pub intake_org_id: Option<i64>,
    pub created: (Option<i64>, Option<i64>),
    pub due: (Option<NaiveDate>, Option<NaiveDate>),
    /// Case numbers starting with this (upper case). Callers also bound `created` to the
    /// days the prefix names: the number carries the date it was taken in.
    pub case_no_prefix: Option<String>,
    /// Exactly this applicant name (trimmed).
    pub applicant_name: Option<String>,
    /// Only cases that came in by this channel (checked on the rows walked).
    pub channel: Option<IntakeChannel>,
}

impl<'a> CaseList<'a> {
    /// A queue's list, or (`None`) every visible case, with no further filter.
    pub fn new(scope: &'a OrgPath, queue: Option<Queue>) -> Self {
        CaseList {
            scope,
            sides: queue.map_or(VISIBLE, Queue::sides),
            sort: queue.map_or(Sort::Newest, Queue::sort),
            states: queue.and_then(Queue::states).map(<[CaseState]>::to_vec),
            item_code: None,
            department_id: None,
            intake_org_id: None,
            created: (None, None),
            due: (None, None),
            case_no_prefix: None,
            applicant_name: None,
            channel: None,
        }
    }
}

/// A case as lists show it: no materials, pauses, decisions or personal numbers other
/// than the masked id. The full case is [`get`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseSummary {
    pub id: i64,
    pub case_no: String,
    pub title: String,
    pub item_code: String,
    pub state: CaseState,
    pub department_id: i64,
    pub department_name: String,
    pub intake_org_id: i64,
    pub intake_org_name: String,
    pub channel: IntakeChannel,
    /// Entered after an outage (补录).
    pub backfilled: bool,
    pub applicant_name: String,
    pub applicant_id_masked: String,
    pub accepted_on: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub deadline_pending_year: Option<i32>,
    pub overdue: bool,
    pub supplement_pending: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

const SUMMARY: &str = "SELECT c.id, c.case_no, c.title, c.item_code, c.state, c.department_id, \
     d.name AS department_name, c.intake_org_id, h.name AS intake_org_name, c.applicant_name, \
     c.applicant_id_masked, c.accepted_on, c.due_date, c.deadline_pending_year, c.overdue, c.supplement_pending, \
     c.created_at, c.updated_at, c.version, c.channel, c.backfill_accepted_at";

fn summary_from_row(r: &AnyRow) -> CaseSummary {
    let state: String = r.get("state");
    CaseSummary {
        id: r.get("id"),
        case_no: r.get("case_no"),
        title: r.get("title"),
        item_code: r.get("item_code"),
        state: CaseState::parse(&state).unwrap_or(CaseState::Draft),
        department_id: r.get("department_id"),
        department_name: r.get("department_name"),
        intake_org_id: r.get("intake_org_id"),
        intake_org_name: r.get("intake_org_name"),
        channel: IntakeChannel::parse(&r.get::<String, _>("channel"))
            .unwrap_or(IntakeChannel::Window),
        backfilled: r.get::<Option<i64>, _>("backfill_accepted_at").is_some(),
        applicant_name: r.get("applicant_name"),
        applicant_id_masked: r.get("applicant_id_masked"),
        accepted_on: date(r.get("accepted_on")),
        due_date: date(r.get("due_date")),
        deadline_pending_year: pending_year(r),
        overdue: crate::flag(r, "overdue"),
        supplement_pending: crate::flag(r, "supplement_pending"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        version: r.get("version"),
    }
}

/// The sort key of a row in `sort`, as its cursor carries it.
pub fn sort_key(row: &CaseSummary, sort: Sort) -> Vec<KeyPart> {
    match sort {
        Sort::Newest | Sort::Oldest => vec![row.created_at.into(), row.id.into()],
        Sort::Due => vec![
            row.due_date
                .map(|d| d.to_string())
                .unwrap_or_else(|| PENDING_KEY.to_string())
                .into(),
            row.id.into(),
        ],
    }
}

/// One page of `list`, in its order.
pub async fn list(
    pool: &AnyPool,
    key: &CursorKey,
    id: &ListId<'_>,
    list: &CaseList<'_>,
    req: &PageRequest,
) -> Result<Page<CaseSummary>> {
    let rows = list_rows(pool, list, req).await?;
    Ok(Page::from_rows(key, id, req, rows, |r| {
        sort_key(r, list.sort)
    }))
}

/// The first `limit` rows of a queue within `scope` (pages that show a queue's head).
pub async fn queue(
    pool: &AnyPool,
    queue: Queue,
    scope: &OrgPath,
    limit: i64,
) -> Result<Vec<CaseSummary>> {
    let mut rows = list_rows(
        pool,
        &CaseList::new(scope, Some(queue)),
        &PageRequest::first(limit),
    )
    .await?;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(rows)
}

/// A value bound to a list query.
#[derive(Debug, Clone)]
enum Bind {
    Int(i64),
    Text(String),
}

/// Builds one statement: placeholders are handed out in order as values are bound.
#[derive(Default)]
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    fn int(&mut self, v: i64) -> String {
        self.binds.push(Bind::Int(v));
        format!("${}", self.binds.len())
    }

    fn text(&mut self, v: &str) -> String {
        self.binds.push(Bind::Text(v.to_string()));
        format!("${}", self.binds.len())
    }

    fn ints(&mut self, vs: &[i64]) -> String {
        let ps: Vec<String> = vs.iter().map(|v| self.int(*v)).collect();
        ps.join(", ")
    }

    fn query(&self) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
        // With RUST_LOG=onewindow_store::cases=trace: the statement and its values, to
        // read its plan (EXPLAIN) on a large database.
        tracing::trace!(sql = %self.text, binds = ?self.binds, "list statement");
        let mut q = sqlx::query(&self.text);
        for b in &self.binds {
            q = match b {
                Bind::Int(v) => q.bind(*v),
                Bind::Text(v) => q.bind(v.clone()),
            };
        }
        q
    }
}

/// Where one range scan reads: the cases of one intake organisation or department, or all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    All,
    Intake(i64),
    Dept(i64),
    Handout(i64),
}

/// The most range scans one statement holds (SQLite refuses compounds of more than 500
/// terms); a larger fan-out is read in several statements and merged.
const ATOMS_PER_STATEMENT: usize = 200;

/// The scope's organisations that hold cases, per side.
struct ScopeOrgs {
    intake: Vec<i64>,
    dept: Vec<i64>,
    handout: Vec<i64>,
}

/// The scope's organisations that hold cases, per side.
async fn scope_orgs(conn: &mut AnyConnection, scope: &OrgPath) -> Result<ScopeOrgs> {
    // An organisation without cases on a side costs one index probe here instead of one
    // per state and filter later. MIN over the index rather than EXISTS: PostgreSQL
    // plans `EXISTS (… WHERE intake_org_id = o.id)` as a sequential scan that stops at the
    // first match — the whole table for an organisation without cases (measured: 5.7 s at
    // 1,000,000 cases) — while MIN always takes the first entry of the index range.
    let rows = sqlx::query(
        "SELECT o.id AS id, \
         (SELECT MIN(c.created_at) FROM cases c WHERE c.intake_org_id = o.id) AS first_intake, \
         (SELECT MIN(c.created_at) FROM cases c WHERE c.department_id = o.id) AS first_dept, \
         (SELECT MIN(c.created_at) FROM cases c WHERE c.handout_org_id = o.id) AS first_handout \
         FROM orgs o WHERE o.path >= $1 AND o.path < $2 ORDER BY o.id",
    )
    .bind(scope.as_str())
    .bind(path_upper_bound(scope.as_str()))
    .fetch_all(&mut *conn)
    .await?;
    let mut out = ScopeOrgs {
        intake: Vec::new(),
        dept: Vec::new(),
        handout: Vec::new(),
    };
    for r in &rows {
        let id: i64 = r.get("id");
        if r.get::<Option<i64>, _>("first_intake").is_some() {
            out.intake.push(id);
        }
        if r.get::<Option<i64>, _>("first_dept").is_some() {
            out.dept.push(id);
        }
        if r.get::<Option<i64>, _>("first_handout").is_some() {
            out.handout.push(id);
        }
    }
    Ok(out)
}

async fn org_in_scope(conn: &mut AnyConnection, scope: &OrgPath, id: i64) -> Result<bool> {
    Ok(
        sqlx::query("SELECT 1 AS one FROM orgs WHERE id = $1 AND path >= $2 AND path < $3")
            .bind(id)
            .bind(scope.as_str())
            .bind(path_upper_bound(scope.as_str()))
            .fetch_optional(&mut *conn)
            .await?
            .is_some(),
    )
}

/// The plan of a list: which range scans to read, and the conditions every row must also
/// meet that the scans' index does not check (`residual`, SQL over `c`).
struct Plan {
    channels: Vec<Channel>,
    /// Extra conditions on the organisations, when a filter names one outside the scope.
    org_residual: Vec<(&'static str, Vec<i64>)>,
}

/// Which channels answer `list`, and what they leave to check row by row.
///
/// A filter on an organisation inside the scope *is* the channel (every case of that
/// department is visible, whoever took it in). A filter on one outside the scope (a street
/// clerk asking for the cases sent to a district department) reads the caller's own
/// channels and checks the organisation on each row.
async fn plan(conn: &mut AnyConnection, list: &CaseList<'_>) -> Result<Plan> {
    let root = list.scope.ids().len() == 1;
    let has = |s: Side| list.sides.contains(&s);
    let mut org_residual = Vec::new();
    if root {
        // The root sees everything: no scope condition at all.
        let channels = match (list.intake_org_id, list.department_id) {
            (Some(i), d) => {
                if let Some(d) = d {
                    org_residual.push(("c.department_id", vec![d]));
                }
                vec![Channel::Intake(i)]
            }
            (None, Some(d)) => vec![Channel::Dept(d)],
            (None, None) => vec![Channel::All],
        };
        return Ok(Plan {
            channels,
            org_residual,
        });
    }
    let mut channels = Vec::new();
    if let Some(i) = list.intake_org_id {
        if has(Side::Intake) && org_in_scope(conn, list.scope, i).await? {
            channels.push(Channel::Intake(i));
        } else if has(Side::Department) || has(Side::Handout) {
            let orgs = scope_orgs(conn, list.scope).await?;
            if has(Side::Department) {
                channels.extend(orgs.dept.into_iter().map(Channel::Dept));
            }
            if has(Side::Handout) {
                channels.extend(orgs.handout.into_iter().map(Channel::Handout));
            }
            org_residual.push(("c.intake_org_id", vec![i]));
        }
        if let Some(d) = list.department_id {
            org_residual.push(("c.department_id", vec![d]));
        }
    } else if let Some(d) = list.department_id {
        if has(Side::Department) && org_in_scope(conn, list.scope, d).await? {
            channels.push(Channel::Dept(d));
        } else if has(Side::Intake) || has(Side::Handout) {
            let orgs = scope_orgs(conn, list.scope).await?;
            if has(Side::Intake) {
                channels.extend(orgs.intake.into_iter().map(Channel::Intake));
            }
            if has(Side::Handout) {
                channels.extend(orgs.handout.into_iter().map(Channel::Handout));
            }
            org_residual.push(("c.department_id", vec![d]));
        }
    } else {
        let orgs = scope_orgs(conn, list.scope).await?;
        if has(Side::Intake) {
            channels.extend(orgs.intake.into_iter().map(Channel::Intake));
        }
        if has(Side::Department) {
            channels.extend(orgs.dept.into_iter().map(Channel::Dept));
        }
        if has(Side::Handout) {
            channels.extend(orgs.handout.into_iter().map(Channel::Handout));
        }
    }
    Ok(Plan {
        channels,
        org_residual,
    })
}

/// One range scan: its equality conditions (the index prefix) and the condition on
/// organisations it must still check (when the index has no organisation column).
struct Atom {
    eq: Vec<(&'static str, Bind)>,
    orgs: Option<Vec<(&'static str, Vec<i64>)>>,
}

fn channel_eq(c: Channel) -> Vec<(&'static str, Bind)> {
    match c {
        Channel::All => vec![],
        Channel::Intake(id) => vec![("c.intake_org_id", Bind::Int(id))],
        Channel::Dept(id) => vec![("c.department_id", Bind::Int(id))],
        Channel::Handout(id) => vec![("c.handout_org_id", Bind::Int(id))],
    }
}

/// The channels as one condition, for scans whose index has no organisation column:
/// (column, ids) pairs, any of which admits a row. `None`: every organisation.
fn channels_condition(channels: &[Channel]) -> Option<Vec<(&'static str, Vec<i64>)>> {
    if channels.contains(&Channel::All) {
        return None;
    }
    let mut intake = Vec::new();
    let mut dept = Vec::new();
    let mut handout = Vec::new();
    for c in channels {
        match c {
            Channel::Intake(i) => intake.push(*i),
            Channel::Dept(d) => dept.push(*d),
            Channel::Handout(h) => handout.push(*h),
            Channel::All => {}
        }
    }
    Some(
        [
            ("c.intake_org_id", intake),
            ("c.department_id", dept),
            ("c.handout_org_id", handout),
        ]
        .into_iter()
        .filter(|(_, ids)| !ids.is_empty())
        .collect(),
    )
}

/// The states to read one at a time, or `[None]` for a scan over every state.
fn state_split(list: &CaseList<'_>, index_has_state: bool) -> Vec<Option<CaseState>> {
    match (&list.states, index_has_state) {
        (Some(states), _) => states.iter().copied().map(Some).collect(),
        (None, true) => CaseState::ALL.into_iter().map(Some).collect(),
        (None, false) => vec![None],
    }
}

/// The range scans of a list, written into `sql` as `SELECT … LIMIT n` members. How each
/// kind of filter is read (see the indexes of migration 0010):
///
/// * applicant name: one scan of `cases_list_applicant` (exact name, newest first); the
///   organisations and everything else are checked on that name's rows;
/// * item: per intake organisation `cases_list_intake_item` (one scan per state), for a
///   department or the root `cases_list_item` with the department checked on the item's
///   rows;
/// * otherwise per channel the organisation's index (`…_intake`, `…_dept`, or `…_state`
///   at the root), one scan per state when states are restricted (or the order is by due
///   date: `…_due`), newest first or by due date.
fn atoms(list: &CaseList<'_>, plan: &Plan) -> Vec<Atom> {
    let mut out = Vec::new();
    let by_due = list.sort == Sort::Due;
    if let Some(name) = &list.applicant_name {
        let orgs = channels_condition(&plan.channels);
        out.push(Atom {
            eq: vec![("c.applicant_name", Bind::Text(name.clone()))],
            orgs,
        });
        return out;
    }
    if let (Some(item), false) = (&list.item_code, by_due) {
        let (intake, others): (Vec<Channel>, Vec<Channel>) = plan
            .channels
            .iter()
            .partition(|c| matches!(c, Channel::Intake(_)));
        for c in intake {
            for s in state_split(list, true) {
                let mut eq = channel_eq(c);
                eq.push(("c.item_code", Bind::Text(item.clone())));
                eq.extend(s.map(|s| ("c.state", Bind::Text(s.as_str().into()))));
                out.push(Atom { eq, orgs: None });
            }
        }
        if !others.is_empty() {
            let orgs = channels_condition(&others);
            for s in state_split(list, true) {
                let mut eq = vec![("c.item_code", Bind::Text(item.clone()))];
                eq.extend(s.map(|s| ("c.state", Bind::Text(s.as_str().into()))));
                out.push(Atom {
                    eq,
                    orgs: orgs.clone(),
                });
            }
        }
        return out;
    }
    for &c in &plan.channels {
        // The root's index always has the state; the organisations' plain indexes do not.
        let index_has_state = by_due || c == Channel::All;
        for s in state_split(list, index_has_state) {
            let mut eq = channel_eq(c);
            eq.extend(s.map(|s| ("c.state", Bind::Text(s.as_str().into()))));
            out.push(Atom { eq, orgs: None });
        }
    }
    out
}

/// The conditions every scan of the list shares: ranges, cursor, and the filters that no
/// scan's index checks (item in a due-ordered list, case-number prefix, organisations
/// outside the scope).
fn shared_conditions(
    sql: &mut Sql,
    list: &CaseList<'_>,
    plan: &Plan,
    req: &PageRequest,
    part: DuePart,
) -> Result<Vec<String>> {
    let mut w = Vec::new();
    if let Some(from) = list.created.0 {
        w.push(format!("c.created_at >= {}", sql.int(from)));
    }
    if let Some(until) = list.created.1 {
        w.push(format!("c.created_at < {}", sql.int(until)));
    }
    if let Some(from) = list.due.0 {
        w.push(format!("c.due_date >= {}", sql.text(&from.to_string())));
    }
    if let Some(until) = list.due.1 {
        w.push(format!("c.due_date < {}", sql.text(&until.to_string())));
    }
    if list.sort == Sort::Due {
        w.push(match part {
            DuePart::Pending => "c.due_date IS NULL AND c.deadline_pending_year IS NOT NULL".into(),
            _ => "c.due_date IS NOT NULL".into(),
        });
        if let (Some(item), None) = (&list.item_code, &list.applicant_name) {
            w.push(format!("c.item_code = {}", sql.text(item)));
        }
    }
    if list.applicant_name.is_some() {
        if let Some(item) = &list.item_code {
            w.push(format!("c.item_code = {}", sql.text(item)));
        }
        if let Some(states) = &list.states {
            let ps: Vec<String> = states.iter().map(|s| sql.text(s.as_str())).collect();
            w.push(format!("c.state IN ({})", ps.join(", ")));
        }
    }
    if let Some(prefix) = &list.case_no_prefix {
        // Checked row by row inside the creation-date range the prefix names; a literal
        // length (a number we computed) keeps the function's argument types plain.
        w.push(format!(
            "substr(c.case_no, 1, {}) = {}",
            prefix.chars().count(),
            sql.text(prefix)
        ));
    }
    for (col, ids) in &plan.org_residual {
        w.push(format!("{col} IN ({})", sql.ints(ids)));
    }
    if let Some(channel) = list.channel {
        w.push(format!("c.channel = {}", sql.text(channel.as_str())));
    }
    let bad_cursor = || {
        let e = crate::page::PageError::Forged;
        StoreError::invalid(e.field(), e.code(), e.to_string())
    };
    if let Some(after) = &req.after {
        if after.len() != 2 {
            return Err(bad_cursor());
        }
        let id = req.after_int(1).ok_or_else(bad_cursor)?;
        match list.sort {
            Sort::Newest | Sort::Oldest => {
                let at = req.after_int(0).ok_or_else(bad_cursor)?;
                let op = if list.sort == Sort::Newest { "<" } else { ">" };
                w.push(format!(
                    "(c.created_at, c.id) {op} ({}, {})",
                    sql.int(at),
                    sql.int(id)
                ));
            }
            Sort::Due => {
                let due = req.after_text(0).ok_or_else(bad_cursor)?.to_string();
                match (part, due == PENDING_KEY) {
                    (DuePart::Pending, true) => w.push(format!("c.id > {}", sql.int(id))),
                    // The cursor is still among the dated cases: the pending ones all follow.
                    (DuePart::Pending, false) => {}
                    _ => w.push(format!(
                        "(c.due_date, c.id) > ({}, {})",
                        sql.text(&due),
                        sql.int(id)
                    )),
                }
            }
        }
    }
    Ok(w)
}

/// The rows of one page plus one (to tell whether another follows), in the list's order.
///
/// Each scan reads at most a page plus one in index order, so a page costs the same
/// whatever the table holds; the scans' candidates are merged (a case visible through
/// both its hall and its department is counted once) and cut to the page.
async fn list_rows(
    pool: &AnyPool,
    list: &CaseList<'_>,
    req: &PageRequest,
) -> Result<Vec<CaseSummary>> {
    let fetch = req.fetch();
    if list.sort != Sort::Due {
        return list_part(pool, list, req, DuePart::Whole, fetch).await;
    }
    // By due date, then the pending deadlines: a page may end in the first and go on in
    // the second; a cursor from the second part skips the first.
    let in_pending = req.after_text(0) == Some(PENDING_KEY);
    let mut rows = if in_pending {
        vec![]
    } else {
        list_part(pool, list, req, DuePart::Dated, fetch).await?
    };
    let have = i64::try_from(rows.len()).unwrap_or(fetch);
    if have < fetch {
        rows.extend(list_part(pool, list, req, DuePart::Pending, fetch - have).await?);
    }
    Ok(rows)
}

/// The rows of one part of a list (see [`DuePart`]), at most `fetch`.
async fn list_part(
    pool: &AnyPool,
    list: &CaseList<'_>,
    req: &PageRequest,
    part: DuePart,
    fetch: i64,
) -> Result<Vec<CaseSummary>> {
    if list.states.as_ref().is_some_and(Vec::is_empty) {
        return Ok(vec![]);
    }
    let mut conn = pool.acquire().await?;
    let plan = plan(&mut conn, list).await?;
    if plan.channels.is_empty() {
        return Ok(vec![]);
    }
    let (key, dir) = match list.sort {
        Sort::Newest => ("created_at", "DESC"),
        Sort::Oldest => ("created_at", "ASC"),
        Sort::Due => ("due_date", "ASC"),
    };
    let key_expr = match part {
        DuePart::Pending => format!("COALESCE(c.{key}, '{PENDING_KEY}')"),
        _ => format!("c.{key}"),
    };
    let all_atoms = atoms(list, &plan);
    let batches: Vec<&[Atom]> = all_atoms.chunks(ATOMS_PER_STATEMENT).collect();
    let single = batches.len() == 1;
    let mut candidates: Vec<(i64, String, i64)> = Vec::new();
    let mut rows: Vec<CaseSummary> = Vec::new();
    for batch in batches {
        let mut sql = Sql::default();
        // Bound once per statement, referred to by every member.
        let shared = shared_conditions(&mut sql, list, &plan, req, part)?;
        let mut members = Vec::new();
        for (n, atom) in batch.iter().enumerate() {
            let mut w: Vec<String> = atom
                .eq
                .iter()
                .map(|(col, b)| {
                    let p = match b {
                        Bind::Int(v) => sql.int(*v),
                        Bind::Text(v) => sql.text(v),
                    };
                    format!("{col} = {p}")
                })
                .collect();
            if let Some(orgs) = &atom.orgs {
                let any: Vec<String> = orgs
                    .iter()
                    .map(|(col, ids)| format!("{col} IN ({})", sql.ints(ids)))
                    .collect();
                w.push(format!("({})", any.join(" OR ")));
            }
            w.extend(shared.iter().cloned());
            let limit = sql.int(fetch);
            members.push(format!(
                "SELECT * FROM (SELECT c.id AS id, {key_expr} AS k FROM cases c WHERE {} \
                 ORDER BY c.{key} {dir}, c.id {dir} LIMIT {limit}) a{n}",
                w.join(" AND ")
            ));
        }
        let limit = sql.int(fetch);
        let keys = format!(
            "SELECT DISTINCT id, k FROM ({}) u ORDER BY k {dir}, id {dir} LIMIT {limit}",
            members.join(" UNION ALL ")
        );
        if single {
            // The common case: candidates, cut and rows in one statement.
            sql.text = format!(
                "{SUMMARY} FROM ({keys}) p JOIN cases c ON c.id = p.id \
                 JOIN orgs d ON d.id = c.department_id JOIN orgs h ON h.id = c.intake_org_id \
                 ORDER BY p.k {dir}, p.id {dir}"
            );
            let found = sql.query().fetch_all(&mut *conn).await?;
            rows = found.iter().map(summary_from_row).collect();
        } else {
            sql.text = keys;
            for r in sql.query().fetch_all(&mut *conn).await? {
                let id: i64 = r.get("id");
                let (text, int) = match list.sort {
                    Sort::Due => (r.get::<String, _>("k"), 0),
                    _ => (String::new(), r.get::<i64, _>("k")),
                };
                candidates.push((id, text, int));
            }
        }
    }
    if !single {
        candidates.sort_by(|a, b| {
            let ord = (&a.1, a.2, a.0).cmp(&(&b.1, b.2, b.0));
            if list.sort == Sort::Newest {
                ord.reverse()
            } else {
                ord
            }
        });
        candidates.dedup_by_key(|c| c.0);
        candidates.truncate(usize::try_from(fetch).unwrap_or(0));
        if candidates.is_empty() {
            return Ok(vec![]);
        }
        let mut sql = Sql::default();
        let ids: Vec<i64> = candidates.iter().map(|c| c.0).collect();
        sql.text = format!(
            "{SUMMARY} FROM cases c JOIN orgs d ON d.id = c.department_id \
             JOIN orgs h ON h.id = c.intake_org_id WHERE c.id IN ({})",
            sql.ints(&ids)
        );
        let mut found: Vec<CaseSummary> = sql
            .query()
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(summary_from_row)
            .collect();
        let rank: std::collections::HashMap<i64, usize> =
            ids.iter().enumerate().map(|(n, id)| (*id, n)).collect();
        found.sort_by_key(|r| rank.get(&r.id).copied().unwrap_or(usize::MAX));
        rows = found;
    }
    Ok(rows)
}

/// Everything intake needs to open a case.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub item_code: String,
    pub item_version_id: i64,
    pub bundle_code: Option<String>,
    pub title: String,
    pub department_id: i64,
    pub intake_org_id: i64,
    pub immediate: bool,
    /// The catalog lists the item for approval at the window (即审即办).
    pub window_approvable: bool,
    /// 即审即办 chosen at intake: what the window approver does in the same transaction.
    pub at_window: Option<WindowFollowUp>,
    pub limit_days: u32,
    pub applicant_kind: String,
    pub applicant_name: String,
    pub applicant_id: String,
    pub applicant_id_masked: String,
    pub applicant_phone: String,
    pub agent_name: Option<String>,
    pub agent_id: Option<String>,
    pub agent_id_masked: Option<String>,
    pub materials: Vec<MaterialLine>,
    pub creator_id: i64,
    /// The intake place's kind and the channel (`domain::places`).
    pub intake_place_kind: PlaceKind,
    pub channel: IntakeChannel,
    /// Where the result is handed out, as checked by `domain::places::check_handout`.
    pub handout: Handout,
    /// 补录: the original acceptance of a paper intake entered later.
    pub backfill: Option<Backfill>,
}

/// Opens a case (Draft) and applies the intake decision through the state machine:
/// Accept (then Route to the department unless the item is 即办) or Refuse with the
/// complete list of missing materials.
///
/// The steps are worked out in memory by the same [`plan_step`] every later transition uses,
/// and the case is written once in its final state: seven statements on SQLite, five on
/// PostgreSQL (routing rule and names, the day's counter, the case, its events, the audit
/// events), where one transition after another took eighteen.
pub async fn intake(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    today: NaiveDate,
    new: &NewCase,
    decision: &machine::CaseAction,
    entropy: u64,
) -> Result<CaseRecord> {
    let place = check_routing(&mut *conn, new).await?;
    if new.backfill.is_some() && !matches!(decision, CaseAction::Accept { .. }) {
        return Err(StoreError::invalid(
            "backfill_accepted_at",
            "backfill_not_accepted",
            "补录只适用于已经受理的纸质办件",
        ));
    }
    let seq: i64 = sqlx::query(
        "INSERT INTO case_counters (day, seq) VALUES ($1, 1) ON CONFLICT (day) DO UPDATE SET seq = case_counters.seq + 1 RETURNING seq",
    )
    .bind(today.to_string())
    .fetch_one(&mut *conn)
    .await?
    .get("seq");
    let draft = CaseRecord {
        id: 0,
        case_no: machine::case_number(today, seq as u32),
        query_code: machine::query_code(entropy),
        item_code: new.item_code.clone(),
        item_version_id: new.item_version_id,
        bundle_code: new.bundle_code.clone(),
        title: new.title.clone(),
        department_id: new.department_id,
        department_name: place.department_name,
        department_path: place.department_path,
        intake_org_id: new.intake_org_id,
        intake_org_name: place.intake_name,
        intake_path: place.intake_path,
        intake_place_kind: new.intake_place_kind,
        channel: new.channel,
        handout_method: new.handout.method,
        handout_org_id: new.handout.org_id,
        handout_org_name: place.handout_name,
        handout_path: place.handout_path,
        handout_address: new.handout.address.clone(),
        backfill_accepted_at: new.backfill.as_ref().map(|b| b.accepted_at),
        backfill_reason: new.backfill.as_ref().map(|b| b.reason.clone()),
        state: CaseState::Draft,
        acceptance_kind: None,
        immediate: new.immediate,
        window_approvable: new.window_approvable,
        approved_at_window: false,
        applicant_kind: new.applicant_kind.clone(),
        applicant_name: new.applicant_name.clone(),
        applicant_id: new.applicant_id.clone(),
        applicant_id_masked: new.applicant_id_masked.clone(),
        applicant_phone: new.applicant_phone.clone(),
        agent_name: new.agent_name.clone(),
        agent_id_masked: new.agent_id_masked.clone(),
        materials: new.materials.clone(),
        missing: vec![],
        supplement_pending: false,
        supplement_due: None,
        limit_days: i64::from(new.limit_days),
        // A 补录 draft carries its original acceptance date: Accept keeps it, so the
        // deadline counts from the day the paper was taken in.
        accepted_on: new.backfill.as_ref().map(|b| b.accepted_on),
        due_date: None,
        deadline_pending_year: None,
        paused_since: None,
        pauses: vec![],
        decision: None,
        decision_text: None,
        legal_basis: None,
        issue_method: None,
        tracking_no: None,
        certificate_no: None,
        assignee_id: None,
        overdue: false,
        creator_name: place.creator_name,
        created_at: change.at,
        updated_at: change.at,
        version: 1,
    };
    let clerk = Performer::Staff(onewindow_domain::access::Role::WindowClerk);
    let no_fee = onewindow_domain::fees::Fen::ZERO;
    let decided = plan_step(&draft, change, cal, today, clerk, decision, no_fee)?;
    // Routing follows from the catalog, not from a person: the system is the actor.
    let routed_by = Change {
        who: crate::audit::Who::system("系统"),
        ..change.clone()
    };
    let mut steps = vec![(change, decided)];
    let last = |steps: &[(&Change, Step)]| steps.last().expect("one step").1.case.clone();
    if last(&steps).state == CaseState::Accepted {
        match &new.at_window {
            // 即审即办: the window approver decides in the same visit; the result may be
            // handed over at once.
            Some(w) => {
                let approve = CaseAction::ApproveAtWindow {
                    opinion: w.opinion.clone(),
                };
                let approved = plan_step(
                    &last(&steps),
                    change,
                    cal,
                    today,
                    Performer::WindowApprover,
                    &approve,
                    no_fee,
                )?;
                steps.push((change, approved));
                if let Some(issue) = &w.issue {
                    // Nothing is paid before the case exists: a 先缴费后出件 fee stops the
                    // hand-over here, and the clerk takes the payment, then issues.
                    let unpaid =
                        crate::fees::unpaid_at_intake(&mut *conn, new.item_version_id).await?;
                    let issued =
                        plan_step(&last(&steps), change, cal, today, clerk, issue, unpaid)?;
                    steps.push((change, issued));
                }
            }
            None if !last(&steps).immediate => {
                let routed = plan_step(
                    &last(&steps),
                    &routed_by,
                    cal,
                    today,
                    Performer::System,
                    &CaseAction::Route,
                    no_fee,
                )?;
                steps.push((&routed_by, routed));
            }
            None => {}
        }
    }
    let mut case = last(&steps);
    case.id = insert_case(&mut *conn, new, &case).await?;

    let backfill_note = new.backfill.as_ref().map(|b| {
        format!(
            "补录：纸质受理于{}，录入于{}；原因：{}",
            crate::clock::format_local(b.accepted_at),
            crate::clock::format_local(change.at),
            b.reason
        )
    });
    let mut events = vec![NewEvent {
        actor: &change.who.label,
        action: "create",
        from: None,
        to: CaseState::Draft,
        note: backfill_note.as_deref().unwrap_or("收件预审"),
    }];
    events.extend(steps.iter().map(|(by, step)| NewEvent::of(by, step)));
    record_events(&mut *conn, case.id, change.at, &events).await?;
    let actions: Vec<String> = steps
        .iter()
        .map(|(_, s)| format!("case.{}", s.action))
        .collect();
    let entries: Vec<audit::Entry> = steps
        .iter()
        .zip(&actions)
        .map(|((by, step), action)| audit::Entry {
            who: &by.who,
            action,
            entity: "case",
            entity_id: &case.case_no,
            detail: step.audit_detail(),
        })
        .collect();
    audit::append_many(&mut *conn, change, &entries).await?;
    if let Some(b) = &new.backfill {
        // Both times: when it was taken in on paper, and when it was entered.
        audit::append(
            &mut *conn,
            change,
            "case.backfill",
            "case",
            &case.case_no,
            &json!({
                "accepted_at": crate::clock::format_local(b.accepted_at),
                "entered_at": crate::clock::format_local(change.at),
                "reason": b.reason,
            }),
        )
        .await?;
    }
    if let Some(accepted_on) = case.accepted_on {
        // Counted on the day it was accepted (a 补录 on its original day).
        crate::figures::count_intake(
            &mut *conn,
            accepted_on,
            case.intake_org_id,
            &case.item_code,
            case.approved_at_window,
        )
        .await?;
    }
    if steps
        .iter()
        .any(|(_, s)| s.action == machine::CaseActionKind::Issue.name())
    {
        // Issued at once (即审即办): counted for 一次办结 like any issuance.
        crate::visits::count_issued(
            &mut *conn,
            case.id,
            today,
            case.intake_org_id,
            &case.item_code,
        )
        .await?;
        crate::ratings::on_case_finished(&mut *conn, change, case.id).await?;
    }
    Ok(case)
}

/// What a window approver does within the intake (即审即办): approve with an opinion, and
/// hand the result over at once when the applicant waits for it.
#[derive(Debug, Clone)]
pub struct WindowFollowUp {
    pub opinion: String,
    /// An [`CaseAction::Issue`] to plan after the approval, if any.
    pub issue: Option<CaseAction>,
}

async fn insert_case(conn: &mut AnyConnection, new: &NewCase, c: &CaseRecord) -> Result<i64> {
    // Every column a plan can set: intake may plan past acceptance (即审即办 and issued at
    // once), and the case is still written once, in its final state.
    Ok(sqlx::query(
        "INSERT INTO cases (case_no, query_code, item_code, item_version_id, bundle_code, title, department_id, intake_org_id, \
         state, immediate, applicant_kind, applicant_name, applicant_id, applicant_id_masked, applicant_phone, agent_name, \
         agent_id, agent_id_masked, materials, missing, limit_days, created_by, created_at, updated_at, \
         acceptance_kind, accepted_on, due_date, supplement_pending, supplement_due, version, \
         window_approvable, approved_at_window, decision, decision_text, issue_method, tracking_no, certificate_no, assignee_id, deadline_pending_year, \
         intake_place_kind, channel, handout_method, handout_org_id, handout_address, backfill_accepted_at, backfill_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $23, \
         $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, \
         $39, $40, $41, $42, $43, $44, $45) RETURNING id",
    )
    .bind(&c.case_no)
    .bind(&c.query_code)
    .bind(&c.item_code)
    .bind(c.item_version_id)
    .bind(&c.bundle_code)
    .bind(&c.title)
    .bind(c.department_id)
    .bind(c.intake_org_id)
    .bind(c.state.as_str())
    .bind(i64::from(c.immediate))
    .bind(&c.applicant_kind)
    .bind(&c.applicant_name)
    .bind(&c.applicant_id)
    .bind(&c.applicant_id_masked)
    .bind(&c.applicant_phone)
    .bind(&c.agent_name)
    .bind(&new.agent_id)
    .bind(&c.agent_id_masked)
    .bind(serde_json::to_string(&c.materials).expect("materials serialise"))
    .bind(serde_json::to_string(&c.missing).expect("list serialises"))
    .bind(c.limit_days)
    .bind(new.creator_id)
    .bind(c.created_at)
    .bind(c.acceptance_kind.map(acceptance_kind_text))
    .bind(c.accepted_on.map(|d| d.to_string()))
    .bind(c.due_date.map(|d| d.to_string()))
    .bind(i64::from(c.supplement_pending))
    .bind(c.supplement_due.map(|d| d.to_string()))
    .bind(c.version)
    .bind(i64::from(c.window_approvable))
    .bind(i64::from(c.approved_at_window))
    .bind(&c.decision)
    .bind(&c.decision_text)
    .bind(&c.issue_method)
    .bind(&c.tracking_no)
    .bind(&c.certificate_no)
    .bind(c.assignee_id)
    .bind(c.deadline_pending_year.map(i64::from))
    .bind(c.intake_place_kind.as_str())
    .bind(c.channel.as_str())
    .bind(c.handout_method.as_str())
    .bind(c.handout_org_id)
    .bind(&c.handout_address)
    .bind(c.backfill_accepted_at)
    .bind(&c.backfill_reason)
    .fetch_one(&mut *conn)
    .await?
    .get("id"))
}

fn acceptance_kind_text(k: AcceptanceKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Where a new case goes, as names and paths for its record.
struct Place {
    department_name: String,
    department_path: OrgPath,
    intake_name: String,
    intake_path: OrgPath,
    handout_name: String,
    handout_path: OrgPath,
    creator_name: String,
}

/// The routing rule checked again where the case is written: the department and the
/// hall must lie inside the tree of the organisation owning the item. Why twice (the
/// catalog refuses such a department, intake refuses such a hall): a case routed outside
/// the owner's tree is readable and decidable by the wrong people, and this is the one
/// place every case passes through. The same statement reads the names the record shows.
async fn check_routing(conn: &mut AnyConnection, new: &NewCase) -> Result<Place> {
    let row = sqlx::query(
        "SELECT w.path AS owner_path, d.path AS department_path, d.name AS department_name, \
         h.path AS intake_path, h.name AS intake_name, u.display_name AS creator_name, \
         o.path AS handout_path, o.name AS handout_name, o.kind AS handout_kind \
         FROM catalog_items i JOIN orgs w ON w.id = i.owner_org_id \
         JOIN orgs d ON d.id = $2 JOIN orgs h ON h.id = $3 JOIN users u ON u.id = $4 \
         JOIN orgs o ON o.id = $5 WHERE i.code = $1",
    )
    .bind(&new.item_code)
    .bind(new.department_id)
    .bind(new.intake_org_id)
    .bind(new.creator_id)
    .bind(new.handout.org_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let path = |col: &str| OrgPath::from_stored(row.get(col));
    onewindow_domain::access::check_item_routing(
        &path("owner_path"),
        &path("department_path"),
        &path("intake_path"),
    )
    .map_err(|e| StoreError::invalid("item_code", e.code(), e.to_string()))?;
    // The result is handed out inside the owner's tree too, at a hall or station.
    let handout_kind = onewindow_domain::org::OrgKind::parse(&row.get::<String, _>("handout_kind"));
    let handout_path = path("handout_path");
    if new.handout.org_id != new.intake_org_id {
        if !path("owner_path").contains(&handout_path) {
            return Err(StoreError::invalid(
                "handout_place",
                "item_not_handed_out_here",
                "所选领取地点不在该事项的办理范围内",
            ));
        }
        if !handout_kind.is_some_and(onewindow_domain::places::hands_out) {
            return Err(StoreError::invalid(
                "handout_place",
                "not_a_handout_place",
                "所选领取地点不是办事大厅或社区服务站",
            ));
        }
    }
    Ok(Place {
        handout_name: row.get("handout_name"),
        handout_path,
        department_name: row.get("department_name"),
        department_path: path("department_path"),
        intake_name: row.get("intake_name"),
        intake_path: path("intake_path"),
        creator_name: row.get("creator_name"),
    })
}

/// A case event to record.
struct NewEvent<'a> {
    actor: &'a str,
    action: &'a str,
    from: Option<CaseState>,
    to: CaseState,
    note: &'a str,
}

impl<'a> NewEvent<'a> {
    fn of(change: &'a Change, step: &'a Step) -> Self {
        NewEvent {
            actor: &change.who.label,
            action: step.action,
            from: Some(step.from),
            to: step.to,
            note: &step.note,
        }
    }
}

pub(crate) async fn record_event(
    conn: &mut AnyConnection,
    change: &Change,
    case_id: i64,
    action: &str,
    from: Option<CaseState>,
    to: CaseState,
    note: &str,
) -> Result<()> {
    let event = NewEvent {
        actor: &change.who.label,
        action,
        from,
        to,
        note,
    };
    record_events(conn, case_id, change.at, &[event]).await
}

/// Records events of one case, in order, in one statement.
async fn record_events(
    conn: &mut AnyConnection,
    case_id: i64,
    at: i64,
    events: &[NewEvent<'_>],
) -> Result<()> {
    let mut sql = String::from(
        "INSERT INTO case_events (case_id, at, actor, action, from_state, to_state, note) VALUES ",
    );
    crate::audit::push_placeholders(&mut sql, events.len(), 7);
    let mut q = sqlx::query(&sql);
    for e in events {
        q = q
            .bind(case_id)
            .bind(at)
            .bind(e.actor)
            .bind(e.action)
            .bind(e.from.map(|s| s.as_str()))
            .bind(e.to.as_str())
            .bind(e.note);
    }
    q.execute(conn).await?;
    Ok(())
}

/// Applies one action to a case. `expected_version` is the version the actor saw (None for
/// the system and for intake's own steps).
///
/// Four statements on PostgreSQL, six on SQLite: read the case (locked), write it with
/// the version check, its event, its audit event (which on SQLite also moves the chain
/// head). The answer is the record as written — nothing it shows can have changed since,
/// so it is not read back.
#[allow(clippy::too_many_arguments)]
pub async fn transition(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    today: NaiveDate,
    case_id: i64,
    expected_version: Option<i64>,
    performer: Performer,
    action: &CaseAction,
) -> Result<CaseRecord> {
    // Lock only the case row: a plain FOR UPDATE would also lock the joined orgs and user.
    let lock = match change.backend {
        crate::Backend::Postgres => " FOR UPDATE OF c",
        crate::Backend::Sqlite => "",
    };
    let case = sqlx::query(&format!("{SELECT} WHERE c.id = $1{lock}"))
        .bind(case_id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| from_row(&r))
        .ok_or(StoreError::NotFound)?;
    if expected_version.is_some_and(|v| v != case.version) {
        return Err(StoreError::version_conflict(CASE));
    }
    // Only issuance reads what is unpaid (the case row is locked, so no payment or refund
    // of this case commits in between).
    let unpaid_fee = match action {
        CaseAction::Issue { .. } => {
            crate::fees::unpaid_before_issue(&mut *conn, case.id, case.item_version_id).await?
        }
        _ => onewindow_domain::fees::Fen::ZERO,
    };
    let step = plan_step(&case, change, cal, today, performer, action, unpaid_fee)?;
    write_state(&mut *conn, change, &step.case).await?;
    record_events(
        &mut *conn,
        case_id,
        change.at,
        &[NewEvent::of(change, &step)],
    )
    .await?;
    audit::append(
        &mut *conn,
        change,
        &format!("case.{}", step.action),
        "case",
        &case.case_no,
        &step.audit_detail(),
    )
    .await?;
    if matches!(action, CaseAction::Issue { .. }) {
        // The 一次办结 rollup, by the visits recorded so far (`visits`).
        crate::visits::count_issued(
            &mut *conn,
            case_id,
            today,
            step.case.intake_org_id,
            &step.case.item_code,
        )
        .await?;
        // Counted finished for 好差评 coverage; the invitation to rate pending.
        crate::ratings::on_case_finished(&mut *conn, change, case_id).await?;
    }
    Ok(step.case)
}

/// One action worked out in memory: the case after it, and what to record about it.
struct Step {
    case: CaseRecord,
    action: &'static str,
    from: CaseState,
    to: CaseState,
    note: String,
    detail: serde_json::Value,
}

impl Step {
    fn audit_detail(&self) -> serde_json::Value {
        json!({ "from": self.from.as_str(), "to": self.to.as_str(), "action": self.detail, "version": self.case.version })
    }
}

/// Asks the state machine about `action` on `case` and applies its answer to a copy:
/// the one place that turns a transition into field changes, for intake and every later
/// step alike. `unpaid_fee` is the fee still owed before issuance (`fees`).
#[allow(clippy::too_many_arguments)]
fn plan_step(
    case: &CaseRecord,
    change: &Change,
    cal: &WorkCalendar,
    today: NaiveDate,
    performer: Performer,
    action: &CaseAction,
    unpaid_fee: onewindow_domain::fees::Fen,
) -> Result<Step> {
    let facts = case.facts(today, unpaid_fee);
    let t = machine::apply(&facts, performer, action).map_err(|e| match e {
        machine::CaseError::Invalid { field, message } => {
            StoreError::invalid(field, "invalid", message)
        }
        other => StoreError::Conflict {
            code: other.code(),
            message: other.to_string(),
        },
    })?;

    let mut c = case.clone();
    c.version = case.version + 1;
    c.updated_at = change.at;
    c.state = t.to;
    if t.pause_starts {
        c.paused_since = Some(today);
    }
    if t.pause_ends {
        if let Some(from) = c.paused_since.take() {
            c.pauses.push((from, today));
        }
    }
    if t.clears_supplement {
        c.supplement_pending = false;
    }
    let mut note = action.label().to_string();
    match action {
        CaseAction::Accept {
            kind,
            supplement_due,
        } => {
            c.acceptance_kind = Some(*kind);
            // A 补录 draft already carries the original acceptance date.
            c.accepted_on = Some(case.accepted_on.unwrap_or(today));
            c.supplement_due = *supplement_due;
            c.supplement_pending = supplement_due.is_some();
            if let Some(d) = supplement_due {
                note = format!("容缺受理，待补材料须于{d}前补齐");
            }
        }
        CaseAction::Refuse { missing } => {
            c.missing = missing.clone();
            note = format!("材料不全，一次性告知需补齐：{}", missing.join("、"));
        }
        CaseAction::Take => c.assignee_id = change.who.user_id,
        CaseAction::SupplementReceived => {
            // The owed 容缺 materials are now in: the checklist says so, not only the flag.
            let owed: Vec<String> = c
                .materials
                .iter_mut()
                .filter(|m| m.is_owed())
                .map(|m| {
                    m.check = MaterialCheck::Submitted;
                    m.name.clone()
                })
                .collect();
            if !owed.is_empty() {
                note = format!("{}：{}", action.label(), owed.join("、"));
            }
        }
        CaseAction::Approve { opinion }
        | CaseAction::CompleteAtWindow { opinion }
        | CaseAction::ApproveAtWindow { opinion } => {
            c.decision = Some("approved".into());
            if matches!(action, CaseAction::ApproveAtWindow { .. }) {
                c.approved_at_window = true;
                c.assignee_id = change.who.user_id;
            }
            c.decision_text = Some(opinion.clone());
            if !opinion.trim().is_empty() {
                note = format!("{}：{opinion}", action.label());
            }
        }
        CaseAction::Reject {
            reasons,
            legal_basis,
        } => {
            c.decision = Some("rejected".into());
            c.decision_text = Some(reasons.clone());
            c.legal_basis = Some(legal_basis.clone());
            note = format!("不予批准：{reasons}（依据：{legal_basis}）");
        }
        CaseAction::Return { reasons, items } => {
            c.missing = items.clone();
            note = format!("退回补正：{reasons}");
        }
        CaseAction::Issue {
            method,
            tracking_no,
            certificate_no,
        } => {
            c.issue_method = Some(
                serde_json::to_value(method)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
            );
            c.tracking_no = tracking_no.clone();
            c.certificate_no = certificate_no.clone();
        }
        CaseAction::Withdraw { reason } => note = format!("申请人撤回：{reason}"),
        _ => {}
    }
    if let (Some(accepted), true) = (c.accepted_on, c.acceptance_kind.is_some()) {
        let open = c.paused_since.map(|from| (from, None));
        let mut pauses: Vec<(NaiveDate, Option<NaiveDate>)> =
            c.pauses.iter().map(|(a, b)| (*a, Some(*b))).collect();
        pauses.extend(open);
        // A year not loaded yet leaves the deadline pending, never the case refused.
        let deadline = machine::deadline(cal, accepted, c.limit_days as u32, &pauses, today)
            .map_err(|e| StoreError::invalid("calendar", e.code(), e.to_string()))?;
        c.due_date = deadline.due();
        c.deadline_pending_year = deadline.pending_year();
    }
    Ok(Step {
        case: c,
        action: action.name(),
        from: t.from,
        to: t.to,
        note,
        detail: serde_json::to_value(action).expect("actions serialise"),
    })
}

/// Writes a planned case over the stored one, if nobody changed it meanwhile.
async fn write_state(conn: &mut AnyConnection, change: &Change, c: &CaseRecord) -> Result<()> {
    let changed = sqlx::query(
        "UPDATE cases SET state = $1, acceptance_kind = $2, accepted_on = $3, due_date = $4, supplement_pending = $5, \
         supplement_due = $6, paused_since = $7, pauses = $8, missing = $9, decision = $10, decision_text = $11, legal_basis = $12, \
         issue_method = $13, tracking_no = $14, certificate_no = $15, assignee_id = $16, updated_at = $17, materials = $18, \
         deadline_pending_year = $21, version = version + 1 WHERE id = $19 AND version = $20",
    )
    .bind(c.state.as_str())
    .bind(c.acceptance_kind.map(acceptance_kind_text))
    .bind(c.accepted_on.map(|d| d.to_string()))
    .bind(c.due_date.map(|d| d.to_string()))
    .bind(i64::from(c.supplement_pending))
    .bind(c.supplement_due.map(|d| d.to_string()))
    .bind(c.paused_since.map(|d| d.to_string()))
    .bind(serde_json::to_string(&c.pauses).expect("pauses serialise"))
    .bind(serde_json::to_string(&c.missing).expect("list serialises"))
    .bind(&c.decision)
    .bind(&c.decision_text)
    .bind(&c.legal_basis)
    .bind(&c.issue_method)
    .bind(&c.tracking_no)
    .bind(&c.certificate_no)
    .bind(c.assignee_id)
    .bind(change.at)
    .bind(serde_json::to_string(&c.materials).expect("materials serialise"))
    .bind(c.id)
    .bind(c.version - 1)
    .bind(c.deadline_pending_year.map(i64::from))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    crate::error::optimistic(changed, CASE)
}

/// What a case's version conflict names.
const CASE: &str = "该办件";

/// Background deadline work, safe to run on several instances at once: each step is a
/// conditional update that only one runner can win, so nothing is processed twice.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct DeadlineRun {
    pub marked_overdue: Vec<String>,
    pub lapsed: Vec<String>,
}

/// States as an SQL list (`'accepted','routed'`): the domain's state sets, never a copy.
/// The names are the machine's own constants, so inlining them is safe.
fn state_list(states: &[CaseState]) -> String {
    states
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

pub async fn run_deadlines(
    store: &crate::Store,
    change: &Change,
    cal: &WorkCalendar,
    today: NaiveDate,
) -> Result<DeadlineRun> {
    let mut out = DeadlineRun::default();
    let overdue = sqlx::query(&format!(
        "SELECT id, case_no FROM cases WHERE overdue = 0 AND state IN ({}) \
             AND due_date IS NOT NULL AND due_date < $1 ORDER BY id LIMIT 500",
        state_list(&CaseState::clock_running_states())
    ))
    .bind(today.to_string())
    .fetch_all(store.reader())
    .await?;
    for r in overdue {
        let (id, no): (i64, String) = (r.get("id"), r.get("case_no"));
        let mut tx = store.begin().await?;
        let won = sqlx::query("UPDATE cases SET overdue = 1 WHERE id = $1 AND overdue = 0")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if won == 1 {
            let state: String = sqlx::query("SELECT state FROM cases WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
                .get("state");
            let state = CaseState::parse(&state).unwrap_or(CaseState::Draft);
            record_event(
                &mut tx,
                change,
                id,
                "overdue",
                Some(state),
                state,
                "已超过承诺办理时限",
            )
            .await?;
            audit::append(
                &mut tx,
                change,
                "case.overdue",
                "case",
                &no,
                &json!({ "today": today.to_string() }),
            )
            .await?;
            tx.commit().await?;
            out.marked_overdue.push(no);
        }
    }
    let lapsing = sqlx::query(&format!(
        "SELECT id, case_no FROM cases WHERE supplement_pending = 1 AND supplement_due < $1 \
             AND state IN ({}) ORDER BY id LIMIT 500",
        state_list(&CaseState::lapsable_states())
    ))
    .bind(today.to_string())
    .fetch_all(store.reader())
    .await?;
    for r in lapsing {
        let (id, no): (i64, String) = (r.get("id"), r.get("case_no"));
        let mut tx = store.begin().await?;
        match transition(
            &mut tx,
            change,
            cal,
            today,
            id,
            None,
            Performer::System,
            &CaseAction::Lapse,
        )
        .await
        {
            Ok(_) => {
                tx.commit().await?;
                out.lapsed.push(no);
            }
            // Another instance got there first, or the supplement arrived meanwhile.
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
