//! Events: the report (from a grid worker, a resident or an Open311 client), the acts of the
//! loop and the chain (一事件一链), photos, the duplicate warning, and the reads Open311
//! answers from. The order of the loop is `onewindow_domain::grid::next_state`, who may
//! act `may_act`; this module keeps the records.
//!
//! Each report and act is one transaction: the event row (optimistic `version`), its chain
//! event, the engine's step, the audit entry and the rollup counters. The engine: one
//! tracked item per event, of the category's kind (`grid.event.<category id>`), owned by
//! the street; stage `respond` from the report, `close` from the signing (or the community's
//! taking) with its time counted from the report (`advance_stage_from`), closed when the
//! event is closed or merged as a duplicate. A department's return puts it back in
//! `respond`, a fresh limit for the street's new dispatch.

use crate::audit::{self, Change};
use crate::escalation::{self, NewTracked};
use crate::notices::{self, NewNotice, Recipient};
use crate::{Result, StoreError};
use onewindow_domain::access::Role;
use onewindow_domain::calendar::WorkCalendar;
use onewindow_domain::escalation::NoticeKind;
use onewindow_domain::grid::photo::{self, ImageType};
use onewindow_domain::grid::{
    self as rules, Act, ActError, ActKind, Actor, Facts, NearbyEvent, ReporterKind, Route, State,
    Visibility,
};
use onewindow_domain::org::{OrgKind, OrgPath};
use onewindow_domain::validation::{check_text, FieldErrors};
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

/// The settings the loop reads: the duplicate distance and the photo size limit.
pub async fn settings(pool: &AnyPool) -> Result<(f64, usize)> {
    let [metres, kb] =
        crate::settings::get_ints(pool, ["grid.duplicate_metres", "grid.photo_max_kb"]).await?;
    Ok((metres as f64, (kb.max(1) as usize) * 1024))
}

/// A photo as uploaded.
#[derive(Debug, Clone)]
pub struct NewPhoto {
    pub bytes: Vec<u8>,
    /// The type the client declared (`image/jpeg`), or empty.
    pub declared: String,
}

/// An event to report.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub category_id: i64,
    pub description: String,
    /// WGS84 (lon, lat).
    pub point: Option<(f64, f64)>,
    pub address: String,
    /// Answers to the category's attributes, (code, value); a multi-value list repeats.
    pub attributes: Vec<(String, String)>,
    pub reporter: ReporterKind,
    pub reporter_user_id: Option<i64>,
    /// The Open311 client (its key's account) or the resident's name.
    pub reporter_client: Option<String>,
    pub reporter_contact: String,
    pub visibility: Visibility,
    /// The street an event outside every grid is kept for.
    pub fallback_street: Option<i64>,
    pub photos: Vec<NewPhoto>,
}

/// An event as stored, with the names a page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: i64,
    pub street_org_id: i64,
    #[serde(skip)]
    pub street_path: OrgPath,
    pub community_org_id: Option<i64>,
    #[serde(skip)]
    pub community_path: Option<OrgPath>,
    pub grid_id: Option<i64>,
    pub grid_name: Option<String>,
    /// In no grid: kept for the street, with a warning to its dispatchers.
    pub outside_grids: bool,
    pub category_id: i64,
    pub category_code: String,
    pub category_name: String,
    pub state: State,
    pub state_label: &'static str,
    pub public_status: &'static str,
    pub open311_status: &'static str,
    pub route: Option<Route>,
    pub description: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub address: String,
    pub attributes: serde_json::Value,
    pub reporter_kind: ReporterKind,
    pub reporter_user_id: Option<i64>,
    pub reporter_client: Option<String>,
    #[serde(skip)]
    pub reporter_contact: String,
    pub visibility: Visibility,
    pub lead_department_id: Option<i64>,
    pub lead_department_name: Option<String>,
    #[serde(skip)]
    pub lead_path: Option<OrgPath>,
    pub co_departments: Vec<i64>,
    pub original_id: Option<i64>,
    pub reopens: i64,
    pub returns: i64,
    pub reply: Option<String>,
    pub reported_at: i64,
    pub respond_due_at: Option<i64>,
    pub close_due_at: Option<i64>,
    pub responded_at: Option<i64>,
    pub handled_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub updated_at: i64,
    pub item_id: Option<i64>,
    pub version: i64,
}

impl Event {
    pub fn facts(&self) -> Facts {
        Facts {
            event_id: self.id,
            state: self.state,
            route: self.route,
            reporter: self.reporter_kind,
            department: self.lead_department_id,
            reopens: self.reopens as u32,
            returns: self.returns as u32,
        }
    }
}

const SELECT: &str = "SELECT e.*, s.path AS street_path, cm.path AS community_path, \
    g.name AS grid_name, c.code AS category_code, c.name AS category_name, \
    d.name AS lead_name, d.path AS lead_path \
    FROM grid_events e JOIN orgs s ON s.id = e.street_org_id \
    LEFT JOIN orgs cm ON cm.id = e.community_org_id \
    LEFT JOIN grid_areas g ON g.id = e.grid_id \
    JOIN grid_categories c ON c.id = e.category_id \
    LEFT JOIN orgs d ON d.id = e.lead_department_id";

fn from_row(r: &AnyRow) -> Event {
    let state = State::parse(&r.get::<String, _>("state")).unwrap_or(State::Reported);
    let returns: i64 = r.get("returns");
    let co: String = r.get("co_departments");
    let attributes: String = r.get("attributes");
    Event {
        id: r.get("id"),
        street_org_id: r.get("street_org_id"),
        street_path: OrgPath::from_stored(r.get("street_path")),
        community_org_id: r.get("community_org_id"),
        community_path: r
            .get::<Option<String>, _>("community_path")
            .map(OrgPath::from_stored),
        grid_id: r.get("grid_id"),
        grid_name: r.get("grid_name"),
        outside_grids: r.get::<i64, _>("outside_grids") != 0,
        category_id: r.get("category_id"),
        category_code: r.get("category_code"),
        category_name: r.get("category_name"),
        state,
        state_label: state.label(),
        public_status: rules::public_status(state, returns as u32).label(),
        open311_status: rules::open311_status(state).as_str(),
        route: r
            .get::<Option<String>, _>("route")
            .and_then(|s| Route::parse(&s)),
        description: r.get("description"),
        lon: r.get("lon"),
        lat: r.get("lat"),
        address: r.get("address"),
        attributes: serde_json::from_str(&attributes).unwrap_or_default(),
        reporter_kind: ReporterKind::parse(&r.get::<String, _>("reporter_kind"))
            .unwrap_or(ReporterKind::Resident),
        reporter_user_id: r.get("reporter_user_id"),
        reporter_client: r.get("reporter_client"),
        reporter_contact: r.get("reporter_contact"),
        visibility: Visibility::parse(&r.get::<String, _>("visibility"))
            .unwrap_or(Visibility::Private),
        lead_department_id: r.get("lead_department_id"),
        lead_department_name: r.get("lead_name"),
        lead_path: r
            .get::<Option<String>, _>("lead_path")
            .map(OrgPath::from_stored),
        co_departments: serde_json::from_str(&co).unwrap_or_default(),
        original_id: r.get("original_id"),
        reopens: r.get("reopens"),
        returns,
        reply: r.get("reply"),
        reported_at: r.get("reported_at"),
        respond_due_at: r.get("respond_due_at"),
        close_due_at: r.get("close_due_at"),
        responded_at: r.get("responded_at"),
        handled_at: r.get("handled_at"),
        closed_at: r.get("closed_at"),
        updated_at: r.get("updated_at"),
        item_id: r.get("item_id"),
        version: r.get("version"),
    }
}

pub async fn get<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(e: E, id: i64) -> Result<Event> {
    sqlx::query(&format!("{SELECT} WHERE e.id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?
        .map(|r| from_row(&r))
        .ok_or(StoreError::NotFound)
}

/// What a staff list asks for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub states: Vec<State>,
    /// Events reported by this user (a grid worker's "my events").
    pub reporter_user_id: Option<i64>,
    /// Events led by this department.
    pub lead_department_id: Option<i64>,
    pub limit: i64,
}

/// Events of the streets or communities inside `scope` (or led by the filter's department,
/// or reported by the filter's user), newest first.
pub async fn list(pool: &AnyPool, scope: &OrgPath, f: &Filter) -> Result<Vec<Event>> {
    let mut sql = format!("{SELECT} WHERE ");
    let mut n = 1;
    let mut conds = vec![];
    if let Some(_d) = f.lead_department_id {
        conds.push(format!("e.lead_department_id = ${n}"));
        n += 1;
    } else if f.reporter_user_id.is_some() {
        conds.push(format!("e.reporter_user_id = ${n}"));
        n += 1;
    } else {
        // The streets inside the scope, or — for a community's own staff, whose scope lies
        // below the street — the events of the communities inside it.
        conds.push(format!("(s.path LIKE ${n} OR cm.path LIKE ${n})"));
        n += 1;
    }
    if !f.states.is_empty() {
        let list: Vec<String> = f
            .states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        conds.push(format!("e.state IN ({})", list.join(", ")));
    }
    sql.push_str(&conds.join(" AND "));
    sql.push_str(&format!(" ORDER BY e.id DESC LIMIT ${n}"));
    let mut q = sqlx::query(&sql);
    if let Some(d) = f.lead_department_id {
        q = q.bind(d);
    } else if let Some(u) = f.reporter_user_id {
        q = q.bind(u);
    } else {
        q = q.bind(format!("{}%", scope.as_str()));
    }
    let limit = if f.limit <= 0 { 100 } else { f.limit.min(500) };
    let rows = q.bind(limit).fetch_all(pool).await?;
    Ok(rows.iter().map(from_row).collect())
}

fn refused(e: ActError) -> StoreError {
    if e.is_conflict() {
        StoreError::Conflict {
            code: "wrong_state",
            message: e.to_string(),
        }
    } else {
        StoreError::invalid(e.field(), e.code(), e.to_string())
    }
}

fn photo_error(i: usize, e: photo::PhotoError) -> StoreError {
    StoreError::invalid(&format!("photos[{i}]"), e.code(), e.to_string())
}

/// A checked photo: its type, the upload, and the public (GPS-free) copy.
type Prepared = (ImageType, Vec<u8>, Vec<u8>);

/// Checks photos and makes their public copies.
fn prepare_photos(photos: &[NewPhoto], max_bytes: usize) -> Result<Vec<Prepared>> {
    let mut out = vec![];
    for (i, p) in photos.iter().enumerate() {
        let t =
            photo::check_upload(&p.bytes, &p.declared, max_bytes).map_err(|e| photo_error(i, e))?;
        let public = photo::strip_gps(&p.bytes).map_err(|e| photo_error(i, e))?;
        out.push((t, p.bytes.clone(), public));
    }
    Ok(out)
}

async fn insert_photos(
    conn: &mut AnyConnection,
    change: &Change,
    event_id: i64,
    phase: &str,
    act_id: Option<i64>,
    photos: &[Prepared],
) -> Result<Vec<i64>> {
    let mut ids = vec![];
    for (t, original, public) in photos {
        let id: i64 = sqlx::query(
            "INSERT INTO grid_event_photos (event_id, phase, act_id, mime, original_bytes, \
             public_bytes, size, user_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             RETURNING id",
        )
        .bind(event_id)
        .bind(phase)
        .bind(act_id)
        .bind(t.mime())
        .bind(original.clone())
        .bind(public.clone())
        .bind(original.len() as i64)
        .bind(change.who.user_id)
        .bind(change.at)
        .fetch_one(&mut *conn)
        .await?
        .get("id");
        ids.push(id);
    }
    Ok(ids)
}

/// Appends the event's chain entry and its audit entry; the chain entry's id.
async fn record(
    conn: &mut AnyConnection,
    change: &Change,
    event_id: i64,
    act: &str,
    from: State,
    to: State,
    detail: serde_json::Value,
) -> Result<i64> {
    let id: i64 = sqlx::query(
        "INSERT INTO grid_event_events (event_id, act, from_state, to_state, user_id, actor, \
         detail, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(event_id)
    .bind(act)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(change.who.user_id)
    .bind(&change.who.label)
    .bind(detail.to_string())
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    let mut full = detail;
    if let Some(obj) = full.as_object_mut() {
        obj.insert("from".into(), json!(from.as_str()));
        obj.insert("to".into(), json!(to.as_str()));
    }
    audit::append(
        conn,
        change,
        &format!("grid.{act}"),
        "grid_event",
        &event_id.to_string(),
        &full,
    )
    .await?;
    Ok(id)
}

/// The rollup counters `ev` counts in as it stands, all under its current key (street,
/// community, grid, lead department, category; the day it was reported). The rollup holds
/// each event's current contribution: an act takes the event's contribution before it away
/// and adds the one after ([`recount`]), so a re-dispatch moves the event to its new
/// department, a return drops its co-handlers from 跨部门协同, a merge makes it a duplicate —
/// and every rate of `domain::grid::Counts` reads consistent counters.
fn contributions(ev: &Event) -> Vec<&'static str> {
    if ev.state == State::RejectedDuplicate {
        return vec!["duplicates"];
    }
    let mut out = vec!["reported"];
    let by = |at: Option<i64>, due: Option<i64>| at.is_some_and(|t| due.is_none_or(|d| t <= d));
    if by(ev.responded_at, ev.respond_due_at) {
        out.push("responded_on_time");
    }
    if ev.handled_at.is_some() {
        out.push("handled");
    }
    if ev.reopens > 0 {
        out.push("reopened");
    }
    let cross = !ev.co_departments.is_empty();
    if cross {
        out.push("cross_department");
    }
    if ev.state == State::Closed {
        out.push("closed");
        if by(ev.closed_at, ev.close_due_at) {
            out.push("closed_on_time");
        }
        if cross {
            out.push("cross_department_closed");
        }
    }
    out
}

/// Moves the event's rollup contribution from `before` to `after` (see [`contributions`]).
async fn recount(conn: &mut AnyConnection, before: &Event, after: &Event) -> Result<()> {
    let same_key = before.lead_department_id == after.lead_department_id;
    let (old, new) = (contributions(before), contributions(after));
    for m in &old {
        if !(same_key && new.contains(m)) {
            bump(conn, before, m, -1).await?;
        }
    }
    for m in &new {
        if !(same_key && old.contains(m)) {
            bump(conn, after, m, 1).await?;
        }
    }
    Ok(())
}

/// Adds `delta` to one rollup counter of the event, on the day it was reported.
async fn bump(conn: &mut AnyConnection, ev: &Event, metric: &str, delta: i64) -> Result<()> {
    let day = crate::clock::local_date(ev.reported_at).to_string();
    sqlx::query(
        "INSERT INTO grid_rollup (street_org_id, community_org_id, grid_id, department_id, \
         category_id, day, metric, n) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (street_org_id, community_org_id, grid_id, department_id, category_id, \
         day, metric) DO UPDATE SET n = grid_rollup.n + $8",
    )
    .bind(ev.street_org_id)
    .bind(ev.community_org_id.unwrap_or(0))
    .bind(ev.grid_id.unwrap_or(0))
    .bind(ev.lead_department_id.unwrap_or(0))
    .bind(ev.category_id)
    .bind(day)
    .bind(metric)
    .bind(delta)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The street of an organisation: itself or the nearest street above it.
pub async fn street_of(conn: &mut AnyConnection, path: &OrgPath) -> Result<Option<i64>> {
    for id in path.ids().into_iter().rev() {
        let org = crate::orgs::get(&mut *conn, id).await?;
        if org.kind == OrgKind::Street {
            return Ok(Some(org.id));
        }
    }
    Ok(None)
}

/// What a report answers: the event, and the warnings for the dispatcher (outside all
/// grids, possible duplicates).
#[derive(Debug, Clone, Serialize)]
pub struct Reported {
    pub event: Event,
    pub warnings: Vec<String>,
    pub possible_duplicates: Vec<Duplicate>,
}

/// Reports an event: the category and its attributes checked, the place assigned to its grid
/// (or kept for the street, with a warning), photos checked and their public copies made,
/// the engine's item started in `respond`. Counted as reported.
pub async fn report(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    new: &NewEvent,
) -> Result<Reported> {
    let (_, max_bytes) = settings_in(conn).await?;
    let cat = super::categories::get(&mut *conn, new.category_id)
        .await
        .ok()
        .filter(|c| c.active)
        .ok_or_else(|| StoreError::invalid("category_id", "unknown_category", "请选择事件类别"))?;
    let mut errors = FieldErrors::new();
    if let Err(e) = check_text(
        "description",
        "事件描述",
        &new.description,
        rules::DESCRIPTION,
    ) {
        errors.0.push(e);
    } else if onewindow_domain::validation::is_blank(&new.description) {
        errors.add("description", "required", "请填写事件描述");
    }
    if let Err(e) = check_text("address", "地址", &new.address, rules::ADDRESS) {
        errors.0.push(e);
    }
    if let Some((lon, lat)) = new.point {
        if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            errors.add("lon", "out_of_range", "经纬度超出范围");
        }
    } else if onewindow_domain::validation::is_blank(&new.address) {
        errors.add("lon", "required", "请在地图上选点，或填写地址");
    }
    let answers = match rules::validate_attributes(&cat.category.attributes, &new.attributes) {
        Ok(a) => a,
        Err(e) => {
            errors.0.extend(e.0);
            vec![]
        }
    };
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let photos = prepare_photos(&new.photos, max_bytes)?;
    let grid = match new.point {
        Some((lon, lat)) => super::geometry::assign(conn, lon, lat).await?,
        None => None,
    };
    let (street, community, grid_id) = match &grid {
        Some(g) => (g.street_org_id, g.community_org_id, Some(g.id)),
        None => match new.fallback_street {
            Some(s) => (s, None, None),
            None => {
                return Err(StoreError::invalid(
                    "lon",
                    "outside_all_grids",
                    "该位置不在任何网格内，且无法确定所属街道",
                ))
            }
        },
    };
    let outside = grid.is_none();
    let id: i64 = sqlx::query(
        "INSERT INTO grid_events (street_org_id, community_org_id, grid_id, outside_grids, \
         category_id, state, description, lon, lat, address, attributes, reporter_kind, \
         reporter_user_id, reporter_client, reporter_contact, visibility, reported_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, 'reported', $6, $7, $8, $9, $10, $11, $12, $13, \
         $14, $15, $16, $16) RETURNING id",
    )
    .bind(street)
    .bind(community)
    .bind(grid_id)
    .bind(i64::from(outside))
    .bind(cat.id)
    .bind(new.description.trim())
    .bind(new.point.map(|p| p.0))
    .bind(new.point.map(|p| p.1))
    .bind(new.address.trim())
    .bind(serde_json::to_string(&answers).unwrap_or_else(|_| "[]".into()))
    .bind(new.reporter.as_str())
    .bind(new.reporter_user_id)
    .bind(&new.reporter_client)
    .bind(new.reporter_contact.trim())
    .bind(new.visibility.as_str())
    .bind(change.at)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    escalation::register_kind(conn, change, &rules::category_kind(cat.id, &cat.category)).await?;
    let item = escalation::track(
        conn,
        change,
        cal,
        &NewTracked {
            kind: rules::category_kind_name(cat.id),
            subject_ref: format!("grid_event:{id}"),
            title: format!("网格事件{id}：{}", cat.category.name),
            link: format!("/grid/events/{id}"),
            owner_org_id: street,
            stage: rules::STAGE_RESPOND.into(),
        },
    )
    .await?;
    let close_due = rules::close_due(&cat.category, cal, change.at);
    sqlx::query(
        "UPDATE grid_events SET item_id = $1, respond_due_at = $2, close_due_at = $3 WHERE id = $4",
    )
    .bind(item.id)
    .bind(item.due_at)
    .bind(close_due)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let event = get(&mut *conn, id).await?;
    let chain = record(
        conn,
        change,
        id,
        "report",
        State::Reported,
        State::Reported,
        json!({ "reporter": new.reporter.as_str(), "client": new.reporter_client,
                "grid_id": grid_id, "outside_grids": outside, "photos": photos.len() }),
    )
    .await?;
    insert_photos(conn, change, id, "report", Some(chain), &photos).await?;
    for m in contributions(&event) {
        bump(conn, &event, m, 1).await?;
    }
    let mut warnings = vec![];
    if outside {
        let text = format!("网格事件{id}的位置不在任何网格内，已归属街道，请核实位置后派单");
        let street_org = crate::orgs::get(&mut *conn, street).await?;
        notices::add(
            conn,
            change,
            &NewNotice {
                recipient: Recipient::Role {
                    role: Role::Dispatcher,
                    org_id: street,
                    org_path: street_org.path,
                },
                kind: NoticeKind::Warning,
                text: text.clone(),
                link: format!("/grid/events/{id}"),
                item_id: Some(item.id),
            },
        )
        .await?;
        warnings.push(text);
    }
    // The duplicate check is not part of the write: the caller that shows it runs it after
    // the commit on a reader (`duplicates_near`), so the writer never waits for it.
    Ok(Reported {
        event,
        warnings,
        possible_duplicates: vec![],
    })
}

async fn settings_in(conn: &mut AnyConnection) -> Result<(f64, usize)> {
    let mut out = [50i64, photo::DEFAULT_MAX_BYTES as i64 / 1024];
    for (i, key) in ["grid.duplicate_metres", "grid.photo_max_kb"]
        .iter()
        .enumerate()
    {
        let v: Option<String> = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(*key)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| r.get("value"));
        match v.and_then(|v| v.parse::<i64>().ok()) {
            Some(n) => out[i] = n,
            None => {
                if let Some((_, d, ..)) = crate::settings::INT_SETTINGS.iter().find(|s| s.0 == *key)
                {
                    out[i] = *d;
                }
            }
        }
    }
    Ok((out[0] as f64, (out[1].max(1) as usize) * 1024))
}

/// A possible duplicate: an open event of the same category nearby.
#[derive(Debug, Clone, Serialize)]
pub struct Duplicate {
    pub id: i64,
    pub metres: f64,
    pub description: String,
    pub state: State,
}

/// Open events of `category_id` within `metres` of `at` (lon, lat), nearest first: the
/// candidates read in a bounding box (the partial index `grid_events_open_place`), the distance
/// and the order the domain's (`possible_duplicates`).
pub async fn duplicates_near(
    conn: &mut AnyConnection,
    category_id: i64,
    at: (f64, f64),
    metres: f64,
    exclude: Option<i64>,
) -> Result<Vec<Duplicate>> {
    // 1° latitude ≈ 111 km; longitude shrinks with the latitude's cosine.
    let dlat = metres / 111_000.0 * 1.1;
    let dlon = dlat / at.1.to_radians().cos().abs().max(0.01);
    let rows = sqlx::query(
        "SELECT id, state, lon, lat, description FROM grid_events WHERE category_id = $1 \
         AND lon BETWEEN $2 AND $3 AND lat BETWEEN $4 AND $5 \
         AND state NOT IN ('closed', 'rejected_duplicate') LIMIT 200",
    )
    .bind(category_id)
    .bind(at.0 - dlon)
    .bind(at.0 + dlon)
    .bind(at.1 - dlat)
    .bind(at.1 + dlat)
    .fetch_all(&mut *conn)
    .await?;
    let mut near = vec![];
    let mut texts = std::collections::HashMap::new();
    for r in &rows {
        let id: i64 = r.get("id");
        if Some(id) == exclude {
            continue;
        }
        let state = State::parse(&r.get::<String, _>("state")).unwrap_or(State::Reported);
        near.push(NearbyEvent {
            id,
            category_id,
            state,
            at: (r.get("lon"), r.get("lat")),
        });
        texts.insert(id, (r.get::<String, _>("description"), state));
    }
    Ok(rules::possible_duplicates(category_id, at, &near, metres)
        .into_iter()
        .map(|(id, d)| {
            let (description, state) = texts.remove(&id).unwrap_or_default_pair();
            Duplicate {
                id,
                metres: (d * 10.0).round() / 10.0,
                description,
                state,
            }
        })
        .collect())
}

trait PairDefault {
    fn unwrap_or_default_pair(self) -> (String, State);
}

impl PairDefault for Option<(String, State)> {
    fn unwrap_or_default_pair(self) -> (String, State) {
        self.unwrap_or((String::new(), State::Reported))
    }
}

/// Takes `act` on event `id` as someone who is each of `actors` to it (the web works the
/// relations out: reporter, the street's dispatcher, the lead department's handler, the
/// community). `photos` are the after-photos of a handling (the act's count is theirs).
#[allow(clippy::too_many_arguments)]
pub async fn act(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    id: i64,
    version: Option<i64>,
    actors: &[Actor],
    act: &Act,
    photos: &[NewPhoto],
) -> Result<Event> {
    let ev = get(&mut *conn, id).await?;
    if version.is_some_and(|v| v != ev.version) {
        return Err(StoreError::version_conflict("该事件"));
    }
    // After-photos uploaded beforehand ([`add_photos`], phase `after`) wait for the
    // handling that attaches them; the act's count is theirs and those sent with it.
    let pending: Vec<i64> = sqlx::query(
        "SELECT id FROM grid_event_photos WHERE event_id = $1 AND phase = 'after' \
         AND act_id IS NULL ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| r.get("id"))
    .collect();
    let act = match act {
        Act::Handle { reply, .. } => Act::Handle {
            reply: reply.clone(),
            after_photos: (photos.len() + pending.len()) as u32,
        },
        other => other.clone(),
    };
    let facts = ev.facts();
    let kind = act.kind();
    let allowed = actors
        .iter()
        .find(|a| rules::may_act(**a, kind, &facts).is_ok());
    if allowed.is_none() {
        let e = rules::may_act(Actor::Other, kind, &facts).unwrap_err();
        return Err(StoreError::Forbidden {
            code: "not_yours",
            message: e.to_string(),
        });
    }
    let to = rules::next_state(&facts, &act).map_err(refused)?;
    for (field, label, text, limit) in act.texts() {
        check_text(field, label, text, limit).map_err(|e| {
            let mut f = FieldErrors::new();
            f.0.push(e);
            StoreError::Invalid(f)
        })?;
    }
    let (_, max_bytes) = settings_in(conn).await?;
    let prepared = prepare_photos(photos, max_bytes)?;
    let at = change.at;
    let mut detail = json!({ "act": kind.as_str(), "as": allowed.map(|a| a.as_str()) });
    let mut after = ev.clone();
    after.state = to;
    let item = ev.item_id;
    match &act {
        Act::Dispatch { department, co } => {
            let mut all = vec![*department];
            all.extend(co.iter().copied());
            // A street dispatches inside its district: the departments under the street's
            // parent (the district's own, the street's own), never another district's.
            let district = ev
                .street_path
                .parent()
                .unwrap_or_else(|| ev.street_path.clone());
            for (i, d) in all.iter().enumerate() {
                let field = if i == 0 { "department" } else { "co" };
                let org = crate::orgs::get(&mut *conn, *d).await.ok();
                match org {
                    Some(o) if o.kind == OrgKind::Department && district.contains(&o.path) => {}
                    Some(o) if o.kind == OrgKind::Department => {
                        return Err(StoreError::invalid(
                            field,
                            "department_outside_district",
                            format!("{}不在本街道所在的区内，不能派单", o.name),
                        ))
                    }
                    _ => {
                        return Err(StoreError::invalid(
                            field,
                            "not_a_department",
                            "请选择职能部门",
                        ))
                    }
                }
            }
            after.route = Some(Route::Street);
            after.lead_department_id = Some(*department);
            after.co_departments = co.clone();
            detail["department"] = json!(department);
            detail["co"] = json!(co);
        }
        Act::CommunityTakes { enforcement, note } => {
            if ev.community_org_id.is_none() {
                return Err(StoreError::invalid(
                    "act",
                    "no_community",
                    "该事件不在任何社区的网格内，须由街道派单",
                ));
            }
            after.route = Some(Route::Community);
            after.lead_department_id = None;
            detail["enforcement"] = json!(enforcement);
            detail["note"] = json!(note);
        }
        Act::Handle {
            reply,
            after_photos,
        } => {
            after.reply = Some(reply.clone());
            detail["reply"] = json!(reply);
            // Those uploaded beforehand and those sent with the act.
            detail["after_photos"] = json!(after_photos);
        }
        Act::Reopen { reason } => {
            after.reopens += 1;
            detail["reason"] = json!(reason);
        }
        Act::NotOurs { reason } => {
            after.returns += 1;
            after.route = None;
            after.lead_department_id = None;
            // The co-handlers were the returning department's; the next dispatch names its own.
            after.co_departments = vec![];
            detail["reason"] = json!(reason);
            detail["department"] = json!(ev.lead_department_id);
        }
        Act::RejectDuplicate { original } => {
            let orig = get(&mut *conn, *original).await.map_err(|_| {
                StoreError::invalid("original", "unknown_event", "被合并的原事件不存在")
            })?;
            if orig.street_org_id != ev.street_org_id {
                return Err(StoreError::invalid(
                    "original",
                    "other_street",
                    "只能合并到本街道的事件",
                ));
            }
            // Into the event that is being handled: never into another duplicate (two
            // events merged into each other would leave the problem with nobody).
            if orig.state == State::RejectedDuplicate {
                return Err(StoreError::invalid(
                    "original",
                    "original_is_duplicate",
                    format!(
                        "事件{}本身已作为重复事件合并到事件{}，请合并到原事件",
                        orig.id,
                        orig.original_id.unwrap_or(orig.id)
                    ),
                ));
            }
            after.original_id = Some(*original);
            detail["original"] = json!(original);
        }
        Act::Sign | Act::Start | Act::Confirm | Act::Close => {}
    }
    // Timing (the counters follow from it in `recount`, below).
    if matches!(act, Act::Sign | Act::CommunityTakes { .. }) && ev.responded_at.is_none() {
        after.responded_at = Some(at);
    }
    if matches!(act, Act::Handle { .. }) && ev.handled_at.is_none() {
        after.handled_at = Some(at);
    }
    if matches!(act, Act::Close) {
        after.closed_at = Some(at);
    }
    // The engine.
    if let Some(item) = item {
        match &act {
            Act::Sign | Act::CommunityTakes { .. } => {
                let it = escalation::advance_stage_from(
                    conn,
                    change,
                    cal,
                    item,
                    rules::STAGE_CLOSE,
                    ev.reported_at,
                )
                .await?;
                if it.due_at.is_some() {
                    after.close_due_at = it.due_at;
                }
            }
            Act::NotOurs { .. } if ev.state != State::Dispatched => {
                let it = escalation::advance_stage(conn, change, cal, item, rules::STAGE_RESPOND)
                    .await?;
                after.respond_due_at = it.due_at;
            }
            Act::Close | Act::RejectDuplicate { .. } => {
                escalation::close(conn, change, item).await?;
            }
            _ => {}
        }
    }
    recount(conn, &ev, &after).await?;
    let changed = sqlx::query(
        "UPDATE grid_events SET state = $1, route = $2, lead_department_id = $3, \
         co_departments = $4, original_id = $5, reopens = $6, returns = $7, reply = $8, \
         respond_due_at = $9, close_due_at = $10, responded_at = $11, handled_at = $12, \
         closed_at = $13, updated_at = $14, version = version + 1 WHERE id = $15 AND version = $16",
    )
    .bind(to.as_str())
    .bind(after.route.map(|r| r.as_str()))
    .bind(after.lead_department_id)
    .bind(serde_json::to_string(&after.co_departments).unwrap_or_else(|_| "[]".into()))
    .bind(after.original_id)
    .bind(after.reopens)
    .bind(after.returns)
    .bind(&after.reply)
    .bind(after.respond_due_at)
    .bind(after.close_due_at)
    .bind(after.responded_at)
    .bind(after.handled_at)
    .bind(after.closed_at)
    .bind(at)
    .bind(id)
    .bind(ev.version)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    crate::error::optimistic(changed, "该事件")?;
    let chain = record(conn, change, id, kind.as_str(), ev.state, to, detail).await?;
    if matches!(act, Act::Handle { .. }) {
        insert_photos(conn, change, id, "after", Some(chain), &prepared).await?;
        for p in &pending {
            sqlx::query("UPDATE grid_event_photos SET act_id = $1 WHERE id = $2")
                .bind(chain)
                .bind(p)
                .execute(&mut *conn)
                .await?;
        }
    }
    if let Act::Dispatch { department, .. } = &act {
        let d = crate::orgs::get(&mut *conn, *department).await?;
        notices::add(
            conn,
            change,
            &NewNotice {
                recipient: Recipient::Role {
                    role: Role::DeptHandler,
                    org_id: d.id,
                    org_path: d.path,
                },
                kind: NoticeKind::Assignment,
                text: format!("【派单】网格事件{id}：{}，请签收", ev.category_name),
                link: format!("/grid/events/{id}"),
                item_id: item,
            },
        )
        .await?;
    }
    get(&mut *conn, id).await
}

/// One entry of an event's chain.
#[derive(Debug, Clone, Serialize)]
pub struct ChainEntry {
    pub id: i64,
    pub act: String,
    pub act_label: &'static str,
    pub from_state: String,
    pub to_state: String,
    pub user_id: Option<i64>,
    pub actor: String,
    pub detail: serde_json::Value,
    pub at: i64,
}

fn chain_from_row(r: &AnyRow) -> ChainEntry {
    let act: String = r.get("act");
    let detail: String = r.get("detail");
    ChainEntry {
        id: r.get("id"),
        act_label: act_label(&act),
        act,
        from_state: r.get("from_state"),
        to_state: r.get("to_state"),
        user_id: r.get("user_id"),
        actor: r.get("actor"),
        detail: serde_json::from_str(&detail).unwrap_or_default(),
        at: r.get("at"),
    }
}

/// The words of a chain entry's act.
pub fn act_label(act: &str) -> &'static str {
    match act {
        "report" => "上报",
        "comment" => "外部系统更新",
        other => ActKind::parse(other).map_or("其他", ActKind::label),
    }
}

/// The whole chain of an event, oldest first (一事件一链).
pub async fn chain(pool: &AnyPool, id: i64) -> Result<Vec<ChainEntry>> {
    let rows = sqlx::query(
        "SELECT id, act, from_state, to_state, user_id, actor, detail, at FROM grid_event_events \
         WHERE event_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(chain_from_row).collect())
}

/// A photo's metadata.
#[derive(Debug, Clone, Serialize)]
pub struct PhotoInfo {
    pub id: i64,
    pub event_id: i64,
    pub phase: String,
    pub mime: String,
    pub size: i64,
    pub created_at: i64,
}

pub async fn photos(pool: &AnyPool, event_id: i64) -> Result<Vec<PhotoInfo>> {
    let rows = sqlx::query(
        "SELECT id, event_id, phase, mime, size, created_at FROM grid_event_photos \
         WHERE event_id = $1 ORDER BY id",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| PhotoInfo {
            id: r.get("id"),
            event_id: r.get("event_id"),
            phase: r.get("phase"),
            mime: r.get("mime"),
            size: r.get("size"),
            created_at: r.get("created_at"),
        })
        .collect())
}

/// A photo's bytes and type: the GPS-free public copy, or (`original`) the upload itself.
pub async fn photo_bytes(
    pool: &AnyPool,
    photo_id: i64,
    original: bool,
) -> Result<(PhotoInfo, Vec<u8>)> {
    let col = if original {
        "original_bytes"
    } else {
        "public_bytes"
    };
    let r = sqlx::query(&format!(
        "SELECT id, event_id, phase, mime, size, created_at, {col} AS bytes \
         FROM grid_event_photos WHERE id = $1"
    ))
    .bind(photo_id)
    .fetch_optional(pool)
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok((
        PhotoInfo {
            id: r.get("id"),
            event_id: r.get("event_id"),
            phase: r.get("phase"),
            mime: r.get("mime"),
            size: r.get("size"),
            created_at: r.get("created_at"),
        },
        r.get("bytes"),
    ))
}

/// Where a photo belongs: to the report (the reporter's shots), or after the handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Report,
    After,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Report => "report",
            Phase::After => "after",
        }
    }
}

/// Adds photos to an event: report photos while it is not final, after-photos while it is
/// being handled (they wait for the handling, which attaches and counts them). Who may is
/// the caller's check.
pub async fn add_photos(
    conn: &mut AnyConnection,
    change: &Change,
    id: i64,
    phase: Phase,
    photos: &[NewPhoto],
) -> Result<Vec<i64>> {
    let ev = get(&mut *conn, id).await?;
    let ok = match phase {
        Phase::Report => !ev.state.is_final(),
        Phase::After => ev.state == State::InProgress,
    };
    if !ok {
        return Err(StoreError::Conflict {
            code: "wrong_state",
            message: format!("事件当前为“{}”，不能添加这类照片", ev.state.label()),
        });
    }
    let (_, max_bytes) = settings_in(conn).await?;
    let prepared = prepare_photos(photos, max_bytes)?;
    let ids = insert_photos(conn, change, id, phase.as_str(), None, &prepared).await?;
    audit::append(
        conn,
        change,
        "grid.photo",
        "grid_event",
        &id.to_string(),
        &json!({ "photos": ids }),
    )
    .await?;
    Ok(ids)
}

/// What Open311's `GET requests` asks for, after parsing.
#[derive(Debug, Clone, Default)]
pub struct PublicQuery {
    pub ids: Vec<i64>,
    pub category_codes: Vec<String>,
    pub states: Vec<State>,
    /// Reported within `[from, to]`, UTC microseconds.
    pub window: Option<(i64, i64)>,
    pub limit: i64,
}

/// Public events for Open311, newest first.
pub async fn public_list(pool: &AnyPool, q: &PublicQuery) -> Result<Vec<Event>> {
    let mut sql = format!("{SELECT} WHERE e.visibility = 'public'");
    let mut binds: Vec<serde_json::Value> = vec![];
    let mut n = 1;
    if !q.ids.is_empty() {
        let ids: Vec<String> = q.ids.iter().map(|i| i.to_string()).collect();
        sql.push_str(&format!(" AND e.id IN ({})", ids.join(", ")));
    } else {
        if let Some((from, to)) = q.window {
            sql.push_str(&format!(
                " AND e.reported_at >= ${n} AND e.reported_at <= ${}",
                n + 1
            ));
            n += 2;
            binds.push(json!(from));
            binds.push(json!(to));
        }
        if !q.category_codes.is_empty() {
            let mut marks = vec![];
            for c in &q.category_codes {
                marks.push(format!("${n}"));
                n += 1;
                binds.push(json!(c));
            }
            sql.push_str(&format!(" AND c.code IN ({})", marks.join(", ")));
        }
        if !q.states.is_empty() {
            let list: Vec<String> = q
                .states
                .iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect();
            sql.push_str(&format!(" AND e.state IN ({})", list.join(", ")));
        }
    }
    // Newest first by the report time, so `grid_events_reported (reported_at, id)` serves
    // both the window and the order: the first `limit` rows of the index, not a sort of
    // every event in the window (BENCHMARKS.md, "Grid events: Open311 under load").
    sql.push_str(&format!(
        " ORDER BY e.reported_at DESC, e.id DESC LIMIT ${n}"
    ));
    let mut query = sqlx::query(&sql);
    for b in &binds {
        query = match b {
            serde_json::Value::Number(x) => query.bind(x.as_i64().unwrap_or(0)),
            other => query.bind(other.as_str().unwrap_or("").to_string()),
        };
    }
    let limit = if q.limit <= 0 { 1000 } else { q.limit };
    let rows = query.bind(limit).fetch_all(pool).await?;
    Ok(rows.iter().map(from_row).collect())
}

/// The first public photo of each event (Open311's `media_url`).
pub async fn first_photos(pool: &AnyPool, ids: &[i64]) -> Result<Vec<(i64, i64)>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    let rows = sqlx::query(&format!(
        "SELECT event_id, MIN(id) AS id FROM grid_event_photos WHERE event_id IN ({}) \
         GROUP BY event_id",
        list.join(", ")
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get("event_id"), r.get("id")))
        .collect())
}

/// A chain entry of a public event, for the `servicerequestupdates` extension.
#[derive(Debug, Clone)]
pub struct PublicUpdate {
    pub entry: ChainEntry,
    pub event_id: i64,
}

/// Chain entries of public events recorded within `[from, to]` (UTC microseconds), oldest
/// first, at most `limit`.
pub async fn public_updates(
    pool: &AnyPool,
    from: Option<i64>,
    to: Option<i64>,
    limit: i64,
) -> Result<Vec<PublicUpdate>> {
    let rows = sqlx::query(
        "SELECT u.id, u.event_id, u.act, u.from_state, u.to_state, u.user_id, u.actor, \
         u.detail, u.at FROM grid_event_events u JOIN grid_events e ON e.id = u.event_id \
         WHERE e.visibility = 'public' AND u.at >= $1 AND u.at <= $2 ORDER BY u.at, u.id LIMIT $3",
    )
    .bind(from.unwrap_or(i64::MIN))
    .bind(to.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| PublicUpdate {
            event_id: r.get("event_id"),
            entry: chain_from_row(r),
        })
        .collect())
}

/// Records an update an external system posted (Open311 `POST servicerequestupdates`) on
/// `ev`, read by the caller in this transaction after it checked the poster's relation to
/// the event (`open311_reporter`, the street's `DispatchGridEvents`): a chain entry
/// without a change of state — our loop decides states, so a `status` other than the
/// event's current Open311 status is refused (`status`), never silently ignored. The text
/// is kept as sent. The client's `external_id` (`update_id`) is idempotent per poster
/// (`grid_event_external_updates`): a repeat writes nothing and answers the first update
/// (`created: false`), before the status is compared — the state may have moved since.
/// The same `external_id` for another event is refused (`update_id`).
pub async fn external_update(
    conn: &mut AnyConnection,
    change: &Change,
    ev: &Event,
    status: rules::Open311Status,
    description: &str,
    external_id: Option<&str>,
) -> Result<ExternalUpdate> {
    if ev.visibility != Visibility::Public {
        return Err(StoreError::NotFound);
    }
    let claim = match (change.who.user_id, external_id) {
        (Some(user), Some(x)) => {
            if x.chars().count() > EXTERNAL_ID_MAX {
                return Err(StoreError::invalid(
                    "update_id",
                    "too_long",
                    format!("update_id不能超过{EXTERNAL_ID_MAX}个字符"),
                ));
            }
            // Claimed first, so a concurrent repeat waits for this transaction (PostgreSQL)
            // or for the writer (SQLite), then finds the claim and writes nothing.
            let fresh = sqlx::query(
                "INSERT INTO grid_event_external_updates (user_id, external_id, event_id, at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, external_id) DO NOTHING",
            )
            .bind(user)
            .bind(x)
            .bind(ev.id)
            .bind(change.at)
            .execute(&mut *conn)
            .await?
            .rows_affected()
                == 1;
            if !fresh {
                let r = sqlx::query(
                    "SELECT event_id, chain_id FROM grid_event_external_updates \
                     WHERE user_id = $1 AND external_id = $2",
                )
                .bind(user)
                .bind(x)
                .fetch_one(&mut *conn)
                .await?;
                let (event_id, chain_id): (i64, Option<i64>) =
                    (r.get("event_id"), r.get("chain_id"));
                if event_id != ev.id {
                    return Err(StoreError::invalid(
                        "update_id",
                        "used",
                        format!("update_id“{x}”已用于服务请求{event_id}的更新，请换一个"),
                    ));
                }
                return match chain_id {
                    Some(id) => Ok(ExternalUpdate { id, created: false }),
                    None => Err(StoreError::Conflict {
                        code: "in_progress",
                        message: "同一update_id的更新正在提交，请稍后重试".into(),
                    }),
                };
            }
            Some((user, x))
        }
        _ => None,
    };
    let current = rules::open311_status(ev.state);
    if status != current {
        return Err(StoreError::invalid(
            "status",
            "status_change",
            format!(
                "服务请求{}当前为{}（{}），status须与之相同：状态只随网格事件的办理流程\
                 （派单、处置、确认、结案）变化，不能通过更新修改\
                 （status changes are not accepted; status must be {}）",
                ev.id,
                current.as_str(),
                current.label(),
                current.as_str()
            ),
        ));
    }
    let mut f = FieldErrors::new();
    if let Err(e) = check_text("description", "更新说明", description, rules::NOTE) {
        f.0.push(e);
        return Err(StoreError::Invalid(f));
    }
    let id = record(
        conn,
        change,
        ev.id,
        "comment",
        ev.state,
        ev.state,
        json!({ "status": status.as_str(), "description": description,
                "external_update_id": external_id }),
    )
    .await?;
    if let Some((user, x)) = claim {
        sqlx::query(
            "UPDATE grid_event_external_updates SET chain_id = $1 \
             WHERE user_id = $2 AND external_id = $3",
        )
        .bind(id)
        .bind(user)
        .bind(x)
        .execute(&mut *conn)
        .await?;
    }
    Ok(ExternalUpdate { id, created: true })
}

/// The longest `update_id` a client may send.
pub const EXTERNAL_ID_MAX: usize = 100;

/// What `external_update` answers: the update's id (its chain entry's), and whether it was
/// recorded now (`false`: a repeat of the poster's `update_id`, nothing written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExternalUpdate {
    pub id: i64,
    pub created: bool,
}

/// The account that reported `ev` through Open311 — its API key's user, the one the
/// chain's report entry is attributed to —, or none for an event reported otherwise.
pub async fn open311_reporter(conn: &mut AnyConnection, ev: &Event) -> Result<Option<i64>> {
    if ev.reporter_kind != ReporterKind::Open311 {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT user_id FROM grid_event_events WHERE event_id = $1 AND act = 'report' \
         ORDER BY id LIMIT 1",
    )
    .bind(ev.id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.and_then(|r| r.get::<Option<i64>, _>("user_id")))
}
