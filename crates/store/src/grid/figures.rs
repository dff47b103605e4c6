//! The grid figures, summed from the daily rollup (`grid_rollup`, written in each act's
//! transaction, by the day the event was reported): per grid, community, street, lead
//! department or category over a period. The rates and their formulas are
//! `domain::grid::Counts`.

use crate::Result;
use onewindow_domain::grid::Counts;
use onewindow_domain::org::OrgPath;
use serde::Serialize;
use sqlx::{AnyPool, Row};

/// What the figures are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Grid,
    Community,
    Street,
    Department,
    Category,
}

impl By {
    pub fn parse(s: &str) -> Option<By> {
        Some(match s {
            "grid" => By::Grid,
            "community" => By::Community,
            "street" => By::Street,
            "department" => By::Department,
            "category" => By::Category,
            _ => return None,
        })
    }

    fn column(self) -> &'static str {
        match self {
            By::Grid => "grid_id",
            By::Community => "community_org_id",
            By::Street => "street_org_id",
            By::Department => "department_id",
            By::Category => "category_id",
        }
    }
}

/// One row: the unit's id (0 for none: outside grids, not dispatched), its name and its
/// counters.
#[derive(Debug, Clone, Serialize)]
pub struct Row_ {
    pub id: i64,
    pub name: String,
    pub counts: Counts,
}

impl By {
    /// The name of a unit of this kind, and the words for "none" (id 0).
    fn names_sql(self) -> &'static str {
        match self {
            By::Grid => "SELECT id, name FROM grid_areas WHERE id = $1",
            By::Category => "SELECT id, name FROM grid_categories WHERE id = $1",
            By::Community | By::Street | By::Department => {
                "SELECT id, name FROM orgs WHERE id = $1"
            }
        }
    }

    fn none_name(self) -> &'static str {
        match self {
            By::Grid | By::Community => "不在任何网格内",
            By::Department => "未派单（含社区直接处置）",
            By::Street | By::Category => "—",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            By::Grid => "grid",
            By::Community => "community",
            By::Street => "street",
            By::Department => "department",
            By::Category => "category",
        }
    }

    /// The unit's name as the figures' first column reads.
    pub fn label(self) -> &'static str {
        match self {
            By::Grid => "网格",
            By::Community => "社区",
            By::Street => "街道",
            By::Department => "牵头部门",
            By::Category => "事件类别",
        }
    }

    pub const ALL: [By; 5] = [
        By::Grid,
        By::Community,
        By::Street,
        By::Department,
        By::Category,
    ];
}

/// Counters per unit of `by` of the streets inside `scope` — or, with `department`, of the
/// events that department leads, wherever they are —, for events reported between `from`
/// and `to` (inclusive, `YYYY-MM-DD`).
pub async fn figures(
    pool: &AnyPool,
    by: By,
    scope: &OrgPath,
    department: Option<i64>,
    from: &str,
    to: &str,
) -> Result<Vec<Row_>> {
    let unit = match department {
        Some(_) => "r.department_id = $3",
        None => "s.path LIKE $3",
    };
    let sql = format!(
        "SELECT r.{col} AS id, r.metric, CAST(SUM(r.n) AS BIGINT) AS n FROM grid_rollup r \
         JOIN orgs s ON s.id = r.street_org_id WHERE r.day >= $1 AND r.day <= $2 \
         AND {unit} GROUP BY r.{col}, r.metric ORDER BY 1",
        col = by.column()
    );
    let q = sqlx::query(&sql).bind(from).bind(to);
    let q = match department {
        Some(d) => q.bind(d),
        None => q.bind(format!("{}%", scope.as_str())),
    };
    let rows = q.fetch_all(pool).await?;
    let mut out: Vec<Row_> = vec![];
    for r in rows {
        let id: i64 = r.get("id");
        let metric: String = r.get("metric");
        let n: i64 = r.get("n");
        if out.last().is_none_or(|l| l.id != id) {
            out.push(Row_ {
                id,
                name: String::new(),
                counts: Counts::default(),
            });
        }
        let c = &mut out.last_mut().expect("pushed").counts;
        match metric.as_str() {
            "reported" => c.reported += n,
            "duplicates" => c.duplicates += n,
            "responded_on_time" => c.responded_on_time += n,
            "closed" => c.closed += n,
            "closed_on_time" => c.closed_on_time += n,
            "cross_department" => c.cross_department += n,
            "cross_department_closed" => c.cross_department_closed += n,
            "handled" => c.handled += n,
            "reopened" => c.reopened += n,
            _ => {}
        }
    }
    // One name per unit of the page (a street has tens of grids; no history read).
    for row in &mut out {
        row.name = match row.id {
            0 => by.none_name().to_string(),
            id => sqlx::query(by.names_sql())
                .bind(id)
                .fetch_optional(pool)
                .await?
                .map(|r| r.get::<String, _>("name"))
                .unwrap_or_else(|| format!("#{id}")),
        };
    }
    Ok(out)
}
