//! The working-day calendar as data: holidays and make-up days per year, loaded by the
//! administrator each November when the State Council publishes the next arrangement.
//! Shipped years (2024–2026) are loaded on first start.

use crate::audit::{self, Change, Who};
use crate::{Result, Store, StoreError};
use chrono::NaiveDate;
use onewindow_domain::calendar::{DayKind, SpecialDay, WorkCalendar};
use serde_json::json;
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

/// Reads the whole calendar (a few hundred rows at most).
pub async fn load<'c, E: Executor<'c, Database = Any> + Copy>(e: E) -> Result<WorkCalendar> {
    let years: Vec<i64> = sqlx::query("SELECT year FROM calendar_years ORDER BY year")
        .fetch_all(e)
        .await?
        .iter()
        .map(|r| r.get("year"))
        .collect();
    let rows = sqlx::query("SELECT day, kind, festival FROM calendar_days ORDER BY day")
        .fetch_all(e)
        .await?;
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
        audit::append(
            &mut *conn,
            change,
            "calendar.load_year",
            "calendar",
            &year.to_string(),
            &json!({ "year": year, "special_days": n }),
        )
        .await?;
    }
    Ok(years)
}

/// Loads the shipped years on a database that has no calendar yet.
pub async fn ensure_shipped(store: &Store, now: i64) -> Result<()> {
    let mut tx = store.begin().await?;
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM calendar_years")
        .fetch_one(&mut *tx)
        .await?
        .get("n");
    if n == 0 {
        let change = Change {
            backend: store.backend(),
            at: now,
            who: Who::system("system"),
        };
        // Two instances starting together may both try; the loser's unique violation
        // means the calendar is there, which is all this function promises.
        let loaded = async {
            replace_years(&mut tx, &change, &WorkCalendar::shipped(), None).await?;
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
