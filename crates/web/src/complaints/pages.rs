//! The staff pages of 接诉即办: the dispatcher board, the phone intake form (keyboard only,
//! category search as you type through the browser's own list, duplicates and suggestions
//! on one key), one request with its chain and the forms of its next step, and the
//! department inbox that also lists the fallback window's tasks (one inbox, not three).

use super::requests::{
    authorize_read, check, get_request, intake, is_dispatcher, is_lead, list, mark_need, take_act,
    CheckInput, IntakeInput, Need, SuggestionRow,
};
use crate::chrome::Chrome;
use crate::context::{PageUser, Principal};
use crate::error::{AppError, PageResult};
use crate::form::FormData;
use crate::pages::{render, render_form};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use onewindow_domain::access::Permission;
use onewindow_domain::complaints::{
    Act, Limits, RequestType, Satisfaction, State as ReqState, Urgency,
};
use onewindow_domain::ratings::mask_phone;
use onewindow_domain::validation::FieldError;
use onewindow_store::clock::format_local;
use onewindow_store::complaints::categories::{self, Category};
use onewindow_store::complaints::problems::{self, Problem};
use onewindow_store::complaints::requests::{self as store, ActExtra, Possible, Request};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/complaints", get(board_page))
        .route("/complaints/new", get(new_page).post(new_form))
        .route("/complaints/{id}", get(request_page))
        .route("/complaints/{id}/act", post(act_form))
        .route("/complaints/{id}/need", post(need_form))
        .route("/complaints/inbox", get(inbox_page))
}

/// A request as a list row shows it.
pub struct Row {
    pub r: Request,
    pub received: String,
    pub due: String,
    /// 已超时 / 即将到期 / "".
    pub light: &'static str,
}

/// Less than this share of the time left: 即将到期 (the engine's warning share).
const SOON_MICROS: i64 = 2 * 3_600_000_000;

pub fn row(now: i64, r: Request) -> Row {
    let due = r.due_now();
    let light = match due {
        Some(d) if now > d => "已超时",
        Some(d) if d - now <= SOON_MICROS => "即将到期",
        _ => "",
    };
    Row {
        received: format_local(r.received_at),
        due: due.map(format_local).unwrap_or_else(|| "—".into()),
        light,
        r,
    }
}

#[derive(Template)]
#[template(path = "complaints_board.html")]
struct BoardPage {
    chrome: Chrome,
    may_take: bool,
    overdue: Vec<Row>,
    to_dispatch: Vec<Row>,
    returns: Vec<Row>,
    callbacks: Vec<Row>,
    with_departments: Vec<Row>,
    limits: Limits,
}

async fn board_page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    p.authorize(Permission::ViewComplaints, &p.user.org_path)?;
    let now = state.now();
    let rows = |v: Vec<Request>| -> Vec<Row> {
        let mut v: Vec<Row> = v.into_iter().map(|r| row(now, r)).collect();
        v.sort_by_key(|r| r.r.due_now().unwrap_or(i64::MAX));
        v
    };
    let take = |s: &[ReqState]| list(&state, &p, s.to_vec(), false, None, 200);
    let to_dispatch = rows(take(&[ReqState::Received]).await?);
    let returns = rows(take(&[ReqState::ReturnAsked]).await?);
    let callbacks = rows(take(&[ReqState::Replied]).await?);
    let with_departments = rows(
        take(&[
            ReqState::Dispatched,
            ReqState::Signed,
            ReqState::Reopened,
            ReqState::Supervised,
        ])
        .await?,
    );
    let overdue = [&to_dispatch, &returns, &callbacks, &with_departments]
        .into_iter()
        .flatten()
        .filter(|r| r.light == "已超时")
        .map(|r| row(now, r.r.clone()))
        .collect();
    render(&BoardPage {
        chrome: Chrome::new(&state, &ctx, "接诉即办"),
        may_take: p
            .authorize(Permission::TakeComplaints, &p.user.org_path)
            .is_ok(),
        overdue,
        to_dispatch,
        returns,
        callbacks,
        with_departments,
        limits: store::limits(state.store.reader()).await?,
    })
}

#[derive(Template)]
#[template(path = "complaints_new.html")]
struct NewPage {
    chrome: Chrome,
    errors: Vec<FieldError>,
    form: FormData,
    categories: Vec<Category>,
    duplicates: Vec<Possible>,
    suggestions: Vec<SuggestionRow>,
    checked: bool,
}

impl NewPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
    fn is(&self, name: &str, value: &str) -> bool {
        self.form.get(name) == value
    }
    fn request_types(&self) -> &'static [RequestType] {
        RequestType::ALL
    }
    fn urgencies(&self) -> &'static [Urgency] {
        Urgency::ALL
    }
}

/// What the category field shows for `c` (the browser's list matches any part of it).
pub fn category_text(c: &Category) -> String {
    match &c.department_name {
        Some(d) => format!("{}（{}）→{}", c.name, c.code, d),
        None => format!("{}（{}）", c.name, c.code),
    }
}

/// The category typed or picked: its code in the brackets, or its exact name.
fn category_of(all: &[Category], text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let code = text
        .split_once('（')
        .and_then(|(_, rest)| rest.split_once('）'))
        .map(|(code, _)| code.trim());
    all.iter()
        .find(|c| Some(c.code.as_str()) == code || c.name == text || c.code == text)
        .map(|c| c.id)
}

fn intake_from(form: &FormData, all: &[Category]) -> Result<IntakeInput, AppError> {
    let coord = |name: &str| -> Result<Option<f64>, AppError> {
        let v = form.get(name).trim();
        if v.is_empty() {
            return Ok(None);
        }
        v.parse::<f64>().map(Some).map_err(|_| {
            AppError::invalid("lat", "invalid_coordinates", "坐标须为数字（如39.9087）")
        })
    };
    let category = form.get("category").trim();
    let category_id = category_of(all, category);
    if !category.is_empty() && category_id.is_none() {
        return Err(AppError::invalid(
            "category",
            "unknown_category",
            "没有这个分类，请从列表中选择",
        ));
    }
    Ok(IntakeInput {
        channel: form.get("channel").into(),
        external_id: Some(form.get("external_id").to_string()).filter(|e| !e.trim().is_empty()),
        request_type: form.get("request_type").into(),
        urgency: form.get("urgency").into(),
        complex: form.get("complex") == "1",
        category_id,
        content: form.get("content").into(),
        person_name: form.get("person_name").into(),
        person_phone: form.get("person_phone").into(),
        address: form.get("address").into(),
        lat: coord("lat")?,
        lon: coord("lon")?,
        complained_user_id: None,
        complained_window: form.get("complained_window").into(),
    })
}

async fn new_page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    p.authorize(Permission::TakeComplaints, &p.user.org_path)?;
    let mut form = FormData::default();
    form.0.push(("channel".into(), "phone".into()));
    form.0.push(("request_type".into(), "help".into()));
    form.0.push(("urgency".into(), "ordinary".into()));
    render(&NewPage {
        chrome: Chrome::new(&state, &ctx, "登记诉求"),
        errors: vec![],
        form,
        categories: categories::for_viewer(state.store.reader(), &p.user.org_path, false).await?,
        duplicates: vec![],
        suggestions: vec![],
        checked: false,
    })
}

async fn new_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    p.authorize(Permission::TakeComplaints, &p.user.org_path)?;
    let all = categories::for_viewer(state.store.reader(), &p.user.org_path, false).await?;
    let page = |errors: Vec<FieldError>,
                form: FormData,
                duplicates: Vec<Possible>,
                suggestions: Vec<SuggestionRow>,
                checked: bool| NewPage {
        chrome: Chrome::new(&state, &ctx, "登记诉求"),
        errors,
        form,
        categories: all.clone(),
        duplicates,
        suggestions,
        checked,
    };
    let input = match intake_from(&form, &all) {
        Ok(mut i) => {
            // The staff member complained about, by account name: the request is then
            // hidden from them on every path.
            let who = form.get("complained_username").trim();
            if !who.is_empty() {
                let mut conn = state
                    .store
                    .reader()
                    .acquire()
                    .await
                    .map_err(onewindow_store::StoreError::from)?;
                match onewindow_store::users::find_id_by_username(&mut conn, who).await? {
                    Some(id) => i.complained_user_id = Some(id),
                    None => {
                        let e = FieldError {
                            field: "complained_username".into(),
                            code: "unknown_user".into(),
                            message: "没有这个工作人员账号，请核对或只填写窗口".into(),
                        };
                        return render_form(&page(vec![e], form, vec![], vec![], false), true);
                    }
                }
            }
            i
        }
        Err(AppError::Invalid(f)) => {
            return render_form(&page(f.0, form, vec![], vec![], false), true)
        }
        Err(e) => return Err(e.into()),
    };
    // 查重与推荐: the same form back with what the dispatcher must see before creating.
    let checking = form.get("step") == "check";
    let merge_into = form.get("merge_into").trim().parse::<i64>().ok();
    if checking {
        let found = check(
            &state,
            &p,
            &CheckInput {
                person_phone: input.person_phone.clone(),
                content: input.content.clone(),
                category_id: input.category_id,
                lat: input.lat,
                lon: input.lon,
                exclude: None,
            },
        )
        .await?;
        return render(&page(
            vec![],
            form,
            found.duplicates,
            found.suggestions,
            true,
        ));
    }
    match intake(&state, &p, &input).await {
        Ok(req) => {
            if let Some(original) = merge_into.filter(|_| is_dispatcher(&p, &req)) {
                let merged = take_act(
                    &state,
                    &p,
                    req.id,
                    Some(req.version),
                    &Act::Merge { original },
                    &ActExtra {
                        told: true,
                        ..ActExtra::default()
                    },
                )
                .await;
                if let Err(e) = merged {
                    // The new request stays; the dispatcher sees why it was not merged.
                    tracing::warn!(error = %e, "merge at intake refused");
                }
            }
            Ok(Redirect::to(&format!("/complaints/{}?new=1", req.id)).into_response())
        }
        Err(AppError::Invalid(f)) => render_form(&page(f.0, form, vec![], vec![], false), true),
        Err(e) => Err(e.into()),
    }
}

/// One entry of the chain in words.
pub struct EventRow {
    pub at: String,
    pub actor: String,
    pub words: String,
}

pub fn event_words(e: &store::Event) -> String {
    let d = &e.detail;
    let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
    let label = e.label();
    match e.act.as_str() {
        "dispatch" => format!("{label}到{}", s("lead_name")),
        "ask_return" => format!("{label}：{}", s("reason")),
        "decide_return" if d["accept"] == true => format!("同意退单，改派{}", s("lead_name")),
        "decide_return" => format!("不同意退单，仍由{}办理", s("lead_name")),
        "reply" => format!("{label}：{}", s("content")),
        "callback" => format!(
            "{label}（{}）：{}，{}",
            if s("way") == "sms" {
                "短信"
            } else {
                "电话"
            },
            Satisfaction::parse(&s("satisfaction")).map_or("", |x| x.label()),
            if d["solved"] == true {
                "已解决"
            } else {
                "未解决"
            }
        ),
        "merge" => format!("{label}，原诉求{}", s("original_no")),
        _ => label.to_string(),
    }
}

#[derive(Template)]
#[template(path = "complaints_request.html")]
struct RequestPage {
    chrome: Chrome,
    r: Request,
    phone: String,
    received: String,
    due: String,
    light: &'static str,
    events: Vec<EventRow>,
    repeats: Vec<(i64, String, String)>,
    duplicates: Vec<Possible>,
    suggestions: Vec<SuggestionRow>,
    departments: Vec<(i64, String)>,
    problems: Vec<Problem>,
    categories: Vec<Category>,
    dispatcher: bool,
    lead: bool,
    errors: Vec<FieldError>,
    form: FormData,
    is_new: bool,
    max_reopens: u32,
}

impl RequestPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
    fn is_state(&self, s: &str) -> bool {
        self.r.state.as_str() == s
    }
    fn is_suggested(&self, id: &i64) -> bool {
        self.suggestions.first().and_then(|s| s.department_id) == Some(*id)
    }
    /// The category the dispatch form starts on: the request's, else the top suggestion.
    fn is_category(&self, id: &i64) -> bool {
        self.r
            .category_id
            .or(self.suggestions.first().map(|s| s.category_id))
            == Some(*id)
    }
    fn in_problem(&self, id: &i64) -> bool {
        self.r.problem_id == Some(*id)
    }
    fn is_lead_department(&self, id: &i64) -> bool {
        self.r.lead_department_id == Some(*id)
    }
    fn satisfactions(&self) -> &'static [Satisfaction] {
        Satisfaction::ALL
    }
}

#[derive(serde::Deserialize, Default)]
struct RequestQuery {
    #[serde(default)]
    new: Option<String>,
}

async fn request_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<RequestQuery>,
) -> PageResult {
    let r = get_request(&state, &p, id).await?;
    let page = request_view(&state, &p, ctx, r, vec![], FormData::default()).await?;
    render(&RequestPage {
        is_new: q.new.is_some(),
        ..page
    })
}

async fn request_view(
    state: &AppState,
    p: &Principal,
    ctx: crate::context::Ctx,
    r: Request,
    errors: Vec<FieldError>,
    form: FormData,
) -> Result<RequestPage, AppError> {
    let pool = state.store.reader();
    let now = state.now();
    let dispatcher = is_dispatcher(p, &r);
    let lead = is_lead(p, &r);
    let events = store::events(pool, r.id)
        .await?
        .iter()
        .map(|e| EventRow {
            at: format_local(e.at),
            actor: e.actor.clone(),
            words: event_words(e),
        })
        .collect();
    let repeats = store::repeats_of(pool, r.id)
        .await?
        .into_iter()
        .map(|(id, no, at)| (id, no, format_local(at)))
        .collect();
    let (duplicates, suggestions) = if dispatcher && r.state == ReqState::Received {
        let found = check(
            state,
            p,
            &CheckInput {
                person_phone: r.person_phone.clone(),
                content: r.content.clone(),
                category_id: r.category_id,
                lat: r.lat,
                lon: r.lon,
                exclude: Some(r.id),
            },
        )
        .await?;
        (found.duplicates, found.suggestions)
    } else {
        (vec![], vec![])
    };
    let departments = if dispatcher {
        let mut conn = pool
            .acquire()
            .await
            .map_err(onewindow_store::StoreError::from)?;
        let area = store::district_of(&mut conn, &r.org_path).await?;
        drop(conn);
        onewindow_store::orgs::departments(pool)
            .await?
            .into_iter()
            .filter(|o| area.contains(&o.path))
            .map(|o| (o.id, o.name))
            .chain(
                store::receiving_orgs(pool)
                    .await?
                    .into_iter()
                    .filter(|(id, _)| {
                        // The district above the request as the fallback when unclear.
                        r.org_path.ids().contains(id) && *id != r.org_id
                    })
                    .map(|(id, n)| (id, format!("{n}（兜底）"))),
            )
            .collect()
    } else {
        vec![]
    };
    let problems = if dispatcher {
        problems::list(pool, &r.org_path, 100).await?
    } else {
        vec![]
    };
    let categories = if dispatcher && r.state == ReqState::Received {
        categories::for_viewer(pool, &r.org_path, false).await?
    } else {
        vec![]
    };
    let shown = super::pages::row(now, r.clone());
    Ok(RequestPage {
        chrome: Chrome::new(state, &ctx, format!("诉求{}", r.request_no)),
        phone: if dispatcher {
            r.person_phone.clone()
        } else {
            mask_phone(&r.person_phone)
        },
        received: shown.received,
        due: shown.due,
        light: shown.light,
        events,
        repeats,
        duplicates,
        suggestions,
        departments,
        problems,
        categories,
        dispatcher,
        lead,
        errors,
        form,
        is_new: false,
        max_reopens: store::limits(pool).await?.max_reopens,
        r,
    })
}

fn act_from(form: &FormData) -> Result<(Act, ActExtra), AppError> {
    let id = |name: &str| form.get(name).trim().parse::<i64>().ok();
    let act = match form.get("act") {
        "dispatch" => Act::Dispatch {
            lead: id("lead")
                .ok_or_else(|| AppError::invalid("lead", "required", "请选择承办部门"))?,
            co: form
                .0
                .iter()
                .filter(|(k, _)| k == "co")
                .filter_map(|(_, v)| v.parse().ok())
                .collect(),
        },
        "sign" => Act::Sign,
        "ask_return" => Act::AskReturn {
            reason: form.get("reason").into(),
        },
        "decide_return" => Act::DecideReturn {
            accept: form.get("accept") == "1",
            lead: id("lead"),
        },
        "reply" => Act::Reply {
            content: form.get("content").into(),
        },
        "callback" => Act::Callback {
            satisfaction: Satisfaction::parse(form.get("satisfaction")).ok_or_else(|| {
                AppError::invalid(
                    "satisfaction",
                    "required",
                    "请选择回访结果：满意、基本满意或不满意",
                )
            })?,
            solved: match form.get("solved") {
                "1" => true,
                "0" => false,
                _ => {
                    return Err(AppError::invalid(
                        "solved",
                        "required",
                        "请选择问题是否解决",
                    ))
                }
            },
        },
        "merge" => Act::Merge {
            original: id("original")
                .ok_or_else(|| AppError::invalid("original", "required", "请选择原诉求"))?,
        },
        _ => return Err(AppError::invalid("act", "unknown_act", "未知的操作")),
    };
    Ok((
        act,
        ActExtra {
            told: form.get("told") == "1",
            category_id: id("category_id"),
            ..ActExtra::default()
        },
    ))
}

async fn act_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let version = form.get("version").parse::<i64>().ok();
    let result = match act_from(&form) {
        Ok((act, extra)) => take_act(&state, &p, id, version, &act, &extra).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(r) => {
            let back = if is_dispatcher(&p, &r) || is_lead(&p, &r) || authorize_read(&p, &r).is_ok()
            {
                format!("/complaints/{}", r.id)
            } else {
                "/complaints/inbox".into()
            };
            Ok(Redirect::to(&back).into_response())
        }
        Err(AppError::Invalid(f)) => {
            let r = get_request(&state, &p, id).await?;
            let page = request_view(&state, &p, ctx, r, f.0, form).await?;
            render_form(&page, true)
        }
        Err(e) => Err(e.into()),
    }
}

async fn need_form(
    State(state): State<AppState>,
    PageUser(p, _ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let need = match form.get("problem_id").trim() {
        "" => Need::None,
        "new" => Need::New(form.get("title").to_string()),
        v => v.parse::<i64>().map(Need::Problem).unwrap_or(Need::None),
    };
    mark_need(&state, &p, id, &need).await?;
    Ok(Redirect::to(&format!("/complaints/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "complaints_inbox.html")]
struct InboxPage {
    chrome: Chrome,
    to_sign: Vec<Row>,
    to_reply: Vec<Row>,
    co_handled: Vec<Row>,
    fallback_tasks: Vec<onewindow_store::fallback::cases::Task>,
    grid_events: Vec<crate::grid::events::InboxEvent>,
}

async fn inbox_page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    p.authorize(Permission::HandleComplaints, &p.user.org_path)?;
    let now = state.now();
    let rows = |v: Vec<Request>| -> Vec<Row> {
        let mut v: Vec<Row> = v.into_iter().map(|r| row(now, r)).collect();
        v.sort_by_key(|r| r.r.due_now().unwrap_or(i64::MAX));
        v
    };
    let to_sign = rows(list(&state, &p, vec![ReqState::Dispatched], true, None, 200).await?);
    let to_reply = rows(
        list(
            &state,
            &p,
            vec![ReqState::Signed, ReqState::Reopened, ReqState::Supervised],
            true,
            None,
            200,
        )
        .await?,
    );
    let co_handled =
        rows(store::co_handled_by(state.store.reader(), p.user.org_id, p.user.id, 100).await?);
    let fallback_tasks = if p
        .authorize(Permission::AnswerFallbackTasks, &p.user.org_path)
        .is_ok()
    {
        onewindow_store::fallback::cases::department_inbox(
            state.store.reader(),
            &p.user.org_path,
            true,
            100,
        )
        .await?
    } else {
        vec![]
    };
    let grid_events = crate::grid::events::department_inbox(&state, &p).await?;
    render(&InboxPage {
        chrome: Chrome::new(&state, &ctx, "部门待办"),
        to_sign,
        to_reply,
        co_handled,
        fallback_tasks,
        grid_events,
    })
}
