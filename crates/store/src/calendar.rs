//! The working-day calendar as data: holidays and make-up days per year, loaded by the
//! administrator each November when the State Council publishes the next arrangement.
//! Shipped years (2020–2026) missing from the database are loaded at start.
//!
//! Also the deadlines that wait for a year (the December block, issue 10): a case whose
//! deadline reaches into a year not loaded yet is accepted with its deadline pending
//! (`cases.deadline_pending_year`), and every import computes those deadlines in its own
//! transaction ([`import_years`]), each change audited and recorded in the case's history.

use crate::audit::{self, Change, Who};
use crate::{Result, Store, StoreError};
use chrono::NaiveDate;
use onewindow_domain::calendar::{DayKind, Deadline, SpecialDay, WorkCalendar};
use onewindow_domain::cases::{self as machine, CaseState};
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The calendar as this instance last read it, tagged with the revision it was read at.
///
/// Why: every deadline computation needs the whole calendar, and reading and checking a
/// few hundred rows per request cost the case lifecycle over a third of its throughput
/// (BENCHMARKS.md). The calendar changes once a year, so each use asks only for the
/// one-row revision and reloads when it moved — also when another instance changed it.
#[derive(Debug, Default)]
pub struct CalendarCache {
    cached: std::sync::RwLock<Option<(i64, Arc<WorkCalendar>)>>,
}

impl CalendarCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The current calendar: from memory when the stored revision has not moved.
    pub async fn get(&self, pool: &AnyPool) -> Result<Arc<WorkCalendar>> {
        let current = revision(pool).await?;
        if let Some((rev, cal)) = self.cached.read().expect("calendar cache lock").as_ref() {
            if *rev == current {
                return Ok(cal.clone());
            }
        }
        // Read after the revision: what is loaded is at least that new; if it is newer,
        // the next call sees the revision moved and reloads once more.
        let cal = Arc::new(load(pool).await?);
        *self.cached.write().expect("calendar cache lock") = Some((current, cal.clone()));
        Ok(cal)
    }
}

/// The calendar's revision: incremented by every change of the stored calendar.
pub async fn revision<'c, E: Executor<'c, Database = Any>>(e: E) -> Result<i64> {
    Ok(
        sqlx::query("SELECT revision FROM calendar_revision WHERE id = 1")
            .fetch_one(e)
            .await?
            .get("revision"),
    )
}

const YEARS_SQL: &str = "SELECT year FROM calendar_years ORDER BY year";
const DAYS_SQL: &str = "SELECT day, kind, festival FROM calendar_days ORDER BY day";

/// Reads the whole calendar (a few hundred rows at most).
pub async fn load<'c, E: Executor<'c, Database = Any> + Copy>(e: E) -> Result<WorkCalendar> {
    let years = sqlx::query(YEARS_SQL).fetch_all(e).await?;
    let rows = sqlx::query(DAYS_SQL).fetch_all(e).await?;
    parse(&years, rows)
}

/// [`load`] inside a transaction: the calendar as this transaction sees it.
async fn load_in(conn: &mut AnyConnection) -> Result<WorkCalendar> {
    let years = sqlx::query(YEARS_SQL).fetch_all(&mut *conn).await?;
    let rows = sqlx::query(DAYS_SQL).fetch_all(&mut *conn).await?;
    parse(&years, rows)
}

fn parse(years: &[AnyRow], rows: Vec<AnyRow>) -> Result<WorkCalendar> {
    let years: Vec<i64> = years.iter().map(|r| r.get("year")).collect();
    let mut by_year: BTreeMap<i32, Vec<SpecialDay>> =
        years.iter().map(|y| (*y as i32, Vec::new())).collect();
    for r in rows {
        let day: String = r.get("day");
        let kind: String = r.get("kind");
        let date = NaiveDate::parse_from_str(&day, "%Y-%m-%d")
            .map_err(|_| StoreError::Config(format!("bad calendar date {day}")))?;
        let kind = DayKind::parse(&kind)
            .ok_or_else(|| StoreError::Config(format!("bad calendar kind {kind}")))?;
        by_year
            .entry(chrono::Datelike::year(&date))
            .or_default()
            .push(SpecialDay::new(date, kind, r.get::<String, _>("festival")));
    }
    let mut cal = WorkCalendar::new();
    for (year, days) in by_year {
        cal = cal.with_year(year, days).map_err(|e| {
            StoreError::Config(format!("stored calendar for {year} is invalid: {e}"))
        })?;
    }
    Ok(cal)
}

/// Replaces the arrangements of every year in `cal` (a corrected notice replaces the year
/// whole). Returns the years written. With `expected_revision` (the revision the
/// administrator's preview was made at) the import is refused as a conflict if the
/// calendar changed since, so what is confirmed is what was shown.
pub async fn replace_years(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    expected_revision: Option<i64>,
) -> Result<Vec<i32>> {
    let years = cal.covered_years();
    let bumped = sqlx::query(
        "UPDATE calendar_revision SET revision = revision + 1 WHERE id = 1 AND ($1 < 0 OR revision = $1)",
    )
    .bind(expected_revision.unwrap_or(-1))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if bumped == 0 {
        return Err(StoreError::Conflict {
            code: "calendar_changed",
            message: "预览之后工作日历已被修改，请重新预览后再确认导入".into(),
        });
    }
    for year in &years {
        let (from, to) = (format!("{year}-01-01"), format!("{year}-12-31"));
        sqlx::query("DELETE FROM calendar_days WHERE day >= $1 AND day <= $2")
            .bind(&from)
            .bind(&to)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM calendar_years WHERE year = $1")
            .bind(i64::from(*year))
            .execute(&mut *conn)
            .await?;
        sqlx::query("INSERT INTO calendar_years (year, loaded_at, loaded_by) VALUES ($1, $2, $3)")
            .bind(i64::from(*year))
            .bind(change.at)
            .bind(&change.who.label)
            .execute(&mut *conn)
            .await?;
        let mut n = 0;
        for d in cal
            .special_days()
            .filter(|d| chrono::Datelike::year(&d.date) == *year)
        {
            sqlx::query("INSERT INTO calendar_days (day, kind, festival) VALUES ($1, $2, $3)")
                .bind(d.date.to_string())
                .bind(d.kind.as_str())
                .bind(&d.festival)
                .execute(&mut *conn)
                .await?;
            n += 1;
        }
        // A year that is not a whole notice got here only on the administrator's explicit
        // confirmation: the audit log says so, with the reason.
        let partial = cal.check_whole_notice(*year).err();
        audit::append(
            &mut *conn,
            change,
            "calendar.load_year",
            "calendar",
            &year.to_string(),
            &json!({ "year": year, "special_days": n, "partial": partial }),
        )
        .await?;
    }
    Ok(years)
}

/// What an import did: the years written and the pending deadlines it computed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Imported {
    pub years: Vec<i32>,
    pub deadlines: Vec<ComputedDeadline>,
}

/// A pending deadline worked out after an import: the date, or still pending on a later
/// year that is missing too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComputedDeadline {
    pub case_no: String,
    pub due_date: Option<NaiveDate>,
    pub pending_year: Option<i32>,
}

/// Replaces the years of `cal` ([`replace_years`]) and, in the same transaction, computes
/// every pending deadline the stored calendar now covers ([`compute_pending_deadlines`]).
pub async fn import_years(
    conn: &mut AnyConnection,
    change: &Change,
    cal: &WorkCalendar,
    expected_revision: Option<i64>,
) -> Result<Imported> {
    let years = replace_years(&mut *conn, change, cal, expected_revision).await?;
    let deadlines = compute_pending_deadlines(&mut *conn, change).await?;
    Ok(Imported { years, deadlines })
}

/// How many cases wait for each year's arrangement, ascending by year.
pub async fn pending_deadlines<'c, E: Executor<'c, Database = Any>>(
    e: E,
) -> Result<Vec<(i32, u64)>> {
    Ok(sqlx::query(
        "SELECT deadline_pending_year AS y, COUNT(*) AS n FROM cases \
         WHERE deadline_pending_year IS NOT NULL GROUP BY deadline_pending_year ORDER BY deadline_pending_year",
    )
    .fetch_all(e)
    .await?
    .iter()
    .map(|r| {
        (
            i32::try_from(r.get::<i64, _>("y")).unwrap_or(i32::MAX),
            u64::try_from(r.get::<i64, _>("n")).unwrap_or(0),
        )
    })
    .collect())
}

/// Works out the deadline of every case waiting for a year the stored calendar (as this
/// transaction sees it) now covers: the date, written with the case's version moved on, a
/// `deadline_computed` event in its history and a `case.deadline_computed` audit event —
/// or, when the deadline reaches into a later year that is missing too, that year.
/// Conditional on the year still being the one waited for, so a second runner (another
/// instance, the housekeeping catch-up) changes nothing.
pub async fn compute_pending_deadlines(
    conn: &mut AnyConnection,
    change: &Change,
) -> Result<Vec<ComputedDeadline>> {
    let cal = load_in(&mut *conn).await?;
    let covered: Vec<i64> = cal.covered_years().into_iter().map(i64::from).collect();
    if covered.is_empty() {
        return Ok(vec![]);
    }
    let list = covered
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let rows = sqlx::query(&format!(
        "SELECT id, case_no, state, accepted_on, limit_days, pauses, paused_since, deadline_pending_year \
         FROM cases WHERE deadline_pending_year IN ({list}) ORDER BY id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let today = crate::clock::local_date(change.at);
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let (id, case_no): (i64, String) = (r.get("id"), r.get("case_no"));
        let waited: i64 = r.get("deadline_pending_year");
        let state = CaseState::parse(&r.get::<String, _>("state")).unwrap_or(CaseState::Draft);
        let date = |col: &str| {
            r.get::<Option<String>, _>(col)
                .and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok())
        };
        let Some(accepted) = date("accepted_on") else {
            continue;
        };
        let closed: Vec<(NaiveDate, NaiveDate)> =
            serde_json::from_str(&r.get::<String, _>("pauses")).unwrap_or_default();
        let mut pauses: Vec<(NaiveDate, Option<NaiveDate>)> =
            closed.into_iter().map(|(a, b)| (a, Some(b))).collect();
        pauses.extend(date("paused_since").map(|from| (from, None)));
        let limit = u32::try_from(r.get::<i64, _>("limit_days")).unwrap_or(0);
        let deadline = machine::deadline(&cal, accepted, limit, &pauses, today)
            .map_err(|e| StoreError::invalid("calendar", e.code(), e.to_string()))?;
        let won = sqlx::query(
            "UPDATE cases SET due_date = $1, deadline_pending_year = $2, updated_at = $3, version = version + 1 \
             WHERE id = $4 AND deadline_pending_year = $5",
        )
        .bind(deadline.due().map(|d| d.to_string()))
        .bind(deadline.pending_year().map(i64::from))
        .bind(change.at)
        .bind(id)
        .bind(waited)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if won == 0 {
            continue;
        }
        let note = match deadline {
            Deadline::Due(d) => format!("{waited}年节假日安排已导入，承诺办结日期确定为{d}"),
            Deadline::Pending { year } => format!(
                "{waited}年节假日安排已导入，办结日期又跨入{year}年，仍待{year}年安排导入后确定"
            ),
        };
        crate::cases::record_event(
            &mut *conn,
            change,
            id,
            "deadline_computed",
            Some(state),
            state,
            &note,
        )
        .await?;
        audit::append(
            &mut *conn,
            change,
            "case.deadline_computed",
            "case",
            &case_no,
            &json!({ "waited_for": waited, "due_date": deadline.due(), "pending_year": deadline.pending_year() }),
        )
        .await?;
        out.push(ComputedDeadline {
            case_no,
            due_date: deadline.due(),
            pending_year: deadline.pending_year(),
        });
    }
    Ok(out)
}

/// The catch-up run by housekeeping: computes pending deadlines whose year is loaded but
/// which an import did not reach (a transition that planned with a calendar read just
/// before the import committed). Opens a transaction only when there is such a case.
pub async fn catch_up_pending_deadlines(
    store: &Store,
    change: &Change,
) -> Result<Vec<ComputedDeadline>> {
    let waiting = pending_deadlines(store.reader()).await?;
    let years: Vec<i64> = sqlx::query("SELECT year FROM calendar_years")
        .fetch_all(store.reader())
        .await?
        .iter()
        .map(|r| r.get("year"))
        .collect();
    if !waiting.iter().any(|(y, _)| years.contains(&i64::from(*y))) {
        return Ok(vec![]);
    }
    let mut tx = store.begin().await?;
    let done = compute_pending_deadlines(&mut tx, change).await?;
    tx.commit().await?;
    Ok(done)
}

/// Loads the shipped years the database does not have — all of them on a new database;
/// after an upgrade that ships more years (2020–2023 came with issue 10), only those. A
/// year already stored is never touched: the administrator's import of it stands. Pending
/// deadlines a newly loaded year covers are computed in the same transaction.
pub async fn ensure_shipped(store: &Store, now: i64) -> Result<()> {
    let mut tx = store.begin().await?;
    let stored: Vec<i64> = sqlx::query("SELECT year FROM calendar_years")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.get("year"))
        .collect();
    let shipped = WorkCalendar::shipped();
    let mut missing = WorkCalendar::new();
    for year in shipped.covered_years() {
        if !stored.contains(&i64::from(year)) {
            let days = shipped
                .special_days()
                .filter(|d| chrono::Datelike::year(&d.date) == year)
                .cloned();
            missing = missing.with_year(year, days).map_err(|e| {
                StoreError::Config(format!("shipped calendar for {year} is invalid: {e}"))
            })?;
        }
    }
    if !missing.covered_years().is_empty() {
        let change = Change {
            backend: store.backend(),
            at: now,
            who: Who::system("system"),
        };
        // Two instances starting together may both try; the loser's unique violation
        // means the calendar is there, which is all this function promises.
        let loaded = async {
            import_years(&mut tx, &change, &missing, None).await?;
            tx.commit().await?;
            Ok::<(), StoreError>(())
        };
        match loaded.await {
            Err(e) if e.is_unique_violation() => {}
            other => other?,
        }
    }
    Ok(())
}
