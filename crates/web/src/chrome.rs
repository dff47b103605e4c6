//! The page chrome every page shares: title, signed-in user, navigation by permission,
//! CSRF token for forms, large-text mode. Capabilities add their entries to [`NAV`].

use crate::context::Ctx;
use crate::AppState;
use onewindow_domain::access::{Actor, Permission};

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

/// What a navigation entry needs of the signed-in user.
#[derive(Clone, Copy)]
pub enum Need {
    /// Any signed-in user.
    Anyone,
    /// A role carrying the permission (the page then checks scope per record).
    Permission(Permission),
    /// The permission, and a rule of the page's own about where the user sits (the audit
    /// log: at the root only). The rule is the page's, so the link and the page agree.
    Rule(Permission, fn(&Actor) -> bool),
}

/// One entry of the navigation: where it leads, its name, and who may use it.
pub struct NavEntry {
    pub href: &'static str,
    pub label: &'static str,
    pub need: Need,
}

impl NavEntry {
    /// The permission the entry needs, if any.
    pub fn permission(&self) -> Option<Permission> {
        match self.need {
            Need::Anyone => None,
            Need::Permission(p) | Need::Rule(p, _) => Some(p),
        }
    }

    /// Whether `actor` may use the page the entry leads to.
    pub fn usable_by(&self, actor: &Actor) -> bool {
        match self.need {
            Need::Anyone => true,
            Need::Permission(p) => actor.may(p),
            Need::Rule(p, rule) => actor.may(p) && rule(actor),
        }
    }
}

const fn entry(href: &'static str, label: &'static str, need: Need) -> NavEntry {
    NavEntry { href, label, need }
}

/// The navigation table: every staff page and what it needs. The header's navigation and
/// the workbench's links (`home.rs`) both read it, so neither offers a page that refuses.
pub const NAV: &[NavEntry] = &[
    entry("/home", "工作台", Need::Anyone),
    entry(
        "/window",
        "综合受理",
        Need::Permission(Permission::HandleIntake),
    ),
    entry(
        "/dept",
        "后台审批",
        Need::Permission(Permission::ReviewCases),
    ),
    entry(
        "/counter",
        "窗口叫号",
        Need::Permission(Permission::OperateWindow),
    ),
    entry(
        "/desk",
        "导办取号",
        Need::Permission(Permission::IssueTickets),
    ),
    entry(
        "/window/cashup",
        "收费日结",
        Need::Permission(Permission::ViewCashup),
    ),
    entry("/figures", "统计", Need::Permission(Permission::ViewCases)),
    entry("/guide", "办事指南", Need::Anyone),
    entry("/inbox", "通知", Need::Anyone),
    entry(
        "/outbox",
        "短信记录",
        Need::Permission(Permission::ViewCases),
    ),
    entry(
        "/admin/catalog",
        "事项目录",
        Need::Permission(Permission::ManageCatalog),
    ),
    entry(
        "/admin/materials",
        "材料目录",
        Need::Permission(Permission::ManageCatalog),
    ),
    entry(
        "/admin/calendar",
        "工作日历",
        Need::Permission(Permission::ManageCalendar),
    ),
    entry(
        "/ratings",
        "好差评",
        Need::Permission(Permission::ViewRatings),
    ),
    entry(
        "/ratings/rectifications",
        "差评整改",
        Need::Permission(Permission::RectifyRatings),
    ),
    entry(
        "/fallback",
        "办不成事",
        Need::Permission(Permission::ViewFallback),
    ),
    entry(
        "/complaints",
        "接诉即办",
        Need::Permission(Permission::ViewComplaints),
    ),
    entry(
        "/complaints/new",
        "登记诉求",
        Need::Permission(Permission::TakeComplaints),
    ),
    entry(
        "/grid",
        "网格事件",
        Need::Permission(Permission::ViewGridEvents),
    ),
    entry(
        "/grid/figures",
        "网格统计",
        Need::Permission(Permission::ViewGridEvents),
    ),
    entry(
        "/grid/categories",
        "事件类别",
        Need::Permission(Permission::ManageGridCategories),
    ),
    // The grid worker's phone pages (and staff reporting for a resident).
    entry(
        "/grid/report",
        "上报事件",
        Need::Permission(Permission::ReportGridEvents),
    ),
    // Only a grid worker's own reports are theirs to confirm; a desk reporting for a
    // resident records the resident as the reporter.
    entry(
        "/grid/mine",
        "我的上报",
        Need::Rule(Permission::ReportGridEvents, is_grid_worker),
    ),
    // One inbox for a department: its requests and the fallback window's tasks.
    entry(
        "/complaints/inbox",
        "部门待办",
        Need::Permission(Permission::HandleComplaints),
    ),
    entry(
        "/admin/orgs",
        "机构",
        Need::Permission(Permission::ViewOrgs),
    ),
    entry(
        "/admin/users",
        "人员",
        Need::Permission(Permission::ViewUsers),
    ),
    entry(
        "/admin/api-keys",
        "API密钥",
        Need::Permission(Permission::ManageApiKeys),
    ),
    entry(
        "/admin/audit",
        "审计日志",
        Need::Rule(Permission::ViewAudit, crate::audit_log::may_view),
    ),
];

pub struct UserBadge {
    pub display_name: String,
    pub username: String,
    pub org_name: String,
    pub roles: String,
}

pub struct Chrome {
    pub title: String,
    pub user: Option<UserBadge>,
    pub nav: Vec<NavItem>,
    pub csrf: String,
    pub large_text: bool,
    /// The page's own address, path and query: where the large-text switch returns to.
    pub path: String,
    pub demo: bool,
    /// Unread notices (站内通知) of the signed-in user: the header's count.
    pub unread: Option<i64>,
}

impl Chrome {
    pub fn new(state: &AppState, ctx: &Ctx, title: impl Into<String>) -> Chrome {
        let mut nav = Vec::new();
        let mut user = None;
        if let Some(p) = &ctx.principal {
            let actor = p.actor();
            for e in NAV.iter().filter(|e| e.usable_by(&actor)) {
                nav.push(NavItem {
                    href: e.href,
                    label: e.label,
                    active: ctx.path == e.href
                        || (e.href.len() > 5 && ctx.path.starts_with(e.href)),
                });
            }
            user = Some(UserBadge {
                display_name: p.user.display_name.clone(),
                username: p.user.username.clone(),
                org_name: p.user.org_name.clone(),
                roles: p
                    .user
                    .roles
                    .iter()
                    .map(|r| r.label())
                    .collect::<Vec<_>>()
                    .join("、"),
            });
        }
        Chrome {
            title: title.into(),
            user,
            nav,
            csrf: ctx.csrf_token.clone(),
            large_text: ctx.large_text,
            // The query is kept when the whole address is one the switch may return to
            // (`context::safe_next`'s bound); a longer one is not echoed into every form.
            path: if ctx.query.is_empty()
                || ctx.path.len() + 1 + ctx.query.len() > crate::context::MAX_NEXT_LEN
            {
                ctx.path.clone()
            } else {
                format!("{}?{}", ctx.path, ctx.query)
            },
            demo: state.config.demo,
            unread: ctx.unread,
        }
    }
}

/// Whether the actor is a grid worker (the NAV rule of 我的上报).
fn is_grid_worker(actor: &Actor) -> bool {
    actor.has_role(onewindow_domain::access::Role::GridWorker)
}
