//! The department suggestion's model: trained from the stored history (requests with a
//! category), kept as JSON in `complaint_models`, read once per model into memory.

use crate::{Result, StoreError};
use onewindow_domain::complaints::suggest::{Model, Suggestion};
use onewindow_domain::fallback::library::tokens;
use sqlx::{AnyConnection, AnyPool, Row};
use std::sync::{Arc, Mutex};

/// The most recent requests a training reads (the history's recent shape matters most).
pub const TRAINING_LIMIT: i64 = 100_000;

/// Trains a model on the categorised requests (newest first, at most [`TRAINING_LIMIT`]),
/// excluding ids in `hold_out` (the benchmark measures on those), and stores it.
pub async fn train(conn: &mut AnyConnection, at: i64, hold_out: &[i64]) -> Result<(i64, Model)> {
    let rows = sqlx::query(
        "SELECT c.id, k.code, c.content FROM complaints c JOIN complaint_categories k ON \
         k.id = c.category_id WHERE c.original_id IS NULL ORDER BY c.id DESC LIMIT $1",
    )
    .bind(TRAINING_LIMIT)
    .fetch_all(&mut *conn)
    .await?;
    let held: std::collections::HashSet<i64> = hold_out.iter().copied().collect();
    let history: Vec<(String, Vec<String>)> = rows
        .iter()
        .filter(|r| !held.contains(&r.get::<i64, _>("id")))
        .map(|r| {
            (
                r.get::<String, _>("code"),
                tokens(&r.get::<String, _>("content")),
            )
        })
        .collect();
    let model = Model::train(history.iter().map(|(c, t)| (c.as_str(), t.clone())));
    let text = serde_json::to_string(&model).map_err(|e| StoreError::Config(e.to_string()))?;
    let id: i64 = sqlx::query(
        "INSERT INTO complaint_models (trained_at, requests, model) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(at)
    .bind(model.trained_on() as i64)
    .bind(text)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    Ok((id, model))
}

/// The model last read, per application (a process may serve several databases: tests).
#[derive(Debug, Default)]
pub struct ModelCache(Mutex<Option<(i64, Arc<Model>)>>);

/// The newest stored model (none before the first training), from memory when unchanged.
pub async fn current(pool: &AnyPool, cache: &ModelCache) -> Result<Option<Arc<Model>>> {
    let newest: Option<i64> = sqlx::query("SELECT MAX(id) AS id FROM complaint_models")
        .fetch_one(pool)
        .await?
        .get("id");
    let Some(newest) = newest else {
        return Ok(None);
    };
    if let Some((id, m)) = cache.0.lock().expect("model cache").as_ref() {
        if *id == newest {
            return Ok(Some(m.clone()));
        }
    }
    let text: String = sqlx::query("SELECT model FROM complaint_models WHERE id = $1")
        .bind(newest)
        .fetch_one(pool)
        .await?
        .get("model");
    let model: Model =
        serde_json::from_str(&text).map_err(|e| StoreError::Config(e.to_string()))?;
    let model = Arc::new(model);
    *cache.0.lock().expect("model cache") = Some((newest, model.clone()));
    Ok(Some(model))
}

/// The top three categories for `text` with their shares.
pub async fn suggest(pool: &AnyPool, cache: &ModelCache, text: &str) -> Result<Vec<Suggestion>> {
    Ok(match current(pool, cache).await? {
        Some(m) => m.rank(&tokens(text), 3),
        None => Vec::new(),
    })
}
