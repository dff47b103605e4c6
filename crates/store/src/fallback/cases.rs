//! Fallback cases: intake, the acts of the closed loop, department tasks and their answers,
//! joint meetings, experts invited, and the chain of events. The order of the loop and
//! who may act are `onewindow_domain::fallback` (`next_state`, `may_act`); this module
//! keeps the records.
//!
//! Each act is one transaction: the case row (optimistic `version`), its event, the
//! engine's step (`escalation::track`/`advance_stage[_from]`/`extend`/`close`), the audit
//! entry, the notices, and the rollup counters of the figures.

use super::rollup::{self, Dim};
use crate::audit::{self, Change};
use crate::escalation::{self, NewTracked};
use crate::notices::{self, NewNotice, Recipient};
use crate::{Result, StoreError};
use onewindow_domain::access::Role;
use onewindow_domain::calendar::WorkCalendar;
use onewindow_domain::escalation::{DeadlineRule, NoticeKind, Schedule};
use onewindow_domain::fallback::figures::Metric;
use onewindow_domain::fallback::{
    self as rules, Act, Acting, CaseFacts, CaseType, Channel, ExtensionState, IntakeTest, Limits,
    Outcome, ResponseTier, State, TaskAnswer, TaskState,
};
use onewindow_domain::org::OrgPath;
use onewindow_domain::validation::{check_text, FieldErrors};
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

/// The limits from settings (`fallback.*`).
pub async fn limits(pool: &AnyPool) -> Result<Limits> {
    let [accept, respond, coordinate, close, close_joint, close_group, feedback, verify, file, rounds, extension] =
        crate::settings::get_ints(
            pool,
            [
                "fallback.accept_hours",
                "fallback.respond_hours",
                "fallback.coordinate_days",
                "fallback.close_days",
                "fallback.close_days_joint_meeting",
                "fallback.close_days_leading_group",
                "fallback.feedback_days",
                "fallback.verify_days",
                "fallback.file_days",
                "fallback.max_rounds_per_tier",
                "fallback.max_extension_days",
            ],
        )
        .await?;
    let u = |v: i64| v.clamp(1, i64::from(u32::MAX)) as u32;
    Ok(Limits {
        accept_hours: u(accept),
        respond_hours: u(respond),
        coordinate_days: u(coordinate),
        close_days: u(close),
        close_days_joint_meeting: u(close_joint),
        close_days_leading_group: u(close_group),
        feedback_days: u(feedback),
        verify_days: u(verify),
        file_days: u(file),
        max_rounds_per_tier: u(rounds),
        max_extension_days: u(extension),
    })
}

/// Registers (or refreshes) the engine kind with the current limits.
pub async fn register_kind(
    conn: &mut AnyConnection,
    change: &Change,
    limits: Limits,
) -> Result<()> {
    escalation::register_kind(conn, change, &rules::case_kind(limits)).await
}

/// A case to take in.
#[derive(Debug, Clone)]
pub struct NewCase {
    /// The window's organisation (the case belongs to it).
    pub org_id: i64,
    pub channel: Channel,
    pub case_type: CaseType,
    /// The 12345 system's own id of a hand-over.
    pub external_id: Option<String>,
    pub title: String,
    pub description: String,
    pub person_name: String,
    pub person_phone: String,
    pub company_name: String,
    pub test: IntakeTest,
}

/// A fallback case as stored, with its owner's and organisation's names.
#[derive(Debug, Clone, Serialize)]
pub struct FallbackCase {
    pub id: i64,
    pub case_no: String,
    #[serde(skip)]
    pub query_code: String,
    pub org_id: i64,
    pub org_name: String,
    #[serde(skip)]
    pub org_path: OrgPath,
    pub case_type: CaseType,
    pub channel: Channel,
    pub external_id: Option<String>,
    pub state: State,
    pub tier: ResponseTier,
    pub rounds_in_tier: i64,
    pub rounds_total: i64,
    pub title: String,
    pub description: String,
    pub person_name: String,
    pub person_phone: String,
    pub company_name: String,
    pub test: IntakeTest,
    pub tags: Vec<String>,
    pub owner_user_id: Option<i64>,
    pub owner_name: Option<String>,
    pub received_at: i64,
    pub accept_due_at: Option<i64>,
    pub responded_at: Option<i64>,
    pub respond_due_at: Option<i64>,
    pub coordinated_at: Option<i64>,
    pub coordinate_due_at: Option<i64>,
    pub close_due_at: Option<i64>,
    pub extension_state: ExtensionState,
    pub extended_days: Option<i64>,
    pub extension_reason: Option<String>,
    pub concluded_at: Option<i64>,
    pub outcome: Option<Outcome>,
    pub outcome_reason: Option<String>,
    pub conclusion: Option<String>,
    pub fed_back_at: Option<i64>,
    pub feedback_way: Option<String>,
    pub feedback_text: Option<String>,
    pub satisfaction: Option<String>,
    pub verified_at: Option<i64>,
    pub verified_by: Option<i64>,
    pub verify_note: Option<String>,
    pub filed_at: Option<i64>,
    pub refused_at: Option<i64>,
    pub refusal_entry_id: Option<i64>,
    pub refusal_reason: Option<String>,
    pub refusal_channel: Option<String>,
    pub tracked_item_id: Option<i64>,
    /// When the first department task went out (转办), if any did.
    pub first_round_at: Option<i64>,
    pub version: i64,
}

const SELECT: &str = "SELECT c.*, o.name AS org_name, o.path AS org_path, \
    (SELECT MIN(t.sent_at) FROM fallback_tasks t WHERE t.case_id = c.id) AS first_round_at, \
    u.display_name AS owner_name FROM fallback_cases c JOIN orgs o ON o.id = c.org_id \
    LEFT JOIN users u ON u.id = c.owner_user_id";

fn from_row(r: &AnyRow) -> FallbackCase {
    let text = |c: &str| r.get::<Option<String>, _>(c);
    FallbackCase {
        id: r.get("id"),
        case_no: r.get("case_no"),
        query_code: r.get("query_code"),
        org_id: r.get("org_id"),
        org_name: r.get("org_name"),
        org_path: OrgPath::from_stored(r.get("org_path")),
        case_type: CaseType::parse(&r.get::<String, _>("case_type"))
            .unwrap_or(CaseType::Coordination),
        channel: Channel::parse(&r.get::<String, _>("channel")).unwrap_or(Channel::Window),
        external_id: text("external_id"),
        state: State::parse(&r.get::<String, _>("state")).unwrap_or(State::Received),
        tier: ResponseTier::parse(&r.get::<String, _>("tier")).unwrap_or(ResponseTier::Window),
        rounds_in_tier: r.get("rounds_in_tier"),
        rounds_total: r.get("rounds_total"),
        title: r.get("title"),
        description: r.get("description"),
        person_name: r.get("person_name"),
        person_phone: r.get("person_phone"),
        company_name: r.get("company_name"),
        test: IntakeTest {
            tried_ordinary: true,
            tried_what: r.get("tried_what"),
            tried_where: r.get("tried_where"),
            linked_ref: r.get("linked_ref"),
            multi_department: r.get::<i64, _>("multi_department") == 1,
            policy_room: r.get::<i64, _>("policy_room") == 1,
        },
        tags: serde_json::from_str(&r.get::<String, _>("tags")).unwrap_or_default(),
        owner_user_id: r.get("owner_user_id"),
        owner_name: text("owner_name"),
        received_at: r.get("received_at"),
        accept_due_at: r.get("accept_due_at"),
        responded_at: r.get("responded_at"),
        respond_due_at: r.get("respond_due_at"),
        coordinated_at: r.get("coordinated_at"),
        coordinate_due_at: r.get("coordinate_due_at"),
        close_due_at: r.get("close_due_at"),
        extension_state: ExtensionState::parse(&r.get::<String, _>("extension_state"))
            .unwrap_or(ExtensionState::None),
        extended_days: r.get("extended_days"),
        extension_reason: text("extension_reason"),
        concluded_at: r.get("concluded_at"),
        outcome: text("outcome").and_then(|o| Outcome::parse(&o)),
        outcome_reason: text("outcome_reason"),
        conclusion: text("conclusion"),
        fed_back_at: r.get("fed_back_at"),
        feedback_way: text("feedback_way"),
        feedback_text: text("feedback_text"),
        satisfaction: text("satisfaction"),
        verified_at: r.get("verified_at"),
        verified_by: r.get("verified_by"),
        verify_note: text("verify_note"),
        filed_at: r.get("filed_at"),
        refused_at: r.get("refused_at"),
        refusal_entry_id: r.get("refusal_entry_id"),
        refusal_reason: text("refusal_reason"),
        refusal_channel: text("refusal_channel"),
        tracked_item_id: r.get("tracked_item_id"),
        first_round_at: r.get("first_round_at"),
        version: r.get("version"),
    }
}

pub async fn get<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    e: E,
    id: i64,
) -> Result<FallbackCase> {
    sqlx::query(&format!("{SELECT} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(|r| from_row(&r))
        .ok_or(StoreError::NotFound)
}

pub async fn by_case_no(pool: &AnyPool, case_no: &str) -> Result<FallbackCase> {
    sqlx::query(&format!("{SELECT} WHERE c.case_no = $1"))
        .bind(case_no.trim().to_ascii_uppercase())
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r))
        .ok_or(StoreError::NotFound)
}

/// The case a person follows with its number and query code; a wrong code is no case.
pub async fn for_person(pool: &AnyPool, case_no: &str, query_code: &str) -> Result<FallbackCase> {
    let case = by_case_no(pool, case_no).await?;
    if onewindow_domain::cases::query_code_matches(query_code, &case.query_code) {
        Ok(case)
    } else {
        Err(StoreError::NotFound)
    }
}

pub async fn by_external_id(pool: &AnyPool, external_id: &str) -> Result<Option<FallbackCase>> {
    Ok(sqlx::query(&format!("{SELECT} WHERE c.external_id = $1"))
        .bind(external_id)
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r)))
}

/// Which cases a list shows.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub state: Option<State>,
    /// Only open cases (not filed, refused or returned).
    pub open: bool,
    pub owner_user_id: Option<i64>,
    /// Cases with an id below this (keyset, newest first).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Cases of windows inside `scope`, newest first, one page (keyset on id).
pub async fn list(pool: &AnyPool, scope: &OrgPath, f: &CaseFilter) -> Result<Vec<FallbackCase>> {
    let mut sql = format!("{SELECT} WHERE o.path >= $1 AND o.path < $2");
    let mut n = 2;
    let mut next = |sql: &mut String, cond: &str| {
        n += 1;
        sql.push_str(&cond.replace('?', &format!("${n}")));
    };
    if f.state.is_some() {
        next(&mut sql, " AND c.state = ?");
    }
    if f.open {
        sql.push_str(" AND c.state NOT IN ('filed', 'refused', 'returned')");
    }
    if f.owner_user_id.is_some() {
        next(&mut sql, " AND c.owner_user_id = ?");
    }
    if f.before_id.is_some() {
        next(&mut sql, " AND c.id < ?");
    }
    next(&mut sql, " ORDER BY c.id DESC LIMIT ?");
    let mut q = sqlx::query(&sql)
        .bind(scope.as_str())
        .bind(crate::path_upper_bound(scope.as_str()));
    if let Some(s) = f.state {
        q = q.bind(s.as_str());
    }
    if let Some(u) = f.owner_user_id {
        q = q.bind(u);
    }
    if let Some(b) = f.before_id {
        q = q.bind(b);
    }
    let rows = q.bind(f.limit.clamp(1, 200)).fetch_all(pool).await?;
    Ok(rows.iter().map(from_row).collect())
}

fn invalid_all(errors: FieldErrors) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(errors))
    }
}

fn check_new(new: &NewCase) -> Result<()> {
    let mut errors = FieldErrors::new();
    for (field, label, value, limit, needed) in [
        ("title", "问题概要", &new.title, rules::TITLE, true),
        (
            "description",
            "问题详情",
            &new.description,
            rules::DESCRIPTION,
            true,
        ),
        (
            "person_name",
            "反映人姓名",
            &new.person_name,
            rules::SHORT,
            true,
        ),
        (
            "company_name",
            "企业名称",
            &new.company_name,
            rules::SHORT,
            false,
        ),
        (
            "tried_what",
            "已办理的事项",
            &new.test.tried_what,
            rules::REASON,
            false,
        ),
        (
            "tried_where",
            "已找过的窗口或部门",
            &new.test.tried_where,
            rules::CHANNEL_TEXT,
            false,
        ),
        (
            "linked_ref",
            "关联办件或诉求编号",
            &new.test.linked_ref,
            rules::SHORT,
            false,
        ),
    ] {
        errors.text(field, label, value, limit);
        if needed && value.trim().is_empty() {
            errors.add(field, "required", format!("请填写{label}"));
        }
    }
    if onewindow_domain::ids::MobileNumber::parse(&new.person_phone).is_err() {
        errors.add(
            "person_phone",
            "invalid_phone",
            "请填写11位手机号码，用于告知办理进度和结果",
        );
    }
    if let Some(ext) = &new.external_id {
        errors.text("external_id", "12345工单编号", ext, rules::SHORT);
        if ext.trim().is_empty() {
            errors.add("external_id", "required", "请填写12345工单编号");
        }
    }
    if new.channel == Channel::Hotline && new.external_id.is_none() {
        errors.add("external_id", "required", "12345转办须带工单编号");
    }
    // A 12345 hand-over is tested when the officer accepts it; the others at intake.
    if new.channel != Channel::Hotline {
        if let Err(failed) = rules::check_intake(new.case_type, &new.test) {
            for e in failed {
                let message = if new.channel == Channel::Online {
                    e.resident_message().to_string()
                } else {
                    e.to_string()
                };
                errors.add(e.field(), e.code(), message);
            }
        }
    }
    invalid_all(errors)
}

fn due(rule: DeadlineRule, cal: &WorkCalendar, from: i64) -> Option<i64> {
    match rule.schedule(cal, from, 0) {
        Ok(Schedule::Due { due_at, .. }) => Some(due_at),
        _ => None,
    }
}

fn day_of(at: i64) -> String {
    crate::clock::local_date(at).to_string()
}

/// Takes a case in. At the window or by phone the officer taking it owns it (首接负责);
/// an online case waits for the first officer to take it; a 12345 hand-over for one to
/// accept it (24 hours). Starts the engine and counts the receipt.
pub async fn intake(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    limits: Limits,
    new: &NewCase,
    owner: Option<i64>,
    entropy: u64,
) -> Result<FallbackCase> {
    check_new(new)?;
    // A case it follows must exist: the link is what lets staff read what was tried.
    let linked = new.test.linked_ref.trim();
    if onewindow_domain::cases::parse_case_number(linked).is_some() {
        let found = sqlx::query("SELECT id FROM cases WHERE case_no = $1")
            .bind(linked.to_ascii_uppercase())
            .fetch_optional(&mut *conn)
            .await?;
        if found.is_none() {
            return Err(StoreError::invalid(
                "linked_ref",
                "unknown_case",
                format!("没有办件编号为{linked}的办件，请核对"),
            ));
        }
    }
    let org = crate::orgs::get(&mut *conn, new.org_id).await?;
    let today = crate::clock::local_date(change.at);
    let seq: i64 = sqlx::query(
        "INSERT INTO fallback_counters (day, seq) VALUES ($1, 1) ON CONFLICT (day) \
         DO UPDATE SET seq = fallback_counters.seq + 1 RETURNING seq",
    )
    .bind(today.to_string())
    .fetch_one(&mut *conn)
    .await?
    .get("seq");
    let case_no = rules::case_number(today, seq as u32);
    let (state, stage) = if new.channel == Channel::Hotline {
        (State::HandedOver, rules::STAGE_ACCEPT)
    } else {
        (State::Received, rules::STAGE_RESPOND)
    };
    let at = change.at;
    let accept_due = (state == State::HandedOver)
        .then(|| due(DeadlineRule::Hours(limits.accept_hours), cal, at))
        .flatten();
    let respond_due = (state == State::Received)
        .then(|| due(DeadlineRule::Hours(limits.respond_hours), cal, at))
        .flatten();
    let close_due = due(DeadlineRule::WorkingDays(limits.close_days), cal, at);
    let owner = if new.channel == Channel::Hotline || new.channel == Channel::Online {
        None
    } else {
        owner
    };
    let external = new.external_id.as_ref().map(|e| e.trim().to_string());
    let inserted = sqlx::query(
        "INSERT INTO fallback_cases (case_no, query_code, org_id, case_type, channel, external_id, \
         state, tier, title, description, person_name, person_phone, company_name, tried_what, \
         tried_where, linked_ref, multi_department, policy_room, tags, owner_user_id, received_at, \
         accept_due_at, respond_due_at, close_due_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, \
         $7, 'window', $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, '[]', $18, $19, $20, $21, \
         $22, $23) ON CONFLICT (external_id) DO NOTHING RETURNING id",
    )
    .bind(&case_no)
    .bind(onewindow_domain::cases::query_code(entropy))
    .bind(org.id)
    .bind(new.case_type.as_str())
    .bind(new.channel.as_str())
    .bind(&external)
    .bind(state.as_str())
    .bind(new.title.trim())
    .bind(new.description.trim())
    .bind(new.person_name.trim())
    .bind(new.person_phone.trim())
    .bind(new.company_name.trim())
    .bind(new.test.tried_what.trim())
    .bind(new.test.tried_where.trim())
    .bind(new.test.linked_ref.trim())
    .bind(i64::from(new.test.multi_department))
    .bind(i64::from(new.test.policy_room))
    .bind(owner)
    .bind(at)
    .bind(accept_due)
    .bind(respond_due)
    .bind(close_due)
    .bind(change.who.user_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = inserted else {
        return Err(StoreError::Conflict {
            code: "already_handed_over",
            message: "该12345工单已转办到本窗口".into(),
        });
    };
    let id: i64 = row.get("id");
    register_kind(conn, change, limits).await?;
    let item = escalation::track(
        conn,
        change,
        cal,
        &NewTracked {
            kind: rules::KIND.into(),
            subject_ref: id.to_string(),
            title: format!("办不成事 {case_no}"),
            link: format!("/fallback/cases/{id}"),
            owner_org_id: org.id,
            stage: stage.into(),
        },
    )
    .await?;
    sqlx::query("UPDATE fallback_cases SET tracked_item_id = $1 WHERE id = $2")
        .bind(item.id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let detail = json!({ "case_no": case_no, "channel": new.channel.as_str(),
        "case_type": new.case_type.as_str(), "external_id": external, "owner": owner,
        "test": new.test });
    record_event(conn, change, id, "intake", &detail).await?;
    audit::append(
        conn,
        change,
        "fallback.intake",
        "fallback_case",
        &case_no,
        &detail,
    )
    .await?;
    rollup::bump(conn, Dim::Org(org.id), &day_of(at), Metric::Received, 1).await?;
    get(&mut *conn, id).await
}

async fn record_event(
    conn: &mut AnyConnection,
    change: &Change,
    case_id: i64,
    action: &str,
    detail: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO fallback_events (case_id, at, action, actor_id, actor, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(case_id)
    .bind(change.at)
    .bind(action)
    .bind(change.who.user_id)
    .bind(&change.who.label)
    .bind(detail.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Tells `recipient` about a case (站内通知), the text cut to a notice's length.
async fn tell(
    conn: &mut AnyConnection,
    change: &Change,
    recipient: Recipient,
    text: String,
    link: String,
    item_id: Option<i64>,
) -> Result<()> {
    let text = text
        .chars()
        .take(onewindow_domain::escalation::NOTICE_TEXT.max)
        .collect();
    let kind = NoticeKind::Assignment;
    let notice = NewNotice {
        recipient,
        kind,
        text,
        link,
        item_id,
    };
    notices::add(conn, change, &notice).await?;
    Ok(())
}

/// One entry of a case's chain (一案一链).
#[derive(Debug, Clone, Serialize)]
pub struct CaseEvent {
    pub at: i64,
    pub action: String,
    pub actor: String,
    pub detail: serde_json::Value,
}

pub async fn events(pool: &AnyPool, case_id: i64) -> Result<Vec<CaseEvent>> {
    let rows = sqlx::query(
        "SELECT e.at, e.action, COALESCE(u.display_name, e.actor) AS actor, e.detail \
         FROM fallback_events e LEFT JOIN users u ON u.id = e.actor_id \
         WHERE e.case_id = $1 ORDER BY e.id",
    )
    .bind(case_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| CaseEvent {
            at: r.get("at"),
            action: r.get("action"),
            actor: r.get("actor"),
            detail: serde_json::from_str(&r.get::<String, _>("detail")).unwrap_or_default(),
        })
        .collect())
}

async fn open_tasks(conn: &mut AnyConnection, case_id: i64) -> Result<u32> {
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM fallback_tasks WHERE case_id = $1 AND state = 'sent'",
    )
    .bind(case_id)
    .fetch_one(&mut *conn)
    .await?
    .get("n");
    Ok(n as u32)
}

fn not_yours(e: rules::NotYours) -> StoreError {
    StoreError::Forbidden {
        code: e.code(),
        message: e.to_string(),
    }
}

fn conflict_or_invalid(e: rules::ActError) -> StoreError {
    if e.is_conflict() {
        StoreError::Conflict {
            code: e.code(),
            message: e.to_string(),
        }
    } else {
        StoreError::invalid(e.field(), e.code(), e.to_string())
    }
}

/// A column update of an act: (column, value).
enum Val {
    Int(Option<i64>),
    Text(Option<String>),
}

fn text(s: &str) -> Val {
    Val::Text(Some(s.trim().to_string()))
}

/// Takes `act` on case `id` by `who` (authorised by the caller for the permission at the
/// case's organisation; whose case it is, is decided here by `rules::may_act`).
#[allow(clippy::too_many_arguments)]
pub async fn act(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    limits: Limits,
    id: i64,
    version: Option<i64>,
    who: Acting,
    act: &Act,
) -> Result<FallbackCase> {
    act.check_sizes().map_err(conflict_or_invalid)?;
    let mut errors = FieldErrors::new();
    for (field, label, value, limit) in act.texts() {
        if let Err(e) = check_text(field, label, value, limit) {
            errors.0.push(e);
        }
    }
    invalid_all(errors)?;
    let lock = change.backend.for_update();
    sqlx::query(&format!(
        "SELECT id FROM fallback_cases WHERE id = $1{lock}"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let case = get(&mut *conn, id).await?;
    if version.is_some_and(|v| v != case.version) {
        return Err(StoreError::version_conflict("该案件"));
    }
    rules::may_act(
        act,
        who,
        case.owner_user_id,
        case.owner_name.as_deref().unwrap_or("其他专员"),
        case.tier,
    )
    .map_err(not_yours)?;
    if let (Act::Take, Some(owner)) = (act, &case.owner_name) {
        return Err(StoreError::Conflict {
            code: "already_taken",
            message: format!("该案件已由{owner}认领并负责"),
        });
    }
    let facts = CaseFacts {
        state: case.state,
        tier: case.tier,
        owner_user_id: case.owner_user_id,
        rounds_in_tier: case.rounds_in_tier as u32,
        open_tasks: open_tasks(conn, id).await?,
        extension: case.extension_state,
    };
    let next = rules::next_state(&facts, act, &limits).map_err(conflict_or_invalid)?;
    let at = change.at;
    let today = day_of(at);
    let org = Dim::Org(case.org_id);
    let mut set: Vec<(&str, Val)> = vec![];
    let mut detail = serde_json::to_value(act).unwrap_or_default();
    let item = case.tracked_item_id;
    match act {
        Act::Accept => {
            if let Err(failed) = rules::check_intake(case.case_type, &case.test) {
                let mut errors = FieldErrors::new();
                for e in failed {
                    errors.add(e.field(), e.code(), e.to_string());
                }
                return Err(StoreError::Invalid(errors));
            }
            set.push(("owner_user_id", Val::Int(Some(who.user_id))));
            set.push((
                "respond_due_at",
                Val::Int(due(DeadlineRule::Hours(limits.respond_hours), cal, at)),
            ));
        }
        Act::Take => set.push(("owner_user_id", Val::Int(Some(who.user_id)))),
        Act::Return { reason } => {
            set.push(("refused_at", Val::Int(Some(at))));
            set.push(("refusal_reason", text(reason)));
            rollup::bump(conn, org, &today, Metric::Refused, 1).await?;
        }
        Act::Refuse {
            entry_id,
            reason,
            right_channel,
        } => {
            if let Some(entry) = entry_id {
                let entry = super::reference::negative_entry(&mut *conn, *entry).await?;
                if !entry.org_path.contains(&case.org_path) {
                    return Err(StoreError::invalid(
                        "entry_id",
                        "not_applicable",
                        "该负面清单条目不适用于本窗口",
                    ));
                }
                detail["entry_title"] = json!(entry.title);
            }
            set.push(("refused_at", Val::Int(Some(at))));
            set.push(("refusal_entry_id", Val::Int(*entry_id)));
            set.push(("refusal_reason", text(reason)));
            set.push(("refusal_channel", text(right_channel)));
            rollup::bump(conn, org, &today, Metric::Refused, 1).await?;
        }
        Act::HandOver { to_user_id, .. } => {
            if Some(*to_user_id) == case.owner_user_id {
                return Err(StoreError::invalid(
                    "to_user_id",
                    "hand_over_to_self",
                    rules::ActError::HandOverToSelf.to_string(),
                ));
            }
            let to = crate::users::get(&mut *conn, *to_user_id)
                .await
                .map_err(|_| {
                    StoreError::invalid("to_user_id", "unknown_user", "没有这位工作人员")
                })?;
            if !to.active
                || !to.roles.contains(&Role::FallbackOfficer)
                || !to.org_path.contains(&case.org_path)
            {
                return Err(StoreError::invalid(
                    "to_user_id",
                    "not_an_officer",
                    "只能移交给本窗口的办不成事窗口专员",
                ));
            }
            detail["from_user_id"] = json!(case.owner_user_id);
            detail["to_name"] = json!(to.display_name);
            set.push(("owner_user_id", Val::Int(Some(to.id))));
            tell(
                conn,
                change,
                Recipient::User(to.id),
                format!(
                    "【移交】办不成事 {} 已移交给您负责：{}",
                    case.case_no, case.title
                ),
                format!("/fallback/cases/{id}"),
                item,
            )
            .await?;
        }
        Act::Classify {
            case_type,
            tags,
            tier,
        } => {
            let tags = clean_tags(tags)?;
            let known = active_tag_names(conn, &case.org_path).await?;
            if let Some(unknown) = tags.iter().find(|t| !known.contains(t)) {
                return Err(StoreError::invalid(
                    "tags",
                    "unknown_tag",
                    format!("“{unknown}”不是现行的问题标签，新标签请由管理员在“清单与专家”中添加"),
                ));
            }
            detail["tags"] = json!(tags);
            set.push(("case_type", text(case_type.as_str())));
            set.push(("tags", Val::Text(Some(json!(tags).to_string()))));
            set.push(("tier", text(tier.as_str())));
            set.push(("responded_at", Val::Int(Some(at))));
            set.push((
                "close_due_at",
                Val::Int(due(
                    DeadlineRule::WorkingDays(limits.close_days_for(*tier)),
                    cal,
                    case.received_at,
                )),
            ));
            set.push((
                "coordinate_due_at",
                Val::Int(due(
                    DeadlineRule::WorkingDays(limits.coordinate_days),
                    cal,
                    at,
                )),
            ));
            rollup::bump(conn, org, &today, Metric::Responded, 1).await?;
            if case.respond_due_at.is_none_or(|d| at <= d) {
                rollup::bump(conn, org, &today, Metric::RespondedOnTime, 1).await?;
            }
        }
        Act::OpenRound {
            departments,
            request,
        } => {
            let round = case.rounds_total + 1;
            let sent = open_round(conn, change, &case, round, departments, request).await?;
            detail["departments"] = json!(sent.as_array().map(|a| a
                .iter()
                .map(|t| t["department_id"].clone())
                .collect::<Vec<_>>()));
            detail["round"] = json!(round);
            detail["tasks"] = json!(sent);
            set.push(("rounds_in_tier", Val::Int(Some(case.rounds_in_tier + 1))));
            set.push(("rounds_total", Val::Int(Some(round))));
        }
        Act::RaiseTier { .. } => {
            let next_tier = case.tier.next().unwrap_or(case.tier);
            detail["from"] = json!(case.tier.as_str());
            detail["to"] = json!(next_tier.as_str());
            set.push((
                "close_due_at",
                Val::Int(due(
                    DeadlineRule::WorkingDays(limits.close_days_for(next_tier)),
                    cal,
                    case.received_at,
                )),
            ));
            set.push(("tier", text(next_tier.as_str())));
            set.push(("rounds_in_tier", Val::Int(Some(0))));
        }
        Act::Coordinated { .. } => {
            set.push(("coordinated_at", Val::Int(Some(at))));
            rollup::bump(conn, org, &today, Metric::Coordinated, 1).await?;
            if case.coordinate_due_at.is_none_or(|d| at <= d) {
                rollup::bump(conn, org, &today, Metric::CoordinatedOnTime, 1).await?;
            }
        }
        Act::AskExtension { days, reason } => {
            set.push(("extension_state", text(ExtensionState::Asked.as_str())));
            set.push(("extended_days", Val::Int(Some(i64::from(*days)))));
            set.push(("extension_reason", text(reason)));
            set.push(("extension_asked_by", Val::Int(Some(who.user_id))));
            tell(
                conn,
                change,
                Recipient::Role {
                    role: Role::Supervisor,
                    org_id: case.org_id,
                    org_path: case.org_path.clone(),
                },
                format!(
                    "【延期申请】办不成事 {} 申请延期{days}个工作日，请审批",
                    case.case_no
                ),
                format!("/fallback/cases/{id}"),
                item,
            )
            .await?;
        }
        Act::DecideExtension { approve, .. } => {
            let state = if *approve {
                ExtensionState::Approved
            } else {
                ExtensionState::Refused
            };
            set.push(("extension_state", text(state.as_str())));
            set.push(("extension_approved_by", Val::Int(Some(who.user_id))));
            if *approve {
                rollup::bump(conn, org, &today, Metric::Extended, 1).await?;
                // The handle stage (办结) is what an extension lengthens; before it starts,
                // the extension is applied when it does.
                if case.state == State::Handling {
                    if let Some(item) = item {
                        apply_extension(conn, change, cal, item, &case).await?;
                    }
                }
            }
        }
        Act::Conclude {
            outcome,
            conclusion,
            reason,
        } => {
            set.push(("concluded_at", Val::Int(Some(at))));
            set.push(("outcome", text(outcome.as_str())));
            set.push(("conclusion", text(conclusion)));
            set.push((
                "outcome_reason",
                Val::Text((!reason.trim().is_empty()).then(|| reason.trim().to_string())),
            ));
            count_conclusion(conn, cal, &case, *outcome, at).await?;
        }
        Act::Feedback { way, text: said } => {
            set.push(("fed_back_at", Val::Int(Some(at))));
            set.push(("feedback_way", text(way.as_str())));
            set.push(("feedback_text", text(said)));
        }
        Act::Verify { note, satisfaction } => {
            set.push(("verified_at", Val::Int(Some(at))));
            set.push(("verified_by", Val::Int(Some(who.user_id))));
            set.push(("verify_note", text(note)));
            // The callback's satisfaction, unless the person rated online first.
            if let (Some(level), None) = (satisfaction, &case.satisfaction) {
                set.push(("satisfaction", text(level.as_str())));
                count_satisfaction(conn, org, &today, *level).await?;
            }
        }
        Act::File => {
            set.push(("filed_at", Val::Int(Some(at))));
            set.push(("filed_by", Val::Int(Some(who.user_id))));
        }
    }
    set.push(("state", text(next.as_str())));
    write_case(conn, &case, set).await?;
    match act {
        // A problem that needs a policy becomes a suggestion with this case behind it.
        Act::Conclude {
            outcome: Outcome::ToPolicy,
            conclusion,
            ..
        } => {
            let suggestion =
                super::library::propose_from_case(conn, change, id, &case.title, conclusion)
                    .await?;
            detail["suggestion_id"] = json!(suggestion);
        }
        // A filed, solved case enters the library (anonymised).
        Act::File => {
            detail["library_entry"] = json!(super::library::index_case(conn, change, id).await?);
        }
        _ => {}
    }
    record_event(conn, change, id, act.name(), &detail).await?;
    audit::append(
        conn,
        change,
        &format!("fallback.{}", act.name()),
        "fallback_case",
        &case.case_no,
        &detail,
    )
    .await?;
    move_engine(conn, change, cal, &limits, &case, next).await?;
    get(&mut *conn, id).await
}

async fn count_satisfaction(
    conn: &mut AnyConnection,
    org: Dim,
    day: &str,
    level: onewindow_domain::ratings::Level,
) -> Result<()> {
    rollup::bump(conn, org, day, Metric::Rated, 1).await?;
    if !level.is_bad() {
        rollup::bump(conn, org, day, Metric::Satisfied, 1).await?;
    }
    Ok(())
}

/// The person rates how the case was handled (online, by number and code, after being
/// told the result; once — a callback's satisfaction recorded at 核查 counts the same).
pub async fn rate_by_person(
    conn: &mut AnyConnection,
    change: &Change,
    id: i64,
    level: onewindow_domain::ratings::Level,
) -> Result<FallbackCase> {
    let lock = change.backend.for_update();
    sqlx::query(&format!(
        "SELECT id FROM fallback_cases WHERE id = $1{lock}"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let case = get(&mut *conn, id).await?;
    rules::may_rate(case.state, case.satisfaction.is_some()).map_err(conflict_or_invalid)?;
    let changed = sqlx::query(
        "UPDATE fallback_cases SET satisfaction = $1, version = version + 1 \
         WHERE id = $2 AND satisfaction IS NULL",
    )
    .bind(level.as_str())
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(conflict_or_invalid(rules::ActError::AlreadyRated));
    }
    count_satisfaction(conn, Dim::Org(case.org_id), &day_of(change.at), level).await?;
    let detail = json!({ "satisfaction": level.as_str(), "by": "person" });
    record_event(conn, change, id, "rated", &detail).await?;
    audit::append(
        conn,
        change,
        "fallback.rated",
        "fallback_case",
        &case.case_no,
        &detail,
    )
    .await?;
    get(&mut *conn, id).await
}

/// Lengthens the 办结 stage of `item` by the case's approved extension.
async fn apply_extension(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    item: i64,
    case: &FallbackCase,
) -> Result<()> {
    let days = case.extended_days.unwrap_or(0) as u32;
    let reason = case.extension_reason.as_deref().unwrap_or("");
    escalation::extend(
        conn,
        change,
        cal,
        item,
        DeadlineRule::WorkingDays(days),
        reason,
    )
    .await?;
    Ok(())
}

/// The engine follows the case: the stage of the new state, or closed when the loop ended.
async fn move_engine(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    limits: &Limits,
    case: &FallbackCase,
    next: State,
) -> Result<()> {
    let Some(item) = case.tracked_item_id else {
        return Ok(());
    };
    match next.stage() {
        None => {
            escalation::close(conn, change, item).await?;
        }
        Some(stage) if Some(stage) != case.state.stage() => {
            if stage == rules::STAGE_HANDLE {
                // 办结 within N working days of receipt, not of the end of coordination.
                escalation::advance_stage_from(conn, change, cal, item, stage, case.received_at)
                    .await?;
                // The kind's stage has the window's limit; a higher tier's is longer.
                let extra = limits
                    .close_days_for(case.tier)
                    .saturating_sub(limits.close_days);
                if extra > 0 {
                    escalation::extend(
                        conn,
                        change,
                        cal,
                        item,
                        DeadlineRule::WorkingDays(extra),
                        case.tier.label(),
                    )
                    .await?;
                }
                if case.extension_state == ExtensionState::Approved {
                    apply_extension(conn, change, cal, item, case).await?;
                }
            } else {
                escalation::advance_stage(conn, change, cal, item, stage).await?;
            }
        }
        Some(_) => {}
    }
    Ok(())
}

async fn write_case(
    conn: &mut AnyConnection,
    case: &FallbackCase,
    set: Vec<(&str, Val)>,
) -> Result<()> {
    let cols: Vec<String> = set
        .iter()
        .enumerate()
        .map(|(i, (c, _))| format!("{c} = ${}", i + 1))
        .collect();
    let n = set.len();
    let sql = format!(
        "UPDATE fallback_cases SET {}, version = version + 1 WHERE id = ${} AND version = ${}",
        cols.join(", "),
        n + 1,
        n + 2
    );
    let mut q = sqlx::query(&sql);
    for (_, v) in set {
        q = match v {
            Val::Int(i) => q.bind(i),
            Val::Text(t) => q.bind(t),
        };
    }
    let changed = q
        .bind(case.id)
        .bind(case.version)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    crate::error::optimistic(changed, "该案件")
}

/// The names of the active tags kept at `org` or above, read in the act's transaction.
async fn active_tag_names(conn: &mut AnyConnection, org: &OrgPath) -> Result<Vec<String>> {
    let ids = org.ids();
    let rows = sqlx::query("SELECT org_id, name FROM fallback_tags WHERE active = 1")
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .iter()
        .filter(|r| ids.contains(&r.get::<i64, _>("org_id")))
        .map(|r| r.get("name"))
        .collect())
}

fn clean_tags(tags: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim();
        if !t.is_empty() && !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    if out.len() > rules::MAX_TAGS {
        return Err(StoreError::invalid(
            "tags",
            "too_many",
            format!("标签最多{}个", rules::MAX_TAGS),
        ));
    }
    Ok(out)
}

/// The rollup of a 办结: the outcome, on time against the close limit (before any
/// extension — the seed's "7个工作日办结"), and for a case above the window tier its
/// working days from receipt.
async fn count_conclusion(
    conn: &mut AnyConnection,
    cal: &WorkCalendar,
    case: &FallbackCase,
    outcome: Outcome,
    at: i64,
) -> Result<()> {
    let today = day_of(at);
    let org = Dim::Org(case.org_id);
    rollup::bump(conn, org, &today, Metric::Concluded, 1).await?;
    if case.close_due_at.is_none_or(|d| at <= d) {
        rollup::bump(conn, org, &today, Metric::ConcludedOnTime, 1).await?;
    }
    let metric = match outcome {
        Outcome::Solved => Metric::Solved,
        Outcome::PartlySolved => Metric::PartlySolved,
        Outcome::Unsolved => Metric::Unsolved,
        Outcome::ToPolicy => Metric::ToPolicy,
    };
    rollup::bump(conn, org, &today, metric, 1).await?;
    rollup::bump(conn, org, &today, Metric::Rounds, case.rounds_total).await?;
    if case.tier != ResponseTier::Window {
        let days = cal
            .working_days_between(
                crate::clock::local_date(case.received_at),
                crate::clock::local_date(at),
            )
            .unwrap_or(0)
            .max(0);
        rollup::bump(conn, org, &today, Metric::ComplexConcluded, 1).await?;
        rollup::bump(conn, org, &today, Metric::ComplexWorkingDays, days).await?;
    }
    Ok(())
}

/// A department's task in a round.
#[derive(Debug, Clone, Serialize)]
pub struct Task {
    pub id: i64,
    pub case_id: i64,
    pub case_no: String,
    pub case_title: String,
    pub round: i64,
    pub tier: ResponseTier,
    pub department_id: i64,
    pub department_name: String,
    pub liaison_user_id: Option<i64>,
    pub liaison_name: Option<String>,
    pub request: String,
    pub state: TaskState,
    pub reply: Option<String>,
    pub refusal_reasons: Option<String>,
    pub legal_basis: Option<String>,
    pub replied_at: Option<i64>,
    pub sent_at: i64,
    /// The case's coordination limit: when the department's answer is due.
    pub answer_due_at: Option<i64>,
    pub version: i64,
}

const TASKS: &str = "SELECT t.*, c.case_no, c.title AS case_title, c.coordinate_due_at, \
    o.name AS department_name, \
    o.path AS department_path, u.display_name AS liaison_name FROM fallback_tasks t \
    JOIN fallback_cases c ON c.id = t.case_id JOIN orgs o ON o.id = t.department_id \
    LEFT JOIN users u ON u.id = t.liaison_user_id";

fn task_row(r: &AnyRow) -> Task {
    Task {
        id: r.get("id"),
        case_id: r.get("case_id"),
        case_no: r.get("case_no"),
        case_title: r.get("case_title"),
        round: r.get("round"),
        tier: ResponseTier::parse(&r.get::<String, _>("tier")).unwrap_or(ResponseTier::Window),
        department_id: r.get("department_id"),
        department_name: r.get("department_name"),
        liaison_user_id: r.get("liaison_user_id"),
        liaison_name: r.get("liaison_name"),
        request: r.get("request"),
        state: TaskState::parse(&r.get::<String, _>("state")).unwrap_or(TaskState::Sent),
        reply: r.get("reply"),
        refusal_reasons: r.get("refusal_reasons"),
        legal_basis: r.get("legal_basis"),
        replied_at: r.get("replied_at"),
        sent_at: r.get("sent_at"),
        answer_due_at: r.get("coordinate_due_at"),
        version: r.get("version"),
    }
}

pub async fn tasks_of_case(pool: &AnyPool, case_id: i64) -> Result<Vec<Task>> {
    let rows = sqlx::query(&format!(
        "{TASKS} WHERE t.case_id = $1 ORDER BY t.round, t.id"
    ))
    .bind(case_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(task_row).collect())
}

/// A task with the path of its department (for authorising the answer).
pub async fn task(pool: &AnyPool, id: i64) -> Result<(Task, OrgPath)> {
    let row = sqlx::query(&format!("{TASKS} WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok((
        task_row(&row),
        OrgPath::from_stored(row.get("department_path")),
    ))
}

/// The department inbox: tasks to departments inside `scope` waiting for an answer (or
/// all), oldest first.
pub async fn department_inbox(
    pool: &AnyPool,
    scope: &OrgPath,
    waiting_only: bool,
    limit: i64,
) -> Result<Vec<Task>> {
    let waiting = if waiting_only {
        " AND t.state = 'sent'"
    } else {
        ""
    };
    let rows = sqlx::query(&format!(
        "{TASKS} WHERE o.path >= $1 AND o.path < $3{waiting} ORDER BY t.id DESC LIMIT $2"
    ))
    .bind(scope.as_str())
    .bind(limit.clamp(1, 200))
    .bind(crate::path_upper_bound(scope.as_str()))
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(task_row).collect())
}

async fn open_round(
    conn: &mut AnyConnection,
    change: &Change,
    case: &FallbackCase,
    round: i64,
    departments: &[i64],
    request: &str,
) -> Result<serde_json::Value> {
    let mut ids: Vec<i64> = departments.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > rules::MAX_DEPARTMENTS {
        return Err(StoreError::invalid(
            "departments",
            "too_many",
            format!("一次最多协调{}个部门", rules::MAX_DEPARTMENTS),
        ));
    }
    let mut sent = vec![];
    for dept in ids {
        let org = crate::orgs::get(&mut *conn, dept).await.map_err(|_| {
            StoreError::invalid("departments", "unknown_department", "没有这个部门")
        })?;
        if org.kind != onewindow_domain::org::OrgKind::Department {
            return Err(StoreError::invalid(
                "departments",
                "not_a_department",
                format!("{}不是职能部门", org.name),
            ));
        }
        // 1+N: a department takes tasks through its named liaison; without one nobody
        // would answer, and the case could never close whole.
        let Some(liaison) = super::reference::liaison_of(&mut *conn, dept)
            .await?
            .map(|l| l.user_id)
        else {
            return Err(StoreError::invalid(
                "departments",
                "no_liaison",
                format!("{}尚未指定联络员，请管理员先在“清单与专家”中指定", org.name),
            ));
        };
        sqlx::query(
            "INSERT INTO fallback_tasks (case_id, round, tier, department_id, liaison_user_id, \
             request, state, sent_at) VALUES ($1, $2, $3, $4, $5, $6, 'sent', $7)",
        )
        .bind(case.id)
        .bind(round)
        .bind(case.tier.as_str())
        .bind(dept)
        .bind(Some(liaison))
        .bind(request.trim())
        .bind(change.at)
        .execute(&mut *conn)
        .await?;
        let recipient = Recipient::User(liaison);
        tell(
            conn,
            change,
            recipient,
            format!(
                "【协调任务】办不成事 {} 第{round}轮协调：{}",
                case.case_no, case.title
            ),
            "/fallback/tasks".into(),
            case.tracked_item_id,
        )
        .await?;
        sent.push(json!({ "department_id": dept, "department": org.name, "liaison": liaison }));
    }
    Ok(json!(sent))
}

/// A department answers its task (the caller authorised `AnswerFallbackTasks` at the
/// task's department). A refusal carries its 否定答复报告 and goes to the supervisors of
/// the window; the case's owner is told either way.
pub async fn answer_task(
    conn: &mut AnyConnection,
    change: &Change,
    task_id: i64,
    version: Option<i64>,
    answer: &TaskAnswer,
) -> Result<()> {
    let mut errors = FieldErrors::new();
    match answer {
        TaskAnswer::Reply { reply } => {
            errors.text("reply", "答复内容", reply, rules::NOTE);
        }
        TaskAnswer::Refuse { report } => {
            errors.text("reasons", "否定理由", &report.reasons, rules::NOTE);
            errors.text(
                "legal_basis",
                "法律政策依据",
                &report.legal_basis,
                rules::NOTE,
            );
        }
    }
    invalid_all(errors)?;
    let lock = change.backend.for_update();
    let row = sqlx::query(&format!(
        "SELECT case_id, department_id, state, version FROM fallback_tasks WHERE id = $1{lock}"
    ))
    .bind(task_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let (case_id, dept, task_version): (i64, i64, i64) = (
        row.get("case_id"),
        row.get("department_id"),
        row.get("version"),
    );
    if version.is_some_and(|v| v != task_version) {
        return Err(StoreError::version_conflict("该协调任务"));
    }
    let state = TaskState::parse(&row.get::<String, _>("state")).unwrap_or(TaskState::Sent);
    let next = rules::answer_task(state, answer).map_err(|e| {
        if matches!(e, rules::AnswerError::AlreadyAnswered) {
            StoreError::Conflict {
                code: e.code(),
                message: e.to_string(),
            }
        } else {
            StoreError::invalid(e.field(), e.code(), e.to_string())
        }
    })?;
    let case = get(&mut *conn, case_id).await?;
    if case.state.is_final() {
        return Err(StoreError::Conflict {
            code: "case_closed",
            message: "该案件已结束".into(),
        });
    }
    let (reply, reasons, basis) = match answer {
        TaskAnswer::Reply { reply } => (Some(reply.trim().to_string()), None, None),
        TaskAnswer::Refuse { report } => (
            None,
            Some(report.reasons.trim().to_string()),
            Some(report.legal_basis.trim().to_string()),
        ),
    };
    let changed = sqlx::query(
        "UPDATE fallback_tasks SET state = $1, reply = $2, refusal_reasons = $3, legal_basis = $4, \
         replied_by = $5, replied_at = $6, version = version + 1 WHERE id = $7 AND version = $8",
    )
    .bind(next.as_str())
    .bind(&reply)
    .bind(&reasons)
    .bind(&basis)
    .bind(change.who.user_id)
    .bind(change.at)
    .bind(task_id)
    .bind(task_version)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    crate::error::optimistic(changed, "该协调任务")?;
    let dept_org = crate::orgs::get(&mut *conn, dept).await?;
    let detail = json!({ "task_id": task_id, "department_id": dept, "department": dept_org.name,
        "answer": answer });
    let action = if next == TaskState::Refused {
        "task_refused"
    } else {
        "task_replied"
    };
    record_event(conn, change, case_id, action, &detail).await?;
    audit::append(
        conn,
        change,
        &format!("fallback.{action}"),
        "fallback_task",
        &task_id.to_string(),
        &detail,
    )
    .await?;
    let mut told = vec![];
    if let Some(owner) = case.owner_user_id {
        told.push(Recipient::User(owner));
    }
    if next == TaskState::Refused {
        rollup::bump(
            conn,
            Dim::Dept(dept),
            &day_of(change.at),
            Metric::RefusalReports,
            1,
        )
        .await?;
        told.push(Recipient::Role {
            role: Role::Supervisor,
            org_id: case.org_id,
            org_path: case.org_path.clone(),
        });
    }
    let word = if next == TaskState::Refused {
        "否定答复报告"
    } else {
        "答复"
    };
    for recipient in told {
        tell(
            conn,
            change,
            recipient,
            format!(
                "【{word}】{}对办不成事 {} 作出{word}",
                dept_org.name, case.case_no
            ),
            format!("/fallback/cases/{case_id}"),
            case.tracked_item_id,
        )
        .await?;
    }
    Ok(())
}

/// A decision of a joint meeting.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Decision {
    pub text: String,
    pub owner_org_id: i64,
    /// YYYY-MM-DD.
    pub due_on: chrono::NaiveDate,
    #[serde(default, skip_deserializing)]
    pub owner_org_name: String,
}

/// A 联席会议 (or leading-group meeting) held on a case.
#[derive(Debug, Clone, Serialize)]
pub struct Meeting {
    pub id: i64,
    pub case_id: i64,
    pub tier: ResponseTier,
    pub held_on: String,
    pub departments: Vec<i64>,
    pub minutes: String,
    pub decisions: Vec<Decision>,
    pub recorded_at: i64,
}

/// Records a meeting on a case being coordinated at the joint-meeting tier or above, by
/// the case's owner; every decision has an owner department and a deadline.
#[allow(clippy::too_many_arguments)]
pub async fn record_meeting(
    conn: &mut AnyConnection,
    change: &Change,
    case_id: i64,
    who: Acting,
    held_on: chrono::NaiveDate,
    departments: &[i64],
    minutes: &str,
    decisions: &[Decision],
) -> Result<i64> {
    let mut errors = FieldErrors::new();
    errors.text("minutes", "会议纪要", minutes, rules::NOTE);
    if minutes.trim().is_empty() {
        errors.add("minutes", "required", "请填写会议纪要");
    }
    if departments.is_empty() {
        errors.add("departments", "required", "请选择参会部门");
    }
    if departments.len() > rules::MAX_DEPARTMENTS {
        errors.add("departments", "too_many", "参会部门过多");
    }
    if decisions.len() > 20 {
        errors.add("decisions", "too_many", "议定事项最多20项");
    }
    for (i, d) in decisions.iter().enumerate() {
        let field = format!("decisions[{i}].text");
        errors.text(&field, "议定事项", &d.text, rules::REASON);
        if d.text.trim().is_empty() {
            errors.add(&field, "required", "请填写议定事项");
        }
    }
    invalid_all(errors)?;
    let case = owned_working_case(conn, change, case_id, who, &[State::Coordinating]).await?;
    let today = crate::clock::local_date(change.at);
    let received = crate::clock::local_date(case.received_at);
    if held_on > today || held_on < received {
        return Err(StoreError::invalid(
            "held_on",
            "bad_date",
            format!("会议日期应在受理日（{received}）和今天之间"),
        ));
    }
    if let Some(i) = decisions.iter().position(|d| d.due_on < held_on) {
        return Err(StoreError::invalid(
            &format!("decisions[{i}].due_on"),
            "before_meeting",
            "议定事项的完成时限不能早于会议日期",
        ));
    }
    if case.tier == ResponseTier::Window {
        return Err(StoreError::invalid(
            "tier",
            "window_tier",
            "窗口直接协调的案件无需联席会议；复杂案件请先提级到联席会议",
        ));
    }
    for d in departments
        .iter()
        .chain(decisions.iter().map(|d| &d.owner_org_id))
    {
        let o = crate::orgs::get(&mut *conn, *d).await.map_err(|_| {
            StoreError::invalid("departments", "unknown_department", "没有这个部门")
        })?;
        if o.kind != onewindow_domain::org::OrgKind::Department {
            return Err(StoreError::invalid(
                "departments",
                "not_a_department",
                format!("{}不是职能部门", o.name),
            ));
        }
    }
    let id: i64 = sqlx::query(
        "INSERT INTO fallback_meetings (case_id, tier, held_on, departments, minutes, \
         recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(case_id)
    .bind(case.tier.as_str())
    .bind(held_on.to_string())
    .bind(json!(departments).to_string())
    .bind(minutes.trim())
    .bind(who.user_id)
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    for d in decisions {
        sqlx::query(
            "INSERT INTO fallback_meeting_decisions (meeting_id, text, owner_org_id, due_on) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(d.text.trim())
        .bind(d.owner_org_id)
        .bind(d.due_on.to_string())
        .execute(&mut *conn)
        .await?;
    }
    let detail = json!({ "meeting_id": id, "held_on": held_on, "departments": departments,
        "decisions": decisions.len(), "tier": case.tier.as_str() });
    record_event(conn, change, case_id, "meeting", &detail).await?;
    audit::append(
        conn,
        change,
        "fallback.meeting",
        "fallback_case",
        &case.case_no,
        &detail,
    )
    .await?;
    Ok(id)
}

pub async fn meetings(pool: &AnyPool, case_id: i64) -> Result<Vec<Meeting>> {
    let rows = sqlx::query("SELECT * FROM fallback_meetings WHERE case_id = $1 ORDER BY id")
        .bind(case_id)
        .fetch_all(pool)
        .await?;
    let mut out = vec![];
    for r in rows {
        let id: i64 = r.get("id");
        let decisions = sqlx::query(
            "SELECT d.text, d.owner_org_id, d.due_on, o.name FROM fallback_meeting_decisions d \
             JOIN orgs o ON o.id = d.owner_org_id WHERE d.meeting_id = $1 ORDER BY d.id",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|d| Decision {
            text: d.get("text"),
            owner_org_id: d.get("owner_org_id"),
            due_on: d.get::<String, _>("due_on").parse().unwrap_or_default(),
            owner_org_name: d.get("name"),
        })
        .collect();
        out.push(Meeting {
            id,
            case_id,
            tier: ResponseTier::parse(&r.get::<String, _>("tier")).unwrap_or(ResponseTier::Window),
            held_on: r.get("held_on"),
            departments: serde_json::from_str(&r.get::<String, _>("departments"))
                .unwrap_or_default(),
            minutes: r.get("minutes"),
            decisions,
            recorded_at: r.get("recorded_at"),
        });
    }
    Ok(out)
}

/// An expert invited to a case.
#[derive(Debug, Clone, Serialize)]
pub struct Opinion {
    pub id: i64,
    pub case_id: i64,
    pub expert_id: i64,
    pub expert_name: String,
    pub expert_field: String,
    pub question: String,
    pub invited_at: i64,
    pub opinion: Option<String>,
    pub recorded_at: Option<i64>,
}

/// Invites an expert of the pool to a case (by its owner) with the question asked.
pub async fn invite_expert(
    conn: &mut AnyConnection,
    change: &Change,
    case_id: i64,
    who: Acting,
    expert_id: i64,
    question: &str,
) -> Result<i64> {
    let mut errors = FieldErrors::new();
    errors.text("question", "咨询问题", question, rules::REASON);
    if question.trim().is_empty() {
        errors.add("question", "required", "请填写咨询问题");
    }
    invalid_all(errors)?;
    let case = owned_working_case(
        conn,
        change,
        case_id,
        who,
        &[State::Coordinating, State::Handling],
    )
    .await?;
    super::reference::expert(&mut *conn, expert_id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                StoreError::invalid("expert_id", "unknown_expert", "专家库中没有这位专家")
            }
            e => e,
        })?;
    let row = sqlx::query(
        "INSERT INTO fallback_expert_opinions (case_id, expert_id, question, invited_by, invited_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (case_id, expert_id) DO NOTHING RETURNING id",
    )
    .bind(case_id)
    .bind(expert_id)
    .bind(question.trim())
    .bind(who.user_id)
    .bind(change.at)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Err(StoreError::Conflict {
            code: "already_invited",
            message: "已邀请过这位专家".into(),
        });
    };
    let id: i64 = row.get("id");
    let detail = json!({ "opinion_id": id, "expert_id": expert_id, "question": question.trim() });
    record_event(conn, change, case_id, "expert_invited", &detail).await?;
    audit::append(
        conn,
        change,
        "fallback.expert_invited",
        "fallback_case",
        &case.case_no,
        &detail,
    )
    .await?;
    Ok(id)
}

/// Records the opinion an invited expert gave (by the case's owner).
pub async fn record_opinion(
    conn: &mut AnyConnection,
    change: &Change,
    opinion_id: i64,
    who: Acting,
    opinion: &str,
) -> Result<()> {
    let mut errors = FieldErrors::new();
    errors.text("opinion", "专家意见", opinion, rules::NOTE);
    if opinion.trim().is_empty() {
        errors.add("opinion", "required", "请填写专家意见");
    }
    invalid_all(errors)?;
    let row = sqlx::query("SELECT case_id, opinion FROM fallback_expert_opinions WHERE id = $1")
        .bind(opinion_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    if row.get::<Option<String>, _>("opinion").is_some() {
        return Err(StoreError::Conflict {
            code: "already_recorded",
            message: "专家意见已经记录".into(),
        });
    }
    let case_id: i64 = row.get("case_id");
    let case = owned_working_case(
        conn,
        change,
        case_id,
        who,
        &[State::Coordinating, State::Handling],
    )
    .await?;
    sqlx::query(
        "UPDATE fallback_expert_opinions SET opinion = $1, recorded_at = $2 WHERE id = $3 AND opinion IS NULL",
    )
    .bind(opinion.trim())
    .bind(change.at)
    .bind(opinion_id)
    .execute(&mut *conn)
    .await?;
    let detail = json!({ "opinion_id": opinion_id, "opinion": opinion.trim() });
    record_event(conn, change, case_id, "expert_opinion", &detail).await?;
    audit::append(
        conn,
        change,
        "fallback.expert_opinion",
        "fallback_case",
        &case.case_no,
        &detail,
    )
    .await?;
    Ok(())
}

/// The case, locked, when `who` is its owner and it is in one of `states` (being worked on).
async fn owned_working_case(
    conn: &mut AnyConnection,
    change: &Change,
    case_id: i64,
    who: Acting,
    states: &[State],
) -> Result<FallbackCase> {
    let lock = change.backend.for_update();
    sqlx::query(&format!(
        "SELECT id FROM fallback_cases WHERE id = $1{lock}"
    ))
    .bind(case_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let case = get(&mut *conn, case_id).await?;
    rules::may_act(
        &Act::Coordinated {
            summary: String::new(),
        },
        who,
        case.owner_user_id,
        case.owner_name.as_deref().unwrap_or("其他专员"),
        case.tier,
    )
    .map_err(not_yours)?;
    if !states.contains(&case.state) {
        return Err(StoreError::Conflict {
            code: "wrong_state",
            message: format!("案件当前为“{}”，不能进行这一步", case.state.label()),
        });
    }
    Ok(case)
}

pub async fn opinions(pool: &AnyPool, case_id: i64) -> Result<Vec<Opinion>> {
    let rows = sqlx::query(
        "SELECT p.*, e.name, e.field FROM fallback_expert_opinions p \
         JOIN fallback_experts e ON e.id = p.expert_id WHERE p.case_id = $1 ORDER BY p.id",
    )
    .bind(case_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Opinion {
            id: r.get("id"),
            case_id,
            expert_id: r.get("expert_id"),
            expert_name: r.get("name"),
            expert_field: r.get("field"),
            question: r.get("question"),
            invited_at: r.get("invited_at"),
            opinion: r.get("opinion"),
            recorded_at: r.get("recorded_at"),
        })
        .collect())
}

/// Open cases of windows inside `scope` by state (the hall screen's and board's counts),
/// read through the (org_id, state) index.
pub async fn counts_by_state(pool: &AnyPool, scope: &OrgPath) -> Result<Vec<(State, i64)>> {
    let rows = sqlx::query(
        "SELECT c.state, COUNT(*) AS n FROM fallback_cases c JOIN orgs o ON o.id = c.org_id \
         WHERE o.path >= $1 AND o.path < $2 \
         AND c.state NOT IN ('filed', 'refused', 'returned') GROUP BY c.state",
    )
    .bind(scope.as_str())
    .bind(crate::path_upper_bound(scope.as_str()))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| State::parse(&r.get::<String, _>("state")).map(|s| (s, r.get("n"))))
        .collect())
}

/// A window that takes fallback cases: an organisation with an active fallback officer.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub org_id: i64,
    pub code: Option<String>,
    pub name: String,
}

/// The windows a resident may send a case to online.
pub async fn windows(pool: &AnyPool) -> Result<Vec<Window>> {
    let rows = sqlx::query(
        "SELECT DISTINCT o.id, o.code, o.name FROM orgs o JOIN users u ON u.org_id = o.id \
         JOIN user_roles r ON r.user_id = u.id WHERE r.role = 'fallback_officer' AND u.active = 1 \
         ORDER BY o.id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Window {
            org_id: r.get("id"),
            code: r.get("code"),
            name: r.get("name"),
        })
        .collect())
}

/// The fallback officers of a window (to hand a case over to).
pub async fn officers(pool: &AnyPool, org_id: i64) -> Result<Vec<(i64, String)>> {
    let rows = sqlx::query(
        "SELECT u.id, u.display_name FROM users u JOIN user_roles r ON r.user_id = u.id \
         WHERE r.role = 'fallback_officer' AND u.active = 1 AND u.org_id = $1 ORDER BY u.id",
    )
    .bind(org_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get("id"), r.get("display_name")))
        .collect())
}

// ---- what the case page offers to choose from ----

/// Every department (a round's tasks and a meeting's attendance choose among them).
pub async fn departments(pool: &AnyPool) -> Result<Vec<(i64, String)>> {
    let rows = sqlx::query("SELECT id, name FROM orgs WHERE kind = 'department' ORDER BY path")
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(|r| (r.get("id"), r.get("name"))).collect())
}

/// The open tasks of a case inside a transaction: (task id, department id).
pub async fn tasks_of_case_in(conn: &mut AnyConnection, case_id: i64) -> Result<Vec<(i64, i64)>> {
    let rows = sqlx::query(
        "SELECT id, department_id FROM fallback_tasks WHERE case_id = $1 AND state = 'sent' ORDER BY id",
    )
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get("id"), r.get("department_id")))
        .collect())
}
