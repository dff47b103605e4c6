//! The grid pages: the street dispatcher's board (new events, the warnings, a map of the
//! street's grid polygons with the events on it — an SVG drawn here from the stored
//! polygons, no tile server), and one event with its whole chain (一事件一链) and the forms
//! of the acts the caller can take now. Small pages without scripts, for a slow connection.

use super::events::{actors, detail, get_event, take_act};
use crate::chrome::Chrome;
use crate::context::PageUser;
use crate::error::{AppError, PageResult};
use crate::form::FormData;
use crate::pages::{escape, render, render_form};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use onewindow_domain::access::Permission;
use onewindow_domain::grid::{self as rules, Act, State as EvState};
use onewindow_store::clock::format_local;
use onewindow_store::grid::events::{self as store, ChainEntry, Event, Filter};
use onewindow_store::grid::geometry::{self, StoredGrid};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/grid", get(board_page))
        .route("/grid/events/{id}", get(event_page))
        .route("/grid/events/{id}/act", post(act_form))
}

/// The map: the street's grids as polygons, events as dots (red: waiting for dispatch),
/// north up, in a 600-unit-wide box.
pub fn map_svg(grids: &[StoredGrid], events: &[Event]) -> String {
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for g in grids {
        b = [
            b[0].min(g.bbox[0]),
            b[1].min(g.bbox[1]),
            b[2].max(g.bbox[2]),
            b[3].max(g.bbox[3]),
        ];
    }
    for e in events {
        if let (Some(x), Some(y)) = (e.lon, e.lat) {
            b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
        }
    }
    if b[0] > b[2] {
        return String::new();
    }
    let (w, h) = ((b[2] - b[0]).max(1e-6), (b[3] - b[1]).max(1e-6));
    let scale = 560.0 / w;
    let height = (h * scale + 40.0).round();
    let pt = |x: f64, y: f64| (20.0 + (x - b[0]) * scale, 20.0 + (b[3] - y) * scale);
    let mut out = format!(
        "<svg class=\"grid-map\" viewBox=\"0 0 600 {height}\" role=\"img\" aria-label=\"网格地图\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for g in grids {
        let Some(area) = g.to_grid() else { continue };
        for poly in &area.area.0 {
            let ring: Vec<String> = poly
                .exterior()
                .coords()
                .map(|c| {
                    let (x, y) = pt(c.x, c.y);
                    format!("{x:.1},{y:.1}")
                })
                .collect();
            out.push_str(&format!(
                "<polygon points=\"{}\" fill=\"#eef4fb\" stroke=\"#3a6ea5\" stroke-width=\"1.5\"><title>{}</title></polygon>",
                ring.join(" "),
                escape(&g.name)
            ));
        }
        let (x, y) = pt((g.bbox[0] + g.bbox[2]) / 2.0, (g.bbox[1] + g.bbox[3]) / 2.0);
        out.push_str(&format!(
            "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#3a6ea5\">{}</text>",
            escape(&g.name)
        ));
    }
    for e in events {
        let (Some(lon), Some(lat)) = (e.lon, e.lat) else {
            continue;
        };
        let (x, y) = pt(lon, lat);
        let fill = match e.state {
            EvState::Reported => "#c0392b",
            EvState::Closed | EvState::Confirmed | EvState::RejectedDuplicate => "#7f8c8d",
            _ => "#e67e22",
        };
        out.push_str(&format!(
            "<a href=\"/grid/events/{}\"><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"6\" fill=\"{fill}\" stroke=\"#fff\"><title>{}：{}（{}）</title></circle></a>",
            e.id,
            e.id,
            escape(&e.category_name),
            e.state_label
        ));
    }
    out.push_str("</svg>");
    out
}

pub struct Row {
    pub e: Event,
    pub reported: String,
}

#[derive(Template)]
#[template(path = "grid_board.html")]
struct BoardPage {
    chrome: Chrome,
    map: String,
    new: Vec<Row>,
    outside: Vec<Row>,
    open: Vec<Row>,
}

async fn board_page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    p.authorize(Permission::ViewGridEvents, &p.user.org_path)?;
    let pool = state.store.reader();
    let events = store::list(
        pool,
        &p.user.org_path,
        &Filter {
            limit: 300,
            ..Filter::default()
        },
    )
    .await?;
    let street = super::events::street_of(&state, &p.user.org_path).await?;
    let grids = match street {
        Some(s) => geometry::of_street(pool, s).await?,
        None => vec![],
    };
    let map = map_svg(&grids, &events);
    let row = |e: &Event| Row {
        e: e.clone(),
        reported: format_local(e.reported_at),
    };
    render(&BoardPage {
        chrome: Chrome::new(&state, &ctx, "网格事件"),
        map,
        new: events
            .iter()
            .filter(|e| e.state == EvState::Reported)
            .map(row)
            .collect(),
        outside: events.iter().filter(|e| e.outside_grids).map(row).collect(),
        open: events
            .iter()
            .filter(|e| !e.state.is_final() && e.state != EvState::Reported)
            .map(row)
            .collect(),
    })
}

pub struct ChainRow {
    pub c: ChainEntry,
    pub at: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "grid_event.html")]
struct EventPage {
    chrome: Chrome,
    e: Event,
    reported: String,
    chain: Vec<ChainRow>,
    acts: Vec<String>,
    departments: Vec<(i64, String)>,
    warnings: Vec<String>,
    duplicates: Vec<(i64, String)>,
    error: String,
}

async fn event_view(
    state: &AppState,
    p: &crate::context::Principal,
    ctx: &crate::context::Ctx,
    id: i64,
    error: String,
) -> Result<EventPage, AppError> {
    let e = get_event(state, p, id).await?;
    let d = detail(state, p, id).await?;
    let chain = store::chain(state.store.reader(), id).await?;
    let acts: Vec<String> = d["acts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let departments = onewindow_store::orgs::departments(state.store.reader())
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let warnings = d["warnings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let duplicates = d["possible_duplicates"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| {
                    (
                        v["id"].as_i64().unwrap_or(0),
                        format!(
                            "事件{}（相距{}米）：{}",
                            v["id"],
                            v["metres"],
                            v["description"].as_str().unwrap_or("")
                        ),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let _ = actors(p, &e);
    Ok(EventPage {
        chrome: Chrome::new(state, ctx, format!("网格事件{id}")),
        reported: format_local(e.reported_at),
        chain: chain
            .into_iter()
            .map(|c| {
                let note = ["reply", "reason", "note", "description"]
                    .iter()
                    .find_map(|k| c.detail.get(*k).and_then(|v| v.as_str()))
                    .unwrap_or("")
                    .to_string();
                ChainRow {
                    at: format_local(c.at),
                    note,
                    c,
                }
            })
            .collect(),
        e,
        acts,
        departments,
        warnings,
        duplicates,
        error,
    })
}

async fn event_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
) -> PageResult {
    render(&event_view(&state, &p, &ctx, id, String::new()).await?)
}

fn act_from(form: &FormData) -> Result<Act, AppError> {
    let id = |name: &str| {
        form.get(name)
            .trim()
            .parse::<i64>()
            .map_err(|_| AppError::invalid(name, "required", "请选择"))
    };
    Ok(match rules::ActKind::parse(form.get("act")) {
        Some(rules::ActKind::Dispatch) => Act::Dispatch {
            department: id("department")?,
            co: form
                .all("co")
                .iter()
                .filter_map(|c| c.trim().parse().ok())
                .collect(),
        },
        Some(rules::ActKind::CommunityTakes) => Act::CommunityTakes {
            enforcement: form.get("enforcement") == "1",
            note: form.get("note").to_string(),
        },
        Some(rules::ActKind::Sign) => Act::Sign,
        Some(rules::ActKind::Start) => Act::Start,
        Some(rules::ActKind::Handle) => Act::Handle {
            reply: form.get("reply").to_string(),
            after_photos: 0,
        },
        Some(rules::ActKind::Confirm) => Act::Confirm,
        Some(rules::ActKind::Reopen) => Act::Reopen {
            reason: form.get("reason").to_string(),
        },
        Some(rules::ActKind::Close) => Act::Close,
        Some(rules::ActKind::RejectDuplicate) => Act::RejectDuplicate {
            original: id("original")?,
        },
        Some(rules::ActKind::NotOurs) => Act::NotOurs {
            reason: form.get("reason").to_string(),
        },
        None => return Err(AppError::invalid("act", "unknown_act", "未知的操作")),
    })
}

async fn act_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let version = form.get("version").trim().parse().ok();
    let done = match act_from(&form) {
        Ok(act) => take_act(&state, &p, id, version, &act).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => Ok(Redirect::to(&format!("/grid/events/{id}")).into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict { .. } | AppError::NotYours { .. })) => {
            let message = match &e {
                AppError::Invalid(f) => {
                    f.0.iter()
                        .map(|x| x.message.clone())
                        .collect::<Vec<_>>()
                        .join("；")
                }
                other => other.to_string(),
            };
            render_form(&event_view(&state, &p, &ctx, id, message).await?, true)
        }
        Err(e) => Err(e.into()),
    }
}
