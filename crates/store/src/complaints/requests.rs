//! Requests: intake, the duplicate check, the acts of the loop and the chain of events. The
//! order of the loop is `onewindow_domain::complaints::next_state`; this module keeps the
//! records.
//!
//! Each act is one transaction: the request row (optimistic `version`), its event, the
//! engine's step, the audit entry, the messages to the person (outbox) and the rollup
//! counters. The engine's items: one of kind `complaints.dispatch` while the dispatchers
//! owe something (派单, 退单审核, 回访), one of kind `complaints.handle` while the lead
//! department does (签收, 办理答复). Each new piece of owed work is a new item whose subject
//! carries the row's version, so an item's history is one stretch of work.

use crate::audit::{self, Change};
use crate::escalation::{self, NewTracked, TrackedItem};
use crate::notices::{self, NewNotice, Recipient};
use crate::{Result, StoreError};
use onewindow_domain::access::Role;
use onewindow_domain::calendar::WorkCalendar;
use onewindow_domain::complaints::{
    self as rules, Act, ActError, Channel, Facts, LimitSettings, Limits, Metric, RequestType,
    Satisfaction, State, Urgency, MAX_CO_HANDLERS,
};
use onewindow_domain::escalation::NoticeKind;
use onewindow_domain::org::{OrgKind, OrgPath};
use onewindow_domain::validation::FieldErrors;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

/// The limits from settings (`complaints.*`).
pub async fn limits(pool: &AnyPool) -> Result<Limits> {
    let [d0, d1, d2, f0, f1, fd, fc, reopens, callback, preset] = crate::settings::get_ints(
        pool,
        [
            "complaints.dispatch_emergency_hours",
            "complaints.dispatch_utilities_hours",
            "complaints.dispatch_ordinary_hours",
            "complaints.feedback_emergency_hours",
            "complaints.feedback_utilities_hours",
            "complaints.feedback_ordinary_days",
            "complaints.feedback_complex_days",
            "complaints.max_reopens",
            "complaints.callback_days",
            "complaints.seed_preset",
        ],
    )
    .await?;
    Ok(Limits::from_settings(&LimitSettings {
        dispatch_hours: [d0, d1, d2],
        feedback_hours: [f0, f1],
        feedback_days: fd,
        feedback_complex_days: fc,
        max_reopens: reopens,
        callback_days: callback,
        seed_preset: preset == 1,
    }))
}

/// What the duplicate check looks at: how far back, how near.
pub async fn duplicate_window(pool: &AnyPool) -> Result<(i64, f64)> {
    let [days, metres] = crate::settings::get_ints(
        pool,
        ["complaints.duplicate_days", "complaints.duplicate_metres"],
    )
    .await?;
    Ok((days, metres as f64))
}

/// Registers (or refreshes) both engine kinds with the current limits.
pub async fn register_kinds(
    conn: &mut AnyConnection,
    change: &Change,
    limits: &Limits,
) -> Result<()> {
    escalation::register_kind(conn, change, &rules::dispatch_kind(limits)).await?;
    escalation::register_kind(conn, change, &rules::handle_kind(limits)).await
}

/// A request to take in.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// The receiving street or district (its dispatchers answer for it).
    pub org_id: i64,
    pub channel: Channel,
    /// The 12345 system's own id of a pushed request.
    pub external_id: Option<String>,
    pub request_type: RequestType,
    pub urgency: Urgency,
    pub complex: bool,
    pub category_id: Option<i64>,
    pub content: String,
    pub person_name: String,
    pub person_phone: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// A 窗口服务投诉's staff member (never shown the request).
    pub complained_user_id: Option<i64>,
    pub complained_window: String,
}

/// A request as stored, with the names a page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub id: i64,
    pub request_no: String,
    #[serde(skip)]
    pub query_code: String,
    pub org_id: i64,
    pub org_name: String,
    #[serde(skip)]
    pub org_path: OrgPath,
    pub channel: Channel,
    pub external_id: Option<String>,
    pub request_type: RequestType,
    pub urgency: Urgency,
    pub complex: bool,
    pub category_id: Option<i64>,
    pub category_name: Option<String>,
    pub content: String,
    pub person_name: String,
    pub person_phone: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    #[serde(skip)]
    pub complained_user_id: Option<i64>,
    pub complained_window: String,
    pub state: State,
    pub lead_department_id: Option<i64>,
    pub lead_department_name: Option<String>,
    #[serde(skip)]
    pub lead_path: Option<OrgPath>,
    pub co_departments: Vec<i64>,
    pub dispatch_round: i64,
    pub reopens: i64,
    pub original_id: Option<i64>,
    pub repeat_count: i64,
    pub problem_id: Option<i64>,
    pub received_at: i64,
    pub dispatch_due_at: Option<i64>,
    pub dispatched_at: Option<i64>,
    pub sign_due_at: Option<i64>,
    pub signed_at: Option<i64>,
    pub reply_due_at: Option<i64>,
    pub replied_at: Option<i64>,
    pub reply_content: Option<String>,
    pub return_reason: Option<String>,
    pub callback_due_at: Option<i64>,
    pub called_back_at: Option<i64>,
    pub callback_way: Option<String>,
    pub satisfaction: Option<Satisfaction>,
    pub solved: Option<bool>,
    pub told_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub dispatch_item_id: Option<i64>,
    pub handle_item_id: Option<i64>,
    /// The staff member who took it in (the system account of a 12345 push; none online).
    #[serde(skip)]
    pub created_by: Option<i64>,
    pub version: i64,
}

impl Request {
    /// Which step [`Request::due_now`] is the limit of.
    pub fn due_label(&self) -> &'static str {
        match self.state {
            State::Received => "派单时限",
            State::Dispatched => "签收时限",
            State::Signed | State::Reopened | State::Supervised => "答复时限",
            State::Replied => "回访时限",
            State::ReturnAsked => "退单审核",
            _ => "时限",
        }
    }

    /// The moment the work owed now is due, for the board's order and colours.
    pub fn due_now(&self) -> Option<i64> {
        match self.state {
            State::Received => self.dispatch_due_at,
            State::Dispatched => self.sign_due_at,
            State::Signed | State::Reopened | State::Supervised => self.reply_due_at,
            State::Replied => self.callback_due_at,
            _ => None,
        }
    }

    fn facts(&self) -> Facts {
        Facts {
            state: self.state,
            lead: self.lead_department_id,
            reopens: self.reopens as u32,
        }
    }
}

const SELECT: &str =
    "SELECT c.*, o.name AS org_name, o.path AS org_path, k.name AS category_name, \
    d.name AS lead_name, d.path AS lead_path FROM complaints c JOIN orgs o ON o.id = c.org_id \
    LEFT JOIN complaint_categories k ON k.id = c.category_id \
    LEFT JOIN orgs d ON d.id = c.lead_department_id";

fn from_row(r: &AnyRow) -> Request {
    let text = |c: &str| r.get::<Option<String>, _>(c);
    Request {
        id: r.get("id"),
        request_no: r.get("request_no"),
        query_code: r.get("query_code"),
        org_id: r.get("org_id"),
        org_name: r.get("org_name"),
        org_path: OrgPath::from_stored(r.get("org_path")),
        channel: Channel::parse(&r.get::<String, _>("channel")).unwrap_or(Channel::Phone),
        external_id: text("external_id"),
        request_type: RequestType::parse(&r.get::<String, _>("request_type"))
            .unwrap_or(RequestType::Help),
        urgency: Urgency::parse(&r.get::<String, _>("urgency")).unwrap_or(Urgency::Ordinary),
        complex: r.get::<i64, _>("complex") == 1,
        category_id: r.get("category_id"),
        category_name: text("category_name"),
        content: r.get("content"),
        person_name: r.get("person_name"),
        person_phone: r.get("person_phone"),
        address: r.get("address"),
        lat: r.get("lat"),
        lon: r.get("lon"),
        complained_user_id: r.get("complained_user_id"),
        complained_window: r.get("complained_window"),
        state: State::parse(&r.get::<String, _>("state")).unwrap_or(State::Received),
        lead_department_id: r.get("lead_department_id"),
        lead_department_name: text("lead_name"),
        lead_path: text("lead_path").map(OrgPath::from_stored),
        co_departments: serde_json::from_str(&r.get::<String, _>("co_departments"))
            .unwrap_or_default(),
        dispatch_round: r.get("dispatch_round"),
        reopens: r.get("reopens"),
        original_id: r.get("original_id"),
        repeat_count: r.get("repeat_count"),
        problem_id: r.get("problem_id"),
        received_at: r.get("received_at"),
        dispatch_due_at: r.get("dispatch_due_at"),
        dispatched_at: r.get("dispatched_at"),
        sign_due_at: r.get("sign_due_at"),
        signed_at: r.get("signed_at"),
        reply_due_at: r.get("reply_due_at"),
        replied_at: r.get("replied_at"),
        reply_content: text("reply_content"),
        return_reason: text("return_reason"),
        callback_due_at: r.get("callback_due_at"),
        called_back_at: r.get("called_back_at"),
        callback_way: text("callback_way"),
        satisfaction: text("satisfaction").and_then(|s| Satisfaction::parse(&s)),
        solved: r.get::<Option<i64>, _>("solved").map(|s| s == 1),
        told_at: r.get("told_at"),
        closed_at: r.get("closed_at"),
        dispatch_item_id: r.get("dispatch_item_id"),
        handle_item_id: r.get("handle_item_id"),
        created_by: r.get("created_by"),
        version: r.get("version"),
    }
}

pub async fn get<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    e: E,
    id: i64,
) -> Result<Request> {
    sqlx::query(&format!("{SELECT} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(|r| from_row(&r))
        .ok_or(StoreError::NotFound)
}

/// The request a person follows with its number and query code; a wrong code is none.
pub async fn for_person(pool: &AnyPool, request_no: &str, query_code: &str) -> Result<Request> {
    let found = sqlx::query(&format!("{SELECT} WHERE c.request_no = $1"))
        .bind(request_no.trim().to_ascii_uppercase())
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r))
        .ok_or(StoreError::NotFound)?;
    if onewindow_domain::cases::query_code_matches(query_code, &found.query_code) {
        Ok(found)
    } else {
        Err(StoreError::NotFound)
    }
}

pub async fn by_external_id(pool: &AnyPool, external_id: &str) -> Result<Option<Request>> {
    Ok(sqlx::query(&format!("{SELECT} WHERE c.external_id = $1"))
        .bind(external_id.trim())
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r)))
}

/// Which requests a list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub states: Vec<State>,
    /// Requests dispatched to this department (lead), instead of the receiving scope.
    pub department: Option<OrgPath>,
    /// Never the requests complaining about this staff member.
    pub viewer: i64,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Requests received inside `scope` (or, with `department`, led by departments inside it),
/// newest first, one page (keyset on id).
pub async fn list(pool: &AnyPool, scope: &OrgPath, f: &Filter) -> Result<Vec<Request>> {
    let (col, path) = match &f.department {
        Some(d) => ("d.path", d),
        None => ("o.path", scope),
    };
    let mut sql = format!(
        "{SELECT} WHERE {col} >= $1 AND {col} < $2 AND (c.complained_user_id IS NULL OR \
         c.complained_user_id <> $3)"
    );
    if !f.states.is_empty() {
        let list: Vec<String> = f
            .states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        sql.push_str(&format!(" AND c.state IN ({})", list.join(", ")));
    }
    if f.before_id.is_some() {
        sql.push_str(" AND c.id < $4 ORDER BY c.id DESC LIMIT $5");
    } else {
        sql.push_str(" ORDER BY c.id DESC LIMIT $4");
    }
    let mut q = sqlx::query(&sql)
        .bind(path.as_str())
        .bind(crate::path_upper_bound(path.as_str()))
        .bind(f.viewer);
    if let Some(b) = f.before_id {
        q = q.bind(b);
    }
    let rows = q.bind(f.limit.clamp(1, 200)).fetch_all(pool).await?;
    Ok(rows.iter().map(from_row).collect())
}

/// Requests where a co-handling department is named (its inbox shows them too).
pub async fn co_handled_by(
    pool: &AnyPool,
    department_id: i64,
    viewer: i64,
    limit: i64,
) -> Result<Vec<Request>> {
    // co_departments is a JSON array of ids; the match is on the id's written form with
    // its delimiters, so 1 does not match 12.
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE c.state IN ('dispatched', 'signed', 'reopened', 'supervised') AND \
         (c.co_departments LIKE $1 OR c.co_departments LIKE $2 OR c.co_departments LIKE $3 OR \
         c.co_departments = $4) AND (c.complained_user_id IS NULL OR c.complained_user_id <> $6) \
         ORDER BY c.id DESC LIMIT $5"
    ))
    .bind(format!("[{department_id},%"))
    .bind(format!("%,{department_id},%"))
    .bind(format!("%,{department_id}]"))
    .bind(format!("[{department_id}]"))
    .bind(limit.clamp(1, 200))
    .bind(viewer)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

/// The field checks of a new request, every field's error at once.
pub fn check_new(new: &NewRequest) -> Result<()> {
    let mut errors = FieldErrors::new();
    for (field, label, value, limit, needed) in [
        ("content", "诉求内容", &new.content, rules::CONTENT, true),
        ("person_name", "姓名", &new.person_name, rules::NAME, true),
        ("address", "地址", &new.address, rules::ADDRESS, false),
        (
            "complained_window",
            "被投诉的窗口",
            &new.complained_window,
            rules::SHORT,
            false,
        ),
    ] {
        errors.text(field, label, value, limit);
        if needed && onewindow_domain::validation::is_blank(value) {
            errors.add(field, "required", format!("请填写{label}"));
        }
    }
    if onewindow_domain::ids::MobileNumber::parse(&new.person_phone).is_err() {
        errors.add(
            "person_phone",
            "invalid_phone",
            "请填写11位手机号码，用于回访和告知办理结果",
        );
    }
    match (new.lat, new.lon) {
        (None, None) => {}
        (Some(lat), Some(lon)) if rules::valid_coordinates(lat, lon) => {}
        _ => errors.add(
            "lat",
            "invalid_coordinates",
            "坐标须同时填写纬度（-90至90）和经度（-180至180）",
        ),
    }
    if let Some(ext) = &new.external_id {
        errors.text("external_id", "12345工单编号", ext, rules::SHORT);
        if ext.trim().is_empty() {
            errors.add("external_id", "required", "请填写12345工单编号");
        }
    }
    if new.channel == Channel::Hotline && new.external_id.is_none() {
        errors.add("external_id", "required", "12345推送须带工单编号");
    }
    if new.complained_user_id.is_some() && new.request_type != RequestType::ServiceComplaint {
        // Naming a staff member hides the request from them: only for what is about them.
        errors.add(
            "complained_user_id",
            "not_a_service_complaint",
            "只有窗口服务投诉可以指定被投诉的工作人员",
        );
    }
    if new.request_type == RequestType::ServiceComplaint
        && new.complained_user_id.is_none()
        && new.complained_window.trim().is_empty()
    {
        errors.add(
            "complained_window",
            "required",
            "窗口服务投诉须写明被投诉的窗口或工作人员",
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(errors))
    }
}

/// Takes a request in and starts the dispatch clock. Counted as a request of the day.
pub async fn intake(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    limits: &Limits,
    new: &NewRequest,
    entropy: u64,
) -> Result<Request> {
    check_new(new)?;
    let org = crate::orgs::get(&mut *conn, new.org_id).await?;
    if let Some(c) = new.category_id {
        super::categories::get(&mut *conn, c).await.map_err(|_| {
            StoreError::invalid("category_id", "unknown_category", "请选择诉求分类")
        })?;
    }
    if let Some(u) = new.complained_user_id {
        let found = sqlx::query("SELECT id FROM users WHERE id = $1")
            .bind(u)
            .fetch_optional(&mut *conn)
            .await?;
        if found.is_none() {
            return Err(StoreError::invalid(
                "complained_user_id",
                "unknown_user",
                "被投诉的工作人员不存在",
            ));
        }
    }
    let today = crate::clock::local_date(change.at);
    let seq: i64 = sqlx::query(
        "INSERT INTO complaint_counters (day, seq) VALUES ($1, 1) ON CONFLICT (day) \
         DO UPDATE SET seq = complaint_counters.seq + 1 RETURNING seq",
    )
    .bind(today.to_string())
    .fetch_one(&mut *conn)
    .await?
    .get("seq");
    let request_no = rules::request_number(today, seq as u32);
    let query_code = onewindow_domain::cases::query_code(entropy);
    let external = new.external_id.as_ref().map(|e| e.trim().to_string());
    let inserted = sqlx::query(
        "INSERT INTO complaints (request_no, query_code, org_id, channel, external_id, \
         request_type, urgency, complex, category_id, content, person_name, person_phone, \
         address, lat, lon, complained_user_id, complained_window, state, received_at, \
         created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
         $16, $17, 'received', $18, $19) ON CONFLICT (external_id) DO NOTHING RETURNING id",
    )
    .bind(&request_no)
    .bind(&query_code)
    .bind(org.id)
    .bind(new.channel.as_str())
    .bind(&external)
    .bind(new.request_type.as_str())
    .bind(new.urgency.as_str())
    .bind(i64::from(new.complex))
    .bind(new.category_id)
    .bind(new.content.trim())
    .bind(new.person_name.trim())
    .bind(new.person_phone.trim())
    .bind(new.address.trim())
    .bind(new.lat)
    .bind(new.lon)
    .bind(new.complained_user_id)
    .bind(new.complained_window.trim())
    .bind(change.at)
    .bind(change.who.user_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = inserted else {
        return Err(StoreError::Conflict {
            code: "already_received",
            message: "该12345工单已推送过".into(),
        });
    };
    let id: i64 = row.get("id");
    register_kinds(conn, change, limits).await?;
    let mut req = get(&mut *conn, id).await?;
    let item = track(
        conn,
        change,
        cal,
        &req,
        rules::DISPATCH_KIND,
        &rules::dispatch_stage(new.urgency),
        org.id,
    )
    .await?;
    sqlx::query("UPDATE complaints SET dispatch_item_id = $1, dispatch_due_at = $2 WHERE id = $3")
        .bind(item.id)
        .bind(item.due_at)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    req.dispatch_item_id = Some(item.id);
    req.dispatch_due_at = item.due_at;
    record(
        conn,
        change,
        &req,
        "intake",
        State::Received,
        State::Received,
        json!({
            "channel": new.channel.as_str(), "urgency": new.urgency.as_str(),
            "request_type": new.request_type.as_str(), "external_id": external,
        }),
    )
    .await?;
    let message = format!(
        "您反映的诉求已受理，编号{request_no}，查询码{query_code}。我们将派给承办部门办理并回访。"
    );
    notices::queue(
        conn,
        change,
        org.id,
        &req.person_phone,
        &message,
        "complaints",
    )
    .await?;
    Ok(req)
}

async fn track(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    req: &Request,
    kind: &str,
    stage: &str,
    owner: i64,
) -> Result<TrackedItem> {
    // The subject carries the row's version: each stretch of owed work is its own item.
    let version: i64 = sqlx::query("SELECT version FROM complaints WHERE id = $1")
        .bind(req.id)
        .fetch_one(&mut *conn)
        .await?
        .get("version");
    escalation::track(
        conn,
        change,
        cal,
        &NewTracked {
            kind: kind.into(),
            subject_ref: format!("complaint:{}:v{version}", req.id),
            title: format!("诉求{}", req.request_no),
            link: format!("/complaints/{}", req.id),
            owner_org_id: owner,
            stage: stage.into(),
        },
    )
    .await
}

async fn close_item(conn: &mut AnyConnection, change: &Change, item: Option<i64>) -> Result<()> {
    if let Some(id) = item {
        escalation::close(conn, change, id).await?;
    }
    Ok(())
}

/// Appends the request's event and its audit entry (one chain: 一诉一链).
async fn record(
    conn: &mut AnyConnection,
    change: &Change,
    req: &Request,
    act: &str,
    from: State,
    to: State,
    detail: serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO complaint_events (complaint_id, act, from_state, to_state, user_id, detail, \
         at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(req.id)
    .bind(act)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(change.who.user_id)
    .bind(detail.to_string())
    .bind(change.at)
    .execute(&mut *conn)
    .await?;
    let mut full = detail;
    if let Some(obj) = full.as_object_mut() {
        obj.insert("request_no".into(), json!(req.request_no));
        obj.insert("from".into(), json!(from.as_str()));
        obj.insert("to".into(), json!(to.as_str()));
    }
    audit::append(
        conn,
        change,
        &format!("complaint.{act}"),
        "complaint",
        &req.id.to_string(),
        &full,
    )
    .await
}

async fn bump(
    conn: &mut AnyConnection,
    change: &Change,
    req: &Request,
    department: Option<i64>,
    metric: Metric,
) -> Result<()> {
    let day = crate::clock::local_date(change.at).to_string();
    sqlx::query(
        "INSERT INTO complaint_rollup (org_id, department_id, category_id, day, metric, n) \
         VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (org_id, department_id, category_id, day, \
         metric) DO UPDATE SET n = complaint_rollup.n + 1",
    )
    .bind(req.org_id)
    .bind(department.unwrap_or(0))
    .bind(req.category_id.unwrap_or(0))
    .bind(day)
    .bind(metric.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A department a request may go to: a department, or a district (the fallback when
/// the department is unclear).
async fn department(
    conn: &mut AnyConnection,
    req: &Request,
    id: i64,
    field: &str,
) -> Result<crate::orgs::Org> {
    let org = crate::orgs::get(&mut *conn, id)
        .await
        .map_err(|_| StoreError::invalid(field, "unknown_department", "请选择承办部门"))?;
    let area = district_of(conn, &req.org_path).await?;
    if !area.contains(&org.path) {
        return Err(StoreError::invalid(
            field,
            "other_district",
            format!(
                "{}不在本区，不能派单；跨区事项请转12345或上级协调",
                org.name
            ),
        ));
    }
    if !matches!(org.kind, OrgKind::Department | OrgKind::District) {
        return Err(StoreError::invalid(
            field,
            "not_a_department",
            format!("{}不是职能部门或区级兜底单位，不能承办诉求", org.name),
        ));
    }
    Ok(org)
}

/// The district a request's receiving organisation lies in (its own path if none above
/// it is a district): the departments it may dispatch to are inside.
pub async fn district_of(conn: &mut AnyConnection, path: &OrgPath) -> Result<OrgPath> {
    for id in path.ids().iter().rev() {
        let o = crate::orgs::get(&mut *conn, *id).await?;
        if o.kind == OrgKind::District {
            return Ok(o.path);
        }
    }
    Ok(path.clone())
}

fn refused(e: ActError) -> StoreError {
    StoreError::invalid(e.field(), "refused", e.to_string())
}

/// What else an act carries beside the domain's act.
#[derive(Debug, Clone, Default)]
pub struct ActExtra {
    /// 回访's way: 电话 (recorded by the dispatcher) or 短信 (the person on the page).
    pub callback_way: Option<String>,
    /// A merge: whether the person was told the existing number (phone intake says so).
    pub told: bool,
    /// Where residents reach the product (`--public-url`), for the link in the reply SMS.
    pub link_base: String,
    /// Dispatch: the category the dispatcher settled on (a suggestion taken, a correction).
    pub category_id: Option<i64>,
}

/// Takes `act` on request `id`. Who may is the caller's check (web: the permission at
/// the request's organisation or its department); the order is the domain's.
// The transaction, the moment and author, the calendar, the limits, the record and its
// version, the act and what it carries: each is needed, none belongs with another.
#[allow(clippy::too_many_arguments)]
pub async fn act(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    limits: &Limits,
    id: i64,
    version: Option<i64>,
    act: &Act,
    extra: &ActExtra,
) -> Result<Request> {
    let req = get(&mut *conn, id).await?;
    if version.is_some_and(|v| v != req.version) {
        return Err(StoreError::version_conflict("该诉求"));
    }
    let to = rules::next_state(&req.facts(), act, limits).map_err(refused)?;
    register_kinds(conn, change, limits).await?;
    let at = change.at;
    let mut set: Vec<(&str, serde_json::Value)> = vec![("state", json!(to.as_str()))];
    let detail;
    match act {
        Act::Dispatch { lead, co } => {
            let lead_org = department(conn, &req, *lead, "lead").await?;
            let mut co_orgs = Vec::new();
            for c in co {
                co_orgs.push(department(conn, &req, *c, "co").await?.id);
            }
            co_orgs.sort_unstable();
            co_orgs.dedup();
            // Counted under the category it is dispatched with.
            let counted = match extra.category_id {
                Some(c) => {
                    super::categories::get(&mut *conn, c).await.map_err(|_| {
                        StoreError::invalid("category_id", "unknown_category", "请选择诉求分类")
                    })?;
                    set.push(("category_id", json!(c)));
                    Request {
                        category_id: Some(c),
                        ..req.clone()
                    }
                }
                None => req.clone(),
            };
            close_item(conn, change, req.dispatch_item_id).await?;
            let item = track(
                conn,
                change,
                cal,
                &req,
                rules::HANDLE_KIND,
                &rules::sign_stage(req.urgency),
                lead_org.id,
            )
            .await?;
            let reply_due = due(cal, limits.feedback_rule(req.urgency, req.complex), at);
            set.extend([
                ("lead_department_id", json!(lead_org.id)),
                ("co_departments", json!(json!(co_orgs).to_string())),
                ("dispatched_at", json!(at)),
                ("sign_due_at", json!(item.due_at)),
                ("reply_due_at", json!(reply_due)),
                ("handle_item_id", json!(item.id)),
                ("dispatch_item_id", json!(null)),
                ("dispatch_round", json!(req.dispatch_round + 1)),
            ]);
            bump(
                conn,
                change,
                &counted,
                Some(lead_org.id),
                Metric::Dispatched,
            )
            .await?;
            if req.dispatch_round == 0 {
                bump(conn, change, &counted, Some(lead_org.id), Metric::Requests).await?;
            }
            tell_co(conn, change, &req, &co_orgs).await?;
            detail = json!({ "lead": lead_org.id, "lead_name": lead_org.name, "co": co_orgs,
                "on_time": req.dispatch_due_at.is_none_or(|d| at <= d) });
        }
        Act::Sign => {
            // Counted once per dispatch: signing again after a refused 退单 is the same
            // dispatch, so 响应率 never passes 100%.
            let first = req.signed_at.is_none();
            let on_time = first && req.sign_due_at.is_none_or(|d| at <= d);
            if let Some(item) = req.handle_item_id {
                let stage = rules::feedback_stage(req.urgency, req.complex);
                escalation::advance_stage_from(
                    conn,
                    change,
                    cal,
                    item,
                    &stage,
                    req.dispatched_at.unwrap_or(at),
                )
                .await?;
            }
            if first {
                set.push(("signed_at", json!(at)));
            }
            if on_time {
                bump(
                    conn,
                    change,
                    &req,
                    req.lead_department_id,
                    Metric::SignedOnTime,
                )
                .await?;
            }
            detail = json!({ "on_time": on_time });
        }
        Act::AskReturn { reason } => {
            check_len("reason", "退单理由", reason, rules::REASON)?;
            close_item(conn, change, req.handle_item_id).await?;
            let item = track(
                conn,
                change,
                cal,
                &req,
                rules::DISPATCH_KIND,
                &rules::review_stage(req.urgency),
                req.org_id,
            )
            .await?;
            set.extend([
                ("return_reason", json!(reason.trim())),
                ("dispatch_item_id", json!(item.id)),
                ("handle_item_id", json!(null)),
            ]);
            bump(
                conn,
                change,
                &req,
                req.lead_department_id,
                Metric::ReturnsAsked,
            )
            .await?;
            detail = json!({ "reason": reason.trim(), "department": req.lead_department_id });
        }
        Act::DecideReturn { accept, lead } => {
            close_item(conn, change, req.dispatch_item_id).await?;
            let target = match (accept, lead) {
                (true, Some(l)) => department(conn, &req, *l, "lead").await?,
                _ => {
                    let id = req
                        .lead_department_id
                        .ok_or_else(|| refused(ActError::NoLead))?;
                    crate::orgs::get(&mut *conn, id).await?
                }
            };
            let item = track(
                conn,
                change,
                cal,
                &req,
                rules::HANDLE_KIND,
                &rules::sign_stage(req.urgency),
                target.id,
            )
            .await?;
            set.extend([
                ("lead_department_id", json!(target.id)),
                ("handle_item_id", json!(item.id)),
                ("dispatch_item_id", json!(null)),
            ]);
            if *accept {
                let co: Vec<i64> = req
                    .co_departments
                    .iter()
                    .copied()
                    .filter(|c| *c != target.id)
                    .collect();
                set.extend([
                    ("sign_due_at", json!(item.due_at)),
                    ("signed_at", json!(null)),
                    ("co_departments", json!(json!(co).to_string())),
                ]);
                // A re-dispatch: the new department's clock starts now.
                let reply_due = due(cal, limits.feedback_rule(req.urgency, req.complex), at);
                set.extend([
                    ("dispatched_at", json!(at)),
                    ("reply_due_at", json!(reply_due)),
                    ("dispatch_round", json!(req.dispatch_round + 1)),
                ]);
                bump(conn, change, &req, Some(target.id), Metric::Dispatched).await?;
            }
            detail = json!({ "accept": accept, "lead": target.id, "lead_name": target.name });
        }
        Act::Reply { content } => {
            check_len("content", "答复内容", content, rules::REPLY)?;
            let on_time = req.reply_due_at.is_none_or(|d| at <= d);
            close_item(conn, change, req.handle_item_id).await?;
            let item = track(
                conn,
                change,
                cal,
                &req,
                rules::DISPATCH_KIND,
                rules::STAGE_CALLBACK,
                req.org_id,
            )
            .await?;
            set.extend([
                ("replied_at", json!(at)),
                ("reply_content", json!(content.trim())),
                ("callback_due_at", json!(item.due_at)),
                ("dispatch_item_id", json!(item.id)),
                ("handle_item_id", json!(null)),
            ]);
            bump(conn, change, &req, req.lead_department_id, Metric::Replied).await?;
            if req.reopens == 0 && req.replied_at.is_none() {
                // 结果反馈: the department's result reached the person (first reply).
                bump(conn, change, &req, req.lead_department_id, Metric::Told).await?;
            }
            if on_time {
                bump(
                    conn,
                    change,
                    &req,
                    req.lead_department_id,
                    Metric::RepliedOnTime,
                )
                .await?;
            }
            let message = format!(
                "您的诉求{}已有答复，请凭编号和受理短信中的查询码查看并评价：{}/complaints/track?no={}",
                req.request_no, extra.link_base, req.request_no
            );
            notices::queue(
                conn,
                change,
                req.org_id,
                &req.person_phone,
                &message,
                "complaints",
            )
            .await?;
            detail = json!({ "on_time": on_time, "content": content.trim() });
        }
        Act::Callback {
            satisfaction,
            solved,
        } => {
            let way = extra.callback_way.clone().unwrap_or_else(|| "phone".into());
            if !matches!(way.as_str(), "phone" | "sms") {
                return Err(StoreError::invalid(
                    "way",
                    "unknown_way",
                    "回访方式须为电话或短信",
                ));
            }
            close_item(conn, change, req.dispatch_item_id).await?;
            set.extend([
                ("called_back_at", json!(at)),
                ("callback_way", json!(way)),
                ("satisfaction", json!(satisfaction.as_str())),
                ("solved", json!(i64::from(*solved))),
                ("dispatch_item_id", json!(null)),
            ]);
            let dept = req.lead_department_id;
            bump(conn, change, &req, dept, Metric::CalledBack).await?;
            if *solved {
                bump(conn, change, &req, dept, Metric::Solved).await?;
            }
            if satisfaction.counts_satisfied() {
                bump(conn, change, &req, dept, Metric::Satisfied).await?;
            }
            match to {
                State::Closed => {
                    set.extend([("closed_at", json!(at)), ("told_at", json!(at))]);
                    bump(conn, change, &req, dept, Metric::Closed).await?;
                    let message = format!(
                        "您的诉求{}已办结（回访：{}）。感谢您的监督。",
                        req.request_no,
                        satisfaction.label()
                    );
                    notices::queue(
                        conn,
                        change,
                        req.org_id,
                        &req.person_phone,
                        &message,
                        "complaints",
                    )
                    .await?;
                }
                _ => {
                    // Back to the same department with the history; its reply clock starts now.
                    let lead = dept.ok_or_else(|| refused(ActError::NoLead))?;
                    let stage = rules::feedback_stage(req.urgency, req.complex);
                    let item =
                        track(conn, change, cal, &req, rules::HANDLE_KIND, &stage, lead).await?;
                    set.extend([
                        ("reopens", json!(req.reopens + 1)),
                        ("reply_due_at", json!(item.due_at)),
                        ("replied_at", json!(null)),
                        ("handle_item_id", json!(item.id)),
                    ]);
                    if to == State::Supervised {
                        notices::add(
                            conn,
                            change,
                            &NewNotice {
                                recipient: Recipient::Role {
                                    role: Role::Supervisor,
                                    org_id: req.org_id,
                                    org_path: req.org_path.clone(),
                                },
                                kind: NoticeKind::Escalation,
                                text: format!(
                                    "【督办】诉求{}已重办{}次仍不满意，请督办",
                                    req.request_no, req.reopens
                                ),
                                link: format!("/complaints/{}", req.id),
                                item_id: Some(item.id),
                            },
                        )
                        .await?;
                    }
                    let message = format!(
                        "您对诉求{}的办理结果不满意，已重新交承办部门办理。",
                        req.request_no
                    );
                    notices::queue(
                        conn,
                        change,
                        req.org_id,
                        &req.person_phone,
                        &message,
                        "complaints",
                    )
                    .await?;
                }
            }
            detail = json!({ "satisfaction": satisfaction.as_str(), "solved": solved, "way": way });
        }
        Act::Merge { original } => {
            let orig = get(&mut *conn, *original).await.map_err(|_| {
                StoreError::invalid("original", "unknown_request", "要合并到的诉求不存在")
            })?;
            if orig.state.is_final() {
                return Err(StoreError::invalid(
                    "original",
                    "original_closed",
                    "原诉求已办结，不能合并；请作为新诉求派单",
                ));
            }
            if orig.id == req.id || orig.original_id.is_some() || orig.org_path != req.org_path {
                return Err(StoreError::invalid(
                    "original",
                    "not_mergeable",
                    "只能合并到本单位受理的另一件原始诉求",
                ));
            }
            close_item(conn, change, req.dispatch_item_id).await?;
            set.extend([
                ("original_id", json!(orig.id)),
                ("dispatch_item_id", json!(null)),
                ("closed_at", json!(at)),
            ]);
            sqlx::query(
                "UPDATE complaints SET repeat_count = repeat_count + 1, version = version + 1 \
                 WHERE id = $1",
            )
            .bind(orig.id)
            .execute(&mut *conn)
            .await?;
            let dept = orig.lead_department_id;
            let counted = Request {
                category_id: orig.category_id,
                ..req.clone()
            };
            bump(conn, change, &counted, dept, Metric::Requests).await?;
            bump(conn, change, &counted, dept, Metric::Repeats).await?;
            bump(conn, change, &counted, dept, Metric::Closed).await?;
            let message = format!(
                "您反映的问题已在办理中（诉求编号{}），我们已合并办理，将一并答复。",
                orig.request_no
            );
            notices::queue(
                conn,
                change,
                req.org_id,
                &req.person_phone,
                &message,
                "complaints",
            )
            .await?;
            // The message is the telling; a phone intake also said it on the call.
            set.push(("told_at", json!(at)));
            detail = json!({ "original": orig.id, "original_no": orig.request_no,
                "told_on_call": extra.told });
        }
    }
    write(conn, &req, &set).await?;
    record(conn, change, &req, act_name(act), req.state, to, detail).await?;
    get(&mut *conn, id).await
}

fn act_name(act: &Act) -> &'static str {
    match act {
        Act::Dispatch { .. } => "dispatch",
        Act::Sign => "sign",
        Act::AskReturn { .. } => "ask_return",
        Act::DecideReturn { .. } => "decide_return",
        Act::Reply { .. } => "reply",
        Act::Callback { .. } => "callback",
        Act::Merge { .. } => "merge",
    }
}

fn check_len(
    field: &str,
    label: &str,
    value: &str,
    limit: onewindow_domain::validation::TextLimit,
) -> Result<()> {
    let mut errors = FieldErrors::new();
    errors.text(field, label, value, limit);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(errors))
    }
}

fn due(
    cal: &WorkCalendar,
    rule: onewindow_domain::escalation::DeadlineRule,
    from: i64,
) -> Option<i64> {
    match rule.schedule(cal, from, 0) {
        Ok(onewindow_domain::escalation::Schedule::Due { due_at, .. }) => Some(due_at),
        _ => None,
    }
}

async fn tell_co(
    conn: &mut AnyConnection,
    change: &Change,
    req: &Request,
    co: &[i64],
) -> Result<()> {
    for c in co {
        let org = crate::orgs::get(&mut *conn, *c).await?;
        notices::add(
            conn,
            change,
            &NewNotice {
                recipient: Recipient::Role {
                    role: Role::DeptHandler,
                    org_id: org.id,
                    org_path: org.path.clone(),
                },
                kind: NoticeKind::Assignment,
                text: format!("【协办】诉求{}：请配合牵头部门办理", req.request_no),
                link: format!("/complaints/{}", req.id),
                item_id: None,
            },
        )
        .await?;
    }
    Ok(())
}

/// Writes the columns of an act, checking the version read (a concurrent act loses).
async fn write(
    conn: &mut AnyConnection,
    req: &Request,
    set: &[(&str, serde_json::Value)],
) -> Result<()> {
    let mut sql = String::from("UPDATE complaints SET version = version + 1");
    for (i, (col, _)) in set.iter().enumerate() {
        sql.push_str(&format!(", {col} = ${}", i + 1));
    }
    let n = set.len();
    sql.push_str(&format!(" WHERE id = ${} AND version = ${}", n + 1, n + 2));
    let mut q = sqlx::query(&sql);
    for (_, v) in set {
        q = match v {
            serde_json::Value::Null => q.bind(None::<i64>),
            serde_json::Value::Bool(b) => q.bind(i64::from(*b)),
            serde_json::Value::Number(n) => q.bind(n.as_i64()),
            serde_json::Value::String(s) => q.bind(s.clone()),
            other => q.bind(other.to_string()),
        };
    }
    // The merge bumps the original, never this row: the version read still holds.
    let done = q.bind(req.id).bind(req.version).execute(&mut *conn).await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::version_conflict("该诉求"));
    }
    Ok(())
}

/// One entry of a request's chain.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub at: i64,
    pub act: String,
    pub from_state: State,
    pub to_state: State,
    pub actor: String,
    pub detail: serde_json::Value,
}

impl Event {
    /// The act's Chinese name.
    pub fn label(&self) -> &'static str {
        act_label(&self.act)
    }
}

/// The Chinese name of a stored act.
pub fn act_label(act: &str) -> &'static str {
    match act {
        "intake" => "受理",
        "dispatch" => "派单",
        "sign" => "签收",
        "ask_return" => "申请退单",
        "decide_return" => "退单审核",
        "reply" => "答复",
        "callback" => "回访",
        "merge" => "合并为重复诉求",
        "need" => "归入民情问题",
        _ => "办理",
    }
}

/// The request's chain of events, oldest first (a request has tens, never more).
pub async fn events(pool: &AnyPool, id: i64) -> Result<Vec<Event>> {
    let rows = sqlx::query(
        "SELECT e.at, e.act, e.from_state, e.to_state, e.detail, u.display_name FROM \
         complaint_events e LEFT JOIN users u ON u.id = e.user_id WHERE e.complaint_id = $1 \
         ORDER BY e.id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Event {
            at: r.get("at"),
            act: r.get("act"),
            from_state: State::parse(&r.get::<String, _>("from_state")).unwrap_or(State::Received),
            to_state: State::parse(&r.get::<String, _>("to_state")).unwrap_or(State::Received),
            actor: r
                .get::<Option<String>, _>("display_name")
                .unwrap_or_else(|| "群众/系统".into()),
            detail: serde_json::from_str(&r.get::<String, _>("detail")).unwrap_or_default(),
        })
        .collect())
}

/// Open and recent requests the new one may repeat: the same phone number, or the same
/// category within `metres` of its coordinates, received in the last `days` inside
/// `scope`. Reads by index (phone; category and time) and never more than `limit` rows.
#[derive(Debug, Clone, Serialize)]
pub struct Possible {
    pub id: i64,
    pub request_no: String,
    pub state: State,
    pub received_at: i64,
    pub content: String,
    pub address: String,
    /// Why it is shown: 同一号码 or 同类附近（N米）.
    pub why: String,
    #[serde(skip)]
    pub complained_user_id: Option<i64>,
}

#[allow(clippy::too_many_arguments)]
pub async fn duplicates(
    pool: &AnyPool,
    scope: &OrgPath,
    now: i64,
    phone: &str,
    category_id: Option<i64>,
    place: Option<(f64, f64)>,
    days: i64,
    metres: f64,
    exclude: Option<i64>,
) -> Result<Vec<Possible>> {
    let since = now - days.max(1) * 86_400_000_000;
    let mut out: Vec<Possible> = Vec::new();
    let base = "SELECT c.id, c.request_no, c.state, c.received_at, c.content, c.address, c.lat, \
        c.lon, c.complained_user_id FROM complaints c JOIN orgs o ON o.id = c.org_id WHERE o.path >= $1 AND o.path < $2 \
        AND c.received_at >= $3 AND c.original_id IS NULL";
    let upper = crate::path_upper_bound(scope.as_str());
    let possible = |r: &AnyRow, why: String| Possible {
        id: r.get("id"),
        request_no: r.get("request_no"),
        state: State::parse(&r.get::<String, _>("state")).unwrap_or(State::Received),
        received_at: r.get("received_at"),
        content: r.get::<String, _>("content").chars().take(80).collect(),
        address: r.get("address"),
        why,
        complained_user_id: r.get("complained_user_id"),
    };
    if !phone.trim().is_empty() {
        let rows = sqlx::query(&format!(
            "{base} AND c.person_phone = $4 ORDER BY c.received_at DESC LIMIT 20"
        ))
        .bind(scope.as_str())
        .bind(&upper)
        .bind(since)
        .bind(phone.trim())
        .fetch_all(pool)
        .await?;
        out.extend(rows.iter().map(|r| possible(r, "同一来电号码".into())));
    }
    if let (Some(cat), Some((lat, lon))) = (category_id, place) {
        // A box around the point first (an index-friendly range on the category's recent
        // rows), then the exact distance.
        let dlat = metres / 111_000.0;
        let dlon = metres / (111_000.0 * lat.to_radians().cos().abs().max(0.01));
        let rows = sqlx::query(&format!(
            "{base} AND c.category_id = $4 AND c.lat BETWEEN $5 AND $6 AND c.lon BETWEEN $7 AND $8 \
             ORDER BY c.received_at DESC LIMIT 200"
        ))
        .bind(scope.as_str())
        .bind(&upper)
        .bind(since)
        .bind(cat)
        .bind(lat - dlat)
        .bind(lat + dlat)
        .bind(lon - dlon)
        .bind(lon + dlon)
        .fetch_all(pool)
        .await?;
        for r in &rows {
            let (Some(a), Some(b)) = (
                r.get::<Option<f64>, _>("lat"),
                r.get::<Option<f64>, _>("lon"),
            ) else {
                continue;
            };
            let d = rules::distance_m((lat, lon), (a, b));
            if d <= metres && !out.iter().any(|p| p.id == r.get::<i64, _>("id")) {
                out.push(possible(
                    r,
                    format!("同类诉求，相距约{}米", d.round() as i64),
                ));
            }
        }
    }
    out.retain(|p| Some(p.id) != exclude);
    out.sort_by_key(|p| std::cmp::Reverse(p.received_at));
    out.truncate(20);
    Ok(out)
}

/// The repeats merged into `id`, newest first.
pub async fn repeats_of(pool: &AnyPool, id: i64) -> Result<Vec<(i64, String, i64)>> {
    let rows = sqlx::query(
        "SELECT id, request_no, received_at FROM complaints WHERE original_id = $1 ORDER BY id DESC \
         LIMIT 100",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get("id"), r.get("request_no"), r.get("received_at")))
        .collect())
}

/// The organisations that take requests in: streets and districts (their dispatchers).
pub async fn receiving_orgs(pool: &AnyPool) -> Result<Vec<(i64, String)>> {
    let rows = sqlx::query(
        "SELECT id, name FROM orgs WHERE kind = 'street' OR kind = 'district' ORDER BY path",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(|r| (r.get("id"), r.get("name"))).collect())
}

/// Marks (or unmarks) a request as a need of a problem (民情收集).
pub async fn mark_need(
    conn: &mut AnyConnection,
    change: &Change,
    id: i64,
    problem_id: Option<i64>,
) -> Result<()> {
    let req = get(&mut *conn, id).await?;
    if let Some(p) = problem_id {
        let problem = super::problems::get(&mut *conn, p).await?;
        if !problem.org_path.contains(&req.org_path) && !req.org_path.contains(&problem.org_path) {
            return Err(StoreError::invalid(
                "problem_id",
                "other_org",
                "只能归入本单位的民情问题",
            ));
        }
    }
    sqlx::query("UPDATE complaints SET problem_id = $1, version = version + 1 WHERE id = $2")
        .bind(problem_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    record(
        conn,
        change,
        &req,
        "need",
        req.state,
        req.state,
        json!({ "problem_id": problem_id }),
    )
    .await
}

/// The limit of co-handlers, for the forms.
pub const CO_LIMIT: usize = MAX_CO_HANDLERS;
