//! The signed-in home page: one workbench section per role the user holds.

use crate::chrome::Chrome;
use crate::context::PageUser;
use crate::error::PageResult;
use crate::pages::render;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use onewindow_domain::access::{Permission, Role};
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

fn duty(role: Role) -> &'static str {
    match role {
        Role::Admin => "维护机构、人员、角色与系统设置，管理API密钥，核验审计日志。",
        Role::Supervisor => "查看管辖范围内的办件时效、满意度与超期预警，核查审计记录。",
        Role::GuideDesk => "引导群众取号、预审材料，帮助老年人和特殊群体办事。",
        Role::WindowClerk => "叫号、综合受理各类事项申请，统一出件。",
        Role::Approver => "审批分派到本部门的办件：通过、不予通过或退回补正。",
        Role::FallbackOfficer => "受理“办不成事”反映，首接负责，协调相关部门直至办结。",
        Role::GridWorker => "巡查网格，上报事件（位置、照片、描述），确认处置结果。",
        Role::DeptHandler => "签收派发到本部门的事件与诉求，处置并反馈。",
    }
}

fn links(role: Role) -> Vec<(&'static str, &'static str)> {
    let mut l = match role {
        Role::WindowClerk => vec![("/counter", "窗口叫号"), ("/window", "综合受理与出件")],
        Role::Approver => vec![("/dept", "本部门待审批办件")],
        Role::GuideDesk => vec![
            ("/desk", "取号、预约签到"),
            ("/guide", "办事指南（给群众讲解）"),
        ],
        Role::Admin => vec![
            ("/admin/catalog", "事项目录"),
            ("/admin/calendar", "工作日历"),
        ],
        _ => vec![],
    };
    l.push(("/admin/orgs", "查看机构"));
    if [Role::Admin, Role::Supervisor].contains(&role) {
        l.push(("/admin/users", "人员与角色"));
        l.push(("/admin/audit", "审计日志"));
    }
    if role == Role::Admin {
        l.push(("/admin/api-keys", "API密钥"));
    }
    l
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
    let audit_head = if p.actor().may(Permission::ViewAudit) {
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
            links: links(*r),
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
