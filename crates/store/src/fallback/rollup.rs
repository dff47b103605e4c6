//! The fallback window's daily rollup (`fallback_rollup`): one counter per dimension, day
//! and metric, bumped in the transaction of the act that settles it, so a figure never
//! counts something that was not kept and no read scans the cases.

use crate::Result;
use onewindow_domain::fallback::figures::Metric;
use sqlx::AnyConnection;

/// What a counter is kept for: the window's organisation, or a department.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    Org(i64),
    Dept(i64),
}

impl Dim {
    fn parts(self) -> (&'static str, i64) {
        match self {
            Dim::Org(id) => ("org", id),
            Dim::Dept(id) => ("dept", id),
        }
    }
}

/// Adds `n` to `metric` of `dim` on `day` (YYYY-MM-DD, Beijing).
pub async fn bump(
    conn: &mut AnyConnection,
    dim: Dim,
    day: &str,
    metric: Metric,
    n: i64,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let (dim, id) = dim.parts();
    sqlx::query(
        "INSERT INTO fallback_rollup (dim, dim_id, day, metric, n) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (dim, dim_id, day, metric) DO UPDATE SET n = fallback_rollup.n + $5",
    )
    .bind(dim)
    .bind(id)
    .bind(day)
    .bind(metric.as_str())
    .bind(n)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
