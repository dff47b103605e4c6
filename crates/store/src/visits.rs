//! Visits per case (`case_visits`) and the 一次办结 rollup, always written inside the
//! transaction of the act that causes them (domain rules: `onewindow_domain::visits`).
//!
//! - A case taken in or acted on in person while the clerk serves a ticket is linked to it
//!   ([`link_to_serving`]: the ticket's `case_nos`); finishing the ticket records a visit
//!   against each linked case ([`record_ticket`], called by `queue::act`).
//! - Intake or a hand-over at the window without a ticket records its visit at once.
//! - Issuance counts the case in `case_figures_daily` (`issued`, `issued_in_one_visit`) by
//!   the visits so far ([`count_issued`]); a visit recorded later for the same trip or
//!   before the hand-over corrects that one row ([`record`]), so the figure never needs a
//!   scan of the history.
//!
//! Idempotent: one visit per case and day (`UNIQUE (case_id, day)`, `ON CONFLICT DO
//! NOTHING`); a case is linked to a ticket once. Lock order on PostgreSQL: the ticket, then
//! the case (as `queue::act` does), so a finish and a hand-over never deadlock.

use crate::audit::{self, Change};
use crate::queue::{self as store_queue, Ticket};
use crate::{Backend, Result, StoreError};
use chrono::NaiveDate;
use onewindow_domain::visits::{self as rules, VisitKind};
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, Row};

/// A visit as the case page and API show it: when, how, where.
#[derive(Debug, Clone, Serialize)]
pub struct Visit {
    pub id: i64,
    /// The Beijing date of the trip.
    pub day: String,
    pub kind: VisitKind,
    pub kind_label: &'static str,
    pub ticket_id: Option<i64>,
    pub ticket_number: Option<String>,
    pub appointment_id: Option<i64>,
    pub org_id: i64,
    pub org_name: String,
    pub window_number: Option<i64>,
    pub clerk_name: Option<String>,
    /// UTC microseconds.
    pub at: i64,
}

fn visit_from_row(r: &AnyRow) -> Visit {
    let kind = VisitKind::parse(&r.get::<String, _>("kind")).unwrap_or(VisitKind::Ticket);
    Visit {
        id: r.get("id"),
        day: r.get("day"),
        kind,
        kind_label: kind.label(),
        ticket_id: r.get("ticket_id"),
        ticket_number: r.get("ticket_number"),
        appointment_id: r.get("appointment_id"),
        org_id: r.get("org_id"),
        org_name: r.get("org_name"),
        window_number: r.get("window_number"),
        clerk_name: r.get("clerk_name"),
        at: r.get("at"),
    }
}

/// A case's visits in order (one index range: `UNIQUE (case_id, day)`).
pub async fn of_case<'c, E: Executor<'c, Database = Any>>(
    e: E,
    case_id: i64,
) -> Result<Vec<Visit>> {
    let rows = sqlx::query(
        "SELECT v.*, o.name AS org_name, u.display_name AS clerk_name, t.number AS ticket_number \
         FROM case_visits v JOIN orgs o ON o.id = v.org_id LEFT JOIN users u ON u.id = v.clerk_id \
         LEFT JOIN tickets t ON t.id = v.ticket_id WHERE v.case_id = $1 ORDER BY v.day, v.id",
    )
    .bind(case_id)
    .fetch_all(e)
    .await?;
    Ok(rows.iter().map(visit_from_row).collect())
}

/// A visit to record.
#[derive(Debug, Clone)]
pub struct NewVisit {
    pub kind: VisitKind,
    pub day: NaiveDate,
    pub ticket_id: Option<i64>,
    pub appointment_id: Option<i64>,
    pub org_id: i64,
    pub window_number: Option<i64>,
}

/// Records a visit of the case, once per day; returns whether it was new. Audited
/// (`case.visit`). If the case was already issued and this visit is a second that counts
/// (on or before the day of issuance), the rollup row it was counted in is corrected.
pub async fn record(
    conn: &mut AnyConnection,
    change: &Change,
    case_id: i64,
    case_no: &str,
    v: &NewVisit,
) -> Result<bool> {
    if change.backend == Backend::Postgres {
        // Serialise with the case's transitions (issuance counts the visits).
        sqlx::query("SELECT id FROM cases WHERE id = $1 FOR UPDATE")
            .bind(case_id)
            .fetch_optional(&mut *conn)
            .await?;
    }
    let day = rules::visit_key(v.day);
    let inserted = sqlx::query(
        "INSERT INTO case_visits (case_id, day, kind, ticket_id, appointment_id, org_id, window_number, clerk_id, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (case_id, day) DO NOTHING RETURNING id",
    )
    .bind(case_id)
    .bind(&day)
    .bind(v.kind.as_str())
    .bind(v.ticket_id)
    .bind(v.appointment_id)
    .bind(v.org_id)
    .bind(v.window_number)
    .bind(change.who.user_id)
    .bind(change.at)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = inserted else {
        return Ok(false);
    };
    let id: i64 = row.get("id");
    audit::append(
        &mut *conn,
        change,
        "case.visit",
        "case",
        case_no,
        &json!({ "kind": v.kind.as_str(), "day": day, "ticket": v.ticket_id, "window": v.window_number, "org_id": v.org_id }),
    )
    .await?;
    let issued = sqlx::query(
        "SELECT day, intake_org_id, item_code, in_one_visit FROM case_issuances WHERE case_id = $1",
    )
    .bind(case_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(issued) = issued else {
        return Ok(true);
    };
    let issued_on: String = issued.get("day");
    let counts = NaiveDate::parse_from_str(&issued_on, "%Y-%m-%d")
        .map(|d| rules::counts_toward(v.day, d))
        .unwrap_or(false);
    if issued.get::<i64, _>("in_one_visit") == 0 || !counts {
        return Ok(true);
    }
    let before: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM case_visits WHERE case_id = $1 AND day <= $2 AND id <> $3",
    )
    .bind(case_id)
    .bind(&issued_on)
    .bind(id)
    .fetch_one(&mut *conn)
    .await?
    .get("n");
    let delta = rules::rollup_change_on_late_visit(before as u32, counts);
    if delta != 0 {
        let changed = sqlx::query(
            "UPDATE case_issuances SET in_one_visit = 0 WHERE case_id = $1 AND in_one_visit = 1",
        )
        .bind(case_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if changed == 1 {
            sqlx::query(
                "UPDATE case_figures_daily SET issued_in_one_visit = issued_in_one_visit + $1 \
                 WHERE day = $2 AND intake_org_id = $3 AND item_code = $4",
            )
            .bind(delta)
            .bind(&issued_on)
            .bind(issued.get::<i64, _>("intake_org_id"))
            .bind(issued.get::<String, _>("item_code"))
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(true)
}

/// Counts an issued case in the 一次办结 rollup on `day` (the issuing transaction, the case
/// row locked): issued, and done in one visit by the visits recorded so far. Once per case.
pub async fn count_issued(
    conn: &mut AnyConnection,
    case_id: i64,
    day: NaiveDate,
    intake_org_id: i64,
    item_code: &str,
) -> Result<()> {
    let day = day.to_string();
    let counted: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM case_visits WHERE case_id = $1 AND day <= $2")
            .bind(case_id)
            .bind(&day)
            .fetch_one(&mut *conn)
            .await?
            .get("n");
    let one = i64::from(rules::done_in_one_visit(counted as u32));
    let first = sqlx::query(
        "INSERT INTO case_issuances (case_id, day, intake_org_id, item_code, in_one_visit) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (case_id) DO NOTHING RETURNING case_id",
    )
    .bind(case_id)
    .bind(&day)
    .bind(intake_org_id)
    .bind(item_code)
    .bind(one)
    .fetch_optional(&mut *conn)
    .await?;
    if first.is_none() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO case_figures_daily (day, intake_org_id, item_code, issued, issued_in_one_visit) \
         VALUES ($1, $2, $3, 1, $4) ON CONFLICT (day, intake_org_id, item_code) DO UPDATE SET \
         issued = case_figures_daily.issued + 1, \
         issued_in_one_visit = case_figures_daily.issued_in_one_visit + $4",
    )
    .bind(&day)
    .bind(intake_org_id)
    .bind(item_code)
    .bind(one)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The ticket the clerk is serving now — called to, or being served at, a window they
/// opened — locked (PostgreSQL) and read again under the lock.
pub async fn serving_ticket(
    conn: &mut AnyConnection,
    backend: Backend,
    clerk_id: i64,
) -> Result<Option<Ticket>> {
    let found = sqlx::query(
        "SELECT t.id FROM service_windows w JOIN tickets t ON t.id = w.current_ticket_id \
         WHERE w.clerk_id = $1 AND w.state <> 'closed' AND t.state IN ('called', 'serving') \
         ORDER BY t.called_at DESC, t.id DESC LIMIT 1",
    )
    .bind(clerk_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    let id: i64 = found.get("id");
    sqlx::query(&format!(
        "SELECT id FROM tickets WHERE id = $1 AND state IN ('called', 'serving'){}",
        backend.for_update()
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let t = store_queue::ticket(&mut *conn, id).await?;
    Ok(Some(t).filter(|t| {
        matches!(
            t.state,
            onewindow_domain::queue::TicketState::Called
                | onewindow_domain::queue::TicketState::Serving
        )
    }))
}

/// Links a case to a ticket being served (its `case_nos`), once; audited
/// (`ticket.link_case`). The ticket's finish records the visit.
pub async fn link(
    conn: &mut AnyConnection,
    change: &Change,
    ticket: &Ticket,
    case_no: &str,
) -> Result<Ticket> {
    if ticket.case_nos.iter().any(|n| n == case_no) {
        return Ok(ticket.clone());
    }
    let mut nos = ticket.case_nos.clone();
    nos.push(case_no.to_string());
    sqlx::query("UPDATE tickets SET case_nos = $1, version = version + 1 WHERE id = $2")
        .bind(serde_json::to_string(&nos).expect("list serialises"))
        .bind(ticket.id)
        .execute(&mut *conn)
        .await?;
    audit::append(
        &mut *conn,
        change,
        "ticket.link_case",
        "ticket",
        &ticket.id.to_string(),
        &json!({ "number": ticket.number, "case_nos": nos }),
    )
    .await?;
    store_queue::ticket(conn, ticket.id).await
}

/// Links the case to the ticket the clerk is serving, if any; returns that ticket.
pub async fn link_to_serving(
    conn: &mut AnyConnection,
    change: &Change,
    clerk_id: i64,
    case_no: &str,
) -> Result<Option<Ticket>> {
    match serving_ticket(&mut *conn, change.backend, clerk_id).await? {
        Some(t) => Ok(Some(link(conn, change, &t, case_no).await?)),
        None => Ok(None),
    }
}

/// Records a visit against each case a finished ticket served (its `case_nos`): kind
/// ticket, or appointment for a ticket an appointment's check-in issued; where: the hall
/// and window. A number that names no case is a field error (nothing is written).
pub async fn record_ticket(conn: &mut AnyConnection, change: &Change, t: &Ticket) -> Result<()> {
    let day = NaiveDate::parse_from_str(&t.day, "%Y-%m-%d")
        .map_err(|_| StoreError::invalid("day", "invalid", "取号日期无效"))?;
    for no in &t.case_nos {
        let found = sqlx::query("SELECT id FROM cases WHERE case_no = $1")
            .bind(no)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(found) = found else {
            return Err(StoreError::invalid(
                "case_nos",
                "unknown_case",
                format!("没有编号为{no}的办件"),
            ));
        };
        let visit = NewVisit {
            kind: VisitKind::of_ticket(t.appointment_id.is_some()),
            day,
            ticket_id: Some(t.id),
            appointment_id: t.appointment_id,
            org_id: t.hall_id,
            window_number: t.window_number,
        };
        record(&mut *conn, change, found.get("id"), no, &visit).await?;
    }
    Ok(())
}

/// The 一次办结 figures of a period inside a scope, from the rollup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OneVisitFigures {
    /// Cases issued (result handed over, mailed or issued electronically) in the period.
    pub issued: i64,
    /// Of those, done in one visit.
    pub in_one_visit: i64,
}

/// One line of a breakdown: an intake organisation (hall) or an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OneVisitLine {
    pub key: String,
    pub name: String,
    pub issued: i64,
    pub in_one_visit: i64,
}

/// Sums the rollup rows of `[from, to]` for the organisations under `scope` (and one item,
/// if given): the total, per intake organisation and per item. Rows read: days ×
/// organisations × items of the period, whatever the archive holds.
pub async fn one_visit_figures(
    conn: &mut AnyConnection,
    scope: &onewindow_domain::org::OrgPath,
    from: NaiveDate,
    to: NaiveDate,
    item_code: Option<&str>,
) -> Result<(OneVisitFigures, Vec<OneVisitLine>, Vec<OneVisitLine>)> {
    // PostgreSQL sums BIGINT as NUMERIC: cast back, on both backends alike. Item names
    // come from the item (code is unique), joined after the grouping.
    let sums = "CAST(COALESCE(SUM(f.issued), 0) AS BIGINT) AS issued, \
         CAST(COALESCE(SUM(f.issued_in_one_visit), 0) AS BIGINT) AS one \
         FROM case_figures_daily f JOIN orgs o ON o.id = f.intake_org_id \
         WHERE f.day >= $1 AND f.day <= $2 AND o.path >= $3 AND o.path < $4 \
         AND ($5 = '' OR f.item_code = $5) AND f.issued > 0";
    let by_org = format!(
        "SELECT CAST(o.id AS TEXT) AS k, o.name AS name, {sums} GROUP BY o.id, o.name ORDER BY o.name"
    );
    let by_item = format!(
        "SELECT g.k, COALESCE(i.name, g.k) AS name, g.issued, g.one FROM \
         (SELECT f.item_code AS k, {sums} GROUP BY f.item_code) g \
         LEFT JOIN catalog_items i ON i.code = g.k ORDER BY g.k"
    );
    let upper = crate::path_upper_bound(scope.as_str());
    let mut lines = Vec::new();
    for q in [by_org, by_item] {
        let rows = sqlx::query(&q)
            .bind(from.to_string())
            .bind(to.to_string())
            .bind(scope.as_str())
            .bind(&upper)
            .bind(item_code.unwrap_or(""))
            .fetch_all(&mut *conn)
            .await?;
        lines.push(
            rows.iter()
                .map(|r| OneVisitLine {
                    key: r.get("k"),
                    name: r.get("name"),
                    issued: r.get("issued"),
                    in_one_visit: r.get("one"),
                })
                .collect::<Vec<_>>(),
        );
    }
    let by_item = lines.pop().expect("two lists");
    let by_org = lines.pop().expect("two lists");
    let total = OneVisitFigures {
        issued: by_org.iter().map(|l| l.issued).sum(),
        in_one_visit: by_org.iter().map(|l| l.in_one_visit).sum(),
    };
    Ok((total, by_org, by_item))
}
