//! The display screen (叫号屏): the page that hangs on the hall's wall, its snapshot API,
//! its server-sent event stream (a reconnecting screen catches up from the event log), and
//! the relay that puts events committed by other instances on this instance's screens
//! (PostgreSQL LISTEN, through `onewindow_store::queue::EventListener`).
//!
//! Every window of a hall fits on one screen: the page lays them out in a grid whose
//! columns follow the count ([`grid_columns`]), rows sharing the height left under the
//! latest call.

use super::{hall_name, today};
use crate::error::{ApiResult, PageResult};
use crate::pages::render;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use onewindow_store::queue::{self as store_queue, QueueEvent, Snapshot};
use serde::Deserialize;
use serde_json::Value;
use std::convert::Infallible;
use tokio_stream::StreamExt;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/halls/{hall}/display", get(display_page))
        .route("/halls/{hall}/events", get(events_sse))
        .route("/api/v1/queue/halls/{hall}/snapshot", get(snapshot_api))
}

// ---- the page ----

/// Columns of the display's window grid for `n` windows: a near-square grid a little wider
/// than tall (the screen is 16:9 and a window's cell is wider than high), so that every
/// window of a hall is on screen however many there are.
pub fn grid_columns(n: usize) -> usize {
    match n {
        0..=1 => 1,
        2..=4 => 2,
        5..=6 => 3,
        7..=8 => 4,
        9..=12 => 4,
        13..=15 => 5,
        16..=24 => 6,
        // The stylesheet has grids of up to 12 columns; more rows share the height.
        _ => ((n as f64 * 1.6).sqrt().ceil() as usize).min(12),
    }
}

#[derive(Template)]
#[template(path = "display.html")]
struct DisplayPage {
    hall_id: i64,
    hall: String,
    snap: Snapshot,
    columns: usize,
    rows: usize,
}

/// The public display screen of a hall (no login: it hangs on the wall).
async fn display_page(State(state): State<AppState>, Path(hall): Path<i64>) -> PageResult {
    let name = hall_name(&state, hall).await?;
    let snap = store_queue::snapshot(state.store.reader(), hall, today(&state)).await?;
    let columns = grid_columns(snap.windows.len());
    render(&DisplayPage {
        hall_id: hall,
        hall: name,
        rows: snap.windows.len().div_ceil(columns).max(1),
        columns,
        snap,
    })
}

async fn snapshot_api(
    State(state): State<AppState>,
    Path(hall): Path<i64>,
) -> ApiResult<Json<Snapshot>> {
    hall_name(&state, hall).await?;
    Ok(Json(
        store_queue::snapshot(state.store.reader(), hall, today(&state)).await?,
    ))
}

// ---- live events ----

#[derive(Deserialize, Default)]
struct EventsQuery {
    after: Option<i64>,
}

/// Server-sent events for a hall's display. A reconnecting screen sends Last-Event-ID and
/// gets what it missed from the event log before the live stream continues.
async fn events_sse(
    State(state): State<AppState>,
    Path(hall): Path<i64>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    let after: Option<i64> = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or(q.after);
    // Subscribe before reading the backlog, so nothing falls between the two; events in
    // both are sent once.
    let rx = state.queue_events.subscribe();
    let backlog = match after {
        Some(a) => store_queue::events_after(state.store.reader(), hall, a).await?,
        None => vec![],
    };
    // A gap longer than a replay (a screen switched off for hours, or one that lagged far
    // behind) is not replayed call by call: the screen reloads and shows the hall as it is.
    if backlog.len() >= store_queue::REPLAY_LIMIT {
        let reload = Event::default().event("reload").data("{}");
        let stream = tokio_stream::once(Ok::<_, Infallible>(reload));
        return Ok(Sse::new(stream)
            .keep_alive(KeepAlive::default())
            .into_response());
    }
    let sent: std::collections::HashSet<i64> = backlog.iter().map(|e| e.id).collect();
    let live = live_events(rx, hall, after.unwrap_or(i64::MIN), sent);
    // Replayed events update the screen but are marked, so it does not read old calls aloud.
    let stream = tokio_stream::iter(backlog.into_iter().map(|e| (e, true)))
        .chain(live.map(|e| (e, false)))
        .map(|(e, replayed): (QueueEvent, bool)| {
            Ok::<_, Infallible>(
                Event::default()
                    .id(e.id.to_string())
                    .event(e.kind.clone())
                    .data(sse_data(&e, replayed)),
            )
        });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// An event's SSE data: its payload, with `"replayed": true` when sent to catch up.
fn sse_data(e: &QueueEvent, replayed: bool) -> String {
    let mut data = e.payload.clone();
    if replayed {
        if let Some(object) = data.as_object_mut() {
            object.insert("replayed".into(), Value::Bool(true));
        }
    }
    data.to_string()
}

/// The live part of a hall's display stream: its events after `floor` not already `sent`.
///
/// A screen that fell so far behind that the broadcast dropped events for it must not
/// carry on with a gap: the stream ends, the browser's EventSource reconnects with
/// Last-Event-ID, and the backlog read from the event log fills the gap.
fn live_events(
    rx: tokio::sync::broadcast::Receiver<QueueEvent>,
    hall: i64,
    floor: i64,
    sent: std::collections::HashSet<i64>,
) -> impl tokio_stream::Stream<Item = QueueEvent> {
    tokio_stream::wrappers::BroadcastStream::new(rx)
        .take_while(move |msg| match msg {
            Ok(_) => true,
            Err(lagged) => {
                tracing::info!(error = %lagged, hall, "display stream lagged; asking it to reconnect");
                false
            }
        })
        .filter_map(move |msg| match msg {
            Ok(e) if e.hall_id == hall && e.id > floor && !sent.contains(&e.id) => Some(e),
            _ => None,
        })
}

/// On PostgreSQL, every instance listens for queue events committed by any instance and
/// broadcasts them to its own display screens. The first LISTEN is in place before this
/// returns, so an instance serves no screen it could leave without an event; after a
/// dropped connection it listens again and then sends what the log recorded meanwhile
/// (screens skip ids they already have).
pub async fn spawn_pg_relay(state: AppState) {
    let first = store_queue::EventListener::connect(&state.store).await;
    // Where the log stood when listening began: a reconnect catches up from the last id seen.
    let mut last_seen = store_queue::last_event_id(state.store.reader())
        .await
        .unwrap_or(0);
    tokio::spawn(async move {
        let mut connected = Some(first);
        loop {
            let attempt = match connected.take() {
                Some(first) => first,
                None => {
                    let listener = store_queue::EventListener::connect(&state.store).await;
                    if listener.is_ok() {
                        catch_up(&state, &mut last_seen).await;
                    }
                    listener
                }
            };
            match attempt {
                Ok(mut listener) => loop {
                    match listener.next().await {
                        Ok(e) => {
                            last_seen = last_seen.max(e.id);
                            let _ = state.queue_events.send(e);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "queue relay lost its connection; reconnecting");
                            break;
                        }
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "queue relay cannot listen; retrying");
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
}

/// Broadcasts the events committed after `last_seen` while the relay was not listening.
async fn catch_up(state: &AppState, last_seen: &mut i64) {
    match store_queue::events_since(state.store.reader(), *last_seen).await {
        Ok(missed) => {
            for e in missed {
                *last_seen = (*last_seen).max(e.id);
                let _ = state.queue_events.send(e);
            }
        }
        Err(e) => tracing::warn!(error = %e, "queue relay cannot read the events it missed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: i64, hall_id: i64) -> QueueEvent {
        QueueEvent {
            id,
            hall_id,
            at: 0,
            kind: "called".into(),
            payload: json!({}),
        }
    }

    #[tokio::test]
    async fn a_display_gets_its_halls_new_events_once() {
        let (tx, rx) = tokio::sync::broadcast::channel(16);
        let sent = [11].into_iter().collect();
        for e in [
            event(9, 1),
            event(10, 1),
            event(11, 1),
            event(12, 2),
            event(13, 1),
        ] {
            tx.send(e).unwrap();
        }
        drop(tx);
        let ids: Vec<i64> = live_events(rx, 1, 9, sent).map(|e| e.id).collect().await;
        assert_eq!(
            ids,
            vec![10, 13],
            "after the floor, not already sent, this hall only"
        );
    }

    #[tokio::test]
    async fn a_display_that_fell_behind_is_told_to_reconnect() {
        let (tx, rx) = tokio::sync::broadcast::channel(2);
        for id in 1..=5 {
            tx.send(event(id, 1)).unwrap();
        }
        // The sender stays open: without the lag rule the stream would wait for more.
        let ids: Vec<i64> = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            live_events(rx, 1, 0, Default::default())
                .map(|e| e.id)
                .collect::<Vec<_>>(),
        )
        .await
        .expect("the stream ends at the gap instead of carrying on");
        assert!(ids.is_empty(), "nothing after a gap is sent: {ids:?}");
        drop(tx);
    }

    #[test]
    fn the_window_grid_fits_every_count() {
        for n in 1..=120 {
            let cols = grid_columns(n);
            let rows = n.div_ceil(cols);
            assert!(cols * rows >= n, "{n}");
            // Never taller than wide by more than a row, never a long thin strip.
            assert!(rows <= cols + 1, "{n}: {cols}×{rows}");
            assert!(cols <= 2 * rows.max(1) + 1, "{n}: {cols}×{rows}");
        }
        assert_eq!((grid_columns(8), 8usize.div_ceil(grid_columns(8))), (4, 2));
    }
}
