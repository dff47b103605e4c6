//! The signed-in home page: one workbench section per role the user holds.

use crate::chrome::Chrome;
use crate::chrome::NAV;
use crate::context::PageUser;
use crate::error::PageResult;
use crate::pages::render;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use onewindow_domain::access::{Actor, Permission, Role};
use onewindow_store::{audit, orgs};

pub fn router() -> Router<AppState> {
    Router::new().route("/home", get(home))
}

/// What a role's workbench says it is for, and the links it offers now.
pub struct Workbench {
    pub role: &'static str,
    pub title: &'static str,
    pub duty: &'static str,
    pub links: Vec<(&'static str, &'static str)>,
}

/// What each role's workbench says it is for: only what the product does today.
fn duty(role: Role) -> &'static str {
    match role {
        Role::Admin => "维护机构、人员与角色，管理事项目录、工作日历和API密钥。",
        Role::Supervisor => "查看管辖范围内的机构和工作人员。",
        Role::GuideDesk => "引导群众取号、办理预约签到，用办事指南讲解要带的材料。",
        Role::WindowClerk => "叫号，综合受理各类事项申请，打印受理回执或一次性告知书，统一出件。",
        Role::Approver => "审批分派到本部门的办件：通过、不予批准或退回补正。",
        Role::FallbackOfficer => {
            "首接负责群众反映的“办不成事”问题：受理、分类定级、协调部门、办结、反馈、核查、备案。"
        }
        Role::GridWorker => "巡查网格。事件上报功能尚未开通，目前可查看办事指南和机构。",
        Role::DeptHandler => {
            "签收、办理并答复派发到本部门的接诉即办诉求，答复办不成事窗口发来的协调任务（网格事件处置尚未开通）。"
        }
        Role::Dispatcher => {
            "接听、登记群众诉求（首接负责），查重，派单到部门，审核退单，回访并告知结果。"
        }
    }
}

/// How a workbench names a page, where it says more than the navigation's word.
const WORKBENCH_WORDS: &[(&str, &str)] = &[
    ("/window", "综合受理与出件"),
    ("/dept", "本部门待审批办件"),
    ("/desk", "取号、预约签到"),
    ("/guide", "办事指南"),
    ("/admin/orgs", "查看机构"),
    ("/admin/users", "人员与角色"),
    ("/fallback", "办不成事案件"),
    ("/fallback/tasks", "办不成事协调任务"),
    ("/complaints", "接诉即办诉求"),
    ("/complaints/new", "登记来电诉求"),
    ("/complaints/inbox", "部门待办（诉求与协调任务）"),
];

/// Pages open to anyone that a role's work starts from (the rest follow from permissions).
fn open_pages(role: Role) -> &'static [&'static str] {
    match role {
        Role::GuideDesk
        | Role::FallbackOfficer
        | Role::GridWorker
        | Role::DeptHandler
        | Role::Dispatcher => &["/guide"],
        _ => &[],
    }
}

/// The links of `role`'s workbench: the navigation entries whose permission the role
/// carries and which this user may use where they sit (`chrome::NAV`, the same rule as
/// the header), and the open pages the role's work starts from.
pub fn links(role: Role, actor: &Actor) -> Vec<(&'static str, &'static str)> {
    NAV.iter()
        .filter(|e| e.href != "/home" && e.usable_by(actor))
        .filter(|e| match e.permission() {
            Some(p) => p.granted_to().contains(&role),
            None => open_pages(role).contains(&e.href),
        })
        .map(|e| {
            let word = WORKBENCH_WORDS
                .iter()
                .find(|(h, _)| *h == e.href)
                .map_or(e.label, |(_, w)| *w);
            (e.href, word)
        })
        .collect()
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    display_name: String,
    org_name: String,
    org_count: usize,
    workbenches: Vec<Workbench>,
    audit_head: Option<i64>,
    calendar_warning: Option<String>,
}

async fn home(State(state): State<AppState>, PageUser(p, ctx): PageUser) -> PageResult {
    let mut conn = state.store.reader().acquire().await?;
    let org_count = orgs::subtree(&mut *conn, &p.user.org_path).await?.len();
    let calendar_warning = if p.actor().may(Permission::ManageCalendar) {
        crate::calendar_admin::warning(&state).await?
    } else {
        None
    };
    let audit_head = if crate::audit_log::may_view(&p.actor()) {
        audit::newest(state.store.reader(), 1)
            .await?
            .first()
            .map(|e| e.seq)
    } else {
        None
    };
    let workbenches = p
        .user
        .roles
        .iter()
        .map(|r| Workbench {
            role: r.as_str(),
            title: r.workbench(),
            duty: duty(*r),
            links: links(*r, &p.actor()),
        })
        .collect();
    render(&HomePage {
        chrome: Chrome::new(&state, &ctx, "工作台"),
        display_name: p.user.display_name.clone(),
        org_name: p.user.org_name.clone(),
        org_count,
        workbenches,
        audit_head,
        calendar_warning,
    })
}
