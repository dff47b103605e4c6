//! The rates from the daily rollup (`complaint_rollup`): per department or per category
//! for any period, and the monthly ranking. The formulas are
//! `onewindow_domain::complaints::Counts`; this module only adds the rows up.

use crate::Result;
use chrono::NaiveDate;
use onewindow_domain::complaints::{Counts, Metric};
use onewindow_domain::org::OrgPath;
use serde::Serialize;
use sqlx::{AnyPool, Row};
use std::collections::BTreeMap;

/// What a row of figures is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Department,
    Category,
}

#[derive(Debug, Clone, Serialize)]
pub struct FigureRow {
    pub id: i64,
    pub name: String,
    pub counts: Counts,
}

/// The counters of `[from, to]` (Beijing dates) of requests received inside `scope`, per
/// department (or per category). Reads the rollup only (one row per day and counter).
pub async fn rows(
    pool: &AnyPool,
    scope: &OrgPath,
    by: By,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<FigureRow>> {
    let key = match by {
        By::Department => "r.department_id",
        By::Category => "r.category_id",
    };
    let rows = sqlx::query(&format!(
        "SELECT {key} AS id, r.metric, CAST(SUM(r.n) AS BIGINT) AS n FROM complaint_rollup r JOIN orgs o ON \
         o.id = r.org_id WHERE r.day >= $1 AND r.day <= $2 AND o.path >= $3 AND o.path < $4 \
         GROUP BY {key}, r.metric"
    ))
    .bind(from.to_string())
    .bind(to.to_string())
    .bind(scope.as_str())
    .bind(crate::path_upper_bound(scope.as_str()))
    .fetch_all(pool)
    .await?;
    let mut by_id: BTreeMap<i64, Counts> = BTreeMap::new();
    for r in &rows {
        if let Some(m) = Metric::parse(&r.get::<String, _>("metric")) {
            by_id.entry(r.get("id")).or_default().add(m, r.get("n"));
        }
    }
    let mut out = Vec::new();
    for (id, counts) in by_id {
        let name: Option<String> = match by {
            By::Department => sqlx::query("SELECT name FROM orgs WHERE id = $1"),
            By::Category => sqlx::query("SELECT name FROM complaint_categories WHERE id = $1"),
        }
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| r.get("name"));
        out.push(FigureRow {
            id,
            name: name.unwrap_or_else(|| match by {
                By::Department => "未派单".into(),
                By::Category => "未分类".into(),
            }),
            counts,
        });
    }
    Ok(out)
}

/// The month's departments ranked by the composite score, best first (ties by name).
pub async fn ranking(
    pool: &AnyPool,
    scope: &OrgPath,
    month_start: NaiveDate,
) -> Result<Vec<FigureRow>> {
    let next = month_start
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(month_start);
    let to = next.pred_opt().unwrap_or(month_start);
    let mut rows = rows(pool, scope, By::Department, month_start, to).await?;
    rows.retain(|r| r.counts.dispatched > 0 || r.counts.called_back > 0);
    rows.sort_by(|a, b| {
        b.counts
            .composite_tenths()
            .cmp(&a.counts.composite_tenths())
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(rows)
}
