//! Tickets (取号、叫号): issuing at the guide desk, the kiosk and through the API; the ticket
//! slip; the window list and window control (open, pause, close, call next, recall, start,
//! finish, no-show, re-queue, transfer); a hall's ticket list; waiting figures.
//!
//! The kiosk is a public device: its pages use `kiosk_layout.html` (no staff links, large
//! text) and return to the start after `queue.kiosk_reset_seconds`, so the next person
//! never sees the last one's ticket or error.
//!
//! Operations first (authorize + one transaction, shared by page and API handlers), then
//! page handlers, then API handlers.

use super::{
    appointments, as_field_errors, authorize_hall, authorize_hall_list, authorize_record_hall,
    hall_list_filters, hall_name, int_setting, my_halls, page_params, rule, today, HallListForm,
    HallListQuery,
};
use crate::chrome::Chrome;
use crate::context::{ApiUser, Ctx, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::{ApiJson, FormData};
use crate::lists::{self, Listed, Pager};
use crate::pages::{render, render_form};
use crate::paging::ListBody;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use onewindow_domain::access::Permission;
use onewindow_domain::confirm;
use onewindow_domain::queue::{self as rules, PriorityReason, TicketAction, WindowState};
use onewindow_domain::validation::{self, FieldError, FieldErrors};
use onewindow_store::audit::Who;
use onewindow_store::clock::format_local;
use onewindow_store::page::{ListId, PageRequest, MAX_LIMIT};
use onewindow_store::queue::{
    self as store_queue, ClassStats, Joining, QueueClass, ServiceWindow, Ticket,
};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/halls/{hall}/kiosk", get(kiosk_page).post(kiosk_issue))
        .route("/halls/{hall}/tickets", get(tickets_list_page))
        .route("/halls/{hall}/tickets/{id}", get(ticket_page))
        .route("/counter", get(counter_page))
        .route("/counter/{window}", get(window_page).post(window_form))
        .route("/desk", get(desk_page).post(desk_form))
        .route("/api/v1/queue/halls/{hall}/stats", get(stats_api))
        .route(
            "/api/v1/queue/halls/{hall}/tickets",
            get(tickets_api).post(issue_api),
        )
        .route("/api/v1/queue/windows/{id}/state", post(window_state_api))
        .route("/api/v1/queue/windows/{id}/call-next", post(call_next_api))
        .route(
            "/api/v1/queue/tickets/{id}/actions",
            post(ticket_action_api),
        )
}

// ---- operations ----

fn parse_reason(s: &str) -> Result<Option<PriorityReason>, AppError> {
    match s.trim() {
        "" | "none" => Ok(None),
        "appointment" => Err(AppError::invalid(
            "priority",
            "appointment_lane",
            "预约号不能直接取：请凭预约码签到",
        )),
        other => PriorityReason::parse(other).map(Some).ok_or_else(|| {
            AppError::invalid(
                "priority",
                "unknown",
                "优先原因无效，应为 elderly、disabled、pregnant 或 other",
            )
        }),
    }
}

/// Issues a walk-in ticket (the kiosk, or staff through [`issue_by_staff`]).
async fn issue(
    state: &AppState,
    hall_id: i64,
    class_code: &str,
    priority: Option<PriorityReason>,
    source: &str,
    who: Who,
) -> Result<Ticket, AppError> {
    hall_name(state, hall_id).await?;
    let rule = rule(state).await?;
    let mut tx = state.store.begin().await?;
    let t = store_queue::issue(
        &mut tx,
        &state.change(who),
        hall_id,
        class_code,
        today(state),
        Joining::WalkIn(priority),
        source,
        rule,
    )
    .await?;
    tx.commit().await?;
    state.publish_local(hall_id);
    Ok(t)
}

/// The guide desk (page or API) issues a ticket in a hall of its scope.
pub async fn issue_by_staff(
    state: &AppState,
    p: &Principal,
    hall_id: i64,
    class_code: &str,
    priority: Option<PriorityReason>,
) -> Result<Ticket, AppError> {
    authorize_hall(state, p, Permission::IssueTickets, hall_id).await?;
    issue(state, hall_id, class_code, priority, "desk", p.user.who()).await
}

pub async fn call_next(
    state: &AppState,
    p: &Principal,
    window_id: i64,
) -> Result<Option<Ticket>, AppError> {
    // The role first: a caller without it must not learn which ids exist (403 vs 404).
    p.require(Permission::OperateWindow)?;
    let w = store_queue::window(state.store.reader(), window_id).await?;
    authorize_record_hall(state, p, Permission::OperateWindow, w.hall_id).await?;
    let mut tx = state.store.begin().await?;
    let t = store_queue::call_next(
        &mut tx,
        &state.change(p.user.who()),
        window_id,
        today(state),
    )
    .await?;
    tx.commit().await?;
    state.publish_local(w.hall_id);
    Ok(t)
}

pub async fn ticket_action(
    state: &AppState,
    p: &Principal,
    ticket_id: i64,
    action: &TicketAction,
    case_nos: &[String],
) -> Result<Ticket, AppError> {
    p.require(Permission::OperateWindow)?;
    let t = store_queue::ticket(state.store.reader(), ticket_id).await?;
    authorize_record_hall(state, p, Permission::OperateWindow, t.hall_id).await?;
    let mut e = FieldErrors::new();
    for no in case_nos {
        if !e.text("case_nos", "办件编号", no, validation::REFERENCE) {
            break;
        }
    }
    e.into_result()?;
    // Named at the finish: each a case the clerk may see (those linked while serving are).
    crate::visits::check_case_nos(state, p, case_nos).await?;
    let max = int_setting(state, "queue.max_recalls").await? as u32;
    let mut tx = state.store.begin().await?;
    let t = store_queue::act(
        &mut tx,
        &state.change(p.user.who()),
        ticket_id,
        action,
        max,
        case_nos,
    )
    .await?;
    tx.commit().await?;
    state.publish_local(t.hall_id);
    Ok(t)
}

pub async fn set_window(
    state: &AppState,
    p: &Principal,
    window_id: i64,
    to: WindowState,
) -> Result<ServiceWindow, AppError> {
    p.require(Permission::OperateWindow)?;
    let w = store_queue::window(state.store.reader(), window_id).await?;
    authorize_record_hall(state, p, Permission::OperateWindow, w.hall_id).await?;
    let clerk = (to != WindowState::Closed).then_some(p.user.id);
    let mut tx = state.store.begin().await?;
    let w =
        store_queue::set_window_state(&mut tx, &state.change(p.user.who()), window_id, to, clerk)
            .await?;
    tx.commit().await?;
    state.publish_local(w.hall_id);
    Ok(w)
}

/// One page of a hall's tickets of a day, newest first.
pub async fn tickets_list(
    state: &AppState,
    p: &Principal,
    hall: i64,
    q: &HallListQuery,
) -> Result<Listed<Ticket>, AppError> {
    authorize_hall_list(state, p, hall).await?;
    let mut e = FieldErrors::new();
    let ticket_state = lists::one_of(
        &mut e,
        "state",
        "号的状态",
        q.state.as_deref(),
        "waiting、called、serving、done、no_show、cancelled",
        rules::TicketState::parse,
    );
    let (day, filters) = hall_list_filters(
        state,
        &mut e,
        q,
        ticket_state.map(rules::TicketState::as_str).unwrap_or(""),
    );
    e.into_result()?;
    let list = ListId {
        list: "hall_tickets",
        filters: &filters,
    };
    let req = lists::request(state, &page_params(q), &list).await?;
    let key = state.store.cursor_key().await?;
    let filter = store_queue::TicketFilter {
        hall_id: hall,
        day,
        state: ticket_state,
    };
    let page = store_queue::tickets_page(state.store.reader(), key, &list, &req, &filter).await?;
    Ok(Listed { page, filters, req })
}

/// What the ticket slip says (public: the resident holds the number).
struct Slip {
    hall: String,
    t: Ticket,
    class_name: String,
    ahead: i64,
    estimate: Option<u32>,
}

async fn slip(state: &AppState, hall: i64, id: i64) -> Result<Slip, AppError> {
    let name = hall_name(state, hall).await?;
    let t = store_queue::ticket(state.store.reader(), id).await?;
    if t.hall_id != hall {
        return Err(AppError::NotFound);
    }
    let (stats, _) = store_queue::stats(state.store.reader(), hall, today(state)).await?;
    let s = stats.iter().find(|s| s.code == t.class_code);
    let ahead = store_queue::ahead_of(state.store.reader(), t.id).await?;
    Ok(Slip {
        hall: name,
        class_name: s.map(|s| s.name.clone()).unwrap_or_default(),
        estimate: s.and_then(|s| {
            rules::estimate_wait_minutes(
                ahead as u32,
                s.avg_handling_secs.unwrap_or(600.0),
                s.windows_open.max(1) as u32,
            )
        }),
        ahead,
        t,
    })
}

/// A window as the window list shows it: the queues (ticket classes) it serves, by name.
pub struct WindowLine {
    pub w: ServiceWindow,
    pub serves: String,
}

/// "A 社会保险与社保卡、F 综合受理": the classes a window serves, by code and name.
fn serves_text(w: &ServiceWindow, classes: &[QueueClass]) -> String {
    if w.classes.is_empty() {
        return "未设置受理类别（不能叫号）".into();
    }
    w.classes
        .iter()
        .map(|code| match classes.iter().find(|c| &c.code == code) {
            Some(c) => format!("{} {}", c.code, c.name),
            None => code.clone(),
        })
        .collect::<Vec<_>>()
        .join("、")
}

/// A hall of the window list with its windows.
pub struct HallWindows {
    pub id: i64,
    pub name: String,
    pub windows: Vec<WindowLine>,
}

/// The windows a clerk may operate: those of the halls in their scope.
async fn counter(state: &AppState, p: &Principal) -> Result<Vec<HallWindows>, AppError> {
    p.require(Permission::OperateWindow)?;
    let mut halls = Vec::new();
    for (id, name) in my_halls(state, p, Permission::OperateWindow).await? {
        let classes = store_queue::classes(state.store.reader(), id).await?;
        let windows = store_queue::windows(state.store.reader(), id)
            .await?
            .into_iter()
            .map(|w| WindowLine {
                serves: serves_text(&w, &classes),
                w,
            })
            .collect();
        halls.push(HallWindows { id, name, windows });
    }
    Ok(halls)
}

/// What a window's control screen shows.
struct WindowScreen {
    line: WindowLine,
    current: Option<Ticket>,
    classes: Vec<QueueClass>,
    skipped: Vec<Ticket>,
    stats: Vec<ClassStats>,
}

async fn window_screen(
    state: &AppState,
    p: &Principal,
    window_id: i64,
) -> Result<WindowScreen, AppError> {
    p.require(Permission::OperateWindow)?;
    let w = store_queue::window(state.store.reader(), window_id).await?;
    authorize_record_hall(state, p, Permission::OperateWindow, w.hall_id).await?;
    let current = match w.current_ticket_id {
        Some(id) => Some(store_queue::ticket(state.store.reader(), id).await?).filter(|t| {
            matches!(
                t.state,
                rules::TicketState::Called | rules::TicketState::Serving
            )
        }),
        None => None,
    };
    // Today's no-shows of the hall (the list's query, its largest page), this window's
    // not yet re-queued.
    let no_shows = store_queue::tickets_page(
        state.store.reader(),
        state.store.cursor_key().await?,
        &ListId {
            list: "hall_tickets",
            filters: "",
        },
        &PageRequest::first(MAX_LIMIT),
        &store_queue::TicketFilter {
            hall_id: w.hall_id,
            day: today(state),
            state: Some(rules::TicketState::NoShow),
        },
    )
    .await?;
    let skipped = no_shows
        .items
        .into_iter()
        .filter(|t| t.requeue_count == 0 && t.window_id == Some(w.id))
        .collect();
    let classes = store_queue::classes(state.store.reader(), w.hall_id).await?;
    let (stats, _) = store_queue::stats(state.store.reader(), w.hall_id, today(state)).await?;
    Ok(WindowScreen {
        line: WindowLine {
            serves: serves_text(&w, &classes),
            w,
        },
        current,
        classes,
        skipped,
        stats,
    })
}

/// How many of today's tickets the guide desk shows per hall.
const DESK_RECENT: i64 = 15;

/// A hall at the guide desk: its classes and today's latest tickets.
pub struct DeskHall {
    pub id: i64,
    pub name: String,
    pub classes: Vec<QueueClass>,
    pub recent: Vec<Ticket>,
}

async fn desk(state: &AppState, p: &Principal) -> Result<Vec<DeskHall>, AppError> {
    p.require(Permission::IssueTickets)?;
    let mut halls = Vec::new();
    for (id, name) in my_halls(state, p, Permission::IssueTickets).await? {
        let classes = store_queue::classes(state.store.reader(), id).await?;
        // The first rows of the hall's ticket list; the list page has them all.
        let recent = store_queue::tickets_page(
            state.store.reader(),
            state.store.cursor_key().await?,
            &ListId {
                list: "hall_tickets",
                filters: "",
            },
            &PageRequest::first(DESK_RECENT),
            &store_queue::TicketFilter {
                hall_id: id,
                day: today(state),
                state: None,
            },
        )
        .await?
        .items;
        halls.push(DeskHall {
            id,
            name,
            classes,
            recent,
        });
    }
    Ok(halls)
}

// ---- pages: kiosk and ticket slip ----

/// Where a kiosk page goes by itself, and after how long (a meta refresh: the CSP allows no
/// inline script, and the start page must come back even if a script failed).
pub struct KioskReset {
    pub seconds: i64,
    pub to: String,
}

async fn kiosk_reset(state: &AppState, hall: i64) -> Result<KioskReset, AppError> {
    Ok(KioskReset {
        seconds: int_setting(state, "queue.kiosk_reset_seconds").await?,
        to: format!("/halls/{hall}/kiosk"),
    })
}

#[derive(Template)]
#[template(path = "kiosk.html")]
struct KioskPage {
    chrome: Chrome,
    hall_id: i64,
    hall: String,
    stats: Vec<ClassStats>,
    errors: Vec<FieldError>,
    reset: Option<KioskReset>,
}

async fn kiosk_view(state: &AppState, ctx: &Ctx, hall: i64, errors: Vec<FieldError>) -> PageResult {
    let name = hall_name(state, hall).await?;
    let (stats, _) = store_queue::stats(state.store.reader(), hall, today(state)).await?;
    let mut chrome = Chrome::new(state, ctx, format!("{name} 自助取号"));
    // The kiosk is for everyone: large text always.
    chrome.large_text = true;
    let refused = !errors.is_empty();
    // An error stays on screen for the person who made it, then the start page returns.
    let reset = if errors.is_empty() {
        None
    } else {
        Some(kiosk_reset(state, hall).await?)
    };
    render_form(
        &KioskPage {
            chrome,
            hall_id: hall,
            hall: name,
            stats,
            errors,
            reset,
        },
        refused,
    )
}

async fn kiosk_page(State(state): State<AppState>, ctx: Ctx, Path(hall): Path<i64>) -> PageResult {
    kiosk_view(&state, &ctx, hall, vec![]).await
}

async fn kiosk_issue(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(hall): Path<i64>,
    form: FormData,
) -> PageResult {
    hall_name(&state, hall).await?;
    let attempt = async {
        if !form.get("appointment").trim().is_empty() {
            return appointments::check_in(
                &state,
                appointments::CheckInAt::Kiosk,
                Some(hall),
                form.get("appointment"),
            )
            .await
            .map_err(|e| appointments::unknown_code_on("appointment", e));
        }
        let reason = form.checked("priority").then_some(PriorityReason::Other);
        issue(
            &state,
            hall,
            form.get("class"),
            reason,
            "kiosk",
            Who::system("kiosk"),
        )
        .await
    };
    match attempt.await {
        Ok(t) => {
            Ok(Redirect::to(&format!("/halls/{hall}/tickets/{}?kiosk=1", t.id)).into_response())
        }
        Err(e) => match as_field_errors(e, "appointment") {
            Ok(errors) => kiosk_view(&state, &ctx, hall, errors).await,
            Err(e) => Err(e.into()),
        },
    }
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    chrome: Chrome,
    hall: String,
    t: Ticket,
    class_name: String,
    ahead: i64,
    estimate: Option<u32>,
    issued: String,
    reset: Option<KioskReset>,
}

#[derive(Deserialize, Default)]
struct SlipQuery {
    /// Shown on the kiosk: return to its start page after a few seconds.
    #[serde(default)]
    kiosk: Option<String>,
}

async fn ticket_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((hall, id)): Path<(i64, i64)>,
    Query(q): Query<SlipQuery>,
) -> PageResult {
    let s = slip(&state, hall, id).await?;
    let mut chrome = Chrome::new(&state, &ctx, format!("{} 号", s.t.number));
    chrome.large_text = true;
    let reset = match q.kiosk.as_deref() {
        Some(v) if !v.is_empty() && v != "0" => Some(kiosk_reset(&state, hall).await?),
        _ => None,
    };
    render(&TicketPage {
        chrome,
        hall: s.hall,
        class_name: s.class_name,
        estimate: s.estimate,
        ahead: s.ahead,
        issued: format_local(s.t.issued_at),
        t: s.t,
        reset,
    })
}

// ---- pages: a hall's ticket list ----

pub struct TicketLine {
    pub t: Ticket,
    pub issued: String,
}

#[derive(Template)]
#[template(path = "hall_tickets.html")]
struct HallTicketsPage {
    chrome: Chrome,
    hall_id: i64,
    hall: String,
    form: HallListForm,
    rows: Vec<TicketLine>,
    pager: Pager,
}

/// A hall's tickets of a day, 25 at a time (guide desk, window clerks).
async fn tickets_list_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(hall): Path<i64>,
    Query(q): Query<HallListQuery>,
) -> PageResult {
    let listed = tickets_list(&state, &p, hall, &q).await?;
    let name = hall_name(&state, hall).await?;
    let pager = Pager::new(&format!("/halls/{hall}/tickets"), &listed);
    let choices: Vec<(&'static str, &'static str)> = rules::TicketState::ALL
        .iter()
        .map(|s| (s.as_str(), s.label()))
        .collect();
    render(&HallTicketsPage {
        chrome: Chrome::new(&state, &ctx, format!("{name} 取号记录")),
        hall_id: hall,
        hall: name,
        form: HallListForm::new(&state, &q, &choices),
        rows: listed
            .page
            .items
            .into_iter()
            .map(|t| TicketLine {
                issued: format_local(t.issued_at),
                t,
            })
            .collect(),
        pager,
    })
}

// ---- pages: window list and window control ----

#[derive(Template)]
#[template(path = "counter.html")]
struct CounterPage {
    chrome: Chrome,
    halls: Vec<HallWindows>,
    /// The caller's organisation, to say why there is nothing to choose.
    org_name: String,
    /// Every hall of the installation (where the windows are).
    all_halls: Vec<String>,
    may_take_in: bool,
}

async fn counter_page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    let halls = counter(&state, &p).await?;
    let all_halls = if halls.is_empty() {
        store_queue::halls(state.store.reader())
            .await?
            .into_iter()
            .map(|(_, name)| name)
            .collect()
    } else {
        vec![]
    };
    render(&CounterPage {
        chrome: Chrome::new(&state, &ctx, "窗口叫号"),
        halls,
        org_name: p.user.org_name.clone(),
        all_halls,
        may_take_in: p.actor().may(Permission::HandleIntake),
    })
}

#[derive(Template)]
#[template(path = "window_control.html")]
struct WindowControlPage {
    chrome: Chrome,
    w: ServiceWindow,
    serves: String,
    current: Option<Ticket>,
    classes: Vec<QueueClass>,
    skipped: Vec<Ticket>,
    stats: Vec<ClassStats>,
    notice: Option<String>,
}

async fn window_view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    window_id: i64,
    notice: Option<String>,
) -> PageResult {
    let s = window_screen(state, p, window_id).await?;
    render(&WindowControlPage {
        chrome: Chrome::new(state, ctx, format!("{}号窗口", s.line.w.number)),
        w: s.line.w,
        serves: s.line.serves,
        current: s.current,
        classes: s.classes,
        skipped: s.skipped,
        stats: s.stats,
        notice,
    })
}

async fn window_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(window_id): Path<i64>,
) -> PageResult {
    window_view(&state, &p, &ctx, window_id, None).await
}

async fn window_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(window_id): Path<i64>,
    form: FormData,
) -> PageResult {
    let ticket_id = form.get("ticket_id").parse::<i64>().ok();
    let attempt = async {
        match form.get("op") {
            "open" | "pause" | "close" => {
                let to = match form.get("op") {
                    "open" => WindowState::Open,
                    "pause" => WindowState::Paused,
                    _ => WindowState::Closed,
                };
                set_window(&state, &p, window_id, to)
                    .await
                    .map(|w| Some(confirm::window_done(w.number, to)))
            }
            "call" => Ok(Some(match call_next(&state, &p, window_id).await? {
                Some(t) => format!("已叫号：{}", t.number),
                None => "当前没有等候的号".to_string(),
            })),
            op => {
                let id = ticket_id
                    .ok_or_else(|| AppError::invalid("ticket_id", "required", "没有选中的号"))?;
                let action = match op {
                    "recall" => TicketAction::Recall,
                    "start" => TicketAction::StartService,
                    "finish" => TicketAction::Finish,
                    "no_show" => TicketAction::NoShow,
                    "requeue" => TicketAction::Requeue,
                    "transfer" => TicketAction::Transfer {
                        to_class: form.get("to_class").to_string(),
                    },
                    other => {
                        return Err(AppError::invalid(
                            "op",
                            "unknown",
                            format!("未知操作{other}"),
                        ))
                    }
                };
                let cases: Vec<String> = form
                    .get("case_nos")
                    .split([',', '，', ' ', '\n'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                ticket_action(&state, &p, id, &action, &cases)
                    .await
                    .map(|t| Some(confirm::ticket_done(&action, &t.number, &t.case_nos)))
            }
        }
    };
    match attempt.await {
        Ok(notice) => window_view(&state, &p, &ctx, window_id, notice).await,
        Err(e) => match as_field_errors(e, "op") {
            Ok(errors) => {
                let notice = errors.into_iter().next().map(|e| e.message);
                window_view(&state, &p, &ctx, window_id, notice).await
            }
            Err(e) => Err(e.into()),
        },
    }
}

// ---- pages: guide desk ----

#[derive(Template)]
#[template(path = "desk.html")]
struct DeskPage {
    chrome: Chrome,
    halls: Vec<DeskHall>,
    issued: Option<Ticket>,
    errors: Vec<FieldError>,
}

async fn desk_view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    issued: Option<Ticket>,
    errors: Vec<FieldError>,
) -> PageResult {
    let halls = desk(state, p).await?;
    let refused = !errors.is_empty();
    render_form(
        &DeskPage {
            chrome: Chrome::new(state, ctx, "导办取号"),
            halls,
            issued,
            errors,
        },
        refused,
    )
}

async fn desk_page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    desk_view(&state, &p, &ctx, None, vec![]).await
}

async fn desk_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    let attempt = async {
        p.require(Permission::IssueTickets)?;
        let hall = form.int("hall_id", "大厅")?;
        if !form.get("appointment").trim().is_empty() {
            return appointments::check_in(
                &state,
                appointments::CheckInAt::Staff(&p),
                Some(hall),
                form.get("appointment"),
            )
            .await
            .map_err(|e| appointments::unknown_code_on("appointment", e));
        }
        issue_by_staff(
            &state,
            &p,
            hall,
            form.get("class"),
            parse_reason(form.get("priority"))?,
        )
        .await
    };
    match attempt.await {
        Ok(t) => desk_view(&state, &p, &ctx, Some(t), vec![]).await,
        Err(e) => match as_field_errors(e, "appointment") {
            Ok(errors) => desk_view(&state, &p, &ctx, None, errors).await,
            Err(e) => Err(e.into()),
        },
    }
}

// ---- API ----

async fn stats_api(State(state): State<AppState>, Path(hall): Path<i64>) -> ApiResult<Json<Value>> {
    hall_name(&state, hall).await?;
    let (classes, hall_avg) = store_queue::stats(state.store.reader(), hall, today(&state)).await?;
    Ok(Json(
        json!({ "classes": classes, "avg_wait_today_secs": hall_avg }),
    ))
}

#[derive(Deserialize)]
struct IssueBody {
    class: String,
    #[serde(default)]
    priority: Option<String>,
}

async fn issue_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(hall): Path<i64>,
    ApiJson(b): ApiJson<IssueBody>,
) -> ApiResult<(StatusCode, Json<Ticket>)> {
    let reason = parse_reason(b.priority.as_deref().unwrap_or(""))?;
    Ok((
        StatusCode::CREATED,
        Json(issue_by_staff(&state, &p, hall, &b.class, reason).await?),
    ))
}

/// A hall's tickets of a day (guide desk, window clerks), newest first.
async fn tickets_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(hall): Path<i64>,
    Query(q): Query<HallListQuery>,
) -> ApiResult<Json<ListBody<Ticket>>> {
    let listed = tickets_list(&state, &p, hall, &q).await?;
    Ok(Json(ListBody::new(
        listed.page,
        &format!("/api/v1/queue/halls/{hall}/tickets"),
        &listed.filters,
        &listed.req,
    )))
}

#[derive(Deserialize)]
struct WindowStateBody {
    state: String,
}

async fn window_state_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<WindowStateBody>,
) -> ApiResult<Json<ServiceWindow>> {
    let to = WindowState::parse(&b.state).ok_or_else(|| {
        AppError::invalid("state", "unknown", "state 应为 open、paused 或 closed")
    })?;
    Ok(Json(set_window(&state, &p, id, to).await?))
}

async fn call_next_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "ticket": call_next(&state, &p, id).await? })))
}

#[derive(Deserialize)]
struct TicketActionBody {
    #[serde(flatten)]
    action: TicketAction,
    #[serde(default)]
    case_nos: Vec<String>,
}

async fn ticket_action_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<TicketActionBody>,
) -> ApiResult<Json<Ticket>> {
    Ok(Json(
        ticket_action(&state, &p, id, &b.action, &b.case_nos).await?,
    ))
}
