//! The places a result can be handed out at (通收通办): the halls and community stations
//! inside an organisation's tree, for the intake form's choice of pick-up place.

use crate::{path_upper_bound, Result};
use onewindow_domain::org::{OrgKind, OrgPath};
use sqlx::{Any, Executor, Row};

/// A hall or station, as the intake form offers it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HandoutPlace {
    pub id: i64,
    pub name: String,
    pub kind: OrgKind,
    pub path: OrgPath,
}

/// The most places one form lists (a district has a few dozen streets and communities).
pub const MAX_PLACES: i64 = 500;

/// The halls and stations inside `within` (itself included), in tree order: the
/// organisations that can hand results out (`domain::places::hands_out`).
pub async fn handout_places<'c, E: Executor<'c, Database = Any>>(
    e: E,
    within: &OrgPath,
) -> Result<Vec<HandoutPlace>> {
    let rows = sqlx::query(
        "SELECT id, name, kind, path FROM orgs WHERE path >= $1 AND path < $2 \
         AND kind IN ('city', 'district', 'street', 'community') ORDER BY path LIMIT $3",
    )
    .bind(within.as_str())
    .bind(path_upper_bound(within.as_str()))
    .bind(MAX_PLACES)
    .fetch_all(e)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let kind = OrgKind::parse(&r.get::<String, _>("kind"))?;
            onewindow_domain::places::hands_out(kind).then(|| HandoutPlace {
                id: r.get("id"),
                name: r.get("name"),
                kind,
                path: OrgPath::from_stored(r.get("path")),
            })
        })
        .collect())
}
