//! The grid pages: the street dispatcher's board (new events, the warnings, a map of the
//! street's grid polygons with the events on it — an SVG drawn here from the stored
//! polygons, no tile server), one event with its whole chain (一事件一链), its photos and
//! the forms of the acts the caller can take now (the handling's reply and after-photos in
//! one multipart form), and the grid worker's phone pages: the report form `/grid/report`
//! (category with its help, description, the place by the browser's geolocation, a pick on
//! the street's map or an address, camera photos — one multipart request, one transaction)
//! and `/grid/mine` (my reports, those waiting for my confirmation first). Small pages for
//! a slow connection; the only script is `/static/grid.js` (about 2 KB: the geolocation
//! button and the map pick), and every form works without it.

use super::events::{detail, get_event, report_with_photos, take_act_with_photos, ReportInput};
use crate::chrome::Chrome;
use crate::context::{PageUser, Principal};
use crate::error::{AppError, PageResult};
use crate::form::FormData;
use crate::pages::{escape, render, render_form};
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use onewindow_domain::access::{Permission, Role};
use onewindow_domain::grid::photo::size_text;
use onewindow_domain::grid::{self as rules, Act, Datatype, State as EvState};
use onewindow_domain::validation::FieldError;
use onewindow_store::clock::format_local;
use onewindow_store::grid::categories::{self, StoredCategory};
use onewindow_store::grid::events::{self as store, ChainEntry, Event, Filter, NewPhoto};
use onewindow_store::grid::geometry::{self, StoredGrid};
use serde::Deserialize;
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/grid", get(board_page))
        .route("/grid/report", get(report_page).post(report_form))
        .route("/grid/mine", get(mine_page))
        .route("/grid/events/{id}", get(event_page))
        .route("/grid/events/{id}/act", post(act_form))
        .route("/static/grid.js", get(grid_js))
}

async fn grid_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/grid.js"),
    )
}

/// The map: the street's grids as polygons, events as dots (red: waiting for dispatch),
/// north up, in a 600-unit-wide box. The projection is on the `<svg>` for the report
/// page's map pick (`static/grid.js`): a point (x, y) of the viewBox is
/// lon = `data-lon0` + (x − `data-pad`) / `data-scale`, lat = `data-lat1` − (y − `data-pad`) / `data-scale`.
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
        "<svg class=\"grid-map\" viewBox=\"0 0 600 {height}\" role=\"img\" aria-label=\"网格地图\" \
         data-lon0=\"{}\" data-lat1=\"{}\" data-scale=\"{scale}\" data-pad=\"20\" xmlns=\"http://www.w3.org/2000/svg\">",
        b[0], b[3]
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
    /// The step's limit in words, and whether it has passed.
    pub due: String,
    pub overdue: bool,
    /// Open events of the same category nearby (waiting ones only).
    pub duplicates: usize,
    /// The category's usual department, preselected in the board's dispatch.
    pub default_department: Option<i64>,
}

#[derive(Template)]
#[template(path = "grid_board.html")]
struct BoardPage {
    chrome: Chrome,
    map: String,
    new: Vec<Row>,
    outside: Vec<Row>,
    open: Vec<Row>,
    /// Where the board's one-action dispatch may send an event.
    departments: Vec<(i64, String)>,
    may_dispatch: bool,
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
    let now = state.now();
    let defaults: std::collections::HashMap<i64, Option<i64>> = categories::list(pool)
        .await?
        .into_iter()
        .map(|c| (c.id, c.category.default_department))
        .collect();
    let row = |e: &Event| {
        let (due, overdue) = super::events::due_of(e, now);
        Row {
            e: e.clone(),
            reported: format_local(e.reported_at),
            due,
            overdue,
            duplicates: 0,
            default_department: defaults.get(&e.category_id).copied().flatten(),
        }
    };
    // The waiting events' duplicate warnings: open events of the same category nearby.
    let (metres, _) = store::settings(pool).await?;
    let mut new = vec![];
    let mut conn = pool.acquire().await.map_err(AppError::from)?;
    for e in events.iter().filter(|e| e.state == EvState::Reported) {
        let mut r = row(e);
        if let (Some(lon), Some(lat)) = (e.lon, e.lat) {
            r.duplicates =
                store::duplicates_near(&mut conn, e.category_id, (lon, lat), metres, Some(e.id))
                    .await?
                    .len();
        }
        new.push(r);
    }
    drop(conn);
    let departments = match street {
        Some(s) => {
            let street = onewindow_store::orgs::get(pool, s).await?;
            super::events::dispatch_targets(&state, &street.path).await?
        }
        None => vec![],
    };
    let may_dispatch = street.is_some()
        && p.authorize(Permission::DispatchGridEvents, &p.user.org_path)
            .is_ok();
    render(&BoardPage {
        chrome: Chrome::new(&state, &ctx, "网格事件"),
        map,
        new,
        outside: events.iter().filter(|e| e.outside_grids).map(row).collect(),
        open: events
            .iter()
            .filter(|e| !e.state.is_final() && e.state != EvState::Reported)
            .map(row)
            .collect(),
        departments,
        may_dispatch,
    })
}

pub struct ChainRow {
    pub c: ChainEntry,
    pub at: String,
    pub note: String,
    /// "已上报 → 已派单" in the states' words; empty when the state did not change.
    pub states: String,
}

fn state_words(s: &str) -> &str {
    match EvState::parse(s) {
        Some(st) => st.label(),
        None => s,
    }
}

/// The category's extra fields as answered: (label, values in words).
fn answers(e: &Event, cat: Option<&StoredCategory>) -> Vec<(String, String)> {
    // Stored as the domain's `Answer`s: `[{"code": …, "values": […]}]`.
    let Some(given) = e.attributes.as_array() else {
        return vec![];
    };
    given
        .iter()
        .filter_map(|a| {
            let code = a["code"].as_str()?.to_string();
            let values: Vec<String> = a["values"]
                .as_array()?
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            Some((code, values))
        })
        .map(|(code, values)| {
            let def = cat.and_then(|c| c.category.attributes.iter().find(|d| d.code == code));
            let label = def
                .map(|d| d.description.clone())
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| code.clone());
            let values: Vec<String> = values
                .iter()
                .map(|v| {
                    def.and_then(|d| d.values.iter().find(|o| &o.key == v))
                        .map_or_else(|| v.clone(), |o| o.name.clone())
                })
                .collect();
            (label, values.join("、"))
        })
        .collect()
}

/// A photo on the event page: a thumbnail linking to the full image, both the staff route
/// (`/api/v1/grid/photos/{id}`, the session's reader of the event, the GPS-free copy).
pub struct PhotoRow {
    pub id: i64,
    pub n: usize,
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
    /// The category's usual department, preselected.
    default_department: Option<i64>,
    /// The step's limit (empty once the event is final), and whether it has passed.
    due: String,
    overdue: bool,
    warnings: Vec<String>,
    duplicates: Vec<(i64, String)>,
    report_photos: Vec<PhotoRow>,
    after_photos: Vec<PhotoRow>,
    answers: Vec<(String, String)>,
    photo_limits: String,
    just_reported: bool,
    error: String,
}

/// What a photo field says about the limits: types, the size of one photo (the setting)
/// and of one request (the upload limit).
async fn photo_limits(state: &AppState) -> Result<String, AppError> {
    let (_, max) = store::settings(state.store.reader()).await?;
    Ok(format!(
        "JPEG、PNG或WebP格式，每张不超过{}，一次合计不超过{}",
        size_text(max),
        size_text(crate::form::MAX_UPLOAD_BYTES)
    ))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

async fn event_view(
    state: &AppState,
    p: &Principal,
    ctx: &crate::context::Ctx,
    id: i64,
    error: String,
) -> Result<EventPage, AppError> {
    let e = get_event(state, p, id).await?;
    let d = detail(state, p, id).await?;
    let chain = store::chain(state.store.reader(), id).await?;
    let acts = strings(&d["acts"]);
    let departments = super::events::dispatch_targets(state, &e.street_path).await?;
    let warnings = strings(&d["warnings"]);
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
    let photos = store::photos(state.store.reader(), id).await?;
    let rows = |phase: &str| -> Vec<PhotoRow> {
        photos
            .iter()
            .filter(|x| x.phase == phase)
            .enumerate()
            .map(|(i, x)| PhotoRow { id: x.id, n: i + 1 })
            .collect()
    };
    let cat = categories::get(state.store.reader(), e.category_id)
        .await
        .ok();
    let (due, overdue) = if e.state.is_final() {
        (String::new(), false)
    } else {
        super::events::due_of(&e, state.now())
    };
    Ok(EventPage {
        due,
        overdue,
        default_department: cat.as_ref().and_then(|c| c.category.default_department),
        answers: answers(&e, cat.as_ref()),
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
                let states = if c.from_state == c.to_state {
                    String::new()
                } else {
                    format!(
                        "{} → {}",
                        state_words(&c.from_state),
                        state_words(&c.to_state)
                    )
                };
                ChainRow {
                    at: format_local(c.at),
                    note,
                    states,
                    c,
                }
            })
            .collect(),
        e,
        acts,
        departments,
        warnings,
        duplicates,
        report_photos: rows("report"),
        after_photos: rows("after"),
        photo_limits: photo_limits(state).await?,
        just_reported: ctx.query.split('&').any(|q| q == "reported=1"),
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

/// A posted form: its text fields (in order, repeats kept) and the chosen photos (field
/// `photos`; an empty file input sends an empty part, skipped). Multipart or urlencoded;
/// the body was read (and bounded) by the CSRF layer already.
struct Posted {
    form: FormData,
    photos: Vec<NewPhoto>,
}

async fn read_posted(headers: &HeaderMap, body: Bytes) -> Result<Posted, AppError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("multipart/form-data") {
        return Ok(Posted {
            form: FormData::parse(&body),
            photos: vec![],
        });
    }
    let bad = || AppError::BadRequest("上传内容无法读取".into());
    let boundary = multer::parse_boundary(content_type).map_err(|_| bad())?;
    let stream = tokio_stream::once(Ok::<_, std::convert::Infallible>(body));
    let mut multipart = multer::Multipart::new(stream, boundary);
    let (mut fields, mut photos) = (vec![], vec![]);
    while let Some(field) = multipart.next_field().await.map_err(|_| bad())? {
        let name = field.name().unwrap_or_default().to_string();
        let file = field.file_name().is_some();
        let declared = field
            .content_type()
            .map(|m| m.to_string())
            .unwrap_or_default();
        let bytes = field.bytes().await.map_err(|_| bad())?;
        if !file {
            fields.push((name, String::from_utf8_lossy(&bytes).into_owned()));
        } else if name == "photos" && !bytes.is_empty() {
            photos.push(NewPhoto {
                bytes: bytes.to_vec(),
                declared,
            });
        }
    }
    Ok(Posted {
        form: FormData(fields),
        photos,
    })
}

/// A photo's error names the photo field and the limits (a wrong type as much as a size).
fn photo_message(e: &FieldError, limits: &str) -> String {
    let n = e
        .field
        .strip_prefix("photos[")
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|i| i.parse::<usize>().ok())
        .map_or(String::new(), |i| format!("第{}张照片：", i + 1));
    format!("{n}{}（可上传{limits}）", e.message)
}

async fn act_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let posted = read_posted(&headers, body).await?;
    let form = &posted.form;
    let version = form.get("version").trim().parse().ok();
    let done = match act_from(form) {
        // Only a handling takes photos (its after-photos).
        Ok(act @ Act::Handle { .. }) => {
            take_act_with_photos(&state, &p, id, version, &act, &posted.photos).await
        }
        Ok(act) => take_act_with_photos(&state, &p, id, version, &act, &[]).await,
        Err(e) => Err(e),
    };
    match done {
        // The board's one-action dispatch goes back to the board.
        Ok(_) if form.get("back") == "board" => Ok(Redirect::to("/grid#new").into_response()),
        Ok(_) => Ok(Redirect::to(&format!("/grid/events/{id}")).into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict { .. } | AppError::NotYours { .. })) => {
            let limits = photo_limits(&state).await?;
            let message = match &e {
                AppError::Invalid(f) => {
                    f.0.iter()
                        .map(|x| {
                            if x.field.starts_with("photos") {
                                photo_message(x, &limits)
                            } else {
                                x.message.clone()
                            }
                        })
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

// ---- the grid worker's report form ----

/// One option of a list attribute, as the form shows it.
pub struct OptionView {
    pub key: String,
    pub name: String,
    pub chosen: bool,
}

/// One extra field of a category (an Open311 attribute) as a form field of its datatype.
pub struct AttrView {
    /// The form's name: `attr.<category id>.<code>`, so two categories' codes never meet.
    pub name: String,
    pub label: String,
    pub hint: String,
    /// `string`, `number`, `datetime`, `text`, `singlevaluelist`, `multivaluelist`, or
    /// `info` (Open311's `variable: false`: a line to read, nothing asked).
    pub kind: &'static str,
    pub required: bool,
    pub value: String,
    pub options: Vec<OptionView>,
    pub error: Option<String>,
}

pub struct CategoryView {
    pub id: i64,
    pub name: String,
    pub help: String,
    pub chosen: bool,
    pub attrs: Vec<AttrView>,
}

#[derive(Template)]
#[template(path = "grid_report.html")]
struct ReportPage {
    chrome: Chrome,
    categories: Vec<CategoryView>,
    map: String,
    form: FormData,
    errors: Vec<FieldError>,
    photo_limits: String,
    /// A grid worker reports their own finding; other staff report for a resident.
    worker: bool,
    /// Photos came with a refused report: a browser never refills a file input.
    reselect: bool,
}

impl ReportPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    fn is(&self, name: &str, value: &str) -> bool {
        self.form.get(name) == value
    }
}

/// `<input type=datetime-local>` sends `2026-12-03T09:30` (local, no offset); Open311's
/// datetime wants ISO 8601 with the offset: the platform's +08:00.
fn local_datetime(v: &str) -> String {
    let v = v.trim();
    let plain = chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M").is_ok()
        || chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S").is_ok();
    match (plain, v.len()) {
        (true, 16) => format!("{v}:00+08:00"),
        (true, _) => format!("{v}+08:00"),
        _ => v.to_string(),
    }
}

fn category_views(
    cats: &[StoredCategory],
    form: &FormData,
    errors: &[FieldError],
) -> Vec<CategoryView> {
    let chosen = form.get("category_id");
    cats.iter()
        .map(|c| {
            let is_chosen = chosen == c.id.to_string();
            let mut defs: Vec<_> = c.category.attributes.iter().collect();
            defs.sort_by_key(|d| d.order);
            let attrs = defs
                .into_iter()
                .map(|d| {
                    let name = format!("attr.{}.{}", c.id, d.code);
                    let given = form.all(&name);
                    let kind = if !d.variable {
                        "info"
                    } else {
                        d.datatype.as_str()
                    };
                    AttrView {
                        label: if d.description.is_empty() {
                            d.code.clone()
                        } else {
                            d.description.clone()
                        },
                        hint: d.datatype_description.clone(),
                        kind,
                        required: d.required,
                        value: given.first().map(|v| v.to_string()).unwrap_or_default(),
                        options: d
                            .values
                            .iter()
                            .map(|o| OptionView {
                                key: o.key.clone(),
                                name: o.name.clone(),
                                chosen: given.contains(&o.key.as_str()),
                            })
                            .collect(),
                        error: errors
                            .iter()
                            .find(|e| is_chosen && e.field == format!("attribute[{}]", d.code))
                            .map(|e| e.message.clone()),
                        name,
                    }
                })
                .collect();
            CategoryView {
                id: c.id,
                name: c.category.name.clone(),
                help: c.category.help.clone(),
                chosen: is_chosen,
                attrs,
            }
        })
        .collect()
}

async fn report_view(
    state: &AppState,
    p: &Principal,
    ctx: &crate::context::Ctx,
    form: FormData,
    errors: Vec<FieldError>,
    reselect: bool,
) -> Result<ReportPage, AppError> {
    let pool = state.store.reader();
    let cats: Vec<StoredCategory> = categories::list(pool)
        .await?
        .into_iter()
        .filter(|c| c.active)
        .collect();
    let grids = match super::events::street_of(state, &p.user.org_path).await? {
        Some(s) => geometry::of_street(pool, s).await?,
        None => vec![],
    };
    Ok(ReportPage {
        chrome: Chrome::new(state, ctx, "上报事件"),
        categories: category_views(&cats, &form, &errors),
        map: map_svg(&grids, &[]),
        form,
        errors,
        photo_limits: photo_limits(state).await?,
        worker: p.user.roles.contains(&Role::GridWorker),
        reselect,
    })
}

async fn report_page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    p.authorize(Permission::ReportGridEvents, &p.user.org_path)?;
    render_form(
        &report_view(&state, &p, &ctx, FormData::default(), vec![], false).await?,
        false,
    )
}

/// The report's input from the form, or the errors of what cannot even be read (a
/// coordinate that is not a number).
fn report_input(form: &FormData, cats: &[StoredCategory]) -> Result<ReportInput, Vec<FieldError>> {
    let mut errors = vec![];
    let mut coord = |name: &str, label: &str| -> Option<f64> {
        let v = form.get(name).trim();
        if v.is_empty() {
            return None;
        }
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() => Some(x),
            _ => {
                errors.push(FieldError {
                    field: name.into(),
                    code: "not_a_number".into(),
                    message: format!("{label}须为数字，如116.3918"),
                });
                None
            }
        }
    };
    let lon = coord("lon", "经度");
    let lat = coord("lat", "纬度");
    if errors.is_empty() && lon.is_some() != lat.is_some() {
        errors.push(FieldError {
            field: "lon".into(),
            code: "incomplete".into(),
            message: "请同时填写经度和纬度，或都不填、只填地址".into(),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let category_id = form.get("category_id").trim().parse::<i64>().unwrap_or(0);
    let mut attributes = serde_json::Map::new();
    if let Some(cat) = cats.iter().find(|c| c.id == category_id) {
        let prefix = format!("attr.{category_id}.");
        for (k, v) in &form.0 {
            let Some(code) = k.strip_prefix(&prefix) else {
                continue;
            };
            let def = cat.category.attributes.iter().find(|d| d.code == code);
            let v = match def.map(|d| d.datatype) {
                Some(Datatype::Datetime) => local_datetime(v),
                _ => v.clone(),
            };
            match attributes.get_mut(code) {
                Some(Value::Array(a)) => a.push(Value::String(v)),
                Some(old) => *old = Value::Array(vec![old.clone(), Value::String(v)]),
                None => {
                    if def.is_some_and(|d| d.datatype == Datatype::MultiValueList) {
                        attributes.insert(code.into(), Value::Array(vec![Value::String(v)]));
                    } else {
                        attributes.insert(code.into(), Value::String(v));
                    }
                }
            }
        }
    }
    Ok(ReportInput {
        category_id,
        description: form.get("description").to_string(),
        lon,
        lat,
        address: form.get("address").to_string(),
        attributes,
        reporter_name: form.get("reporter_name").to_string(),
        reporter_contact: form.get("reporter_contact").to_string(),
        public: Some(!form.checked("private")),
    })
}

/// The report: the event and its photos in one transaction, then its page; refused, the
/// form again with each error beside its field and everything typed kept (a browser never
/// refills a file input: the photos are chosen again, and the page says so).
async fn report_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    p.authorize(Permission::ReportGridEvents, &p.user.org_path)?;
    let Posted { form, photos } = read_posted(&headers, body).await?;
    let reselect = !photos.is_empty();
    let cats = categories::list(state.store.reader()).await?;
    let refused = match report_input(&form, &cats) {
        Err(errors) => errors,
        Ok(input) => match report_with_photos(&state, &p, &input, photos).await {
            Ok(done) => {
                return Ok(
                    Redirect::to(&format!("/grid/events/{}?reported=1", done.event.id))
                        .into_response(),
                )
            }
            Err(AppError::Invalid(f)) => f.0,
            Err(e) => return Err(e.into()),
        },
    };
    let limits = photo_limits(&state).await?;
    let errors = refused
        .into_iter()
        .map(|e| {
            if e.field.starts_with("photos") {
                FieldError {
                    message: photo_message(&e, &limits),
                    field: "photos".into(),
                    code: e.code,
                }
            } else if e.field == "lat" {
                FieldError {
                    field: "lon".into(),
                    ..e
                }
            } else {
                e
            }
        })
        .collect();
    render_form(
        &report_view(&state, &p, &ctx, form, errors, reselect).await?,
        true,
    )
}

// ---- my reports ----

pub struct MineRow {
    pub e: Event,
    pub reported: String,
}

#[derive(Template)]
#[template(path = "grid_mine.html")]
struct MinePage {
    chrome: Chrome,
    waiting: Vec<MineRow>,
    others: Vec<MineRow>,
    limit: i64,
    /// The list reached its limit: older reports are not shown.
    capped: bool,
    all: bool,
}

#[derive(Debug, Deserialize)]
struct MineQuery {
    #[serde(default)]
    all: Option<String>,
}

/// The most a list shows; `?all=1` shows up to the store's cap.
const MINE_LIMIT: i64 = 50;

/// My reports, newest first: those waiting for my confirmation first, then the rest, each
/// with the status the public reads. Only events I reported (the store's filter by
/// reporter), whatever my scope.
async fn mine_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Query(q): Query<MineQuery>,
) -> PageResult {
    p.authorize(Permission::ReportGridEvents, &p.user.org_path)?;
    let limit = if q.all.is_some() { 500 } else { MINE_LIMIT };
    let events = store::list(
        state.store.reader(),
        &p.user.org_path,
        &Filter {
            reporter_user_id: Some(p.user.id),
            limit,
            ..Filter::default()
        },
    )
    .await?;
    let capped = events.len() as i64 >= limit;
    let (waiting, others): (Vec<_>, Vec<_>) = events
        .into_iter()
        .map(|e| MineRow {
            reported: format_local(e.reported_at),
            e,
        })
        .partition(|r| r.e.state == EvState::Handled);
    render(&MinePage {
        chrome: Chrome::new(&state, &ctx, "我的上报"),
        waiting,
        others,
        limit,
        capped,
        all: q.all.is_some(),
    })
}
