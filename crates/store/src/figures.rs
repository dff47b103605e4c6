//! Figures from rollups: counters kept per day, organisation and item in the transaction
//! that changes a case, summed over a period — never a scan of the cases themselves.

use crate::{path_upper_bound, Result};
use chrono::NaiveDate;
use onewindow_domain::org::OrgPath;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

/// Adds one accepted case to its day's intake figures.
pub async fn count_intake(
    conn: &mut AnyConnection,
    day: NaiveDate,
    intake_org_id: i64,
    item_code: &str,
    approved_at_window: bool,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO case_figures_daily (day, intake_org_id, item_code, accepted, approved_at_window) \
         VALUES ($1, $2, $3, 1, $4) ON CONFLICT (day, intake_org_id, item_code) DO UPDATE SET \
         accepted = case_figures_daily.accepted + 1, \
         approved_at_window = case_figures_daily.approved_at_window + $4",
    )
    .bind(day.to_string())
    .bind(intake_org_id)
    .bind(item_code)
    .bind(i64::from(approved_at_window))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The intake figures of a period inside a scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IntakeFigures {
    /// Cases accepted (taken in, not refused).
    pub accepted: i64,
    /// Of those, approved at the window (即审即办).
    pub approved_at_window: i64,
}

/// Sums the daily rows of `[from, to]` for the organisations under `scope` (and one item, if
/// given). Rows: days × organisations × items of the period, whatever the archive holds.
pub async fn intake(
    conn: &mut AnyConnection,
    scope: &OrgPath,
    from: NaiveDate,
    to: NaiveDate,
    item_code: Option<&str>,
) -> Result<IntakeFigures> {
    let row = sqlx::query(
        // PostgreSQL sums BIGINT as NUMERIC: cast back, on both backends alike.
        "SELECT CAST(COALESCE(SUM(f.accepted), 0) AS BIGINT) AS accepted, \
         CAST(COALESCE(SUM(f.approved_at_window), 0) AS BIGINT) AS approved_at_window \
         FROM case_figures_daily f JOIN orgs o ON o.id = f.intake_org_id \
         WHERE f.day >= $1 AND f.day <= $2 AND o.path >= $3 AND o.path < $4 \
         AND ($5 = '' OR f.item_code = $5)",
    )
    .bind(from.to_string())
    .bind(to.to_string())
    .bind(scope.as_str())
    .bind(path_upper_bound(scope.as_str()))
    .bind(item_code.unwrap_or(""))
    .fetch_one(&mut *conn)
    .await?;
    Ok(IntakeFigures {
        accepted: row.get("accepted"),
        approved_at_window: row.get("approved_at_window"),
    })
}
