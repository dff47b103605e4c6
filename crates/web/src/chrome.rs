//! The page chrome every page shares: title, signed-in user, navigation by permission,
//! CSRF token for forms, large-text mode. Capabilities add their entries to [`NAV`].

use crate::context::Ctx;
use crate::AppState;
use onewindow_domain::access::Permission;

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

/// Navigation entries and the permission each needs (`None`: any signed-in user).
const NAV: &[(&str, &str, Option<Permission>)] = &[
    ("/home", "工作台", None),
    ("/window", "综合受理", Some(Permission::HandleIntake)),
    ("/dept", "后台审批", Some(Permission::ReviewCases)),
    ("/counter", "窗口叫号", Some(Permission::OperateWindow)),
    ("/desk", "导办取号", Some(Permission::IssueTickets)),
    ("/guide", "办事指南", None),
    (
        "/admin/catalog",
        "事项目录",
        Some(Permission::ManageCatalog),
    ),
    (
        "/admin/calendar",
        "工作日历",
        Some(Permission::ManageCalendar),
    ),
    ("/admin/orgs", "机构", Some(Permission::ViewOrgs)),
    ("/admin/users", "人员", Some(Permission::ViewUsers)),
    (
        "/admin/api-keys",
        "API密钥",
        Some(Permission::ManageApiKeys),
    ),
    ("/admin/audit", "审计日志", Some(Permission::ViewAudit)),
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
    pub path: String,
    pub demo: bool,
}

impl Chrome {
    pub fn new(state: &AppState, ctx: &Ctx, title: impl Into<String>) -> Chrome {
        let mut nav = Vec::new();
        let mut user = None;
        if let Some(p) = &ctx.principal {
            let actor = p.actor();
            for (href, label, perm) in NAV {
                if perm.is_none_or(|perm| actor.may(perm)) {
                    nav.push(NavItem {
                        href,
                        label,
                        active: ctx.path == *href || (href.len() > 5 && ctx.path.starts_with(href)),
                    });
                }
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
            path: ctx.path.clone(),
            demo: state.config.demo,
        }
    }
}
