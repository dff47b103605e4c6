//! Roles, permissions and organisation scope: the one place that decides who may do what.
//!
//! Every handler asks [`authorize`] with the actor and the organisation the data belongs
//! to. A grant needs both a role that carries the permission and the target inside the
//! actor's subtree. Capabilities add their permissions to [`Permission`] and the table in
//! [`Permission::granted_to`]; nothing else needs to change.

use crate::org::OrgPath;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Supervisor,
    GuideDesk,
    WindowClerk,
    Approver,
    FallbackOfficer,
    GridWorker,
    DeptHandler,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::Supervisor,
        Role::GuideDesk,
        Role::WindowClerk,
        Role::Approver,
        Role::FallbackOfficer,
        Role::GridWorker,
        Role::DeptHandler,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::GuideDesk => "guide_desk",
            Role::WindowClerk => "window_clerk",
            Role::Approver => "approver",
            Role::FallbackOfficer => "fallback_officer",
            Role::GridWorker => "grid_worker",
            Role::DeptHandler => "dept_handler",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "系统管理员",
            Role::Supervisor => "督查人员",
            Role::GuideDesk => "导办人员",
            Role::WindowClerk => "综合受理窗口人员",
            Role::Approver => "后台审批人员",
            Role::FallbackOfficer => "办不成事窗口专员",
            Role::GridWorker => "网格员",
            Role::DeptHandler => "部门处置人员",
        }
    }

    /// The title of this role's workbench (home page).
    pub fn workbench(self) -> &'static str {
        match self {
            Role::Admin => "系统管理工作台",
            Role::Supervisor => "督查监管工作台",
            Role::GuideDesk => "导办服务工作台",
            Role::WindowClerk => "综合受理工作台",
            Role::Approver => "后台审批工作台",
            Role::FallbackOfficer => "办不成事窗口工作台",
            Role::GridWorker => "网格工作台",
            Role::DeptHandler => "部门处置工作台",
        }
    }
}

/// What an actor wants to do. Grouped by capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read the organisation tree within scope.
    ViewOrgs,
    /// Create and rename organisations within scope.
    ManageOrgs,
    /// List staff accounts within scope.
    ViewUsers,
    /// Create, disable, re-role staff and reset passwords within scope.
    ManageUsers,
    /// Read the audit log and verify the chain.
    ViewAudit,
    /// Create and revoke API keys.
    ManageApiKeys,
    /// Edit, import and export the service item catalog.
    ManageCatalog,
    /// Load and edit the working-day calendar.
    ManageCalendar,
    /// Take in applications at the window, issue results, finish 即办 items.
    HandleIntake,
    /// Review cases routed to the department: take, approve, reject, return.
    ReviewCases,
    /// Read cases within scope.
    ViewCases,
    /// Issue queue tickets, check in and book appointments for people at the desk.
    IssueTickets,
    /// Open, pause and close a window; call, recall, skip, transfer, finish tickets.
    OperateWindow,
}

impl Permission {
    pub const ALL: [Permission; 13] = [
        Permission::ViewOrgs,
        Permission::ManageOrgs,
        Permission::ViewUsers,
        Permission::ManageUsers,
        Permission::ViewAudit,
        Permission::ManageApiKeys,
        Permission::ManageCatalog,
        Permission::ManageCalendar,
        Permission::HandleIntake,
        Permission::ReviewCases,
        Permission::ViewCases,
        Permission::IssueTickets,
        Permission::OperateWindow,
    ];

    /// The permission table. Kept as one match so a review reads it at a glance.
    pub fn granted_to(self) -> &'static [Role] {
        use Role::*;
        match self {
            Permission::ViewOrgs => &Role::ALL,
            Permission::ManageOrgs => &[Admin],
            Permission::ViewUsers => &[Admin, Supervisor],
            Permission::ManageUsers => &[Admin],
            Permission::ViewAudit => &[Admin, Supervisor],
            Permission::ManageApiKeys => &[Admin],
            Permission::ManageCatalog => &[Admin],
            Permission::ManageCalendar => &[Admin],
            Permission::HandleIntake => &[WindowClerk],
            Permission::ReviewCases => &[Approver],
            Permission::ViewCases => &[Admin, Supervisor, GuideDesk, WindowClerk, Approver],
            Permission::IssueTickets => &[GuideDesk, WindowClerk],
            Permission::OperateWindow => &[WindowClerk],
        }
    }
}

/// Who is acting: the roles they hold and the organisation they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub org_path: OrgPath,
    pub roles: Vec<Role>,
}

impl Actor {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn may(&self, permission: Permission) -> bool {
        permission.granted_to().iter().any(|r| self.has_role(*r))
    }
}

/// Why an action was refused. Both map to HTTP 403; the code says which test failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("当前角色无权执行此操作")]
    Role,
    #[error("该数据不属于您所在机构的管辖范围")]
    Scope,
}

impl Denied {
    pub fn code(&self) -> &'static str {
        match self {
            Denied::Role => "forbidden_role",
            Denied::Scope => "forbidden_scope",
        }
    }
}

/// The single authorisation rule: the actor holds a role granting `permission`, and
/// `target` (the organisation the data belongs to) lies within the actor's subtree.
pub fn authorize(actor: &Actor, permission: Permission, target: &OrgPath) -> Result<(), Denied> {
    if !actor.may(permission) {
        return Err(Denied::Role);
    }
    if !actor.org_path.contains(target) {
        return Err(Denied::Scope);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(path: &OrgPath, roles: &[Role]) -> Actor {
        Actor {
            user_id: 1,
            org_path: path.clone(),
            roles: roles.to_vec(),
        }
    }

    #[test]
    fn permission_table_role_by_role() {
        use Permission::*;
        use Role::*;
        let here = OrgPath::root(1).child(2);
        // (role, permission, allowed) for every pair: the table written out.
        let expected: &[(Role, &[Permission])] = &[
            (
                Admin,
                &[
                    ViewOrgs,
                    ManageOrgs,
                    ViewUsers,
                    ManageUsers,
                    ViewAudit,
                    ManageApiKeys,
                    ManageCatalog,
                    ManageCalendar,
                    ViewCases,
                ],
            ),
            (Supervisor, &[ViewOrgs, ViewUsers, ViewAudit, ViewCases]),
            (GuideDesk, &[ViewOrgs, ViewCases, IssueTickets]),
            (
                WindowClerk,
                &[
                    ViewOrgs,
                    HandleIntake,
                    ViewCases,
                    IssueTickets,
                    OperateWindow,
                ],
            ),
            (Approver, &[ViewOrgs, ReviewCases, ViewCases]),
            (FallbackOfficer, &[ViewOrgs]),
            (GridWorker, &[ViewOrgs]),
            (DeptHandler, &[ViewOrgs]),
        ];
        for (role, allowed) in expected {
            for p in Permission::ALL {
                let result = authorize(&actor(&here, &[*role]), p, &here);
                if allowed.contains(&p) {
                    assert_eq!(result, Ok(()), "{role:?} should have {p:?}");
                } else {
                    assert_eq!(result, Err(Denied::Role), "{role:?} must not have {p:?}");
                }
            }
        }
    }

    #[test]
    fn scope_refuses_siblings_and_parents() {
        let street = OrgPath::root(1).child(2).child(3);
        let community_a = street.child(10);
        let community_b = street.child(11);
        let admin_a = actor(&community_a, &[Role::Admin]);
        assert_eq!(
            authorize(&admin_a, Permission::ManageUsers, &community_a),
            Ok(())
        );
        assert_eq!(
            authorize(&admin_a, Permission::ManageUsers, &community_a.child(99)),
            Ok(())
        );
        assert_eq!(
            authorize(&admin_a, Permission::ManageUsers, &community_b),
            Err(Denied::Scope)
        );
        assert_eq!(
            authorize(&admin_a, Permission::ManageUsers, &street),
            Err(Denied::Scope)
        );
        let street_admin = actor(&street, &[Role::Admin]);
        assert_eq!(
            authorize(&street_admin, Permission::ManageUsers, &community_b),
            Ok(())
        );
    }

    #[test]
    fn role_is_checked_before_scope() {
        let a = OrgPath::root(1).child(2);
        let b = OrgPath::root(1).child(3);
        let clerk = actor(&a, &[Role::WindowClerk]);
        assert_eq!(
            authorize(&clerk, Permission::ManageUsers, &b),
            Err(Denied::Role)
        );
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert!(!r.label().is_empty() && !r.workbench().is_empty());
        }
    }
}
