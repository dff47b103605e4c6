//! The pages of fallback cases: the officers' workbench, intake, one case with the forms of
//! its next steps and its whole chain, the printable receipt and refusal notice, the
//! department inbox, and the resident's pages (apply online, follow progress).

use super::cases::{
    acting, answer, find_for_person, get_case, intake, intake_online, invite_expert, reached_steps,
    record_meeting, record_opinion, take_act, IntakeInput, MeetingInput,
};
use crate::chrome::Chrome;
use crate::context::{Ctx, PageUser, Principal};
use crate::error::{AppError, PageResult};
use crate::form::FormData;
use crate::pages::{render, render_form};
use crate::AppState;
use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Extension, Router};
use onewindow_domain::access::Permission;
use onewindow_domain::escalation::Light;
use onewindow_domain::fallback::{
    self as rules, Act, CaseType, ExtensionState, FeedbackWay, Outcome, RefusalReport,
    ResponseTier, State as CaseState, TaskAnswer, TaskState,
};
use onewindow_domain::ratings::{mask_name, mask_phone, Level};
use onewindow_domain::validation::FieldError;
use onewindow_store::clock::format_local;
use onewindow_store::fallback::cases::{
    self as store, CaseEvent, CaseFilter, Decision, FallbackCase, Meeting, Opinion, Task, Window,
};
use onewindow_store::fallback::{library, reference};
use serde::Deserialize;
use std::net::SocketAddr;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/fallback", get(home_page))
        .route("/fallback/new", get(new_page).post(new_form))
        .route("/fallback/cases/{id}", get(case_page))
        .route("/fallback/cases/{id}/act", post(act_form))
        .route("/fallback/cases/{id}/meeting", post(meeting_form))
        .route("/fallback/cases/{id}/expert", post(expert_form))
        .route("/fallback/cases/{id}/opinion", post(opinion_form))
        .route("/fallback/cases/{id}/receipt", get(receipt_page))
        .route("/fallback/cases/{id}/refusal", get(refusal_page))
        .route("/fallback/tasks", get(tasks_page))
        .route("/fallback/tasks/{id}/answer", post(answer_form))
        .route("/fallback/apply", get(apply_page).post(apply_form))
        .route("/fallback/progress", get(progress_page))
        .route("/fallback/progress/rating", post(rating_form))
}

/// A case as a list row shows it.
#[derive(Clone)]
pub struct Row {
    pub c: FallbackCase,
    pub received: String,
    pub due: String,
    pub light: String,
    pub red: bool,
}

async fn rows(state: &AppState, cases: Vec<FallbackCase>) -> Vec<Row> {
    let now = state.now();
    let mut out = Vec::with_capacity(cases.len());
    for c in cases {
        let item = match c.tracked_item_id {
            Some(i) => onewindow_store::escalation::get(state.store.reader(), i)
                .await
                .ok()
                .filter(|i| i.state == "open"),
            None => None,
        };
        let light = item.as_ref().and_then(|i| i.light(now));
        out.push(Row {
            received: format_local(c.received_at),
            due: item
                .as_ref()
                .and_then(|i| i.due_at)
                .map(format_local)
                .unwrap_or_else(|| "—".into()),
            light: light.map(|l| l.label().to_string()).unwrap_or_default(),
            red: light == Some(Light::Red),
            c,
        });
    }
    out
}

#[derive(Template)]
#[template(path = "fallback_home.html")]
struct HomePage {
    chrome: Chrome,
    may_intake: bool,
    handed_over: Vec<Row>,
    unowned: Vec<Row>,
    mine: Vec<Row>,
    /// Open cases past a stage's limit, with their owners (督办: named for the supervisor).
    overdue: Vec<Row>,
    open: Vec<Row>,
    counts: Vec<(&'static str, i64)>,
    limits: rules::Limits,
}

async fn home_page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    p.authorize(Permission::ViewFallback, &p.user.org_path)?;
    let pool = state.store.reader();
    let scope = &p.user.org_path;
    let list = |state: Option<CaseState>, open: bool, owner: Option<i64>| CaseFilter {
        state,
        open,
        owner_user_id: owner,
        before_id: None,
        limit: 100,
    };
    let handed_over =
        store::list(pool, scope, &list(Some(CaseState::HandedOver), false, None)).await?;
    let unowned: Vec<FallbackCase> =
        store::list(pool, scope, &list(Some(CaseState::Received), false, None))
            .await?
            .into_iter()
            .filter(|c| c.owner_user_id.is_none())
            .collect();
    let mine = store::list(pool, scope, &list(None, true, Some(p.user.id))).await?;
    let open = store::list(pool, scope, &list(None, true, None)).await?;
    let counts = store::counts_by_state(pool, scope)
        .await?
        .into_iter()
        .map(|(s, n)| (s.label(), n))
        .collect();
    let open_rows = rows(&state, open).await;
    render(&HomePage {
        chrome: Chrome::new(&state, &ctx, "办不成事窗口"),
        may_intake: p.authorize(Permission::HandleFallback, scope).is_ok(),
        handed_over: rows(&state, handed_over).await,
        unowned: rows(&state, unowned).await,
        mine: rows(&state, mine).await,
        overdue: open_rows.iter().filter(|r| r.red).cloned().collect(),
        open: open_rows,
        counts,
        limits: store::limits(pool).await?,
    })
}

#[derive(Template)]
#[template(path = "fallback_new.html")]
struct NewPage {
    chrome: Chrome,
    errors: Vec<FieldError>,
    form: FormData,
    online: bool,
    windows: Vec<Window>,
    done: Option<String>,
}

impl NewPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
    fn checked(&self, name: &str, value: &str) -> bool {
        self.form.get(name) == value
    }
}

async fn new_page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    p.authorize(Permission::HandleFallback, &p.user.org_path)?;
    let mut form = FormData::default();
    form.0.push(("channel".into(), "window".into()));
    form.0.push(("case_type".into(), "coordination".into()));
    render(&NewPage {
        chrome: Chrome::new(&state, &ctx, "办不成事登记"),
        errors: vec![],
        form,
        online: false,
        windows: vec![],
        done: None,
    })
}

fn intake_from(form: &FormData) -> IntakeInput {
    let yes = |n: &str| form.get(n) == "1";
    IntakeInput {
        channel: form.get("channel").into(),
        case_type: form.get("case_type").into(),
        external_id: Some(form.get("external_id").to_string()).filter(|e| !e.trim().is_empty()),
        title: form.get("title").into(),
        description: form.get("description").into(),
        person_name: form.get("person_name").into(),
        person_phone: form.get("person_phone").into(),
        company_name: form.get("company_name").into(),
        tried_ordinary: yes("tried_ordinary"),
        tried_what: form.get("tried_what").into(),
        tried_where: form.get("tried_where").into(),
        linked_ref: form.get("linked_ref").into(),
        multi_department: yes("multi_department"),
        policy_room: yes("policy_room"),
    }
}

async fn new_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    form: FormData,
) -> PageResult {
    match intake(&state, &p, &intake_from(&form)).await {
        Ok(c) => Ok(Redirect::to(&format!("/fallback/cases/{}/receipt", c.id)).into_response()),
        Err(AppError::Invalid(f)) => render_form(
            &NewPage {
                chrome: Chrome::new(&state, &ctx, "办不成事登记"),
                errors: f.0,
                form,
                online: false,
                windows: vec![],
                done: None,
            },
            true,
        ),
        Err(e) => Err(e.into()),
    }
}

/// One entry of the chain in words.
pub struct EventRow {
    pub at: String,
    pub actor: String,
    pub words: String,
}

fn event_words(e: &CaseEvent) -> String {
    let d = &e.detail;
    let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
    match e.action.as_str() {
        "intake" => format!(
            "受理（{}）",
            rules::Channel::parse(&s("channel")).map_or("", |c| c.label())
        ),
        "accept" => "接收12345转办，首接负责".into(),
        "take" => "认领网上反映，首接负责".into(),
        "return" => format!("退回12345：{}", s("reason")),
        "refuse" => format!("不予受理：{}；请到{}办理", s("reason"), s("right_channel")),
        "hand_over" => format!("移交给{}：{}", s("to_name"), s("reason")),
        "classify" => format!(
            "分类定级：{}，{}",
            CaseType::parse(&s("case_type")).map_or("", |t| t.label()),
            ResponseTier::parse(&s("tier")).map_or("", |t| t.label())
        ),
        "open_round" => format!(
            "发起第{}轮部门协调：{}",
            d["round"],
            d["tasks"]
                .as_array()
                .map(|a| a
                    .iter()
                    .filter_map(|t| t["department"].as_str())
                    .collect::<Vec<_>>()
                    .join("、"))
                .unwrap_or_default()
        ),
        "raise_tier" => format!(
            "提级到{}：{}",
            ResponseTier::parse(&s("to")).map_or("", |t| t.label()),
            s("reason")
        ),
        "coordinated" => format!("协调完成：{}", s("summary")),
        "ask_extension" => format!("申请延期{}个工作日：{}", d["days"], s("reason")),
        "decide_extension" => format!(
            "延期审批：{}{}",
            if d["approve"] == true {
                "同意"
            } else {
                "不同意"
            },
            Some(s("note"))
                .filter(|n| !n.is_empty())
                .map(|n| format!("（{n}）"))
                .unwrap_or_default()
        ),
        "conclude" => format!(
            "办结：{}。{}",
            Outcome::parse(&s("outcome")).map_or("", |o| o.label()),
            s("conclusion")
        ),
        "feedback" => format!(
            "{}：{}",
            FeedbackWay::parse(&s("way")).map_or("反馈", |w| w.label()),
            s("text")
        ),
        "verify" => format!("核查：{}", s("note")),
        "file" => "备案".into(),
        "task_replied" => format!("{}答复", s("department")),
        "task_refused" => format!("{}作出否定答复报告", s("department")),
        "meeting" => format!(
            "召开{}（{}）",
            ResponseTier::parse(&s("tier")).map_or("会议", |t| t.label()),
            s("held_on")
        ),
        "expert_invited" => format!("邀请专家咨询：{}", s("question")),
        "expert_opinion" => "记录专家意见".into(),
        other => other.to_string(),
    }
}

/// A step of the loop as the case page and the progress page draw it.
pub struct LoopStep {
    pub label: &'static str,
    pub at: String,
    pub done: bool,
}

fn loop_steps(c: &FallbackCase) -> Vec<LoopStep> {
    rules::LOOP
        .iter()
        .zip(reached_steps(c))
        .map(|((_, label), at)| LoopStep {
            label,
            at: at.map(format_local).unwrap_or_default(),
            done: at.is_some(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "fallback_case.html")]
struct CasePage {
    chrome: Chrome,
    c: FallbackCase,
    steps: Vec<LoopStep>,
    events: Vec<EventRow>,
    tasks: Vec<Task>,
    meetings: Vec<Meeting>,
    opinions: Vec<Opinion>,
    due: String,
    light: String,
    stage: String,
    /// The caller owns the case (首接负责) and may work it.
    owner: bool,
    officer: bool,
    supervisor: bool,
    departments: Vec<(i64, String)>,
    officers: Vec<(i64, String)>,
    negative: Vec<(i64, String, String)>,
    experts: Vec<(i64, String)>,
    tags: Vec<String>,
    next_tier: Option<&'static str>,
    rounds_left: i64,
    /// Solved cases of the library like this one (shown while it is being worked out).
    similar: Vec<library::LibraryEntry>,
    masked_name: String,
    masked_phone: String,
    outcomes: Vec<(&'static str, &'static str)>,
    ways: Vec<(&'static str, &'static str)>,
    levels: Vec<(&'static str, &'static str)>,
    case_types: Vec<(&'static str, &'static str)>,
    tiers: Vec<(&'static str, &'static str)>,
    extension_asked: bool,
    extension_unused: bool,
    errors: Vec<FieldError>,
    form: FormData,
}

impl CasePage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
    /// An error of `field` when the form of `act` was the one sent (several forms on the
    /// page have a `reason`).
    fn err(&self, act: &str, field: &str) -> Option<&str> {
        (self.form.get("act") == act)
            .then(|| self.error_for(field))
            .flatten()
    }
    fn is(&self, state: &str) -> bool {
        self.c.state.as_str() == state
    }
    fn same(&self, a: &str, b: &str) -> bool {
        a == b
    }
    fn has_tag(&self, tag: &str) -> bool {
        self.c.tags.iter().any(|t| t == tag)
    }
}

fn choices<T: Copy>(
    all: &[T],
    f: impl Fn(T) -> (&'static str, &'static str),
) -> Vec<(&'static str, &'static str)> {
    all.iter().map(|v| f(*v)).collect()
}

async fn case_view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    id: i64,
    form: FormData,
    errors: Vec<FieldError>,
) -> PageResult {
    let c = get_case(state, p, id).await?;
    let pool = state.store.reader();
    let who = acting(p, &c.org_path);
    let item = match c.tracked_item_id {
        Some(i) => onewindow_store::escalation::get(pool, i)
            .await
            .ok()
            .filter(|i| i.state == "open"),
        None => None,
    };
    let stage = item
        .as_ref()
        .and_then(|i| {
            rules::case_kind(rules::Limits::default())
                .stage(&i.stage)
                .map(|s| s.label.clone())
        })
        .unwrap_or_default();
    let departments = store::departments(pool).await?;
    let negative = reference::active_negative_list(pool, &c.org_path)
        .await?
        .into_iter()
        .map(|e| (e.id, e.title, e.right_channel))
        .collect();
    let experts = reference::experts_visible(pool, &c.org_path, false)
        .await?
        .into_iter()
        .map(|x| (x.id, format!("{}（{}）", x.name, x.field)))
        .collect();
    let mut tags: Vec<String> = reference::active_tags(pool, &c.org_path)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    for t in &c.tags {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    let limits = store::limits(pool).await?;
    let similar = if matches!(c.state, CaseState::Received | CaseState::Coordinating) {
        library::similar(
            pool,
            &p.user.org_path,
            &format!("{} {}", c.title, c.description),
            3,
        )
        .await?
        .into_iter()
        .filter(|e| e.case_id != c.id)
        .collect()
    } else {
        vec![]
    };
    let refused = !errors.is_empty();
    let page = CasePage {
        chrome: Chrome::new(state, ctx, format!("办不成事 {}", c.case_no)),
        steps: loop_steps(&c),
        events: store::events(pool, id)
            .await?
            .iter()
            .map(|e| EventRow {
                at: format_local(e.at),
                actor: e.actor.clone(),
                words: event_words(e),
            })
            .collect(),
        tasks: store::tasks_of_case(pool, id).await?,
        meetings: store::meetings(pool, id).await?,
        opinions: store::opinions(pool, id).await?,
        due: item
            .as_ref()
            .and_then(|i| i.due_at)
            .map(format_local)
            .unwrap_or_else(|| "—".into()),
        light: item
            .as_ref()
            .and_then(|i| i.light(state.now()))
            .map(|l| l.label().to_string())
            .unwrap_or_default(),
        stage,
        owner: who.officer && c.owner_user_id == Some(p.user.id),
        officer: who.officer,
        supervisor: who.supervisor,
        departments,
        officers: store::officers(pool, c.org_id)
            .await?
            .into_iter()
            .filter(|(u, _)| Some(*u) != c.owner_user_id)
            .collect(),
        negative,
        experts,
        tags,
        next_tier: c.tier.next().map(|t| t.label()),
        rounds_left: i64::from(limits.max_rounds_per_tier) - c.rounds_in_tier,
        similar,
        masked_name: mask_name(&c.person_name),
        masked_phone: mask_phone(&c.person_phone),
        outcomes: choices(Outcome::ALL, |o| (o.as_str(), o.label())),
        ways: choices(FeedbackWay::ALL, |w| (w.as_str(), w.label())),
        levels: choices(&Level::ALL, |l| (l.as_str(), l.label())),
        case_types: choices(CaseType::ALL, |t| (t.as_str(), t.label())),
        tiers: choices(ResponseTier::ALL, |t| (t.as_str(), t.label())),
        extension_asked: c.extension_state == ExtensionState::Asked,
        extension_unused: c.extension_state == ExtensionState::None,
        c,
        errors,
        form,
    };
    render_form(&page, refused)
}

async fn case_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
) -> PageResult {
    case_view(&state, &p, &ctx, id, FormData::default(), vec![]).await
}

/// The act a case page's form posts, read from its fields.
fn act_from(form: &FormData) -> Result<Act, AppError> {
    let text = |n: &str| form.get(n).to_string();
    let need = |v: Option<i64>, field: &str, message: &str| {
        v.ok_or_else(|| AppError::invalid(field, "required", message))
    };
    Ok(match form.get("act") {
        "accept" => Act::Accept,
        "return" => Act::Return {
            reason: text("reason"),
        },
        "take" => Act::Take,
        "refuse" => Act::Refuse {
            entry_id: form.get("entry_id").trim().parse().ok(),
            reason: text("reason"),
            right_channel: text("right_channel"),
        },
        "hand_over" => Act::HandOver {
            to_user_id: need(
                form.get("to_user_id").trim().parse().ok(),
                "to_user_id",
                "请选择接手的专员",
            )?,
            reason: text("reason"),
        },
        "classify" => Act::Classify {
            case_type: CaseType::parse(form.get("case_type"))
                .ok_or_else(|| AppError::invalid("case_type", "required", "请选择案件类型"))?,
            tags: form.all("tags").into_iter().map(str::to_string).collect(),
            tier: ResponseTier::parse(form.get("tier"))
                .ok_or_else(|| AppError::invalid("tier", "required", "请选择响应层级"))?,
        },
        "open_round" => Act::OpenRound {
            departments: form
                .all("departments")
                .into_iter()
                .filter_map(|d| d.trim().parse().ok())
                .collect(),
            request: text("request"),
        },
        "raise_tier" => Act::RaiseTier {
            reason: text("reason"),
        },
        "coordinated" => Act::Coordinated {
            summary: text("summary"),
        },
        "ask_extension" => Act::AskExtension {
            days: form.get("days").trim().parse().unwrap_or(0),
            reason: text("reason"),
        },
        "decide_extension" => Act::DecideExtension {
            approve: form.get("approve") == "1",
            note: text("note"),
        },
        "conclude" => Act::Conclude {
            outcome: Outcome::parse(form.get("outcome"))
                .ok_or_else(|| AppError::invalid("outcome", "required", "请选择办理结果"))?,
            conclusion: text("conclusion"),
            reason: text("reason"),
        },
        "feedback" => Act::Feedback {
            way: FeedbackWay::parse(form.get("way"))
                .ok_or_else(|| AppError::invalid("way", "required", "请选择反馈方式"))?,
            text: text("text"),
        },
        "verify" => Act::Verify {
            note: text("note"),
            satisfaction: Level::parse(form.get("satisfaction")),
        },
        "file" => Act::File,
        _ => return Err(AppError::invalid("act", "unknown_act", "没有这一步")),
    })
}

async fn act_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let version = form.get("version").trim().parse().ok();
    let result = match act_from(&form) {
        Ok(act) => take_act(&state, &p, id, version, &act).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) if form.get("act") == "refuse" => {
            Ok(Redirect::to(&format!("/fallback/cases/{id}/refusal")).into_response())
        }
        Ok(()) => Ok(Redirect::to(&format!("/fallback/cases/{id}")).into_response()),
        Err(AppError::Invalid(f)) => case_view(&state, &p, &ctx, id, form, f.0).await,
        Err(e) => Err(e.into()),
    }
}

async fn meeting_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let held_on = form.get("held_on").trim().parse::<chrono::NaiveDate>();
    let result = match held_on {
        Err(_) => Err(AppError::invalid("held_on", "bad_date", "请填写会议日期")),
        Ok(held_on) => {
            let owner = form.get("decision_owner").trim().parse::<i64>().ok();
            let due = form
                .get("decision_due")
                .trim()
                .parse::<chrono::NaiveDate>()
                .ok();
            let mut decisions = vec![];
            if !form.get("decision_text").trim().is_empty() {
                match (owner, due) {
                    (Some(owner_org_id), Some(due_on)) => decisions.push(Decision {
                        text: form.get("decision_text").to_string(),
                        owner_org_id,
                        due_on,
                        owner_org_name: String::new(),
                    }),
                    _ => {
                        return case_view(
                            &state,
                            &p,
                            &ctx,
                            id,
                            form.clone(),
                            vec![FieldError {
                                field: "decision_text".into(),
                                code: "required".into(),
                                message: "议定事项须写明责任部门和完成时限".into(),
                            }],
                        )
                        .await
                    }
                }
            }
            let input = MeetingInput {
                held_on,
                departments: form
                    .all("departments")
                    .into_iter()
                    .filter_map(|d| d.trim().parse().ok())
                    .collect(),
                minutes: form.get("minutes").to_string(),
                decisions,
            };
            record_meeting(&state, &p, id, &input).await.map(|_| ())
        }
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/fallback/cases/{id}")).into_response()),
        Err(AppError::Invalid(f)) => case_view(&state, &p, &ctx, id, form, f.0).await,
        Err(e) => Err(e.into()),
    }
}

async fn expert_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let result = match form.get("expert_id").trim().parse::<i64>() {
        Ok(expert) => invite_expert(&state, &p, id, expert, form.get("question"))
            .await
            .map(|_| ()),
        Err(_) => Err(AppError::invalid("expert_id", "required", "请选择专家")),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/fallback/cases/{id}")).into_response()),
        Err(AppError::Invalid(f)) => case_view(&state, &p, &ctx, id, form, f.0).await,
        Err(e) => Err(e.into()),
    }
}

async fn opinion_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let c = get_case(&state, &p, id).await?;
    let opinion_id: i64 = form
        .get("opinion_id")
        .trim()
        .parse()
        .map_err(|_| AppError::NotFound)?;
    match record_opinion(&state, &p, opinion_id, &c.org_path, form.get("opinion")).await {
        Ok(()) => Ok(Redirect::to(&format!("/fallback/cases/{id}")).into_response()),
        Err(AppError::Invalid(f)) => case_view(&state, &p, &ctx, id, form, f.0).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "fallback_receipt.html")]
struct ReceiptPage {
    chrome: Chrome,
    c: FallbackCase,
    received: String,
    close_due: String,
    progress_url: String,
}

async fn receipt_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> PageResult {
    let c = get_case(&state, &p, id).await?;
    let base = crate::cases::intake::public_base(&state, &headers);
    render(&ReceiptPage {
        chrome: Chrome::new(&state, &ctx, format!("受理回执 {}", c.case_no)),
        received: format_local(c.received_at),
        close_due: c
            .close_due_at
            .map(format_local)
            .unwrap_or_else(|| "—".into()),
        progress_url: format!("{base}/fallback/progress?case_no={}", c.case_no),
        c,
    })
}

#[derive(Template)]
#[template(path = "fallback_refusal.html")]
struct RefusalPage {
    chrome: Chrome,
    c: FallbackCase,
    entry: Option<String>,
    refused: String,
    received: String,
}

async fn refusal_page(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
) -> PageResult {
    let c = get_case(&state, &p, id).await?;
    if c.refused_at.is_none() {
        return Err(AppError::NotFound.into());
    }
    let entry = match c.refusal_entry_id {
        Some(e) => Some(
            reference::get_negative(state.store.reader(), e)
                .await?
                .title,
        ),
        None => None,
    };
    render(&RefusalPage {
        chrome: Chrome::new(&state, &ctx, format!("不予受理告知书 {}", c.case_no)),
        refused: c.refused_at.map(format_local).unwrap_or_default(),
        received: format_local(c.received_at),
        entry,
        c,
    })
}

#[derive(Template)]
#[template(path = "fallback_tasks.html")]
struct TasksPage {
    chrome: Chrome,
    waiting: Vec<Task>,
    answered: Vec<Task>,
    errors: Vec<FieldError>,
    form: FormData,
    failed_task: Option<i64>,
}

impl TasksPage {
    fn due(&self, t: &Task) -> Option<String> {
        t.answer_due_at.map(format_local)
    }
    /// What was typed into a task's refused form, so it is not lost.
    fn kept(&self, task: &i64, name: &str) -> &str {
        if self.failed_task == Some(*task) {
            self.form.get(name)
        } else {
            ""
        }
    }
    fn error_for(&self, task: &i64, field: &str) -> Option<&str> {
        if self.failed_task != Some(*task) {
            return None;
        }
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

async fn tasks_view(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    form: FormData,
    errors: Vec<FieldError>,
    failed_task: Option<i64>,
) -> PageResult {
    p.authorize(Permission::AnswerFallbackTasks, &p.user.org_path)?;
    let all = store::department_inbox(state.store.reader(), &p.user.org_path, false, 100).await?;
    let (waiting, answered) = all.into_iter().partition(|t| t.state == TaskState::Sent);
    let refused = !errors.is_empty();
    render_form(
        &TasksPage {
            chrome: Chrome::new(state, ctx, "办不成事协调任务"),
            waiting,
            answered,
            errors,
            form,
            failed_task,
        },
        refused,
    )
}

async fn tasks_page(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    tasks_view(&state, &p, &ctx, FormData::default(), vec![], None).await
}

async fn answer_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let version = form.get("version").trim().parse().ok();
    let reply = if form.get("answer") == "refuse" {
        TaskAnswer::Refuse {
            report: RefusalReport {
                reasons: form.get("reasons").to_string(),
                legal_basis: form.get("legal_basis").to_string(),
            },
        }
    } else {
        TaskAnswer::Reply {
            reply: form.get("reply").to_string(),
        }
    };
    match answer(&state, &p, id, version, &reply).await {
        Ok(()) => Ok(Redirect::to("/fallback/tasks").into_response()),
        Err(AppError::Invalid(f)) => tasks_view(&state, &p, &ctx, form, f.0, Some(id)).await,
        Err(e) => Err(e.into()),
    }
}

// ---- the resident's pages ----

async fn apply_page(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    let windows = store::windows(state.store.reader()).await?;
    let mut form = FormData::default();
    form.0.push(("case_type".into(), "coordination".into()));
    render(&NewPage {
        chrome: Chrome::new(&state, &ctx, "反映“办不成事”问题"),
        errors: vec![],
        form,
        online: true,
        windows,
        done: None,
    })
}

async fn apply_form(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    form: FormData,
) -> PageResult {
    let windows = store::windows(state.store.reader()).await?;
    let ip = crate::auth::client_ip(&state, &headers, peer.as_ref().map(|e| &e.0))
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let phone = form.get("person_phone").trim().to_string();
    let limited = state
        .submit_limits
        .take(&ip, &phone, state.now())
        .map_err(|retry_after_secs| AppError::TooManySubmissions { retry_after_secs });
    let org_id: i64 = form.get("org").trim().parse().unwrap_or(0);
    let result = match limited {
        Ok(()) => intake_online(&state, org_id, &intake_from(&form)).await,
        Err(e) => Err(e),
    };
    let page = |errors, done| NewPage {
        chrome: Chrome::new(&state, &ctx, "反映“办不成事”问题"),
        errors,
        form: form.clone(),
        online: true,
        windows: windows.clone(),
        done,
    };
    match result {
        Ok(c) => render(&page(
            vec![],
            Some(format!(
                "已受理。案件编号 {}，查询码 {}。请记下这两项，凭它们在“办理进度”查询。窗口专员将在{}小时内与您联系。",
                c.case_no,
                c.query_code,
                store::limits(state.store.reader()).await?.respond_hours
            )),
        )),
        Err(AppError::Invalid(f)) => {
            state.submit_limits.give_back(&ip, &phone);
            render_form(&page(f.0, None), true)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
struct ProgressQuery {
    #[serde(default)]
    case_no: String,
    #[serde(default)]
    code: String,
}

#[derive(Template)]
#[template(path = "fallback_progress.html")]
struct ProgressPage {
    chrome: Chrome,
    case_no: String,
    found: Option<FallbackCase>,
    steps: Vec<LoopStep>,
    error: Option<String>,
    received: String,
    close_due: String,
    code: String,
    may_rate: bool,
    levels: Vec<(&'static str, &'static str)>,
    rated: Option<String>,
}

async fn progress_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ProgressQuery>,
) -> PageResult {
    let mut page = ProgressPage {
        chrome: Chrome::new(&state, &ctx, "办不成事办理进度"),
        case_no: q.case_no.chars().take(40).collect(),
        found: None,
        steps: vec![],
        error: None,
        received: String::new(),
        close_due: String::new(),
        code: q.code.chars().take(20).collect(),
        may_rate: false,
        levels: choices(&Level::ALL, |l| (l.as_str(), l.label())),
        rated: None,
    };
    if !q.case_no.trim().is_empty() || !q.code.trim().is_empty() {
        match find_for_person(&state, &q.case_no, &q.code).await {
            Ok(c) => {
                page.may_rate = rules::may_rate(c.state, c.satisfaction.is_some()).is_ok();
                page.rated = c
                    .satisfaction
                    .as_deref()
                    .and_then(Level::parse)
                    .map(|l| l.label().to_string());
                page.steps = loop_steps(&c);
                page.received = format_local(c.received_at);
                page.close_due = c.close_due_at.map(format_local).unwrap_or_default();
                page.found = Some(c);
            }
            Err(AppError::NotFound) => {
                page.error = Some("没有找到这个案件，请核对案件编号和查询码".into())
            }
            Err(e @ AppError::Invalid(_)) => {
                page.error = e.fields().first().map(|f| f.message.clone())
            }
            Err(e) => return Err(e.into()),
        }
    }
    let refused = page.error.is_some();
    render_form(&page, refused)
}

async fn rating_form(State(state): State<AppState>, form: FormData) -> PageResult {
    let (no, code) = (form.get("case_no"), form.get("code"));
    match super::cases::rate_by_person(&state, no, code, form.get("satisfaction")).await {
        Ok(_) | Err(AppError::Conflict { .. }) => Ok(Redirect::to(&format!(
            "/fallback/progress?case_no={}&code={}",
            crate::context::urlencode(no),
            crate::context::urlencode(code)
        ))
        .into_response()),
        Err(e) => Err(e.into()),
    }
}
