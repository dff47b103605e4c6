//! 好差评: ratings (append-only), appeals, the rectification of bad ratings on the
//! escalation engine, the window rating devices, the invitations after closing, and the
//! daily rollup every figure is read from. The rules are `onewindow_domain::ratings`.
//!
//! Each act writes in one transaction: the record, its rollup rows, its audit entry and
//! (for a bad rating) the rectification with its tracked item, so a figure never counts
//! something that was not kept.

use crate::audit::{self, Change};
use crate::escalation::{self, NewTracked, TrackedItem};
use crate::sessions::{random_token, token_hash};
use crate::{Result, StoreError};
use onewindow_domain::calendar::WorkCalendar;
use onewindow_domain::figures::Rate;
use onewindow_domain::org::OrgPath;
use onewindow_domain::ratings::{
    self as rules, AppealState, CallbackWay, Channel, Level, RatingFacts, RectificationLimits,
    RectificationState, RectificationStep, Remedy, StarRule, Subject, Tally, Unit,
};
use onewindow_domain::validation::{check_text, FieldErrors};
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

/// The settings the rating rules read, taken before the act's transaction.
#[derive(Debug, Clone)]
pub struct RatingSettings {
    pub late_days: i64,
    pub invite_after_days: i64,
    pub basic_counts_as_good: bool,
    pub threshold_permille: i64,
    pub threshold_min_ratings: i64,
    pub limits: RectificationLimits,
    pub device_prompt_minutes: i64,
    pub star_rule: StarRule,
}

pub async fn settings(pool: &AnyPool) -> Result<RatingSettings> {
    let [late, invite, basic, threshold, threshold_min, verify, rectify, callback, prompt, star_min] =
        crate::settings::get_ints(
            pool,
            [
                "rating.late_days",
                "rating.invite_after_days",
                "rating.basic_counts_as_good",
                "rating.threshold_permille",
                "rating.threshold_min_ratings",
                "rating.verify_days",
                "rating.rectify_days",
                "rating.callback_days",
                "rating.device_prompt_minutes",
                "rating.star_min_ratings",
            ],
        )
        .await?;
    let mut star_rule: StarRule = crate::settings::get_json(pool, "rating.star_levels")
        .await?
        .and_then(|v| serde_json::from_value(json!({ "min_ratings": 0, "levels": v })).ok())
        .unwrap_or_default();
    star_rule.min_ratings = star_min;
    Ok(RatingSettings {
        late_days: late,
        invite_after_days: invite,
        basic_counts_as_good: basic != 0,
        threshold_permille: threshold,
        threshold_min_ratings: threshold_min,
        limits: RectificationLimits {
            verify_days: verify as u32,
            rectify_days: rectify as u32,
            callback_days: callback as u32,
        },
        device_prompt_minutes: prompt,
        star_rule,
    })
}

/// What is rated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectRef {
    Ticket(i64),
    Case(i64),
}

/// The facts of a visit or a case a rating is judged on and copies in.
#[derive(Debug, Clone)]
struct SubjectFacts {
    subject: Subject,
    finished_at: Option<i64>,
    already_rated: bool,
    hall_org_id: i64,
    department_id: Option<i64>,
    window_id: Option<i64>,
    clerk_user_id: Option<i64>,
    item_code: Option<String>,
    rater_name: String,
    rater_phone: Option<String>,
    label: String,
}

impl SubjectFacts {
    fn unit(&self) -> (Unit, i64) {
        let unit = Unit::of(self.subject);
        match unit {
            Unit::Hall => (unit, self.hall_org_id),
            Unit::Department => (unit, self.department_id.unwrap_or(self.hall_org_id)),
        }
    }
}

async fn subject_facts(
    conn: &mut AnyConnection,
    change: &Change,
    s: SubjectRef,
) -> Result<SubjectFacts> {
    let lock = change.backend.for_update();
    match s {
        SubjectRef::Ticket(id) => {
            let r = sqlx::query(&format!(
                "SELECT id, hall_id, number, state, finished_at, window_id, window_number, \
                 appointment_id, case_nos, finished_by FROM tickets WHERE id = $1{lock}"
            ))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?;
            let state: String = r.get("state");
            let finished_at: Option<i64> = r.get("finished_at");
            let appointment: Option<i64> = r.get("appointment_id");
            let case_nos: Vec<String> =
                serde_json::from_str(&r.get::<String, _>("case_nos")).unwrap_or_default();
            let (mut name, mut phone) = (String::new(), None);
            if let Some(a) = appointment {
                if let Some(ar) = sqlx::query("SELECT name, phone FROM appointments WHERE id = $1")
                    .bind(a)
                    .fetch_optional(&mut *conn)
                    .await?
                {
                    name = ar.get("name");
                    phone = Some(ar.get::<String, _>("phone"));
                }
            }
            let mut item_code = None;
            if let [only] = case_nos.as_slice() {
                if let Some(cr) = sqlx::query(
                    "SELECT item_code, applicant_name, applicant_phone FROM cases WHERE case_no = $1",
                )
                .bind(only)
                .fetch_optional(&mut *conn)
                .await?
                {
                    item_code = Some(cr.get::<String, _>("item_code"));
                    if phone.is_none() {
                        name = cr.get("applicant_name");
                        let p: String = cr.get("applicant_phone");
                        phone = (!p.is_empty()).then_some(p);
                    }
                }
            }
            let rated = sqlx::query("SELECT id FROM ratings WHERE ticket_id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
                .is_some();
            let window_number: Option<i64> = r.get("window_number");
            Ok(SubjectFacts {
                subject: Subject::Visit,
                finished_at: (state == onewindow_domain::queue::TicketState::Done.as_str())
                    .then_some(finished_at)
                    .flatten(),
                already_rated: rated,
                hall_org_id: r.get("hall_id"),
                department_id: None,
                window_id: r.get("window_id"),
                clerk_user_id: r.get("finished_by"),
                item_code,
                rater_name: name,
                rater_phone: phone,
                label: match window_number {
                    Some(w) => format!("{}号（{}号窗口）", r.get::<String, _>("number"), w),
                    None => format!("{}号", r.get::<String, _>("number")),
                },
            })
        }
        SubjectRef::Case(id) => {
            let r = sqlx::query(&format!(
                "SELECT id, case_no, title, state, intake_org_id, department_id, item_code, \
                 created_by, applicant_name, applicant_phone FROM cases WHERE id = $1{lock}"
            ))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?;
            let state: String = r.get("state");
            use onewindow_domain::cases::CaseState;
            let issued = CaseState::Issued.as_str();
            let finished = CaseState::ALL
                .into_iter()
                .find(|s| s.as_str() == state)
                .is_some_and(rules::case_finished);
            let finished_at: Option<i64> = if finished {
                sqlx::query(
                    "SELECT MIN(at) AS at FROM case_events WHERE case_id = $1 AND to_state = $2",
                )
                .bind(id)
                .bind(issued)
                .fetch_one(&mut *conn)
                .await?
                .get("at")
            } else {
                None
            };
            let rated = sqlx::query("SELECT id FROM ratings WHERE case_id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
                .is_some();
            let phone: String = r.get("applicant_phone");
            let hall = hall_of(&mut *conn, r.get("intake_org_id")).await?;
            Ok(SubjectFacts {
                subject: Subject::Case,
                finished_at,
                already_rated: rated,
                hall_org_id: hall,
                department_id: Some(r.get("department_id")),
                window_id: None,
                clerk_user_id: Some(r.get("created_by")),
                item_code: Some(r.get("item_code")),
                rater_name: r.get("applicant_name"),
                rater_phone: (!phone.is_empty()).then_some(phone),
                label: format!(
                    "{} {}",
                    r.get::<String, _>("case_no"),
                    r.get::<String, _>("title")
                ),
            })
        }
    }
}

/// The hall a case taken in at `intake_org_id` counts for: the one hall (an organisation
/// with a queue) inside it — a street's 便民服务中心, where its visits are counted too — or
/// the intake organisation itself (a community station, or several halls).
async fn hall_of(conn: &mut AnyConnection, intake_org_id: i64) -> Result<i64> {
    let org = crate::orgs::get(&mut *conn, intake_org_id).await?;
    let halls: Vec<i64> = sqlx::query(
        "SELECT DISTINCT q.hall_id FROM queue_classes q JOIN orgs o ON o.id = q.hall_id \
         WHERE o.path >= $1 AND o.path < $2 ORDER BY q.hall_id LIMIT 2",
    )
    .bind(org.path.as_str())
    .bind(crate::path_upper_bound(org.path.as_str()))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| r.get("hall_id"))
    .collect();
    Ok(match halls.as_slice() {
        [only] => *only,
        _ => intake_org_id,
    })
}

/// A rating to record.
#[derive(Debug, Clone)]
pub struct NewRating {
    pub subject: SubjectRef,
    pub level: Level,
    pub scores: Vec<(String, u8)>,
    pub tags: Vec<String>,
    pub comment: String,
    pub channel: Channel,
    /// The staff member who entered a phone or SMS callback rating.
    pub entered_by: Option<i64>,
}

/// A rating as staff see it: the rater masked.
#[derive(Debug, Clone, Serialize)]
pub struct Rating {
    pub id: i64,
    pub subject: Subject,
    pub ticket_id: Option<i64>,
    pub case_id: Option<i64>,
    pub level: Level,
    pub level_label: &'static str,
    pub stars: u8,
    pub scores: std::collections::BTreeMap<String, u8>,
    pub tags: Vec<String>,
    pub comment: String,
    pub channel: Channel,
    pub channel_label: &'static str,
    pub rater: String,
    pub rater_phone_masked: Option<String>,
    pub unit_kind: Unit,
    pub unit_org_id: i64,
    pub hall_org_id: i64,
    pub department_id: Option<i64>,
    pub window_id: Option<i64>,
    pub clerk_user_id: Option<i64>,
    pub item_code: Option<String>,
    pub subject_label: String,
    pub finished_at: i64,
    pub rated_at: i64,
    pub late: bool,
    #[serde(skip)]
    pub day: String,
    #[serde(skip)]
    has_contact: bool,
}

impl Rating {
    pub fn has_contact(&self) -> bool {
        self.has_contact
    }
}

const COLUMNS: &str = "id, subject, ticket_id, case_id, level, scores, tags, comment, channel, \
    rater_name, rater_phone, unit_kind, unit_org_id, hall_org_id, department_id, window_id, \
    clerk_user_id, item_code, subject_label, finished_at, rated_at, day, late";

fn rating_from_row(r: &AnyRow) -> Rating {
    let level = Level::parse(&r.get::<String, _>("level")).unwrap_or(Level::Basic);
    let channel = Channel::parse(&r.get::<String, _>("channel")).unwrap_or(Channel::Online);
    let phone: Option<String> = r.get("rater_phone");
    Rating {
        id: r.get("id"),
        subject: Subject::parse(&r.get::<String, _>("subject")).unwrap_or(Subject::Case),
        ticket_id: r.get("ticket_id"),
        case_id: r.get("case_id"),
        level,
        level_label: level.label(),
        stars: level.stars(),
        scores: serde_json::from_str(&r.get::<String, _>("scores")).unwrap_or_default(),
        tags: serde_json::from_str(&r.get::<String, _>("tags")).unwrap_or_default(),
        comment: r.get("comment"),
        channel,
        channel_label: channel.label(),
        rater: rules::mask_name(&r.get::<String, _>("rater_name")),
        rater_phone_masked: phone.as_deref().map(rules::mask_phone),
        has_contact: phone.is_some(),
        unit_kind: Unit::parse(&r.get::<String, _>("unit_kind")).unwrap_or(Unit::Department),
        unit_org_id: r.get("unit_org_id"),
        hall_org_id: r.get("hall_org_id"),
        department_id: r.get("department_id"),
        window_id: r.get("window_id"),
        clerk_user_id: r.get("clerk_user_id"),
        item_code: r.get("item_code"),
        subject_label: r.get("subject_label"),
        finished_at: r.get("finished_at"),
        rated_at: r.get("rated_at"),
        day: r.get("day"),
        late: crate::flag(r, "late"),
    }
}

pub async fn get<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(e: E, id: i64) -> Result<Rating> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM ratings WHERE id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(|r| rating_from_row(&r))
        .ok_or(StoreError::NotFound)
}

/// The rating given for a case or a visit, if any.
pub async fn of_subject(pool: &AnyPool, s: SubjectRef) -> Result<Option<Rating>> {
    let (col, id) = match s {
        SubjectRef::Ticket(id) => ("ticket_id", id),
        SubjectRef::Case(id) => ("case_id", id),
    };
    Ok(
        sqlx::query(&format!("SELECT {COLUMNS} FROM ratings WHERE {col} = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .map(|r| rating_from_row(&r)),
    )
}

fn refused(e: rules::RatingError) -> StoreError {
    if e.is_conflict() {
        StoreError::Conflict {
            code: e.code(),
            message: e.to_string(),
        }
    } else {
        StoreError::invalid(e.field(), e.code(), e.to_string())
    }
}

fn check_input(new: &NewRating) -> Result<()> {
    let mut errors = FieldErrors::new();
    if let Err(e) = check_text("comment", "评价内容", &new.comment, rules::COMMENT) {
        errors.0.push(e);
    }
    if new.tags.len() > rules::MAX_TAGS {
        errors.add(
            "tags",
            "too_many",
            format!("最多选择{}个标签", rules::MAX_TAGS),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    if new.tags.iter().any(|t| !seen.insert(t)) {
        errors.add("tags", "duplicate", "同一个标签只能选一次");
    }
    let mut seen = std::collections::BTreeSet::new();
    if new.scores.iter().any(|(c, _)| !seen.insert(c)) {
        errors.add("scores", "duplicate", "同一个评价项只能评一次");
    }
    if let Some(t) = new.tags.iter().find(|t| rules::tag_label(t).is_none()) {
        let shown: String = t.chars().take(20).collect();
        errors.add("tags", "unknown_tag", format!("没有“{shown}”这个标签"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(errors))
    }
}

/// The rollup rows a rating counts in: (dimension, id, the row's organisation).
fn dims(r: &Rating) -> Vec<(&'static str, String, i64)> {
    let mut out = vec![("hall", r.hall_org_id.to_string(), r.hall_org_id)];
    if let Some(d) = r.department_id {
        out.push(("department", d.to_string(), d));
    }
    if let Some(w) = r.window_id {
        out.push(("window", w.to_string(), r.hall_org_id));
    }
    if let Some(c) = r.clerk_user_id {
        out.push(("clerk", c.to_string(), r.hall_org_id));
    }
    if let Some(i) = &r.item_code {
        out.push(("item", i.clone(), r.hall_org_id));
    }
    out
}

/// Counter shards per rollup row (see migration 0020): concurrent acts on one unit's day
/// update different rows.
pub const SHARDS: i64 = 8;

/// Adds `deltas` (column, amount) to the rollup rows of `dims` on `day`, in the shard of
/// `subject` (a rating's or a case's id).
async fn bump(
    conn: &mut AnyConnection,
    dims: &[(&'static str, String, i64)],
    day: &str,
    subject: i64,
    deltas: &[(&'static str, i64)],
) -> Result<()> {
    if deltas.is_empty() {
        return Ok(());
    }
    let cols: Vec<&str> = deltas.iter().map(|d| d.0).collect();
    let insert_cols = cols.join(", ");
    let values: Vec<String> = (0..deltas.len()).map(|i| format!("${}", i + 6)).collect();
    let updates: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = rating_rollup.{c} + ${}", i + 6))
        .collect();
    let sql = format!(
        "INSERT INTO rating_rollup (dim, dim_id, org_id, day, shard, {insert_cols}) VALUES ($1, $2, $3, $4, $5, {}) \
         ON CONFLICT (dim, dim_id, org_id, day, shard) DO UPDATE SET {}",
        values.join(", "),
        updates.join(", ")
    );
    let shard = subject.rem_euclid(SHARDS);
    for (dim, id, org) in dims {
        let mut q = sqlx::query(&sql)
            .bind(*dim)
            .bind(id)
            .bind(*org)
            .bind(day)
            .bind(shard);
        for (_, n) in deltas {
            q = q.bind(*n);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

fn star_column(level: Level) -> &'static str {
    ["s1", "s2", "s3", "s4", "s5"][usize::from(level.stars() - 1)]
}

/// Records a rating, once per visit or case, within the late period; a bad one opens its
/// rectification (tracked by the engine, the unit told). The first rating stands.
pub async fn rate(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    settings: &RatingSettings,
    new: &NewRating,
) -> Result<Rating> {
    check_input(new)?;
    let facts = subject_facts(conn, change, new.subject).await?;
    rules::check_scores(facts.subject, &new.scores).map_err(refused)?;
    let given: Vec<&str> = new.scores.iter().map(|(c, _)| c.as_str()).collect();
    rules::may_rate(
        &RatingFacts {
            subject: facts.subject,
            already_rated: facts.already_rated,
            finished_at: facts.finished_at,
            now: change.at,
            late_days: settings.late_days,
        },
        &given,
    )
    .map_err(refused)?;
    if new.channel.entered_by_staff() {
        rules::may_enter_callback(
            facts.finished_at,
            change.at,
            settings.invite_after_days,
            new.entered_by.is_some() && new.entered_by == facts.clerk_user_id,
        )
        .map_err(refused)?;
    }
    let finished_at = facts.finished_at.unwrap_or(change.at);
    // 补充评价: given after the day it was finished.
    let late = crate::clock::local_date(change.at) > crate::clock::local_date(finished_at);
    let (unit, unit_org) = facts.unit();
    let (ticket_id, case_id) = match new.subject {
        SubjectRef::Ticket(id) => (Some(id), None),
        SubjectRef::Case(id) => (None, Some(id)),
    };
    let day = crate::clock::local_date(change.at).to_string();
    let inserted = sqlx::query(
        "INSERT INTO ratings (subject, ticket_id, case_id, level, stars, scores, tags, comment, \
         channel, rater_name, rater_phone, unit_kind, unit_org_id, hall_org_id, department_id, \
         window_id, clerk_user_id, item_code, subject_label, finished_at, rated_at, day, late, \
         entered_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
         $16, $17, $18, $19, $20, $21, $22, $23, $24) RETURNING id",
    )
    .bind(facts.subject.as_str())
    .bind(ticket_id)
    .bind(case_id)
    .bind(new.level.as_str())
    .bind(i64::from(new.level.stars()))
    .bind(
        serde_json::to_string(
            &new.scores
                .iter()
                .cloned()
                .collect::<std::collections::BTreeMap<_, _>>(),
        )
        .expect("scores serialise"),
    )
    .bind(serde_json::to_string(&new.tags).expect("tags serialise"))
    .bind(new.comment.trim())
    .bind(new.channel.as_str())
    .bind(&facts.rater_name)
    .bind(&facts.rater_phone)
    .bind(unit.as_str())
    .bind(unit_org)
    .bind(facts.hall_org_id)
    .bind(facts.department_id)
    .bind(facts.window_id)
    .bind(facts.clerk_user_id)
    .bind(&facts.item_code)
    .bind(&facts.label)
    .bind(finished_at)
    .bind(change.at)
    .bind(&day)
    .bind(i64::from(late))
    .bind(new.entered_by)
    .fetch_one(&mut *conn)
    .await;
    let id: i64 = match inserted {
        Ok(r) => r.get("id"),
        Err(e) => {
            let e = StoreError::from(e);
            return Err(if e.is_unique_violation() {
                refused(rules::RatingError::AlreadyRated)
            } else {
                e
            });
        }
    };
    let rating = get(&mut *conn, id).await?;
    let mut deltas = vec![(star_column(new.level), 1)];
    if facts.subject == Subject::Case {
        deltas.push(("rated_cases", 1));
    }
    if new.level.is_bad() {
        deltas.push(("bad", 1));
        if rating.has_contact {
            deltas.push(("named_bad", 1));
        }
    }
    bump(conn, &dims(&rating), &day, rating.id, &deltas).await?;
    if let Some(case) = case_id {
        sqlx::query(
            "UPDATE rating_invitations SET state = 'rated', done_at = $1 WHERE case_id = $2 AND state = 'pending'",
        )
        .bind(change.at)
        .bind(case)
        .execute(&mut *conn)
        .await?;
    }
    audit::append(
        &mut *conn,
        change,
        "rating.create",
        "rating",
        &id.to_string(),
        &json!({ "subject": facts.subject.as_str(), "ticket_id": ticket_id, "case_id": case_id,
            "level": new.level.as_str(), "channel": new.channel.as_str(), "late": late,
            "unit_org_id": unit_org }),
    )
    .await?;
    if new.level.is_bad() {
        open_rectification(conn, change, cal, settings, &rating, unit, unit_org).await?;
    }
    Ok(rating)
}

// --- rectification -------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct Rectification {
    pub id: i64,
    pub rating_id: i64,
    pub unit_kind: Unit,
    pub unit_org_id: i64,
    pub unit_name: String,
    pub state: RectificationState,
    pub state_label: &'static str,
    pub founded: Option<bool>,
    pub evidence: Option<String>,
    pub remedy: Option<Remedy>,
    pub done: Option<String>,
    pub callback_way: Option<CallbackWay>,
    pub callback_level: Option<Level>,
    pub callback_note: Option<String>,
    pub tracked_item_id: Option<i64>,
    pub created_at: i64,
    pub closed_at: Option<i64>,
    pub on_time: Option<bool>,
    pub version: i64,
    #[serde(skip)]
    pub unit_path: OrgPath,
    /// An SMS callback link went out and waits for the rater.
    pub sms_link_sent: bool,
}

const RECT_COLUMNS: &str = "r.id, r.rating_id, r.unit_kind, r.unit_org_id, o.name AS unit_name, \
    o.path AS unit_path, r.state, r.founded, r.evidence, r.remedy, r.done, r.callback_way, \
    r.callback_level, r.callback_note, r.callback_token_hash, r.tracked_item_id, r.created_at, \
    r.closed_at, r.on_time, r.version";

fn rect_from_row(r: &AnyRow) -> Rectification {
    let state = RectificationState::parse(&r.get::<String, _>("state"))
        .unwrap_or(RectificationState::Verifying);
    let founded: Option<i64> = r.get("founded");
    let on_time: Option<i64> = r.get("on_time");
    let token: Option<String> = r.get("callback_token_hash");
    Rectification {
        id: r.get("id"),
        rating_id: r.get("rating_id"),
        unit_kind: Unit::parse(&r.get::<String, _>("unit_kind")).unwrap_or(Unit::Department),
        unit_org_id: r.get("unit_org_id"),
        unit_name: r.get("unit_name"),
        unit_path: OrgPath::from_stored(r.get("unit_path")),
        state,
        state_label: state.label(),
        founded: founded.map(|f| f != 0),
        evidence: r.get("evidence"),
        remedy: r
            .get::<Option<String>, _>("remedy")
            .and_then(|s| Remedy::parse(&s)),
        done: r.get("done"),
        callback_way: r
            .get::<Option<String>, _>("callback_way")
            .and_then(|s| CallbackWay::parse(&s)),
        callback_level: r
            .get::<Option<String>, _>("callback_level")
            .and_then(|s| Level::parse(&s)),
        callback_note: r.get("callback_note"),
        tracked_item_id: r.get("tracked_item_id"),
        created_at: r.get("created_at"),
        closed_at: r.get("closed_at"),
        on_time: on_time.map(|f| f != 0),
        version: r.get("version"),
        sms_link_sent: token.is_some(),
    }
}

pub async fn rectification<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    e: E,
    id: i64,
) -> Result<Rectification> {
    sqlx::query(&format!(
        "SELECT {RECT_COLUMNS} FROM rectifications r JOIN orgs o ON o.id = r.unit_org_id WHERE r.id = $1"
    ))
    .bind(id)
    .fetch_optional(e)
    .await?
    .map(|r| rect_from_row(&r))
    .ok_or(StoreError::NotFound)
}

pub async fn rectification_of_rating<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    e: E,
    rating_id: i64,
) -> Result<Option<i64>> {
    Ok(
        sqlx::query("SELECT id FROM rectifications WHERE rating_id = $1")
            .bind(rating_id)
            .fetch_optional(e)
            .await?
            .map(|r| r.get("id")),
    )
}

/// Registers (or refreshes from the settings) the two rectification kinds on the engine.
pub async fn register_kinds(
    conn: &mut AnyConnection,
    change: &Change,
    limits: RectificationLimits,
) -> Result<()> {
    for unit in [Unit::Hall, Unit::Department] {
        escalation::register_kind(conn, change, &rules::rectification_kind(unit, limits)).await?;
    }
    Ok(())
}

async fn open_rectification(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    settings: &RatingSettings,
    rating: &Rating,
    unit: Unit,
    unit_org: i64,
) -> Result<()> {
    register_kinds(conn, change, settings.limits).await?;
    let id: i64 = sqlx::query(
        "INSERT INTO rectifications (rating_id, unit_kind, unit_org_id, state, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(rating.id)
    .bind(unit.as_str())
    .bind(unit_org)
    .bind(RectificationState::Verifying.as_str())
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    let item = escalation::track(
        conn,
        change,
        cal,
        &NewTracked {
            kind: unit.tracked_kind().into(),
            subject_ref: id.to_string(),
            title: format!("差评整改 ZG{id:05}（{}）", rating.level.label()),
            link: format!("/ratings/rectifications/{id}"),
            owner_org_id: unit_org,
            stage: rules::STAGE_VERIFY.into(),
        },
    )
    .await?;
    sqlx::query("UPDATE rectifications SET tracked_item_id = $1 WHERE id = $2")
        .bind(item.id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    record_step(
        conn,
        change,
        id,
        "opened",
        RectificationState::Verifying,
        &json!({ "rating_id": rating.id }),
    )
    .await?;
    audit::append(
        conn,
        change,
        "rating.rectification.open",
        "rectification",
        &id.to_string(),
        &json!({ "rating_id": rating.id, "unit_org_id": unit_org, "tracked_item_id": item.id }),
    )
    .await
}

async fn record_step(
    conn: &mut AnyConnection,
    change: &Change,
    id: i64,
    step: &str,
    state: RectificationState,
    detail: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO rectification_steps (rectification_id, at, step, state, actor, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(change.at)
    .bind(step)
    .bind(state.as_str())
    .bind(&change.who.label)
    .bind(detail.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub at: i64,
    pub step: String,
    pub state: RectificationState,
    pub actor: String,
    pub detail: serde_json::Value,
}

pub async fn steps(pool: &AnyPool, id: i64) -> Result<Vec<StepRecord>> {
    Ok(sqlx::query(
        "SELECT at, step, state, actor, detail FROM rectification_steps \
         WHERE rectification_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| StepRecord {
        at: r.get("at"),
        step: r.get("step"),
        state: RectificationState::parse(&r.get::<String, _>("state"))
            .unwrap_or(RectificationState::Verifying),
        actor: r.get("actor"),
        detail: serde_json::from_str(&r.get::<String, _>("detail")).unwrap_or_default(),
    })
    .collect())
}

/// Takes a step of a rectification (the caller authorised the actor at the unit): the
/// state from the domain, the engine moved to the next stage or closed, and on closing
/// the rollup of the rating's day counts it (on time: never overdue on the engine).
pub async fn take_step(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    id: i64,
    version: Option<i64>,
    step: &RectificationStep,
) -> Result<Rectification> {
    for (field, label, text) in step_texts(step) {
        check_text(field, label, text, rules::NOTE)
            .map_err(|e| StoreError::Invalid(FieldErrors(vec![e])))?;
    }
    let lock = change.backend.for_update();
    sqlx::query(&format!(
        "SELECT id FROM rectifications WHERE id = $1{lock}"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let before = rectification(&mut *conn, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::version_conflict("该整改记录"));
    }
    let rating = get(&mut *conn, before.rating_id).await?;
    let next = rules::rectify(before.state, step, rating.has_contact).map_err(|e| {
        if matches!(e, rules::RectificationError::WrongStage) {
            StoreError::Conflict {
                code: e.code(),
                message: e.to_string(),
            }
        } else {
            StoreError::invalid(e.field(), e.code(), e.to_string())
        }
    })?;
    let (name, set, binds): (&str, &str, Vec<Option<String>>) = match step {
        RectificationStep::Verify {
            founded,
            evidence,
            remedy,
        } => (
            "verify",
            "founded = $1, evidence = $2, remedy = $3",
            vec![
                Some(i64::from(*founded).to_string()),
                Some(evidence.trim().to_string()),
                remedy.map(|r| r.as_str().to_string()),
            ],
        ),
        RectificationStep::Rectified { done } => (
            "rectified",
            "done = $1",
            vec![Some(done.trim().to_string())],
        ),
        RectificationStep::CalledBack {
            way,
            rater_level,
            note,
        } => (
            "called_back",
            "callback_way = $1, callback_level = $2, callback_note = $3",
            vec![
                Some(way.as_str().to_string()),
                rater_level.map(|l| l.as_str().to_string()),
                Some(note.trim().to_string()),
            ],
        ),
    };
    let n = binds.len();
    let sql = format!(
        "UPDATE rectifications SET {set}, state = ${}, version = version + 1 WHERE id = ${} AND version = ${}",
        n + 1,
        n + 2,
        n + 3
    );
    let mut q = sqlx::query(&sql);
    for (i, b) in binds.into_iter().enumerate() {
        // founded is a number column; the others text.
        q = if name == "verify" && i == 0 {
            q.bind(b.and_then(|s| s.parse::<i64>().ok()))
        } else {
            q.bind(b)
        };
    }
    let changed = q
        .bind(next.as_str())
        .bind(id)
        .bind(before.version)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    crate::error::optimistic(changed, "该整改记录")?;
    let detail = serde_json::to_value(step).unwrap_or_default();
    record_step(conn, change, id, name, next, &detail).await?;
    audit::append(
        &mut *conn,
        change,
        &format!("rating.rectification.{name}"),
        "rectification",
        &id.to_string(),
        &detail,
    )
    .await?;
    let item_id = before.tracked_item_id;
    match next.stage() {
        Some(stage) if Some(stage) != before.state.stage() => {
            if let Some(item) = item_id {
                escalation::advance_stage(conn, change, cal, item, stage).await?;
            }
        }
        Some(_) => {}
        None => close(conn, change, &before, &rating, step).await?,
    }
    rectification(&mut *conn, id).await
}

fn step_texts(step: &RectificationStep) -> Vec<(&'static str, &'static str, &str)> {
    match step {
        RectificationStep::Verify { evidence, .. } => vec![("evidence", "核实情况", evidence)],
        RectificationStep::Rectified { done } => vec![("done", "整改情况", done)],
        RectificationStep::CalledBack { note, .. } => vec![("note", "回访记录", note)],
    }
}

async fn close(
    conn: &mut AnyConnection,
    change: &Change,
    before: &Rectification,
    rating: &Rating,
    step: &RectificationStep,
) -> Result<()> {
    let on_time = match before.tracked_item_id {
        Some(item) => {
            let it: TrackedItem = escalation::get_in(conn, item).await?;
            let on_time =
                it.overdue_since.is_none() && !escalation::ever_overdue(conn, item).await?;
            escalation::close(conn, change, item).await?;
            on_time
        }
        None => true,
    };
    sqlx::query("UPDATE rectifications SET closed_at = $1, on_time = $2 WHERE id = $3")
        .bind(change.at)
        .bind(i64::from(on_time))
        .bind(before.id)
        .execute(&mut *conn)
        .await?;
    // A rating already excluded by an upheld appeal left the figures: its rectification
    // does not come back into them.
    if appeal_of_rating(&mut *conn, rating.id)
        .await?
        .is_some_and(|a| a.state == AppealState::Upheld)
    {
        return Ok(());
    }
    let called_back = matches!(
        step,
        RectificationStep::CalledBack { way, .. } if way.reached()
    );
    let mut deltas = vec![("rectified", 1)];
    if on_time {
        deltas.push(("rectified_on_time", 1));
    }
    if called_back {
        deltas.push(("called_back", 1));
    }
    bump(conn, &dims(rating), &rating.day, rating.id, &deltas).await
}

/// Sends the rater an SMS link to rate the rectification themselves (短信回访): a fresh
/// token (only its hash kept), the message queued in the outbox. Returns the link's path.
pub async fn send_callback_link(
    conn: &mut AnyConnection,
    change: &Change,
    id: i64,
    base_url: &str,
    sender: &str,
) -> Result<(i64, String)> {
    let r = rectification(&mut *conn, id).await?;
    if r.state != RectificationState::CallbackDue {
        return Err(StoreError::Conflict {
            code: "wrong_stage",
            message: "整改完成、进入回访环节后才能发送回访短信".into(),
        });
    }
    let phone: Option<String> = sqlx::query("SELECT rater_phone FROM ratings WHERE id = $1")
        .bind(r.rating_id)
        .fetch_one(&mut *conn)
        .await?
        .get("rater_phone");
    let Some(phone) = phone else {
        return Err(StoreError::invalid(
            "way",
            "no_contact",
            "评价人没有留下手机号码，不能发送回访短信",
        ));
    };
    let token = random_token();
    let changed = sqlx::query(
        "UPDATE rectifications SET callback_token_hash = $1, version = version + 1 \
         WHERE id = $2 AND version = $3",
    )
    .bind(token_hash(&token))
    .bind(id)
    .bind(r.version)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    crate::error::optimistic(changed, "该整改记录")?;
    let path = format!("{}{token}", rules::CALLBACK_LINK);
    let what = match (r.founded, r.remedy) {
        (Some(false), _) => "已核实处理",
        (_, Some(Remedy::Explanation)) => "已核实并作出解释说明",
        _ => "已整改",
    };
    let text =
        format!("【一窗通办】您对我们服务的评价{what}，请对处理结果作出评价：{base_url}{path}");
    let message = crate::notices::queue(conn, change, r.unit_org_id, &phone, &text, sender).await?;
    record_step(
        conn,
        change,
        id,
        "sms_link",
        r.state,
        &json!({ "message_id": message }),
    )
    .await?;
    audit::append(
        conn,
        change,
        "rating.rectification.sms_link",
        "rectification",
        &id.to_string(),
        &json!({ "message_id": message }),
    )
    .await?;
    Ok((message, path))
}

/// The rectification an SMS callback link is for (the token as the rater holds it).
pub async fn by_callback_token(pool: &AnyPool, token: &str) -> Result<Rectification> {
    let id: i64 = sqlx::query("SELECT id FROM rectifications WHERE callback_token_hash = $1")
        .bind(token_hash(token))
        .fetch_optional(pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .get("id");
    rectification(pool, id).await
}

/// Rectifications of units inside `scope`, newest first (keyset: ids below `before`), at
/// most `n`, optionally only in `state`.
pub async fn rectifications_in_scope(
    pool: &AnyPool,
    scope: &OrgPath,
    state: Option<RectificationState>,
    before: Option<i64>,
    n: i64,
) -> Result<Vec<Rectification>> {
    let filter = if state.is_some() {
        " AND r.state = $5"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {RECT_COLUMNS} FROM rectifications r JOIN orgs o ON o.id = r.unit_org_id \
         WHERE o.path >= $1 AND o.path < $2 AND r.id < $4{filter} ORDER BY r.id DESC LIMIT $3"
    );
    let mut q = sqlx::query(&sql)
        .bind(scope.as_str())
        .bind(crate::path_upper_bound(scope.as_str()))
        .bind(n)
        .bind(before.unwrap_or(i64::MAX));
    if let Some(s) = state {
        q = q.bind(s.as_str());
    }
    Ok(q.fetch_all(pool).await?.iter().map(rect_from_row).collect())
}

/// The rater's contact, for the rectification owner only (the caller checked that); the
/// read is audited with its purpose.
pub async fn read_contact(
    conn: &mut AnyConnection,
    change: &Change,
    rectification_id: i64,
    purpose: &str,
) -> Result<(String, Option<String>)> {
    check_text("purpose", "查看目的", purpose, rules::NOTE)
        .map_err(|e| StoreError::Invalid(FieldErrors(vec![e])))?;
    if purpose.trim().is_empty() {
        return Err(StoreError::invalid(
            "purpose",
            "required",
            "请写明查看评价人联系方式的目的",
        ));
    }
    let r = rectification(&mut *conn, rectification_id).await?;
    let row = sqlx::query("SELECT rater_name, rater_phone FROM ratings WHERE id = $1")
        .bind(r.rating_id)
        .fetch_one(&mut *conn)
        .await?;
    audit::append(
        conn,
        change,
        "rating.contact_read",
        "rating",
        &r.rating_id.to_string(),
        &json!({ "rectification_id": rectification_id, "purpose": purpose.trim() }),
    )
    .await?;
    Ok((row.get("rater_name"), row.get("rater_phone")))
}

// --- appeals ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct Appeal {
    pub id: i64,
    pub rating_id: i64,
    pub unit_org_id: i64,
    pub reason: String,
    pub filed_by: i64,
    pub filed_at: i64,
    pub state: AppealState,
    pub state_label: &'static str,
    pub decided_by: Option<i64>,
    pub decided_at: Option<i64>,
    pub decision_reason: Option<String>,
    pub version: i64,
}

fn appeal_from_row(r: &AnyRow) -> Appeal {
    let state = AppealState::parse(&r.get::<String, _>("state")).unwrap_or(AppealState::Pending);
    Appeal {
        id: r.get("id"),
        rating_id: r.get("rating_id"),
        unit_org_id: r.get("unit_org_id"),
        reason: r.get("reason"),
        filed_by: r.get("filed_by"),
        filed_at: r.get("filed_at"),
        state,
        state_label: state.label(),
        decided_by: r.get("decided_by"),
        decided_at: r.get("decided_at"),
        decision_reason: r.get("decision_reason"),
        version: r.get("version"),
    }
}

const APPEAL_COLUMNS: &str = "a.id, a.rating_id, a.unit_org_id, a.reason, a.filed_by, a.filed_at, \
    a.state, a.decided_by, a.decided_at, a.decision_reason, a.version";

pub async fn appeal_of_rating<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    e: E,
    rating_id: i64,
) -> Result<Option<Appeal>> {
    Ok(sqlx::query(&format!(
        "SELECT {APPEAL_COLUMNS} FROM rating_appeals a WHERE a.rating_id = $1"
    ))
    .bind(rating_id)
    .fetch_optional(e)
    .await?
    .map(|r| appeal_from_row(&r)))
}

pub async fn appeal<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    e: E,
    id: i64,
) -> Result<Appeal> {
    sqlx::query(&format!(
        "SELECT {APPEAL_COLUMNS} FROM rating_appeals a WHERE a.id = $1"
    ))
    .bind(id)
    .fetch_optional(e)
    .await?
    .map(|r| appeal_from_row(&r))
    .ok_or(StoreError::NotFound)
}

fn appeal_refused(e: rules::AppealError) -> StoreError {
    match e {
        rules::AppealError::AlreadyAppealed | rules::AppealError::AlreadyDecided => {
            StoreError::Conflict {
                code: e.code(),
                message: e.to_string(),
            }
        }
        _ => StoreError::invalid(e.field(), e.code(), e.to_string()),
    }
}

/// The rated unit appeals a rating (once, with reasons); the supervisors above it are told.
pub async fn file_appeal(
    conn: &mut AnyConnection,
    change: &Change,
    rating_id: i64,
    reason: &str,
) -> Result<Appeal> {
    check_text("reason", "申诉理由", reason, rules::NOTE)
        .map_err(|e| StoreError::Invalid(FieldErrors(vec![e])))?;
    let rating = get(&mut *conn, rating_id).await?;
    let already = appeal_of_rating(&mut *conn, rating_id).await?.is_some();
    rules::may_appeal(already, reason).map_err(appeal_refused)?;
    let filer = change.who.user_id.ok_or(StoreError::NotFound)?;
    let inserted = sqlx::query(
        "INSERT INTO rating_appeals (rating_id, unit_org_id, reason, filed_by, filed_at, state) \
         VALUES ($1, $2, $3, $4, $5, 'pending') RETURNING id",
    )
    .bind(rating_id)
    .bind(rating.unit_org_id)
    .bind(reason.trim())
    .bind(filer)
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await;
    let id: i64 = match inserted {
        Ok(r) => r.get("id"),
        Err(e) => {
            let e = StoreError::from(e);
            return Err(if e.is_unique_violation() {
                appeal_refused(rules::AppealError::AlreadyAppealed)
            } else {
                e
            });
        }
    };
    let unit = crate::orgs::get(&mut *conn, rating.unit_org_id).await?;
    let parent = unit.parent_id.unwrap_or(unit.id);
    let parent_org = crate::orgs::get(&mut *conn, parent).await?;
    crate::notices::add(
        conn,
        change,
        &crate::notices::NewNotice {
            recipient: crate::notices::Recipient::Role {
                role: onewindow_domain::access::Role::Supervisor,
                org_id: parent_org.id,
                org_path: parent_org.path.clone(),
            },
            kind: onewindow_domain::escalation::NoticeKind::Assignment,
            text: format!(
                "【申诉复核】{}对评价“{}”提出申诉，请复核",
                unit.name, rating.subject_label
            )
            .chars()
            .take(onewindow_domain::escalation::NOTICE_TEXT.max)
            .collect(),
            link: format!("/ratings/{rating_id}"),
            item_id: None,
        },
    )
    .await?;
    audit::append(
        conn,
        change,
        "rating.appeal.file",
        "rating",
        &rating_id.to_string(),
        &json!({ "appeal_id": id, "reason": reason.trim() }),
    )
    .await?;
    appeal(&mut *conn, id).await
}

/// A supervisor decides an appeal: upheld takes the rating out of every figure (its rollup
/// rows lose it and count it excluded); the rating itself stays as given.
pub async fn decide_appeal(
    conn: &mut AnyConnection,
    change: &Change,
    appeal_id: i64,
    uphold: bool,
    decider_above_unit: bool,
    reason: &str,
) -> Result<Appeal> {
    check_text("decision_reason", "复核意见", reason, rules::NOTE)
        .map_err(|e| StoreError::Invalid(FieldErrors(vec![e])))?;
    let lock = change.backend.for_update();
    sqlx::query(&format!(
        "SELECT id FROM rating_appeals WHERE id = $1{lock}"
    ))
    .bind(appeal_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let a = appeal(&mut *conn, appeal_id).await?;
    let decider = change.who.user_id.ok_or(StoreError::NotFound)?;
    rules::may_decide_appeal(a.state, a.filed_by, decider, decider_above_unit, reason)
        .map_err(appeal_refused)?;
    let state = if uphold {
        AppealState::Upheld
    } else {
        AppealState::Dismissed
    };
    let changed = sqlx::query(
        "UPDATE rating_appeals SET state = $1, decided_by = $2, decided_at = $3, \
         decision_reason = $4, version = version + 1 WHERE id = $5 AND version = $6",
    )
    .bind(state.as_str())
    .bind(decider)
    .bind(change.at)
    .bind(reason.trim())
    .bind(appeal_id)
    .bind(a.version)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    crate::error::optimistic(changed, "该申诉")?;
    if uphold {
        let rating = get(&mut *conn, a.rating_id).await?;
        let mut deltas = vec![(star_column(rating.level), -1), ("excluded", 1)];
        if rating.subject == Subject::Case {
            deltas.push(("rated_cases", -1));
        }
        if rating.level.is_bad() {
            deltas.push(("bad", -1));
            if rating.has_contact {
                deltas.push(("named_bad", -1));
            }
            // A closed rectification of an excluded rating leaves the counts with it.
            if let Some(r) = sqlx::query(
                "SELECT on_time, callback_way FROM rectifications WHERE rating_id = $1 AND state = 'closed'",
            )
            .bind(rating.id)
            .fetch_optional(&mut *conn)
            .await?
            {
                deltas.push(("rectified", -1));
                if r.get::<Option<i64>, _>("on_time") == Some(1) {
                    deltas.push(("rectified_on_time", -1));
                }
                let way: Option<String> = r.get("callback_way");
                if way.as_deref().and_then(CallbackWay::parse).is_some_and(|w| w.reached()) {
                    deltas.push(("called_back", -1));
                }
            }
        }
        bump(conn, &dims(&rating), &rating.day, rating.id, &deltas).await?;
    }
    audit::append(
        conn,
        change,
        "rating.appeal.decide",
        "rating",
        &a.rating_id.to_string(),
        &json!({ "appeal_id": appeal_id, "state": state.as_str(), "reason": reason.trim() }),
    )
    .await?;
    appeal(&mut *conn, appeal_id).await
}

/// Pending appeals of units inside `scope`, oldest first.
pub async fn pending_appeals(pool: &AnyPool, scope: &OrgPath, n: i64) -> Result<Vec<Appeal>> {
    Ok(sqlx::query(&format!(
        "SELECT {APPEAL_COLUMNS} FROM rating_appeals a JOIN orgs o ON o.id = a.unit_org_id \
         WHERE a.state = 'pending' AND o.path >= $1 AND o.path < $2 ORDER BY a.id LIMIT $3"
    ))
    .bind(scope.as_str())
    .bind(crate::path_upper_bound(scope.as_str()))
    .bind(n)
    .fetch_all(pool)
    .await?
    .iter()
    .map(appeal_from_row)
    .collect())
}

/// Ratings whose unit lies inside `scope`, newest first, at most `n`, before id `before`.
pub async fn recent_in_scope(
    pool: &AnyPool,
    scope: &OrgPath,
    before: Option<i64>,
    n: i64,
) -> Result<Vec<Rating>> {
    let cols: String = COLUMNS
        .split(", ")
        .map(|c| format!("r.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(sqlx::query(&format!(
        "SELECT {cols} FROM ratings r JOIN orgs o ON o.id = r.unit_org_id \
         WHERE o.path >= $1 AND o.path < $2 AND r.id < $3 ORDER BY r.id DESC LIMIT $4"
    ))
    .bind(scope.as_str())
    .bind(crate::path_upper_bound(scope.as_str()))
    .bind(before.unwrap_or(i64::MAX))
    .bind(n)
    .fetch_all(pool)
    .await?
    .iter()
    .map(rating_from_row)
    .collect())
}

// --- devices ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub id: i64,
    pub window_id: i64,
    pub hall_id: i64,
    pub label: String,
    pub paired_at: i64,
    pub revoked_at: Option<i64>,
    pub prompt_ticket_id: Option<i64>,
    pub prompt_at: Option<i64>,
}

fn device_from_row(r: &AnyRow) -> Device {
    Device {
        id: r.get("id"),
        window_id: r.get("window_id"),
        hall_id: r.get("hall_id"),
        label: r.get("label"),
        paired_at: r.get("paired_at"),
        revoked_at: r.get("revoked_at"),
        prompt_ticket_id: r.get("prompt_ticket_id"),
        prompt_at: r.get("prompt_at"),
    }
}

const DEVICE_COLUMNS: &str =
    "id, window_id, hall_id, label, paired_at, revoked_at, prompt_ticket_id, prompt_at";

/// Pairs a tablet with a window: returns the device and the token the tablet keeps.
pub async fn pair_device(
    conn: &mut AnyConnection,
    change: &Change,
    window_id: i64,
    label: &str,
) -> Result<(Device, String)> {
    check_text(
        "label",
        "评价器名称",
        label,
        onewindow_domain::validation::TextLimit::one_line(40),
    )
    .map_err(|e| StoreError::Invalid(FieldErrors(vec![e])))?;
    let w = crate::queue::window(&mut *conn, window_id).await?;
    let token = random_token();
    let by = change.who.user_id.ok_or(StoreError::NotFound)?;
    let label = if label.trim().is_empty() {
        format!("{}号窗口评价器", w.number)
    } else {
        label.trim().to_string()
    };
    let id: i64 = sqlx::query(
        "INSERT INTO rating_devices (window_id, hall_id, token_hash, label, paired_by, paired_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(w.id)
    .bind(w.hall_id)
    .bind(token_hash(&token))
    .bind(&label)
    .bind(by)
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    audit::append(
        conn,
        change,
        "rating.device.pair",
        "rating_device",
        &id.to_string(),
        &json!({ "window_id": w.id, "label": label }),
    )
    .await?;
    let d = sqlx::query(&format!(
        "SELECT {DEVICE_COLUMNS} FROM rating_devices WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((device_from_row(&d), token))
}

pub async fn revoke_device(conn: &mut AnyConnection, change: &Change, id: i64) -> Result<()> {
    let changed = sqlx::query(
        "UPDATE rating_devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
    )
    .bind(change.at)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    audit::append(
        conn,
        change,
        "rating.device.revoke",
        "rating_device",
        &id.to_string(),
        &json!({}),
    )
    .await
}

pub async fn device(pool: &AnyPool, id: i64) -> Result<Device> {
    sqlx::query(&format!(
        "SELECT {DEVICE_COLUMNS} FROM rating_devices WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .map(|r| device_from_row(&r))
    .ok_or(StoreError::NotFound)
}

/// The paired (not revoked) device holding `token`.
pub async fn device_by_token(pool: &AnyPool, token: &str) -> Result<Device> {
    sqlx::query(&format!(
        "SELECT {DEVICE_COLUMNS} FROM rating_devices WHERE token_hash = $1 AND revoked_at IS NULL"
    ))
    .bind(token_hash(token))
    .fetch_optional(pool)
    .await?
    .map(|r| device_from_row(&r))
    .ok_or(StoreError::NotFound)
}

pub async fn devices_of_hall(pool: &AnyPool, hall_id: i64) -> Result<Vec<Device>> {
    Ok(sqlx::query(&format!(
        "SELECT {DEVICE_COLUMNS} FROM rating_devices WHERE hall_id = $1 AND revoked_at IS NULL ORDER BY window_id, id"
    ))
    .bind(hall_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(device_from_row)
    .collect())
}

/// The finish of a ticket (its transaction): who finished it, and the rating prompt on the
/// window's devices.
pub async fn on_ticket_finished(
    conn: &mut AnyConnection,
    change: &Change,
    ticket_id: i64,
    window_id: Option<i64>,
) -> Result<()> {
    sqlx::query("UPDATE tickets SET finished_by = $1 WHERE id = $2")
        .bind(change.who.user_id)
        .bind(ticket_id)
        .execute(&mut *conn)
        .await?;
    if let Some(w) = window_id {
        sqlx::query(
            "UPDATE rating_devices SET prompt_ticket_id = $1, prompt_at = $2 \
             WHERE window_id = $3 AND revoked_at IS NULL",
        )
        .bind(ticket_id)
        .bind(change.at)
        .bind(w)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// What the device shows now: the ticket finished at its window within the prompt time and
/// not yet rated, or nothing (the idle screen).
pub async fn device_prompt(
    pool: &AnyPool,
    device: &Device,
    now: i64,
    prompt_minutes: i64,
) -> Result<Option<crate::queue::Ticket>> {
    let (Some(ticket), Some(at)) = (device.prompt_ticket_id, device.prompt_at) else {
        return Ok(None);
    };
    if now - at > prompt_minutes * 60_000_000 {
        return Ok(None);
    }
    if of_subject(pool, SubjectRef::Ticket(ticket))
        .await?
        .is_some()
    {
        return Ok(None);
    }
    Ok(Some(crate::queue::ticket(pool, ticket).await?))
}

// --- invitations -------------------------------------------------------------------------------

/// The issuance of a case (its transaction): counted as finished in the rollup, and an
/// invitation to rate pending (sent by [`send_invitations`] when due). Once per case.
pub async fn on_case_finished(
    conn: &mut AnyConnection,
    change: &Change,
    case_id: i64,
) -> Result<()> {
    let inserted = sqlx::query(
        "INSERT INTO rating_invitations (case_id, finished_at, state) VALUES ($1, $2, 'pending') \
         ON CONFLICT (case_id) DO NOTHING RETURNING case_id",
    )
    .bind(case_id)
    .bind(change.at)
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_none() {
        return Ok(());
    }
    let r = sqlx::query(
        "SELECT intake_org_id, department_id, item_code, created_by FROM cases WHERE id = $1",
    )
    .bind(case_id)
    .fetch_one(&mut *conn)
    .await?;
    let hall = hall_of(&mut *conn, r.get("intake_org_id")).await?;
    let dept: i64 = r.get("department_id");
    let dims = vec![
        ("hall", hall.to_string(), hall),
        ("department", dept.to_string(), dept),
        ("clerk", r.get::<i64, _>("created_by").to_string(), hall),
        ("item", r.get::<String, _>("item_code"), hall),
    ];
    let day = crate::clock::local_date(change.at).to_string();
    bump(conn, &dims, &day, case_id, &[("finished_cases", 1)]).await
}

/// The invitations due at `change.at` (`after_days` after finishing, the setting): for each
/// case still unrated, an SMS with the rating link through the outbox; a case rated
/// meanwhile is marked so. Reads only due rows, by the index.
pub async fn send_invitations(
    store: &crate::Store,
    change: &Change,
    after_days: i64,
    base_url: &str,
    sender: &str,
) -> Result<Vec<i64>> {
    // Finished at or before this: `invitation_at(finished, after_days) <= now`.
    let cutoff = change.at - rules::invitation_at(0, after_days);
    let due: Vec<i64> = sqlx::query(
        "SELECT case_id FROM rating_invitations WHERE state = 'pending' AND finished_at <= $1 \
         ORDER BY finished_at, case_id LIMIT 500",
    )
    .bind(cutoff)
    .fetch_all(store.reader())
    .await?
    .iter()
    .map(|r| r.get("case_id"))
    .collect();
    let mut sent = Vec::new();
    for case_id in due {
        let mut tx = store.begin().await?;
        // Claimed by the state change: a second runner's UPDATE finds nothing.
        let claimed = sqlx::query(
            "UPDATE rating_invitations SET state = 'claimed' WHERE case_id = $1 AND state = 'pending'",
        )
        .bind(case_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            continue;
        }
        let c = sqlx::query(
            "SELECT case_no, title, intake_org_id, applicant_phone FROM cases WHERE id = $1",
        )
        .bind(case_id)
        .fetch_one(&mut *tx)
        .await?;
        let rated = sqlx::query("SELECT id FROM ratings WHERE case_id = $1")
            .bind(case_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        let phone: String = c.get("applicant_phone");
        let (state, message) = if rated {
            ("rated", None)
        } else if onewindow_domain::ids::MobileNumber::parse(&phone).is_err() {
            ("no_contact", None)
        } else {
            let case_no: String = c.get("case_no");
            let text = format!(
                "【一窗通办】您办理的“{}”已办结，欢迎评价：{base_url}/pj/{case_no}（凭受理回执上的查询码）",
                c.get::<String, _>("title")
            );
            let id = crate::notices::queue(
                &mut tx,
                change,
                c.get("intake_org_id"),
                &phone,
                &text,
                sender,
            )
            .await?;
            ("sent", Some(id))
        };
        sqlx::query(
            "UPDATE rating_invitations SET state = $1, message_id = $2, done_at = $3 WHERE case_id = $4",
        )
        .bind(state)
        .bind(message)
        .bind(change.at)
        .bind(case_id)
        .execute(&mut *tx)
        .await?;
        if message.is_some() {
            audit::append(
                &mut tx,
                change,
                "rating.invite",
                "case",
                &case_id.to_string(),
                &json!({ "message_id": message }),
            )
            .await?;
            sent.push(case_id);
        }
        tx.commit().await?;
    }
    Ok(sent)
}

// --- figures -----------------------------------------------------------------------------------

/// The counts of one unit over a period, summed from the rollup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnitCounts {
    pub dim_id: String,
    pub name: String,
    /// Ratings per level (stars − 1), appeals upheld already out.
    #[serde(skip)]
    pub tally: Tally,
    pub excluded: i64,
    pub finished_cases: i64,
    pub rated_cases: i64,
    pub bad: i64,
    pub named_bad: i64,
    pub rectified: i64,
    pub rectified_on_time: i64,
    pub called_back: i64,
}

impl UnitCounts {
    pub fn good_rate(&self, basic_counts: bool) -> Rate {
        rules::good_rate(&self.tally, basic_counts)
    }
}

/// The dimensions figures are given by.
pub const DIMENSIONS: [(&str, &str); 5] = [
    ("hall", "大厅"),
    ("department", "部门"),
    ("window", "窗口"),
    ("clerk", "工作人员"),
    ("item", "事项"),
];

/// Per unit of `dim` inside `scope`, for days `from..=to` (Beijing dates, `YYYY-MM-DD`).
pub async fn figures(
    pool: &AnyPool,
    scope: &OrgPath,
    dim: &str,
    from: &str,
    to: &str,
) -> Result<Vec<UnitCounts>> {
    if !DIMENSIONS.iter().any(|d| d.0 == dim) {
        return Err(StoreError::invalid("dim", "unknown", "没有这个统计维度"));
    }
    let name = match dim {
        "hall" | "department" => "(SELECT name FROM orgs x WHERE CAST(x.id AS TEXT) = f.dim_id)",
        "window" => "(SELECT CAST(w.number AS TEXT) || '号窗口 ' || w.name FROM service_windows w WHERE CAST(w.id AS TEXT) = f.dim_id)",
        "clerk" => "(SELECT u.display_name FROM users u WHERE CAST(u.id AS TEXT) = f.dim_id)",
        _ => "(SELECT c.name FROM catalog_items c WHERE c.code = f.dim_id ORDER BY c.id DESC LIMIT 1)",
    };
    let sql = format!(
        "SELECT f.dim_id, MAX({name}) AS name, CAST(SUM(f.s1) AS BIGINT) AS s1, CAST(SUM(f.s2) AS BIGINT) AS s2, CAST(SUM(f.s3) AS BIGINT) AS s3, \
         CAST(SUM(f.s4) AS BIGINT) AS s4, CAST(SUM(f.s5) AS BIGINT) AS s5, CAST(SUM(f.excluded) AS BIGINT) AS excluded, \
         CAST(SUM(f.finished_cases) AS BIGINT) AS finished_cases, CAST(SUM(f.rated_cases) AS BIGINT) AS rated_cases, \
         CAST(SUM(f.bad) AS BIGINT) AS bad, CAST(SUM(f.named_bad) AS BIGINT) AS named_bad, CAST(SUM(f.rectified) AS BIGINT) AS rectified, \
         CAST(SUM(f.rectified_on_time) AS BIGINT) AS rectified_on_time, CAST(SUM(f.called_back) AS BIGINT) AS called_back \
         FROM rating_rollup f JOIN orgs o ON o.id = f.org_id \
         WHERE f.dim = $1 AND f.day >= $2 AND f.day <= $3 AND o.path >= $4 AND o.path < $5 \
         GROUP BY f.dim_id ORDER BY f.dim_id"
    );
    let rows = sqlx::query(&sql)
        .bind(dim)
        .bind(from)
        .bind(to)
        .bind(scope.as_str())
        .bind(crate::path_upper_bound(scope.as_str()))
        .fetch_all(pool)
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let n = |c: &str| r.get::<Option<i64>, _>(c).unwrap_or(0);
            let by_stars = [n("s1"), n("s2"), n("s3"), n("s4"), n("s5")];
            let id: String = r.get("dim_id");
            UnitCounts {
                name: r
                    .get::<Option<String>, _>("name")
                    .unwrap_or_else(|| id.clone()),
                dim_id: id,
                tally: Tally { by_stars },
                excluded: n("excluded"),
                finished_cases: n("finished_cases"),
                rated_cases: n("rated_cases"),
                bad: n("bad"),
                named_bad: n("named_bad"),
                rectified: n("rectified"),
                rectified_on_time: n("rectified_on_time"),
                called_back: n("called_back"),
            }
        })
        .collect())
}
